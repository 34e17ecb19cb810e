//! The durable state of the pipeline: the [`Store`] trait, its record types, and the backends.
//!
//! | what | table | key | written |
//! |---|---|---|---|
//! | cursors / watermarks | `ms_cursor` | (channel, shop, stream) | after each page is durably handled |
//! | raw payload archive | `ms_raw` | content hash (dedup) | before a page is processed |
//! | idempotency ledger | `ms_ledger` | idempotency key (unique) | claim → posted / failed / skipped |
//! | record heads | `ms_head` | (channel, shop, kind, external id) | when an event is completed |
//! | lineage | `ms_lineage` | document key (unique) | with the ledger entry it belongs to |
//! | audit log | `ms_audit` | sequence (append-only) | replays, resolutions, operator actions |
//! | exception queue | `ms_exception` | fingerprint (unique) | when a record cannot be posted |
//! | record snapshots | `ms_snapshot` | (channel, shop, kind, external id); indexed by parent | when an event is handled (canonical form, no personal data) |
//! | webhook deliveries | `ms_delivery` | delivery key (unique), with an expiry | when a webhook delivery was processed |
//!
//! **Personal data.** The raw archive is the one table that keeps a record as the platform sent
//! it (replay re-reads it); [`Store::purge_raw`] deletes what is older than the retention
//! ([`RawRetention`]). Exception rows and snapshots keep the canonical record with every clear
//! [`marketsync_core::Pii`] value masked ([`redact_pii`], applied by both backends when they
//! write, so no caller can forget it).
//!
//! Both backends answer the same way: a second claim of an idempotency key — whether it loses a
//! race on the unique constraint or comes later — is [`Claim::Existing`] with the entry that won.
//! The shared [`conformance`] suite proves it, on SQLite (in memory and on disk) and PostgreSQL.
//!
//! **Batches.** [`Store::write_batch`] runs a list of [`BatchOp`]s — claims, outcomes with their
//! lineage, event completions with heads, snapshots, cursors, raw payloads, head reads — in
//! order, in one transaction on both built-in backends (prepared statements; PostgreSQL writes a
//! page of raw payloads as one multi-row statement). The engine uses it to write everything an
//! order event records together with the next claim, so an order costs one transaction instead
//! of six. A store written before batches existed inherits a default that runs the steps one
//! by one through its other methods; [`conformance::run_batches`] checks either kind.

// Without a backend feature the shared helpers below have no user.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use marketsync_core::delivery::DeliveryLog;
use marketsync_core::{
    Channel, ContentHash, Cursor, ErpDocumentId, Error, ErrorKind, EventKind, IdempotencyKey,
    RawRecord, ReasonCode, Result, Revision, ShopId, TimeWindow,
};
use serde::{Deserialize, Serialize};

pub mod conformance;
mod migrations;
#[cfg(feature = "postgres")]
pub mod postgres;
mod redact;
mod rows;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use migrations::{Migration, SCHEMA_VERSION};
pub use redact::redact_pii;

/// One incremental stream of one shop: `(channel, shop, "orders")`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    /// The channel.
    pub channel: Channel,
    /// The shop.
    pub shop: ShopId,
    /// The stream name (`"orders"`, `"returns"`, `"settlements"`).
    pub stream: String,
}

impl StreamKey {
    /// A stream key.
    pub fn new(channel: Channel, shop: ShopId, stream: impl Into<String>) -> StreamKey {
        StreamKey {
            channel,
            shop,
            stream: stream.into(),
        }
    }
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.channel, self.shop, self.stream)
    }
}

/// Where a stream stands.
///
/// `watermark` is the end of the last window fully handled; the next window starts at
/// `watermark − overlap` (the engine's overlap window re-reads late-indexed updates; the ledger
/// drops what was already posted). While a window is being paged, `window` and `page` say where
/// to continue after a restart.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CursorState {
    /// End of the last completed window.
    pub watermark: Option<DateTime<Utc>>,
    /// The window being paged, if any.
    pub window: Option<TimeWindow>,
    /// The connector's cursor for the next page of `window`.
    pub page: Option<Cursor>,
}

