#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(missing_docs)]
//! Normalizing TOP trades vs only deserializing them into the wire types.
//!
//! Both sides start from the same JSON bytes (the simulator's seeded `taobao.trade.fullinfo.get`
//! trades); the ratio printed at the end is what normalization costs on top of parsing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use marketsync_core::{Channel, RawRecord, ShopId};
use marketsync_testkit::sim::tmall::data;
use marketsync_tmall::normalize::{Context, trade_to_order};
use marketsync_tmall::wire::Trade;

const N: usize = 500;

fn payloads() -> Vec<Vec<u8>> {
    let start = chrono::DateTime::<chrono::Utc>::from_timestamp(1_710_691_200, 0).unwrap();
    data::generate(11, N, start, chrono::Duration::hours(12), false)
        .trades
        .iter()
        .map(|t| serde_json::to_vec(t).unwrap())
        .collect()
}

fn parse_only(payloads: &[Vec<u8>]) -> usize {
    payloads
        .iter()
        .map(|p| {
            serde_json::from_slice::<Trade>(p)
                .unwrap()
                .order_list()
                .len()
        })
        .sum()
}

fn normalize_all(payloads: &[Vec<u8>], ctx: &Context) -> usize {
    payloads
        .iter()
        .map(|p| {
            let raw = RawRecord::json(p.clone(), Some("taobao.trade.fullinfo.get"));
            let trade: Trade = serde_json::from_slice(p).unwrap();
            trade_to_order(&trade, ctx, &raw).unwrap().lines.len()
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let payloads = payloads();
    let ctx = Context {
        channel: Channel::Tmall,
        shop: ShopId::new("bench"),
    };
    let mut g = c.benchmark_group("tmall");
    g.bench_function(format!("serde_from_slice_wire_{N}"), |b| {
        b.iter(|| black_box(parse_only(black_box(&payloads))))
    });
    g.bench_function(format!("normalize_{N}"), |b| {
        b.iter(|| black_box(normalize_all(black_box(&payloads), &ctx)))
    });
    g.finish();
}

fn ratio() {
    let payloads = payloads();
    let ctx = Context {
        channel: Channel::Tmall,
        shop: ShopId::new("bench"),
    };
    let time = |f: &dyn Fn() -> usize| {
        let mut best = Duration::MAX;
        for _ in 0..20 {
            let t = Instant::now();
            black_box(f());
            best = best.min(t.elapsed());
        }
        best
    };
    let parse = time(&|| parse_only(&payloads));
    let norm = time(&|| normalize_all(&payloads, &ctx));
    println!(
        "tmall: {N} trades — serde_json::from_slice into wire types {:?}, parse + normalize {:?}, ratio {:.2}x",
        parse,
        norm,
        norm.as_secs_f64() / parse.as_secs_f64()
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    ratio();
    Criterion::default().configure_from_args().final_summary();
}
