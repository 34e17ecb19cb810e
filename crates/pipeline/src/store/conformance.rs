//! The store conformance suite: every [`Store`] backend must pass [`run`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use marketsync_pipeline::store::{conformance, sqlite::SqliteStore, Store};
//! let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await?);
//! let report = conformance::run(store).await?;
//! assert!(report.passed.len() >= 10);
//! # Ok(()) }
//! ```
//!
//! The suite uses keys salted with the current time, so it can run more than once against the
//! same database. The only rows it deletes are raw payloads it archived itself with a
//! first-seen time decades in the past (the raw-purge check), and expired delivery records.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use marketsync_core::{
    Channel, Cursor, ErpDocumentId, ErrorKind, EventKind, IdempotencyKey, RawRecord, ReasonCode,
    Revision, ShopId, TimeWindow,
};

use super::*;

/// A failed conformance check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The check.
    pub check: &'static str,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "store conformance check {:?} failed: {}",
            self.check, self.message
        )
    }
}

impl std::error::Error for Failure {}

/// The checks that passed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Names of the passed checks, in order.
    pub passed: Vec<&'static str>,
}

struct Ctx {
    store: Arc<dyn Store>,
    salt: String,
    now: DateTime<Utc>,
    report: Report,
}

type Check<T> = std::result::Result<T, Failure>;

fn fail(check: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        check,
        message: message.into(),
    }
}

fn ensure(check: &'static str, cond: bool, message: impl FnOnce() -> String) -> Check<()> {
    if cond {
        Ok(())
    } else {
        Err(fail(check, message()))
    }
}

trait OrFail<T> {
    fn or_fail(self, check: &'static str) -> Check<T>;
}

impl<T> OrFail<T> for marketsync_core::Result<T> {
    fn or_fail(self, check: &'static str) -> Check<T> {
        self.map_err(|e| fail(check, format!("store error: {e}")))
    }
}

impl Ctx {
    fn key(&self, name: &str) -> IdempotencyKey {
        IdempotencyKey::derive(
            &Channel::Custom("conformance".into()),
            &ShopId::new(&self.salt),
            &EventKind::Order,
            name,
            &Revision::Version(1),
        )
    }

    fn claim(&self, key: &IdempotencyKey, owner: &str, lease_secs: u64) -> ClaimRequest {
        ClaimRequest {
            key: key.clone(),
            scope: "order_event".into(),
            owner: owner.into(),
            now: self.now,
            lease: Duration::from_secs(lease_secs),
        }
    }

    fn record(&self, id: &str) -> RecordKey {
        RecordKey {
            channel: Channel::Custom("conformance".into()),
            shop: ShopId::new(&self.salt),
            kind: EventKind::Order,
            external_id: id.into(),
        }
    }

    fn stream(&self, name: &str) -> StreamKey {
        StreamKey::new(
            Channel::Custom("conformance".into()),
            ShopId::new(&self.salt),
            name,
        )
    }
}

/// Runs every check against `store`. Stops at the first failure.
pub async fn run(store: Arc<dyn Store>) -> std::result::Result<Report, Failure> {
    let now =
        DateTime::<Utc>::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap_or_default();
    let mut ctx = Ctx {
        store,
        salt: format!("run-{}", now.timestamp_micros()),
        now,
        report: Report::default(),
    };
    schema(&mut ctx).await?;
    cursors(&mut ctx).await?;
    raw_archive(&mut ctx).await?;
    ledger(&mut ctx).await?;
    claim_race(&mut ctx, 16).await?;
    many_key_race(&mut ctx).await?;
    heads_and_events(&mut ctx).await?;
    snapshots(&mut ctx).await?;
    exceptions(&mut ctx).await?;
    personal_data(&mut ctx).await?;
    raw_purge(&mut ctx).await?;
    deliveries(&mut ctx).await?;
    audit(&mut ctx).await?;
    Ok(ctx.report)
}

/// A clear `Pii` JSON value, as the model serializes it.
fn clear_pii(value: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"region": "us", "state": "clear", "value": value})
}

async fn personal_data(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "personal_data_masked";
    let s = &*ctx.store;
    let name = format!("Buyer {}", ctx.salt);
    let email = format!("{}@example.com", ctx.salt);
    let street = format!("{} Main Street", ctx.salt);
    let canonical = serde_json::json!({
        "id": "pii-1",
        "buyer": clear_pii(serde_json::json!({"name": name, "email": email})),
        "ship_to": clear_pii(serde_json::json!({"name": name, "lines": [street], "city": "Louisville", "country": "US"})),
    });
    let x = s
        .record_exception(&NewException {
            stream: ctx.stream("orders"),
            kind: EventKind::Order,
            external_id: Some("pii-1".into()),
            event_key: Some(ctx.key("pii-1")),
            reason: ReasonCode::UnknownSku,
            message: "no alias".into(),
            raw: None,
            canonical: Some(canonical.clone()),
            window: None,
            now: ctx.now,
        })
        .await
        .or_fail(C)?;
    let snap = Snapshot {
        record: ctx.record("pii-1"),
        revision: Revision::Version(1),
        parent: None,
        body: canonical,
        updated_at: ctx.now,
    };
    s.save_snapshot(&snap).await.or_fail(C)?;
    let stored_x = s
        .exception(x.id)
        .await
        .or_fail(C)?
        .and_then(|x| x.canonical);
    let stored_s = s.snapshot(&snap.record).await.or_fail(C)?.map(|s| s.body);
    for (what, stored) in [("exception", stored_x), ("snapshot", stored_s)] {
        let Some(stored) = stored else {
            return Err(fail(C, format!("the {what} lost its canonical record")));
        };
        let text = stored.to_string();
        for clear in [&name, &email, &street] {
            ensure(C, !text.contains(clear.as_str()), || {
                format!("the {what} keeps personal data in clear: {text}")
            })?;
        }
        ensure(
            C,
            stored["buyer"]["state"] == "masked"
                && stored["ship_to"]["value"]["city"] == "Louisville"
                && stored["id"] == "pii-1",
            || format!("the {what} is not the masked record: {text}"),
        )?;
    }
    ctx.report.passed.push(C);
    Ok(())
}