/// The state of an idempotency ledger entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerState {
    /// Claimed; the outcome is not recorded yet (in flight, or its worker stopped).
    Pending,
    /// The ERP holds the document.
    Posted,
    /// It failed; the exception queue says why. A replay may take it over.
    Failed,
    /// Nothing to post (a stale revision, no accounting effect).
    Skipped,
}

impl LedgerState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerState::Pending => "pending",
            LedgerState::Posted => "posted",
            LedgerState::Failed => "failed",
            LedgerState::Skipped => "skipped",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<LedgerState> {
        Ok(match s {
            "pending" => LedgerState::Pending,
            "posted" => LedgerState::Posted,
            "failed" => LedgerState::Failed,
            "skipped" => LedgerState::Skipped,
            other => return Err(corrupt(format!("unknown ledger state {other:?}"))),
        })
    }
}

/// One idempotency ledger entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The key.
    pub key: IdempotencyKey,
    /// What the key stands for (`"order_event"`, `"sales_order"`, `"accrual"`, `"reversal"`).
    pub scope: String,
    /// The state.
    pub state: LedgerState,
    /// The worker holding (or that last held) the claim.
    pub owner: String,
    /// Until when the claim is held; another worker may take over a pending claim after this.
    pub lease_until: DateTime<Utc>,
    /// Claims and take-overs so far.
    pub attempts: u32,
    /// The ERP document, once posted.
    pub erp_document: Option<ErpDocumentId>,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// When it was first claimed.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A claim request: "I am about to post the document for this key".
#[derive(Clone, Debug)]
pub struct ClaimRequest {
    /// The key.
    pub key: IdempotencyKey,
    /// What the key stands for.
    pub scope: String,
    /// The worker.
    pub owner: String,
    /// Now (from the injected clock).
    pub now: DateTime<Utc>,
    /// How long the claim is held.
    pub lease: Duration,
}

impl ClaimRequest {
    pub(crate) fn lease_until(&self) -> DateTime<Utc> {
        lease_until(self.now, self.lease)
    }
}

pub(crate) fn lease_until(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The answer to a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key was new: the caller owns it.
    Acquired(LedgerEntry),
    /// The key was already there ("already processed" or in flight): the existing entry.
    Existing(LedgerEntry),
}

/// How a ledger entry ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The ERP holds the document.
    Posted(ErpDocumentId),
    /// It failed, with the reason code.
    Failed(String),
    /// Nothing to post, and why.
    Skipped(String),
}

impl Outcome {
    fn parts(&self) -> (LedgerState, Option<&str>, Option<&str>) {
        match self {
            Outcome::Posted(id) => (LedgerState::Posted, Some(id.as_str()), None),
            Outcome::Failed(r) => (LedgerState::Failed, None, Some(r.as_str())),
            Outcome::Skipped(r) => (LedgerState::Skipped, None, Some(r.as_str())),
        }
    }
}

/// A source record's identity, across its revisions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey {
    /// The channel.
    pub channel: Channel,
    /// The shop.
    pub shop: ShopId,
    /// The event kind.
    pub kind: EventKind,
    /// The record's id at the source.
    pub external_id: String,
}

/// The latest revision of a record the pipeline completed, and what it posted for it (engine
/// state, e.g. the accrual journal an amendment must reverse). Never holds personal data.
#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    /// The record.
    pub record: RecordKey,
    /// Its latest completed revision.
    pub revision: Revision,
    /// The event key of that revision.
    pub event_key: IdempotencyKey,
    /// Engine state for the record.
    pub state: serde_json::Value,
    /// When it was written.
    pub updated_at: DateTime<Utc>,
}

