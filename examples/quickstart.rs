//! The end-to-end quickstart on the embedded default: generated marketplace orders on Tmall,
//! JD, Amazon US and Shopify are fetched page by page through connectors, mapped by a versioned
//! rulebook into balanced journals, and posted idempotently into an ERP — then the whole sync
//! runs a second time to show that nothing is doubled.
//!
//! `cargo run --release -p marketsync --example quickstart`
//!
//! Marketplaces and the ERP are the in-memory reference implementations from
//! `marketsync-testkit`, so this runs anywhere in a second; swap in `marketsync-tmall`,
//! `marketsync-shopify` and `marketsync-netsuite` for the real platforms.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

use marketsync::mapping::{Context, InMemoryRates, Mapper, Rulebook};
use marketsync::prelude::*;
use marketsync_testkit::{
    ChannelProfile, Generator, GeneratorConfig, InMemoryErp, InMemoryMarketplace,
};

/// The rulebook finance owns: entities, chart of accounts by role, tax and fee rules.
const RULEBOOK: &str = r#"
version = "2026.01-demo"
rounding = "half_up"

[[entities]]
id = "CN01"
time_zone = "Asia/Shanghai"
functional_currency = "CNY"

[[entities]]
id = "US01"
time_zone = "America/Los_Angeles"
functional_currency = "USD"

[[tax_rules]]
type = "china_vat"
channels = ["tmall", "jd"]

[[tax_rules]]
type = "us_marketplace_facilitator"
channels = ["amazon"]
mode = "offset"

[[tax_rules]]
type = "sales_tax_exclusive"
channels = ["shopify"]
"#;

fn accounts(toml: &mut String) {
    let cn = [
        ("marketplace_receivable", "1122.01"),
        ("revenue", "6001"),
        ("shipping_income", "6051"),
        ("tax_payable", "2221.01"),
        ("refund_returns", "6001.08"),
        ("commission_expense", "6601.01"),
        ("fee_expense", "6601.99"),
        ("fee_expense:points", "6601.02"),
        ("fee_expense:fulfilment", "6601.03"),
        ("cash_clearing", "1012.01"),
        ("bank", "1002"),
        ("rounding", "6603.01"),
        ("fx_gain_loss", "6603.02"),
    ];
    let us = [
        ("marketplace_receivable", "1210"),
        ("revenue", "4000"),
        ("shipping_income", "4100"),
        ("tax_payable", "2200"),
        ("marketplace_tax_offset", "2290"),
        ("refund_returns", "4900"),
        ("commission_expense", "6100"),
        ("fee_expense", "6199"),
        ("fee_expense:fulfilment", "6110"),
        ("fee_expense:payment_processing", "6120"),
        ("cash_clearing", "1150"),
        ("bank", "1000"),
        ("rounding", "6900"),
        ("fx_gain_loss", "7900"),
    ];
    for (entity, table) in [("CN01", &cn[..]), ("US01", &us[..])] {
        for (role, account) in table {
            toml.push_str(&format!(
                "\n[[accounts]]\nentity = \"{entity}\"\nrole = \"{role}\"\naccount = \"{account}\"\n"
            ));
        }
    }
}

fn entity_of(channel: &Channel) -> &'static str {
    match channel {
        Channel::Tmall | Channel::Jd => "CN01",
        _ => "US01",
    }
}

#[derive(Default)]
struct Tally {
    orders: usize,
    sales_orders_created: usize,
    journals_created: usize,
    already_posted: usize,
    exceptions: BTreeMap<String, usize>,
}

