//! The sync engine: marketplace pages in, exactly one correct set of ERP documents out.
//!
//! [`Engine::sync_connector`] (one pass) and [`Engine::run`] (a loop) drive every stream a
//! connector declares in its [`capabilities`](MarketplaceConnector::capabilities) — orders,
//! then refunds, then settlements — and, when an [`AtpSource`] is attached, the inventory
//! push; a stream the connector does not declare is skipped, not failed. Every stream is read
//! by the time the platform last changed or published its records (the
//! [stream contract](marketsync_core::FetchQuery#the-stream-contract)), from the stream's
//! cursor, re-reading a per-stream [`Lookback`] before the watermark.
//!
//! Per connector stream, e.g. [`Engine::sync_orders`]:
//!
//! 1. reads the stream's cursor and fetches the next page of the current window (a new pass
//!    starts at `watermark − lookback` for the stream — minutes for orders and refunds, days
//!    for settlements — so records the platform indexed late are read again; windows are at
//!    most the smaller of [`EngineConfig::max_window`] and the connector's declared
//!    `capabilities().max_window`);
//! 2. archives every raw payload (one transaction per page, deduplicated by hash);
//! 3. sends records that failed to normalize to the exception queue with their raw payload;
//! 4. for each order: claims its event key in the idempotency ledger (a duplicate stops here),
//!    drops a revision older than the one already completed, maps it through
//!    [`marketsync_mapping::Mapper`], validates every journal, posts the documents through the
//!    [`ErpAdapter`] (each document has its own ledger key), records lineage, and completes the
//!    event together with the record's head;
//! 5. saves the cursor only after the page is durably handled.
//!
//! # Store transactions
//!
//! The heads of a page's orders are read in one step when the page starts, so each order's
//! documents are planned before its event is claimed. Then each order costs **one**
//! transaction ([`Store::write_batch`]): what the previous order recorded (document outcomes
//! and lineage, the event's completion, head and snapshot — queued, not yet written), this
//! event's claim, its head read back, and the claims of its planned documents (only if the
//! event was acquired and the head is the one planned from; otherwise the documents are
//! claimed one at a time, as before). The last order's records are written when the page
//! ends. Only the claims must be durable before the ERP sees a request, and they are: so a
//! crash right after an ERP write leaves that document `pending` (resumed with a look-up, as
//! always), and every earlier event of the page is already complete.
//!
//! # Documents per order event
//!
//! | document | key | when |
//! |---|---|---|
//! | sales order | per *order* ([`sales_order_key`]) | the first time the order is paid |
//! | accrual journal | event key `.child("accrual")` | paid, and the accrual differs from the one booked |
//! | reversal journal | event key `.child("reversal")` | an amendment changed (or cancelled) a booked accrual |
//!
//! An amendment — a partial cancel, a price, line or status change after posting — therefore
//! books a reversal of the previous accrual (dated on the amendment's business date, so a closed
//! period is never touched) and a new accrual keyed by the new revision, never a second sales
//! order. A status change with no money effect posts nothing.
//!
//! # Failures
//!
//! Temporary errors (`RateLimited` with its `retry-after`, `Timeout`, `Unavailable`) are retried
//! by the [`RetryPolicy`]. A write that timed out (or failed with a 5xx or a conflict) is never
//! re-sent blindly: the engine asks [`ErpAdapter::find_by_idempotency_key`] first. Permanent
//! errors and exhausted retries put the record in the exception queue with its raw payload and
//! canonical form; [`Engine::replay_exception`] and [`Engine::replay_range`] re-run them after
//! a fix, and the audit log records who replayed what.
//!
//! A crash at any point loses nothing and doubles nothing: an event or document left `pending`
//! by a stopped worker is resumed by the same worker id on restart (or by any worker once its
//! lease expires), and resuming starts with a look-up in the ERP.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use marketsync_core::{
    Envelope, ErpAdapter, ErpDocumentId, ErpDocumentKind, Error, ErrorKind, EventKind, FetchQuery,
    IdempotencyKey, JournalEntry, JournalRequest, LegalEntityId, MarketplaceConnector, Order, Page,
    RawRecord, Result, Revision, SalesOrderRequest, Side, TimeWindow,
};
use marketsync_mapping::{Context, Mapper};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::clock::{Clock, Sleeper, SystemClock, TokioSleeper};
use crate::retry::{Decision, RetryPolicy};
use crate::store::{
    BatchOp, BatchReply, Claim, ClaimRequest, CursorState, EventClaim, ExceptionStatus, Head,
    LedgerState, Lineage, NewAudit, NewException, Outcome, RecordKey, Store, StreamKey,
};

mod flows;
pub use flows::refund_document_key;

/// A record stream of a connector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StreamKind {
    /// `fetch_orders`, stream `"orders"`.
    Orders,
    /// `fetch_returns`, stream `"refunds"`.
    Refunds,
    /// `fetch_settlements`, stream `"settlements"`.
    Settlements,
}

impl StreamKind {
    /// The stream's name in cursors and exceptions (`"orders"`, `"refunds"`, `"settlements"`).
    pub fn name(self) -> &'static str {
        match self {
            StreamKind::Orders => "orders",
            StreamKind::Refunds => "refunds",
            StreamKind::Settlements => "settlements",
        }
    }

    /// Whether the connector declares this stream.
    pub fn declared_by(self, caps: &marketsync_core::ConnectorCapabilities) -> bool {
        match self {
            StreamKind::Orders => caps.orders,
            StreamKind::Refunds => caps.returns,
            StreamKind::Settlements => caps.settlements,
        }
    }
}

/// How far before its watermark each pass of a stream re-reads.
///
/// Platforms index some records late (an order change that shows up in the incremental API a
/// few minutes after its update time; a statement whose publication is back-dated), so each
/// pass starts this far before where the last one ended. Re-read records are de-duplicated by
/// the ledger, so a generous look-back costs calls, never double postings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lookback {
    /// Orders (default 10 minutes).
    pub orders: Duration,
    /// Refunds and returns (default 10 minutes).
    pub refunds: Duration,
    /// Settlements (default 2 days: statements and bills are published and amended late).
    pub settlements: Duration,
}

impl Default for Lookback {
    fn default() -> Lookback {
        Lookback {
            orders: Duration::from_secs(600),
            refunds: Duration::from_secs(600),
            settlements: Duration::from_secs(2 * 24 * 3600),
        }
    }
}

impl Lookback {
    /// The look-back of one stream.
    pub fn of(&self, stream: StreamKind) -> Duration {
        match stream {
            StreamKind::Orders => self.orders,
            StreamKind::Refunds => self.refunds,
            StreamKind::Settlements => self.settlements,
        }
    }
}

/// Engine settings.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EngineConfig {
    /// This worker's stable id: a restarted worker with the same id resumes its own pending
    /// claims at once (others wait for the lease).
    pub worker_id: String,
    /// The legal entity documents are booked in.
    pub entity: LegalEntityId,
    /// Where a stream with no cursor starts.
    pub start: DateTime<Utc>,
    /// Preferred page size.
    pub page_size: u32,
    /// How far before its watermark each pass re-reads, per stream (records the platform
    /// indexed or published late). Re-reading is harmless: the ledger de-duplicates.
    pub lookback: Lookback,
    /// The longest window one query spans, if any. The connector's declared
    /// `capabilities().max_window` also applies: the smaller of the two wins.
    pub max_window: Option<Duration>,
    /// How long a claim is held before another worker may take it over.
    pub lease: Duration,
    /// Retries of connector and ERP calls.
    pub retry: RetryPolicy,
    /// The largest open receivable per order (in currency units) a settlement may leave
    /// without a `SettlementVariance` exception (default zero: exact).
    pub settlement_tolerance: marketsync_core::rust_decimal::Decimal,
}

impl EngineConfig {
    /// Defaults: pages of 100, the default [`Lookback`] (10 minutes for orders and refunds,
    /// 2 days for settlements), 5-minute leases, the default retry policy.
    pub fn new(
        worker_id: impl Into<String>,
        entity: impl Into<LegalEntityId>,
        start: DateTime<Utc>,
    ) -> EngineConfig {
        EngineConfig {
            worker_id: worker_id.into(),
            entity: entity.into(),
            start,
            page_size: 100,
            lookback: Lookback::default(),
            max_window: None,
            lease: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            settlement_tolerance: marketsync_core::rust_decimal::Decimal::ZERO,
        }
    }

    /// Sets the settlement variance tolerance (currency units, e.g. `0.01`).
    pub fn with_settlement_tolerance(
        mut self,
        tolerance: marketsync_core::rust_decimal::Decimal,
    ) -> EngineConfig {
        self.settlement_tolerance = tolerance.abs();
        self
    }

