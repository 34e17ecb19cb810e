//! Reference implementations that live in memory: [`InMemoryMarketplace`] (the platform side)
//! with [`InMemoryConnector`] (a [`MarketplaceConnector`] over it), and [`InMemoryErp`] (an
//! idempotent [`ErpAdapter`]). Both take faults on demand, so the pipeline and the conformance
//! suites can be exercised without a network.
//!
//! The in-memory platform stores each order as its JSON payload, exactly like a platform API
//! would hand it out; the connector "normalizes" by parsing it back, so a corrupted payload is
//! a real parse failure with its raw bytes kept.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use marketsync_core::{
    Channel, ConnectorCapabilities, Cursor, ErpAdapter, ErpCapabilities, ErpDocumentId,
    ErpDocumentKind, ErpDocumentRef, Error, ErrorKind, FetchQuery, Fetched, FulfilmentRequest,
    Health, IdempotencyKey, InventoryAck, InventoryPosition, InventoryUpdate, JournalEntry,
    JournalRequest, LocationId, MarketplaceConnector, Order, OrderId, Page, RawRecord, ReasonCode,
    Refund, RefundRequest, Result, SalesOrderRequest, Settlement, Shipment, ShipmentAck, ShopId,
    Sku,
};

use crate::conformance::{ErpFault, Fault};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another test thread panicked; the data is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Default)]
struct MarketState {
    /// Raw order payloads by id, with their update time.
    orders: BTreeMap<OrderId, (DateTime<Utc>, Vec<u8>)>,
    refunds: Vec<Refund>,
    /// Settlements with the time the platform published (or last updated) them.
    settlements: Vec<(DateTime<Utc>, Settlement)>,
    late_seq: u64,
    stock: BTreeMap<Sku, (u32, u64)>,
    shipments: BTreeMap<String, ShipmentAck>,
    faults: VecDeque<Fault>,
    known_statuses: Option<BTreeSet<String>>,
    calls: u64,
}

/// An in-memory marketplace for one channel and shop. Cheap to clone (shared state).
#[derive(Clone)]
pub struct InMemoryMarketplace {
    channel: Channel,
    shop: ShopId,
    secret: String,
    state: Arc<Mutex<MarketState>>,
}

impl InMemoryMarketplace {
    /// An empty marketplace accepting `secret` as the credential.
    pub fn new(channel: Channel, shop: ShopId, secret: impl Into<String>) -> InMemoryMarketplace {
        InMemoryMarketplace {
            channel,
            shop,
            secret: secret.into(),
            state: Arc::new(Mutex::new(MarketState::default())),
        }
    }

    /// Adds or replaces orders (a new revision of an order replaces the old payload, as on a
    /// platform).
    pub fn upsert_orders(&self, orders: &[Order]) {
        let mut s = lock(&self.state);
        for o in orders {
            let bytes = serde_json::to_vec(o).unwrap_or_default();
            s.orders.insert(o.id.clone(), (o.updated_at, bytes));
        }
    }

    /// Stores a raw payload as-is (to seed malformed or unusual records).
    pub fn upsert_raw_order(&self, id: OrderId, updated_at: DateTime<Utc>, payload: Vec<u8>) {
        lock(&self.state).orders.insert(id, (updated_at, payload));
    }

    /// Adds refunds.
    pub fn add_refunds(&self, refunds: &[Refund]) {
        lock(&self.state).refunds.extend_from_slice(refunds);
    }

    /// Adds settlements, each published at the end of its period.
    pub fn add_settlements(&self, settlements: &[Settlement]) {
        lock(&self.state)
            .settlements
            .extend(settlements.iter().map(|x| (x.period_end, x.clone())));
    }

    /// Publishes settlements at `published_at` (a statement published, or re-issued with a new
    /// revision, after its period): the connector reads settlements by this time. A settlement
    /// with the same id is replaced, as the platform replaces a revised statement.
    pub fn publish_settlements(&self, settlements: &[Settlement], published_at: DateTime<Utc>) {
        let mut s = lock(&self.state);
        for x in settlements {
            s.settlements.retain(|(_, old)| old.id != x.id);
            s.settlements.push((published_at, x.clone()));
        }
    }