/// The canonical form of a record's latest handled revision, with the record it belongs to
/// (a refund's order). The engine keeps orders here so a refund can be booked against the
/// order it refunds, and refunds so a settlement can clear what they reversed.
///
/// Never holds clear personal data: the engine strips buyer and address before saving, and the
/// store masks any [`marketsync_core::Pii`] value left in the body ([`redact_pii`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// The record.
    pub record: RecordKey,
    /// The revision the body is of.
    pub revision: Revision,
    /// The record it belongs to, if any (a refund's order).
    pub parent: Option<RecordKey>,
    /// The canonical record as JSON.
    pub body: serde_json::Value,
    /// When it was written.
    pub updated_at: DateTime<Utc>,
}

impl Snapshot {
    /// The body as the store keeps it: JSON text with personal data masked.
    pub(crate) fn stored_body(&self) -> String {
        json_text(&redact_pii(&self.body))
    }
}

/// How long the raw archive keeps payloads: [`Store::purge_raw`] deletes those first seen
/// before `now − retention`, except those an open exception points at (a replay may need
/// them). The archive is the one place that keeps personal data in clear; keep it as short as
/// the audit and replay needs allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawRetention {
    /// How long a payload is kept after it was first seen.
    pub keep: Duration,
}

impl RawRetention {
    /// Keeps payloads for `days` days.
    pub fn days(days: u32) -> RawRetention {
        RawRetention {
            keep: Duration::from_secs(u64::from(days) * 86_400),
        }
    }

    /// The first-seen time before which payloads are purged (the epoch floor when the
    /// retention reaches further back than time can).
    pub fn cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        chrono::Duration::from_std(self.keep)
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// One link of the lineage chain: marketplace record ↔ envelope ↔ ERP document ↔ settlement
/// line ↔ payout, with the rulebook version that produced the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lineage {
    /// The ERP document's idempotency key (unique).
    pub document_key: IdempotencyKey,
    /// The event key it was produced for.
    pub event_key: IdempotencyKey,
    /// The source record.
    pub record: RecordKey,
    /// Its revision.
    pub revision: Revision,
    /// Hash of the raw payload it came from.
    pub content_hash: Option<ContentHash>,
    /// What the document is for (`"sales_order"`, `"accrual"`, `"reversal"`).
    pub role: String,
    /// The ERP document.
    pub erp_document: ErpDocumentId,
    /// The ERP document kind (`"sales_order"`, `"journal_entry"`).
    pub erp_kind: String,
    /// The rulebook version that produced it, for journals.
    pub rulebook_version: Option<String>,
    /// The settlement it belongs to, when it comes from one.
    pub settlement_id: Option<String>,
    /// The settlement line index, when it comes from one.
    pub settlement_line: Option<u32>,
    /// The payout, when known.
    pub payout_id: Option<String>,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// What to look lineage up by.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineageQuery {
    /// Every document produced for a source record.
    Record(RecordKey),
    /// The chain that produced an ERP document.
    ErpDocument(ErpDocumentId),
    /// Every document for one event.
    Event(IdempotencyKey),
}

/// An entry of the append-only audit log.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Sequence number (assigned by the store, increasing).
    pub seq: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who: a user name, a worker id, `"engine"`.
    pub actor: String,
    /// What: `"replay_exception"`, `"replay_range"`, `"resolve_exception"`…
    pub action: String,
    /// What it was applied to (an exception id, a stream and window).
    pub subject: String,
    /// Details (counts, results). Never personal data.
    pub detail: serde_json::Value,
}

/// A new audit entry.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAudit {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: String,
    /// Details.
    pub detail: serde_json::Value,
}

/// The state of an exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionStatus {
    /// Waiting for a fix.
    Open,
    /// Closed by an operator or because a later revision posted.
    Resolved,
    /// Replayed successfully.
    Replayed,
}

impl ExceptionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionStatus::Open => "open",
            ExceptionStatus::Resolved => "resolved",
            ExceptionStatus::Replayed => "replayed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<ExceptionStatus> {
        Ok(match s {
            "open" => ExceptionStatus::Open,
            "resolved" => ExceptionStatus::Resolved,
            "replayed" => ExceptionStatus::Replayed,
            other => return Err(corrupt(format!("unknown exception status {other:?}"))),
        })
    }
}

