//! The PostgreSQL store (feature `postgres`), for several workers sharing one database.
//!
//! Idempotency is the database's job: a claim is a plain `INSERT` on the ledger's primary key,
//! and the unique violation (SQLSTATE 23505) of the loser is mapped to the same
//! [`Claim::Existing`] answer the SQLite store gives — no check-then-insert anywhere. Upserts
//! use `ON CONFLICT`. Migrations run under an advisory lock, so workers starting together
//! migrate once.
//!
//! Every store lives in its own schema ([`PgConfig::schema`]), so tests and tenants can share a
//! database without colliding. Connections: a small fixed pool of `tokio-postgres` clients
//! (no TLS: run it on a trusted network or a local socket).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use marketsync_core::{
    ContentHash, Cursor, Error, ErrorKind, IdempotencyKey, RawRecord, ReasonCode, Result,
};
use tokio::sync::{Mutex, MutexGuard};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{Client, GenericClient, NoTls, Row};

use super::migrations::{BOOTSTRAP, MIGRATIONS};
use super::rows::*;
use super::*;

const BACKEND: &str = "postgres";
const MIGRATION_LOCK: i64 = 0x6d73_796e_6331; // "msync1"

fn map_err(e: tokio_postgres::Error) -> Error {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        return already_processed(BACKEND);
    }
    let transient = e.is_closed()
        || e.code().is_some_and(|c| {
            c.code().starts_with("08")
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        });
    let kind = if transient {
        ErrorKind::Unavailable
    } else {
        ErrorKind::Unexpected
    };
    Error::new(kind, "postgres store error")
        .with_context("store", BACKEND)
        .with_source(e)
}

fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
    row.try_get(i).map_err(map_err)
}

/// How to reach PostgreSQL and where to keep the tables.
#[derive(Clone)]
pub struct PgConfig {
    /// A libpq-style connection string: `host=127.0.0.1 port=5432 user=postgres dbname=test`.
    pub conninfo: String,
    /// The schema holding the tables (created if missing): lowercase letters, digits, `_`.
    pub schema: String,
    /// Connections in the pool (default 8).
    pub pool_size: usize,
}

impl std::fmt::Debug for PgConfig {
    /// Hides the connection string: it may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("conninfo", &"<redacted>")
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

impl PgConfig {
    /// A config with the default pool size.
    pub fn new(conninfo: impl Into<String>, schema: impl Into<String>) -> PgConfig {
        PgConfig {
            conninfo: conninfo.into(),
            schema: schema.into(),
            pool_size: 8,
        }
    }

    /// Sets the pool size (at least 1).
    pub fn with_pool_size(mut self, n: usize) -> PgConfig {
        self.pool_size = n.max(1);
        self
    }
}

fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

/// The PostgreSQL store. Cheap to clone (a shared pool).
#[derive(Clone)]
pub struct PgStore {
    pool: Arc<Vec<Mutex<Client>>>,
    next: Arc<AtomicUsize>,
    schema: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .field("connections", &self.pool.len())
            .finish()
    }
}

async fn open_client(conninfo: &str, schema: &str) -> Result<Client> {
    let (client, connection) = tokio_postgres::connect(conninfo, NoTls)
        .await
        .map_err(map_err)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(store = BACKEND, error = %e, "postgres connection ended");
        }
    });
    client
        .batch_execute(&format!("SET search_path TO \"{schema}\""))
        .await
        .map_err(map_err)?;
    Ok(client)
}

impl PgStore {
    /// Connects, creates the schema if missing and migrates it.
    pub async fn connect(config: PgConfig) -> Result<PgStore> {
        if !valid_schema(&config.schema) {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                "schema must be lowercase letters, digits and '_'",
            )
            .with_context("schema", &config.schema));
        }
        let mut first = open_client(&config.conninfo, &config.schema).await?;
        migrate(&mut first, &config.schema).await?;
        let mut pool = vec![Mutex::new(first)];
        for _ in 1..config.pool_size.max(1) {
            pool.push(Mutex::new(
                open_client(&config.conninfo, &config.schema).await?,
            ));
        }
        Ok(PgStore {
            pool: Arc::new(pool),
            next: Arc::new(AtomicUsize::new(0)),
            schema: config.schema,
        })
    }

    /// The schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Drops the schema and everything in it (for tests and tear-down).
    pub async fn drop_schema(&self) -> Result<()> {
        let c = self.conn().await;
        c.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.schema
        ))
        .await
        .map_err(map_err)
    }

    async fn conn(&self) -> MutexGuard<'_, Client> {
        for c in self.pool.iter() {
            if let Ok(g) = c.try_lock() {
                return g;
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
        self.pool[i].lock().await
    }
}

