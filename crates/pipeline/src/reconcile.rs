//! Settlement reconciliation: settlements in, settlement and payout journals out, and every
//! order the settlement does not clear exactly in the residual queue.
//!
//! For each settlement, [`Engine::reconcile_settlement`]:
//!
//! 1. claims the settlement's event key (a re-delivered settlement posts nothing twice);
//! 2. matches its lines to posted orders by order id, through each order's head (the accrual
//!    journal the engine booked, amendments included);
//! 3. posts the settlement journals ([`marketsync_mapping::Mapper::settlement_journals_with_accruals`],
//!    one per accounting period) and the payout journal, each with its own idempotency key and
//!    lineage to the settlement and payout;
//! 4. computes the open marketplace receivable per order over the matched accruals and the
//!    settlement journals ([`marketsync_mapping::receivable_residuals`]): an order whose
//!    residual exceeds [`crate::EngineConfig::settlement_tolerance`] — a short payment, an
//!    overpayment, or a line for an order never posted — becomes a `SettlementVariance`
//!    exception carrying the amounts. Nothing is forced to balance.
//!
//! A residual is judged per settlement: an order settled across two settlements shows a
//! variance after the first.
//!
//! # Settlements read late, and revised
//!
//! The stream is read by publication / update time (the
//! [stream contract](marketsync_core::FetchQuery#the-stream-contract)), with the settlement
//! [look-back](crate::Lookback) (days by default): a statement published after its period was
//! walked is read by the next pass. A statement read again with the same revision is a
//! duplicate. A statement read again with a **newer revision** (a bill added to a day's
//! statement, a payout that failed) is an amendment: when its journals differ from the ones
//! booked, each booked journal is reversed (dated on the business date the amendment is
//! seen, so a closed period is never touched; key `event.child("reversal-<i>")`) and the new
//! journals are posted under the new revision's keys; when they are the same, nothing posts.
//! A revision older than the one booked is stale and posts nothing.
//!
//! A settlement that could not be posted (an unknown fee code, an ERP that kept failing, a
//! revision whose earlier journals were not recorded) waits in the exception queue with its
//! canonical form; [`Engine::replay_exception`] reconciles it again after the fix.

use std::collections::BTreeSet;

use marketsync_core::{
    EventKind, IdempotencyKey, JournalEntry, Money, RawRecord, ReasonCode, Result, Settlement,
    TimeWindow,
};
use marketsync_mapping::receivable_residuals;

use crate::engine::EventOutcome;
use crate::engine::{Engine, Fail, Mode, PostedDoc, Source};
use crate::store::{Head, NewException, Outcome, RecordKey, StreamKey};

/// What reconciling one settlement did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettlementOutcome {
    /// Journals were posted; `variances` orders were left open beyond tolerance.
    Reconciled {
        /// Journals posted (settlement periods + payout).
        journals: usize,
        /// Of those, how many the ERP created (the rest it already had).
        journals_created: usize,
        /// Orders matched to a posted accrual.
        matched_orders: usize,
        /// Orders with an open receivable beyond tolerance (each an exception).
        variances: usize,
        /// Orders in the settlement that were never posted.
        unmatched_orders: usize,
        /// A revision of a settlement already booked: its earlier journals were reversed.
        amended: bool,
    },
    /// Already reconciled.
    Duplicate,
    /// Another worker holds it.
    InFlight,
    /// It failed before; replay it.
    KnownFailure,
    /// It could not be posted (e.g. an unknown fee code): the exception id.
    Exception(i64),
    /// A revision older than (or as new as) the one already reconciled: nothing posted.
    Stale,
}