/// A record the pipeline could not post.
#[derive(Clone, Debug, PartialEq)]
pub struct NewException {
    /// The stream it came from.
    pub stream: StreamKey,
    /// The event kind.
    pub kind: EventKind,
    /// The record's id, when it could be read.
    pub external_id: Option<String>,
    /// The event key, when the record normalized.
    pub event_key: Option<IdempotencyKey>,
    /// Why.
    pub reason: ReasonCode,
    /// A message for the operator (no personal data).
    pub message: String,
    /// The raw payload (archived by hash; the exception points at it).
    pub raw: Option<RawRecord>,
    /// The canonical record as JSON, when it normalized (so a replay can re-map it).
    pub canonical: Option<serde_json::Value>,
    /// The window the record was fetched in (a replay re-fetches it there).
    pub window: Option<TimeWindow>,
    /// Now.
    pub now: DateTime<Utc>,
}

impl NewException {
    /// The canonical record as the store keeps it: JSON text with personal data masked
    /// ([`redact_pii`]). Both backends write exception rows through this.
    pub(crate) fn stored_canonical(&self) -> Option<String> {
        self.canonical.as_ref().map(|c| json_text(&redact_pii(c)))
    }

    /// The dedup fingerprint: the same record failing again bumps `attempts` and `last_seen`
    /// instead of adding a row.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let hash = self
            .raw
            .as_ref()
            .map(|r| r.content_hash.as_str().to_owned());
        let key = self.event_key.as_ref().map(|k| k.as_str().to_owned());
        for part in [
            self.stream.channel.name(),
            self.stream.shop.as_str().to_owned(),
            self.kind.name().to_owned(),
            self.external_id.clone().unwrap_or_default(),
            key.unwrap_or_default(),
            hash.unwrap_or_default(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        let digest = h.finalize();
        let mut s = String::with_capacity(40);
        for b in digest.iter().take(20) {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

/// An exception queue entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ExceptionRecord {
    /// Id.
    pub id: i64,
    /// Dedup fingerprint.
    pub fingerprint: String,
    /// The stream.
    pub stream: StreamKey,
    /// The event kind.
    pub kind: EventKind,
    /// The record's id, if known.
    pub external_id: Option<String>,
    /// The event key, if the record normalized.
    pub event_key: Option<IdempotencyKey>,
    /// Why.
    pub reason: ReasonCode,
    /// Operator message.
    pub message: String,
    /// Hash of the archived raw payload.
    pub content_hash: Option<ContentHash>,
    /// The canonical record, when it normalized.
    pub canonical: Option<serde_json::Value>,
    /// The fetch window.
    pub window: Option<TimeWindow>,
    /// Times seen.
    pub attempts: u32,
    /// First seen.
    pub first_seen: DateTime<Utc>,
    /// Last seen.
    pub last_seen: DateTime<Utc>,
    /// Status.
    pub status: ExceptionStatus,
}

/// Which exceptions to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExceptionFilter {
    /// Only this status.
    pub status: Option<ExceptionStatus>,
    /// Only this reason.
    pub reason: Option<ReasonCode>,
    /// Only this channel.
    pub channel: Option<Channel>,
    /// Only this record.
    pub external_id: Option<String>,
    /// At most this many (default 1,000).
    pub limit: Option<u32>,
}

/// One step of a [`Store::write_batch`]: the same write (or read) as the [`Store`] method it
/// names, run inside the batch's one transaction.
///
/// The engine queues a page's ledger outcomes, lineage, heads and snapshots as `BatchOp`s and
/// writes them together with the next claim (the one write that must be durable before an ERP
/// call), so a page costs a handful of transactions instead of several per order.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum BatchOp {
    /// [`Store::archive_raw`]. Reply: [`BatchReply::Archived`].
    ArchiveRaw {
        /// The payloads.
        records: Vec<RawRecord>,
        /// Now.
        now: DateTime<Utc>,
    },
    /// [`Store::claim`]. Reply: [`BatchReply::Claim`] (a key already there is
    /// [`Claim::Existing`], never an error, and does not abort the batch).
    Claim(ClaimRequest),
    /// [`Store::finish`]. Reply: [`BatchReply::Done`].
    Finish {
        /// The key.
        key: IdempotencyKey,
        /// How it ended.
        outcome: Outcome,
        /// The lineage of the document it produced.
        lineage: Option<Box<Lineage>>,
        /// Now.
        now: DateTime<Utc>,
    },
    /// [`Store::complete_event`]. Reply: [`BatchReply::Done`].
    CompleteEvent {
        /// The event key.
        key: IdempotencyKey,
        /// How it ended.
        outcome: Outcome,
        /// The record's new head.
        head: Option<Box<Head>>,
        /// Now.
        now: DateTime<Utc>,
    },
    /// [`Store::save_snapshot`]. Reply: [`BatchReply::Done`].
    SaveSnapshot(Box<Snapshot>),
    /// [`Store::save_cursor`]. Reply: [`BatchReply::Done`].
    SaveCursor {
        /// The stream.
        stream: StreamKey,
        /// Where it stands.
        state: CursorState,
        /// Now.
        now: DateTime<Utc>,
    },
    /// [`Store::head`], read after the batch's earlier steps. Reply: [`BatchReply::Head`].
    Head(RecordKey),
    /// An event's claim, its record's head, and — only when the event was acquired and the
    /// head is the one the caller planned with — the claims of the documents the caller
    /// planned for it. Reply: [`BatchReply::Event`].
    ClaimEvent(Box<EventClaim>),
}

/// The claim of an event together with its planned documents ([`BatchOp::ClaimEvent`]).
///
/// The engine plans an order's documents from the record's head before it claims the event,
/// so the event and its documents are claimed in one transaction instead of one each. The
/// plan holds only if nothing completed the record in between: `planned_head` names the head
/// the plan was made from, and the documents are claimed only when the head read after the
/// event's claim is that one (the same event key and write time; `None`: no head).
#[derive(Clone, Debug)]
pub struct EventClaim {
    /// The event's claim.
    pub event: ClaimRequest,
    /// The event's record (its head is read after the claim).
    pub record: RecordKey,
    /// The head the plan was made from: its event key and write time.
    pub planned_head: Option<(IdempotencyKey, DateTime<Utc>)>,
    /// The documents' claims, in posting order.
    pub documents: Vec<ClaimRequest>,
}

impl EventClaim {
    /// Whether `head` is the one the plan was made from.
    pub fn plan_holds(&self, head: Option<&Head>) -> bool {
        match (&self.planned_head, head) {
            (None, None) => true,
            (Some((key, at)), Some(h)) => {
                // Stores keep microseconds.
                h.event_key == *key && h.updated_at.timestamp_micros() == at.timestamp_micros()
            }
            _ => false,
        }
    }
}

/// The answer to a [`BatchOp::ClaimEvent`].
#[derive(Clone, Debug, PartialEq)]
pub struct EventClaimed {
    /// The event's claim.
    pub claim: Claim,
    /// The record's head, read after the claim.
    pub head: Option<Head>,
    /// The documents' claims, in order; `None` when they were not claimed (the event was not
    /// acquired, or the head is not the planned one).
    pub documents: Option<Vec<Claim>>,
}

/// The answer to one [`BatchOp`], at the same position.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum BatchReply {
    /// A write with no answer.
    Done,
    /// How many raw payloads were new.
    Archived(usize),
    /// The answer to a claim.
    Claim(Claim),
    /// A head.
    Head(Option<Head>),
    /// An event claimed with its documents.
    Event(Box<EventClaimed>),
}