async fn raw_purge(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "raw_purge";
    let s = &*ctx.store;
    // Decades ago, so nothing another run or test archived is old enough to go.
    let ancient = DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or_default();
    let cutoff = ancient + chrono::Duration::seconds(1);
    let stale = RawRecord::json(format!("{{\"purge\":\"{}-stale\"}}", ctx.salt), None);
    let held = RawRecord::json(format!("{{\"purge\":\"{}-held\"}}", ctx.salt), None);
    let fresh = RawRecord::json(format!("{{\"purge\":\"{}-fresh\"}}", ctx.salt), None);
    s.archive_raw(std::slice::from_ref(&stale), ancient)
        .await
        .or_fail(C)?;
    s.archive_raw(std::slice::from_ref(&fresh), ctx.now)
        .await
        .or_fail(C)?;
    // An open exception points at `held`: its replay may re-read it.
    let x = s
        .record_exception(&NewException {
            stream: ctx.stream("orders"),
            kind: EventKind::Order,
            external_id: Some("purge-held".into()),
            event_key: None,
            reason: ReasonCode::MalformedPayload,
            message: "malformed".into(),
            raw: Some(held.clone()),
            canonical: None,
            window: None,
            now: ancient,
        })
        .await
        .or_fail(C)?;
    let n = s.purge_raw(cutoff).await.or_fail(C)?;
    ensure(C, n >= 1, || format!("purged {n}"))?;
    ensure(
        C,
        s.raw(&stale.content_hash).await.or_fail(C)?.is_none(),
        || "an old payload survived the purge".into(),
    )?;
    ensure(
        C,
        s.raw(&held.content_hash).await.or_fail(C)?.is_some()
            && s.raw(&fresh.content_hash).await.or_fail(C)?.is_some(),
        || "the purge deleted a payload it must keep".into(),
    )?;
    // Once the exception is closed, its payload goes with the next purge.
    s.set_exception_status(x.id, ExceptionStatus::Resolved, ctx.now)
        .await
        .or_fail(C)?;
    s.purge_raw(cutoff).await.or_fail(C)?;
    ensure(
        C,
        s.raw(&held.content_hash).await.or_fail(C)?.is_none(),
        || "a closed exception's old payload survived the purge".into(),
    )?;
    ensure(
        C,
        s.raw(&fresh.content_hash).await.or_fail(C)?.is_some(),
        || "the purge deleted a recent payload".into(),
    )?;
    let retention = RawRetention::days(30);
    ensure(
        C,
        retention.cutoff(ctx.now) == ctx.now - chrono::Duration::days(30),
        || "retention cutoff".into(),
    )?;
    ctx.report.passed.push(C);
    Ok(())
}

async fn deliveries(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "webhook_deliveries";
    let s = &ctx.store;
    let key = format!("delivery:{}", ctx.salt);
    let now = ctx.now;
    let secs = |n| now + chrono::Duration::seconds(n);
    ensure(C, !s.delivery_seen(&key, now).await.or_fail(C)?, || {
        "an unknown delivery is seen".into()
    })?;
    ensure(
        C,
        s.record_delivery(&key, now, secs(60)).await.or_fail(C)?,
        || "a new delivery was not recorded".into(),
    )?;
    ensure(
        C,
        !s.record_delivery(&key, secs(1), secs(61))
            .await
            .or_fail(C)?,
        || "a recorded delivery was recorded again".into(),
    )?;
    ensure(C, s.delivery_seen(&key, secs(59)).await.or_fail(C)?, || {
        "a recorded delivery is not seen".into()
    })?;
    ensure(
        C,
        !s.delivery_seen(&key, secs(60)).await.or_fail(C)?,
        || "an expired delivery is still seen".into(),
    )?;
    // Racing workers: exactly one records a new key.
    let race = format!("delivery-race:{}", ctx.salt);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = s.clone();
        let race = race.clone();
        tasks.push(tokio::spawn(async move {
            store
                .record_delivery(&race, now, now + chrono::Duration::seconds(60))
                .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(true)) => won += 1,
            Ok(Ok(false)) => {}
            other => return Err(fail(C, format!("racing record: {other:?}"))),
        }
    }
    ensure(C, won == 1, || {
        format!("{won} workers recorded the same delivery")
    })?;
    // Expired: recorded anew; purged once expired.
    ensure(
        C,
        s.record_delivery(&key, secs(61), secs(120))
            .await
            .or_fail(C)?,
        || "an expired delivery could not be recorded again".into(),
    )?;
    let n = s.purge_deliveries(secs(121)).await.or_fail(C)?;
    ensure(C, n >= 2, || format!("purged {n} expired deliveries"))?;
    ensure(
        C,
        !s.delivery_seen(&key, secs(61)).await.or_fail(C)?,
        || "a purged delivery is still seen".into(),
    )?;
    ctx.report.passed.push(C);
    Ok(())
}

