//! The embedded SQLite store (feature `sqlite`, on by default): a file (WAL, `synchronous =
//! NORMAL`, so a committed transaction survives a process crash) or an in-memory database.
//!
//! One connection serves the process; calls run on Tokio's blocking pool so they never stall
//! the async workers. Multi-row writes ([`Store::archive_raw`], [`Store::finish`],
//! [`Store::complete_event`], [`Store::record_exception`]) are one transaction each.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use marketsync_core::{
    ContentHash, Cursor, Error, ErrorKind, IdempotencyKey, RawRecord, ReasonCode, Result,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::migrations::{BOOTSTRAP, MIGRATIONS};
use super::rows::*;
use super::*;

const BACKEND: &str = "sqlite";

fn map_err(e: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        {
            return already_processed(BACKEND);
        }
        if matches!(
            f.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        ) {
            return Error::new(ErrorKind::Unavailable, "sqlite database is busy")
                .with_context("store", BACKEND)
                .with_source(e);
        }
    }
    Error::new(ErrorKind::Unexpected, "sqlite store error")
        .with_context("store", BACKEND)
        .with_source(e)
}

/// Every statement goes through SQLite's prepared-statement cache: the pipeline runs the same
/// few statements for every record, so parsing them once saves most of the CPU per call.
trait Cached {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn row<T, P: rusqlite::Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T, P: rusqlite::Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// The SQLite store. Cheap to clone (one shared connection).
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (or creates) a database file in WAL mode and migrates it.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection> {
            let conn = Connection::open(&p).map_err(map_err)?;
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(map_err)?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(map_err)?;
            // A checkpoint copies the WAL back and syncs the file: every 16 MiB of WAL instead
            // of SQLite's 4 MiB (a page written by many transactions is copied once).
            conn.pragma_update(None, "wal_autocheckpoint", 4000)
                .map_err(map_err)?;
            Ok(conn)
        })
        .await
        .map_err(join_err)??;
        SqliteStore::init(conn, Some(path)).await
    }

    /// An in-memory database (gone when the last clone is dropped).
    pub async fn in_memory() -> Result<SqliteStore> {
        let conn = Connection::open_in_memory().map_err(map_err)?;
        SqliteStore::init(conn, None).await
    }

    async fn init(conn: Connection, path: Option<PathBuf>) -> Result<SqliteStore> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(map_err)?;
        conn.set_prepared_statement_cache_capacity(64);
        let store = SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path,
        };
        store.with(migrate).await?;
        Ok(store)
    }

    /// The database file, if not in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    async fn with<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(join_err)?
    }
}

fn join_err(e: tokio::task::JoinError) -> Error {
    Error::new(ErrorKind::Unexpected, "store task failed")
        .with_context("store", BACKEND)
        .with_source(e)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(BOOTSTRAP).map_err(map_err)?;
    for m in MIGRATIONS {
        let tx = conn.transaction().map_err(map_err)?;
        let done: Option<i64> = tx
            .row(
                "SELECT version FROM ms_migrations WHERE version = ?1",
                params![m.version],
                |r| r.get(0),
            )
            .optional()
            .map_err(map_err)?;
        if done.is_none() {
            tx.execute_batch(m.sqlite).map_err(map_err)?;
            tx.exec(
                "INSERT INTO ms_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                params![m.version, m.name, micros(Utc::now())],
            )
            .map_err(map_err)?;
        }
        tx.commit().map_err(map_err)?;
    }
    Ok(())
}

