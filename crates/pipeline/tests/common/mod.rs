//! Shared engine-test harness: a rulebook for the generator's channels, and fault-injecting
//! wrappers around the testkit's in-memory connector and ERP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use marketsync_core::*;
use marketsync_mapping::*;
use marketsync_pipeline::store::sqlite::SqliteStore;
use marketsync_pipeline::{Engine, EngineConfig, ManualClock, RetryPolicy, Store};
use marketsync_testkit::{
    ErpFault, Fault, InMemoryConnector, InMemoryErp, InMemoryMarketplace, Rng,
};

/// Accepts every marketplace tax figure (these tests are about delivery, not tax law).
#[derive(Debug)]
struct AcceptAll;

impl TaxRule for AcceptAll {
    fn name(&self) -> &str {
        "accept_all"
    }
    fn applies(&self, _: &Channel, _: &TaxLine) -> bool {
        true
    }
    fn validate(&self, _: &TaxCheck<'_>) -> Result<(), Error> {
        Ok(())
    }
}

pub(crate) const ENTITY: &str = "E1";

pub(crate) fn rulebook(version: &str) -> Rulebook {
    let mut accounts = AccountMap::new().with(ENTITY, AccountRole::fee(""), "6999");
    for (i, r) in AccountRole::SIMPLE.iter().enumerate() {
        accounts = accounts.with(ENTITY, r.clone(), format!("{}", 1000 + i));
    }
    Rulebook::new(version)
        .with_entity(EntitySettings {
            id: ENTITY.into(),
            time_zone: TimeZoneId::shanghai(),
            functional_currency: Currency::USD,
            posting_currency: PostingCurrency::Document,
        })
        .with_accounts(accounts)
        .with_builtin_fee_tables()
        .with_custom_tax_rule(Arc::new(AcceptAll))
}

pub(crate) fn mapper() -> Arc<Mapper> {
    Arc::new(
        Mapper::new(
            Arc::new(rulebook("rb-test-1")),
            Arc::new(InMemoryRates::new()),
        )
        .unwrap(),
    )
}

/// 2026-03-01: after every generated order (January + up to 3 days).
pub(crate) fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_323_200, 0).unwrap()
}

pub(crate) fn config(worker: &str) -> EngineConfig {
    EngineConfig::new(
        worker,
        ENTITY,
        DateTime::from_timestamp(1_764_547_200, 0).unwrap(), // 2025-12-01
    )
    .with_page_size(100)
    .with_retry(RetryPolicy {
        max_attempts: 10,
        ..RetryPolicy::default()
    })
}

pub(crate) fn engine(
    store: Arc<dyn Store>,
    erp: Arc<dyn ErpAdapter>,
    clock: &ManualClock,
    worker: &str,
) -> Engine {
    Engine::new(store, erp, mapper(), config(worker))
        .with_time(Arc::new(clock.clone()), Arc::new(clock.clone()))
}

pub(crate) async fn memory_store() -> Arc<dyn Store> {
    Arc::new(SqliteStore::in_memory().await.unwrap())
}

/// Signed (debit +, credit −) totals per (account, currency) over journals.
pub(crate) fn net(entries: &[JournalEntry]) -> BTreeMap<(String, Currency), rust_decimal::Decimal> {
    let mut out: BTreeMap<(String, Currency), rust_decimal::Decimal> = BTreeMap::new();
    for e in entries {
        for l in &e.lines {
            let s = l.signed();
            *out.entry((l.account.to_string(), s.currency)).or_default() += s.amount;
        }
    }
    out.retain(|_, v| !v.is_zero());
    out
}

/// Every journal document the ERP holds, by idempotency key.
pub(crate) fn erp_journals(erp: &InMemoryErp) -> HashMap<IdempotencyKey, JournalEntry> {
    erp.documents()
        .into_iter()
        .filter(|d| d.reference.kind == ErpDocumentKind::JournalEntry)
        .map(|d| (d.key, serde_json::from_value(d.payload).unwrap()))
        .collect()
}

/// Fault rates in percent.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ErpFaults {
    pub(crate) commit_then_drop: u64,
    pub(crate) throttle: u64,
    pub(crate) server_error: u64,
    pub(crate) lookup_error: u64,
}

/// An ERP that misbehaves at seeded random.
pub(crate) struct FaultyErp {
    pub(crate) inner: InMemoryErp,
    rng: Mutex<Rng>,
    faults: ErpFaults,
    pub(crate) injected: AtomicU64,
    pub(crate) lookups: AtomicU64,
}