async fn snapshots(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "snapshots";
    let s = &*ctx.store;
    let order = ctx.record("snap-order");
    ensure(C, s.snapshot(&order).await.or_fail(C)?.is_none(), || {
        "an unknown record has a snapshot".into()
    })?;
    let first = Snapshot {
        record: order.clone(),
        revision: Revision::Version(1),
        parent: None,
        body: serde_json::json!({"id": "snap-order", "v": 1}),
        updated_at: ctx.now,
    };
    s.save_snapshot(&first).await.or_fail(C)?;
    let got = s.snapshot(&order).await.or_fail(C)?;
    ensure(C, got.as_ref() == Some(&first), || {
        format!("saved {first:?}, read {got:?}")
    })?;
    // A later revision replaces the body.
    let second = Snapshot {
        revision: Revision::Version(2),
        body: serde_json::json!({"id": "snap-order", "v": 2}),
        updated_at: ctx.now + chrono::Duration::seconds(1),
        ..first.clone()
    };
    s.save_snapshot(&second).await.or_fail(C)?;
    let got = s.snapshot(&order).await.or_fail(C)?;
    ensure(C, got.as_ref() == Some(&second), || {
        format!("replaced with {second:?}, read {got:?}")
    })?;
    // Children are found by their parent, oldest first; other records are not.
    let child = |id: &str, secs: i64| Snapshot {
        record: RecordKey {
            kind: EventKind::Refund,
            ..ctx.record(id)
        },
        revision: Revision::Version(1),
        parent: Some(order.clone()),
        body: serde_json::json!({"refund": id}),
        updated_at: ctx.now + chrono::Duration::seconds(secs),
    };
    let (r2, r1) = (child("snap-r2", 5), child("snap-r1", 3));
    s.save_snapshot(&r2).await.or_fail(C)?;
    s.save_snapshot(&r1).await.or_fail(C)?;
    s.save_snapshot(&Snapshot {
        parent: Some(ctx.record("snap-other")),
        ..child("snap-r3", 4)
    })
    .await
    .or_fail(C)?;
    let kids = s.snapshots_of(&order).await.or_fail(C)?;
    ensure(C, kids == vec![r1.clone(), r2.clone()], || {
        format!("children of the order: {kids:?}")
    })?;
    ensure(
        C,
        s.snapshots_of(&ctx.record("snap-none"))
            .await
            .or_fail(C)?
            .is_empty(),
        || "a record without children has some".into(),
    )?;
    ctx.report.passed.push(C);
    Ok(())
}

async fn schema(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "schema_version";
    let v = ctx.store.schema_version().await.or_fail(C)?;
    ensure(C, v == SCHEMA_VERSION, || {
        format!("expected {SCHEMA_VERSION}, got {v}")
    })?;
    ctx.report.passed.push(C);
    Ok(())
}

async fn cursors(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "cursors";
    let s = &*ctx.store;
    let a = ctx.stream("orders");
    let b = ctx.stream("returns");
    ensure(C, s.cursor(&a).await.or_fail(C)?.is_none(), || {
        "a new stream has a cursor".into()
    })?;
    let w = TimeWindow::new(ctx.now - chrono::Duration::hours(1), ctx.now)
        .ok_or_else(|| fail(C, "bad window"))?;
    let st = CursorState {
        watermark: Some(ctx.now - chrono::Duration::hours(2)),
        window: Some(w),
        page: Some(Cursor::new("offset:100")),
    };
    s.save_cursor(&a, &st, ctx.now).await.or_fail(C)?;
    let got = s.cursor(&a).await.or_fail(C)?;
    ensure(C, got.as_ref() == Some(&st), || {
        format!("saved {st:?}, read {got:?}")
    })?;
    let done = CursorState {
        watermark: Some(ctx.now),
        window: None,
        page: None,
    };
    s.save_cursor(&a, &done, ctx.now).await.or_fail(C)?;
    let got = s.cursor(&a).await.or_fail(C)?;
    ensure(C, got.as_ref() == Some(&done), || {
        format!("updated to {done:?}, read {got:?}")
    })?;
    ensure(C, s.cursor(&b).await.or_fail(C)?.is_none(), || {
        "streams are not independent".into()
    })?;
    ctx.report.passed.push(C);
    Ok(())
}

async fn raw_archive(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "raw_archive_dedup";
    let s = &*ctx.store;
    let one = RawRecord::json(format!("{{\"id\":\"{}-1\"}}", ctx.salt), Some("test"));
    let two = RawRecord::json(format!("{{\"id\":\"{}-2\"}}", ctx.salt), None);
    let n = s
        .archive_raw(&[one.clone(), two.clone(), one.clone()], ctx.now)
        .await
        .or_fail(C)?;
    ensure(C, n == 2, || {
        format!("3 records with one repeat stored {n}")
    })?;
    let n = s
        .archive_raw(std::slice::from_ref(&one), ctx.now)
        .await
        .or_fail(C)?;
    ensure(C, n == 0, || {
        format!("a known payload was stored again ({n})")
    })?;
    let back = s.raw(&one.content_hash).await.or_fail(C)?;
    ensure(C, back.as_ref() == Some(&one), || {
        "the archived payload differs".into()
    })?;
    let missing = marketsync_core::ContentHash::of(ctx.salt.as_bytes());
    ensure(C, s.raw(&missing).await.or_fail(C)?.is_none(), || {
        "an unknown hash was found".into()
    })?;
    ctx.report.passed.push(C);
    Ok(())
}