async fn migrate(client: &mut Client, schema: &str) -> Result<()> {
    let tx = client.transaction().await.map_err(map_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(map_err)?;
    tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .await
        .map_err(map_err)?;
    tx.batch_execute(BOOTSTRAP).await.map_err(map_err)?;
    for m in MIGRATIONS {
        let done = tx
            .query_opt(
                "SELECT version FROM ms_migrations WHERE version = $1",
                &[&m.version],
            )
            .await
            .map_err(map_err)?;
        if done.is_none() {
            tx.batch_execute(m.postgres).await.map_err(map_err)?;
            tx.execute(
                "INSERT INTO ms_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[&m.version, &m.name, &micros(Utc::now())],
            )
            .await
            .map_err(map_err)?;
        }
    }
    tx.commit().await.map_err(map_err)
}

fn ledger_from(r: &Row) -> Result<LedgerEntry> {
    RawLedger {
        key: get(r, 0)?,
        scope: get(r, 1)?,
        state: get(r, 2)?,
        owner: get(r, 3)?,
        lease_until: get(r, 4)?,
        attempts: get(r, 5)?,
        erp_document: get(r, 6)?,
        reason: get(r, 7)?,
        created_at: get(r, 8)?,
        updated_at: get(r, 9)?,
    }
    .into_entry()
}

fn exception_from(r: &Row) -> Result<ExceptionRecord> {
    RawException {
        id: get(r, 0)?,
        fingerprint: get(r, 1)?,
        channel: get(r, 2)?,
        shop: get(r, 3)?,
        stream: get(r, 4)?,
        kind: get(r, 5)?,
        external_id: get(r, 6)?,
        event_key: get(r, 7)?,
        reason: get(r, 8)?,
        message: get(r, 9)?,
        content_hash: get(r, 10)?,
        canonical: get(r, 11)?,
        win_start: get(r, 12)?,
        win_end: get(r, 13)?,
        attempts: get(r, 14)?,
        first_seen: get(r, 15)?,
        last_seen: get(r, 16)?,
        status: get(r, 17)?,
    }
    .into_record()
}

fn lineage_from(r: &Row) -> Result<Lineage> {
    RawLineage {
        document_key: get(r, 0)?,
        event_key: get(r, 1)?,
        channel: get(r, 2)?,
        shop: get(r, 3)?,
        kind: get(r, 4)?,
        external_id: get(r, 5)?,
        revision: get(r, 6)?,
        content_hash: get(r, 7)?,
        role: get(r, 8)?,
        erp_document: get(r, 9)?,
        erp_kind: get(r, 10)?,
        rulebook_version: get(r, 11)?,
        settlement_id: get(r, 12)?,
        settlement_line: get(r, 13)?,
        payout_id: get(r, 14)?,
        at: get(r, 15)?,
    }
    .into_lineage()
}

async fn get_ledger(c: &impl GenericClient, key: &str) -> Result<Option<LedgerEntry>> {
    c.query_opt(
        &format!("SELECT {LEDGER_COLS} FROM ms_ledger WHERE key = $1"),
        &[&key],
    )
    .await
    .map_err(map_err)?
    .as_ref()
    .map(ledger_from)
    .transpose()
}

async fn insert_raw(c: &impl GenericClient, r: &RawRecord, now: DateTime<Utc>) -> Result<u64> {
    c.execute(
        "INSERT INTO ms_raw (hash, media_type, source, bytes, first_seen) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (hash) DO NOTHING",
        &[
            &r.content_hash.as_str(),
            &r.media_type,
            &r.source,
            &r.bytes,
            &micros(now),
        ],
    )
    .await
    .map_err(map_err)
}

async fn end_ledger(
    c: &impl GenericClient,
    key: &IdempotencyKey,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<()> {
    let (state, doc, reason) = outcome.parts();
    let n = c
        .execute(
            "UPDATE ms_ledger SET state = $2, erp_document = COALESCE($3, erp_document), \
             reason = $4, updated_at = $5 WHERE key = $1",
            &[&key.as_str(), &state.as_str(), &doc, &reason, &micros(now)],
        )
        .await
        .map_err(map_err)?;
    if n == 0 {
        return Err(
            Error::new(ErrorKind::NotFound, "no ledger entry to finish").with_context("key", key)
        );
    }
    Ok(())
}

async fn insert_lineage(c: &impl GenericClient, l: &Lineage) -> Result<()> {
    let revision = revision_json(&l.revision)?;
    let channel = l.record.channel.name();
    let line = l.settlement_line.map(i64::from);
    let params: [&(dyn ToSql + Sync); 16] = [
        &l.document_key.as_str(),
        &l.event_key.as_str(),
        &channel,
        &l.record.shop.as_str(),
        &l.record.kind.name(),
        &l.record.external_id,
        &revision,
        &l.content_hash.as_ref().map(ContentHash::as_str),
        &l.role,
        &l.erp_document.as_str(),
        &l.erp_kind,
        &l.rulebook_version,
        &l.settlement_id,
        &line,
        &l.payout_id,
        &micros(l.at),
    ];
    c.execute(
        &format!(
            "INSERT INTO ms_lineage ({LINEAGE_COLS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (document_key) DO NOTHING"
        ),
        &params,
    )
    .await
    .map_err(map_err)?;
    Ok(())
}

/// A page of raw payloads as one multi-row `INSERT` (arrays unnested server-side): one
/// statement and one round trip per page, whatever its size.
const RAW_UNNEST: &str = "INSERT INTO ms_raw (hash, media_type, source, bytes, first_seen) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bigint[]) \
     ON CONFLICT (hash) DO NOTHING";

struct RawColumns {
    hash: Vec<String>,
    media_type: Vec<String>,
    source: Vec<Option<String>>,
    bytes: Vec<Vec<u8>>,
    first_seen: Vec<i64>,
}

impl RawColumns {
    fn params(&self) -> [&(dyn ToSql + Sync); 5] {
        [
            &self.hash,
            &self.media_type,
            &self.source,
            &self.bytes,
            &self.first_seen,
        ]
    }
}

fn raw_columns(records: &[RawRecord], now: DateTime<Utc>) -> Result<RawColumns> {
    let mut cols = RawColumns {
        hash: Vec::with_capacity(records.len()),
        media_type: Vec::with_capacity(records.len()),
        source: Vec::with_capacity(records.len()),
        bytes: Vec::with_capacity(records.len()),
        first_seen: Vec::with_capacity(records.len()),
    };
    for r in records {
        cols.hash.push(r.content_hash.as_str().to_owned());
        cols.media_type.push(r.media_type.clone());
        cols.source.push(r.source.clone());
        cols.bytes.push(r.bytes.clone());
        cols.first_seen.push(micros(now));
    }
    Ok(cols)
}

/// Statements prepared once per batch (a batch runs the same few statements for every
/// record of a page).
struct Prepared<'a, 't> {
    tx: &'a tokio_postgres::Transaction<'t>,
    cache: std::collections::HashMap<&'static str, tokio_postgres::Statement>,
}

impl Prepared<'_, '_> {
    async fn stmt(&mut self, sql: &'static str) -> Result<tokio_postgres::Statement> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql).await.map_err(map_err)?;
        self.cache.insert(sql, s.clone());
        Ok(s)
    }

    async fn execute(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let s = self.stmt(sql).await?;
        self.tx.execute(&s, params).await.map_err(map_err)
    }

    async fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        let s = self.stmt(sql).await?;
        self.tx.query_opt(&s, params).await.map_err(map_err)
    }
}

fn leaked(sql: String) -> &'static str {
    // Built once per process (the column lists are constants), so this never grows.
    Box::leak(sql.into_boxed_str())
}