/// Runs a batch one step at a time through the store's own methods: the default of
/// [`Store::write_batch`] for stores that do not implement it (each step atomic, in order).
pub async fn write_batch_sequentially<S: Store + ?Sized>(
    store: &S,
    ops: Vec<BatchOp>,
) -> Result<Vec<BatchReply>> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        out.push(match op {
            BatchOp::ArchiveRaw { records, now } => {
                BatchReply::Archived(store.archive_raw(&records, now).await?)
            }
            BatchOp::Claim(req) => BatchReply::Claim(store.claim(&req).await?),
            BatchOp::Finish {
                key,
                outcome,
                lineage,
                now,
            } => {
                store
                    .finish(&key, &outcome, lineage.as_deref(), now)
                    .await?;
                BatchReply::Done
            }
            BatchOp::CompleteEvent {
                key,
                outcome,
                head,
                now,
            } => {
                store
                    .complete_event(&key, &outcome, head.as_deref(), now)
                    .await?;
                BatchReply::Done
            }
            BatchOp::SaveSnapshot(s) => {
                store.save_snapshot(&s).await?;
                BatchReply::Done
            }
            BatchOp::SaveCursor { stream, state, now } => {
                store.save_cursor(&stream, &state, now).await?;
                BatchReply::Done
            }
            BatchOp::Head(record) => BatchReply::Head(store.head(&record).await?),
            BatchOp::ClaimEvent(e) => {
                let claim = store.claim(&e.event).await?;
                let head = store.head(&e.record).await?;
                let documents =
                    if matches!(claim, Claim::Acquired(_)) && e.plan_holds(head.as_ref()) {
                        let mut out = Vec::with_capacity(e.documents.len());
                        for d in &e.documents {
                            out.push(store.claim(d).await?);
                        }
                        Some(out)
                    } else {
                        None
                    };
                BatchReply::Event(Box::new(EventClaimed {
                    claim,
                    head,
                    documents,
                }))
            }
        });
    }
    Ok(out)
}

