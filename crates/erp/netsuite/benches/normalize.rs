//! Normalizing N SuiteQL inventory pages into canonical positions, against parsing the same
//! payloads into the wire types alone.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use marketsync_netsuite::normalize::inventory_from_rows;
use marketsync_netsuite::wire::{InventoryRow, SuiteQlPage};

fn payload(rows: usize) -> Vec<u8> {
    let items: Vec<String> = (0..rows)
        .map(|i| {
            format!(
                r#"{{"links":[],"itemid":"SKU-{i:05}","location":"{}","quantityonhand":"{}","quantitycommitted":"{}","quantityavailable":"{}"}}"#,
                i % 3 + 1,
                i * 7,
                i % 5,
                i * 7 - i % 5
            )
        })
        .collect();
    format!(
        r#"{{"links":[],"count":{rows},"hasMore":false,"items":[{}],"offset":0,"totalResults":{rows}}}"#,
        items.join(",")
    )
    .into_bytes()
}

fn normalize(bytes: &[u8]) -> usize {
    let page: SuiteQlPage = serde_json::from_slice(bytes).unwrap();
    inventory_from_rows(page.items, chrono_now()).unwrap().len()
}

fn wire_only(bytes: &[u8]) -> usize {
    #[derive(serde::Deserialize)]
    struct Page {
        items: Vec<InventoryRow>,
    }
    let page: Page = serde_json::from_slice(bytes).unwrap();
    page.items.len()
}

fn chrono_now() -> marketsync_core::chrono::DateTime<marketsync_core::chrono::Utc> {
    marketsync_core::chrono::Utc::now()
}

fn bench(c: &mut Criterion) {
    let pages: Vec<Vec<u8>> = (0..20).map(|_| payload(500)).collect();
    let mut g = c.benchmark_group("netsuite_inventory_10k_rows");
    g.bench_function("normalize", |b| {
        b.iter(|| pages.iter().map(|p| normalize(black_box(p))).sum::<usize>())
    });
    g.bench_function("wire_only", |b| {
        b.iter(|| pages.iter().map(|p| wire_only(black_box(p))).sum::<usize>())
    });
    g.finish();

    // A direct ratio for the report.
    let runs = 20;
    let t = Instant::now();
    for _ in 0..runs {
        black_box(pages.iter().map(|p| normalize(p)).sum::<usize>());
    }
    let full = t.elapsed();
    let t = Instant::now();
    for _ in 0..runs {
        black_box(pages.iter().map(|p| wire_only(p)).sum::<usize>());
    }
    let wire = t.elapsed();
    println!(
        "netsuite normalize/wire-only ratio: {:.2} ({:?} vs {:?} for {} x 10k rows)",
        full.as_secs_f64() / wire.as_secs_f64(),
        full / runs,
        wire / runs,
        runs
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
