//! Shared rate budgets and concurrency governance.
//!
//! * [`TokenBudget`]: one token bucket per platform or ERP **account**, shared by every
//!   connector, adapter and worker that calls it (clone the `Arc`). Waiters are served by
//!   [`Priority`] — orders before inventory before catalogue — and in arrival order within a
//!   priority. Time comes from the injected [`Clock`]/[`Sleeper`].
//! * [`GovernedErp`]: wraps an [`ErpAdapter`] so every call takes a token and one of the
//!   account's concurrency slots (NetSuite allows 5–15 concurrent requests per account; the
//!   adapter's [`ErpCapabilities::max_concurrency`] gives the default).
//! * [`GovernedConnector`]: the same for a marketplace connector.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use marketsync_core::{
    Channel, ConnectorCapabilities, ErpAdapter, ErpCapabilities, ErpDocumentRef, FetchQuery,
    FulfilmentRequest, Health, IdempotencyKey, InventoryAck, InventoryPosition, InventoryUpdate,
    JournalRequest, MarketplaceConnector, Order, Page, Refund, RefundRequest, Result,
    SalesOrderRequest, Settlement, Shipment, ShipmentAck, ShopId, Sku,
};
use tokio::sync::{Notify, Semaphore};

use crate::clock::{Clock, Sleeper, SystemClock, TokioSleeper};

/// Who goes first when the budget is short: lower is served first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// Orders, refunds, settlements and the documents they produce.
    Orders = 0,
    /// Inventory reads and pushes.
    Inventory = 1,
    /// Catalogue and everything else.
    Catalogue = 2,
}

/// Milli-tokens: integer arithmetic, no floating point.
const ONE: u64 = 1000;

struct BucketState {
    milli: u64,
    last: DateTime<Utc>,
    waiters: BTreeSet<(Priority, u64)>,
    next_ticket: u64,
}

/// A token bucket shared by everyone calling one account. See the [module docs](self).
pub struct TokenBudget {
    per_second: u32,
    burst: u32,
    state: Mutex<BucketState>,
    notify: Notify,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
}

impl std::fmt::Debug for TokenBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBudget")
            .field("per_second", &self.per_second)
            .field("burst", &self.burst)
            .finish()
    }
}

/// Removes a waiter's ticket when its `acquire` ends or is cancelled.
struct Ticket<'a> {
    budget: &'a TokenBudget,
    id: (Priority, u64),
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.budget.lock().waiters.remove(&self.id);
        self.budget.notify.notify_waiters();
    }
}

impl TokenBudget {
    /// `per_second` tokens a second, at most `burst` saved up (starts full), on the system
    /// clock.
    pub fn new(per_second: u32, burst: u32) -> TokenBudget {
        TokenBudget::with_time(
            per_second,
            burst,
            Arc::new(SystemClock),
            Arc::new(TokioSleeper),
        )
    }

