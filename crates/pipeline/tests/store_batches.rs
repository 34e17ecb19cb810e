#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The batch conformance checks (`Store::write_batch`): SQLite in memory and on a WAL file,
//! the sequential default every other store inherits, and — with the `postgres` feature —
//! PostgreSQL at 127.0.0.1:5432 (`MARKETSYNC_SKIP_PG=1` skips it).

mod common;
#[cfg(feature = "postgres")]
mod pg;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use marketsync_core::{ContentHash, IdempotencyKey, RawRecord, ReasonCode, Result};
use marketsync_pipeline::store::sqlite::SqliteStore;
use marketsync_pipeline::store::{
    AuditEntry, Claim, ClaimRequest, CursorState, ExceptionFilter, ExceptionRecord,
    ExceptionStatus, Head, LedgerEntry, LedgerState, Lineage, LineageQuery, NewAudit, NewException,
    Outcome, RecordKey, Snapshot, Store, StreamKey, conformance,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_on_sqlite_in_memory() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
    let report = conformance::run_batches(store, true).await.unwrap();
    assert_eq!(report.passed.len(), 3, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_on_sqlite_file() {
    let dir = std::env::temp_dir().join(format!(
        "marketsync-batch-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(dir.join("pipeline.db")).await.unwrap();
    let report = conformance::run_batches(Arc::new(store.clone()), true)
        .await
        .unwrap();
    assert_eq!(report.passed.len(), 3, "{report:?}");
    // The whole classic suite still passes on the same file.
    conformance::run(Arc::new(store.clone())).await.unwrap();
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_on_postgres() {
    let Some(store) = pg::store("batch").await else {
        return;
    };
    let report = conformance::run_batches(Arc::new(store.clone()), true).await;
    store.drop_schema().await.unwrap();
    assert_eq!(report.unwrap().passed.len(), 3);
}

/// A store written before batches existed: it implements only the one-by-one methods (by
/// delegating to SQLite) and inherits the sequential `write_batch` default.
struct OneByOne(SqliteStore);

#[async_trait]
impl Store for OneByOne {
    fn backend(&self) -> &'static str {
        "one-by-one"
    }
    async fn schema_version(&self) -> Result<i64> {
        self.0.schema_version().await
    }
    async fn cursor(&self, stream: &StreamKey) -> Result<Option<CursorState>> {
        self.0.cursor(stream).await
    }
    async fn save_cursor(
        &self,
        stream: &StreamKey,
        state: &CursorState,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.0.save_cursor(stream, state, now).await
    }
    async fn archive_raw(&self, records: &[RawRecord], now: DateTime<Utc>) -> Result<usize> {
        self.0.archive_raw(records, now).await
    }
    async fn raw(&self, hash: &ContentHash) -> Result<Option<RawRecord>> {
        self.0.raw(hash).await
    }
    async fn claim(&self, request: &ClaimRequest) -> Result<Claim> {
        self.0.claim(request).await
    }
    async fn take_over(&self, request: &ClaimRequest) -> Result<Option<LedgerEntry>> {
        self.0.take_over(request).await
    }
    async fn finish(
        &self,
        key: &IdempotencyKey,
        outcome: &Outcome,
        lineage: Option<&Lineage>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.0.finish(key, outcome, lineage, now).await
    }
    async fn ledger_entry(&self, key: &IdempotencyKey) -> Result<Option<LedgerEntry>> {
        self.0.ledger_entry(key).await
    }
    async fn ledger_counts(&self) -> Result<Vec<(LedgerState, u64)>> {
        self.0.ledger_counts().await
    }
    async fn head(&self, record: &RecordKey) -> Result<Option<Head>> {
        self.0.head(record).await
    }
    async fn complete_event(
        &self,
        event_key: &IdempotencyKey,
        outcome: &Outcome,
        head: Option<&Head>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.0.complete_event(event_key, outcome, head, now).await
    }
    async fn lineage(&self, query: &LineageQuery) -> Result<Vec<Lineage>> {
        self.0.lineage(query).await
    }
    async fn append_audit(&self, entry: &NewAudit) -> Result<i64> {
        self.0.append_audit(entry).await
    }
    async fn audit_log(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        self.0.audit_log(after_seq, limit).await
    }
    async fn record_exception(&self, exception: &NewException) -> Result<ExceptionRecord> {
        self.0.record_exception(exception).await
    }
    async fn exception(&self, id: i64) -> Result<Option<ExceptionRecord>> {
        self.0.exception(id).await
    }
    async fn exceptions(&self, filter: &ExceptionFilter) -> Result<Vec<ExceptionRecord>> {
        self.0.exceptions(filter).await
    }
    async fn set_exception_status(
        &self,
        id: i64,
        status: ExceptionStatus,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.0.set_exception_status(id, status, now).await
    }
    async fn exception_counts(&self) -> Result<Vec<(ReasonCode, u64)>> {
        self.0.exception_counts().await
    }
    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        self.0.save_snapshot(snapshot).await
    }
    async fn snapshot(&self, record: &RecordKey) -> Result<Option<Snapshot>> {
        self.0.snapshot(record).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sequential_default_answers_like_a_batch() {
    let store: Arc<dyn Store> = Arc::new(OneByOne(SqliteStore::in_memory().await.unwrap()));
    let report = conformance::run_batches(store, false).await.unwrap();
    assert_eq!(
        report.passed,
        vec!["batch_steps", "batch_event_claims"],
        "{report:?}"
    );
}

/// The engine on a store that only has the sequential default posts the same documents as on
/// SQLite, and a second pass posts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_runs_on_a_store_without_native_batches() {
    use marketsync_core::ErpDocumentKind;
    use marketsync_pipeline::ManualClock;
    use marketsync_testkit::{
        ChannelProfile, Generator, GeneratorConfig, InMemoryErp, InMemoryMarketplace,
    };
    let orders = Generator::new(GeneratorConfig::new(5).with_channels(vec![ChannelProfile::jd()]))
        .orders(150);
    let paid = orders.iter().filter(|o| o.status.is_paid()).count();
    let p = ChannelProfile::jd();
    let market = InMemoryMarketplace::new(p.channel, p.shop, "secret");
    market.upsert_orders(&orders);
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(common::t0());
    let store: Arc<dyn Store> = Arc::new(OneByOne(SqliteStore::in_memory().await.unwrap()));
    let engine = common::engine(store.clone(), Arc::new(erp.clone()), &clock, "w1");
    let first = engine
        .sync_orders(&market.connector("secret"))
        .await
        .unwrap();
    assert_eq!(first.fetched as usize, orders.len());
    assert_eq!(erp.count(&ErpDocumentKind::SalesOrder), paid);
    assert_eq!(erp.count(&ErpDocumentKind::JournalEntry), paid);
    let counts = store.ledger_counts().await.unwrap();
    assert!(
        counts
            .iter()
            .all(|(s, n)| matches!(s, LedgerState::Posted | LedgerState::Skipped) || *n == 0),
        "{counts:?}"
    );
    let second = engine
        .sync_orders(&market.connector("secret"))
        .await
        .unwrap();
    assert_eq!(second.posted, 0, "{second:?}");
    assert_eq!(erp.writes() as usize, 2 * paid);
}
