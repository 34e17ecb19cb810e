#![cfg(all(feature = "postgres", feature = "nats"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Three workers on PostgreSQL + NATS JetStream over one generated event stream with injected
//! duplicates and out-of-order revisions: the ERP ends up holding exactly the documents one
//! worker produces from the same stream.
//!
//! Needs PostgreSQL at 127.0.0.1:5432 and NATS with JetStream at 127.0.0.1:4222 (`.ci/run`
//! starts both). Set `MARKETSYNC_SKIP_PG=1` or `MARKETSYNC_SKIP_NATS=1` to skip on a machine
//! without them; `MARKETSYNC_NATS_URL` points elsewhere.

mod common;
mod pg;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use marketsync_core::*;
use marketsync_pipeline::nats::{NatsConfig, NatsQueue};
use marketsync_pipeline::queue::assigned_partitions;
use marketsync_pipeline::{LedgerState, ManualClock, Store, WorkQueue, WorkerOptions, run_worker};
use marketsync_testkit::InMemoryErp;

const PARTITIONS: u32 = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_on_postgres_and_nats_match_one_worker() {
    if std::env::var("MARKETSYNC_SKIP_NATS").is_ok_and(|v| v == "1") {
        eprintln!("MARKETSYNC_SKIP_NATS=1: skipping the NATS test");
        return;
    }
    let Some(first) = pg::store("scale").await else {
        return;
    };
    let items = event_stream(2026, 600);
    let reference = single_worker_reference(&items).await;

    let tag = format!(
        "{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    let url =
        std::env::var("MARKETSYNC_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let config = NatsConfig::new(url, format!("MSTEST_{tag}"), format!("mstest.{tag}"))
        .with_partitions(PARTITIONS);
    let queue = match NatsQueue::connect(config).await {
        Ok(q) => Arc::new(q),
        Err(e) => panic!(
            "NATS JetStream at 127.0.0.1:4222 is not reachable ({e}); start it, or set \
             MARKETSYNC_SKIP_NATS=1 to skip this test"
        ),
    };
    for i in &items {
        queue.publish(i).await.unwrap();
    }

    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..3_u32 {
        // Each worker has its own connections, as separate processes would.
        let store: Arc<dyn Store> = Arc::new(pg::attach(first.schema(), 2).await);
        let engine = engine(store, Arc::new(erp.clone()), &clock, &format!("w{w}"));
        let queue = queue.clone();
        workers.spawn(async move {
            run_worker(
                &engine,
                queue.as_ref(),
                &assigned_partitions(w, 3, PARTITIONS),
                WorkerOptions {
                    poll: Duration::from_millis(200),
                    stop_after_idle_polls: Some(5),
                    retry_delay: Duration::from_millis(50),
                },
            )
            .await
        });
    }
    let mut acked = 0;
    let mut per_worker = Vec::new();
    while let Some(r) = workers.join_next().await {
        let r = r.unwrap().unwrap();
        per_worker.push(r.acked);
        acked += r.acked;
    }
    queue.delete().await.unwrap();
    let counts = first.ledger_counts().await.unwrap();
    first.drop_schema().await.unwrap();

    assert_eq!(
        acked as usize,
        items.len(),
        "every publication handled once: {per_worker:?}"
    );
    assert!(
        per_worker.iter().all(|n| *n > 0),
        "all three workers took part: {per_worker:?}"
    );
    assert_eq!(
        documents(&erp),
        documents(&reference),
        "the ERP differs from the single-worker run"
    );
    assert!(erp.journals().iter().all(JournalEntry::is_balanced));
    assert!(
        counts
            .iter()
            .all(|(s, n)| *s != LedgerState::Pending || *n == 0),
        "{counts:?}"
    );
}