/// What one settlement sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Pages fetched.
    pub pages: u64,
    /// Settlements fetched.
    pub fetched: u64,
    /// Settlements reconciled.
    pub reconciled: u64,
    /// Journals posted.
    pub journals: u64,
    /// Orders matched.
    pub matched_orders: u64,
    /// Orders with a variance beyond tolerance (each in the exception queue).
    pub variances: u64,
    /// Orders settled but never posted.
    pub unmatched_orders: u64,
    /// Re-delivered settlements.
    pub duplicates: u64,
    /// Settlements (or records) sent to the exception queue.
    pub exceptions: u64,
    /// Settlements held by another worker.
    pub in_flight: u64,
    /// Revised settlements whose booked journals were reversed and re-posted.
    pub amended: u64,
    /// Settlements older than the revision already reconciled.
    pub stale: u64,
    /// True when a shutdown stopped the sync before it reached the present.
    pub stopped_early: bool,
}

/// What the engine remembers about a reconciled settlement (the head's state): the journals
/// it booked, so a revised statement can be reversed exactly.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct SettlementState {
    #[serde(default)]
    journals: usize,
    #[serde(default)]
    variances: usize,
    /// The settlement journals booked (absent in heads written before amendments existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    booked: Option<Vec<JournalEntry>>,
    /// The payout journal booked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    booked_payout: Option<JournalEntry>,
}

impl Engine {
    /// One pass over a connector's settlements (stream `"settlements"`, by publication or
    /// update time, re-reading the settlement look-back): from the cursor to now, reconciling
    /// each.
    pub async fn sync_settlements(
        &self,
        connector: &dyn marketsync_core::MarketplaceConnector,
    ) -> Result<ReconcileReport> {
        self.walk_stream(connector, crate::engine::StreamKind::Settlements)
            .await?
            .settlements()
    }

    pub(crate) async fn handle_settlement_page(
        &self,
        stream: &StreamKey,
        window: TimeWindow,
        page: marketsync_core::Page<Settlement>,
        report: &mut ReconcileReport,
    ) -> Result<()> {
        report.pages += 1;
        let raws: Vec<RawRecord> = page.items.iter().map(|f| f.raw.clone()).collect();
        self.store.archive_raw(&raws, self.clock.now()).await?;
        for item in page.items {
            report.fetched += 1;
            match item.outcome {
                Ok(s) => {
                    let o = self
                        .settle(stream, s, Some(&item.raw), Some(window), Mode::Sync)
                        .await?;
                    report.count(&o);
                }
                Err(e) => {
                    self.record_unreadable(
                        stream,
                        EventKind::Settlement,
                        item.external_id,
                        &e,
                        item.raw,
                        window,
                    )
                    .await?;
                    report.exceptions += 1;
                }
            }
        }
        Ok(())
    }

    /// Replays a settlement exception: a settlement that could not be posted (its canonical
    /// form is the settlement) is reconciled again; a variance record (the residual of an
    /// order) has nothing to re-run and answers `NotFound`.
    pub(crate) async fn replay_settlement_exception(
        &self,
        x: &crate::store::ExceptionRecord,
    ) -> Result<crate::engine::ReplayResult> {
        use crate::engine::{EventOutcome, ReplayResult};
        let Some(settlement) = x
            .canonical
            .as_ref()
            .and_then(|c| serde_json::from_value::<Settlement>(c.clone()).ok())
        else {
            return Ok(ReplayResult::NotFound);
        };
        let raw = match &x.content_hash {
            Some(h) => self.store.raw(h).await?,
            None => None,
        };
        let o = self
            .settle(&x.stream, settlement, raw.as_ref(), x.window, Mode::Replay)
            .await?;
        Ok(ReplayResult::Ran(match o {
            SettlementOutcome::Reconciled { journals: 0, .. } => EventOutcome::NoEffect,
            SettlementOutcome::Reconciled {
                journals,
                journals_created,
                amended,
                ..
            } => EventOutcome::Posted {
                documents: journals,
                created: journals_created,
                amended,
            },
            SettlementOutcome::Duplicate => EventOutcome::Duplicate,
            SettlementOutcome::Stale => EventOutcome::Stale,
            SettlementOutcome::InFlight => EventOutcome::InFlight,
            SettlementOutcome::KnownFailure => EventOutcome::KnownFailure,
            SettlementOutcome::Exception(id) => EventOutcome::Exception(id),
        }))
    }

