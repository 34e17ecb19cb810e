#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Three workers on the in-process queue and one shared SQLite store produce exactly the ERP
//! documents one worker produces from the same event stream.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use marketsync_core::*;
use marketsync_pipeline::queue::assigned_partitions;
use marketsync_pipeline::{InProcessQueue, ManualClock, WorkQueue, WorkerOptions, run_worker};
use marketsync_testkit::InMemoryErp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_in_process_workers_match_one() {
    let items = event_stream(11, 400);
    let reference = single_worker_reference(&items).await;

    let erp = InMemoryErp::new("erp");
    let store = memory_store().await;
    let queue = Arc::new(InProcessQueue::new(12, 64)); // small: publishing feels back-pressure
    let clock = ManualClock::new(t0());
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..3_u32 {
        let engine = engine(
            store.clone(),
            Arc::new(erp.clone()),
            &clock,
            &format!("w{w}"),
        );
        let queue = queue.clone();
        workers.spawn(async move {
            run_worker(
                &engine,
                queue.as_ref(),
                &assigned_partitions(w, 3, 12),
                WorkerOptions {
                    poll: Duration::from_millis(20),
                    stop_after_idle_polls: Some(10),
                    retry_delay: Duration::from_millis(1),
                },
            )
            .await
            .unwrap()
        });
    }
    for i in &items {
        queue.publish(i).await.unwrap();
    }
    let mut acked = 0;
    while let Some(r) = workers.join_next().await {
        acked += r.unwrap().acked;
    }
    assert_eq!(acked as usize, items.len());
    assert!(queue.is_empty());
    assert_eq!(documents(&erp), documents(&reference));
    assert!(erp.journals().iter().all(JournalEntry::is_balanced));
    assert!(erp.count(&ErpDocumentKind::SalesOrder) > 100);
}
