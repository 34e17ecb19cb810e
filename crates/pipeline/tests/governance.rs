#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Rate budgets and ERP concurrency governance around real adapters.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use marketsync_core::*;
use marketsync_pipeline::{GovernedErp, ManualClock, TokenBudget};
use marketsync_testkit::{
    ChannelProfile, Generator, GeneratorConfig, InMemoryErp, InMemoryMarketplace,
};

/// Counts calls in flight (each takes a few real milliseconds).
struct Slow {
    inner: InMemoryErp,
    now: AtomicUsize,
    max: AtomicUsize,
}

#[async_trait]
impl ErpAdapter for Slow {
    fn system(&self) -> &str {
        "slow"
    }
    fn capabilities(&self) -> ErpCapabilities {
        ErpCapabilities::all().with_max_concurrency(3)
    }
    async fn health_check(&self) -> Result<Health, Error> {
        self.inner.health_check().await
    }
    async fn upsert_sales_order(&self, r: &SalesOrderRequest) -> Result<ErpDocumentRef, Error> {
        self.inner.upsert_sales_order(r).await
    }
    async fn post_journal(&self, r: &JournalRequest) -> Result<ErpDocumentRef, Error> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(3)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        self.inner.post_journal(r).await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_erp_never_sees_more_than_its_concurrency_limit() {
    let slow = Arc::new(Slow {
        inner: InMemoryErp::new("erp"),
        now: AtomicUsize::new(0),
        max: AtomicUsize::new(0),
    });
    // The limit comes from the adapter's declared capabilities (3).
    let erp = Arc::new(GovernedErp::new(
        slow.clone(),
        Arc::new(TokenBudget::new(10_000, 10_000)),
        None,
    ));
    assert_eq!(erp.capabilities().max_concurrency, Some(3));
    let orders =
        Generator::new(GeneratorConfig::new(3).with_channels(vec![ChannelProfile::tmall()]))
            .orders(40);
    let ctx = marketsync_mapping::Context::new(ENTITY);
    let m = mapper();
    let mut set = tokio::task::JoinSet::new();
    for o in orders.iter().filter(|o| o.status.is_paid()) {
        let entry = m.order_accrual(o, &ctx).unwrap();
        let key = IdempotencyKey::derive(
            &o.channel,
            &o.shop,
            &EventKind::Journal,
            o.id.as_str(),
            &o.revision,
        );
        let erp = erp.clone();
        set.spawn(async move { erp.post_journal(&JournalRequest::new(key, entry)).await });
    }
    let mut n = 0;
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
        n += 1;
    }
    assert!(n > 10);
    assert_eq!(
        slow.max.load(Ordering::SeqCst),
        3,
        "the gate let more (or fewer) calls through"
    );
}

#[tokio::test]
async fn the_engine_stays_inside_the_erp_account_budget() {
    let orders = Generator::new(GeneratorConfig::new(4).with_channels(vec![ChannelProfile::jd()]))
        .orders(60);
    let p = ChannelProfile::jd();
    let market = InMemoryMarketplace::new(p.channel, p.shop, "secret");
    market.upsert_orders(&orders);
    let inner = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    // 20 calls a second, burst 5, shared by everyone using this ERP account.
    let budget = Arc::new(TokenBudget::with_time(
        20,
        5,
        Arc::new(clock.clone()),
        Arc::new(clock.clone()),
    ));
    let erp = Arc::new(GovernedErp::new(Arc::new(inner.clone()), budget, Some(5)));
    let engine = engine(memory_store().await, erp, &clock, "w1");
    let r = engine
        .sync_orders(&market.connector("secret"))
        .await
        .unwrap();
    let calls = inner.writes();
    assert_eq!(r.documents, calls);
    // Beyond the burst, every call waited for its token: (calls − 5) / 20 seconds at least.
    let floor = Duration::from_millis((calls - 5) * 50);
    assert!(
        clock.slept() >= floor,
        "slept {:?} for {calls} calls",
        clock.slept()
    );
}