    /// Restricts the raw statuses the connector recognises; others are `UnknownStatus`.
    pub fn set_known_statuses(&self, statuses: BTreeSet<String>) {
        lock(&self.state).known_statuses = Some(statuses);
    }

    /// Queues a fault for the next request. The late-record faults ([`Fault::LateOrder`],
    /// [`Fault::LateSettlement`]) apply at once: a copy of the earliest-placed order comes back
    /// under a new id, updated at the given time; a settlement over that order's placement
    /// time is published at the given time.
    pub fn inject(&self, fault: Fault) {
        let mut s = lock(&self.state);
        match fault {
            Fault::LateOrder { updated_at } => {
                s.late_seq += 1;
                let n = s.late_seq;
                if let Some(mut order) = earliest_order(&s) {
                    order.id = OrderId::new(format!("{}-late-{n}", order.id));
                    order.updated_at = updated_at;
                    order.revision = marketsync_core::Revision::UpdatedAt(updated_at);
                    let bytes = serde_json::to_vec(&order).unwrap_or_default();
                    s.orders.insert(order.id.clone(), (updated_at, bytes));
                }
            }
            Fault::LateSettlement { published_at } => {
                s.late_seq += 1;
                let n = s.late_seq;
                if let Some(order) = earliest_order(&s) {
                    let settlement = Settlement {
                        channel: self.channel.clone(),
                        shop: self.shop.clone(),
                        id: marketsync_core::SettlementId::new(format!("late-statement-{n}")),
                        revision: marketsync_core::Revision::UpdatedAt(published_at),
                        currency: order.currency,
                        period_start: order.placed_at,
                        period_end: order.placed_at + chrono::Duration::hours(1),
                        lines: Vec::new(),
                        payout: None,
                        raw: None,
                    };
                    s.settlements.push((published_at, settlement));
                }
            }
            other => s.faults.push_back(other),
        }
    }

    /// The quantity and version last applied for a SKU.
    pub fn stock(&self, sku: &Sku) -> Option<(u32, u64)> {
        lock(&self.state).stock.get(sku).copied()
    }

    /// Number of API calls served.
    pub fn calls(&self) -> u64 {
        lock(&self.state).calls
    }

    /// A connector for this marketplace using `secret`.
    pub fn connector(&self, secret: impl Into<String>) -> InMemoryConnector {
        InMemoryConnector {
            market: self.clone(),
            secret: secret.into(),
        }
    }

    fn begin(&self, secret: &str) -> Result<Option<Fault>> {
        let mut s = lock(&self.state);
        s.calls += 1;
        if secret != self.secret {
            return Err(Error::new(ErrorKind::Unauthorized, "invalid credentials")
                .with_context("channel", &self.channel));
        }
        match s.faults.pop_front() {
            Some(Fault::Throttle { retry_after }) => Err(Error::rate_limited(
                Some(retry_after),
                "throttled by the in-memory marketplace",
            )),
            Some(Fault::ServerError) => Err(Error::new(ErrorKind::Unavailable, "injected 503")),
            other => Ok(other),
        }
    }
}

/// The order placed first (the template of the late-record faults).
fn earliest_order(s: &MarketState) -> Option<Order> {
    s.orders
        .values()
        .filter_map(|(_, bytes)| serde_json::from_slice::<Order>(bytes).ok())
        .filter(|o| {
            s.known_statuses
                .as_ref()
                .is_none_or(|k| k.contains(&o.raw_status))
        })
        .min_by_key(|o| (o.placed_at, o.id.clone()))
}

/// A [`MarketplaceConnector`] over an [`InMemoryMarketplace`].
#[derive(Clone)]
pub struct InMemoryConnector {
    market: InMemoryMarketplace,
    secret: String,
}

impl std::fmt::Debug for InMemoryConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryConnector")
            .field("channel", &self.market.channel)
            .field("shop", &self.market.shop)
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn offset_of(cursor: &Option<Cursor>) -> Result<usize> {
    match cursor {
        None => Ok(0),
        Some(c) => c
            .as_str()
            .strip_prefix("offset:")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Error::new(ErrorKind::ConfigInvalid, "not an in-memory cursor")),
    }
}

