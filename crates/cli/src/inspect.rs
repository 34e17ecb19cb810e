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
        let Some(lane) = pipeline.lane(&x.stream.channel, &x.stream.shop) else {
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
        let result = lane
            .engine
            .replay_exception(x.id, actor, Some(lane.connector.as_ref()))
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
        // A settlement's own documents (traced with --kind settlement).
        let own: Vec<_> = links
            .iter()
            .filter(|l| l.settlement_id.is_some() || l.payout_id.is_some())
            .collect();
        for l in &own {
            let _ = writeln!(
                out,
                "    settlement {} → {} {} {}{}",
                l.settlement_id.as_deref().unwrap_or("-"),
                l.role,
                l.erp_kind,
                l.erp_document.as_str(),
                l.payout_id
                    .as_deref()
                    .map(|p| format!(" (payout {p})"))
                    .unwrap_or_default()
            );
        }
        // The settlements that paid this order (the index `run` keeps).
        let settled = if kind == EventKind::Order {
            settlements_of(store, &record, &mut out).await?
        } else {
            0
        };
        if own.is_empty() && settled == 0 {
            let _ = writeln!(
                out,
                "    (not settled yet: no reconciled settlement names this {noun})"
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

/// Writes the settlements that paid an order — its lines in each, the settlement's journals,
/// and the payout (the bank deposit) with its journal — from the order's
/// [`crate::settled::LINK_KIND`] children. Returns how many settlements.
async fn settlements_of(
    store: &dyn Store,
    order: &RecordKey,
    out: &mut String,
) -> Result<usize, BoxError> {
    let links: Vec<_> = store
        .snapshots_of(order)
        .await?
        .into_iter()
        .filter(|s| s.record.kind.name() == crate::settled::LINK_KIND)
        .collect();
    for link in &links {
        let b = &link.body;
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_owned();
        let money = |v: &serde_json::Value| {
            serde_json::from_value::<marketsync_core::Money>(v.clone())
                .map_or_else(|_| "-".to_owned(), |m| m.to_string())
        };
        let settlement_id = text(&b["settlement_id"]);
        let _ = writeln!(
            out,
            "    settlement {settlement_id} ({}, period {} → {}, revision {}):",
            text(&b["currency"]),
            text(&b["period_start"]),
            text(&b["period_end"]),
            revision(&link.revision)
        );
        for l in b["lines"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let _ = write!(
                out,
                "      line {:<4} {:<12} {:>14}  booked {}",
                l["line"].as_u64().map_or("-".into(), |n| n.to_string()),
                match (l["kind"]["type"].as_str(), l["kind"]["code"].as_str()) {
                    (Some(t), Some(code)) => format!("{t} {code}"),
                    (Some(t), None) => t.to_owned(),
                    _ => "-".to_owned(),
                },
                money(&l["amount"]),
                text(&l["posted_at"])
            );
            if let Some(r) = l["reference"].as_str() {
                let _ = write!(out, "  ref {r}");
            }
            let _ = writeln!(out);
        }
        let record = RecordKey {
            channel: link.record.channel.clone(),
            shop: link.record.shop.clone(),
            kind: EventKind::Settlement,
            external_id: settlement_id.clone(),
        };
        let mut journals = store.lineage(&LineageQuery::Record(record)).await?;
        journals.sort_by(|a, b| a.at.cmp(&b.at).then(a.document_key.cmp(&b.document_key)));
        for j in journals.iter().filter(|j| j.role != "payout") {
            let _ = writeln!(
                out,
                "      {:<16} {:<14} {:<10} rev {} at {}",
                j.role,
                j.erp_kind,
                j.erp_document.as_str(),
                revision(&j.revision),
                j.at.to_rfc3339()
            );
        }
        match b.get("payout").filter(|p| !p.is_null()) {
            Some(p) => {
                let _ = write!(
                    out,
                    "    payout {}: {} deposited {}",
                    text(&p["id"]),
                    money(&p["amount"]),
                    text(&p["paid_at"])
                );
                if let Some(r) = p["bank_reference"].as_str() {
                    let _ = write!(out, " (bank reference {r})");
                }
                let _ = writeln!(out);
                let booked: Vec<_> = journals.iter().filter(|j| j.role == "payout").collect();
                if booked.is_empty() {
                    let _ = writeln!(out, "      (no payout journal booked)");
                }
                for j in booked {
                    let _ = writeln!(
                        out,
                        "      {:<16} {:<14} {:<10} rev {} at {}",
                        j.role,
                        j.erp_kind,
                        j.erp_document.as_str(),
                        revision(&j.revision),
                        j.at.to_rfc3339()
                    );
                }
            }
            None => {
                let _ = writeln!(out, "    payout: not yet known");
            }
        }
    }
    Ok(links.len())
}

/// `report`: a self-contained HTML report of what a store holds — exceptions by channel,
/// reason and status (with a chart of the open ones), the idempotency ledger's states and the
/// latest audit entries. (The demo's channel P&L and KPIs need every order's canonical record
/// and the pass counts, which the store does not list; they are in `demo`'s report only.)
pub async fn report(store: Arc<dyn Store>, title: &str) -> Result<String, BoxError> {
    use crate::html::{Bar, bar_chart, escape};
    let all = store
        .exceptions(&ExceptionFilter {
            limit: Some(100_000),
            ..ExceptionFilter::default()
        })
        .await?;
    // channel → reason → (open, resolved, replayed)
    let mut table: BTreeMap<String, BTreeMap<String, [u64; 3]>> = BTreeMap::new();
    let mut open_by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for x in &all {
        let slot = match x.status {
            ExceptionStatus::Open => 0,
            ExceptionStatus::Resolved => 1,
            ExceptionStatus::Replayed => 2,
        };
        let row = table
            .entry(x.stream.channel.to_string())
            .or_default()
            .entry(x.reason.as_str().to_string())
            .or_default();
        row[slot] = row[slot].saturating_add(1);
        if x.status == ExceptionStatus::Open {
            *open_by_reason
                .entry(x.reason.as_str().to_string())
                .or_default() += 1;
        }
    }
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2rem;color:#111}}h1{{font-size:1.6rem}}\
         table{{border-collapse:collapse;margin:1rem 0;font-size:.85rem}}td,th{{border:1px solid #ccc;padding:3px 6px}}\
         th{{background:#f3f4f6}}.num{{text-align:right;font-variant-numeric:tabular-nums}}</style></head><body>\
         <h1>{t}</h1><p>Generated {g} from the {b} store.</p>",
        t = escape(title),
        g = escape(&Utc::now().to_rfc3339()),
        b = store.backend()
    );
    h.push_str("<h2>Exceptions</h2><table><tr><th>channel</th><th>reason</th><th>open</th><th>resolved</th><th>replayed</th></tr>");
    for (channel, reasons) in &table {
        for (reason, [open, resolved, replayed]) in reasons {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{open}</td><td class=\"num\">{resolved}</td><td class=\"num\">{replayed}</td></tr>",
                escape(channel),
                escape(reason)
            );
        }
    }
    h.push_str("</table>");
    let bars: Vec<Bar> = open_by_reason
        .iter()
        .map(|(r, n)| Bar::count(r.clone(), *n))
        .collect();
    if !bars.is_empty() {
        h.push_str(&bar_chart("Open exceptions by reason", &bars));
    }
    h.push_str("<h2>Idempotency ledger</h2><table><tr><th>state</th><th>entries</th></tr>");
    for (state, n) in store.ledger_counts().await? {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{n}</td></tr>",
            escape(&format!("{state:?}"))
        );
    }
    h.push_str("</table><h2>Latest audit entries</h2><table><tr><th>#</th><th>at</th><th>actor</th><th>action</th><th>subject</th></tr>");
    // Page through the log, keeping the latest 50.
    let mut latest = std::collections::VecDeque::with_capacity(51);
    let mut total: u64 = 0;
    let mut after = 0;
    loop {
        let page = store.audit_log(after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for a in page {
            total = total.saturating_add(1);
            latest.push_back(a);
            if latest.len() > 50 {
                latest.pop_front();
            }
        }
    }
    for a in latest.iter().rev() {
        let _ = write!(
            h,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.seq,
            escape(&a.at.to_rfc3339()),
            escape(&a.actor),
            escape(&a.action),
            escape(&a.subject)
        );
    }
    let _ = write!(
        h,
        "</table><p>{total} audit entries in all.</p></body></html>"
    );
    Ok(h)
}

fn revision(r: &marketsync_core::Revision) -> String {
    match r {
        marketsync_core::Revision::UpdatedAt(t) => t.to_rfc3339(),
        marketsync_core::Revision::Version(v) => format!("v{v}"),
    }
}