    /// Sets the page size.
    pub fn with_page_size(mut self, n: u32) -> EngineConfig {
        self.page_size = n.max(1);
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> EngineConfig {
        self.retry = retry;
        self
    }

    /// Sets the look-back of one stream.
    pub fn with_lookback(mut self, stream: StreamKind, lookback: Duration) -> EngineConfig {
        match stream {
            StreamKind::Orders => self.lookback.orders = lookback,
            StreamKind::Refunds => self.lookback.refunds = lookback,
            StreamKind::Settlements => self.lookback.settlements = lookback,
        }
        self
    }

    /// Limits the window of one query.
    pub fn with_max_window(mut self, max: Duration) -> EngineConfig {
        self.max_window = Some(max);
        self
    }

    /// Sets the claim lease.
    pub fn with_lease(mut self, lease: Duration) -> EngineConfig {
        self.lease = lease;
        self
    }
}

/// What one sync or replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Pages fetched.
    pub pages: u64,
    /// Records fetched (including duplicates and failures).
    pub fetched: u64,
    /// Events that completed with at least one document: `created + already_existed`.
    pub posted: u64,
    /// Of those, events for which the ERP created at least one document.
    pub created: u64,
    /// Of those, events whose every document the ERP already had: it answered
    /// `created: false` ([`ErpDocumentRef::created`](marketsync_core::ErpDocumentRef)), the
    /// document was found by its idempotency key after a lost answer, or an earlier run had
    /// recorded it. Nothing new was written to the ERP.
    pub already_existed: u64,
    /// Of those, amendments (a reversal was booked).
    pub amendments: u64,
    /// Documents posted: `documents_created + documents_existing`.
    pub documents: u64,
    /// Documents the ERP created on this run.
    pub documents_created: u64,
    /// Documents the ERP already had (see [`SyncReport::already_existed`]).
    pub documents_existing: u64,
    /// Events with no accounting effect (unpaid, or a change with no money effect).
    pub no_effect: u64,
    /// Re-deliveries of an event already handled.
    pub duplicates: u64,
    /// Revisions older than the one completed.
    pub stale: u64,
    /// Events another worker is handling (the page's cursor is not saved; the next pass
    /// fetches it again, and takes the events over once their lease has expired).
    pub in_flight: u64,
    /// Re-deliveries of an event that already failed (left to replay).
    pub known_failures: u64,
    /// Records sent to the exception queue.
    pub exceptions: u64,
    /// True when a shutdown stopped the sync before it reached the present.
    pub stopped_early: bool,
}

impl SyncReport {
    /// Events that needed no ERP write at all: no accounting effect, re-deliveries and stale
    /// revisions (`no_effect + duplicates + stale`). Events whose documents already existed
    /// are counted apart, in [`SyncReport::already_existed`].
    pub fn unchanged(&self) -> u64 {
        self.no_effect
            .saturating_add(self.duplicates)
            .saturating_add(self.stale)
    }

    fn count(&mut self, o: &EventOutcome) {
        match o {
            EventOutcome::Posted {
                documents,
                created,
                amended,
            } => {
                let documents = *documents as u64;
                let created = (*created as u64).min(documents);
                self.posted += 1;
                if created > 0 {
                    self.created += 1;
                } else {
                    self.already_existed += 1;
                }
                self.documents += documents;
                self.documents_created += created;
                self.documents_existing += documents - created;
                self.amendments += u64::from(*amended);
            }
            EventOutcome::NoEffect => self.no_effect += 1,
            EventOutcome::Duplicate => self.duplicates += 1,
            EventOutcome::Stale => self.stale += 1,
            EventOutcome::InFlight => self.in_flight += 1,
            EventOutcome::KnownFailure => self.known_failures += 1,
            EventOutcome::Exception(_) => self.exceptions += 1,
        }
    }
}

/// A document the engine posted for an event, and whether the ERP created it on this call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PostedDoc {
    /// The ERP document.
    pub(crate) id: ErpDocumentId,
    /// True when the ERP answered that this call created it; false when it already had it
    /// (answered `created: false`, found by key, or recorded by an earlier run).
    pub(crate) created: bool,
}

impl PostedDoc {
    /// A document the ERP already had.
    pub(crate) fn existing(id: ErpDocumentId) -> PostedDoc {
        PostedDoc { id, created: false }
    }

    /// How many of `docs` the ERP created.
    pub(crate) fn created(docs: &[PostedDoc]) -> usize {
        docs.iter().filter(|d| d.created).count()
    }
}

/// What happened to one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    /// Documents were posted (created, or found already in the ERP).
    Posted {
        /// How many.
        documents: usize,
        /// Of those, how many the ERP created (the rest it already had).
        created: usize,
        /// Whether a previous accrual was reversed.
        amended: bool,
    },
    /// Completed with nothing to post.
    NoEffect,
    /// Already handled.
    Duplicate,
    /// Older than the completed revision: dropped.
    Stale,
    /// Another worker holds it.
    InFlight,
    /// It failed before; replay it.
    KnownFailure,
    /// It went to the exception queue (the id).
    Exception(i64),
}

/// The result of replaying one exception.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayResult {
    /// The exception was not open: nothing done (replays are idempotent).
    NotOpen(ExceptionStatus),
    /// It was re-run with this outcome; the exception is `replayed` when it posted.
    Ran(EventOutcome),
    /// The record could not be found again at the source.
    NotFound,
}

/// Asks a running engine to stop after the page in hand. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct ShutdownHandle {
    inner: Arc<ShutdownInner>,
}

#[derive(Debug, Default)]
struct ShutdownInner {
    flag: AtomicBool,
    notify: Notify,
}

impl ShutdownHandle {
    /// Requests a graceful stop: the page being handled completes and its cursor is saved.
    pub fn shutdown(&self) {
        self.inner.flag.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Whether a stop was requested.
    pub fn is_shutdown(&self) -> bool {
        self.inner.flag.load(Ordering::SeqCst)
    }
}

/// What the engine remembers about an order between revisions (the head's state). No
/// personal data: ids and the journal it booked.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct OrderState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sales_order: Option<ErpDocumentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    accrual: Option<JournalEntry>,
}

/// The key of an order's sales order: one per order, whatever its revision.
pub fn sales_order_key(order: &Order) -> IdempotencyKey {
    IdempotencyKey::derive(
        &order.channel,
        &order.shop,
        &EventKind::Other("sales_order".into()),
        order.id.as_str(),
        &Revision::Version(0),
    )
}

/// The journal that undoes `entry`: the same lines on the other side, on `date`.
pub fn reversal_of(entry: &JournalEntry, date: NaiveDate) -> JournalEntry {
    let mut r = entry.clone();
    r.date = date;
    r.memo = format!("Reversal: {}", entry.memo);
    for line in &mut r.lines {
        line.side = match line.side {
            Side::Debit => Side::Credit,
            Side::Credit => Side::Debit,
        };
    }
    r
}

pub(crate) enum DocRequest {
    SalesOrder(Box<SalesOrderRequest>),
    Journal(Box<JournalRequest>),
    Refund(Box<marketsync_core::RefundRequest>),
}

pub(crate) struct Doc {
    pub(crate) role: &'static str,
    pub(crate) key: IdempotencyKey,
    pub(crate) request: DocRequest,
}

/// A validated journal document.
pub(crate) fn journal_doc(
    role: &'static str,
    key: IdempotencyKey,
    entry: JournalEntry,
) -> std::result::Result<Doc, Fail> {
    entry.validate().map_err(|e| Fail::Record(e.into()))?;
    Ok(Doc {
        role,
        request: DocRequest::Journal(Box::new(JournalRequest::new(key.clone(), entry))),
        key,
    })
}

/// Store writes queued behind the next durable write (write-behind).
///
/// Only one write must be durable before the ERP sees a request: the claim of the document's
/// key (and of its event). Everything that records what already happened — a document's
/// outcome and lineage, an event's completion, head and snapshot — is queued here and written
/// in the same transaction as the next claim, or at the end of the page. A crash before that
/// transaction leaves those documents and events `pending`: the restarted worker takes them
/// over and looks each document up in the ERP before any write (the recovery every crash
/// already relies on), so each document still exists exactly once. Every claim writes the
/// queue first, so when the ERP sees a request, every earlier event is durably complete.
///
/// On a page, it also holds the heads of the page's records as they will stand once the queue
/// is written (read in one step when the page starts), so each order's documents can be
/// planned before its event is claimed and claimed with it ([`BatchOp::ClaimEvent`]).
#[derive(Debug, Default)]
pub(crate) struct WriteBehind {
    pub(crate) ops: Vec<BatchOp>,
    /// The page's heads (absent: not read; the order takes the one-claim-at-a-time path).
    heads: std::collections::HashMap<RecordKey, Option<Head>>,
}