impl FaultyErp {
    pub(crate) fn new(inner: InMemoryErp, seed: u64, faults: ErpFaults) -> FaultyErp {
        FaultyErp {
            inner,
            rng: Mutex::new(Rng::new(seed)),
            faults,
            injected: AtomicU64::new(0),
            lookups: AtomicU64::new(0),
        }
    }

    fn maybe_fault(&self) {
        let mut r = self.rng.lock().unwrap();
        let f = &self.faults;
        let fault = if r.chance(f.commit_then_drop) {
            Some(ErpFault::CommitThenDropResponse)
        } else if r.chance(f.throttle) {
            Some(ErpFault::Throttle)
        } else if r.chance(f.server_error) {
            Some(ErpFault::ServerError)
        } else {
            None
        };
        if let Some(f) = fault {
            self.injected.fetch_add(1, Ordering::Relaxed);
            self.inner.inject(f);
        }
    }
}

#[async_trait]
impl ErpAdapter for FaultyErp {
    fn system(&self) -> &str {
        "faulty-memory"
    }
    fn capabilities(&self) -> ErpCapabilities {
        self.inner.capabilities()
    }
    async fn health_check(&self) -> Result<Health, Error> {
        self.inner.health_check().await
    }
    async fn upsert_sales_order(&self, r: &SalesOrderRequest) -> Result<ErpDocumentRef, Error> {
        self.maybe_fault();
        self.inner.upsert_sales_order(r).await
    }
    async fn post_journal(&self, r: &JournalRequest) -> Result<ErpDocumentRef, Error> {
        self.maybe_fault();
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
        self.lookups.fetch_add(1, Ordering::Relaxed);
        if self.rng.lock().unwrap().chance(self.faults.lookup_error) {
            return Err(Error::new(ErrorKind::Unavailable, "lookup 503"));
        }
        self.inner.find_by_idempotency_key(key).await
    }
}

/// Delivery faults in percent.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Delivery {
    pub(crate) throttle: u64,
    pub(crate) server_error: u64,
    /// A record of the page delivered twice.
    pub(crate) duplicate: u64,
    /// An older revision delivered after the current one (stale).
    pub(crate) stale_after: u64,
    /// An older revision delivered before the current one (a real amendment sequence).
    pub(crate) older_before: u64,
}

/// A connector that re-delivers, reorders and throttles at seeded random.
pub(crate) struct FaultyConnector {
    pub(crate) market: InMemoryMarketplace,
    inner: InMemoryConnector,
    rng: Mutex<Rng>,
    delivery: Delivery,
    /// Older revisions by order id.
    pub(crate) older: BTreeMap<OrderId, Order>,
}

impl FaultyConnector {
    pub(crate) fn new(
        market: InMemoryMarketplace,
        seed: u64,
        delivery: Delivery,
        older: BTreeMap<OrderId, Order>,
    ) -> FaultyConnector {
        FaultyConnector {
            inner: market.connector("secret"),
            market,
            rng: Mutex::new(Rng::new(seed)),
            delivery,
            older,
        }
    }
}

fn fetched(order: &Order) -> Fetched<Order> {
    let raw = RawRecord::json(serde_json::to_vec(order).unwrap(), Some("memory.orders"));
    let mut o = order.clone();
    o.raw = Some(raw.reference());
    Fetched::ok(order.id.to_string(), raw, o)
}

