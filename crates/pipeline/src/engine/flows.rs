//! The refund stream.
//!
//! It runs like the order stream (see the [engine docs](super)): pages from the cursor, raw
//! payloads archived, records that failed to normalize to the exception queue, one
//! idempotency-ledger claim per event (a re-delivery posts nothing), each ERP document under its
//! own key (looked up before any re-send after a timeout), lineage, and the cursor saved only
//! after the page is handled.
//!
//! # Refunds ([`Engine::sync_refunds`], stream `"refunds"`)
//!
//! | document | key | when |
//! |---|---|---|
//! | refund document (`record_refund`) | per *refund* ([`refund_document_key`]) | the first completed revision, when the ERP declares `capabilities().refunds` |
//! | reversal journal ([`Mapper::refund_reversal`](marketsync_mapping::Mapper::refund_reversal)) | event key `.child("refund_reversal")` | completed, and the reversal differs from the one booked |
//! | undo of the previous reversal | event key `.child("refund_reversal_undo")` | a later revision changed (or cancelled) a booked reversal |
//!
//! Refunds that are not completed post nothing. The reversal is mapped against the order's
//! canonical form, which the engine snapshots ([`crate::store::Snapshot`], buyer and address
//! stripped) when it completes an order event. A refund whose order was never posted goes to the
//! exception queue with reason `order_not_synced` and its canonical form; replay it
//! ([`Engine::replay_exception`]) once the order has synced. Lineage: the refund's documents are
//! recorded under the refund and linked again under the order (roles `refund` and
//! `refund_reversal`), and the refund's snapshot names the order as its parent, so
//! [`Engine::refund_reversals_of`] finds what was reversed for an order (what settlement
//! reconciliation needs next to the accrual).
//!
//! Orders posted before snapshots existed (schema version 3) have none: their refunds wait in
//! the exception queue until the order's next revision is synced.

use chrono::{DateTime, Utc};
use marketsync_core::{
    Channel, Envelope, EnvelopeMeta, ErpDocumentId, Error, ErrorKind, EventKind, FetchQuery,
    IdempotencyKey, JournalEntry, MarketplaceConnector, Order, OrderId, Page, RawRecord,
    ReasonCode, Refund, RefundRequest, RefundStatus, Result, Revision, ShopId, TimeWindow,
};
use serde::{Deserialize, Serialize};

use super::{
    Doc, DocRequest, Engine, EventOutcome, Fail, Mode, OrderState, PostedDoc, ReplayResult, Source,
    SyncReport,
};
use crate::store::{
    Claim, ExceptionRecord, Head, LedgerState, Lineage, NewException, Outcome, RecordKey, Snapshot,
    StreamKey,
};

/// The key of a refund's ERP refund document: one per refund, whatever its revision.
pub fn refund_document_key(refund: &Refund) -> IdempotencyKey {
    IdempotencyKey::derive(
        &refund.channel,
        &refund.shop,
        &EventKind::Other("refund_document".into()),
        refund.id.as_str(),
        &Revision::Version(0),
    )
}

/// What the engine remembers about a refund (the head's state).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct RefundState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refund_document: Option<ErpDocumentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reversal: Option<JournalEntry>,
}

fn unexpected(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Unexpected, e.to_string())
}

fn record_of<T>(env: &Envelope<T>) -> RecordKey {
    RecordKey {
        channel: env.channel.clone(),
        shop: env.shop.clone(),
        kind: env.kind.clone(),
        external_id: env.external_id.clone(),
    }
}

fn source_of<T>(env: &Envelope<T>) -> Source {
    Source {
        event_key: env.idempotency_key.clone(),
        record: record_of(env),
        revision: env.revision.clone(),
        content_hash: Some(env.content_hash.clone()),
        settlement_id: None,
        payout_id: None,
    }
}

fn order_record(channel: &Channel, shop: &ShopId, order: &OrderId) -> RecordKey {
    RecordKey {
        channel: channel.clone(),
        shop: shop.clone(),
        kind: EventKind::Order,
        external_id: order.to_string(),
    }
}

fn refund_envelope(refund: Refund, received_at: DateTime<Utc>) -> Envelope<Refund> {
    let meta = EnvelopeMeta {
        channel: refund.channel.clone(),
        shop: refund.shop.clone(),
        kind: EventKind::Refund,
        external_id: refund.id.to_string(),
        revision: refund.revision.clone(),
        occurred_at: refund.updated_at,
        received_at,
    };
    let raw = refund.raw.clone();
    Envelope::new(meta, refund, raw)
}