fn page_of<T>(items: Vec<Fetched<T>>, total: usize, offset: usize, size: usize) -> Page<T> {
    let next = offset + size;
    Page {
        items,
        next_cursor: (next < total).then(|| Cursor::new(format!("offset:{next}"))),
    }
}

impl InMemoryConnector {
    fn normalize(
        &self,
        id: &OrderId,
        bytes: &[u8],
        known: &Option<BTreeSet<String>>,
    ) -> Fetched<Order> {
        let raw = RawRecord::json(bytes.to_vec(), Some("memory.orders"));
        match serde_json::from_slice::<Order>(bytes) {
            Ok(mut order) => {
                if let Some(k) = known {
                    if !k.contains(&order.raw_status) {
                        let e = Error::mapping(
                            ReasonCode::UnknownStatus,
                            format!("unknown order status {:?}", order.raw_status),
                        )
                        .with_context("order_id", id);
                        return Fetched::failed(Some(id.to_string()), raw, e);
                    }
                }
                order.raw = Some(raw.reference());
                Fetched::ok(id.to_string(), raw, order)
            }
            Err(e) => Fetched::failed(
                Some(id.to_string()),
                raw,
                Error::validation(
                    ReasonCode::MalformedPayload,
                    format!("malformed order: {e}"),
                )
                .with_context("order_id", id),
            ),
        }
    }
}

#[async_trait]
impl MarketplaceConnector for InMemoryConnector {
    fn channel(&self) -> Channel {
        self.market.channel.clone()
    }

    fn shop(&self) -> ShopId {
        self.market.shop.clone()
    }

    fn capabilities(&self) -> ConnectorCapabilities {
        ConnectorCapabilities::all()
    }

    async fn health_check(&self) -> Result<Health> {
        self.market.begin(&self.secret)?;
        Ok(Health::ok())
    }

    async fn fetch_orders(&self, query: &FetchQuery) -> Result<Page<Order>> {
        let fault = self.market.begin(&self.secret)?;
        let offset = offset_of(&query.cursor)?;
        let size = query.page_size.unwrap_or(100).clamp(1, 500) as usize;
        let s = lock(&self.market.state);
        let mut matching: Vec<(&DateTime<Utc>, &OrderId, &Vec<u8>)> = s
            .orders
            .iter()
            .filter(|(_, (t, _))| query.window.contains(*t))
            .map(|(id, (t, b))| (t, id, b))
            .collect();
        matching.sort();
        let total = matching.len();
        let mut items: Vec<Fetched<Order>> = matching
            .iter()
            .skip(offset)
            .take(size)
            .map(|(_, id, bytes)| self.normalize(id, bytes, &s.known_statuses))
            .collect();
        match fault {
            Some(Fault::MalformedRecord) => {
                if let Some(first) = items.first_mut() {
                    let mut v: serde_json::Value =
                        serde_json::from_slice(&first.raw.bytes).unwrap_or_default();
                    v["lines"][0]["unit_price"]["amount"] = serde_json::Value::from("12,5O");
                    let bytes = serde_json::to_vec(&v).unwrap_or_default();
                    let id = OrderId::new(first.external_id.clone().unwrap_or_default());
                    *first = self.normalize(&id, &bytes, &s.known_statuses);
                }
            }
            Some(Fault::DuplicateRecord) => {
                if let Some(first) = items.first() {
                    let id = OrderId::new(first.external_id.clone().unwrap_or_default());
                    let dup = self.normalize(&id, &first.raw.bytes, &s.known_statuses);
                    items.push(dup);
                }
            }
            _ => {}
        }
        Ok(page_of(items, total, offset, size))
    }

