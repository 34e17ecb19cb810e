#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The store conformance suite on SQLite: in memory, and on a WAL file reopened after the run.

use std::sync::Arc;

use marketsync_pipeline::store::sqlite::SqliteStore;
use marketsync_pipeline::store::{LedgerState, Store, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_in_memory() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
    let report = conformance::run(store).await.unwrap();
    assert_eq!(report.passed.len(), 13, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_file_survives_reopen() {
    let dir = std::env::temp_dir().join(format!(
        "marketsync-store-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pipeline.db");
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
        conformance::run(store).await.unwrap();
    }
    // Reopen: migrations are a no-op, the data is there, and the suite passes again.
    let store = SqliteStore::open(&path).await.unwrap();
    let counts = store.ledger_counts().await.unwrap();
    assert!(
        counts
            .iter()
            .any(|(s, n)| *s == LedgerState::Posted && *n >= 1)
    );
    conformance::run(Arc::new(store.clone())).await.unwrap();
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}