/// The durable state of the pipeline. Object-safe: use it as `Arc<dyn Store>`.
///
/// Every write is atomic; the composite writes ([`Store::finish`], [`Store::complete_event`])
/// are one transaction each.
#[async_trait]
pub trait Store: Send + Sync {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// The schema version the store is migrated to.
    async fn schema_version(&self) -> Result<i64>;

    // --- cursors ---

    /// Where a stream stands.
    async fn cursor(&self, stream: &StreamKey) -> Result<Option<CursorState>>;

    /// Saves where a stream stands.
    async fn save_cursor(
        &self,
        stream: &StreamKey,
        state: &CursorState,
        now: DateTime<Utc>,
    ) -> Result<()>;

    // --- raw archive ---

    /// Archives raw payloads in one transaction; identical payloads are stored once. Returns
    /// how many were new.
    async fn archive_raw(&self, records: &[RawRecord], now: DateTime<Utc>) -> Result<usize>;

    /// An archived payload.
    async fn raw(&self, hash: &ContentHash) -> Result<Option<RawRecord>>;

    /// Deletes archived payloads first seen before `before`, except those an open exception
    /// points at (its replay may re-read them). Returns how many were deleted. The default
    /// answers `Unsupported`; both built-in backends implement it.
    async fn purge_raw(&self, before: DateTime<Utc>) -> Result<u64> {
        let _ = before;
        Err(Error::unsupported("purge_raw"))
    }

    // --- idempotency ledger ---

    /// Claims a key: [`Claim::Acquired`] when it is new, [`Claim::Existing`] otherwise — the
    /// backend's unique violation mapped to "already processed", never a check-then-insert.
    async fn claim(&self, request: &ClaimRequest) -> Result<Claim>;

    /// Takes over a claim that is failed, or pending and either held by `request.owner` (a
    /// restarted worker) or past its lease. `None` when another worker holds it or it is
    /// posted / skipped.
    async fn take_over(&self, request: &ClaimRequest) -> Result<Option<LedgerEntry>>;

    /// Records how a claimed key ended, with the lineage of the document it produced, in one
    /// transaction.
    async fn finish(
        &self,
        key: &IdempotencyKey,
        outcome: &Outcome,
        lineage: Option<&Lineage>,
        now: DateTime<Utc>,
    ) -> Result<()>;

    /// A ledger entry.
    async fn ledger_entry(&self, key: &IdempotencyKey) -> Result<Option<LedgerEntry>>;