    /// Reconciles one settlement (from a page, a file or a queue). Store failures are `Err`.
    pub async fn reconcile_settlement(
        &self,
        stream: &StreamKey,
        settlement: Settlement,
        raw: Option<&RawRecord>,
    ) -> Result<SettlementOutcome> {
        self.settle(stream, settlement, raw, None, Mode::Sync).await
    }

    async fn settle(
        &self,
        stream: &StreamKey,
        s: Settlement,
        raw: Option<&RawRecord>,
        window: Option<TimeWindow>,
        mode: Mode,
    ) -> Result<SettlementOutcome> {
        let key = IdempotencyKey::derive(
            &s.channel,
            &s.shop,
            &EventKind::Settlement,
            s.id.as_str(),
            &s.revision,
        );
        match self.begin_event(&key, "settlement_event", mode).await? {
            None => {}
            Some(EventOutcome::Duplicate) => return Ok(SettlementOutcome::Duplicate),
            Some(EventOutcome::KnownFailure) => return Ok(SettlementOutcome::KnownFailure),
            Some(_) => return Ok(SettlementOutcome::InFlight),
        }
        let record = RecordKey {
            channel: s.channel.clone(),
            shop: s.shop.clone(),
            kind: EventKind::Settlement,
            external_id: s.id.to_string(),
        };
        let head = self.store.head(&record).await?;
        if let Some(h) = &head {
            let newer_done = h.event_key != key
                && matches!(
                    h.revision.partial_cmp(&s.revision),
                    Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
                );
            if newer_done {
                self.store
                    .complete_event(
                        &key,
                        &Outcome::Skipped("stale_revision".into()),
                        None,
                        self.clock.now(),
                    )
                    .await?;
                return Ok(SettlementOutcome::Stale);
            }
        }
        let prev: Option<SettlementState> = match &head {
            Some(h) => Some(serde_json::from_value(h.state.clone()).map_err(|e| {
                marketsync_core::Error::new(
                    marketsync_core::ErrorKind::Unexpected,
                    format!("unreadable head state: {e}"),
                )
            })?),
            None => None,
        };
        let src = Source {
            event_key: key.clone(),
            record: record.clone(),
            revision: s.revision.clone(),
            content_hash: raw.map(|r| r.content_hash.clone()),
            settlement_id: Some(s.id.to_string()),
            payout_id: s.payout.as_ref().map(|p| p.id.to_string()),
        };
        // Match lines to posted orders.
        let order_ids: BTreeSet<String> = s
            .lines
            .iter()
            .filter_map(|l| l.order_id.as_ref().map(|o| o.to_string()))
            .collect();
        let mut accruals: Vec<JournalEntry> = Vec::new();
        let mut matched: BTreeSet<&str> = BTreeSet::new();
        for id in &order_ids {
            let head = self
                .store
                .head(&RecordKey {
                    channel: s.channel.clone(),
                    shop: s.shop.clone(),
                    kind: EventKind::Order,
                    external_id: id.clone(),
                })
                .await?;
            match head.and_then(|h| h.state.get("accrual").cloned()) {
                Some(j) if !j.is_null() => {
                    let entry: JournalEntry = serde_json::from_value(j).map_err(|e| {
                        marketsync_core::Error::new(
                            marketsync_core::ErrorKind::Unexpected,
                            format!("unreadable head state: {e}"),
                        )
                    })?;
                    accruals.push(entry);
                    matched.insert(id.as_str());
                }
                _ => {}
            }
        }
        // Refunds booked against the matched orders reduced their receivable too.
        let mut reversals: Vec<JournalEntry> = Vec::new();
        for id in &matched {
            let order = RecordKey {
                channel: s.channel.clone(),
                shop: s.shop.clone(),
                kind: EventKind::Order,
                external_id: (*id).to_owned(),
            };
            reversals.extend(self.refund_reversals_of(&order).await?);
        }
        let mut posted = Vec::new();
        let mut state = prev.clone().unwrap_or_default();
        let result = self
            .post_settlement(
                &s,
                &key,
                &src,
                &accruals,
                prev.as_ref(),
                &mut state,
                &mut posted,
            )
            .await;
        let now = self.clock.now();
        let journals = match result {
            Ok(Some(j)) => j,
            Ok(None) => {
                // A newer revision with the same journals: nothing to post, nothing new to
                // reconcile.
                let head = Head {
                    record,
                    revision: s.revision.clone(),
                    event_key: key.clone(),
                    state: state_json(&state)?,
                    updated_at: now,
                };
                self.store
                    .complete_event(
                        &key,
                        &Outcome::Skipped("no_change".into()),
                        Some(&head),
                        now,
                    )
                    .await?;
                return Ok(SettlementOutcome::Reconciled {
                    journals: 0,
                    journals_created: 0,
                    matched_orders: accruals.len(),
                    variances: 0,
                    unmatched_orders: order_ids.len() - matched.len(),
                    amended: false,
                });
            }
            Err(Fail::Infra(e)) => return Err(e),
            Err(Fail::Record(e)) => {
                let reason = e.reason();
                let x = self
                    .store
                    .record_exception(&NewException {
                        stream: stream.clone(),
                        kind: EventKind::Settlement,
                        external_id: Some(s.id.to_string()),
                        event_key: Some(key.clone()),
                        reason: reason.clone(),
                        message: format!("{}: {}", e.kind().name(), e.message()),
                        raw: raw.cloned(),
                        canonical: serde_json::to_value(&s).ok(),
                        window,
                        now,
                    })
                    .await?;
                // Journals posted (or reversed) before the failure stay in the head, so the
                // next revision compensates what was really booked.
                let head = if posted.is_empty() {
                    None
                } else {
                    Some(Head {
                        record: record.clone(),
                        revision: s.revision.clone(),
                        event_key: key.clone(),
                        state: state_json(&state)?,
                        updated_at: now,
                    })
                };
                self.store
                    .complete_event(
                        &key,
                        &Outcome::Failed(reason.as_str().into_owned()),
                        head.as_ref(),
                        now,
                    )
                    .await?;
                return Ok(SettlementOutcome::Exception(x.id));
            }
        };
        // Residuals per order over the matched accruals, their refund reversals and this
        // settlement's journals.
        let mut entries = accruals.clone();
        entries.extend(reversals);
        entries.extend(journals);
        let residuals = receivable_residuals(&entries)?;
        let mut variances = 0;
        for r in residuals {
            if r.amount.amount.abs() <= self.config.settlement_tolerance {
                continue;
            }
            variances += 1;
            let order = r.order_id.clone().unwrap_or_default();
            self.store
                .record_exception(&NewException {
                    stream: stream.clone(),
                    kind: EventKind::Settlement,
                    external_id: r.order_id.clone(),
                    event_key: Some(key.clone()),
                    reason: ReasonCode::SettlementVariance,
                    message: match &r.order_id {
                        Some(_) => format!(
                            "settlement {} leaves order {order} with an open receivable of {}",
                            s.id, r.amount
                        ),
                        None => format!(
                            "settlement {} moves {} of receivable that no order accounts for",
                            s.id, r.amount
                        ),
                    },
                    raw: None,
                    canonical: Some(serde_json::json!({
                        "settlement_id": s.id.to_string(),
                        "order_id": r.order_id,
                        "residual": money_json(&r.amount),
                        "order_posted": r.order_id.as_deref().is_some_and(|o| matched.contains(o)),
                    })),
                    window,
                    now,
                })
                .await?;
            tracing::warn!(
                settlement = %s.id, reason = "settlement_variance",
                "settlement leaves an open receivable"
            );
        }
        state.journals = posted.len();
        state.variances = variances;
        let head = Head {
            record,
            revision: s.revision.clone(),
            event_key: key.clone(),
            state: state_json(&state)?,
            updated_at: now,
        };
        let outcome = match posted.last() {
            Some(doc) => Outcome::Posted(doc.id.clone()),
            None => Outcome::Skipped("no_journal".into()),
        };
        self.store
            .complete_event(&key, &outcome, Some(&head), now)
            .await?;
        Ok(SettlementOutcome::Reconciled {
            journals: posted.len(),
            journals_created: PostedDoc::created(&posted),
            matched_orders: accruals.len(),
            variances,
            unmatched_orders: order_ids.len() - matched.len(),
            amended: prev.is_some(),
        })
    }

