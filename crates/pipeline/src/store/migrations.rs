//! Schema migrations, embedded in the crate: versioned, applied in order, each once, each in
//! its own transaction, recorded in `ms_migrations`. Re-running them is a no-op.

/// One migration, in the dialect of each backend.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// Version (1, 2, …).
    pub version: i64,
    /// Short name.
    pub name: &'static str,
    /// SQLite statements.
    pub sqlite: &'static str,
    /// PostgreSQL statements.
    pub postgres: &'static str,
}

/// The schema version this crate migrates to.
pub const SCHEMA_VERSION: i64 = 4;

/// Creates the migrations table (both dialects accept it).
pub(crate) const BOOTSTRAP: &str = "CREATE TABLE IF NOT EXISTS ms_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// Every migration, oldest first.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "core tables",
        sqlite: r#"
CREATE TABLE IF NOT EXISTS ms_cursor (
    channel TEXT NOT NULL, shop TEXT NOT NULL, stream TEXT NOT NULL,
    watermark BIGINT, win_start BIGINT, win_end BIGINT, page TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (channel, shop, stream)
);
CREATE TABLE IF NOT EXISTS ms_raw (
    hash TEXT PRIMARY KEY, media_type TEXT NOT NULL, source TEXT,
    bytes BLOB NOT NULL, first_seen BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ms_ledger (
    key TEXT PRIMARY KEY, scope TEXT NOT NULL, state TEXT NOT NULL,
    owner TEXT NOT NULL, lease_until BIGINT NOT NULL, attempts BIGINT NOT NULL,
    erp_document TEXT, reason TEXT,
    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ms_head (
    channel TEXT NOT NULL, shop TEXT NOT NULL, kind TEXT NOT NULL, external_id TEXT NOT NULL,
    revision TEXT NOT NULL, event_key TEXT NOT NULL, state TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (channel, shop, kind, external_id)
);
CREATE TABLE IF NOT EXISTS ms_lineage (
    document_key TEXT PRIMARY KEY, event_key TEXT NOT NULL,
    channel TEXT NOT NULL, shop TEXT NOT NULL, kind TEXT NOT NULL, external_id TEXT NOT NULL,
    revision TEXT NOT NULL, content_hash TEXT, role TEXT NOT NULL,
    erp_document TEXT NOT NULL, erp_kind TEXT NOT NULL, rulebook_version TEXT,
    settlement_id TEXT, settlement_line BIGINT, payout_id TEXT, at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ms_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at BIGINT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS ms_audit_no_update BEFORE UPDATE ON ms_audit
BEGIN SELECT RAISE(ABORT, 'ms_audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ms_audit_no_delete BEFORE DELETE ON ms_audit
BEGIN SELECT RAISE(ABORT, 'ms_audit is append-only'); END;
CREATE TABLE IF NOT EXISTS ms_exception (
    id INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL, shop TEXT NOT NULL, stream TEXT NOT NULL, kind TEXT NOT NULL,
    external_id TEXT, event_key TEXT, reason TEXT NOT NULL, message TEXT NOT NULL,
    content_hash TEXT, canonical TEXT, win_start BIGINT, win_end BIGINT,
    attempts BIGINT NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,
    status TEXT NOT NULL
);
"#,
        postgres: r#"
CREATE TABLE IF NOT EXISTS ms_cursor (
    channel TEXT NOT NULL, shop TEXT NOT NULL, stream TEXT NOT NULL,
    watermark BIGINT, win_start BIGINT, win_end BIGINT, page TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (channel, shop, stream)
);
CREATE TABLE IF NOT EXISTS ms_raw (
    hash TEXT PRIMARY KEY, media_type TEXT NOT NULL, source TEXT,
    bytes BYTEA NOT NULL, first_seen BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ms_ledger (
    key TEXT PRIMARY KEY, scope TEXT NOT NULL, state TEXT NOT NULL,
    owner TEXT NOT NULL, lease_until BIGINT NOT NULL, attempts BIGINT NOT NULL,
    erp_document TEXT, reason TEXT,
    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ms_head (
    channel TEXT NOT NULL, shop TEXT NOT NULL, kind TEXT NOT NULL, external_id TEXT NOT NULL,
    revision TEXT NOT NULL, event_key TEXT NOT NULL, state TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (channel, shop, kind, external_id)
);
CREATE TABLE IF NOT EXISTS ms_lineage (
    document_key TEXT PRIMARY KEY, event_key TEXT NOT NULL,
    channel TEXT NOT NULL, shop TEXT NOT NULL, kind TEXT NOT NULL, external_id TEXT NOT NULL,
    revision TEXT NOT NULL, content_hash TEXT, role TEXT NOT NULL,
    erp_document TEXT NOT NULL, erp_kind TEXT NOT NULL, rulebook_version TEXT,
    settlement_id TEXT, settlement_line BIGINT, payout_id TEXT, at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ms_audit (
    seq BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE OR REPLACE FUNCTION ms_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
$fn$ BEGIN RAISE EXCEPTION 'ms_audit is append-only'; END $fn$;
CREATE OR REPLACE TRIGGER ms_audit_no_change BEFORE UPDATE OR DELETE ON ms_audit
FOR EACH ROW EXECUTE FUNCTION ms_audit_append_only();
CREATE TABLE IF NOT EXISTS ms_exception (
    id BIGSERIAL PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL, shop TEXT NOT NULL, stream TEXT NOT NULL, kind TEXT NOT NULL,
    external_id TEXT, event_key TEXT, reason TEXT NOT NULL, message TEXT NOT NULL,
    content_hash TEXT, canonical TEXT, win_start BIGINT, win_end BIGINT,
    attempts BIGINT NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,
    status TEXT NOT NULL
);
"#,
    },
    Migration {
        version: 2,
        name: "lookup indexes",
        sqlite: r#"
CREATE INDEX IF NOT EXISTS ms_ledger_state ON ms_ledger (state);
CREATE INDEX IF NOT EXISTS ms_lineage_record ON ms_lineage (channel, shop, kind, external_id);
CREATE INDEX IF NOT EXISTS ms_lineage_erp ON ms_lineage (erp_document);
CREATE INDEX IF NOT EXISTS ms_lineage_event ON ms_lineage (event_key);
CREATE INDEX IF NOT EXISTS ms_exception_status ON ms_exception (status, reason);
CREATE INDEX IF NOT EXISTS ms_exception_record ON ms_exception (channel, shop, kind, external_id);
"#,
        postgres: r#"
CREATE INDEX IF NOT EXISTS ms_ledger_state ON ms_ledger (state);
CREATE INDEX IF NOT EXISTS ms_lineage_record ON ms_lineage (channel, shop, kind, external_id);
CREATE INDEX IF NOT EXISTS ms_lineage_erp ON ms_lineage (erp_document);
CREATE INDEX IF NOT EXISTS ms_lineage_event ON ms_lineage (event_key);
CREATE INDEX IF NOT EXISTS ms_exception_status ON ms_exception (status, reason);
CREATE INDEX IF NOT EXISTS ms_exception_record ON ms_exception (channel, shop, kind, external_id);
"#,
    },
    Migration {
        version: 3,
        name: "record snapshots",
        sqlite: r#"
CREATE TABLE IF NOT EXISTS ms_snapshot (
    channel TEXT NOT NULL, shop TEXT NOT NULL, kind TEXT NOT NULL, external_id TEXT NOT NULL,
    revision TEXT NOT NULL,
    parent_channel TEXT, parent_shop TEXT, parent_kind TEXT, parent_id TEXT,
    body TEXT NOT NULL, updated_at BIGINT NOT NULL,
    PRIMARY KEY (channel, shop, kind, external_id)
);
CREATE INDEX IF NOT EXISTS ms_snapshot_parent
    ON ms_snapshot (parent_channel, parent_shop, parent_kind, parent_id);
"#,
        postgres: r#"
CREATE TABLE IF NOT EXISTS ms_snapshot (
    channel TEXT NOT NULL, shop TEXT NOT NULL, kind TEXT NOT NULL, external_id TEXT NOT NULL,
    revision TEXT NOT NULL,
    parent_channel TEXT, parent_shop TEXT, parent_kind TEXT, parent_id TEXT,
    body TEXT NOT NULL, updated_at BIGINT NOT NULL,
    PRIMARY KEY (channel, shop, kind, external_id)
);
CREATE INDEX IF NOT EXISTS ms_snapshot_parent
    ON ms_snapshot (parent_channel, parent_shop, parent_kind, parent_id);
"#,
    },
    Migration {
        version: 4,
        name: "webhook deliveries, raw archive retention",
        sqlite: r#"
CREATE TABLE IF NOT EXISTS ms_delivery (
    key TEXT PRIMARY KEY, recorded_at BIGINT NOT NULL, expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ms_delivery_expiry ON ms_delivery (expires_at);
CREATE INDEX IF NOT EXISTS ms_raw_first_seen ON ms_raw (first_seen);
CREATE INDEX IF NOT EXISTS ms_exception_hash ON ms_exception (content_hash);
"#,
        postgres: r#"
CREATE TABLE IF NOT EXISTS ms_delivery (
    key TEXT PRIMARY KEY, recorded_at BIGINT NOT NULL, expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ms_delivery_expiry ON ms_delivery (expires_at);
CREATE INDEX IF NOT EXISTS ms_raw_first_seen ON ms_raw (first_seen);
CREATE INDEX IF NOT EXISTS ms_exception_hash ON ms_exception (content_hash);
"#,
    },
];