async fn ledger(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "ledger_lifecycle";
    let s = &*ctx.store;
    let k = ctx.key("ledger-1");
    let first = s.claim(&ctx.claim(&k, "w1", 60)).await.or_fail(C)?;
    let Claim::Acquired(e) = first else {
        return Err(fail(C, format!("a new key was not acquired: {first:?}")));
    };
    ensure(
        C,
        e.state == LedgerState::Pending && e.owner == "w1" && e.attempts == 1,
        || format!("fresh entry {e:?}"),
    )?;
    // A second claim is "already processed", whoever makes it.
    match s.claim(&ctx.claim(&k, "w2", 60)).await.or_fail(C)? {
        Claim::Existing(e) if e.owner == "w1" && e.state == LedgerState::Pending => {}
        other => return Err(fail(C, format!("second claim answered {other:?}"))),
    }
    // Another worker cannot take over a live lease; the owner (restarted) can.
    let t = s.take_over(&ctx.claim(&k, "w2", 60)).await.or_fail(C)?;
    ensure(C, t.is_none(), || format!("took over a live lease: {t:?}"))?;
    let t = s.take_over(&ctx.claim(&k, "w1", 60)).await.or_fail(C)?;
    ensure(C, t.as_ref().is_some_and(|e| e.attempts == 2), || {
        format!("the owner could not resume its claim: {t:?}")
    })?;
    // After the lease, anyone can.
    let mut late = ctx.claim(&k, "w3", 60);
    late.now = ctx.now + chrono::Duration::seconds(61);
    let t = s.take_over(&late).await.or_fail(C)?;
    ensure(C, t.as_ref().is_some_and(|e| e.owner == "w3"), || {
        format!("an expired lease was not taken over: {t:?}")
    })?;
    // Posted with lineage.
    let doc = ErpDocumentId::new(format!("DOC-{}", ctx.salt));
    let lineage = Lineage {
        document_key: k.child("sales_order"),
        event_key: k.clone(),
        record: ctx.record("ledger-1"),
        revision: Revision::Version(1),
        content_hash: Some(marketsync_core::ContentHash::of(b"x")),
        role: "sales_order".into(),
        erp_document: doc.clone(),
        erp_kind: "sales_order".into(),
        rulebook_version: Some("rb-1".into()),
        settlement_id: None,
        settlement_line: None,
        payout_id: None,
        at: ctx.now,
    };
    s.finish(&k, &Outcome::Posted(doc.clone()), Some(&lineage), ctx.now)
        .await
        .or_fail(C)?;
    // Idempotent lineage insert.
    s.finish(&k, &Outcome::Posted(doc.clone()), Some(&lineage), ctx.now)
        .await
        .or_fail(C)?;
    match s.claim(&ctx.claim(&k, "w4", 60)).await.or_fail(C)? {
        Claim::Existing(e)
            if e.state == LedgerState::Posted && e.erp_document.as_ref() == Some(&doc) => {}
        other => return Err(fail(C, format!("claim after posting answered {other:?}"))),
    }
    let t = s.take_over(&late).await.or_fail(C)?;
    ensure(C, t.is_none(), || "a posted key was taken over".into())?;
    let found = s
        .lineage(&LineageQuery::ErpDocument(doc.clone()))
        .await
        .or_fail(C)?;
    ensure(C, found == vec![lineage.clone()], || {
        format!("lineage by document: {found:?}")
    })?;
    // Failed keys can be taken over by anyone (a replay).
    let f = ctx.key("ledger-failed");
    s.claim(&ctx.claim(&f, "w1", 3600)).await.or_fail(C)?;
    s.finish(&f, &Outcome::Failed("unknown_sku".into()), None, ctx.now)
        .await
        .or_fail(C)?;
    let e = s.ledger_entry(&f).await.or_fail(C)?;
    ensure(
        C,
        e.as_ref().is_some_and(|e| {
            e.state == LedgerState::Failed && e.reason.as_deref() == Some("unknown_sku")
        }),
        || format!("failed entry {e:?}"),
    )?;
    let t = s
        .take_over(&ctx.claim(&f, "replayer", 60))
        .await
        .or_fail(C)?;
    ensure(
        C,
        t.as_ref().is_some_and(|e| e.state == LedgerState::Pending),
        || format!("a failed key was not taken over: {t:?}"),
    )?;
    // Finishing a key nobody claimed is an error, not a silent insert.
    let ghost = ctx.key("ghost");
    match s
        .finish(&ghost, &Outcome::Skipped("x".into()), None, ctx.now)
        .await
    {
        Err(e) if *e.kind() == ErrorKind::NotFound => {}
        other => return Err(fail(C, format!("finishing an unclaimed key: {other:?}"))),
    }
    let counts = s.ledger_counts().await.or_fail(C)?;
    ensure(
        C,
        counts
            .iter()
            .any(|(st, n)| *st == LedgerState::Posted && *n >= 1),
        || format!("ledger counts {counts:?}"),
    )?;
    ctx.report.passed.push(C);
    Ok(())
}