fn state_of<S: Default + for<'de> Deserialize<'de>>(head: Option<&Head>) -> Result<S> {
    match head {
        Some(h) => serde_json::from_value(h.state.clone())
            .map_err(|e| unexpected(format!("unreadable head state: {e}"))),
        None => Ok(S::default()),
    }
}

impl Engine {
    /// One pass over a connector's refund stream (`"refunds"`): from the cursor to now. Only
    /// completed refunds post (see the [engine docs](crate::engine)).
    pub async fn sync_refunds(&self, connector: &dyn MarketplaceConnector) -> Result<SyncReport> {
        self.walk_stream(connector, super::Flow::Refunds)
            .await?
            .records()
    }

    /// The refund reversal journals booked for an order (by its completed refunds), oldest
    /// first: with the order's accrual, what its marketplace receivable is made of.
    pub async fn refund_reversals_of(&self, order: &RecordKey) -> Result<Vec<JournalEntry>> {
        let mut out = Vec::new();
        for child in self.store.snapshots_of(order).await? {
            if child.record.kind != EventKind::Refund {
                continue;
            }
            let rs: RefundState = state_of(self.store.head(&child.record).await?.as_ref())?;
            out.extend(rs.reversal);
        }
        Ok(out)
    }

    pub(super) async fn handle_refund_page(
        &self,
        stream: &StreamKey,
        window: TimeWindow,
        page: Page<Refund>,
        mode: Mode,
        report: &mut SyncReport,
    ) -> Result<()> {
        for (refund, raw) in self
            .accept_page(stream, EventKind::Refund, window, page, report)
            .await?
        {
            let o = self
                .handle_refund(stream, refund, Some(&raw), Some(window), mode)
                .await?;
            report.count(&o);
        }
        Ok(())
    }

    /// Archives a page's raw payloads (one transaction), sends the records that failed to
    /// normalize to the exception queue, and returns the others with their raw payload.
    pub(crate) async fn accept_page<T>(
        &self,
        stream: &StreamKey,
        kind: EventKind,
        window: TimeWindow,
        page: Page<T>,
        report: &mut SyncReport,
    ) -> Result<Vec<(T, RawRecord)>> {
        report.pages += 1;
        let raws: Vec<RawRecord> = page.items.iter().map(|f| f.raw.clone()).collect();
        self.store.archive_raw(&raws, self.clock.now()).await?;
        let mut out = Vec::with_capacity(page.items.len());
        for item in page.items {
            report.fetched += 1;
            match item.outcome {
                Ok(v) => out.push((v, item.raw)),
                Err(e) => {
                    let x = self
                        .record_unreadable(
                            stream,
                            kind.clone(),
                            item.external_id,
                            &e,
                            item.raw,
                            window,
                        )
                        .await?;
                    tracing::warn!(
                        stream = %stream, exception = x.id, reason = %x.reason,
                        "record failed to normalize"
                    );
                    report.exceptions += 1;
                }
            }
        }
        Ok(out)
    }

    /// Claims an event: `Some(outcome)` when it must not be handled now (a duplicate, a known
    /// failure outside a replay, in flight elsewhere).
    pub(crate) async fn begin_event(
        &self,
        ev: &IdempotencyKey,
        scope: &str,
        mode: Mode,
    ) -> Result<Option<EventOutcome>> {
        let req = self.claim_request(ev, scope);
        Ok(match self.store.claim(&req).await? {
            Claim::Acquired(_) => None,
            Claim::Existing(e) => self.resume_event(&req, &e, mode).await?,
        })
    }

    /// An event whose claim found `existing`: `Some(outcome)` when it must not be handled now,
    /// `None` when this worker took it over.
    pub(crate) async fn resume_event(
        &self,
        req: &crate::store::ClaimRequest,
        existing: &crate::store::LedgerEntry,
        mode: Mode,
    ) -> Result<Option<EventOutcome>> {
        Ok(match existing.state {
            LedgerState::Posted | LedgerState::Skipped => Some(EventOutcome::Duplicate),
            LedgerState::Failed if mode == Mode::Sync => Some(EventOutcome::KnownFailure),
            LedgerState::Failed | LedgerState::Pending => {
                if self.store.take_over(req).await?.is_none() {
                    Some(EventOutcome::InFlight)
                } else {
                    None
                }
            }
        })
    }