impl WriteBehind {
    /// Queues an event's completion (and keeps the page's head of its record current).
    fn complete(
        &mut self,
        key: IdempotencyKey,
        outcome: Outcome,
        head: Option<Head>,
        now: DateTime<Utc>,
    ) {
        if let Some(h) = &head {
            if let Some(slot) = self.heads.get_mut(&h.record) {
                *slot = Some(h.clone());
            }
        }
        self.ops.push(BatchOp::CompleteEvent {
            key,
            outcome,
            head: head.map(Box::new),
            now,
        });
    }
}

/// What an order event posts, in order: planned from the head before the event is claimed.
enum Step {
    SalesOrder,
    Reversal,
    Accrual(Box<JournalEntry>),
}

/// Where a document comes from, for its lineage.
pub(crate) struct Source {
    pub(crate) event_key: IdempotencyKey,
    pub(crate) record: RecordKey,
    pub(crate) revision: Revision,
    pub(crate) content_hash: Option<marketsync_core::ContentHash>,
    pub(crate) settlement_id: Option<String>,
    pub(crate) payout_id: Option<String>,
}

impl Source {
    fn of_order(env: &Envelope<Order>) -> Source {
        Source {
            event_key: env.idempotency_key.clone(),
            record: RecordKey {
                channel: env.channel.clone(),
                shop: env.shop.clone(),
                kind: env.kind.clone(),
                external_id: env.external_id.clone(),
            },
            revision: env.revision.clone(),
            content_hash: Some(env.content_hash.clone()),
            settlement_id: None,
            payout_id: None,
        }
    }
}

/// Why handling a record stopped: the record's fault (to the exception queue) or the
/// infrastructure's (the page is retried later).
pub(crate) enum Fail {
    Record(Error),
    Infra(Error),
}

/// The record stream the engine walks (an alias kept for the stream code).
pub(crate) type Flow = StreamKind;

/// What walking one stream counted.
pub(crate) enum Tally {
    /// Orders and refunds.
    Records(SyncReport),
    /// Settlements.
    Settlements(crate::reconcile::ReconcileReport),
}

impl Tally {
    fn in_flight(&self) -> u64 {
        match self {
            Tally::Records(r) => r.in_flight,
            Tally::Settlements(r) => r.in_flight,
        }
    }

    fn stopped_early(&mut self) {
        match self {
            Tally::Records(r) => r.stopped_early = true,
            Tally::Settlements(r) => r.stopped_early = true,
        }
    }

    pub(crate) fn records(self) -> Result<SyncReport> {
        match self {
            Tally::Records(r) => Ok(r),
            Tally::Settlements(_) => Err(Error::new(
                ErrorKind::Unexpected,
                "a record stream produced a settlement report",
            )),
        }
    }

    pub(crate) fn settlements(self) -> Result<crate::reconcile::ReconcileReport> {
        match self {
            Tally::Settlements(r) => Ok(r),
            Tally::Records(_) => Err(Error::new(
                ErrorKind::Unexpected,
                "the settlement stream produced a record report",
            )),
        }
    }
}

/// What one pass over one stream gave: its report, a skip (the connector does not declare
/// the stream), or the error that stopped it (its cursor did not move past the failure).
#[derive(Debug, Default)]
pub enum StreamResult<T> {
    /// The pass ran.
    Done(T),
    /// The connector does not declare this stream in its capabilities: not called.
    #[default]
    Unsupported,
    /// The pass failed; the next pass resumes from the saved cursor.
    Failed(Error),
}

impl<T> StreamResult<T> {
    /// The report, if the pass ran.
    pub fn report(&self) -> Option<&T> {
        match self {
            StreamResult::Done(r) => Some(r),
            _ => None,
        }
    }

    /// The report, if the pass ran (by value).
    pub fn into_report(self) -> Option<T> {
        match self {
            StreamResult::Done(r) => Some(r),
            _ => None,
        }
    }

    /// The error, if the pass failed.
    pub fn error(&self) -> Option<&Error> {
        match self {
            StreamResult::Failed(e) => Some(e),
            _ => None,
        }
    }

    fn from_result(r: Result<T>) -> StreamResult<T> {
        match r {
            Ok(v) => StreamResult::Done(v),
            Err(e) => StreamResult::Failed(e),
        }
    }
}

/// What one pass over every stream of one connector did ([`Engine::sync_connector`]).
#[derive(Debug)]
pub struct ConnectorReport {
    /// The connector's channel.
    pub channel: marketsync_core::Channel,
    /// The connector's shop.
    pub shop: marketsync_core::ShopId,
    /// The order stream.
    pub orders: StreamResult<SyncReport>,
    /// The refund stream.
    pub refunds: StreamResult<SyncReport>,
    /// The settlement stream (reconciled).
    pub settlements: StreamResult<crate::reconcile::ReconcileReport>,
}

impl ConnectorReport {
    /// The errors of the streams that failed, by stream.
    pub fn failures(&self) -> Vec<(StreamKind, &Error)> {
        let mut out = Vec::new();
        if let Some(e) = self.orders.error() {
            out.push((StreamKind::Orders, e));
        }
        if let Some(e) = self.refunds.error() {
            out.push((StreamKind::Refunds, e));
        }
        if let Some(e) = self.settlements.error() {
            out.push((StreamKind::Settlements, e));
        }
        out
    }
}

/// What one pass over several connectors did ([`Engine::sync_all`]).
#[derive(Debug, Default)]
pub struct SyncAllReport {
    /// One report per connector, in the order given.
    pub connectors: Vec<ConnectorReport>,
    /// The inventory push, when an [`AtpSource`] is attached and a connector declares
    /// `inventory_push`.
    pub inventory: Option<StreamResult<InventoryPushReport>>,
}

/// What an inventory push did.
#[derive(Debug, Default)]
pub struct InventoryPushReport {
    /// Updates sent.
    pub sent: usize,
    /// Updates the channels applied.
    pub applied: usize,
    /// Channels whose push failed (their updates are retried by the next push).
    pub failed: Vec<(marketsync_core::Channel, marketsync_core::ShopId, Error)>,
}

/// Where the engine's inventory push gets available-to-promise from: a shared
/// [`AtpEngine`](crate::atp::AtpEngine) and the ERP items whose stock it reads.
///
/// Attached with [`Engine::with_atp`]: each [`Engine::sync_all`] pass then reads the items'
/// positions from the ERP, feeds every order event the engine completes (its lines resolved
/// to ERP items by the mapper, so the items here are the ERP's item ids), and pushes what
/// changed to the connectors that declare `inventory_push`.
#[derive(Clone, Debug)]
pub struct AtpSource {
    /// The ATP state, shared with the caller.
    pub atp: Arc<tokio::sync::Mutex<crate::atp::AtpEngine>>,
    /// The ERP items whose positions are read before each push.
    pub items: Vec<marketsync_core::Sku>,
}

impl AtpSource {
    /// A source over an ATP engine and the ERP items to read.
    pub fn new(atp: crate::atp::AtpEngine, items: Vec<marketsync_core::Sku>) -> AtpSource {
        AtpSource {
            atp: Arc::new(tokio::sync::Mutex::new(atp)),
            items,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Sync,
    Replay,
}

/// The sync engine. See the [module docs](self).
///
/// One engine per ERP and legal entity; give it a [`Store`] (its ledger,
/// watermarks and exception queue), the ERP adapter and the [`Mapper`], then sync connectors.
/// Every ERP write is claimed in the ledger under its idempotency key first, so a re-run, a
/// crash or a second worker never makes a second document:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use marketsync_core::ErpDocumentKind;
/// use marketsync_mapping::examples::tmall;
/// use marketsync_pipeline::store::sqlite::SqliteStore;
/// use marketsync_pipeline::{Engine, EngineConfig};
/// use marketsync_testkit::{InMemoryErp, InMemoryMarketplace};
///
/// let order = tmall::order()?;
/// let market = InMemoryMarketplace::new(order.channel.clone(), order.shop.clone(), "s3cret");
/// market.upsert_orders(&[order]);
/// let erp = InMemoryErp::new("erp");
/// let engine = Engine::new(
///     Arc::new(SqliteStore::in_memory().await?),
///     Arc::new(erp.clone()),
///     Arc::new(tmall::mapper()?),
///     EngineConfig::new("worker-1", tmall::ENTITY, "2026-01-01T00:00:00Z".parse()?),
/// );
/// let connector = market.connector("s3cret");
///
/// let first = engine.sync_orders(&connector).await?;
/// assert_eq!((first.created, first.documents_created), (1, 2)); // sales order + accrual
///
/// let second = engine.sync_orders(&connector).await?;
/// assert_eq!(second.posted, 0);
/// assert_eq!(second.unchanged(), second.fetched);
/// assert_eq!(erp.count(&ErpDocumentKind::SalesOrder), 1);
/// # Ok(())
/// # }
/// ```
pub struct Engine {
    pub(crate) store: Arc<dyn Store>,
    erp: Arc<dyn ErpAdapter>,
    pub(crate) mapper: Arc<Mapper>,
    pub(crate) ctx: Context,
    pub(crate) config: EngineConfig,
    pub(crate) clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    pub(crate) shutdown: ShutdownHandle,
    rng: Mutex<u64>,
    atp: Option<AtpSource>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("worker_id", &self.config.worker_id)
            .field("store", &self.store.backend())
            .field("erp", &self.erp.system())
            .finish()
    }
}

impl Engine {
    /// An engine on the system clock.
    pub fn new(
        store: Arc<dyn Store>,
        erp: Arc<dyn ErpAdapter>,
        mapper: Arc<Mapper>,
        config: EngineConfig,
    ) -> Engine {
        let seed = config.retry.jitter_seed
            ^ config
                .worker_id
                .bytes()
                .fold(0_u64, |h, b| h.rotate_left(5) ^ u64::from(b));
        Engine {
            store,
            erp,
            mapper,
            ctx: Context::new(config.entity.clone()),
            config,
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(TokioSleeper),
            shutdown: ShutdownHandle::default(),
            rng: Mutex::new(seed),
            atp: None,
        }
    }