    /// The same on an injected clock and sleeper.
    pub fn with_time(
        per_second: u32,
        burst: u32,
        clock: Arc<dyn Clock>,
        sleeper: Arc<dyn Sleeper>,
    ) -> TokenBudget {
        let burst = burst.max(1);
        TokenBudget {
            per_second: per_second.max(1),
            burst,
            state: Mutex::new(BucketState {
                milli: u64::from(burst) * ONE,
                last: clock.now(),
                waiters: BTreeSet::new(),
                next_ticket: 0,
            }),
            notify: Notify::new(),
            clock,
            sleeper,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BucketState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn refill(&self, s: &mut BucketState) {
        let now = self.clock.now();
        let micros = u64::try_from((now - s.last).num_microseconds().unwrap_or(0)).unwrap_or(0);
        if micros > 0 {
            let add = micros.saturating_mul(u64::from(self.per_second)) / 1000;
            s.milli = (s.milli.saturating_add(add)).min(u64::from(self.burst) * ONE);
            s.last = now;
        }
    }

    /// Tokens available now (whole tokens).
    pub fn available(&self) -> u32 {
        let mut s = self.lock();
        self.refill(&mut s);
        u32::try_from(s.milli / ONE).unwrap_or(u32::MAX)
    }

    /// Takes one token, waiting behind higher-priority and earlier waiters.
    pub async fn acquire(&self, priority: Priority) {
        let id = {
            let mut s = self.lock();
            s.next_ticket += 1;
            let id = (priority, s.next_ticket);
            s.waiters.insert(id);
            id
        };
        let ticket = Ticket { budget: self, id };
        loop {
            let notified = self.notify.notified();
            let wait = {
                let mut s = self.lock();
                self.refill(&mut s);
                if s.waiters.first() == Some(&ticket.id) {
                    if s.milli >= ONE {
                        s.milli -= ONE;
                        drop(s);
                        drop(ticket);
                        return;
                    }
                    let missing = ONE - s.milli;
                    let micros = missing * 1000 / u64::from(self.per_second);
                    Some(Duration::from_micros(micros.max(1)))
                } else {
                    None
                }
            };
            match wait {
                Some(d) => self.sleeper.sleep(d).await,
                None => notified.await,
            }
        }
    }
}

/// An [`ErpAdapter`] behind an account's token budget and concurrency limit.
pub struct GovernedErp {
    inner: Arc<dyn ErpAdapter>,
    budget: Arc<TokenBudget>,
    slots: Arc<Semaphore>,
    max_concurrency: u32,
}

impl std::fmt::Debug for GovernedErp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GovernedErp")
            .field("system", &self.inner.system())
            .field("max_concurrency", &self.max_concurrency)
            .finish()
    }
}

impl GovernedErp {
    /// Governs `inner` with a shared budget and at most `max_concurrency` calls in flight
    /// (`None`: the adapter's declared limit, or 5). Share one `GovernedErp` (or its budget
    /// and slots) between all workers of one ERP account.
    pub fn new(
        inner: Arc<dyn ErpAdapter>,
        budget: Arc<TokenBudget>,
        max_concurrency: Option<u32>,
    ) -> GovernedErp {
        let n = max_concurrency
            .or(inner.capabilities().max_concurrency)
            .unwrap_or(5)
            .max(1);
        GovernedErp {
            inner,
            budget,
            slots: Arc::new(Semaphore::new(n as usize)),
            max_concurrency: n,
        }
    }

    async fn enter(&self, p: Priority) -> Result<tokio::sync::SemaphorePermit<'_>> {
        let permit = self.slots.acquire().await.map_err(|_| {
            marketsync_core::Error::new(marketsync_core::ErrorKind::Unavailable, "ERP gate closed")
        })?;
        self.budget.acquire(p).await;
        Ok(permit)
    }
}

#[async_trait]
impl ErpAdapter for GovernedErp {
    fn system(&self) -> &str {
        self.inner.system()
    }
    fn capabilities(&self) -> ErpCapabilities {
        self.inner
            .capabilities()
            .with_max_concurrency(self.max_concurrency)
    }
    async fn health_check(&self) -> Result<Health> {
        let _p = self.enter(Priority::Catalogue).await?;
        self.inner.health_check().await
    }
    async fn upsert_sales_order(&self, r: &SalesOrderRequest) -> Result<ErpDocumentRef> {
        let _p = self.enter(Priority::Orders).await?;
        self.inner.upsert_sales_order(r).await
    }
    async fn post_journal(&self, r: &JournalRequest) -> Result<ErpDocumentRef> {
        let _p = self.enter(Priority::Orders).await?;
        self.inner.post_journal(r).await
    }
    async fn record_fulfilment(&self, r: &FulfilmentRequest) -> Result<ErpDocumentRef> {
        let _p = self.enter(Priority::Orders).await?;
        self.inner.record_fulfilment(r).await
    }
    async fn record_refund(&self, r: &RefundRequest) -> Result<ErpDocumentRef> {
        let _p = self.enter(Priority::Orders).await?;
        self.inner.record_refund(r).await
    }
    async fn inventory_positions(&self, skus: &[Sku]) -> Result<Vec<InventoryPosition>> {
        let _p = self.enter(Priority::Inventory).await?;
        self.inner.inventory_positions(skus).await
    }
    async fn find_by_idempotency_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<ErpDocumentRef>> {
        let _p = self.enter(Priority::Orders).await?;
        self.inner.find_by_idempotency_key(key).await
    }
}