    /// Counts ledger entries by state (for KPIs and tests).
    async fn ledger_counts(&self) -> Result<Vec<(LedgerState, u64)>>;

    // --- heads ---

    /// The latest completed revision of a record.
    async fn head(&self, record: &RecordKey) -> Result<Option<Head>>;

    /// Completes an event in one transaction: ends its ledger entry, writes the record's head
    /// (when given) and resolves the record's open exceptions when it posted.
    async fn complete_event(
        &self,
        event_key: &IdempotencyKey,
        outcome: &Outcome,
        head: Option<&Head>,
        now: DateTime<Utc>,
    ) -> Result<()>;

    // --- lineage ---

    /// Lineage links.
    async fn lineage(&self, query: &LineageQuery) -> Result<Vec<Lineage>>;

    // --- audit ---

    /// Appends to the audit log (which refuses updates and deletes). Returns the sequence.
    async fn append_audit(&self, entry: &NewAudit) -> Result<i64>;

    /// Audit entries after `after_seq`, oldest first.
    async fn audit_log(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>>;

    // --- exceptions ---

    /// Adds an exception, or bumps `attempts`/`last_seen` of the one with the same
    /// fingerprint (and reopens it). The raw payload is archived in the same transaction.
    async fn record_exception(&self, exception: &NewException) -> Result<ExceptionRecord>;

    /// One exception.
    async fn exception(&self, id: i64) -> Result<Option<ExceptionRecord>>;

    /// Exceptions, oldest first.
    async fn exceptions(&self, filter: &ExceptionFilter) -> Result<Vec<ExceptionRecord>>;

    /// Sets an exception's status.
    async fn set_exception_status(
        &self,
        id: i64,
        status: ExceptionStatus,
        now: DateTime<Utc>,
    ) -> Result<()>;

    /// Open exceptions by reason (the exception-queue KPI).
    async fn exception_counts(&self) -> Result<Vec<(ReasonCode, u64)>>;

    // --- snapshots (schema version 3) ---

    /// Saves (or replaces) a record's snapshot. The default answers `Unsupported`, so stores
    /// written before snapshots existed keep compiling; both built-in backends implement it.
    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        let _ = snapshot;
        Err(Error::unsupported("save_snapshot"))
    }

    /// A record's snapshot.
    async fn snapshot(&self, record: &RecordKey) -> Result<Option<Snapshot>> {
        let _ = record;
        Err(Error::unsupported("snapshot"))
    }

    /// The snapshots whose parent is `parent` (an order's refunds), oldest first.
    async fn snapshots_of(&self, parent: &RecordKey) -> Result<Vec<Snapshot>> {
        let _ = parent;
        Err(Error::unsupported("snapshots_of"))
    }

    // --- batches ---

    /// Runs `ops` in order and answers each, at the same position. The built-in backends run
    /// the whole batch in **one transaction** (all or nothing) with prepared statements; the
    /// default runs the steps one by one through the methods above (each step atomic, a crash
    /// leaves a prefix applied — a state the one-by-one calls could also have left).
    async fn write_batch(&self, ops: Vec<BatchOp>) -> Result<Vec<BatchReply>> {
        write_batch_sequentially(self, ops).await
    }

    // --- webhook deliveries (schema version 4) ---

    /// Records a processed webhook delivery key until `expires_at`. `true` when it was new
    /// (or its earlier record had expired), `false` when it is already recorded — the unique
    /// key decides, so two workers recording the same key get one `true`. The default answers
    /// `Unsupported`; both built-in backends implement it.
    async fn record_delivery(
        &self,
        key: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        let _ = (key, now, expires_at);
        Err(Error::unsupported("record_delivery"))
    }

    /// Whether a delivery key is recorded and not expired at `now`.
    async fn delivery_seen(&self, key: &str, now: DateTime<Utc>) -> Result<bool> {
        let _ = (key, now);
        Err(Error::unsupported("delivery_seen"))
    }

