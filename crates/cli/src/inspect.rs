//! `marketsync exceptions list|show|replay`, `marketsync trace ORDER` and `marketsync report`:
//! the operator's view of a store.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use marketsync_core::{Channel, EventKind, ShopId};
use marketsync_pipeline::store::{
    ExceptionFilter, ExceptionRecord, ExceptionStatus, LineageQuery, RecordKey, redact_pii,
};
use marketsync_pipeline::{ReplayResult, Store};

use crate::html::{ChannelSummary, ReportModel, render};
use crate::ops::{BoxError, Pipeline};

/// Which exceptions a command applies to.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Only this status (`None`: any).
    pub status: Option<ExceptionStatus>,
    /// Only this reason code (its snake_case name, e.g. `unknown_sku`).
    pub reason: Option<String>,
    /// Only this channel (its name, e.g. `tmall`).
    pub channel: Option<String>,
    /// Only exceptions last seen on or after this day (UTC).
    pub since: Option<NaiveDate>,
    /// Only exceptions first seen on or before this day (UTC).
    pub until: Option<NaiveDate>,
}

/// Parses a status name (`open`, `resolved`, `replayed`); `all` is `None`.
pub fn parse_status(s: &str) -> Result<Option<ExceptionStatus>, BoxError> {
    if s == "all" {
        return Ok(None);
    }
    Ok(Some(ExceptionStatus::parse(s).map_err(|_| {
        format!("unknown status {s:?} (open, resolved, replayed or all)")
    })?))
}

impl Selection {
    fn day(t: DateTime<Utc>) -> NaiveDate {
        t.date_naive()
    }

    /// The matching exceptions, oldest first.
    pub async fn select(&self, store: &dyn Store) -> Result<Vec<ExceptionRecord>, BoxError> {
        let channel = match &self.channel {
            None => None,
            Some(name) => {
                Some(Channel::from_name(name).ok_or_else(|| format!("unknown channel {name:?}"))?)
            }
        };
        let filter = ExceptionFilter {
            status: self.status,
            channel,
            limit: Some(100_000),
            ..ExceptionFilter::default()
        };
        let mut rows: Vec<ExceptionRecord> = store
            .exceptions(&filter)
            .await?
            .into_iter()
            .filter(|x| {
                self.reason
                    .as_deref()
                    .is_none_or(|r| x.reason.as_str() == r)
                    && self.since.is_none_or(|d| Self::day(x.last_seen) >= d)
                    && self.until.is_none_or(|d| Self::day(x.first_seen) <= d)
            })
            .collect();
        rows.sort_by_key(|x| x.id);
        Ok(rows)
    }
}

/// `exceptions list`: one line per exception.
pub async fn list(store: &dyn Store, sel: &Selection) -> Result<String, BoxError> {
    let rows = sel.select(store).await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6}  {:<9} {:<8} {:<22} {:<18} {:<10} {:>8}  {:<20}  message",
        "id", "status", "channel", "shop", "reason", "kind", "attempts", "record"
    );
    for x in &rows {
        let _ = writeln!(
            out,
            "{:>6}  {:<9} {:<8} {:<22} {:<18} {:<10} {:>8}  {:<20}  {}",
            x.id,
            x.status.as_str(),
            x.stream.channel.to_string(),
            x.stream.shop.as_str(),
            x.reason.as_str(),
            x.kind.name(),
            x.attempts,
            x.external_id.as_deref().unwrap_or("-"),
            x.message
        );
    }
    let _ = writeln!(out, "{} exception(s)", rows.len());
    Ok(out)
}

