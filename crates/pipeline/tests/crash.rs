#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Crash tests: the engine is killed between "ERP accepted" and "ledger recorded" (and, as a
//! control, before the ERP saw the request), the SQLite file is reopened as a new process
//! would, and the restarted engine must end with exactly one document per business event and
//! no write re-sent.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use marketsync_core::*;
use marketsync_pipeline::store::sqlite::SqliteStore;
use marketsync_pipeline::{LedgerState, ManualClock, Store};
use marketsync_testkit::{
    ChannelProfile, Generator, GeneratorConfig, InMemoryErp, InMemoryMarketplace,
};
use tokio::sync::Notify;

/// Passes writes through until write number `at`, where it stops forever (the process is
/// about to be killed) — after committing when `commit` is true, before otherwise.
struct DyingErp {
    inner: InMemoryErp,
    at: u64,
    commit: bool,
    seen: AtomicU64,
    reached: Arc<Notify>,
}

impl DyingErp {
    async fn gate<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if n != self.at {
            return call.await;
        }
        if self.commit {
            let _committed = call.await;
        }
        self.reached.notify_one();
        std::future::pending::<Result<T, Error>>().await
    }
}

#[async_trait]
impl ErpAdapter for DyingErp {
    fn system(&self) -> &str {
        "dying-memory"
    }
    fn capabilities(&self) -> ErpCapabilities {
        self.inner.capabilities()
    }
    async fn health_check(&self) -> Result<Health, Error> {
        self.inner.health_check().await
    }
    async fn upsert_sales_order(&self, r: &SalesOrderRequest) -> Result<ErpDocumentRef, Error> {
        self.gate(self.inner.upsert_sales_order(r)).await
    }
    async fn post_journal(&self, r: &JournalRequest) -> Result<ErpDocumentRef, Error> {
        self.gate(self.inner.post_journal(r)).await
    }
    async fn record_fulfilment(&self, r: &FulfilmentRequest) -> Result<ErpDocumentRef, Error> {
        self.inner.record_fulfilment(r).await
    }
    async fn record_refund(&self, r: &RefundRequest) -> Result<ErpDocumentRef, Error> {
        self.inner.record_refund(r).await
    }
    async fn inventory_positions(&self, skus: &[Sku]) -> Result<Vec<InventoryPosition>, Error> {
        self.inner.inventory_positions(skus).await
    }
    async fn find_by_idempotency_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<ErpDocumentRef>, Error> {
        self.inner.find_by_idempotency_key(key).await
    }
}

async fn crash_and_restart(at: u64, commit: bool, restart_as: &str) {
    let orders = Generator::new(GeneratorConfig::new(at).with_channels(vec![ChannelProfile::jd()]))
        .orders(120);
    let paid = orders.iter().filter(|o| o.status.is_paid()).count();
    let p = ChannelProfile::jd();
    let market = InMemoryMarketplace::new(p.channel, p.shop, "secret");
    market.upsert_orders(&orders);
    let dir = std::env::temp_dir().join(format!(
        "marketsync-crash-{}-{at}-{commit}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pipeline.db");
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());

    // First life: killed at write `at`.
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
        let reached = Arc::new(Notify::new());
        let dying = Arc::new(DyingErp {
            inner: erp.clone(),
            at,
            commit,
            seen: AtomicU64::new(0),
            reached: reached.clone(),
        });
        let engine = engine(store, dying, &clock, "w1");
        let c = market.connector("secret");
        let task = tokio::spawn(async move { engine.sync_orders(&c).await });
        tokio::time::timeout(Duration::from_secs(30), reached.notified())
            .await
            .expect("the engine reached the crash point");
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
    }
    let writes_before_restart = erp.writes();
    assert_eq!(writes_before_restart, if commit { at } else { at - 1 });

    // Second life: a new process opens the same file.
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let engine = engine(store.clone(), Arc::new(erp.clone()), &clock, restart_as);
    if restart_as == "early" {
        // Another worker, before the dead worker's lease expires: it leaves the held event
        // alone (the rest of the page is handled) and keeps the cursor on that page.
        let r = engine
            .sync_orders(&market.connector("secret"))
            .await
            .unwrap();
        assert_eq!(r.in_flight, 1, "{r:?}");
        let again = engine
            .sync_orders(&market.connector("secret"))
            .await
            .unwrap();
        assert_eq!(again.in_flight, 1, "the page is fetched again: {again:?}");
    }
    if restart_as != "w1" {
        clock.advance(Duration::from_secs(301)); // past the dead worker's lease
    }
    let r = engine
        .sync_orders(&market.connector("secret"))
        .await
        .unwrap();
    assert_eq!(r.in_flight, 0, "{r:?}");

    // Exactly one sales order and one accrual per paid order…
    assert_eq!(erp.count(&ErpDocumentKind::SalesOrder), paid);
    assert_eq!(erp.count(&ErpDocumentKind::JournalEntry), paid);
    // …each written exactly once: the committed write was found by its key, not re-sent.
    assert_eq!(
        erp.writes() as usize,
        2 * paid,
        "crash at {at} (commit: {commit})"
    );
    let counts = store.ledger_counts().await.unwrap();
    assert!(
        counts
            .iter()
            .all(|(s, n)| matches!(s, LedgerState::Posted | LedgerState::Skipped) || *n == 0),
        "{counts:?}"
    );
    assert!(erp.journals().iter().all(JournalEntry::is_balanced));
    drop(engine);
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_erp_commit_and_ledger_record_same_worker_restarts() {
    for at in [1, 2, 3, 17, 60] {
        crash_and_restart(at, true, "w1").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_erp_commit_and_ledger_record_other_worker_after_lease() {
    for at in [2, 31] {
        crash_and_restart(at, true, "w2").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_before_the_erp_saw_the_request() {
    for at in [1, 4, 25] {
        crash_and_restart(at, false, "w1").await;
    }
}

/// Another worker restarting before the dead worker's lease expires neither posts nor skips
/// the held events: the cursor stays, and the next pass after the lease finishes the work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_events_keep_the_cursor_until_the_lease_expires() {
    crash_and_restart(5, true, "early").await;
}