    async fn fetch_returns(&self, query: &FetchQuery) -> Result<Page<Refund>> {
        self.market.begin(&self.secret)?;
        let offset = offset_of(&query.cursor)?;
        let size = query.page_size.unwrap_or(100).clamp(1, 500) as usize;
        let s = lock(&self.market.state);
        let matching: Vec<&Refund> = s
            .refunds
            .iter()
            .filter(|r| query.window.contains(r.updated_at))
            .collect();
        let items = matching
            .iter()
            .skip(offset)
            .take(size)
            .map(|r| {
                let raw = RawRecord::json(
                    serde_json::to_vec(r).unwrap_or_default(),
                    Some("memory.refunds"),
                );
                Fetched::ok(r.id.to_string(), raw, (*r).clone())
            })
            .collect();
        Ok(page_of(items, matching.len(), offset, size))
    }

    async fn fetch_settlements(&self, query: &FetchQuery) -> Result<Page<Settlement>> {
        self.market.begin(&self.secret)?;
        let offset = offset_of(&query.cursor)?;
        let size = query.page_size.unwrap_or(100).clamp(1, 500) as usize;
        let s = lock(&self.market.state);
        // By publication (or last update) time, whatever period the settlement covers.
        let mut matching: Vec<&(DateTime<Utc>, Settlement)> = s
            .settlements
            .iter()
            .filter(|(published, _)| query.window.contains(*published))
            .collect();
        matching.sort_by(|a, b| (a.0, a.1.id.as_str()).cmp(&(b.0, b.1.id.as_str())));
        let matching: Vec<&Settlement> = matching.into_iter().map(|(_, x)| x).collect();
        let items = matching
            .iter()
            .skip(offset)
            .take(size)
            .map(|x| {
                let raw = RawRecord::json(
                    serde_json::to_vec(x).unwrap_or_default(),
                    Some("memory.settlements"),
                );
                Fetched::ok(x.id.to_string(), raw, (*x).clone())
            })
            .collect();
        Ok(page_of(items, matching.len(), offset, size))
    }

    async fn push_inventory(&self, updates: &[InventoryUpdate]) -> Result<Vec<InventoryAck>> {
        self.market.begin(&self.secret)?;
        let mut s = lock(&self.market.state);
        Ok(updates
            .iter()
            .map(|u| {
                let current = s.stock.get(&u.sku).map(|(_, v)| *v);
                let applied = current.is_none_or(|v| u.version > v);
                if applied {
                    s.stock.insert(u.sku.clone(), (u.available, u.version));
                }
                InventoryAck {
                    sku: u.sku.clone(),
                    version: u.version,
                    applied,
                    message: (!applied).then(|| "superseded by a newer version".to_owned()),
                }
            })
            .collect())
    }

    async fn confirm_shipment(
        &self,
        shipment: &Shipment,
        key: &IdempotencyKey,
    ) -> Result<ShipmentAck> {
        self.market.begin(&self.secret)?;
        let mut s = lock(&self.market.state);
        if let Some(ack) = s.shipments.get(key.as_str()) {
            return Ok(ShipmentAck {
                created: false,
                ..ack.clone()
            });
        }
        if !s.orders.contains_key(&shipment.order_id) {
            return Err(Error::new(ErrorKind::NotFound, "no such order")
                .with_context("order_id", &shipment.order_id));
        }
        let ack = ShipmentAck {
            order_id: shipment.order_id.clone(),
            platform_shipment_id: Some(format!("pkg-{}", s.shipments.len() + 1)),
            created: true,
        };
        s.shipments.insert(key.as_str().to_owned(), ack.clone());
        Ok(ack)
    }
}

/// A document held by the in-memory ERP.
#[derive(Clone, Debug)]
pub struct StoredDocument {
    /// Its reference.
    pub reference: ErpDocumentRef,
    /// The key it was created under.
    pub key: IdempotencyKey,
    /// The payload as JSON.
    pub payload: serde_json::Value,
}

#[derive(Default)]
struct ErpState {
    by_key: HashMap<IdempotencyKey, StoredDocument>,
    order: Vec<IdempotencyKey>,
    faults: VecDeque<ErpFault>,
    stock: BTreeMap<Sku, i64>,
    known_items: Option<BTreeSet<Sku>>,
    writes: u64,
    rejected: u64,
    next_id: u64,
    held: usize,
}

/// How long [`ErpFault::HoldWriteBeyondTimeout`] holds a write before committing it.
const HOLD: Duration = Duration::from_millis(200);