    /// Deletes delivery records expired at `now`; returns how many.
    async fn purge_deliveries(&self, now: DateTime<Utc>) -> Result<u64> {
        let _ = now;
        Err(Error::unsupported("purge_deliveries"))
    }
}

/// The store as a durable webhook [`DeliveryLog`]: processed deliveries survive a restart and
/// are shared by every worker on the same database.
#[derive(Clone)]
pub struct StoreDeliveryLog {
    store: std::sync::Arc<dyn Store>,
}

impl fmt::Debug for StoreDeliveryLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreDeliveryLog")
            .field("backend", &self.store.backend())
            .finish()
    }
}

impl StoreDeliveryLog {
    /// Wraps a store.
    pub fn new(store: std::sync::Arc<dyn Store>) -> StoreDeliveryLog {
        StoreDeliveryLog { store }
    }
}

#[async_trait]
impl DeliveryLog for StoreDeliveryLog {
    async fn contains(&self, key: &str, now: DateTime<Utc>) -> Result<bool> {
        self.store.delivery_seen(key, now).await
    }

    async fn insert(
        &self,
        key: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        self.store.record_delivery(key, now, expires_at).await
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64> {
        self.store.purge_deliveries(now).await
    }
}

// ---- helpers shared by the backends ----

pub(crate) fn corrupt(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unexpected, message).with_context("component", "store")
}

/// The one "already processed" error both backends map their unique violation to.
pub(crate) fn already_processed(backend: &'static str) -> Error {
    Error::new(ErrorKind::Conflict, "already processed (unique constraint)")
        .with_context("store", backend)
}

pub(crate) fn is_already_processed(e: &Error) -> bool {
    *e.kind() == ErrorKind::Conflict
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(v: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| corrupt(format!("bad timestamp {v}")))
}

pub(crate) fn parse_key(s: &str) -> Result<IdempotencyKey> {
    IdempotencyKey::parse(s).map_err(|e| corrupt(e.to_string()))
}

pub(crate) fn parse_hash(s: &str) -> Result<ContentHash> {
    ContentHash::try_from(s.to_owned()).map_err(corrupt)
}

pub(crate) fn parse_channel(s: &str) -> Result<Channel> {
    Channel::from_name(s).ok_or_else(|| corrupt(format!("unknown channel {s:?}")))
}

pub(crate) fn kind_from_name(s: &str) -> EventKind {
    match s {
        "order" => EventKind::Order,
        "refund" => EventKind::Refund,
        "shipment" => EventKind::Shipment,
        "settlement" => EventKind::Settlement,
        "inventory" => EventKind::Inventory,
        "journal" => EventKind::Journal,
        other => EventKind::Other(other.to_owned()),
    }
}

pub(crate) fn reason_from_str(s: &str) -> ReasonCode {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .unwrap_or_else(|_| ReasonCode::Other(s.to_owned()))
}

pub(crate) fn revision_json(r: &Revision) -> Result<String> {
    serde_json::to_string(r).map_err(|e| corrupt(e.to_string()))
}

pub(crate) fn parse_revision(s: &str) -> Result<Revision> {
    serde_json::from_str(s).map_err(|e| corrupt(format!("bad revision: {e}")))
}

pub(crate) fn window_parts(w: Option<&TimeWindow>) -> (Option<i64>, Option<i64>) {
    match w {
        Some(w) => (Some(micros(w.start)), Some(micros(w.end))),
        None => (None, None),
    }
}

pub(crate) fn window_from(start: Option<i64>, end: Option<i64>) -> Result<Option<TimeWindow>> {
    match (start, end) {
        (Some(s), Some(e)) => Ok(TimeWindow::new(from_micros(s)?, from_micros(e)?)),
        _ => Ok(None),
    }
}

pub(crate) fn json_text(v: &serde_json::Value) -> String {
    v.to_string()
}

pub(crate) fn parse_json(s: &str) -> Result<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| corrupt(format!("bad JSON in store: {e}")))
}

pub(crate) fn default_limit(l: Option<u32>) -> i64 {
    i64::from(l.unwrap_or(1000))
}