    /// Attaches an available-to-promise source: [`Engine::sync_all`] (and [`Engine::run`])
    /// then push inventory to the connectors that declare `inventory_push`.
    pub fn with_atp(mut self, source: AtpSource) -> Engine {
        self.atp = Some(source);
        self
    }

    /// The attached ATP source, if any.
    pub fn atp(&self) -> Option<&AtpSource> {
        self.atp.as_ref()
    }

    /// Replaces the clock and the sleeper (tests use a [`crate::clock::ManualClock`] for both).
    pub fn with_time(mut self, clock: Arc<dyn Clock>, sleeper: Arc<dyn Sleeper>) -> Engine {
        self.clock = clock;
        self.sleeper = sleeper;
        self
    }

    /// The handle that stops this engine gracefully.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Now, on the engine's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Syncs every stream of every connector until shutdown (one [`Engine::sync_all`] pass,
    /// then a pause of `interval`). A failed stream is logged and resumed at the next pass (its
    /// cursor did not move past the failure).
    pub async fn run(
        &self,
        connectors: &[Arc<dyn MarketplaceConnector>],
        interval: Duration,
    ) -> Result<()> {
        while !self.shutdown.is_shutdown() {
            let report = self.sync_all(connectors).await;
            for r in &report.connectors {
                let posted = r.orders.report().map_or(0, |o| o.posted)
                    + r.refunds.report().map_or(0, |o| o.posted);
                let reconciled = r.settlements.report().map_or(0, |o| o.reconciled);
                tracing::info!(
                    channel = %r.channel, posted, reconciled, "sync pass done"
                );
                for (stream, e) in r.failures() {
                    tracing::warn!(
                        channel = %r.channel, stream = stream.name(), kind = e.kind().name(),
                        "sync pass failed; retrying next pass"
                    );
                }
            }
            let notified = self.shutdown.inner.notify.notified();
            if self.shutdown.is_shutdown() {
                break;
            }
            tokio::select! {
                _ = self.sleeper.sleep(interval) => {}
                _ = notified => {}
            }
        }
        Ok(())
    }

    /// One pass over every stream of each connector ([`Engine::sync_connector`]), then, when an
    /// [`AtpSource`] is attached, one inventory push to the connectors that declare
    /// `inventory_push`. A failure of one stream does not stop the others.
    pub async fn sync_all(&self, connectors: &[Arc<dyn MarketplaceConnector>]) -> SyncAllReport {
        let mut report = SyncAllReport::default();
        for c in connectors {
            if self.shutdown.is_shutdown() {
                break;
            }
            report
                .connectors
                .push(self.sync_connector(c.as_ref()).await);
        }
        if !self.shutdown.is_shutdown() {
            report.inventory = self.push_inventory(connectors).await;
        }
        report
    }

    /// One pass over every stream the connector declares in its capabilities: orders, then
    /// refunds (which need their orders), then settlements (which reconcile against both).
    /// Undeclared streams are [`StreamResult::Unsupported`], not called; a failed stream is
    /// [`StreamResult::Failed`] and the next streams still run.
    pub async fn sync_connector(&self, connector: &dyn MarketplaceConnector) -> ConnectorReport {
        let caps = connector.capabilities();
        let mut report = ConnectorReport {
            channel: connector.channel(),
            shop: connector.shop(),
            orders: StreamResult::Unsupported,
            refunds: StreamResult::Unsupported,
            settlements: StreamResult::Unsupported,
        };
        if caps.orders {
            report.orders = StreamResult::from_result(self.sync_orders(connector).await);
        }
        if caps.returns && !self.shutdown.is_shutdown() {
            report.refunds = StreamResult::from_result(self.sync_refunds(connector).await);
        }
        if caps.settlements && !self.shutdown.is_shutdown() {
            report.settlements = StreamResult::from_result(self.sync_settlements(connector).await);
        }
        report
    }

    /// Reads the ATP source's stock from the ERP and pushes what changed; `None` when no
    /// source is attached or no connector declares `inventory_push`.
    async fn push_inventory(
        &self,
        connectors: &[Arc<dyn MarketplaceConnector>],
    ) -> Option<StreamResult<InventoryPushReport>> {
        let source = self.atp.as_ref()?;
        let pushing: Vec<Arc<dyn MarketplaceConnector>> = connectors
            .iter()
            .filter(|c| c.capabilities().inventory_push)
            .cloned()
            .collect();
        if pushing.is_empty() {
            return None;
        }
        let positions = match self
            .with_retry("inventory_positions", || {
                self.erp.inventory_positions(&source.items)
            })
            .await
        {
            Ok(p) => p,
            Err(e) => return Some(StreamResult::Failed(e)),
        };
        let mut atp = source.atp.lock().await;
        atp.on_stock(&positions);
        let summary = crate::atp::push(&mut atp, &pushing, self.clock.now()).await;
        Some(StreamResult::Done(InventoryPushReport {
            sent: summary.sent,
            applied: summary.applied,
            failed: summary.failed,
        }))
    }

    /// One pass over a connector's order stream: from the cursor to now.
    pub async fn sync_orders(&self, connector: &dyn MarketplaceConnector) -> Result<SyncReport> {
        self.walk_stream(connector, Flow::Orders).await?.records()
    }