    /// Completes `ev` as stale when a revision at least as new was completed.
    async fn drop_if_stale(
        &self,
        head: Option<&Head>,
        ev: &IdempotencyKey,
        revision: &Revision,
    ) -> Result<bool> {
        let stale = head.is_some_and(|h| {
            h.event_key != *ev
                && matches!(
                    h.revision.partial_cmp(revision),
                    Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
                )
        });
        if stale {
            self.store
                .complete_event(
                    ev,
                    &Outcome::Skipped("stale_revision".into()),
                    None,
                    self.clock.now(),
                )
                .await?;
        }
        Ok(stale)
    }

    /// Ends an event: completes it (with the head) when it succeeded, or records the exception
    /// (raw payload and canonical form kept) and fails it.
    #[allow(clippy::too_many_arguments)]
    async fn end_event<T: Serialize, S: Serialize>(
        &self,
        stream: &StreamKey,
        env: &Envelope<T>,
        raw: Option<&RawRecord>,
        window: Option<TimeWindow>,
        state: &S,
        posted: &[PostedDoc],
        result: std::result::Result<(), Fail>,
    ) -> Result<EventOutcome> {
        let now = self.clock.now();
        let ev = &env.idempotency_key;
        let head = Head {
            record: record_of(env),
            revision: env.revision.clone(),
            event_key: ev.clone(),
            state: serde_json::to_value(state).map_err(unexpected)?,
            updated_at: now,
        };
        match result {
            Ok(()) => {
                let outcome = match posted.last() {
                    Some(doc) => Outcome::Posted(doc.id.clone()),
                    None => Outcome::Skipped("no_accounting_effect".into()),
                };
                self.store
                    .complete_event(ev, &outcome, Some(&head), now)
                    .await?;
                Ok(if posted.is_empty() {
                    EventOutcome::NoEffect
                } else {
                    EventOutcome::Posted {
                        documents: posted.len(),
                        created: PostedDoc::created(posted),
                        amended: false,
                    }
                })
            }
            Err(Fail::Infra(e)) => Err(e),
            Err(Fail::Record(e)) => {
                let reason = e.reason();
                let x = self
                    .store
                    .record_exception(&NewException {
                        stream: stream.clone(),
                        kind: env.kind.clone(),
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
                let head = (!posted.is_empty()).then_some(head);
                self.store
                    .complete_event(
                        ev,
                        &Outcome::Failed(reason.as_str().into_owned()),
                        head.as_ref(),
                        now,
                    )
                    .await?;
                tracing::warn!(
                    stream = %stream, exception = x.id, reason = %reason,
                    kind = e.kind().name(), event = env.kind.name(),
                    "record sent to the exception queue"
                );
                Ok(EventOutcome::Exception(x.id))
            }
        }
    }

    /// Records an extra lineage link for a posted document (e.g. under the order a refund or a
    /// settlement line belongs to), exactly once.
    async fn link(&self, key: IdempotencyKey, lineage: Lineage) -> Result<()> {
        let req = self.claim_request(&key, "lineage_link");
        match self.store.claim(&req).await? {
            Claim::Acquired(_) => {}
            Claim::Existing(e) if matches!(e.state, LedgerState::Posted) => return Ok(()),
            Claim::Existing(_) => {
                if self.store.take_over(&req).await?.is_none() {
                    return Ok(());
                }
            }
        }
        let doc = lineage.erp_document.clone();
        self.store
            .finish(
                &key,
                &Outcome::Posted(doc),
                Some(&Lineage {
                    document_key: key.clone(),
                    ..lineage
                }),
                self.clock.now(),
            )
            .await
    }

    fn order_link(
        &self,
        order: &RecordKey,
        order_revision: &Revision,
        src: &Source,
        role: &str,
        erp_document: &ErpDocumentId,
        erp_kind: &str,
    ) -> Lineage {
        Lineage {
            document_key: src.event_key.clone(),
            event_key: src.event_key.clone(),
            record: order.clone(),
            revision: order_revision.clone(),
            content_hash: src.content_hash.clone(),
            role: role.into(),
            erp_document: erp_document.clone(),
            erp_kind: erp_kind.into(),
            rulebook_version: (erp_kind == "journal_entry")
                .then(|| self.mapper.rulebook().version.clone()),
            settlement_id: src.settlement_id.clone(),
            settlement_line: None,
            payout_id: src.payout_id.clone(),
            at: self.clock.now(),
        }
    }

    /// Keeps an order's canonical form (buyer and address stripped) for the refunds that will
    /// name it. Written before the event completes, so a completed order always has one.
    /// The snapshot of an order event: its canonical form without buyer and address.
    pub(super) fn order_snapshot(&self, env: &Envelope<Order>) -> Result<Snapshot> {
        let mut order = env.payload.clone();
        order.buyer = None;
        order.ship_to = None;
        Ok(Snapshot {
            record: record_of(env),
            revision: env.revision.clone(),
            parent: None,
            body: serde_json::to_value(&order).map_err(unexpected)?,
            updated_at: self.clock.now(),
        })
    }

    // ---- refunds ----

    async fn handle_refund(
        &self,
        stream: &StreamKey,
        refund: Refund,
        raw: Option<&RawRecord>,
        window: Option<TimeWindow>,
        mode: Mode,
    ) -> Result<EventOutcome> {
        let env = refund_envelope(refund, self.clock.now());
        let ev = env.idempotency_key.clone();
        if let Some(o) = self.begin_event(&ev, "refund_event", mode).await? {
            return Ok(o);
        }
        let rec = record_of(&env);
        let head = self.store.head(&rec).await?;
        if self
            .drop_if_stale(head.as_ref(), &ev, &env.revision)
            .await?
        {
            return Ok(EventOutcome::Stale);
        }
        let prev: RefundState = state_of(head.as_ref())?;
        let mut state = prev.clone();
        let mut posted = Vec::new();
        let result = self.post_refund(&env, &prev, &mut state, &mut posted).await;
        if result.is_ok() {
            let r = &env.payload;
            self.store
                .save_snapshot(&Snapshot {
                    record: rec,
                    revision: env.revision.clone(),
                    parent: Some(order_record(&r.channel, &r.shop, &r.order_id)),
                    body: serde_json::to_value(r).map_err(unexpected)?,
                    updated_at: self.clock.now(),
                })
                .await?;
        }
        self.end_event(stream, &env, raw, window, &state, &posted, result)
            .await
    }

    async fn post_refund(
        &self,
        env: &Envelope<Refund>,
        prev: &RefundState,
        state: &mut RefundState,
        posted: &mut Vec<PostedDoc>,
    ) -> std::result::Result<(), Fail> {
        let refund = &env.payload;
        let src = source_of(env);
        let order_rec = order_record(&refund.channel, &refund.shop, &refund.order_id);
        let not_synced = |why: &str| {
            Fail::Record(
                Error::validation(
                    ReasonCode::OrderNotSynced,
                    format!(
                        "refund {} of order {}: {why}; replay it once the order has synced",
                        refund.id, refund.order_id
                    ),
                )
                .with_context("refund", &refund.id)
                .with_context("order_id", &refund.order_id),
            )
        };
        let completed = refund.status == RefundStatus::Completed;
        let mut order_head: Option<(Revision, OrderState)> = None;
        let mut refund_items = std::collections::BTreeMap::new();
        let new_reversal = if completed {
            let head = self.store.head(&order_rec).await.map_err(Fail::Infra)?;
            let Some(head) = head else {
                return Err(not_synced("the order has not been posted"));
            };
            let os: OrderState = state_of(Some(&head)).map_err(Fail::Infra)?;
            if os.accrual.is_none() {
                return Err(not_synced("the order has no booked accrual"));
            }
            let snap = self.store.snapshot(&order_rec).await.map_err(Fail::Infra)?;
            let Some(snap) = snap else {
                return Err(not_synced("the order's canonical form is not stored"));
            };
            let order: Order = serde_json::from_value(snap.body)
                .map_err(|e| Fail::Infra(unexpected(format!("unreadable order snapshot: {e}"))))?;
            let j = self
                .mapper
                .refund_reversal(refund, &order, &self.ctx)
                .map_err(Fail::Record)?;
            j.validate().map_err(|e| Fail::Record(e.into()))?;
            refund_items = self.mapper.resolve_items(&order).map_err(Fail::Record)?;
            order_head = Some((head.revision, os));
            Some(j)
        } else {
            None
        };
        if let Some((order_rev, os)) = &order_head {
            if prev.refund_document.is_none() {
                if self.erp.capabilities().refunds {
                    let key = refund_document_key(refund);
                    let mut req = RefundRequest::new(key.clone(), refund.clone())
                        .with_items(std::mem::take(&mut refund_items));
                    req.sales_order = os.sales_order.clone();
                    let doc = Doc {
                        role: "refund",
                        request: DocRequest::Refund(Box::new(req)),
                        key: key.clone(),
                    };
                    let done = self.post_document(&doc, &src).await?;
                    self.link(
                        key.child("order"),
                        self.order_link(&order_rec, order_rev, &src, "refund", &done.id, "refund"),
                    )
                    .await
                    .map_err(Fail::Infra)?;
                    state.refund_document = Some(done.id.clone());
                    posted.push(done);
                } else {
                    tracing::debug!(
                        erp = self.erp.system(),
                        "the ERP does not record refunds: only the reversal journal posts"
                    );
                }
            }
        }
        if prev.reversal == new_reversal {
            return Ok(());
        }
        if let Some(old) = &prev.reversal {
            let undo = self.reversal_at(old, refund.updated_at)?;
            let key = env.idempotency_key.child("refund_reversal_undo");
            let id = self
                .post_journal_doc("refund_reversal_undo", key, undo, &src)
                .await?;
            state.reversal = None;
            posted.push(id);
        }
        if let Some(new) = new_reversal {
            let key = env.idempotency_key.child("refund_reversal");
            let id = self
                .post_journal_doc("refund_reversal", key.clone(), new.clone(), &src)
                .await?;
            if let Some((order_rev, _)) = &order_head {
                self.link(
                    key.child("order"),
                    self.order_link(
                        &order_rec,
                        order_rev,
                        &src,
                        "refund_reversal",
                        &id.id,
                        "journal_entry",
                    ),
                )
                .await
                .map_err(Fail::Infra)?;
            }
            state.reversal = Some(new);
            posted.push(id);
        }
        Ok(())
    }

    // ---- replay ----

    /// Replays an exception of the refund stream; `None` for other kinds (the order path in
    /// [`Engine::replay_exception`] handles them).
    pub(super) async fn replay_flow_exception(
        &self,
        x: &ExceptionRecord,
        connector: Option<&dyn MarketplaceConnector>,
    ) -> Result<Option<ReplayResult>> {
        if x.kind != EventKind::Refund {
            return Ok(None);
        }
        if let Some(canonical) = &x.canonical {
            let refund: Refund = serde_json::from_value(canonical.clone())
                .map_err(|e| unexpected(format!("unreadable canonical record: {e}")))?;
            let raw = match &x.content_hash {
                Some(h) => self.store.raw(h).await?,
                None => None,
            };
            let o = self
                .handle_refund(&x.stream, refund, raw.as_ref(), x.window, Mode::Replay)
                .await?;
            return Ok(Some(ReplayResult::Ran(o)));
        }
        // A record that failed to normalize: fetch it again in the window it was seen in.
        let (Some(c), Some(ext), Some(window)) = (connector, &x.external_id, x.window) else {
            return Ok(Some(ReplayResult::NotFound));
        };
        let mut query = FetchQuery::new(window).with_page_size(self.config.page_size);
        query.ids = vec![OrderId::new(ext.as_str())];
        loop {
            let page = self
                .with_retry("fetch_returns", || c.fetch_returns(&query))
                .await?;
            let next = page.next_cursor.clone();
            let page = Page {
                items: page
                    .items
                    .into_iter()
                    .filter(|i| i.external_id.as_deref() == Some(ext.as_str()))
                    .collect(),
                next_cursor: None,
            };
            let mut report = SyncReport::default();
            let found = !page.items.is_empty();
            if let Some((refund, raw)) = self
                .accept_page(&x.stream, EventKind::Refund, window, page, &mut report)
                .await?
                .into_iter()
                .next()
            {
                let o = self
                    .handle_refund(&x.stream, refund, Some(&raw), Some(window), Mode::Replay)
                    .await?;
                return Ok(Some(ReplayResult::Ran(o)));
            }
            if found {
                // It failed to normalize again: the exception was bumped.
                return Ok(Some(ReplayResult::Ran(EventOutcome::Exception(x.id))));
            }
            match next {
                Some(cur) => query = query.with_cursor(Some(cur)),
                None => return Ok(Some(ReplayResult::NotFound)),
            }
        }
    }
}