#[async_trait]
impl MarketplaceConnector for FaultyConnector {
    fn channel(&self) -> Channel {
        self.inner.channel()
    }
    fn shop(&self) -> ShopId {
        self.inner.shop()
    }
    fn capabilities(&self) -> ConnectorCapabilities {
        self.inner.capabilities()
    }
    async fn health_check(&self) -> Result<Health, Error> {
        self.inner.health_check().await
    }
    async fn fetch_orders(&self, q: &FetchQuery) -> Result<Page<Order>, Error> {
        {
            let mut r = self.rng.lock().unwrap();
            if r.chance(self.delivery.throttle) {
                self.market.inject(Fault::Throttle {
                    retry_after: Duration::from_secs(2),
                });
            } else if r.chance(self.delivery.server_error) {
                self.market.inject(Fault::ServerError);
            }
        }
        let page = self.inner.fetch_orders(q).await?;
        let mut r = self.rng.lock().unwrap();
        let mut items = Vec::with_capacity(page.items.len() + 8);
        for item in page.items {
            let ok = item.outcome.as_ref().ok().cloned();
            let older = item
                .external_id
                .as_ref()
                .and_then(|id| self.older.get(&OrderId::new(id.as_str())));
            if let Some(old) = older {
                if r.chance(self.delivery.older_before) {
                    items.push(fetched(old));
                }
            }
            items.push(item);
            if let Some(o) = &ok {
                if r.chance(self.delivery.duplicate) {
                    items.push(fetched(o));
                }
            }
            if let Some(old) = older {
                if r.chance(self.delivery.stale_after) {
                    items.push(fetched(old));
                }
            }
        }
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }
    async fn fetch_returns(&self, q: &FetchQuery) -> Result<Page<Refund>, Error> {
        self.inner.fetch_returns(q).await
    }
    async fn fetch_settlements(&self, q: &FetchQuery) -> Result<Page<Settlement>, Error> {
        self.inner.fetch_settlements(q).await
    }
    async fn push_inventory(&self, u: &[InventoryUpdate]) -> Result<Vec<InventoryAck>, Error> {
        self.inner.push_inventory(u).await
    }
    async fn confirm_shipment(
        &self,
        s: &Shipment,
        k: &IdempotencyKey,
    ) -> Result<ShipmentAck, Error> {
        self.inner.confirm_shipment(s, k).await
    }
}

/// A published order-event stream: every order once, some with an older revision published
/// before (a real amendment sequence) or after (stale), and some published twice.
pub(crate) fn event_stream(seed: u64, n: usize) -> Vec<marketsync_pipeline::WorkItem> {
    use marketsync_pipeline::QueuedOrder;
    let orders = marketsync_testkit::Generator::new(marketsync_testkit::GeneratorConfig::new(seed))
        .orders(n);
    let mut rng = Rng::new(seed ^ 0xabcdef);
    let mut out = Vec::new();
    let mut seq = 0_u64;
    let mut push = |o: &Order, out: &mut Vec<marketsync_pipeline::WorkItem>| {
        seq += 1;
        let raw = RawRecord::json(serde_json::to_vec(o).unwrap(), Some("test.events"));
        let mut o = o.clone();
        o.raw = Some(raw.reference());
        out.push(QueuedOrder::item(o, Some(&raw), format!("pub-{seq}")).unwrap());
    };
    for o in &orders {
        let span = o.updated_at - o.placed_at;
        let older = (span > chrono::Duration::seconds(2)
            && o.status != OrderStatus::PendingPayment
            && rng.chance(25))
        .then(|| {
            let mut r0 = o.clone();
            r0.updated_at = o.placed_at + span / 2;
            r0.revision = Revision::UpdatedAt(r0.updated_at);
            r0.status = OrderStatus::AwaitingFulfilment;
            r0.paid_at = r0.paid_at.or(Some(o.placed_at));
            for l in &mut r0.lines {
                l.quantity_shipped = 0;
            }
            r0
        });
        if let Some(r0) = &older {
            if rng.chance(50) {
                push(r0, &mut out);
            }
        }
        push(o, &mut out);
        if rng.chance(8) {
            push(o, &mut out);
        }
        if let Some(r0) = &older {
            if rng.chance(50) {
                push(r0, &mut out);
            }
        }
    }
    out
}

/// The ERP's documents by idempotency key: (kind, payload).
pub(crate) fn documents(erp: &InMemoryErp) -> BTreeMap<String, (String, serde_json::Value)> {
    erp.documents()
        .into_iter()
        .map(|d| {
            (
                d.key.to_string(),
                (format!("{:?}", d.reference.kind), d.payload),
            )
        })
        .collect()
}

/// What one worker alone makes of `items` (in-memory SQLite, in-process queue).
pub(crate) async fn single_worker_reference(
    items: &[marketsync_pipeline::WorkItem],
) -> InMemoryErp {
    use marketsync_pipeline::{InProcessQueue, WorkQueue, WorkerOptions, run_worker};
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let engine = engine(memory_store().await, Arc::new(erp.clone()), &clock, "solo");
    let queue = InProcessQueue::new(12, items.len() + 1);
    for i in items {
        queue.publish(i).await.unwrap();
    }
    let all: Vec<u32> = (0..12).collect();
    let r = run_worker(
        &engine,
        &queue,
        &all,
        WorkerOptions {
            poll: Duration::from_millis(1),
            stop_after_idle_polls: Some(2),
            retry_delay: Duration::from_millis(1),
        },
    )
    .await
    .unwrap();
    assert_eq!(r.acked as usize, items.len());
    erp
}