async fn sync(
    market: &InMemoryMarketplace,
    erp: &InMemoryErp,
    mapper: &Mapper,
    window: TimeWindow,
    tally: &mut Tally,
) -> Result<Vec<Order>, Box<dyn std::error::Error>> {
    let connector = market.connector("demo-secret");
    let ctx = Context::new(entity_of(&connector.channel()));
    let mut query = FetchQuery::new(window).with_page_size(50);
    let mut orders = Vec::new();
    loop {
        let page = connector.fetch_orders(&query).await?;
        for item in page.items {
            let order = match item.outcome {
                Ok(o) => o,
                Err(e) => {
                    *tally.exceptions.entry(e.reason().to_string()).or_default() += 1;
                    continue;
                }
            };
            tally.orders += 1;
            let envelope = Envelope::order(order.clone(), chrono::Utc::now());
            let key = envelope.idempotency_key;
            let so = erp
                .upsert_sales_order(&SalesOrderRequest::new(
                    key.child("sales_order"),
                    order.clone(),
                ))
                .await?;
            if so.created {
                tally.sales_orders_created += 1;
            } else {
                tally.already_posted += 1;
            }
            if order.status.is_paid() {
                match mapper.order_accrual(&order, &ctx) {
                    Ok(journal) => {
                        let doc = erp
                            .post_journal(&JournalRequest::new(key.child("accrual"), journal))
                            .await?;
                        if doc.created {
                            tally.journals_created += 1;
                        }
                    }
                    Err(e) => *tally.exceptions.entry(e.reason().to_string()).or_default() += 1,
                }
            }
            orders.push(order);
        }
        match page.next_cursor {
            Some(c) => query = query.with_cursor(Some(c)),
            None => break,
        }
    }
    // Refunds: a per-line reversal journal and a refund document, keyed like everything else.
    let by_id: BTreeMap<OrderId, &Order> = orders.iter().map(|o| (o.id.clone(), o)).collect();
    let refunds = connector
        .fetch_returns(&FetchQuery::new(window).with_page_size(500))
        .await?;
    for item in refunds.items {
        let Ok(refund) = item.outcome else { continue };
        let Some(order) = by_id.get(&refund.order_id) else {
            continue;
        };
        let key = IdempotencyKey::derive(
            &refund.channel,
            &refund.shop,
            &EventKind::Refund,
            refund.id.as_str(),
            &refund.revision,
        );
        erp.record_refund(&RefundRequest::new(key.child("refund"), refund.clone()))
            .await?;
        match mapper.refund_reversal(&refund, order, &ctx) {
            Ok(j) => {
                if erp
                    .post_journal(&JournalRequest::new(key.child("reversal"), j))
                    .await?
                    .created
                {
                    tally.journals_created += 1;
                }
            }
            Err(e) => *tally.exceptions.entry(e.reason().to_string()).or_default() += 1,
        }
    }
    Ok(orders)
}

fn print_journal(j: &JournalEntry) {
    println!(
        "  {} {}  [{}]",
        j.date,
        j.memo,
        j.reference.as_deref().unwrap_or("")
    );
    for l in &j.lines {
        let (dr, cr) = match l.side {
            Side::Debit => (l.amount.to_string(), String::new()),
            Side::Credit => (String::new(), l.amount.to_string()),
        };
        println!(
            "    {:<10} {:>16} {:>16}  {}",
            l.account,
            dr,
            cr,
            l.memo.as_deref().unwrap_or("")
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut toml = RULEBOOK.to_owned();
    accounts(&mut toml);
    let rulebook = Rulebook::from_toml_str(&toml)?.with_builtin_fee_tables();
    let mapper = Mapper::new(Arc::new(rulebook), Arc::new(InMemoryRates::new()))?;
    let erp = InMemoryErp::new("erp-secret");

    let profiles = [
        ChannelProfile::tmall(),
        ChannelProfile::jd(),
        ChannelProfile::amazon_us(),
        ChannelProfile::shopify(),
    ];
    let mut generator = Generator::new(GeneratorConfig::new(2026).with_channels(profiles.to_vec()));
    let start = generator.config().start;
    let window = TimeWindow::new(start, start + chrono::Duration::days(40)).expect("window");
    let mut markets = Vec::new();
    for p in &profiles {
        let orders: Vec<Order> = (0..150).map(|_| generator.order_for(p)).collect();
        let refunds: Vec<_> = orders
            .iter()
            .filter_map(|o| generator.refund_for(o, 15))
            .collect();
        let market = InMemoryMarketplace::new(p.channel.clone(), p.shop.clone(), "demo-secret");
        market.upsert_orders(&orders);
        market.add_refunds(&refunds);
        markets.push(market);
    }

    println!(
        "marketsync quickstart: 4 channels × 150 orders, rulebook {}\n",
        mapper.rulebook().version
    );
    for pass in 1..=2 {
        println!("pass {pass}");
        println!(
            "  {:<10} {:>7} {:>12} {:>9} {:>15}  exceptions",
            "channel", "orders", "sales orders", "journals", "already posted"
        );
        for market in &markets {
            let mut t = Tally::default();
            let orders = sync(market, &erp, &mapper, window, &mut t).await?;
            let channel = orders
                .first()
                .map(|o| o.channel.to_string())
                .unwrap_or_default();
            println!(
                "  {:<10} {:>7} {:>12} {:>9} {:>15}  {:?}",
                channel,
                t.orders,
                t.sales_orders_created,
                t.journals_created,
                t.already_posted,
                t.exceptions
            );
        }
        println!();
    }

    let journals = erp.journals();
    let unbalanced = journals.iter().filter(|j| !j.is_balanced()).count();
    println!(
        "ERP now holds {} sales orders, {} journal entries ({} unbalanced), {} refunds after {} write calls.\n",
        erp.count(&ErpDocumentKind::SalesOrder),
        journals.len(),
        unbalanced,
        erp.count(&ErpDocumentKind::Refund),
        erp.writes()
    );
    println!("First journal of each entity:");
    for entity in ["CN01", "US01"] {
        if let Some(j) = journals.iter().find(|j| j.entity.as_str() == entity) {
            print_journal(j);
        }
    }
    assert_eq!(unbalanced, 0);
    Ok(())
}
