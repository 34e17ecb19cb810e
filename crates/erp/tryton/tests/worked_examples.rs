//! The mapping crate's worked examples, posted as real moves into the live Tryton server: each
//! move's lines are read back, and each Tryton account's balance must move by exactly what the
//! journals said. For the Amazon example the whole order life cycle is in Tryton too: the sale,
//! its customer shipment (shipped) and the refund's credit note — and they move no balance, so
//! the balances still match the journals to the cent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::{live_config, with_test_accounts};
use marketsync_core::chrono::{NaiveDate, Utc};
use marketsync_core::rust_decimal::Decimal;
use marketsync_core::*;
use marketsync_mapping::examples::{amazon, shopify, tmall};
use marketsync_tryton::{TrytonAdapter, TrytonConfig, wire};
use serde_json::{Value, json};

fn run_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

/// Balances (debit − credit, posted moves of the 2026 fiscal year) of Tryton accounts by code.
async fn balances(a: &TrytonAdapter, company: i64, codes: &[String]) -> BTreeMap<String, Decimal> {
    let context = json!({
        "company": company,
        "companies": [company],
        "posted": true,
        "date": wire::date(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()),
    });
    let rows = a
        .rpc()
        .search_read(
            "account.account",
            json!([["company", "=", company], ["code", "in", codes]]),
            None,
            &["code", "balance"],
            &context,
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let code = r["code"].as_str().unwrap().to_owned();
            let balance = wire::parse_decimal(&r["balance"]).unwrap();
            (code, balance)
        })
        .collect()
}

fn signed(l: &JournalLine) -> Decimal {
    match l.side {
        Side::Debit => l.amount.amount,
        Side::Credit => -l.amount.amount,
    }
}

/// Tryton accounts the life-cycle documents would touch if they booked anything: the channel
/// party's default receivable (a credit note's account), revenue, and the tax account of credit
/// notes.
const DOCUMENT_ACCOUNTS: [&str; 3] = ["1.2.1", "4.1.1", "2.2.3"];

fn amazon_key(run: &str, what: &str) -> IdempotencyKey {
    IdempotencyKey::derive(
        &Channel::Amazon,
        &ShopId::new(run),
        &EventKind::Other(what.into()),
        "113-0000001-0000001",
        &Revision::Version(0),
    )
}

fn decimal(v: &Value) -> Decimal {
    wire::parse_decimal(v).unwrap_or_else(|| panic!("not a decimal: {v}"))
}