    /// Posts a settlement's journals. For a revision of a settlement already booked
    /// (`prev`), reverses what was booked first — or posts nothing and answers `None` when the
    /// journals did not change. `state` follows what is booked as each journal posts.
    #[allow(clippy::too_many_arguments)]
    async fn post_settlement(
        &self,
        s: &Settlement,
        key: &IdempotencyKey,
        src: &Source,
        accruals: &[JournalEntry],
        prev: Option<&SettlementState>,
        state: &mut SettlementState,
        posted: &mut Vec<PostedDoc>,
    ) -> std::result::Result<Option<Vec<JournalEntry>>, Fail> {
        let journals = self
            .mapper
            .settlement_journals_with_accruals(s, &self.ctx, accruals)
            .map_err(Fail::Record)?;
        let payout = match &s.payout {
            Some(_) => Some(
                self.mapper
                    .payout_journal(s, &self.ctx)
                    .map_err(Fail::Record)?,
            ),
            None => None,
        };
        if let Some(prev) = prev {
            let Some(booked) = &prev.booked else {
                return Err(Fail::Record(
                    marketsync_core::Error::validation(
                        ReasonCode::SettlementRevised,
                        format!(
                            "settlement {} was revised, but the journals booked for its earlier \
                             revision were not recorded; review and adjust it by hand",
                            s.id
                        ),
                    )
                    .with_context("settlement", &s.id),
                ));
            };
            if *booked == journals && prev.booked_payout == payout {
                return Ok(None);
            }
            let at = self.clock.now();
            let old: Vec<JournalEntry> = booked
                .iter()
                .chain(prev.booked_payout.iter())
                .cloned()
                .collect();
            for (i, j) in old.iter().enumerate() {
                let rev = self.reversal_at(j, at)?;
                let k = key.child(&format!("reversal-{i}"));
                posted.push(
                    self.post_journal_doc("settlement_reversal", k, rev, src)
                        .await?,
                );
            }
            state.booked = Some(Vec::new());
            state.booked_payout = None;
        }
        let mut booked = Vec::with_capacity(journals.len());
        for (i, j) in journals.iter().enumerate() {
            let k = key.child(&format!("settlement-{i}"));
            posted.push(
                self.post_journal_doc("settlement", k, j.clone(), src)
                    .await?,
            );
            booked.push(j.clone());
            state.booked = Some(booked.clone());
        }
        state.booked = Some(booked);
        if let Some(p) = payout {
            posted.push(
                self.post_journal_doc("payout", key.child("payout"), p.clone(), src)
                    .await?,
            );
            state.booked_payout = Some(p);
        }
        Ok(Some(journals))
    }
}

fn state_json(state: &SettlementState) -> Result<serde_json::Value> {
    serde_json::to_value(state).map_err(|e| {
        marketsync_core::Error::new(marketsync_core::ErrorKind::Unexpected, e.to_string())
    })
}

fn money_json(m: &Money) -> serde_json::Value {
    serde_json::to_value(m).unwrap_or(serde_json::Value::Null)
}

impl ReconcileReport {
    fn count(&mut self, o: &SettlementOutcome) {
        match o {
            SettlementOutcome::Reconciled {
                journals,
                matched_orders,
                variances,
                unmatched_orders,
                amended,
                ..
            } => {
                self.reconciled += 1;
                self.amended += u64::from(*amended);
                self.journals += *journals as u64;
                self.matched_orders += *matched_orders as u64;
                self.variances += *variances as u64;
                self.unmatched_orders += *unmatched_orders as u64;
            }
            SettlementOutcome::Duplicate => self.duplicates += 1,
            SettlementOutcome::InFlight => self.in_flight += 1,
            SettlementOutcome::KnownFailure => {}
            SettlementOutcome::Exception(_) => self.exceptions += 1,
            SettlementOutcome::Stale => self.stale += 1,
        }
    }
}
