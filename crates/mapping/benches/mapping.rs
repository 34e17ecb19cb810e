//! Mapping throughput: orders → accrual journals per second, against plain construction of the
//! same journal structs as the baseline, in the same run.
#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use marketsync_core::chrono::{DateTime, Utc};
use marketsync_core::rust_decimal::Decimal;
use marketsync_core::*;
use marketsync_mapping::*;

const ORDERS: usize = 100;

fn money(s: &str) -> Money {
    Money::new(Decimal::from_str(s).unwrap(), Currency::CNY)
}

fn orders() -> Vec<Order> {
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-01-31T17:30:00Z")
        .unwrap()
        .with_timezone(&Utc);
    (0..ORDERS)
        .map(|i| {
            let line = |id: &str, sku: &str, qty: u32, price: &str, tax: &str| OrderLine {
                line_id: id.into(),
                sku: sku.into(),
                platform_sku_id: None,
                listing_id: None,
                title: sku.into(),
                quantity: qty,
                unit_price: money(price),
                discounts: vec![
                    Discount {
                        funder: DiscountFunder::Seller,
                        amount: money("10.00"),
                        code: None,
                        description: None,
                    },
                    Discount {
                        funder: DiscountFunder::Platform,
                        amount: money("5.00"),
                        code: None,
                        description: None,
                    },
                ],
                taxes: vec![TaxLine {
                    kind: TaxKind::Vat,
                    rate: Some(Decimal::new(13, 2)),
                    amount: money(tax),
                    included_in_price: true,
                    collected_by: TaxCollector::Seller,
                    jurisdiction: Some("CN".into()),
                }],
                fulfilment_channel: None,
                raw_status: None,
                quantity_shipped: 0,
            };
            Order {
                channel: Channel::Tmall,
                shop: "main".into(),
                id: format!("40{i:08}").into(),
                revision: Revision::Version(1),
                status: OrderStatus::AwaitingFulfilment,
                raw_status: "WAIT_SELLER_SEND_GOODS".into(),
                placed_at: at,
                paid_at: Some(at),
                updated_at: at,
                source_time_zone: TimeZoneId::shanghai(),
                currency: Currency::CNY,
                presentment: None,
                // 190.00 × 13/113 = 21.86; 90.00 × 13/113 = 10.35
                lines: vec![
                    line("1", "TEA-250G", 2, "100.00", "21.86"),
                    line("2", "CUP-01", 1, "100.00", "10.35"),
                ],
                discounts: vec![],
                shipping: vec![],
                taxes: vec![],
                payments: vec![],
                fulfilment_channel: FulfilmentChannel::Seller,
                buyer: None,
                ship_to: None,
                attribution: None,
                raw: None,
                extensions: BTreeMap::new(),
            }
        })
        .collect()
}

fn mapper() -> Mapper {
    let e = "CN01";
    let rb = Rulebook::new("bench")
        .with_entity(EntitySettings {
            id: e.into(),
            time_zone: TimeZoneId::shanghai(),
            functional_currency: Currency::CNY,
            posting_currency: PostingCurrency::Document,
        })
        .with_accounts(
            AccountMap::new()
                .with(e, AccountRole::MarketplaceReceivable, "1122.01")
                .with(e, AccountRole::Revenue, "6001")
                .with(e, AccountRole::ShippingIncome, "6051")
                .with(e, AccountRole::TaxPayable, "2221.01"),
        )
        .with_tax_rule(TaxRuleConfig::ChinaVat(ChinaVat::default()));
    let skus = SkuMap::new()
        .with(Channel::Tmall, AliasKind::SellerSku, "TEA-250G", "100045")
        .and_then(|m| m.with(Channel::Tmall, AliasKind::SellerSku, "CUP-01", "100046"))
        .unwrap();
    Mapper::new(Arc::new(rb), Arc::new(InMemoryRates::new()))
        .unwrap()
        .with_sku_map(Arc::new(skus))
}

/// The same entry the mapper produces, built by hand from precomputed amounts.
fn baseline(order: &Order, template: &JournalEntry) -> JournalEntry {
    let lines = template
        .lines
        .iter()
        .map(|l| {
            let mut line = match l.side {
                Side::Debit => JournalLine::debit(l.account.clone(), l.amount),
                Side::Credit => JournalLine::credit(l.account.clone(), l.amount),
            };
            let mut dims = l.dimensions.clone();
            dims.order_id = Some(order.id.to_string());
            line = line.with_dimensions(dims);
            line.memo = l.memo.clone();
            line.rulebook_version = l.rulebook_version.clone();
            line
        })
        .collect();
    let e = JournalEntry {
        entity: template.entity.clone(),
        date: template.date,
        memo: format!("{} order {} accrual", order.channel, order.id),
        lines,
        reference: Some(format!("{}:order:{}", order.channel, order.id)),
    };
    e.validate().unwrap();
    e
}

fn bench(c: &mut Criterion) {
    let orders = orders();
    let mapper = mapper();
    let ctx = Context::new("CN01");
    let template = mapper.order_accrual(&orders[0], &ctx).unwrap();
    let mut g = c.benchmark_group("order_accrual");
    g.throughput(Throughput::Elements(ORDERS as u64));
    g.bench_function("mapper", |b| {
        b.iter(|| {
            for o in &orders {
                black_box(mapper.order_accrual(black_box(o), &ctx).unwrap());
            }
        })
    });
    g.bench_function("baseline_plain_construction", |b| {
        b.iter(|| {
            for o in &orders {
                black_box(baseline(black_box(o), &template));
            }
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .without_plots()
}

criterion_group! { name = benches; config = config(); targets = bench }
criterion_main!(benches);