/// `tasks` tasks race to claim one key: exactly one wins, the others see it as existing.
async fn claim_race(ctx: &mut Ctx, tasks: usize) -> Check<()> {
    const C: &str = "concurrent_claims_one_winner";
    let k = ctx.key("race");
    let barrier = Arc::new(tokio::sync::Barrier::new(tasks));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..tasks {
        let store = ctx.store.clone();
        let req = ctx.claim(&k, &format!("racer-{i}"), 60);
        let barrier = barrier.clone();
        set.spawn(async move {
            barrier.wait().await;
            store.claim(&req).await
        });
    }
    let mut won = Vec::new();
    let mut lost = 0;
    while let Some(r) = set.join_next().await {
        match r.map_err(|e| fail(C, e.to_string()))?.or_fail(C)? {
            Claim::Acquired(e) => won.push(e.owner),
            Claim::Existing(_) => lost += 1,
        }
    }
    ensure(C, won.len() == 1 && lost == tasks - 1, || {
        format!("{} winners ({won:?}), {lost} losers", won.len())
    })?;
    let e = ctx.store.ledger_entry(&k).await.or_fail(C)?;
    ensure(C, e.as_ref().map(|e| &e.owner) == won.first(), || {
        format!("the stored owner is not the winner: {e:?} vs {won:?}")
    })?;
    ctx.report.passed.push(C);
    Ok(())
}

/// Four workers claim the same 50 keys in different orders: every key has exactly one winner.
async fn many_key_race(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "concurrent_claims_many_keys";
    let keys: Vec<IdempotencyKey> = (0..50).map(|i| ctx.key(&format!("multi-{i}"))).collect();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..4_usize {
        let store = ctx.store.clone();
        let mut mine = keys.clone();
        if w % 2 == 1 {
            mine.reverse();
        }
        mine.rotate_left(w * 7);
        let now = ctx.now;
        set.spawn(async move {
            let mut won = Vec::new();
            for k in mine {
                let req = ClaimRequest {
                    key: k.clone(),
                    scope: "order_event".into(),
                    owner: format!("w{w}"),
                    now,
                    lease: Duration::from_secs(60),
                };
                if let Claim::Acquired(_) = store.claim(&req).await? {
                    won.push(k);
                }
            }
            Ok::<_, marketsync_core::Error>(won)
        });
    }
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.extend(r.map_err(|e| fail(C, e.to_string()))?.or_fail(C)?);
    }
    all.sort();
    let mut expected = keys;
    expected.sort();
    ensure(C, all == expected, || {
        format!("{} wins for {} keys", all.len(), expected.len())
    })?;
    ctx.report.passed.push(C);
    Ok(())
}

async fn heads_and_events(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "heads_and_events";
    let s = &*ctx.store;
    let rec = ctx.record("head-1");
    ensure(C, s.head(&rec).await.or_fail(C)?.is_none(), || {
        "a new record has a head".into()
    })?;
    // An open exception for the record, resolved when a revision posts.
    let exc = s
        .record_exception(&NewException {
            stream: ctx.stream("orders"),
            kind: EventKind::Order,
            external_id: Some("head-1".into()),
            event_key: None,
            reason: ReasonCode::MalformedPayload,
            message: "bad price".into(),
            raw: Some(RawRecord::json(b"{\"price\":\"x\"}".to_vec(), None)),
            canonical: None,
            window: None,
            now: ctx.now,
        })
        .await
        .or_fail(C)?;
    let k = ctx.key("head-1-v2");
    s.claim(&ctx.claim(&k, "w1", 60)).await.or_fail(C)?;
    let head = Head {
        record: rec.clone(),
        revision: Revision::Version(2),
        event_key: k.clone(),
        state: serde_json::json!({"accrual": {"lines": 2}}),
        updated_at: ctx.now,
    };
    let doc = ErpDocumentId::new("SO-1");
    s.complete_event(&k, &Outcome::Posted(doc), Some(&head), ctx.now)
        .await
        .or_fail(C)?;
    let got = s.head(&rec).await.or_fail(C)?;
    ensure(C, got.as_ref() == Some(&head), || {
        format!("head written {head:?}, read {got:?}")
    })?;
    let e = s.ledger_entry(&k).await.or_fail(C)?;
    ensure(C, e.is_some_and(|e| e.state == LedgerState::Posted), || {
        "the event was not marked posted".into()
    })?;
    let x = s.exception(exc.id).await.or_fail(C)?;
    ensure(
        C,
        x.as_ref()
            .is_some_and(|x| x.status == ExceptionStatus::Resolved),
        || format!("the record's exception was not resolved: {x:?}"),
    )?;
    // A newer head replaces it.
    let k3 = ctx.key("head-1-v3");
    s.claim(&ctx.claim(&k3, "w1", 60)).await.or_fail(C)?;
    let head3 = Head {
        revision: Revision::Version(3),
        event_key: k3.clone(),
        state: serde_json::json!({}),
        ..head.clone()
    };
    s.complete_event(
        &k3,
        &Outcome::Skipped("no_effect".into()),
        Some(&head3),
        ctx.now,
    )
    .await
    .or_fail(C)?;
    let got = s.head(&rec).await.or_fail(C)?;
    ensure(C, got.as_ref() == Some(&head3), || {
        format!("head after update {got:?}")
    })?;
    ctx.report.passed.push(C);
    Ok(())
}