/// Commits a write under its key: the existing document when the key is taken (the key is the
/// ERP's unique natural key, checked and inserted under one lock).
fn commit(
    s: &mut ErpState,
    key: &IdempotencyKey,
    kind: ErpDocumentKind,
    payload: serde_json::Value,
) -> Result<ErpDocumentRef> {
    if let Some(existing) = s.by_key.get(key) {
        if existing.reference.kind != kind {
            return Err(Error::new(
                ErrorKind::Conflict,
                "key already used by another document kind",
            )
            .with_context("key", key));
        }
        return Ok(ErpDocumentRef {
            created: false,
            ..existing.reference.clone()
        });
    }
    s.next_id += 1;
    let reference = ErpDocumentRef {
        id: ErpDocumentId::new(format!("{}", 1000 + s.next_id)),
        kind,
        number: Some(format!("DOC{:06}", s.next_id)),
        created: true,
    };
    s.by_key.insert(
        key.clone(),
        StoredDocument {
            reference: reference.clone(),
            key: key.clone(),
            payload,
        },
    );
    s.order.push(key.clone());
    Ok(reference)
}

/// An idempotent in-memory ERP. Cheap to clone (shared state).
#[derive(Clone)]
pub struct InMemoryErp {
    secret: String,
    expected_secret: String,
    state: Arc<Mutex<ErpState>>,
}

impl std::fmt::Debug for InMemoryErp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryErp")
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl InMemoryErp {
    /// An empty ERP that accepts `secret`.
    pub fn new(secret: impl Into<String>) -> InMemoryErp {
        let s = secret.into();
        InMemoryErp {
            secret: s.clone(),
            expected_secret: s,
            state: Arc::new(Mutex::new(ErpState::default())),
        }
    }

    /// Another handle on the same ERP presenting a different credential.
    pub fn with_credential(&self, secret: impl Into<String>) -> InMemoryErp {
        InMemoryErp {
            secret: secret.into(),
            expected_secret: self.expected_secret.clone(),
            state: self.state.clone(),
        }
    }

    /// Queues a fault for the next write.
    pub fn inject(&self, fault: ErpFault) {
        lock(&self.state).faults.push_back(fault);
    }

    /// Sets stock on hand for an item.
    pub fn set_stock(&self, sku: Sku, on_hand: i64) {
        lock(&self.state).stock.insert(sku, on_hand);
    }

    /// Restricts sales orders to known items (others are rejected like a real ERP would).
    pub fn set_known_items(&self, items: BTreeSet<Sku>) {
        lock(&self.state).known_items = Some(items);
    }

    /// All documents, in creation order.
    pub fn documents(&self) -> Vec<StoredDocument> {
        let s = lock(&self.state);
        s.order
            .iter()
            .filter_map(|k| s.by_key.get(k).cloned())
            .collect()
    }

    /// Number of documents of a kind.
    pub fn count(&self, kind: &ErpDocumentKind) -> usize {
        lock(&self.state)
            .by_key
            .values()
            .filter(|d| &d.reference.kind == kind)
            .count()
    }

    /// Posted journal entries, in creation order.
    pub fn journals(&self) -> Vec<JournalEntry> {
        self.documents()
            .into_iter()
            .filter(|d| d.reference.kind == ErpDocumentKind::JournalEntry)
            .filter_map(|d| serde_json::from_value(d.payload).ok())
            .collect()
    }

    /// Write calls received (including repeats and failures).
    pub fn writes(&self) -> u64 {
        lock(&self.state).writes
    }

    /// Writes held by [`ErpFault::HoldWriteBeyondTimeout`] that have not landed yet.
    pub fn held_writes(&self) -> usize {
        lock(&self.state).held
    }

    fn auth(&self) -> Result<()> {
        if self.secret == self.expected_secret {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Unauthorized,
                "invalid ERP credentials",
            ))
        }
    }

    fn write(
        &self,
        key: &IdempotencyKey,
        kind: ErpDocumentKind,
        payload: serde_json::Value,
    ) -> Result<ErpDocumentRef> {
        self.auth()?;
        let mut s = lock(&self.state);
        s.writes += 1;
        let fault = s.faults.pop_front();
        match fault {
            Some(ErpFault::Throttle) => {
                return Err(Error::rate_limited(
                    Some(Duration::from_millis(50)),
                    "concurrency limit exceeded",
                ));
            }
            Some(ErpFault::ServerError) => {
                return Err(Error::new(ErrorKind::Unavailable, "injected 503"));
            }
            Some(ErpFault::HoldWriteBeyondTimeout) => {
                // The ERP keeps working on the write after the caller gave up on it.
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    s.held += 1;
                    let state = self.state.clone();
                    let key = key.clone();
                    runtime.spawn(async move {
                        tokio::time::sleep(HOLD).await;
                        let mut s = lock(&state);
                        let _ = commit(&mut s, &key, kind, payload);
                        s.held = s.held.saturating_sub(1);
                    });
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        "client timeout while the ERP still holds the write",
                    ));
                }
            }
            _ => {}
        }
        let reference = commit(&mut s, key, kind, payload)?;
        if fault == Some(ErpFault::CommitThenDropResponse) {
            return Err(Error::new(ErrorKind::Timeout, "response lost after commit"));
        }
        Ok(reference)
    }

    fn reject(&self, e: Error) -> Error {
        lock(&self.state).rejected += 1;
        e
    }
}

