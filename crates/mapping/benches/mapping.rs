//! Mapping throughput: orders → accrual journals per second, against plain construction of the
//! same journal structs as the baseline, in the same run.
#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use marketsync_core::rust_decimal::Decimal;
use marketsync_core::*;
use marketsync_mapping::examples::{discount, order, order_line, tax_line, tmall};
use marketsync_mapping::*;

const ORDERS: usize = 100;

fn money(s: &str) -> Money {
    Money::parse(s, Currency::CNY).unwrap()
}

/// Tmall orders of two lines, each with a seller and a platform discount and VAT included.
fn orders() -> Vec<Order> {
    let at = "2026-01-31T17:30:00Z".parse().unwrap();
    let line = |id: &str, sku: &str, qty: u32, price: &str, tax: &str| {
        let mut l = order_line(id, sku, qty, money(price));
        l.discounts = vec![
            discount(DiscountFunder::Seller, money("10.00")),
            discount(DiscountFunder::Platform, money("5.00")),
        ];
        l.taxes = vec![tax_line(
            TaxKind::Vat,
            Some(Decimal::new(13, 2)),
            money(tax),
            true,
            TaxCollector::Seller,
            Some("CN"),
        )];
        l
    };
    (0..ORDERS)
        .map(|i| {
            // 190.00 × 13/113 = 21.86; 90.00 × 13/113 = 10.35
            let lines = vec![
                line("1", "TEA-250G", 2, "100.00", "21.86"),
                line("2", "CUP-01", 1, "100.00", "10.35"),
            ];
            let mut o = order(
                Channel::Tmall,
                &format!("40{i:08}"),
                Currency::CNY,
                at,
                lines,
            );
            o.raw_status = "WAIT_SELLER_SEND_GOODS".into();
            o.source_time_zone = TimeZoneId::shanghai();
            o
        })
        .collect()
}

/// The Tmall worked example's rulebook, with both SKUs mapped.
fn mapper() -> Mapper {
    let skus = SkuMap::new()
        .with(Channel::Tmall, AliasKind::SellerSku, "TEA-250G", "100045")
        .and_then(|m| m.with(Channel::Tmall, AliasKind::SellerSku, "CUP-01", "100046"))
        .unwrap();
    tmall::mapper().unwrap().with_sku_map(Arc::new(skus))
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
    let ctx = Context::new(tmall::ENTITY);
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