async fn exceptions(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "exception_queue";
    let s = &*ctx.store;
    let raw = RawRecord::json(
        format!("{{\"id\":\"{}\",\"price\":\"12,5O\"}}", ctx.salt),
        Some("test.orders"),
    );
    let w = TimeWindow::new(ctx.now - chrono::Duration::hours(1), ctx.now);
    let new = NewException {
        stream: ctx.stream("orders"),
        kind: EventKind::Order,
        external_id: Some("exc-1".into()),
        event_key: None,
        reason: ReasonCode::MalformedPayload,
        message: "malformed order".into(),
        raw: Some(raw.clone()),
        canonical: None,
        window: w,
        now: ctx.now,
    };
    let a = s.record_exception(&new).await.or_fail(C)?;
    ensure(
        C,
        a.attempts == 1 && a.status == ExceptionStatus::Open && a.window == w,
        || format!("new exception {a:?}"),
    )?;
    let later = ctx.now + chrono::Duration::minutes(5);
    let b = s
        .record_exception(&NewException {
            now: later,
            ..new.clone()
        })
        .await
        .or_fail(C)?;
    ensure(
        C,
        b.id == a.id && b.attempts == 2 && b.first_seen == ctx.now && b.last_seen == later,
        || format!("the same failure seen again: {b:?}"),
    )?;
    let stored = s.raw(&raw.content_hash).await.or_fail(C)?;
    ensure(C, stored.as_ref() == Some(&raw), || {
        "the exception's raw payload is not archived".into()
    })?;
    ensure(
        C,
        b.content_hash.as_ref() == Some(&raw.content_hash),
        || "the exception does not point at its payload".into(),
    )?;
    // A second, different exception with a canonical record.
    let canon = NewException {
        external_id: Some("exc-2".into()),
        event_key: Some(ctx.key("exc-2")),
        reason: ReasonCode::UnknownSku,
        message: "no alias".into(),
        raw: None,
        canonical: Some(serde_json::json!({"id": "exc-2"})),
        ..new.clone()
    };
    let c = s.record_exception(&canon).await.or_fail(C)?;
    ensure(
        C,
        c.id != a.id && c.canonical == canon.canonical && c.event_key == canon.event_key,
        || format!("second exception {c:?}"),
    )?;
    let open_sku = s
        .exceptions(&ExceptionFilter {
            status: Some(ExceptionStatus::Open),
            reason: Some(ReasonCode::UnknownSku),
            external_id: Some("exc-2".into()),
            ..Default::default()
        })
        .await
        .or_fail(C)?;
    ensure(
        C,
        open_sku.iter().any(|x| x.id == c.id)
            && open_sku.iter().all(|x| x.reason == ReasonCode::UnknownSku),
        || format!("filter by reason: {open_sku:?}"),
    )?;
    let counts = s.exception_counts().await.or_fail(C)?;
    ensure(
        C,
        counts
            .iter()
            .any(|(r, n)| *r == ReasonCode::UnknownSku && *n >= 1)
            && counts
                .iter()
                .any(|(r, n)| *r == ReasonCode::MalformedPayload && *n >= 1),
        || format!("counts {counts:?}"),
    )?;
    s.set_exception_status(c.id, ExceptionStatus::Replayed, later)
        .await
        .or_fail(C)?;
    let got = s.exception(c.id).await.or_fail(C)?;
    ensure(
        C,
        got.as_ref()
            .is_some_and(|x| x.status == ExceptionStatus::Replayed),
        || format!("status update: {got:?}"),
    )?;
    // Seen again after a replay: open again.
    let again = s.record_exception(&canon).await.or_fail(C)?;
    ensure(
        C,
        again.id == c.id && again.status == ExceptionStatus::Open,
        || format!("reopened: {again:?}"),
    )?;
    match s
        .set_exception_status(i64::MAX, ExceptionStatus::Resolved, later)
        .await
    {
        Err(e) if *e.kind() == ErrorKind::NotFound => {}
        other => return Err(fail(C, format!("unknown exception id: {other:?}"))),
    }
    ctx.report.passed.push(C);
    Ok(())
}

async fn audit(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "audit_log";
    let s = &*ctx.store;
    let entry = |action: &str| NewAudit {
        at: ctx.now,
        actor: "conformance".into(),
        action: action.into(),
        subject: ctx.salt.clone(),
        detail: serde_json::json!({"n": 1}),
    };
    let a = s.append_audit(&entry("first")).await.or_fail(C)?;
    let b = s.append_audit(&entry("second")).await.or_fail(C)?;
    ensure(C, b > a, || format!("sequence {a} then {b}"))?;
    let log = s.audit_log(a - 1, 10).await.or_fail(C)?;
    let mine: Vec<&str> = log
        .iter()
        .filter(|e| e.subject == ctx.salt)
        .map(|e| e.action.as_str())
        .collect();
    ensure(C, mine == ["first", "second"], || {
        format!("audit log {mine:?}")
    })?;
    ensure(
        C,
        log.first()
            .is_some_and(|e| e.seq == a && e.detail["n"] == 1),
        || format!("first entry {:?}", log.first()),
    )?;
    ctx.report.passed.push(C);
    Ok(())
}

/// Runs the checks of [`Store::write_batch`] against `store`: replies in order, a batch reads
/// its own earlier steps, [`BatchOp::ClaimEvent`] claims documents only on an acquired event
/// whose head is the planned one, and — when `atomic` (the built-in backends; the sequential
/// default is not) — a failing step leaves nothing of its batch behind. Stops at the first
/// failure.
pub async fn run_batches(
    store: Arc<dyn Store>,
    atomic: bool,
) -> std::result::Result<Report, Failure> {
    let now =
        DateTime::<Utc>::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap_or_default();
    let mut ctx = Ctx {
        store,
        salt: format!("batch-{}", now.timestamp_micros()),
        now,
        report: Report::default(),
    };
    batch_steps(&mut ctx).await?;
    batch_event_claims(&mut ctx).await?;
    if atomic {
        batch_atomicity(&mut ctx).await?;
    }
    Ok(ctx.report)
}