#[async_trait]
impl ErpAdapter for InMemoryErp {
    fn system(&self) -> &str {
        "memory"
    }

    fn capabilities(&self) -> ErpCapabilities {
        ErpCapabilities::all()
    }

    async fn health_check(&self) -> Result<Health> {
        self.auth()?;
        Ok(Health::ok())
    }

    async fn upsert_sales_order(&self, request: &SalesOrderRequest) -> Result<ErpDocumentRef> {
        let known = lock(&self.state).known_items.clone();
        if let Some(known) = known {
            for line in &request.order.lines {
                let item = request
                    .items
                    .get(&line.line_id)
                    .map(|i| Sku::new(i.as_str()))
                    .unwrap_or_else(|| line.sku.clone());
                if !known.contains(&item) {
                    return Err(self.reject(
                        Error::validation(ReasonCode::ErpRejected, "unknown item")
                            .with_context("item", item),
                    ));
                }
            }
        }
        let payload = serde_json::to_value(&request.order).unwrap_or_default();
        self.write(
            &request.idempotency_key,
            ErpDocumentKind::SalesOrder,
            payload,
        )
    }

    async fn post_journal(&self, request: &JournalRequest) -> Result<ErpDocumentRef> {
        request
            .entry
            .validate()
            .map_err(|e| self.reject(e.into()))?;
        let payload = serde_json::to_value(&request.entry).unwrap_or_default();
        self.write(
            &request.idempotency_key,
            ErpDocumentKind::JournalEntry,
            payload,
        )
    }

    async fn record_fulfilment(&self, request: &FulfilmentRequest) -> Result<ErpDocumentRef> {
        let payload = serde_json::to_value(&request.shipment).unwrap_or_default();
        self.write(
            &request.idempotency_key,
            ErpDocumentKind::Fulfilment,
            payload,
        )
    }

    async fn record_refund(&self, request: &RefundRequest) -> Result<ErpDocumentRef> {
        let payload = serde_json::to_value(&request.refund).unwrap_or_default();
        self.write(&request.idempotency_key, ErpDocumentKind::Refund, payload)
    }

    async fn inventory_positions(&self, skus: &[Sku]) -> Result<Vec<InventoryPosition>> {
        self.auth()?;
        let s = lock(&self.state);
        let now = Utc::now();
        Ok(skus
            .iter()
            .map(|sku| {
                let on_hand = s.stock.get(sku).copied().unwrap_or(0);
                InventoryPosition {
                    sku: sku.clone(),
                    location: LocationId::new("MAIN"),
                    on_hand,
                    reserved: 0,
                    available: on_hand,
                    as_of: now,
                }
            })
            .collect())
    }

    async fn find_by_idempotency_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<ErpDocumentRef>> {
        self.auth()?;
        Ok(lock(&self.state).by_key.get(key).map(|d| ErpDocumentRef {
            created: false,
            ..d.reference.clone()
        }))
    }
}