fn ledger_row(r: &Row<'_>) -> rusqlite::Result<RawLedger> {
    Ok(RawLedger {
        key: r.get(0)?,
        scope: r.get(1)?,
        state: r.get(2)?,
        owner: r.get(3)?,
        lease_until: r.get(4)?,
        attempts: r.get(5)?,
        erp_document: r.get(6)?,
        reason: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

fn exception_row(r: &Row<'_>) -> rusqlite::Result<RawException> {
    Ok(RawException {
        id: r.get(0)?,
        fingerprint: r.get(1)?,
        channel: r.get(2)?,
        shop: r.get(3)?,
        stream: r.get(4)?,
        kind: r.get(5)?,
        external_id: r.get(6)?,
        event_key: r.get(7)?,
        reason: r.get(8)?,
        message: r.get(9)?,
        content_hash: r.get(10)?,
        canonical: r.get(11)?,
        win_start: r.get(12)?,
        win_end: r.get(13)?,
        attempts: r.get(14)?,
        first_seen: r.get(15)?,
        last_seen: r.get(16)?,
        status: r.get(17)?,
    })
}

fn lineage_row(r: &Row<'_>) -> rusqlite::Result<RawLineage> {
    Ok(RawLineage {
        document_key: r.get(0)?,
        event_key: r.get(1)?,
        channel: r.get(2)?,
        shop: r.get(3)?,
        kind: r.get(4)?,
        external_id: r.get(5)?,
        revision: r.get(6)?,
        content_hash: r.get(7)?,
        role: r.get(8)?,
        erp_document: r.get(9)?,
        erp_kind: r.get(10)?,
        rulebook_version: r.get(11)?,
        settlement_id: r.get(12)?,
        settlement_line: r.get(13)?,
        payout_id: r.get(14)?,
        at: r.get(15)?,
    })
}

fn get_ledger(conn: &Connection, key: &str) -> Result<Option<LedgerEntry>> {
    conn.row(
        &format!("SELECT {LEDGER_COLS} FROM ms_ledger WHERE key = ?1"),
        params![key],
        ledger_row,
    )
    .optional()
    .map_err(map_err)?
    .map(RawLedger::into_entry)
    .transpose()
}

fn insert_raw(tx: &Connection, r: &RawRecord, now: DateTime<Utc>) -> Result<usize> {
    tx.exec(
        "INSERT INTO ms_raw (hash, media_type, source, bytes, first_seen) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (hash) DO NOTHING",
        params![
            r.content_hash.as_str(),
            r.media_type,
            r.source,
            r.bytes,
            micros(now)
        ],
    )
    .map_err(map_err)
}

fn end_ledger(
    tx: &Connection,
    key: &IdempotencyKey,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<()> {
    let (state, doc, reason) = outcome.parts();
    let n = tx
        .exec(
            "UPDATE ms_ledger SET state = ?2, erp_document = COALESCE(?3, erp_document), \
             reason = ?4, updated_at = ?5 WHERE key = ?1",
            params![key.as_str(), state.as_str(), doc, reason, micros(now)],
        )
        .map_err(map_err)?;
    if n == 0 {
        return Err(
            Error::new(ErrorKind::NotFound, "no ledger entry to finish").with_context("key", key)
        );
    }
    Ok(())
}

fn insert_lineage(tx: &Connection, l: &Lineage) -> Result<()> {
    tx.exec(
        &format!(
            "INSERT INTO ms_lineage ({LINEAGE_COLS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
             ON CONFLICT (document_key) DO NOTHING"
        ),
        params![
            l.document_key.as_str(),
            l.event_key.as_str(),
            l.record.channel.name(),
            l.record.shop.as_str(),
            l.record.kind.name(),
            l.record.external_id,
            revision_json(&l.revision)?,
            l.content_hash.as_ref().map(ContentHash::as_str),
            l.role,
            l.erp_document.as_str(),
            l.erp_kind,
            l.rulebook_version,
            l.settlement_id,
            l.settlement_line.map(i64::from),
            l.payout_id,
            micros(l.at),
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

fn cursor_in(c: &Connection, s: &StreamKey, st: &CursorState, now: DateTime<Utc>) -> Result<()> {
    let (ws, we) = window_parts(st.window.as_ref());
    c.exec(
        "INSERT INTO ms_cursor (channel, shop, stream, watermark, win_start, win_end, page, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (channel, shop, stream) DO UPDATE SET watermark = excluded.watermark, \
         win_start = excluded.win_start, win_end = excluded.win_end, page = excluded.page, \
         updated_at = excluded.updated_at",
        params![
            s.channel.name(),
            s.shop.as_str(),
            s.stream,
            st.watermark.map(micros),
            ws,
            we,
            st.page.as_ref().map(Cursor::as_str),
            micros(now)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

/// A claim: the primary key decides (a losing `INSERT` is "already processed"). Inside a
/// batch's transaction SQLite rolls back only the failed statement, so the batch goes on.
fn claim_in(c: &Connection, req: &ClaimRequest) -> Result<Claim> {
    let now = micros(req.now);
    let inserted = c
        .exec(
            "INSERT INTO ms_ledger (key, scope, state, owner, lease_until, attempts, created_at, updated_at) \
             VALUES (?1, ?2, 'pending', ?3, ?4, 1, ?5, ?5)",
            params![
                req.key.as_str(),
                req.scope,
                req.owner,
                micros(req.lease_until()),
                now
            ],
        )
        .map_err(map_err);
    let acquired = match inserted {
        Ok(_) => true,
        Err(e) if is_already_processed(&e) => false,
        Err(e) => return Err(e),
    };
    let entry = get_ledger(c, req.key.as_str())?
        .ok_or_else(|| corrupt("ledger entry vanished after claim"))?;
    Ok(if acquired {
        Claim::Acquired(entry)
    } else {
        Claim::Existing(entry)
    })
}

fn finish_in(
    c: &Connection,
    key: &IdempotencyKey,
    outcome: &Outcome,
    lineage: Option<&Lineage>,
    now: DateTime<Utc>,
) -> Result<()> {
    end_ledger(c, key, outcome, now)?;
    if let Some(l) = lineage {
        insert_lineage(c, l)?;
    }
    Ok(())
}

fn head_in(c: &Connection, rk: &RecordKey) -> Result<Option<Head>> {
    let row: Option<(String, String, String, i64)> = c
        .row(
            "SELECT revision, event_key, state, updated_at FROM ms_head \
             WHERE channel = ?1 AND shop = ?2 AND kind = ?3 AND external_id = ?4",
            params![
                rk.channel.name(),
                rk.shop.as_str(),
                rk.kind.name(),
                rk.external_id
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(map_err)?;
    row.map(|(rev, key, state, at)| {
        Ok(Head {
            record: rk.clone(),
            revision: parse_revision(&rev)?,
            event_key: parse_key(&key)?,
            state: parse_json(&state)?,
            updated_at: from_micros(at)?,
        })
    })
    .transpose()
}

fn complete_in(
    c: &Connection,
    key: &IdempotencyKey,
    outcome: &Outcome,
    head: Option<&Head>,
    now: DateTime<Utc>,
) -> Result<()> {
    end_ledger(c, key, outcome, now)?;
    if let Some(h) = head {
        let r = &h.record;
        c.exec(
            "INSERT INTO ms_head (channel, shop, kind, external_id, revision, event_key, state, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (channel, shop, kind, external_id) DO UPDATE SET \
             revision = excluded.revision, event_key = excluded.event_key, \
             state = excluded.state, updated_at = excluded.updated_at",
            params![
                r.channel.name(),
                r.shop.as_str(),
                r.kind.name(),
                r.external_id,
                revision_json(&h.revision)?,
                h.event_key.as_str(),
                json_text(&h.state),
                micros(h.updated_at)
            ],
        )
        .map_err(map_err)?;
        if matches!(outcome, Outcome::Posted(_)) {
            c.exec(
                "UPDATE ms_exception SET status = 'resolved', last_seen = ?5 \
                 WHERE channel = ?1 AND shop = ?2 AND kind = ?3 AND external_id = ?4 \
                 AND status = 'open'",
                params![
                    r.channel.name(),
                    r.shop.as_str(),
                    r.kind.name(),
                    r.external_id,
                    micros(now)
                ],
            )
            .map_err(map_err)?;
        }
    }
    Ok(())
}

fn snapshot_in(c: &Connection, s: &Snapshot) -> Result<()> {
    let (pc, ps, pk, pid) = parent_cols(s);
    let r = &s.record;
    c.exec(
        "INSERT INTO ms_snapshot (channel, shop, kind, external_id, revision, parent_channel, \
         parent_shop, parent_kind, parent_id, body, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
         ON CONFLICT (channel, shop, kind, external_id) DO UPDATE SET \
         revision = excluded.revision, parent_channel = excluded.parent_channel, \
         parent_shop = excluded.parent_shop, parent_kind = excluded.parent_kind, \
         parent_id = excluded.parent_id, body = excluded.body, \
         updated_at = excluded.updated_at",
        params![
            r.channel.name(),
            r.shop.as_str(),
            r.kind.name(),
            r.external_id,
            revision_json(&s.revision)?,
            pc,
            ps,
            pk,
            pid,
            s.stored_body(),
            micros(s.updated_at)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

/// One step of a batch, inside its transaction.
fn apply_op(c: &Connection, op: &BatchOp) -> Result<BatchReply> {
    Ok(match op {
        BatchOp::ArchiveRaw { records, now } => {
            let mut n = 0;
            for r in records {
                n += insert_raw(c, r, *now)?;
            }
            BatchReply::Archived(n)
        }
        BatchOp::Claim(req) => BatchReply::Claim(claim_in(c, req)?),
        BatchOp::Finish {
            key,
            outcome,
            lineage,
            now,
        } => {
            finish_in(c, key, outcome, lineage.as_deref(), *now)?;
            BatchReply::Done
        }
        BatchOp::CompleteEvent {
            key,
            outcome,
            head,
            now,
        } => {
            complete_in(c, key, outcome, head.as_deref(), *now)?;
            BatchReply::Done
        }
        BatchOp::SaveSnapshot(s) => {
            snapshot_in(c, s)?;
            BatchReply::Done
        }
        BatchOp::SaveCursor { stream, state, now } => {
            cursor_in(c, stream, state, *now)?;
            BatchReply::Done
        }
        BatchOp::Head(record) => BatchReply::Head(head_in(c, record)?),
        BatchOp::ClaimEvent(e) => {
            let claim = claim_in(c, &e.event)?;
            let head = head_in(c, &e.record)?;
            let documents = if matches!(claim, Claim::Acquired(_)) && e.plan_holds(head.as_ref()) {
                Some(
                    e.documents
                        .iter()
                        .map(|d| claim_in(c, d))
                        .collect::<Result<Vec<_>>>()?,
                )
            } else {
                None
            };
            BatchReply::Event(Box::new(EventClaimed {
                claim,
                head,
                documents,
            }))
        }
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn schema_version(&self) -> Result<i64> {
        self.with(|c| {
            c.row(
                "SELECT COALESCE(MAX(version), 0) FROM ms_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(map_err)
        })
        .await
    }

    async fn cursor(&self, stream: &StreamKey) -> Result<Option<CursorState>> {
        let s = stream.clone();
        self.with(move |c| {
            let row: Option<(Option<i64>, Option<i64>, Option<i64>, Option<String>)> = c
                .row(
                    "SELECT watermark, win_start, win_end, page FROM ms_cursor \
                     WHERE channel = ?1 AND shop = ?2 AND stream = ?3",
                    params![s.channel.name(), s.shop.as_str(), s.stream],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .map_err(map_err)?;
            row.map(|(w, ws, we, p)| {
                Ok(CursorState {
                    watermark: w.map(from_micros).transpose()?,
                    window: window_from(ws, we)?,
                    page: p.map(Cursor::new),
                })
            })
            .transpose()
        })
        .await
    }

    async fn save_cursor(
        &self,
        stream: &StreamKey,
        state: &CursorState,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let s = stream.clone();
        let st = state.clone();
        self.with(move |c| cursor_in(c, &s, &st, now)).await
    }

    async fn archive_raw(&self, records: &[RawRecord], now: DateTime<Utc>) -> Result<usize> {
        if records.is_empty() {
            return Ok(0);
        }
        let records = records.to_vec();
        self.with(move |c| {
            let tx = c.transaction().map_err(map_err)?;
            let mut n = 0;
            for r in &records {
                n += insert_raw(&tx, r, now)?;
            }
            tx.commit().map_err(map_err)?;
            Ok(n)
        })
        .await
    }

    async fn raw(&self, hash: &ContentHash) -> Result<Option<RawRecord>> {
        let h = hash.clone();
        self.with(move |c| {
            c.row(
                "SELECT media_type, source, bytes FROM ms_raw WHERE hash = ?1",
                params![h.as_str()],
                |r| {
                    Ok(RawRecord {
                        content_hash: h.clone(),
                        media_type: r.get(0)?,
                        source: r.get(1)?,
                        bytes: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(map_err)
        })
        .await
    }

    async fn purge_raw(&self, before: DateTime<Utc>) -> Result<u64> {
        let cutoff = micros(before);
        self.with(move |c| {
            let n = c
                .exec(
                    "DELETE FROM ms_raw WHERE first_seen < ?1 AND NOT EXISTS (\
                     SELECT 1 FROM ms_exception x WHERE x.content_hash = ms_raw.hash \
                     AND x.status = 'open')",
                    params![cutoff],
                )
                .map_err(map_err)?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        })
        .await
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Claim> {
        let req = request.clone();
        self.with(move |c| claim_in(c, &req)).await
    }

    async fn take_over(&self, request: &ClaimRequest) -> Result<Option<LedgerEntry>> {
        let req = request.clone();
        self.with(move |c| {
            c.row(
                &format!(
                    "UPDATE ms_ledger SET owner = ?2, lease_until = ?3, attempts = attempts + 1, \
                     state = 'pending', updated_at = ?4 \
                     WHERE key = ?1 AND (state = 'failed' OR (state = 'pending' AND \
                     (owner = ?2 OR lease_until <= ?4))) RETURNING {LEDGER_COLS}"
                ),
                params![
                    req.key.as_str(),
                    req.owner,
                    micros(req.lease_until()),
                    micros(req.now)
                ],
                ledger_row,
            )
            .optional()
            .map_err(map_err)?
            .map(RawLedger::into_entry)
            .transpose()
        })
        .await
    }

    async fn finish(
        &self,
        key: &IdempotencyKey,
        outcome: &Outcome,
        lineage: Option<&Lineage>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (key, outcome, lineage) = (key.clone(), outcome.clone(), lineage.cloned());
        self.with(move |c| {
            let tx = c.transaction().map_err(map_err)?;
            finish_in(&tx, &key, &outcome, lineage.as_ref(), now)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn ledger_entry(&self, key: &IdempotencyKey) -> Result<Option<LedgerEntry>> {
        let key = key.clone();
        self.with(move |c| get_ledger(c, key.as_str())).await
    }

    async fn ledger_counts(&self) -> Result<Vec<(LedgerState, u64)>> {
        self.with(|c| {
            let mut stmt = c
                .prepare("SELECT state, COUNT(*) FROM ms_ledger GROUP BY state ORDER BY state")
                .map_err(map_err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(map_err)?;
            let mut out = Vec::new();
            for row in rows {
                let (s, n) = row.map_err(map_err)?;
                out.push((LedgerState::parse(&s)?, u64::try_from(n).unwrap_or(0)));
            }
            Ok(out)
        })
        .await
    }

    async fn head(&self, record: &RecordKey) -> Result<Option<Head>> {
        let rk = record.clone();
        self.with(move |c| head_in(c, &rk)).await
    }

    async fn complete_event(
        &self,
        event_key: &IdempotencyKey,
        outcome: &Outcome,
        head: Option<&Head>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (key, outcome, head) = (event_key.clone(), outcome.clone(), head.cloned());
        self.with(move |c| {
            let tx = c.transaction().map_err(map_err)?;
            complete_in(&tx, &key, &outcome, head.as_ref(), now)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn lineage(&self, query: &LineageQuery) -> Result<Vec<Lineage>> {
        let q = query.clone();
        self.with(move |c| {
            let base = format!("SELECT {LINEAGE_COLS} FROM ms_lineage WHERE ");
            let rows: Vec<RawLineage> = match &q {
                LineageQuery::Record(r) => {
                    let mut stmt = c
                        .prepare(&format!(
                            "{base} channel = ?1 AND shop = ?2 AND kind = ?3 AND external_id = ?4 ORDER BY at, document_key"
                        ))
                        .map_err(map_err)?;
                    stmt.query_map(
                        params![r.channel.name(), r.shop.as_str(), r.kind.name(), r.external_id],
                        lineage_row,
                    )
                    .map_err(map_err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(map_err)?
                }
                LineageQuery::ErpDocument(id) => {
                    let mut stmt = c
                        .prepare(&format!("{base} erp_document = ?1 ORDER BY at, document_key"))
                        .map_err(map_err)?;
                    stmt.query_map(params![id.as_str()], lineage_row)
                        .map_err(map_err)?
                        .collect::<rusqlite::Result<_>>()
                        .map_err(map_err)?
                }
                LineageQuery::Event(k) => {
                    let mut stmt = c
                        .prepare(&format!("{base} event_key = ?1 ORDER BY at, document_key"))
                        .map_err(map_err)?;
                    stmt.query_map(params![k.as_str()], lineage_row)
                        .map_err(map_err)?
                        .collect::<rusqlite::Result<_>>()
                        .map_err(map_err)?
                }
            };
            rows.into_iter().map(RawLineage::into_lineage).collect()
        })
        .await
    }

    async fn append_audit(&self, entry: &NewAudit) -> Result<i64> {
        let e = entry.clone();
        self.with(move |c| {
            c.row(
                "INSERT INTO ms_audit (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING seq",
                params![micros(e.at), e.actor, e.action, e.subject, json_text(&e.detail)],
                |r| r.get(0),
            )
            .map_err(map_err)
        })
        .await
    }

    async fn audit_log(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        self.with(move |c| {
            let mut stmt = c
                .prepare(
                    "SELECT seq, at, actor, action, subject, detail FROM ms_audit \
                     WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![after_seq, i64::from(limit)], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                })
                .map_err(map_err)?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, at, actor, action, subject, detail) = row.map_err(map_err)?;
                out.push(AuditEntry {
                    seq,
                    at: from_micros(at)?,
                    actor,
                    action,
                    subject,
                    detail: parse_json(&detail)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn record_exception(&self, exception: &NewException) -> Result<ExceptionRecord> {
        let x = exception.clone();
        self.with(move |c| {
            let tx = c.transaction().map_err(map_err)?;
            if let Some(raw) = &x.raw {
                insert_raw(&tx, raw, x.now)?;
            }
            let (ws, we) = window_parts(x.window.as_ref());
            let now = micros(x.now);
            let canonical = x.stored_canonical();
            let raw = tx
                .row(
                    &format!(
                        "INSERT INTO ms_exception (fingerprint, channel, shop, stream, kind, external_id, \
                         event_key, reason, message, content_hash, canonical, win_start, win_end, attempts, \
                         first_seen, last_seen, status) VALUES \
                         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 1, ?14, ?14, 'open') \
                         ON CONFLICT (fingerprint) DO UPDATE SET attempts = ms_exception.attempts + 1, \
                         last_seen = excluded.last_seen, reason = excluded.reason, message = excluded.message, \
                         canonical = COALESCE(excluded.canonical, ms_exception.canonical), \
                         win_start = COALESCE(excluded.win_start, ms_exception.win_start), \
                         win_end = COALESCE(excluded.win_end, ms_exception.win_end), status = 'open' \
                         RETURNING {EXC_COLS}"
                    ),
                    params![
                        x.fingerprint(),
                        x.stream.channel.name(),
                        x.stream.shop.as_str(),
                        x.stream.stream,
                        x.kind.name(),
                        x.external_id,
                        x.event_key.as_ref().map(IdempotencyKey::as_str),
                        x.reason.as_str().as_ref(),
                        x.message,
                        x.raw.as_ref().map(|r| r.content_hash.as_str()),
                        canonical,
                        ws,
                        we,
                        now
                    ],
                    exception_row,
                )
                .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            raw.into_record()
        })
        .await
    }

    async fn exception(&self, id: i64) -> Result<Option<ExceptionRecord>> {
        self.with(move |c| {
            c.row(
                &format!("SELECT {EXC_COLS} FROM ms_exception WHERE id = ?1"),
                params![id],
                exception_row,
            )
            .optional()
            .map_err(map_err)?
            .map(RawException::into_record)
            .transpose()
        })
        .await
    }

    async fn exceptions(&self, filter: &ExceptionFilter) -> Result<Vec<ExceptionRecord>> {
        let f = filter.clone();
        self.with(move |c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {EXC_COLS} FROM ms_exception WHERE (?1 IS NULL OR status = ?1) \
                     AND (?2 IS NULL OR reason = ?2) AND (?3 IS NULL OR channel = ?3) \
                     AND (?4 IS NULL OR external_id = ?4) ORDER BY id LIMIT ?5"
                ))
                .map_err(map_err)?;
            let reason = f.reason.as_ref().map(|r| r.as_str().into_owned());
            let rows = stmt
                .query_map(
                    params![
                        f.status.map(ExceptionStatus::as_str),
                        reason,
                        f.channel.as_ref().map(|c| c.name()),
                        f.external_id,
                        default_limit(f.limit)
                    ],
                    exception_row,
                )
                .map_err(map_err)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row.map_err(map_err)?.into_record()?);
            }
            Ok(out)
        })
        .await
    }

    async fn set_exception_status(
        &self,
        id: i64,
        status: ExceptionStatus,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.with(move |c| {
            let n = c
                .exec(
                    "UPDATE ms_exception SET status = ?2, last_seen = MAX(last_seen, ?3) WHERE id = ?1",
                    params![id, status.as_str(), micros(now)],
                )
                .map_err(map_err)?;
            if n == 0 {
                return Err(Error::new(ErrorKind::NotFound, "no such exception")
                    .with_context("exception", id));
            }
            Ok(())
        })
        .await
    }

    async fn exception_counts(&self) -> Result<Vec<(ReasonCode, u64)>> {
        self.with(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT reason, COUNT(*) FROM ms_exception WHERE status = 'open' \
                     GROUP BY reason ORDER BY reason",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(map_err)?;
            let mut out = Vec::new();
            for row in rows {
                let (reason, n) = row.map_err(map_err)?;
                out.push((reason_from_str(&reason), u64::try_from(n).unwrap_or(0)));
            }
            Ok(out)
        })
        .await
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        let s = snapshot.clone();
        self.with(move |c| snapshot_in(c, &s)).await
    }

    async fn write_batch(&self, ops: Vec<BatchOp>) -> Result<Vec<BatchReply>> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        self.with(move |c| {
            let tx = c.transaction().map_err(map_err)?;
            let mut out = Vec::with_capacity(ops.len());
            for op in &ops {
                out.push(apply_op(&tx, op)?);
            }
            tx.commit().map_err(map_err)?;
            Ok(out)
        })
        .await
    }

    async fn record_delivery(
        &self,
        key: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        let key = key.to_owned();
        self.with(move |c| {
            // New, or replaces a record that has expired; a live record is left alone.
            let n = c
                .exec(
                    "INSERT INTO ms_delivery (key, recorded_at, expires_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (key) DO UPDATE SET recorded_at = excluded.recorded_at, \
                     expires_at = excluded.expires_at WHERE ms_delivery.expires_at <= ?2",
                    params![key, micros(now), micros(expires_at)],
                )
                .map_err(map_err)?;
            Ok(n > 0)
        })
        .await
    }

    async fn delivery_seen(&self, key: &str, now: DateTime<Utc>) -> Result<bool> {
        let key = key.to_owned();
        self.with(move |c| {
            let found: Option<i64> = c
                .row(
                    "SELECT 1 FROM ms_delivery WHERE key = ?1 AND expires_at > ?2",
                    params![key, micros(now)],
                    |r| r.get(0),
                )
                .optional()
                .map_err(map_err)?;
            Ok(found.is_some())
        })
        .await
    }

    async fn purge_deliveries(&self, now: DateTime<Utc>) -> Result<u64> {
        self.with(move |c| {
            let n = c
                .exec(
                    "DELETE FROM ms_delivery WHERE expires_at <= ?1",
                    params![micros(now)],
                )
                .map_err(map_err)?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        })
        .await
    }

    async fn snapshot(&self, record: &RecordKey) -> Result<Option<Snapshot>> {
        let rk = record.clone();
        self.with(move |c| {
            c.row(
                &format!(
                    "SELECT {SNAPSHOT_COLS} FROM ms_snapshot \
                     WHERE channel = ?1 AND shop = ?2 AND kind = ?3 AND external_id = ?4"
                ),
                params![
                    rk.channel.name(),
                    rk.shop.as_str(),
                    rk.kind.name(),
                    rk.external_id
                ],
                snapshot_row,
            )
            .optional()
            .map_err(map_err)?
            .map(RawSnapshot::into_snapshot)
            .transpose()
        })
        .await
    }

    async fn snapshots_of(&self, parent: &RecordKey) -> Result<Vec<Snapshot>> {
        let p = parent.clone();
        self.with(move |c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {SNAPSHOT_COLS} FROM ms_snapshot \
                     WHERE parent_channel = ?1 AND parent_shop = ?2 AND parent_kind = ?3 \
                     AND parent_id = ?4 ORDER BY updated_at, kind, external_id"
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(
                    params![
                        p.channel.name(),
                        p.shop.as_str(),
                        p.kind.name(),
                        p.external_id
                    ],
                    snapshot_row,
                )
                .map_err(map_err)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row.map_err(map_err)?.into_snapshot()?);
            }
            Ok(out)
        })
        .await
    }
}

fn snapshot_row(r: &Row<'_>) -> rusqlite::Result<RawSnapshot> {
    Ok(RawSnapshot {
        channel: r.get(0)?,
        shop: r.get(1)?,
        kind: r.get(2)?,
        external_id: r.get(3)?,
        revision: r.get(4)?,
        parent_channel: r.get(5)?,
        parent_shop: r.get(6)?,
        parent_kind: r.get(7)?,
        parent_id: r.get(8)?,
        body: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn audit_log_is_append_only_and_migrations_rerun() {
        let store = SqliteStore::in_memory().await.unwrap();
        let seq = store
            .append_audit(&NewAudit {
                at: Utc::now(),
                actor: "t".into(),
                action: "a".into(),
                subject: "s".into(),
                detail: serde_json::json!({}),
            })
            .await
            .unwrap();
        let refused = store
            .with(move |c| {
                let u = c.exec(
                    "UPDATE ms_audit SET actor = 'x' WHERE seq = ?1",
                    params![seq],
                );
                let d = c.exec("DELETE FROM ms_audit", []);
                Ok((u.is_err(), d.is_err()))
            })
            .await
            .unwrap();
        assert_eq!(refused, (true, true));
        // Migrating again is a no-op.
        store.with(migrate).await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    }
}