    /// Walks a stream from its cursor to now, one page at a time: fetch (with retries), handle
    /// the page, and save the cursor only once the page is handled. A page with records held by
    /// another worker stops the pass without moving the cursor (the next pass fetches it
    /// again). Shared by every record stream.
    pub(crate) async fn walk_stream(
        &self,
        connector: &dyn MarketplaceConnector,
        flow: Flow,
    ) -> Result<Tally> {
        let stream = StreamKey::new(connector.channel(), connector.shop(), flow.name());
        let mut report = match flow {
            StreamKind::Settlements => Tally::Settlements(Default::default()),
            _ => Tally::Records(SyncReport::default()),
        };
        let mut state = self.store.cursor(&stream).await?.unwrap_or_default();
        let target_end = self.clock.now();
        let max_window = self.max_window(connector);
        // Where the next window of this pass starts once one has closed (the look-back is
        // taken once per pass, then the pass walks forward).
        let mut resume: Option<DateTime<Utc>> = None;
        loop {
            if self.shutdown.is_shutdown() {
                report.stopped_early();
                break;
            }
            let Some(window) = self.next_window_for(&state, target_end, flow, max_window, resume)
            else {
                break;
            };
            let query = FetchQuery::new(window)
                .with_cursor(state.page.clone())
                .with_page_size(self.config.page_size);
            let held_before = report.in_flight();
            let next = match (flow, &mut report) {
                (StreamKind::Orders, Tally::Records(r)) => {
                    let page = self
                        .with_retry("fetch_orders", || connector.fetch_orders(&query))
                        .await?;
                    let next = page.next_cursor.clone();
                    self.handle_page(&stream, window, page, Mode::Sync, r)
                        .await?;
                    next
                }
                (StreamKind::Refunds, Tally::Records(r)) => {
                    let page = self
                        .with_retry("fetch_returns", || connector.fetch_returns(&query))
                        .await?;
                    let next = page.next_cursor.clone();
                    self.handle_refund_page(&stream, window, page, Mode::Sync, r)
                        .await?;
                    next
                }
                (StreamKind::Settlements, Tally::Settlements(r)) => {
                    let page = self
                        .with_retry("fetch_settlements", || connector.fetch_settlements(&query))
                        .await?;
                    let next = page.next_cursor.clone();
                    self.handle_settlement_page(&stream, window, page, r)
                        .await?;
                    next
                }
                _ => {
                    return Err(Error::new(
                        ErrorKind::Unexpected,
                        "stream and report do not match",
                    ));
                }
            };
            if report.in_flight() > held_before {
                // Some records are held by another (possibly stopped) worker: the page is not
                // handled yet, so the cursor stays; the next pass fetches it again.
                tracing::info!(stream = %stream, held = report.in_flight() - held_before,
                    "records held by another worker; the page will be fetched again");
                break;
            }
            state = advanced(&state, window, next);
            self.store
                .save_cursor(&stream, &state, self.clock.now())
                .await?;
            if state.window.is_none() {
                resume = Some(window.end);
                if window.end >= target_end {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// The longest window one query of `connector` may span: the smaller of the engine's
    /// [`EngineConfig::max_window`] and the connector's declared `capabilities().max_window`.
    pub fn max_window(&self, connector: &dyn MarketplaceConnector) -> Option<Duration> {
        match (self.config.max_window, connector.capabilities().max_window) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The window to fetch next: the one being paged, or a new one up to `target_end` (at
    /// most `max_window` long) starting where this pass left off (`resume`) or, for the
    /// pass's first window, at the watermark minus the stream's look-back (never before
    /// [`EngineConfig::start`]).
    pub(crate) fn next_window_for(
        &self,
        state: &CursorState,
        target_end: DateTime<Utc>,
        flow: Flow,
        max_window: Option<Duration>,
        resume: Option<DateTime<Utc>>,
    ) -> Option<TimeWindow> {
        if let Some(w) = state.window {
            return Some(w);
        }
        let start = match (resume, state.watermark) {
            (Some(r), _) => r,
            (None, Some(w)) => {
                let back = chrono::Duration::from_std(self.config.lookback.of(flow))
                    .unwrap_or(chrono::Duration::zero());
                w.checked_sub_signed(back)
                    .unwrap_or(w)
                    .max(self.config.start)
                    .min(w)
            }
            (None, None) => self.config.start,
        };
        let mut end = target_end;
        if let Some(max) = max_window.and_then(|m| chrono::Duration::from_std(m).ok()) {
            if max > chrono::Duration::zero() {
                if let Some(e) = start.checked_add_signed(max) {
                    end = end.min(e);
                }
            }
        }
        TimeWindow::new(start, end).filter(|_| start < end)
    }

    async fn handle_page(
        &self,
        stream: &StreamKey,
        window: TimeWindow,
        page: Page<Order>,
        mode: Mode,
        report: &mut SyncReport,
    ) -> Result<()> {
        // The page's outcomes, lineage, heads and snapshots ride with the next claim (see
        // `WriteBehind`); what is left is written before the page counts as handled.
        let mut queued = WriteBehind::default();
        let accepted = self
            .accept_page(stream, EventKind::Order, window, page, report)
            .await?;
        self.read_heads(&accepted, &mut queued).await?;
        for (order, raw) in accepted {
            match self
                .handle_order_in(stream, order, Some(&raw), Some(window), mode, &mut queued)
                .await
            {
                Ok(o) => report.count(&o),
                Err(e) => {
                    self.flush_after_error(&mut queued).await;
                    return Err(e);
                }
            }
        }
        self.flush(&mut queued).await
    }

    /// Reads the heads of a page's orders in one step (a read-only batch).
    async fn read_heads(
        &self,
        orders: &[(Order, RawRecord)],
        queued: &mut WriteBehind,
    ) -> Result<()> {
        let mut records: Vec<RecordKey> = Vec::with_capacity(orders.len());
        let mut seen = std::collections::HashSet::with_capacity(orders.len());
        for (o, _) in orders {
            let rec = RecordKey {
                channel: o.channel.clone(),
                shop: o.shop.clone(),
                kind: EventKind::Order,
                external_id: o.id.to_string(),
            };
            if seen.insert(rec.clone()) {
                records.push(rec);
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        let replies = self
            .store
            .write_batch(records.iter().cloned().map(BatchOp::Head).collect())
            .await?;
        if replies.len() != records.len() {
            return Err(Error::new(
                ErrorKind::Unexpected,
                "the store answered fewer head reads than it was given",
            ));
        }
        for (rec, reply) in records.into_iter().zip(replies) {
            if let BatchReply::Head(h) = reply {
                queued.heads.insert(rec, h);
            }
        }
        Ok(())
    }

    /// Writes what is queued, in one transaction.
    pub(crate) async fn flush(&self, queued: &mut WriteBehind) -> Result<()> {
        if queued.ops.is_empty() {
            return Ok(());
        }
        self.store
            .write_batch(std::mem::take(&mut queued.ops))
            .await
            .map(|_| ())
    }

    /// After a failure, writes what earlier events queued (best effort: when even this fails,
    /// those events stay `pending` and the next pass resumes them with a look-up, as after a
    /// crash).
    async fn flush_after_error(&self, queued: &mut WriteBehind) {
        if let Err(e) = self.flush(queued).await {
            tracing::warn!(
                kind = e.kind().name(),
                "queued store writes were not written"
            );
        }
    }

    /// Writes what is queued and then `ops`, in one transaction; the replies to `ops`.
    async fn write_through(
        &self,
        queued: &mut WriteBehind,
        ops: Vec<BatchOp>,
    ) -> Result<Vec<BatchReply>> {
        let before = queued.ops.len();
        let mut all = std::mem::take(&mut queued.ops);
        all.extend(ops);
        let mut replies = self.store.write_batch(all).await?;
        if replies.len() < before {
            return Err(Error::new(
                ErrorKind::Unexpected,
                "the store answered fewer batch steps than it was given",
            ));
        }
        Ok(replies.split_off(before))
    }

    /// Claims `request` after writing what is queued (one transaction).
    async fn claim_through(
        &self,
        queued: &mut WriteBehind,
        request: ClaimRequest,
    ) -> Result<Claim> {
        match self
            .write_through(queued, vec![BatchOp::Claim(request)])
            .await?
            .pop()
        {
            Some(BatchReply::Claim(c)) => Ok(c),
            _ => Err(Error::new(
                ErrorKind::Unexpected,
                "the store did not answer the claim",
            )),
        }
    }

    /// Handles one order event (from a page, a webhook or a work queue). Infrastructure
    /// failures (the store) are `Err`; everything about the record itself is an
    /// [`EventOutcome`].
    pub async fn process_order(
        &self,
        stream: &StreamKey,
        order: Order,
        raw: Option<&RawRecord>,
    ) -> Result<EventOutcome> {
        if let Some(r) = raw {
            self.store
                .archive_raw(std::slice::from_ref(r), self.clock.now())
                .await?;
        }
        self.handle_order(stream, order, raw, None, Mode::Sync)
            .await
    }

    pub(crate) fn claim_request(&self, key: &IdempotencyKey, scope: &str) -> ClaimRequest {
        ClaimRequest {
            key: key.clone(),
            scope: scope.into(),
            owner: self.config.worker_id.clone(),
            now: self.clock.now(),
            lease: self.config.lease,
        }
    }

    async fn handle_order(
        &self,
        stream: &StreamKey,
        order: Order,
        raw: Option<&RawRecord>,
        window: Option<TimeWindow>,
        mode: Mode,
    ) -> Result<EventOutcome> {
        let mut queued = WriteBehind::default();
        match self
            .handle_order_in(stream, order, raw, window, mode, &mut queued)
            .await
        {
            Ok(o) => {
                self.flush(&mut queued).await?;
                Ok(o)
            }
            Err(e) => {
                self.flush_after_error(&mut queued).await;
                Err(e)
            }
        }
    }

    /// Handles one order event, queueing its outcome writes in `queued` (written with the next
    /// claim, or by the caller).
    async fn handle_order_in(
        &self,
        stream: &StreamKey,
        order: Order,
        raw: Option<&RawRecord>,
        window: Option<TimeWindow>,
        mode: Mode,
        queued: &mut WriteBehind,
    ) -> Result<EventOutcome> {
        let env = Envelope::order(order, self.clock.now());
        let ev = env.idempotency_key.clone();
        let rec = RecordKey {
            channel: env.channel.clone(),
            shop: env.shop.clone(),
            kind: EventKind::Order,
            external_id: env.external_id.clone(),
        };
        // One transaction: what earlier events queued, this event's claim, its record's head
        // and — when the page knows the head — the claims of the documents planned from it.
        let req = self.claim_request(&ev, "order_event");
        let plan = match queued.heads.get(&rec) {
            Some(planned) => self.plan_order(&env, planned.as_ref()).ok().map(|steps| {
                let docs = steps
                    .iter()
                    .map(|(_, d)| self.claim_request(&d.key, d.role))
                    .collect();
                (
                    steps,
                    planned
                        .as_ref()
                        .map(|h| (h.event_key.clone(), h.updated_at)),
                    docs,
                )
            }),
            None => None,
        };
        let (claim, mut head, mut pre_claimed) = match plan {
            Some((steps, planned_head, documents)) => {
                let reply = self
                    .write_through(
                        queued,
                        vec![BatchOp::ClaimEvent(Box::new(EventClaim {
                            event: req.clone(),
                            record: rec.clone(),
                            planned_head,
                            documents,
                        }))],
                    )
                    .await?
                    .pop();
                let Some(BatchReply::Event(e)) = reply else {
                    return Err(Error::new(
                        ErrorKind::Unexpected,
                        "the store did not answer the event claim",
                    ));
                };
                let e = *e;
                (e.claim, e.head, e.documents.map(|d| (steps, d)))
            }
            None => {
                let mut replies = self
                    .write_through(
                        queued,
                        vec![BatchOp::Claim(req.clone()), BatchOp::Head(rec.clone())],
                    )
                    .await?
                    .into_iter();
                let (Some(BatchReply::Claim(claim)), Some(BatchReply::Head(head))) =
                    (replies.next(), replies.next())
                else {
                    return Err(Error::new(
                        ErrorKind::Unexpected,
                        "the store did not answer the claim and head read",
                    ));
                };
                (claim, head, None)
            }
        };
        if let Claim::Existing(e) = claim {
            pre_claimed = None;
            match self.resume_event(&req, &e, mode).await? {
                Some(outcome) => return Ok(outcome),
                // Taken over: read the head again, after the take-over.
                None => head = self.store.head(&rec).await?,
            }
        }
        if let Some(h) = &head {
            let newer_done = h.event_key != ev
                && matches!(
                    h.revision.partial_cmp(&env.revision),
                    Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
                );
            if newer_done {
                queued.complete(
                    ev.clone(),
                    Outcome::Skipped("stale_revision".into()),
                    None,
                    self.clock.now(),
                );
                return Ok(EventOutcome::Stale);
            }
        }
        let prev: OrderState = match &head {
            Some(h) => serde_json::from_value(h.state.clone()).map_err(|e| {
                Error::new(ErrorKind::Unexpected, format!("unreadable head state: {e}"))
            })?,
            None => OrderState::default(),
        };
        let mut state = prev.clone();
        let mut posted: Vec<PostedDoc> = Vec::new();
        let mut amended = false;
        let result = match pre_claimed {
            Some((steps, claims)) => {
                self.post_planned(
                    &env,
                    steps,
                    claims,
                    &mut state,
                    &mut posted,
                    &mut amended,
                    queued,
                )
                .await
            }
            None => {
                self.post_order(&env, &prev, &mut state, &mut posted, &mut amended, queued)
                    .await
            }
        };
        let now = self.clock.now();
        let new_head = |state: &OrderState| -> Result<Head> {
            Ok(Head {
                record: rec.clone(),
                revision: env.revision.clone(),
                event_key: ev.clone(),
                state: serde_json::to_value(state)
                    .map_err(|e| Error::new(ErrorKind::Unexpected, e.to_string()))?,
                updated_at: now,
            })
        };
        match result {
            Ok(()) => {
                queued
                    .ops
                    .push(BatchOp::SaveSnapshot(Box::new(self.order_snapshot(&env)?)));
                let outcome = match posted.last() {
                    Some(doc) => Outcome::Posted(doc.id.clone()),
                    None => Outcome::Skipped("no_accounting_effect".into()),
                };
                queued.complete(ev.clone(), outcome, Some(new_head(&state)?), now);
                if let Some(source) = &self.atp {
                    // Reservations by ERP item (a line the mapper cannot resolve reserves
                    // under its own SKU).
                    let items = self.mapper.resolve_items(&env.payload).unwrap_or_default();
                    source
                        .atp
                        .lock()
                        .await
                        .on_order_resolved(&env.payload, &items);
                }
                Ok(if posted.is_empty() {
                    EventOutcome::NoEffect
                } else {
                    EventOutcome::Posted {
                        documents: posted.len(),
                        created: PostedDoc::created(&posted),
                        amended,
                    }
                })
            }
            Err(Fail::Infra(e)) => Err(e),
            Err(Fail::Record(e)) => {
                // Exceptions are rare: write what is queued first, then the exception row.
                self.flush(queued).await?;
                let reason = e.reason();
                let x = self
                    .store
                    .record_exception(&NewException {
                        stream: stream.clone(),
                        kind: EventKind::Order,
                        external_id: Some(env.external_id.clone()),
                        event_key: Some(ev.clone()),
                        reason: reason.clone(),
                        message: format!("{}: {}", e.kind().name(), e.message()),
                        raw: raw.cloned(),
                        canonical: serde_json::to_value(&env.payload).ok(),
                        window,
                        now,
                    })
                    .await?;
                // Documents posted before the failure stay in the head, so a later revision
                // compensates what was really booked.
                let head = if posted.is_empty() {
                    None
                } else {
                    Some(new_head(&state)?)
                };
                queued.complete(
                    ev.clone(),
                    Outcome::Failed(reason.as_str().into_owned()),
                    head,
                    now,
                );
                tracing::warn!(
                    stream = %stream, exception = x.id, reason = %reason,
                    kind = e.kind().name(), "order sent to the exception queue"
                );
                Ok(EventOutcome::Exception(x.id))
            }
        }
    }

    /// The documents an order event posts given the head it was planned from, in posting
    /// order — exactly those [`Engine::post_order`] would post. `Err` when planning fails (the
    /// event then takes the one-document-at-a-time path, which reports the failure where it
    /// always has).
    fn plan_order(
        &self,
        env: &Envelope<Order>,
        head: Option<&Head>,
    ) -> std::result::Result<Vec<(Step, Doc)>, Fail> {
        let order = &env.payload;
        if let Some(h) = head {
            let newer_done = h.event_key != env.idempotency_key
                && matches!(
                    h.revision.partial_cmp(&env.revision),
                    Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
                );
            if newer_done {
                return Ok(Vec::new());
            }
        }
        let prev: OrderState = match head {
            Some(h) => serde_json::from_value(h.state.clone()).map_err(|e| {
                Fail::Infra(Error::new(
                    ErrorKind::Unexpected,
                    format!("unreadable head state: {e}"),
                ))
            })?,
            None => OrderState::default(),
        };
        let new_accrual = if order.status.is_paid() {
            let j = self
                .mapper
                .order_accrual(order, &self.ctx)
                .map_err(Fail::Record)?;
            j.validate().map_err(|e| Fail::Record(e.into()))?;
            Some(j)
        } else {
            None
        };
        let mut steps = Vec::new();
        if order.status.is_paid() && prev.sales_order.is_none() {
            let key = sales_order_key(order);
            let doc = Doc {
                role: "sales_order",
                request: DocRequest::SalesOrder(Box::new(
                    SalesOrderRequest::new(key.clone(), order.clone())
                        .with_items(self.mapper.resolve_items(order).map_err(Fail::Record)?),
                )),
                key,
            };
            steps.push((Step::SalesOrder, doc));
        }
        if prev.accrual == new_accrual {
            return Ok(steps);
        }
        if let Some(old) = &prev.accrual {
            let rev = self.reversal_at(old, order.updated_at)?;
            let key = env.idempotency_key.child("reversal");
            steps.push((Step::Reversal, journal_doc("reversal", key, rev)?));
        }
        if let Some(new) = new_accrual {
            let key = env.idempotency_key.child("accrual");
            let doc = journal_doc("accrual", key, new.clone())?;
            steps.push((Step::Accrual(Box::new(new)), doc));
        }
        Ok(steps)
    }

    /// Posts planned documents whose claims were written with the event's. When one fails,
    /// the later ones this event claimed but never sent are ended `failed` too (a replay takes
    /// them over, looking each up first).
    #[allow(clippy::too_many_arguments)]
    async fn post_planned(
        &self,
        env: &Envelope<Order>,
        steps: Vec<(Step, Doc)>,
        claims: Vec<Claim>,
        state: &mut OrderState,
        posted: &mut Vec<PostedDoc>,
        amended: &mut bool,
        queued: &mut WriteBehind,
    ) -> std::result::Result<(), Fail> {
        if claims.len() != steps.len() {
            return Err(Fail::Infra(Error::new(
                ErrorKind::Unexpected,
                "the store answered fewer document claims than it was given",
            )));
        }
        let src = Source::of_order(env);
        let mut planned = steps.into_iter().zip(claims).enumerate().peekable();
        while let Some((_, ((step, doc), claim))) = planned.next() {
            match self.post_claimed(&doc, &src, claim, queued).await {
                Ok(done) => {
                    match step {
                        Step::SalesOrder => state.sales_order = Some(done.id.clone()),
                        Step::Reversal => {
                            state.accrual = None;
                            *amended = true;
                        }
                        Step::Accrual(j) => state.accrual = Some(*j),
                    }
                    posted.push(done);
                }
                Err(Fail::Record(e)) => {
                    for (_, ((_, later), claim)) in planned.by_ref() {
                        if matches!(claim, Claim::Acquired(_)) {
                            queued.ops.push(BatchOp::Finish {
                                key: later.key.clone(),
                                outcome: Outcome::Failed("earlier_document_failed".into()),
                                lineage: None,
                                now: self.clock.now(),
                            });
                        }
                    }
                    return Err(Fail::Record(e));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn post_order(
        &self,
        env: &Envelope<Order>,
        prev: &OrderState,
        state: &mut OrderState,
        posted: &mut Vec<PostedDoc>,
        amended: &mut bool,
        queued: &mut WriteBehind,
    ) -> std::result::Result<(), Fail> {
        let order = &env.payload;
        let src = Source::of_order(env);
        let new_accrual = if order.status.is_paid() {
            let j = self
                .mapper
                .order_accrual(order, &self.ctx)
                .map_err(Fail::Record)?;
            j.validate().map_err(|e| Fail::Record(e.into()))?;
            Some(j)
        } else {
            None
        };
        if order.status.is_paid() && prev.sales_order.is_none() {
            let key = sales_order_key(order);
            let doc = Doc {
                role: "sales_order",
                request: DocRequest::SalesOrder(Box::new(
                    SalesOrderRequest::new(key.clone(), order.clone())
                        .with_items(self.mapper.resolve_items(order).map_err(Fail::Record)?),
                )),
                key,
            };
            let done = self.post_document_in(&doc, &src, queued).await?;
            state.sales_order = Some(done.id.clone());
            posted.push(done);
        }
        if prev.accrual == new_accrual {
            return Ok(());
        }
        if let Some(old) = &prev.accrual {
            let rev = self.reversal_at(old, order.updated_at)?;
            let key = env.idempotency_key.child("reversal");
            let doc = journal_doc("reversal", key, rev)?;
            let id = self.post_document_in(&doc, &src, queued).await?;
            state.accrual = None;
            *amended = true;
            posted.push(id);
        }
        if let Some(new) = new_accrual {
            let key = env.idempotency_key.child("accrual");
            let doc = journal_doc("accrual", key, new.clone())?;
            let id = self.post_document_in(&doc, &src, queued).await?;
            state.accrual = Some(new);
            posted.push(id);
        }
        Ok(())
    }

    /// Queues a record that failed to normalize, with its raw payload, for replay.
    pub(crate) async fn record_unreadable(
        &self,
        stream: &StreamKey,
        kind: EventKind,
        external_id: Option<String>,
        error: &Error,
        raw: RawRecord,
        window: TimeWindow,
    ) -> Result<crate::store::ExceptionRecord> {
        self.store
            .record_exception(&NewException {
                stream: stream.clone(),
                kind,
                external_id,
                event_key: None,
                reason: error.reason(),
                message: error.message().to_owned(),
                raw: Some(raw),
                canonical: None,
                window: Some(window),
                now: self.clock.now(),
            })
            .await
    }

    /// The validated reversal of a booked journal, dated on the business date of `at` (so a
    /// closed period is never touched).
    pub(crate) fn reversal_at(
        &self,
        booked: &JournalEntry,
        at: DateTime<Utc>,
    ) -> std::result::Result<JournalEntry, Fail> {
        let date = self
            .mapper
            .business_date(at, &self.ctx)
            .map_err(Fail::Record)?;
        let rev = reversal_of(booked, date);
        rev.validate().map_err(|e| Fail::Record(e.into()))?;
        Ok(rev)
    }

    /// Posts one journal exactly once under `key` (see [`Engine::post_document`]), validating
    /// it first.
    pub(crate) async fn post_journal_doc(
        &self,
        role: &'static str,
        key: IdempotencyKey,
        entry: JournalEntry,
        src: &Source,
    ) -> std::result::Result<PostedDoc, Fail> {
        let doc = journal_doc(role, key, entry)?;
        self.post_document(&doc, src).await
    }

    /// Posts one document exactly once: claim its key, resume (look up first) if a previous
    /// attempt left it pending or failed, retry temporary errors, and never re-send a write
    /// whose outcome is unknown without looking it up. Its outcome is written before this
    /// returns.
    pub(crate) async fn post_document(
        &self,
        doc: &Doc,
        src: &Source,
    ) -> std::result::Result<PostedDoc, Fail> {
        let mut queued = WriteBehind::default();
        let result = self.post_document_in(doc, src, &mut queued).await;
        match self.flush(&mut queued).await {
            Ok(()) => result,
            Err(e) => Err(Fail::Infra(e)),
        }
    }

    /// [`Engine::post_document`], with the outcome queued in `queued` (written with the next
    /// claim, or by the caller) instead of written at once.
    pub(crate) async fn post_document_in(
        &self,
        doc: &Doc,
        src: &Source,
        queued: &mut WriteBehind,
    ) -> std::result::Result<PostedDoc, Fail> {
        let req = self.claim_request(&doc.key, doc.role);
        // The claim must be durable before the ERP sees the request: it is written now,
        // in one transaction with what earlier documents and events queued.
        let claim = self.claim_through(queued, req).await.map_err(Fail::Infra)?;
        self.post_claimed(doc, src, claim, queued).await
    }

    /// Posts a document whose key was claimed (`claim` is the answer), as
    /// [`Engine::post_document`] does after its claim.
    async fn post_claimed(
        &self,
        doc: &Doc,
        src: &Source,
        claim: Claim,
        queued: &mut WriteBehind,
    ) -> std::result::Result<PostedDoc, Fail> {
        let req = self.claim_request(&doc.key, doc.role);
        let mut look_up_first = false;
        match claim {
            Claim::Acquired(_) => {}
            Claim::Existing(e) => match e.state {
                LedgerState::Posted | LedgerState::Skipped => {
                    return e.erp_document.map(PostedDoc::existing).ok_or_else(|| {
                        Fail::Infra(Error::new(
                            ErrorKind::Unexpected,
                            "ledger entry posted without a document id",
                        ))
                    });
                }
                LedgerState::Pending | LedgerState::Failed => {
                    if self
                        .store
                        .take_over(&req)
                        .await
                        .map_err(Fail::Infra)?
                        .is_none()
                    {
                        return Err(Fail::Infra(
                            Error::new(
                                ErrorKind::Unavailable,
                                "another worker is posting this document",
                            )
                            .with_context("key", &doc.key),
                        ));
                    }
                    look_up_first = true;
                }
            },
        }
        let mut attempts = self.config.retry.start(self.clock.now(), &self.rng);
        loop {
            if look_up_first {
                if let Some(id) = self.look_up(doc).await? {
                    self.finish_posted(doc, src, &id, queued);
                    return Ok(PostedDoc::existing(id));
                }
            }
            let result = match &doc.request {
                DocRequest::SalesOrder(r) => self.erp.upsert_sales_order(r).await,
                DocRequest::Journal(r) => self.erp.post_journal(r).await,
                DocRequest::Refund(r) => self.erp.record_refund(r).await,
            };
            let e = match result {
                Ok(r) => {
                    self.finish_posted(doc, src, &r.id, queued);
                    return Ok(PostedDoc {
                        id: r.id,
                        created: r.created,
                    });
                }
                Err(e) => e,
            };
            // The outcome of a timed-out (or 5xx) write is unknown: look before re-sending.
            let unknown = matches!(
                e.kind(),
                ErrorKind::Timeout | ErrorKind::Unavailable | ErrorKind::Conflict
            );
            if *e.kind() == ErrorKind::Conflict {
                if let Some(id) = self.look_up(doc).await? {
                    self.finish_posted(doc, src, &id, queued);
                    return Ok(PostedDoc::existing(id));
                }
            }
            match attempts.failed(&e, self.clock.now()) {
                Decision::RetryAfter(d) => {
                    tracing::debug!(
                        role = doc.role,
                        kind = e.kind().name(),
                        wait_ms = d.as_millis() as u64,
                        "ERP write failed; retrying"
                    );
                    self.sleeper.sleep(d).await;
                    look_up_first = unknown;
                }
                Decision::GiveUp => {
                    if unknown && *e.kind() != ErrorKind::Conflict {
                        if let Some(id) = self.look_up(doc).await? {
                            self.finish_posted(doc, src, &id, queued);
                            return Ok(PostedDoc::existing(id));
                        }
                    }
                    let e = e.persist();
                    queued.ops.push(BatchOp::Finish {
                        key: doc.key.clone(),
                        outcome: Outcome::Failed(e.reason().as_str().into_owned()),
                        lineage: None,
                        now: self.clock.now(),
                    });
                    return Err(Fail::Record(e));
                }
            }
        }
    }

    async fn look_up(&self, doc: &Doc) -> std::result::Result<Option<ErpDocumentId>, Fail> {
        match self
            .with_retry("find_by_idempotency_key", || {
                self.erp.find_by_idempotency_key(&doc.key)
            })
            .await
        {
            Ok(found) => Ok(found.map(|r| r.id)),
            Err(e) if e.is_temporary() || e.retry() == marketsync_core::Retry::Persistent => {
                Err(Fail::Infra(e))
            }
            Err(e) => Err(Fail::Record(e)),
        }
    }

    fn finish_posted(&self, doc: &Doc, src: &Source, id: &ErpDocumentId, queued: &mut WriteBehind) {
        let (erp_kind, rulebook_version) = match doc.request {
            DocRequest::SalesOrder(_) => (ErpDocumentKind::SalesOrder, None),
            DocRequest::Refund(_) => (ErpDocumentKind::Refund, None),
            DocRequest::Journal(_) => (
                ErpDocumentKind::JournalEntry,
                Some(self.mapper.rulebook().version.clone()),
            ),
        };
        let lineage = Lineage {
            document_key: doc.key.clone(),
            event_key: src.event_key.clone(),
            record: src.record.clone(),
            revision: src.revision.clone(),
            content_hash: src.content_hash.clone(),
            role: doc.role.into(),
            erp_document: id.clone(),
            erp_kind: kind_name(&erp_kind),
            rulebook_version,
            settlement_id: src.settlement_id.clone(),
            settlement_line: None,
            payout_id: if doc.role == "payout" {
                src.payout_id.clone()
            } else {
                None
            },
            at: self.clock.now(),
        };
        queued.ops.push(BatchOp::Finish {
            key: doc.key.clone(),
            outcome: Outcome::Posted(id.clone()),
            lineage: Some(Box::new(lineage)),
            now: self.clock.now(),
        });
    }

    pub(crate) async fn with_retry<T, F, Fut>(&self, op: &'static str, mut f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempts = self.config.retry.start(self.clock.now(), &self.rng);
        loop {
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) => match attempts.failed(&e, self.clock.now()) {
                    Decision::RetryAfter(d) => {
                        tracing::debug!(
                            op,
                            kind = e.kind().name(),
                            wait_ms = d.as_millis() as u64,
                            "call failed; retrying"
                        );
                        self.sleeper.sleep(d).await;
                    }
                    Decision::GiveUp => return Err(e.persist().with_context("operation", op)),
                },
            }
        }
    }

    // ---- replay ----

    /// Re-runs one open exception after a fix. A record that normalized is re-mapped from its
    /// stored canonical form; a malformed one is fetched again from `connector` (by id, in the
    /// window it was seen in). Audited; replaying a closed exception does nothing.
    pub async fn replay_exception(
        &self,
        id: i64,
        actor: &str,
        connector: Option<&dyn MarketplaceConnector>,
    ) -> Result<ReplayResult> {
        let x = self.store.exception(id).await?.ok_or_else(|| {
            Error::new(ErrorKind::NotFound, "no such exception").with_context("exception", id)
        })?;
        let result = if x.status != ExceptionStatus::Open {
            ReplayResult::NotOpen(x.status)
        } else if let Some(r) = self.replay_flow_exception(&x, connector).await? {
            r
        } else if x.kind == EventKind::Settlement {
            self.replay_settlement_exception(&x).await?
        } else if let Some(canonical) = &x.canonical {
            let order: Order = serde_json::from_value(canonical.clone()).map_err(|e| {
                Error::new(
                    ErrorKind::Unexpected,
                    format!("unreadable canonical record: {e}"),
                )
            })?;
            let raw = match &x.content_hash {
                Some(h) => self.store.raw(h).await?,
                None => None,
            };
            ReplayResult::Ran(
                self.handle_order(&x.stream, order, raw.as_ref(), x.window, Mode::Replay)
                    .await?,
            )
        } else {
            match (connector, &x.external_id, x.window) {
                (Some(c), Some(ext), Some(window)) => {
                    self.refetch_one(c, &x.stream, ext, window).await?
                }
                _ => ReplayResult::NotFound,
            }
        };
        let succeeded = matches!(
            result,
            ReplayResult::Ran(
                EventOutcome::Posted { .. }
                    | EventOutcome::NoEffect
                    | EventOutcome::Duplicate
                    | EventOutcome::Stale
            )
        );
        if succeeded {
            self.store
                .set_exception_status(id, ExceptionStatus::Replayed, self.clock.now())
                .await?;
        }
        self.store
            .append_audit(&NewAudit {
                at: self.clock.now(),
                actor: actor.into(),
                action: "replay_exception".into(),
                subject: format!("exception:{id}"),
                detail: serde_json::json!({
                    "reason": x.reason.as_str(),
                    "result": format!("{result:?}"),
                    "replayed": succeeded,
                    "worker": self.config.worker_id,
                }),
            })
            .await?;
        Ok(result)
    }

    async fn refetch_one(
        &self,
        connector: &dyn MarketplaceConnector,
        stream: &StreamKey,
        external_id: &str,
        window: TimeWindow,
    ) -> Result<ReplayResult> {
        let mut query = FetchQuery::new(window).with_page_size(self.config.page_size);
        query.ids = vec![marketsync_core::OrderId::new(external_id)];
        loop {
            let page = self
                .with_retry("fetch_orders", || connector.fetch_orders(&query))
                .await?;
            let next = page.next_cursor.clone();
            for item in page.items {
                if item.external_id.as_deref() != Some(external_id) {
                    continue;
                }
                self.store
                    .archive_raw(std::slice::from_ref(&item.raw), self.clock.now())
                    .await?;
                return Ok(match item.outcome {
                    Ok(order) => ReplayResult::Ran(
                        self.handle_order(
                            stream,
                            order,
                            Some(&item.raw),
                            Some(window),
                            Mode::Replay,
                        )
                        .await?,
                    ),
                    Err(e) => {
                        let x = self
                            .record_unreadable(
                                stream,
                                EventKind::Order,
                                item.external_id,
                                &e,
                                item.raw,
                                window,
                            )
                            .await?;
                        ReplayResult::Ran(EventOutcome::Exception(x.id))
                    }
                });
            }
            match next {
                Some(c) => query = query.with_cursor(Some(c)),
                None => return Ok(ReplayResult::NotFound),
            }
        }
    }

    /// Re-runs every order of a connector updated inside `window` (after a rule fix). Events
    /// already posted stay as they are (replays are idempotent); failed ones are retried. The
    /// stream's cursor is not touched. Audited, with the counts.
    pub async fn replay_range(
        &self,
        connector: &dyn MarketplaceConnector,
        window: TimeWindow,
        actor: &str,
    ) -> Result<SyncReport> {
        let stream = StreamKey::new(connector.channel(), connector.shop(), "orders");
        let mut report = SyncReport::default();
        let mut query = FetchQuery::new(window).with_page_size(self.config.page_size);
        loop {
            let page = self
                .with_retry("fetch_orders", || connector.fetch_orders(&query))
                .await?;
            let next = page.next_cursor.clone();
            self.handle_page(&stream, window, page, Mode::Replay, &mut report)
                .await?;
            match next {
                Some(c) => query = query.with_cursor(Some(c)),
                None => break,
            }
        }
        self.store
            .append_audit(&NewAudit {
                at: self.clock.now(),
                actor: actor.into(),
                action: "replay_range".into(),
                subject: format!(
                    "{stream} [{}, {})",
                    window.start.to_rfc3339(),
                    window.end.to_rfc3339()
                ),
                detail: serde_json::json!({
                    "fetched": report.fetched,
                    "posted": report.posted,
                    "created": report.created,
                    "already_existed": report.already_existed,
                    "duplicates": report.duplicates,
                    "exceptions": report.exceptions,
                    "worker": self.config.worker_id,
                }),
            })
            .await?;
        Ok(report)
    }
}

/// The cursor after a page of `window`: continue with `next`, or close the window.
pub(crate) fn advanced(
    state: &CursorState,
    window: TimeWindow,
    next: Option<marketsync_core::Cursor>,
) -> CursorState {
    match next {
        Some(c) => CursorState {
            watermark: state.watermark,
            window: Some(window),
            page: Some(c),
        },
        None => CursorState {
            watermark: Some(state.watermark.map_or(window.end, |w| w.max(window.end))),
            window: None,
            page: None,
        },
    }
}

fn kind_name(k: &ErpDocumentKind) -> String {
    match k {
        ErpDocumentKind::SalesOrder => "sales_order".into(),
        ErpDocumentKind::JournalEntry => "journal_entry".into(),
        ErpDocumentKind::Fulfilment => "fulfilment".into(),
        ErpDocumentKind::Refund => "refund".into(),
        ErpDocumentKind::Other(s) => s.clone(),
        _ => "other".into(),
    }
}