static LEDGER_BY_KEY: std::sync::LazyLock<&'static str> = std::sync::LazyLock::new(|| {
    leaked(format!(
        "SELECT {LEDGER_COLS} FROM ms_ledger WHERE key = $1"
    ))
});

static LINEAGE_INSERT: std::sync::LazyLock<&'static str> = std::sync::LazyLock::new(|| {
    leaked(format!(
        "INSERT INTO ms_lineage ({LINEAGE_COLS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (document_key) DO NOTHING"
    ))
});

const CLAIM_IN_BATCH: &str = "INSERT INTO ms_ledger (key, scope, state, owner, lease_until, attempts, \
     created_at, updated_at) VALUES ($1, $2, 'pending', $3, $4, 1, $5, $5) \
     ON CONFLICT (key) DO NOTHING";
const END_LEDGER: &str = "UPDATE ms_ledger SET state = $2, erp_document = COALESCE($3, erp_document), \
     reason = $4, updated_at = $5 WHERE key = $1";
const HEAD_UPSERT: &str = "INSERT INTO ms_head (channel, shop, kind, external_id, revision, event_key, \
     state, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (channel, shop, kind, external_id) DO UPDATE SET \
     revision = excluded.revision, event_key = excluded.event_key, \
     state = excluded.state, updated_at = excluded.updated_at";
const RESOLVE_OPEN: &str = "UPDATE ms_exception SET status = 'resolved', last_seen = $5 \
     WHERE channel = $1 AND shop = $2 AND kind = $3 AND external_id = $4 AND status = 'open'";
const SNAPSHOT_UPSERT: &str = "INSERT INTO ms_snapshot (channel, shop, kind, external_id, revision, \
     parent_channel, parent_shop, parent_kind, parent_id, body, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
     ON CONFLICT (channel, shop, kind, external_id) DO UPDATE SET \
     revision = excluded.revision, parent_channel = excluded.parent_channel, \
     parent_shop = excluded.parent_shop, parent_kind = excluded.parent_kind, \
     parent_id = excluded.parent_id, body = excluded.body, updated_at = excluded.updated_at";
const CURSOR_UPSERT: &str = "INSERT INTO ms_cursor (channel, shop, stream, watermark, win_start, \
     win_end, page, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (channel, shop, stream) DO UPDATE SET watermark = excluded.watermark, \
     win_start = excluded.win_start, win_end = excluded.win_end, page = excluded.page, \
     updated_at = excluded.updated_at";
const HEAD_SELECT: &str = "SELECT revision, event_key, state, updated_at FROM ms_head \
     WHERE channel = $1 AND shop = $2 AND kind = $3 AND external_id = $4";

