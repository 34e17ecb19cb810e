#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Normalizing N Shopify order payloads vs deserializing the same bytes into the wire types
//! alone. Prints the ratio.

use std::hint::black_box;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group};
use marketsync_core::{RawRecord, ShopId, TimeZoneId};
use marketsync_shopify::normalize::{self, NormalizeContext};
use marketsync_shopify::wire;
use marketsync_testkit::sim::shopify::data;

const N: usize = 200;

fn payloads() -> Vec<Vec<u8>> {
    let start = Utc.with_ymd_and_hms(2024, 3, 18, 0, 0, 0).unwrap();
    (0..N)
        .map(|i| {
            let status = ["PAID", "PARTIALLY_REFUNDED", "PENDING", "AUTHORIZED"][i % 4];
            let o = data::order(i, start + chrono::Duration::minutes(i as i64), status);
            serde_json::to_vec(&o.json).unwrap()
        })
        .collect()
}

fn ctx() -> NormalizeContext {
    NormalizeContext::new(ShopId::new("bench.myshopify.com"), TimeZoneId::utc())
}

fn wire_only(p: &[Vec<u8>]) -> usize {
    p.iter()
        .map(|b| {
            serde_json::from_slice::<wire::Order>(b)
                .unwrap()
                .line_items
                .nodes
                .len()
        })
        .sum()
}

fn full(p: &[Vec<u8>], ctx: &NormalizeContext) -> usize {
    p.iter()
        .map(|b| {
            let raw = RawRecord::json(b.clone(), Some("orders"));
            let w: wire::Order = serde_json::from_slice(b).unwrap();
            normalize::order(&w, ctx, &raw).unwrap().lines.len()
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let p = payloads();
    let ctx = ctx();
    let mut g = c.benchmark_group("shopify_orders");
    g.bench_function("serde_wire_only", |b| b.iter(|| wire_only(black_box(&p))));
    g.bench_function("normalize", |b| b.iter(|| full(black_box(&p), &ctx)));
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // A direct measurement for the ratio.
    let p = payloads();
    let ctx = ctx();
    let rounds = 50;
    let t = Instant::now();
    for _ in 0..rounds {
        black_box(wire_only(&p));
    }
    let wire_t = t.elapsed();
    let t = Instant::now();
    for _ in 0..rounds {
        black_box(full(&p, &ctx));
    }
    let full_t = t.elapsed();
    println!(
        "shopify: {N} orders: serde into wire types {:.1} µs/order, normalize (parse + raw hash + normalize + validate) {:.1} µs/order, ratio {:.2}x",
        wire_t.as_secs_f64() * 1e6 / (rounds * N) as f64,
        full_t.as_secs_f64() * 1e6 / (rounds * N) as f64,
        full_t.as_secs_f64() / wire_t.as_secs_f64()
    );
}