/// The Amazon example's order, shipment and refund as Tryton documents: a confirmed sale of
/// 2 × SKU-0001 (the mapping's item for MUG-01) at 25.00 with the 4.13 marketplace tax, its
/// customer shipment shipped whole (FBA), and the credit note of refund R-1 (one mug and its
/// 2.06 tax), validated and without a move.
async fn amazon_life_cycle(a: &TrytonAdapter, run: &str) {
    let order = amazon::order().unwrap();
    let items: BTreeMap<OrderLineId, ErpItemId> =
        BTreeMap::from([("li-1".into(), ErpItemId::new("SKU-0001"))]);
    let sale = a
        .upsert_sales_order(
            &SalesOrderRequest::new(amazon_key(run, "sales_order"), order.clone())
                .with_items(items.clone()),
        )
        .await
        .unwrap();
    assert!(sale.created);
    let sale_id: i64 = sale.id.as_str().parse().unwrap();
    let read_sale = || async {
        a.rpc()
            .search_read(
                "sale.sale",
                json!([["id", "=", sale_id]]),
                None,
                &["state", "total_amount", "shipment_state", "shipments"],
                &json!({}),
            )
            .await
            .unwrap()
            .remove(0)
    };
    let row = read_sale().await;
    assert_eq!(row["state"], "processing");
    assert_eq!(
        decimal(&row["total_amount"]),
        order.totals().unwrap().buyer_total.amount
    );

    // FBA shipped the order whole: the sale's shipment, done on the day it left.
    let shipment: Shipment = serde_json::from_value(json!({
        "channel": "amazon", "shop": "main", "order_id": order.id,
        "carrier": "AMZN_US", "tracking_number": format!("TBA{run}"),
        "shipped_at": "2026-03-03T02:00:00Z",
    }))
    .unwrap();
    let mut fulfil = FulfilmentRequest::new(amazon_key(run, "fulfilment"), shipment);
    fulfil.sales_order = Some(sale.id.clone());
    let shipped = a.record_fulfilment(&fulfil).await.unwrap();
    assert!(shipped.created);
    let ship_row = a
        .rpc()
        .search_read(
            "stock.shipment.out",
            json!([["id", "=", shipped.id.as_str().parse::<i64>().unwrap()]]),
            None,
            &["state", "effective_date", "reference"],
            &json!({}),
        )
        .await
        .unwrap()
        .remove(0);
    assert_eq!(ship_row["state"], "done");
    assert_eq!(
        wire::parse_date(&ship_row["effective_date"]),
        NaiveDate::from_ymd_opt(2026, 3, 3)
    );
    let row = read_sale().await;
    assert_eq!(row["shipment_state"], "sent");
    assert_eq!(
        row["shipments"],
        json!([shipped.id.as_str().parse::<i64>().unwrap()])
    );

    // Refund R-1: the credit note, with the marketplace-collected tax it refunds.
    let mut refund =
        RefundRequest::new(amazon_key(run, "refund"), amazon::refund().unwrap()).with_items(items);
    refund.sales_order = Some(sale.id.clone());
    let note = a.record_refund(&refund).await.unwrap();
    assert!(note.created);
    let invoice = a
        .rpc()
        .search_read(
            "account.invoice",
            json!([["id", "=", note.id.as_str().parse::<i64>().unwrap()]]),
            None,
            &[
                "state",
                "type",
                "total_amount",
                "untaxed_amount",
                "tax_amount",
                "move",
                "invoice_date",
            ],
            &json!({}),
        )
        .await
        .unwrap()
        .remove(0);
    assert_eq!(invoice["type"], "out");
    assert_eq!(invoice["state"], "validated");
    assert_eq!(invoice["move"], Value::Null);
    assert_eq!(
        decimal(&invoice["total_amount"]),
        "-27.06".parse::<Decimal>().unwrap()
    );
    assert_eq!(
        decimal(&invoice["untaxed_amount"]),
        "-25.00".parse::<Decimal>().unwrap()
    );
    assert_eq!(
        decimal(&invoice["tax_amount"]),
        "-2.06".parse::<Decimal>().unwrap()
    );
    assert_eq!(
        wire::parse_date(&invoice["invoice_date"]),
        NaiveDate::from_ymd_opt(2026, 3, 9)
    );
    let taxes = a
        .rpc()
        .search_read(
            "account.invoice.tax",
            json!([["invoice", "=", note.id.as_str().parse::<i64>().unwrap()]]),
            None,
            &["description", "base", "amount", "manual"],
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(taxes.len(), 1);
    assert_eq!(
        taxes[0]["description"],
        "Sales tax CA (collected by the marketplace)"
    );
    assert_eq!(
        decimal(&taxes[0]["base"]),
        "-25.00".parse::<Decimal>().unwrap()
    );
    assert_eq!(
        decimal(&taxes[0]["amount"]),
        "-2.06".parse::<Decimal>().unwrap()
    );
    // Every document is found by its key, as what it is.
    for (k, kind) in [
        (amazon_key(run, "sales_order"), ErpDocumentKind::SalesOrder),
        (fulfil.idempotency_key.clone(), ErpDocumentKind::Fulfilment),
        (refund.idempotency_key.clone(), ErpDocumentKind::Refund),
    ] {
        let found = a.find_by_idempotency_key(&k).await.unwrap().unwrap();
        assert_eq!(found.kind, kind);
    }
}

async fn post_and_compare(
    config: &TrytonConfig,
    entity: &str,
    journals: Vec<JournalEntry>,
    life_cycle: bool,
) {
    let a = TrytonAdapter::new(config.clone()).unwrap();
    let company = a.company(entity).await.unwrap();
    for j in &journals {
        j.validate().unwrap();
    }
    // What the journals say each Tryton account moves by.
    let mut expected: BTreeMap<String, Decimal> = BTreeMap::new();
    for l in journals.iter().flat_map(|j| &j.lines) {
        *expected
            .entry(config.account_code(l.account.as_str()).to_owned())
            .or_default() += signed(l);
    }
    if life_cycle {
        for code in DOCUMENT_ACCOUNTS {
            expected.entry(code.to_owned()).or_default();
        }
    }
    let codes: Vec<String> = expected.keys().cloned().collect();
    let before = balances(&a, company.id, &codes).await;
    assert_eq!(
        before.len(),
        codes.len(),
        "accounts missing in {entity}: {codes:?}"
    );

    let run = run_id();
    if life_cycle {
        amazon_life_cycle(&a, &run).await;
    }
    for (i, j) in journals.iter().enumerate() {
        let key = IdempotencyKey::derive(
            &Channel::Custom("worked-examples".into()),
            &ShopId::new(run.as_str()),
            &EventKind::Other("journal".into()),
            &format!("{entity}-{i}"),
            &Revision::Version(1),
        );
        let doc = a
            .post_journal(&JournalRequest::new(key, j.clone()))
            .await
            .unwrap_or_else(|e| panic!("{entity} journal {i} ({:?}): {e}", j.reference));
        assert!(doc.created);
        assert!(doc.number.is_some(), "a posted move has a number");
        // The move's lines, read back, are the journal's lines.
        let rows = a
            .rpc()
            .search_read(
                "account.move.line",
                json!([["move", "=", doc.id.as_str().parse::<i64>().unwrap()]]),
                None,
                &["account.code", "debit", "credit", "move.state"],
                &json!({"company": company.id}),
            )
            .await
            .unwrap();
        let mut got: Vec<(String, Decimal)> = rows
            .iter()
            .map(|r| {
                let code = r["account."]["code"].as_str().unwrap().to_owned();
                let debit = wire::parse_decimal(&r["debit"]).unwrap();
                let credit = wire::parse_decimal(&r["credit"]).unwrap();
                assert_eq!(r["move."]["state"], Value::from("posted"));
                (code, debit - credit)
            })
            .collect();
        let mut want: Vec<(String, Decimal)> = j
            .lines
            .iter()
            .map(|l| {
                (
                    config.account_code(l.account.as_str()).to_owned(),
                    signed(l),
                )
            })
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{entity} journal {i}: Tryton lines differ");
    }

    let after = balances(&a, company.id, &codes).await;
    for (code, delta) in &expected {
        let moved = after[code] - before[code];
        assert_eq!(
            moved, *delta,
            "{entity}: Tryton account {code} moved by {moved}, the journals say {delta}"
        );
    }
    // Double entry: the deltas sum to zero.
    assert_eq!(expected.values().copied().sum::<Decimal>(), Decimal::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worked_examples_post_as_real_moves_and_balances_match() {
    let Some(config) = live_config("US01") else {
        return;
    };
    let config = with_test_accounts(config);
    // Tmall, CNY: platform coupon and seller discount, VAT inclusive, settlement and payout.
    post_and_compare(&config, tmall::ENTITY, tmall::journals().unwrap(), false).await;
    // Amazon US, USD: marketplace facilitator tax through an offset account, FBA fees, a
    // partial refund, settlement and payout — and the order's sale, shipment and credit note.
    post_and_compare(&config, amazon::ENTITY, amazon::journals().unwrap(), true).await;
    // Shopify: presented in EUR, shop in USD, books in GBP (functional-currency posting with FX
    // gain/loss and rounding lines).
    post_and_compare(
        &config,
        shopify::ENTITY,
        shopify::journals().unwrap(),
        false,
    )
    .await;
}