/// One step of a batch, inside its transaction. A claim is `INSERT … ON CONFLICT DO NOTHING`
/// (the primary key still decides; a violation would abort the whole transaction here).
async fn apply_op(p: &mut Prepared<'_, '_>, op: &BatchOp) -> Result<BatchReply> {
    Ok(match op {
        BatchOp::ArchiveRaw { records, now } => {
            if records.is_empty() {
                return Ok(BatchReply::Archived(0));
            }
            let cols = raw_columns(records, *now)?;
            let n = p.execute(RAW_UNNEST, &cols.params()).await?;
            BatchReply::Archived(usize::try_from(n).unwrap_or(usize::MAX))
        }
        BatchOp::Claim(req) => BatchReply::Claim(claim_p(p, req).await?),
        BatchOp::Finish {
            key,
            outcome,
            lineage,
            now,
        } => {
            end_ledger_p(p, key, outcome, *now).await?;
            if let Some(l) = lineage {
                let revision = revision_json(&l.revision)?;
                let channel = l.record.channel.name();
                let line = l.settlement_line.map(i64::from);
                p.execute(
                    *LINEAGE_INSERT,
                    &[
                        &l.document_key.as_str(),
                        &l.event_key.as_str(),
                        &channel,
                        &l.record.shop.as_str(),
                        &l.record.kind.name(),
                        &l.record.external_id,
                        &revision,
                        &l.content_hash.as_ref().map(ContentHash::as_str),
                        &l.role,
                        &l.erp_document.as_str(),
                        &l.erp_kind,
                        &l.rulebook_version,
                        &l.settlement_id,
                        &line,
                        &l.payout_id,
                        &micros(l.at),
                    ],
                )
                .await?;
            }
            BatchReply::Done
        }
        BatchOp::CompleteEvent {
            key,
            outcome,
            head,
            now,
        } => {
            end_ledger_p(p, key, outcome, *now).await?;
            if let Some(h) = head {
                let r = &h.record;
                let channel = r.channel.name();
                p.execute(
                    HEAD_UPSERT,
                    &[
                        &channel,
                        &r.shop.as_str(),
                        &r.kind.name(),
                        &r.external_id,
                        &revision_json(&h.revision)?,
                        &h.event_key.as_str(),
                        &json_text(&h.state),
                        &micros(h.updated_at),
                    ],
                )
                .await?;
                if matches!(outcome, Outcome::Posted(_)) {
                    p.execute(
                        RESOLVE_OPEN,
                        &[
                            &channel,
                            &r.shop.as_str(),
                            &r.kind.name(),
                            &r.external_id,
                            &micros(*now),
                        ],
                    )
                    .await?;
                }
            }
            BatchReply::Done
        }
        BatchOp::SaveSnapshot(s) => {
            let (pc, ps, pk, pid) = parent_cols(s);
            let r = &s.record;
            p.execute(
                SNAPSHOT_UPSERT,
                &[
                    &r.channel.name(),
                    &r.shop.as_str(),
                    &r.kind.name(),
                    &r.external_id,
                    &revision_json(&s.revision)?,
                    &pc,
                    &ps,
                    &pk,
                    &pid,
                    &s.stored_body(),
                    &micros(s.updated_at),
                ],
            )
            .await?;
            BatchReply::Done
        }
        BatchOp::SaveCursor { stream, state, now } => {
            let (ws, we) = window_parts(state.window.as_ref());
            p.execute(
                CURSOR_UPSERT,
                &[
                    &stream.channel.name(),
                    &stream.shop.as_str(),
                    &stream.stream,
                    &state.watermark.map(micros),
                    &ws,
                    &we,
                    &state.page.as_ref().map(Cursor::as_str),
                    &micros(*now),
                ],
            )
            .await?;
            BatchReply::Done
        }
        BatchOp::Head(record) => BatchReply::Head(head_p(p, record).await?),
        BatchOp::ClaimEvent(e) => {
            let claim = claim_p(p, &e.event).await?;
            let head = head_p(p, &e.record).await?;
            let documents = if matches!(claim, Claim::Acquired(_)) && e.plan_holds(head.as_ref()) {
                let mut out = Vec::with_capacity(e.documents.len());
                for d in &e.documents {
                    out.push(claim_p(p, d).await?);
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
    })
}

async fn claim_p(p: &mut Prepared<'_, '_>, req: &ClaimRequest) -> Result<Claim> {
    let now = micros(req.now);
    let inserted = p
        .execute(
            CLAIM_IN_BATCH,
            &[
                &req.key.as_str(),
                &req.scope,
                &req.owner,
                &micros(req.lease_until()),
                &now,
            ],
        )
        .await?;
    let row = p
        .query_opt(*LEDGER_BY_KEY, &[&req.key.as_str()])
        .await?
        .ok_or_else(|| corrupt("ledger entry vanished after claim"))?;
    let entry = ledger_from(&row)?;
    Ok(if inserted == 1 {
        Claim::Acquired(entry)
    } else {
        Claim::Existing(entry)
    })
}

async fn head_p(p: &mut Prepared<'_, '_>, record: &RecordKey) -> Result<Option<Head>> {
    let row = p
        .query_opt(
            HEAD_SELECT,
            &[
                &record.channel.name(),
                &record.shop.as_str(),
                &record.kind.name(),
                &record.external_id,
            ],
        )
        .await?;
    row.map(|r| -> Result<Head> {
        let rev: String = get(&r, 0)?;
        let key: String = get(&r, 1)?;
        let state: String = get(&r, 2)?;
        Ok(Head {
            record: record.clone(),
            revision: parse_revision(&rev)?,
            event_key: parse_key(&key)?,
            state: parse_json(&state)?,
            updated_at: from_micros(get(&r, 3)?)?,
        })
    })
    .transpose()
}

async fn end_ledger_p(
    p: &mut Prepared<'_, '_>,
    key: &IdempotencyKey,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> Result<()> {
    let (state, doc, reason) = outcome.parts();
    let n = p
        .execute(
            END_LEDGER,
            &[&key.as_str(), &state.as_str(), &doc, &reason, &micros(now)],
        )
        .await?;
    if n == 0 {
        return Err(
            Error::new(ErrorKind::NotFound, "no ledger entry to finish").with_context("key", key)
        );
    }
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn schema_version(&self) -> Result<i64> {
        let c = self.conn().await;
        let row = c
            .query_one("SELECT COALESCE(MAX(version), 0) FROM ms_migrations", &[])
            .await
            .map_err(map_err)?;
        get(&row, 0)
    }

    async fn cursor(&self, stream: &StreamKey) -> Result<Option<CursorState>> {
        let c = self.conn().await;
        let row = c
            .query_opt(
                "SELECT watermark, win_start, win_end, page FROM ms_cursor \
                 WHERE channel = $1 AND shop = $2 AND stream = $3",
                &[
                    &stream.channel.name(),
                    &stream.shop.as_str(),
                    &stream.stream,
                ],
            )
            .await
            .map_err(map_err)?;
        row.map(|r| {
            let w: Option<i64> = get(&r, 0)?;
            let p: Option<String> = get(&r, 3)?;
            Ok(CursorState {
                watermark: w.map(from_micros).transpose()?,
                window: window_from(get(&r, 1)?, get(&r, 2)?)?,
                page: p.map(Cursor::new),
            })
        })
        .transpose()
    }

    async fn save_cursor(
        &self,
        stream: &StreamKey,
        state: &CursorState,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (ws, we) = window_parts(state.window.as_ref());
        let c = self.conn().await;
        c.execute(
            "INSERT INTO ms_cursor (channel, shop, stream, watermark, win_start, win_end, page, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (channel, shop, stream) DO UPDATE SET watermark = excluded.watermark, \
             win_start = excluded.win_start, win_end = excluded.win_end, page = excluded.page, \
             updated_at = excluded.updated_at",
            &[
                &stream.channel.name(),
                &stream.shop.as_str(),
                &stream.stream,
                &state.watermark.map(micros),
                &ws,
                &we,
                &state.page.as_ref().map(Cursor::as_str),
                &micros(now),
            ],
        )
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn archive_raw(&self, records: &[RawRecord], now: DateTime<Utc>) -> Result<usize> {
        if records.is_empty() {
            return Ok(0);
        }
        let c = self.conn().await;
        let n = c
            .execute(RAW_UNNEST, &raw_columns(records, now)?.params())
            .await
            .map_err(map_err)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    async fn raw(&self, hash: &ContentHash) -> Result<Option<RawRecord>> {
        let c = self.conn().await;
        let row = c
            .query_opt(
                "SELECT media_type, source, bytes FROM ms_raw WHERE hash = $1",
                &[&hash.as_str()],
            )
            .await
            .map_err(map_err)?;
        row.map(|r| {
            Ok(RawRecord {
                content_hash: hash.clone(),
                media_type: get(&r, 0)?,
                source: get(&r, 1)?,
                bytes: get(&r, 2)?,
            })
        })
        .transpose()
    }

    async fn purge_raw(&self, before: DateTime<Utc>) -> Result<u64> {
        let c = self.conn().await;
        c.execute(
            "DELETE FROM ms_raw WHERE first_seen < $1 AND NOT EXISTS (\
             SELECT 1 FROM ms_exception x WHERE x.content_hash = ms_raw.hash \
             AND x.status = 'open')",
            &[&micros(before)],
        )
        .await
        .map_err(map_err)
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Claim> {
        let c = self.conn().await;
        let now = micros(request.now);
        let inserted = c
            .execute(
                "INSERT INTO ms_ledger (key, scope, state, owner, lease_until, attempts, created_at, updated_at) \
                 VALUES ($1, $2, 'pending', $3, $4, 1, $5, $5)",
                &[
                    &request.key.as_str(),
                    &request.scope,
                    &request.owner,
                    &micros(request.lease_until()),
                    &now,
                ],
            )
            .await
            .map_err(map_err);
        let acquired = match inserted {
            Ok(_) => true,
            Err(e) if is_already_processed(&e) => false,
            Err(e) => return Err(e),
        };
        let entry = get_ledger(&*c, request.key.as_str())
            .await?
            .ok_or_else(|| corrupt("ledger entry vanished after claim"))?;
        Ok(if acquired {
            Claim::Acquired(entry)
        } else {
            Claim::Existing(entry)
        })
    }

    async fn take_over(&self, request: &ClaimRequest) -> Result<Option<LedgerEntry>> {
        let c = self.conn().await;
        let row = c
            .query_opt(
                &format!(
                    "UPDATE ms_ledger SET owner = $2, lease_until = $3, attempts = attempts + 1, \
                     state = 'pending', updated_at = $4 \
                     WHERE key = $1 AND (state = 'failed' OR (state = 'pending' AND \
                     (owner = $2 OR lease_until <= $4))) RETURNING {LEDGER_COLS}"
                ),
                &[
                    &request.key.as_str(),
                    &request.owner,
                    &micros(request.lease_until()),
                    &micros(request.now),
                ],
            )
            .await
            .map_err(map_err)?;
        row.as_ref().map(ledger_from).transpose()
    }

    async fn finish(
        &self,
        key: &IdempotencyKey,
        outcome: &Outcome,
        lineage: Option<&Lineage>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut c = self.conn().await;
        let tx = c.transaction().await.map_err(map_err)?;
        end_ledger(&tx, key, outcome, now).await?;
        if let Some(l) = lineage {
            insert_lineage(&tx, l).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn ledger_entry(&self, key: &IdempotencyKey) -> Result<Option<LedgerEntry>> {
        let c = self.conn().await;
        get_ledger(&*c, key.as_str()).await
    }

    async fn ledger_counts(&self) -> Result<Vec<(LedgerState, u64)>> {
        let c = self.conn().await;
        let rows = c
            .query(
                "SELECT state, COUNT(*) FROM ms_ledger GROUP BY state ORDER BY state",
                &[],
            )
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                let s: String = get(r, 0)?;
                let n: i64 = get(r, 1)?;
                Ok((LedgerState::parse(&s)?, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    async fn head(&self, record: &RecordKey) -> Result<Option<Head>> {
        let c = self.conn().await;
        let row = c
            .query_opt(
                "SELECT revision, event_key, state, updated_at FROM ms_head \
                 WHERE channel = $1 AND shop = $2 AND kind = $3 AND external_id = $4",
                &[
                    &record.channel.name(),
                    &record.shop.as_str(),
                    &record.kind.name(),
                    &record.external_id,
                ],
            )
            .await
            .map_err(map_err)?;
        row.map(|r| {
            let rev: String = get(&r, 0)?;
            let key: String = get(&r, 1)?;
            let state: String = get(&r, 2)?;
            Ok(Head {
                record: record.clone(),
                revision: parse_revision(&rev)?,
                event_key: parse_key(&key)?,
                state: parse_json(&state)?,
                updated_at: from_micros(get(&r, 3)?)?,
            })
        })
        .transpose()
    }

    async fn complete_event(
        &self,
        event_key: &IdempotencyKey,
        outcome: &Outcome,
        head: Option<&Head>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut c = self.conn().await;
        let tx = c.transaction().await.map_err(map_err)?;
        end_ledger(&tx, event_key, outcome, now).await?;
        if let Some(h) = head {
            let r = &h.record;
            let channel = r.channel.name();
            tx.execute(
                "INSERT INTO ms_head (channel, shop, kind, external_id, revision, event_key, state, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (channel, shop, kind, external_id) DO UPDATE SET \
                 revision = excluded.revision, event_key = excluded.event_key, \
                 state = excluded.state, updated_at = excluded.updated_at",
                &[
                    &channel,
                    &r.shop.as_str(),
                    &r.kind.name(),
                    &r.external_id,
                    &revision_json(&h.revision)?,
                    &h.event_key.as_str(),
                    &json_text(&h.state),
                    &micros(h.updated_at),
                ],
            )
            .await
            .map_err(map_err)?;
            if matches!(outcome, Outcome::Posted(_)) {
                tx.execute(
                    "UPDATE ms_exception SET status = 'resolved', last_seen = $5 \
                     WHERE channel = $1 AND shop = $2 AND kind = $3 AND external_id = $4 \
                     AND status = 'open'",
                    &[
                        &channel,
                        &r.shop.as_str(),
                        &r.kind.name(),
                        &r.external_id,
                        &micros(now),
                    ],
                )
                .await
                .map_err(map_err)?;
            }
        }
        tx.commit().await.map_err(map_err)
    }

    async fn lineage(&self, query: &LineageQuery) -> Result<Vec<Lineage>> {
        let c = self.conn().await;
        let base = format!("SELECT {LINEAGE_COLS} FROM ms_lineage WHERE ");
        let rows = match query {
            LineageQuery::Record(r) => {
                c.query(
                    &format!(
                        "{base} channel = $1 AND shop = $2 AND kind = $3 AND external_id = $4 \
                         ORDER BY at, document_key"
                    ),
                    &[
                        &r.channel.name(),
                        &r.shop.as_str(),
                        &r.kind.name(),
                        &r.external_id,
                    ],
                )
                .await
            }
            LineageQuery::ErpDocument(id) => {
                c.query(
                    &format!("{base} erp_document = $1 ORDER BY at, document_key"),
                    &[&id.as_str()],
                )
                .await
            }
            LineageQuery::Event(k) => {
                c.query(
                    &format!("{base} event_key = $1 ORDER BY at, document_key"),
                    &[&k.as_str()],
                )
                .await
            }
        }
        .map_err(map_err)?;
        rows.iter().map(lineage_from).collect()
    }

    async fn append_audit(&self, entry: &NewAudit) -> Result<i64> {
        let c = self.conn().await;
        let row = c
            .query_one(
                "INSERT INTO ms_audit (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5) \
                 RETURNING seq",
                &[
                    &micros(entry.at),
                    &entry.actor,
                    &entry.action,
                    &entry.subject,
                    &json_text(&entry.detail),
                ],
            )
            .await
            .map_err(map_err)?;
        get(&row, 0)
    }

    async fn audit_log(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        let c = self.conn().await;
        let rows = c
            .query(
                "SELECT seq, at, actor, action, subject, detail FROM ms_audit \
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after_seq, &i64::from(limit)],
            )
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                let detail: String = get(r, 5)?;
                Ok(AuditEntry {
                    seq: get(r, 0)?,
                    at: from_micros(get(r, 1)?)?,
                    actor: get(r, 2)?,
                    action: get(r, 3)?,
                    subject: get(r, 4)?,
                    detail: parse_json(&detail)?,
                })
            })
            .collect()
    }

    async fn record_exception(&self, x: &NewException) -> Result<ExceptionRecord> {
        let mut c = self.conn().await;
        let tx = c.transaction().await.map_err(map_err)?;
        if let Some(raw) = &x.raw {
            insert_raw(&tx, raw, x.now).await?;
        }
        let (ws, we) = window_parts(x.window.as_ref());
        let canonical = x.stored_canonical();
        let fingerprint = x.fingerprint();
        let channel = x.stream.channel.name();
        let reason = x.reason.as_str().into_owned();
        let now = micros(x.now);
        let params: [&(dyn ToSql + Sync); 14] = [
            &fingerprint,
            &channel,
            &x.stream.shop.as_str(),
            &x.stream.stream,
            &x.kind.name(),
            &x.external_id,
            &x.event_key.as_ref().map(IdempotencyKey::as_str),
            &reason,
            &x.message,
            &x.raw.as_ref().map(|r| r.content_hash.as_str()),
            &canonical,
            &ws,
            &we,
            &now,
        ];
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO ms_exception (fingerprint, channel, shop, stream, kind, external_id, \
                     event_key, reason, message, content_hash, canonical, win_start, win_end, attempts, \
                     first_seen, last_seen, status) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $14, 'open') \
                     ON CONFLICT (fingerprint) DO UPDATE SET attempts = ms_exception.attempts + 1, \
                     last_seen = excluded.last_seen, reason = excluded.reason, message = excluded.message, \
                     canonical = COALESCE(excluded.canonical, ms_exception.canonical), \
                     win_start = COALESCE(excluded.win_start, ms_exception.win_start), \
                     win_end = COALESCE(excluded.win_end, ms_exception.win_end), status = 'open' \
                     RETURNING {EXC_COLS}"
                ),
                &params,
            )
            .await
            .map_err(map_err)?;
        let record = exception_from(&row)?;
        tx.commit().await.map_err(map_err)?;
        Ok(record)
    }

    async fn exception(&self, id: i64) -> Result<Option<ExceptionRecord>> {
        let c = self.conn().await;
        let row = c
            .query_opt(
                &format!("SELECT {EXC_COLS} FROM ms_exception WHERE id = $1"),
                &[&id],
            )
            .await
            .map_err(map_err)?;
        row.as_ref().map(exception_from).transpose()
    }

    async fn exceptions(&self, filter: &ExceptionFilter) -> Result<Vec<ExceptionRecord>> {
        let c = self.conn().await;
        let status = filter.status.map(ExceptionStatus::as_str);
        let reason = filter.reason.as_ref().map(|r| r.as_str().into_owned());
        let channel = filter.channel.as_ref().map(|c| c.name());
        let rows = c
            .query(
                &format!(
                    "SELECT {EXC_COLS} FROM ms_exception WHERE ($1::TEXT IS NULL OR status = $1) \
                     AND ($2::TEXT IS NULL OR reason = $2) AND ($3::TEXT IS NULL OR channel = $3) \
                     AND ($4::TEXT IS NULL OR external_id = $4) ORDER BY id LIMIT $5"
                ),
                &[
                    &status,
                    &reason,
                    &channel,
                    &filter.external_id,
                    &default_limit(filter.limit),
                ],
            )
            .await
            .map_err(map_err)?;
        rows.iter().map(exception_from).collect()
    }

    async fn set_exception_status(
        &self,
        id: i64,
        status: ExceptionStatus,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let c = self.conn().await;
        let n = c
            .execute(
                "UPDATE ms_exception SET status = $2, last_seen = GREATEST(last_seen, $3) WHERE id = $1",
                &[&id, &status.as_str(), &micros(now)],
            )
            .await
            .map_err(map_err)?;
        if n == 0 {
            return Err(
                Error::new(ErrorKind::NotFound, "no such exception").with_context("exception", id)
            );
        }
        Ok(())
    }

    async fn exception_counts(&self) -> Result<Vec<(ReasonCode, u64)>> {
        let c = self.conn().await;
        let rows = c
            .query(
                "SELECT reason, COUNT(*) FROM ms_exception WHERE status = 'open' \
                 GROUP BY reason ORDER BY reason",
                &[],
            )
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                let reason: String = get(r, 0)?;
                let n: i64 = get(r, 1)?;
                Ok((reason_from_str(&reason), u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    async fn write_batch(&self, ops: Vec<BatchOp>) -> Result<Vec<BatchReply>> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.conn().await;
        let tx = c.transaction().await.map_err(map_err)?;
        let mut out = Vec::with_capacity(ops.len());
        {
            let mut p = Prepared {
                tx: &tx,
                cache: std::collections::HashMap::new(),
            };
            for op in &ops {
                out.push(apply_op(&mut p, op).await?);
            }
        }
        tx.commit().await.map_err(map_err)?;
        Ok(out)
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        let c = self.conn().await;
        let (pc, ps, pk, pid) = parent_cols(snapshot);
        let r = &snapshot.record;
        c.execute(
            "INSERT INTO ms_snapshot (channel, shop, kind, external_id, revision, parent_channel, \
             parent_shop, parent_kind, parent_id, body, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (channel, shop, kind, external_id) DO UPDATE SET \
             revision = excluded.revision, parent_channel = excluded.parent_channel, \
             parent_shop = excluded.parent_shop, parent_kind = excluded.parent_kind, \
             parent_id = excluded.parent_id, body = excluded.body, \
             updated_at = excluded.updated_at",
            &[
                &r.channel.name(),
                &r.shop.as_str(),
                &r.kind.name(),
                &r.external_id,
                &revision_json(&snapshot.revision)?,
                &pc,
                &ps,
                &pk,
                &pid,
                &snapshot.stored_body(),
                &micros(snapshot.updated_at),
            ],
        )
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn record_delivery(
        &self,
        key: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        let c = self.conn().await;
        // New, or replaces a record that has expired; a live record is left alone (the
        // primary key decides between two workers).
        let n = c
            .execute(
                "INSERT INTO ms_delivery (key, recorded_at, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET recorded_at = excluded.recorded_at, \
                 expires_at = excluded.expires_at WHERE ms_delivery.expires_at <= $2",
                &[&key, &micros(now), &micros(expires_at)],
            )
            .await
            .map_err(map_err)?;
        Ok(n > 0)
    }

    async fn delivery_seen(&self, key: &str, now: DateTime<Utc>) -> Result<bool> {
        let c = self.conn().await;
        let row = c
            .query_opt(
                "SELECT 1 FROM ms_delivery WHERE key = $1 AND expires_at > $2",
                &[&key, &micros(now)],
            )
            .await
            .map_err(map_err)?;
        Ok(row.is_some())
    }

    async fn purge_deliveries(&self, now: DateTime<Utc>) -> Result<u64> {
        let c = self.conn().await;
        c.execute(
            "DELETE FROM ms_delivery WHERE expires_at <= $1",
            &[&micros(now)],
        )
        .await
        .map_err(map_err)
    }

    async fn snapshot(&self, record: &RecordKey) -> Result<Option<Snapshot>> {
        let c = self.conn().await;
        let row = c
            .query_opt(
                &format!(
                    "SELECT {SNAPSHOT_COLS} FROM ms_snapshot \
                     WHERE channel = $1 AND shop = $2 AND kind = $3 AND external_id = $4"
                ),
                &[
                    &record.channel.name(),
                    &record.shop.as_str(),
                    &record.kind.name(),
                    &record.external_id,
                ],
            )
            .await
            .map_err(map_err)?;
        row.as_ref().map(snapshot_from).transpose()
    }

    async fn snapshots_of(&self, parent: &RecordKey) -> Result<Vec<Snapshot>> {
        let c = self.conn().await;
        let rows = c
            .query(
                &format!(
                    "SELECT {SNAPSHOT_COLS} FROM ms_snapshot \
                     WHERE parent_channel = $1 AND parent_shop = $2 AND parent_kind = $3 \
                     AND parent_id = $4 ORDER BY updated_at, kind, external_id"
                ),
                &[
                    &parent.channel.name(),
                    &parent.shop.as_str(),
                    &parent.kind.name(),
                    &parent.external_id,
                ],
            )
            .await
            .map_err(map_err)?;
        rows.iter().map(snapshot_from).collect()
    }
}

fn snapshot_from(r: &Row) -> Result<Snapshot> {
    RawSnapshot {
        channel: get(r, 0)?,
        shop: get(r, 1)?,
        kind: get(r, 2)?,
        external_id: get(r, 3)?,
        revision: get(r, 4)?,
        parent_channel: get(r, 5)?,
        parent_shop: get(r, 6)?,
        parent_kind: get(r, 7)?,
        parent_id: get(r, 8)?,
        body: get(r, 9)?,
        updated_at: get(r, 10)?,
    }
    .into_snapshot()
}