async fn batch_steps(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "batch_steps";
    let s = &*ctx.store;
    let raw = RawRecord::json(format!("{{\"batch\":\"{}\"}}", ctx.salt).into_bytes(), None);
    let ev = ctx.key("batch-ev");
    let doc = ev.child("accrual");
    let rec = ctx.record("batch-1");
    let lineage = Lineage {
        document_key: doc.clone(),
        event_key: ev.clone(),
        record: rec.clone(),
        revision: Revision::Version(1),
        content_hash: Some(raw.content_hash.clone()),
        role: "accrual".into(),
        erp_document: ErpDocumentId::new("JE-B1"),
        erp_kind: "journal_entry".into(),
        rulebook_version: Some("v1".into()),
        settlement_id: None,
        settlement_line: None,
        payout_id: None,
        at: ctx.now,
    };
    let head = Head {
        record: rec.clone(),
        revision: Revision::Version(1),
        event_key: ev.clone(),
        state: serde_json::json!({"accrual": "JE-B1"}),
        updated_at: ctx.now,
    };
    let snapshot = Snapshot {
        record: rec.clone(),
        revision: Revision::Version(1),
        parent: None,
        body: serde_json::json!({"id": "batch-1"}),
        updated_at: ctx.now,
    };
    let stream = ctx.stream("batch");
    let cursor = CursorState {
        watermark: Some(ctx.now),
        window: None,
        page: None,
    };
    let replies = s
        .write_batch(vec![
            BatchOp::ArchiveRaw {
                records: vec![raw.clone(), raw.clone()],
                now: ctx.now,
            },
            BatchOp::Head(rec.clone()),
            BatchOp::Claim(ctx.claim(&ev, "w1", 60)),
            BatchOp::Claim(ctx.claim(&ev, "w2", 60)),
            BatchOp::Claim(ctx.claim(&doc, "w1", 60)),
            BatchOp::Finish {
                key: doc.clone(),
                outcome: Outcome::Posted(ErpDocumentId::new("JE-B1")),
                lineage: Some(Box::new(lineage.clone())),
                now: ctx.now,
            },
            BatchOp::CompleteEvent {
                key: ev.clone(),
                outcome: Outcome::Posted(ErpDocumentId::new("JE-B1")),
                head: Some(Box::new(head.clone())),
                now: ctx.now,
            },
            BatchOp::SaveSnapshot(Box::new(snapshot.clone())),
            BatchOp::SaveCursor {
                stream: stream.clone(),
                state: cursor.clone(),
                now: ctx.now,
            },
            BatchOp::Head(rec.clone()),
        ])
        .await
        .or_fail(C)?;
    ensure(C, replies.len() == 10, || {
        format!("10 steps, {} replies", replies.len())
    })?;
    ensure(C, replies[0] == BatchReply::Archived(1), || {
        format!(
            "one new payload of two identical ones, got {:?}",
            replies[0]
        )
    })?;
    ensure(C, replies[1] == BatchReply::Head(None), || {
        format!("a new record has no head, got {:?}", replies[1])
    })?;
    ensure(
        C,
        matches!(&replies[2], BatchReply::Claim(Claim::Acquired(e)) if e.owner == "w1"),
        || format!("the first claim acquires, got {:?}", replies[2]),
    )?;
    ensure(
        C,
        matches!(&replies[3], BatchReply::Claim(Claim::Existing(e)) if e.owner == "w1"),
        || {
            format!(
                "a second claim in the same batch is Existing (held by w1), got {:?}",
                replies[3]
            )
        },
    )?;
    ensure(
        C,
        matches!(&replies[4], BatchReply::Claim(Claim::Acquired(_))),
        || format!("the document claim acquires, got {:?}", replies[4]),
    )?;
    ensure(
        C,
        replies[5..9].iter().all(|r| *r == BatchReply::Done),
        || format!("writes answer Done, got {:?}", &replies[5..9]),
    )?;
    ensure(
        C,
        replies[9] == BatchReply::Head(Some(head.clone())),
        || format!("the batch reads its own head write, got {:?}", replies[9]),
    )?;
    // Everything is there afterwards, as the one-by-one methods would have left it.
    let e = s.ledger_entry(&ev).await.or_fail(C)?;
    ensure(C, e.is_some_and(|e| e.state == LedgerState::Posted), || {
        "the event is not posted".into()
    })?;
    let d = s.ledger_entry(&doc).await.or_fail(C)?;
    ensure(
        C,
        d.as_ref().is_some_and(|d| {
            d.state == LedgerState::Posted
                && d.erp_document.as_ref().map(ErpDocumentId::as_str) == Some("JE-B1")
        }),
        || format!("the document is not posted: {d:?}"),
    )?;
    let links = s
        .lineage(&LineageQuery::Event(ev.clone()))
        .await
        .or_fail(C)?;
    ensure(C, links == vec![lineage.clone()], || {
        format!("lineage {links:?}")
    })?;
    let snap = s.snapshot(&rec).await.or_fail(C)?;
    ensure(C, snap.as_ref() == Some(&snapshot), || {
        format!("snapshot {snap:?}")
    })?;
    let cur = s.cursor(&stream).await.or_fail(C)?;
    ensure(C, cur.as_ref() == Some(&cursor), || {
        format!("cursor {cur:?}")
    })?;
    ensure(
        C,
        s.raw(&raw.content_hash).await.or_fail(C)?.is_some(),
        || "the raw payload is not archived".into(),
    )?;
    ensure(
        C,
        s.write_batch(Vec::new()).await.or_fail(C)?.is_empty(),
        || "an empty batch answers nothing".into(),
    )?;
    ctx.report.passed.push(C);
    Ok(())
}