/// A [`MarketplaceConnector`] behind its platform account's token budget.
pub struct GovernedConnector {
    inner: Arc<dyn MarketplaceConnector>,
    budget: Arc<TokenBudget>,
}

impl std::fmt::Debug for GovernedConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GovernedConnector")
            .field("channel", &self.inner.channel())
            .finish()
    }
}

impl GovernedConnector {
    /// Governs `inner` with a budget shared by every connector of the same platform account.
    pub fn new(
        inner: Arc<dyn MarketplaceConnector>,
        budget: Arc<TokenBudget>,
    ) -> GovernedConnector {
        GovernedConnector { inner, budget }
    }
}

#[async_trait]
impl MarketplaceConnector for GovernedConnector {
    fn channel(&self) -> Channel {
        self.inner.channel()
    }
    fn shop(&self) -> ShopId {
        self.inner.shop()
    }
    fn capabilities(&self) -> ConnectorCapabilities {
        self.inner.capabilities()
    }
    async fn health_check(&self) -> Result<Health> {
        self.budget.acquire(Priority::Catalogue).await;
        self.inner.health_check().await
    }
    async fn fetch_orders(&self, q: &FetchQuery) -> Result<Page<Order>> {
        self.budget.acquire(Priority::Orders).await;
        self.inner.fetch_orders(q).await
    }
    async fn fetch_returns(&self, q: &FetchQuery) -> Result<Page<Refund>> {
        self.budget.acquire(Priority::Orders).await;
        self.inner.fetch_returns(q).await
    }
    async fn fetch_settlements(&self, q: &FetchQuery) -> Result<Page<Settlement>> {
        self.budget.acquire(Priority::Orders).await;
        self.inner.fetch_settlements(q).await
    }
    async fn push_inventory(&self, u: &[InventoryUpdate]) -> Result<Vec<InventoryAck>> {
        self.budget.acquire(Priority::Inventory).await;
        self.inner.push_inventory(u).await
    }
    async fn confirm_shipment(&self, s: &Shipment, k: &IdempotencyKey) -> Result<ShipmentAck> {
        self.budget.acquire(Priority::Orders).await;
        self.inner.confirm_shipment(s, k).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_772_323_200, 0).unwrap_or_default()
    }

    #[tokio::test]
    async fn refills_at_the_rate_and_caps_at_the_burst() {
        let clock = ManualClock::new(t0());
        let b = TokenBudget::with_time(10, 3, Arc::new(clock.clone()), Arc::new(clock.clone()));
        assert_eq!(b.available(), 3);
        for _ in 0..3 {
            b.acquire(Priority::Orders).await;
        }
        assert_eq!(clock.slept(), Duration::ZERO);
        // The fourth waits for one token: 100 ms at 10/s.
        b.acquire(Priority::Orders).await;
        assert_eq!(clock.slept(), Duration::from_millis(100));
        clock.advance(Duration::from_secs(60));
        assert_eq!(b.available(), 3);
    }

    /// Waiting does not move time: the test moves it.
    struct Yield;

    #[async_trait]
    impl Sleeper for Yield {
        async fn sleep(&self, _: Duration) {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn orders_go_before_inventory_before_catalogue() {
        let clock = ManualClock::new(t0());
        let b = Arc::new(TokenBudget::with_time(
            10,
            1,
            Arc::new(clock.clone()),
            Arc::new(Yield),
        ));
        b.acquire(Priority::Orders).await; // empty the bucket
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for p in [
            Priority::Catalogue,
            Priority::Inventory,
            Priority::Orders,
            Priority::Catalogue,
        ] {
            let (b, order) = (b.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                b.acquire(p).await;
                order.lock().unwrap_or_else(PoisonError::into_inner).push(p);
            }));
            for _ in 0..5 {
                tokio::task::yield_now().await;
            }
        }
        // All four wait; release one token at a time.
        for _ in 0..4 {
            clock.advance(Duration::from_millis(100));
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
        }
        for t in tasks {
            t.await.unwrap_or_default();
        }
        let got = order.lock().unwrap_or_else(PoisonError::into_inner).clone();
        assert_eq!(
            got,
            vec![
                Priority::Orders,
                Priority::Inventory,
                Priority::Catalogue,
                Priority::Catalogue
            ]
        );
    }
}