/// `exceptions show ID`: the exception, its redacted canonical record and where its raw
/// payload is (the archive row, by content hash; the payload itself is not printed).
pub async fn show(store: &dyn Store, id: i64) -> Result<String, BoxError> {
    let x = store
        .exception(id)
        .await?
        .ok_or_else(|| format!("no exception {id}"))?;
    let mut out = String::new();
    let _ = writeln!(out, "exception {}", x.id);
    let _ = writeln!(out, "  status:      {}", x.status.as_str());
    let _ = writeln!(out, "  reason:      {}", x.reason.as_str());
    let _ = writeln!(out, "  message:     {}", x.message);
    let _ = writeln!(out, "  stream:      {}", x.stream);
    let _ = writeln!(out, "  kind:        {}", x.kind.name());
    let _ = writeln!(
        out,
        "  record:      {}",
        x.external_id.as_deref().unwrap_or("-")
    );
    if let Some(k) = &x.event_key {
        let _ = writeln!(out, "  event key:   {}", k.as_str());
    }
    let _ = writeln!(
        out,
        "  seen:        {} times, first {}, last {}",
        x.attempts,
        x.first_seen.to_rfc3339(),
        x.last_seen.to_rfc3339()
    );
    if let Some(w) = x.window {
        let _ = writeln!(
            out,
            "  fetched in:  [{}, {})",
            w.start.to_rfc3339(),
            w.end.to_rfc3339()
        );
    }
    match &x.content_hash {
        Some(h) => {
            let kept = store.raw(h).await?.is_some();
            let _ = writeln!(
                out,
                "  raw payload: {} archive, content hash {} ({})",
                store.backend(),
                h.as_str(),
                if kept { "kept" } else { "purged" }
            );
        }
        None => {
            let _ = writeln!(out, "  raw payload: none");
        }
    }
    match &x.canonical {
        Some(c) => {
            // Already masked by the store; masked again in case of an older row.
            let text = serde_json::to_string_pretty(&redact_pii(c))?;
            let _ = writeln!(out, "  canonical record (personal data masked):");
            for line in text.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
        None => {
            let _ = writeln!(
                out,
                "  canonical record: none (the payload did not normalize)"
            );
        }
    }
    Ok(out)
}

/// `exceptions replay`: replays the selected open exceptions (or one id) through the engine of
/// the connector they came from, audited under `actor`. Returns (text, replayed, still open).
pub async fn replay(
    pipeline: &Pipeline,
    ids: &[i64],
    sel: &Selection,
    actor: &str,
) -> Result<(String, usize, usize), BoxError> {
    let store = pipeline.store.as_ref();
    let targets: Vec<ExceptionRecord> = if ids.is_empty() {
        let mut open = sel.clone();
        open.status = Some(ExceptionStatus::Open);
        open.select(store).await?
    } else {
        let mut v = Vec::new();
        for id in ids {
            v.push(
                store
                    .exception(*id)
                    .await?
                    .ok_or_else(|| format!("no exception {id}"))?,
            );
        }
        v
    };
    let bar = ProgressBar::new(targets.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} replayed {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut out = String::new();
    let (mut done, mut open) = (0, 0);
    for x in &targets {
        let Some((conn, engine)) = pipeline.lane(&x.stream.channel, &x.stream.shop) else {
            let _ = writeln!(
                out,
                "{:>6}  skipped: no connector for {} {} in the config",
                x.id,
                x.stream.channel,
                x.stream.shop.as_str()
            );
            open += 1;
            bar.inc(1);
            continue;
        };
        let result = engine
            .replay_exception(x.id, actor, Some(conn.as_ref()))
            .await;
        let line = match result {
            Ok(ReplayResult::Ran(outcome)) => {
                let after = store.exception(x.id).await?.map(|e| e.status);
                if after == Some(ExceptionStatus::Replayed) {
                    done += 1;
                } else {
                    open += 1;
                }
                format!(
                    "{outcome:?} → {}",
                    after.map_or("?", ExceptionStatus::as_str)
                )
            }
            Ok(ReplayResult::NotOpen(s)) => format!("not open ({})", s.as_str()),
            Ok(ReplayResult::NotFound) => {
                open += 1;
                "not found at the source".into()
            }
            Err(e) => {
                open += 1;
                format!("failed: {e}")
            }
        };
        let _ = writeln!(out, "{:>6}  {:<18} {}", x.id, x.reason.as_str(), line);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let _ = writeln!(out, "{done} replayed, {open} still open");
    Ok((out, done, open))
}

/// `trace ORDER`: a record's lineage — raw payload → canonical record → ERP documents (for an
/// order: sales order, accrual, reversals, its refunds' documents) → settlement → payout — and
/// its exceptions. `kind` is the record's kind (an order, a refund, a settlement: a
/// settlement's lineage holds its settlement and payout journals).
pub async fn trace(
    store: &dyn Store,
    kind: EventKind,
    order: &str,
    candidates: &[(Channel, ShopId)],
) -> Result<String, BoxError> {
    let noun = kind.name().to_owned();
    let mut out = String::new();
    let mut found = false;
    for (channel, shop) in candidates {
        let record = RecordKey {
            channel: channel.clone(),
            shop: shop.clone(),
            kind: kind.clone(),
            external_id: order.to_owned(),
        };
        let mut links = store.lineage(&LineageQuery::Record(record.clone())).await?;
        let head = store.head(&record).await?;
        let snapshot = store.snapshot(&record).await?;
        let exceptions: Vec<ExceptionRecord> = store
            .exceptions(&ExceptionFilter {
                channel: Some(channel.clone()),
                external_id: Some(order.to_owned()),
                limit: Some(1_000),
                ..ExceptionFilter::default()
            })
            .await?
            .into_iter()
            .filter(|x| x.stream.shop == *shop && x.kind == kind)
            .collect();
        if links.is_empty() && head.is_none() && snapshot.is_none() && exceptions.is_empty() {
            continue;
        }
        found = true;
        links.sort_by(|a, b| a.at.cmp(&b.at).then(a.document_key.cmp(&b.document_key)));
        let _ = writeln!(out, "{noun} {order} on {channel} {}", shop.as_str());
        let mut hashes: Vec<marketsync_core::ContentHash> = links
            .iter()
            .filter_map(|l| l.content_hash.clone())
            .collect();
        hashes.extend(exceptions.iter().filter_map(|x| x.content_hash.clone()));
        hashes.sort();
        hashes.dedup();
        let _ = writeln!(out, "  raw:");
        if hashes.is_empty() {
            let _ = writeln!(out, "    (no archived payload linked)");
        }
        for h in &hashes {
            let kept = store.raw(h).await?.is_some();
            let _ = writeln!(
                out,
                "    {} archive, content hash {} ({})",
                store.backend(),
                h.as_str(),
                if kept { "kept" } else { "purged" }
            );
        }
        let _ = writeln!(out, "  canonical:");
        match (&head, &snapshot) {
            (None, None) => {
                let _ = writeln!(out, "    (not completed)");
            }
            _ => {
                if let Some(h) = &head {
                    let _ = writeln!(
                        out,
                        "    revision {} completed {} (event {})",
                        revision(&h.revision),
                        h.updated_at.to_rfc3339(),
                        h.event_key.as_str()
                    );
                }
                if let Some(s) = &snapshot {
                    let body = redact_pii(&s.body);
                    let field = |k: &str| {
                        body.get(k)
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or("-")
                            .to_owned()
                    };
                    let lines = body
                        .get("lines")
                        .and_then(serde_json::Value::as_array)
                        .map_or(0, Vec::len);
                    let _ = writeln!(
                        out,
                        "    snapshot: status {}, {} line(s) in {}, placed {}",
                        field("status"),
                        lines,
                        field("currency"),
                        field("placed_at")
                    );
                }
            }
        }
        let _ = writeln!(out, "  ERP documents:");
        if links.is_empty() {
            let _ = writeln!(out, "    (none)");
        }
        for l in &links {
            let _ = write!(
                out,
                "    {:<16} {:<14} {:<10} rev {} at {}",
                l.role,
                l.erp_kind,
                l.erp_document.as_str(),
                revision(&l.revision),
                l.at.to_rfc3339()
            );
            if let Some(v) = &l.rulebook_version {
                let _ = write!(out, "  rulebook {v}");
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "  settlement → payout:");
        let settled: Vec<_> = links
            .iter()
            .filter(|l| l.settlement_id.is_some() || l.payout_id.is_some())
            .collect();
        if settled.is_empty() {
            let _ = writeln!(
                out,
                "    (no settlement document in this record's lineage; a settlement's own \
                 documents are traced with `--kind settlement SETTLEMENT_ID`)"
            );
        }
        for l in settled {
            let _ = writeln!(
                out,
                "    settlement {} line {} → payout {} ({} {})",
                l.settlement_id.as_deref().unwrap_or("-"),
                l.settlement_line.map_or("-".into(), |n| n.to_string()),
                l.payout_id.as_deref().unwrap_or("-"),
                l.erp_kind,
                l.erp_document.as_str()
            );
        }
        if !exceptions.is_empty() {
            let _ = writeln!(out, "  exceptions:");
            for x in &exceptions {
                let _ = writeln!(
                    out,
                    "    {:>6}  {:<9} {:<18} {}",
                    x.id,
                    x.status.as_str(),
                    x.reason.as_str(),
                    x.message
                );
            }
        }
    }
    if !found {
        return Err(format!("{noun} {order} is not in the store").into());
    }
    Ok(out)
}

/// `report`: the HTML report from a store — per channel, the exceptions by reason and status
/// and the documents its orders produced (from the lineage of the exceptions' records and the
/// ledger totals). The P&L needs the canonical records of every order, which the store keeps
/// only for orders it is asked about; it is left out of this report.
pub async fn report(store: Arc<dyn Store>, title: &str) -> Result<String, BoxError> {
    let all = store
        .exceptions(&ExceptionFilter {
            limit: Some(100_000),
            ..ExceptionFilter::default()
        })
        .await?;
    let mut channels: BTreeMap<String, ChannelSummary> = BTreeMap::new();
    let mut kpi = marketsync_pipeline::report::KpiRecorder::default();
    for x in &all {
        let c = channels
            .entry(x.stream.channel.to_string())
            .or_insert_with(|| ChannelSummary {
                channel: x.stream.channel.to_string(),
                ..ChannelSummary::default()
            });
        if x.status == ExceptionStatus::Open {
            *c.exceptions
                .entry(x.reason.as_str().into_owned())
                .or_default() += 1;
            kpi.exception(&x.reason);
        } else {
            *c.exceptions
                .entry(format!("{} ({})", x.reason.as_str(), x.status.as_str()))
                .or_default() += 1;
        }
    }
    let counts = store.ledger_counts().await?;
    let posted: u64 = counts
        .iter()
        .filter(|(s, _)| matches!(s, marketsync_pipeline::store::LedgerState::Posted))
        .map(|(_, n)| *n)
        .sum();
    let model = ReportModel {
        title: title.to_owned(),
        generated_at: Utc::now().to_rfc3339(),
        channels: channels.into_values().collect(),
        pnl: BTreeMap::new(),
        kpis: kpi.kpis(),
    };
    let mut html = render(&model);
    let mut ledger = String::from("<section><h2>Idempotency ledger</h2><table>");
    for (state, n) in &counts {
        let _ = write!(
            ledger,
            "<tr><td>{}</td><td>{n}</td></tr>",
            crate::html::escape(&format!("{state:?}"))
        );
    }
    let _ = write!(
        ledger,
        "</table><p>{posted} ERP writes posted; store backend {}.</p></section>",
        store.backend()
    );
    if let Some(pos) = html.rfind("</body>") {
        html.insert_str(pos, &ledger);
    } else {
        html.push_str(&ledger);
    }
    Ok(html)
}

fn revision(r: &marketsync_core::Revision) -> String {
    match r {
        marketsync_core::Revision::UpdatedAt(t) => t.to_rfc3339(),
        marketsync_core::Revision::Version(v) => format!("v{v}"),
    }
}