fn event_claim(
    ctx: &Ctx,
    ev: &IdempotencyKey,
    rec: &RecordKey,
    planned: Option<&Head>,
    docs: &[&IdempotencyKey],
) -> BatchOp {
    BatchOp::ClaimEvent(Box::new(EventClaim {
        event: ctx.claim(ev, "w1", 60),
        record: rec.clone(),
        planned_head: planned.map(|h| (h.event_key.clone(), h.updated_at)),
        documents: docs.iter().map(|d| ctx.claim(d, "w1", 60)).collect(),
    }))
}

fn event_reply(check: &'static str, mut replies: Vec<BatchReply>) -> Check<EventClaimed> {
    match replies.pop() {
        Some(BatchReply::Event(e)) if replies.is_empty() => Ok(*e),
        other => Err(fail(
            check,
            format!("expected one event reply, got {other:?}"),
        )),
    }
}

async fn batch_event_claims(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "batch_event_claims";
    let s = &*ctx.store;
    let rec = ctx.record("batch-ev-2");
    let ev1 = ctx.key("batch-ev-2-r1");
    let (so, acc1) = (ctx.key("batch-ev-2-so"), ev1.child("accrual"));
    // A new record, planned with no head: the event and both documents are claimed.
    let e = event_reply(
        C,
        s.write_batch(vec![event_claim(ctx, &ev1, &rec, None, &[&so, &acc1])])
            .await
            .or_fail(C)?,
    )?;
    ensure(
        C,
        matches!(e.claim, Claim::Acquired(_))
            && e.head.is_none()
            && e.documents
                .as_ref()
                .is_some_and(|d| d.len() == 2 && d.iter().all(|c| matches!(c, Claim::Acquired(_)))),
        || format!("new event with its documents: {e:?}"),
    )?;
    // The same event again: Existing, and no document is claimed.
    let again = event_reply(
        C,
        s.write_batch(vec![event_claim(ctx, &ev1, &rec, None, &[&so])])
            .await
            .or_fail(C)?,
    )?;
    ensure(
        C,
        matches!(again.claim, Claim::Existing(_)) && again.documents.is_none(),
        || format!("a re-claimed event claims no documents: {again:?}"),
    )?;
    // Complete it with a head; a next revision planned from no head claims no document…
    let head = Head {
        record: rec.clone(),
        revision: Revision::Version(1),
        event_key: ev1.clone(),
        state: serde_json::json!({}),
        updated_at: ctx.now,
    };
    s.write_batch(vec![BatchOp::CompleteEvent {
        key: ev1.clone(),
        outcome: Outcome::Posted(ErpDocumentId::new("SO-B")),
        head: Some(Box::new(head.clone())),
        now: ctx.now,
    }])
    .await
    .or_fail(C)?;
    let ev2 = ctx.key("batch-ev-2-r2");
    let acc2 = ev2.child("accrual");
    let stale_plan = event_reply(
        C,
        s.write_batch(vec![event_claim(ctx, &ev2, &rec, None, &[&acc2])])
            .await
            .or_fail(C)?,
    )?;
    ensure(
        C,
        matches!(stale_plan.claim, Claim::Acquired(_))
            && stale_plan.documents.is_none()
            && stale_plan.head.as_ref() == Some(&head),
        || format!("a plan from the wrong head claims no documents: {stale_plan:?}"),
    )?;
    ensure(C, s.ledger_entry(&acc2).await.or_fail(C)?.is_none(), || {
        "a document of a plan that did not hold was claimed".into()
    })?;
    // …while the next one, planned from the head there is, does.
    let ev3 = ctx.key("batch-ev-2-r3");
    let acc3 = ev3.child("accrual");
    let planned = event_reply(
        C,
        s.write_batch(vec![event_claim(ctx, &ev3, &rec, Some(&head), &[&acc3])])
            .await
            .or_fail(C)?,
    )?;
    ensure(
        C,
        planned
            .documents
            .as_ref()
            .is_some_and(|d| matches!(d.as_slice(), [Claim::Acquired(_)])),
        || format!("a plan from the current head claims its documents: {planned:?}"),
    )?;
    ctx.report.passed.push(C);
    Ok(())
}

async fn batch_atomicity(ctx: &mut Ctx) -> Check<()> {
    const C: &str = "batch_atomicity";
    let s = &*ctx.store;
    let k = ctx.key("batch-atomic");
    let missing = ctx.key("batch-never-claimed");
    let result = s
        .write_batch(vec![
            BatchOp::Claim(ctx.claim(&k, "w1", 60)),
            BatchOp::Finish {
                key: missing,
                outcome: Outcome::Skipped("x".into()),
                lineage: None,
                now: ctx.now,
            },
        ])
        .await;
    ensure(C, result.is_err(), || {
        "finishing a key that was never claimed must fail the batch".into()
    })?;
    ensure(C, s.ledger_entry(&k).await.or_fail(C)?.is_none(), || {
        "a failed batch left its claim behind".into()
    })?;
    ctx.report.passed.push(C);
    Ok(())
}
