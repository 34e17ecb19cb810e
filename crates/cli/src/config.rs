//! The `marketsync run --config FILE` configuration (TOML) and its JSON Schema.
//!
//! ```toml
//! [store]
//! backend = "sqlite"                 # or "postgres" (with `conninfo` and `schema`)
//! path = "marketsync.db"             # relative to this file
//!
//! [engine]
//! worker_id = "marketsync-1"
//! start = "2026-12-01T00:00:00Z"     # where a stream with no cursor starts
//! interval_secs = 60                 # pause between passes (without --once)
//!
//! [mapping]
//! rulebook = "rulebook.toml"         # the versioned rulebook (TOML or JSON)
//! sku_map = "skus.toml"              # `[[alias]]` tables (TOML) or CSV
//!
//! [mapping.fx]                       # exchange rates (optional)
//! files = ["rates.csv"]              # CSV `date,from,to,rate,source`, or TOML `[[rate]]`
//!
//! [inventory]                        # the ATP push after each pass (optional)
//! items = { "1001" = "SKU-0001" }    # ERP item → the code its stock is read by
//!
//! [queue]                            # order events through NATS JetStream (optional)
//! url = "nats://127.0.0.1:4222"
//! workers = 3
//!
//! [erp]
//! kind = "netsuite"                  # or "tryton"
//! account_id = "…"                   # … the adapter's own settings, secrets excepted
//! secrets = { consumer_secret = { env = "NETSUITE_CONSUMER_SECRET" }, token_secret = { file = "/run/secrets/ns" } }
//!
//! [[connectors]]
//! kind = "tmall"                     # or "shopify"
//! entity = "CN01"                    # the legal entity its documents are booked in
//! app_key = "…"
//! secrets = { app_secret = { env = "TMALL_APP_SECRET" }, session = { env = "TMALL_SESSION" } }
//! ```
//!
//! Secrets never sit in the file: each is named under `secrets` with where to read it from
//! (`env` or `file`). A file that carries a secret value (a key such as `app_secret`,
//! `access_token`, `password`, `conninfo`… with a string value) is refused before anything
//! else is read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A configuration error: what is wrong and where (never a secret value).
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// Where one secret is read from: exactly one of `env` or `file`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// The environment variable that holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// The file that holds it (trailing newline trimmed; relative to the config file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

impl SecretSource {
    /// Reads the secret. The error names the variable or file, never the value.
    pub fn read(&self, name: &str, base: &Path) -> Result<String, ConfigError> {
        match (&self.env, &self.file) {
            (Some(var), None) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(v),
                _ => Err(err(format!(
                    "secret `{name}`: environment variable {var} is not set"
                ))),
            },
            (None, Some(file)) => {
                let path = base.join(file);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    err(format!(
                        "secret `{name}`: cannot read {}: {e}",
                        path.display()
                    ))
                })?;
                let value = text.trim_end_matches(['\r', '\n']).to_owned();
                if value.is_empty() {
                    return Err(err(format!("secret `{name}`: {} is empty", path.display())));
                }
                Ok(value)
            }
            _ => Err(err(format!(
                "secret `{name}`: give exactly one of `env` or `file`"
            ))),
        }
    }
}

/// Where the pipeline keeps its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "backend", rename_all = "lowercase", deny_unknown_fields)]
pub enum StoreConfig {
    /// The embedded SQLite file.
    Sqlite {
        /// The database file (created if missing; relative to the config file).
        path: PathBuf,
    },
    /// PostgreSQL, for several workers.
    Postgres {
        /// The libpq connection string (it may hold a password, so it is a secret).
        conninfo: SecretSource,
        /// The schema the tables live in.
        #[serde(default = "default_pg_schema")]
        schema: String,
    },
}

fn default_pg_schema() -> String {
    "marketsync".into()
}

/// Engine settings shared by every connector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    /// This worker's stable id (a restarted worker with the same id resumes its claims).
    #[serde(default = "default_worker_id")]
    pub worker_id: String,
    /// Where a stream with no cursor starts (RFC 3339).
    pub start: DateTime<Utc>,
    /// Preferred page size.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Seconds between two passes when running continuously.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
}

fn default_worker_id() -> String {
    "marketsync".into()
}
fn default_page_size() -> u32 {
    100
}
fn default_interval() -> u64 {
    60
}

/// The rulebook and SKU map the pipeline maps with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingSection {
    /// The rulebook file: TOML, or JSON when it ends in `.json` (relative to the config file).
    pub rulebook: PathBuf,
    /// Add the built-in fee code tables to the rulebook's own.
    #[serde(default = "default_true")]
    pub builtin_fee_tables: bool,
    /// The SKU map: `[[alias]]` tables (TOML), or CSV when it ends in `.csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_map: Option<PathBuf>,
    /// Exchange rates, for entities whose rulebook posts in their functional currency
    /// (`posting_currency = "functional"`). Without them such documents wait in the exception
    /// queue as `missing_fx_rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fx: Option<FxSection>,
}

/// `[mapping.fx]`: exchange rates from files and/or inline. A rate `1 from = rate to` applies
/// from its date on: a document dated D uses the rate of the latest date on or before D for
/// its currency pair (a rate published after D is never used for it). A rate is used only in
/// the direction it is given (no inverse is derived) and a missing rate is an error, never 1.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FxSection {
    /// Rate files (relative to the config file): CSV with the header
    /// `date,from,to,rate,source`, or TOML (`[[rate]]` tables with the fields of `rates`)
    /// when the name ends in `.toml`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<PathBuf>,
    /// Rates given inline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rates: Vec<FxRateEntry>,
}

/// One exchange rate: `1 from = rate to` from `date` on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FxRateEntry {
    /// The date the rate applies from (`YYYY-MM-DD`; a TOML date or a string).
    #[serde(deserialize_with = "date_from_toml")]
    #[schemars(with = "String")]
    pub date: chrono::NaiveDate,
    /// Source currency (ISO 4217).
    pub from: String,
    /// Target currency (ISO 4217).
    pub to: String,
    /// Units of `to` per unit of `from`, as a decimal string (never a float: `"7.2345"`).
    pub rate: String,
    /// Where the rate comes from (`"ECB"`, `"PBOC"`, `"corporate"`).
    pub source: String,
}

/// A date given as a TOML local date (`2026-01-01`) or a string (`"2026-01-01"`).
fn date_from_toml<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono::NaiveDate, D::Error> {
    let v = toml::Value::deserialize(d)?;
    let text = match v {
        toml::Value::String(s) => s,
        toml::Value::Datetime(dt) => dt.to_string(),
        other => {
            return Err(serde::de::Error::custom(format!(
                "expected a date (YYYY-MM-DD), found {}",
                other.type_str()
            )));
        }
    };
    chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map_err(|_| serde::de::Error::custom(format!("invalid date {text:?} (YYYY-MM-DD)")))
}

/// `[queue]`: order events go through NATS JetStream to `workers` workers (per legal entity:
/// stream `<stream>_<ENTITY>`, subjects `<subject_prefix>.<ENTITY>.<partition>`). Each pass
/// publishes every connector's new orders, then the workers work them off; refunds and
/// settlements follow once the orders they need are in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueSection {
    /// The NATS server (`nats://127.0.0.1:4222`), with JetStream enabled. No credentials in
    /// the URL.
    pub url: String,
    /// The JetStream stream name prefix (letters, digits, `_`, `-`).
    #[serde(default = "default_stream")]
    pub stream: String,
    /// The subject prefix (dot-separated tokens of letters, digits, `_`, `-`).
    #[serde(default = "default_subject_prefix")]
    pub subject_prefix: String,
    /// Workers this process runs per legal entity (they share the partitions).
    #[serde(default = "default_workers")]
    pub workers: u32,
    /// Partitions per entity stream: one order's events always land in the same one and are
    /// handled in order. Keep it fixed once a stream exists.
    #[serde(default = "default_partitions")]
    pub partitions: u32,
    /// Seconds the server waits for a worker's acknowledgement before redelivering.
    #[serde(default = "default_ack_wait")]
    pub ack_wait_secs: u64,
}

fn default_stream() -> String {
    "MARKETSYNC".into()
}
fn default_subject_prefix() -> String {
    "marketsync.work".into()
}
fn default_workers() -> u32 {
    2
}
fn default_partitions() -> u32 {
    16
}
fn default_ack_wait() -> u64 {
    30
}

/// True for a NATS name token: letters, digits, `_` and `-`.
pub fn nats_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl QueueSection {
    fn check(&self) -> Result<(), ConfigError> {
        let u = self.url.as_str();
        if !(u.starts_with("nats://") || u.starts_with("tls://")) {
            return Err(err("[queue]: `url` must start with nats:// or tls://"));
        }
        if u.split("://").nth(1).is_some_and(|rest| rest.contains('@')) {
            return Err(err(
                "[queue]: `url` holds credentials: secrets are never kept in the config file",
            ));
        }
        if !nats_token(&self.stream) {
            return Err(err(format!(
                "[queue]: `stream` {:?} must be letters, digits, `_` or `-`",
                self.stream
            )));
        }
        if !self.subject_prefix.split('.').all(nats_token) {
            return Err(err(format!(
                "[queue]: `subject_prefix` {:?} must be dot-separated tokens of letters, digits, `_` or `-`",
                self.subject_prefix
            )));
        }
        if self.workers == 0 || self.partitions == 0 {
            return Err(err(
                "[queue]: `workers` and `partitions` must be at least 1",
            ));
        }
        Ok(())
    }
}

/// `[inventory]`: after each pass, available-to-promise — ERP on hand − ERP committed − units
/// sold on a channel and not yet shipped − `safety_buffer` — is pushed to every connector for
/// the items listed here, under the SKU the SKU map's `seller_sku` alias gives for the
/// connector's channel. Only what changed since the channel's last acknowledged push is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventorySection {
    /// ERP item (the id the SKU map resolves to) → the code the ERP reports its stock by
    /// (the same string when the ERP uses one id for both).
    pub items: BTreeMap<String, String>,
    /// Units held back from every channel, per item.
    #[serde(default)]
    pub safety_buffer: u32,
}

/// A connector's share of available-to-promise (`inventory = { … }` in `[[connectors]]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorInventory {
    /// Whether this connector receives quantities at all.
    #[serde(default = "default_true")]
    pub push: bool,
    /// Percent of ATP this channel shows (0–100, rounded down).
    #[serde(default = "default_share")]
    pub share_pct: u32,
    /// Never show more than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<u32>,
    /// Show zero when the share would be at or below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_at_or_below: Option<u32>,
}

fn default_share() -> u32 {
    100
}

impl Default for ConnectorInventory {
    fn default() -> Self {
        ConnectorInventory {
            push: true,
            share_pct: 100,
            cap: None,
            zero_at_or_below: None,
        }
    }
}

fn default_true() -> bool {
    true
}

/// The marketplace connectors the CLI can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// Taobao/Tmall Open Platform ([`marketsync_tmall::TmallConfig`]).
    Tmall,
    /// Shopify Admin GraphQL ([`marketsync_shopify::ShopifyConfig`]).
    Shopify,
}

/// The ERP adapters the CLI can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErpKind {
    /// NetSuite REST ([`marketsync_netsuite::NetSuiteConfig`]).
    Netsuite,
    /// Tryton JSON-RPC ([`marketsync_tryton::TrytonConfig`]).
    Tryton,
}

impl ConnectorKind {
    /// The fields of its settings that are secrets.
    pub fn secret_fields(self) -> &'static [&'static str] {
        match self {
            ConnectorKind::Tmall => &["app_secret", "session"],
            ConnectorKind::Shopify => {
                &["access_token", "webhook_secret", "previous_webhook_secret"]
            }
        }
    }
}

impl ErpKind {
    /// The fields of its settings that are secrets.
    pub fn secret_fields(self) -> &'static [&'static str] {
        match self {
            ErpKind::Netsuite => &["consumer_secret", "token_secret"],
            ErpKind::Tryton => &["password"],
        }
    }
}

/// An adapter's own settings and where its secrets are read from. The secrets are read only
/// when the adapter is built ([`Settings::resolve`]), so commands that only read the store
/// need none of them. `Debug` shows setting names only.
#[derive(Clone)]
pub struct Settings {
    table: toml::Table,
    secrets: BTreeMap<String, SecretSource>,
    base: PathBuf,
    what: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("keys", &self.table.keys().collect::<Vec<_>>())
            .field("secrets", &self.secrets)
            .finish()
    }
}

impl Settings {
    /// The settings with each secret read from its source (never print the result).
    pub fn resolve(&self) -> Result<toml::Table, ConfigError> {
        let mut table = self.table.clone();
        for (name, source) in &self.secrets {
            let value = source.read(&format!("{}.{name}", self.what), &self.base)?;
            table.insert(name.clone(), toml::Value::String(value));
        }
        Ok(table)
    }

    /// The settings with a placeholder for each secret: enough to build an adapter that is
    /// only asked who it is (its channel and shop), never to call out.
    pub fn with_placeholders(&self) -> toml::Table {
        let mut table = self.table.clone();
        for name in self.secrets.keys() {
            table.insert(
                name.clone(),
                toml::Value::String("unused-placeholder".into()),
            );
        }
        table
    }

    /// Where the settings come from (`[erp]`, `[[connectors]] #2`).
    pub fn section(&self) -> &str {
        &self.what
    }
}

/// One marketplace connector: its kind, entity and its own settings.
#[derive(Clone, Debug)]
pub struct ConnectorSection {
    /// Which connector.
    pub kind: ConnectorKind,
    /// The legal entity its documents are booked in.
    pub entity: String,
    /// Where this connector's streams start when they have no cursor (default: the engine's).
    pub start: Option<DateTime<Utc>>,
    /// The streams to sync (`orders`, `refunds`, `settlements`); `None`: every stream the
    /// connector declares.
    pub streams: Option<Vec<String>>,
    /// Its share of available-to-promise (used when `[inventory]` is configured).
    pub inventory: ConnectorInventory,
    /// The connector's settings (deserialized by the connector).
    pub settings: Settings,
}

/// The stream names a connector section may list under `streams`.
pub const STREAMS: [&str; 3] = ["orders", "refunds", "settlements"];

/// The ERP adapter: its kind and its own settings.
#[derive(Clone, Debug)]
pub struct ErpSection {
    /// Which adapter.
    pub kind: ErpKind,
    /// The adapter's settings.
    pub settings: Settings,
}

/// A loaded configuration: paths resolved against the file's folder (secrets are read when
/// an adapter is built).
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// The store.
    pub store: StoreConfig,
    /// Engine settings.
    pub engine: EngineSection,
    /// Rulebook and SKU map (paths resolved).
    pub mapping: MappingSection,
    /// The ERP.
    pub erp: ErpSection,
    /// The connectors.
    pub connectors: Vec<ConnectorSection>,
    /// The NATS JetStream work queue, when configured.
    pub queue: Option<QueueSection>,
    /// The inventory push, when configured.
    pub inventory: Option<InventorySection>,
}

/// Key names whose string value is a secret wherever they appear outside `secrets`.
fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "secret", "password", "passwd", "token", "session", "conninfo", "api_key",
    ]
    .iter()
    .any(|s| k == *s || k.ends_with(&format!("_{s}")) || k.starts_with(&format!("{s}_")))
        && !k.ends_with("_id")
        && !k.ends_with("_env")
        && !k.ends_with("_file")
}

/// Refuses secret values anywhere in the document (outside `secrets` tables, whose values are
/// sources, not secrets).
fn refuse_secret_values(table: &toml::Table, path: &str) -> Result<(), ConfigError> {
    for (k, v) in table {
        let here = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        if k == "secrets" {
            continue;
        }
        match v {
            toml::Value::String(_) if looks_secret(k) => {
                return Err(err(format!(
                    "`{here}` holds a secret value: secrets are never kept in the config file; \
                     name where to read it instead, e.g. `secrets = {{ {k} = {{ env = \"MY_VAR\" }} }}` \
                     (or `{{ file = \"/run/secrets/…\" }}`)"
                )));
            }
            toml::Value::Table(t) => refuse_secret_values(t, &here)?,
            toml::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let toml::Value::Table(t) = item {
                        refuse_secret_values(t, &format!("{here}[{i}]"))?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Splits off `secrets`, checks the known secret fields are absent and that every setting
/// and secret is one the adapter knows.
fn split_secrets(
    mut table: toml::Table,
    secret_fields: &[&str],
    known: &[String],
    what: &str,
    base: &Path,
) -> Result<Settings, ConfigError> {
    for f in secret_fields {
        if table.contains_key(*f) {
            return Err(err(format!(
                "{what}: `{f}` is a secret and cannot be set in the config file; use \
                 `secrets = {{ {f} = {{ env = \"MY_VAR\" }} }}`"
            )));
        }
    }
    let secrets = match table.remove("secrets") {
        None => BTreeMap::new(),
        Some(v) => BTreeMap::<String, SecretSource>::deserialize(v)
            .map_err(|e| err(format!("{what}: `secrets`: {e}")))?,
    };
    for (name, source) in &secrets {
        if table.contains_key(name) {
            return Err(err(format!(
                "{what}: `{name}` is given both as a setting and as a secret"
            )));
        }
        if source.env.is_some() == source.file.is_some() {
            return Err(err(format!(
                "secret `{what}.{name}`: give exactly one of `env` or `file`"
            )));
        }
    }
    refuse_unknown(&table, known, what)?;
    if let Some(k) = secrets.keys().find(|k| !known.iter().any(|f| f == *k)) {
        return Err(err(format!("{what}: unknown secret `{k}`")));
    }
    Ok(Settings {
        table,
        secrets,
        base: base.to_path_buf(),
        what: what.to_owned(),
    })
}

/// The property names a settings struct's schema declares.
fn known_fields<T: JsonSchema>() -> Vec<String> {
    let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// Refuses settings the adapter does not know (a typo would otherwise be silently ignored).
fn refuse_unknown(table: &toml::Table, known: &[String], what: &str) -> Result<(), ConfigError> {
    match table.keys().find(|k| !known.iter().any(|f| f == *k)) {
        Some(k) => Err(err(format!("{what}: unknown setting `{k}`"))),
        None => Ok(()),
    }
}

impl ConnectorKind {
    fn known_fields(self) -> Vec<String> {
        match self {
            ConnectorKind::Tmall => known_fields::<marketsync_tmall::TmallConfig>(),
            ConnectorKind::Shopify => known_fields::<marketsync_shopify::ShopifyConfig>(),
        }
    }
}

impl ErpKind {
    fn known_fields(self) -> Vec<String> {
        match self {
            ErpKind::Netsuite => known_fields::<marketsync_netsuite::NetSuiteConfig>(),
            ErpKind::Tryton => known_fields::<marketsync_tryton::TrytonConfig>(),
        }
    }
}

fn take_str(table: &mut toml::Table, key: &str, what: &str) -> Result<String, ConfigError> {
    match table.remove(key) {
        Some(toml::Value::String(s)) => Ok(s),
        Some(_) => Err(err(format!("{what}: `{key}` must be a string"))),
        None => Err(err(format!("{what}: `{key}` is missing"))),
    }
}

fn take_kind<T: for<'de> Deserialize<'de>>(
    table: &mut toml::Table,
    what: &str,
) -> Result<T, ConfigError> {
    let kind = take_str(table, "kind", what)?;
    T::deserialize(toml::Value::String(kind.clone()))
        .map_err(|_| err(format!("{what}: unknown kind {kind:?}")))
}

impl RunConfig {
    /// Reads and checks a configuration file; reads its secrets from their sources.
    pub fn load(path: &Path) -> Result<RunConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        RunConfig::parse(&text, path, &base)
    }

    /// Parses a configuration; relative paths resolve against `base`.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<RunConfig, ConfigError> {
        let mut doc: toml::Table = toml::from_str(text)
            .map_err(|e| err(format!("{}: not valid TOML: {e}", path.display())))?;
        refuse_secret_values(&doc, "")?;
        let allowed = [
            "store",
            "engine",
            "mapping",
            "erp",
            "connectors",
            "queue",
            "inventory",
        ];
        if let Some(k) = doc.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(err(format!("unknown section `{k}`")));
        }
        let section = |doc: &mut toml::Table, k: &str| {
            doc.remove(k)
                .ok_or_else(|| err(format!("section `[{k}]` is missing")))
        };
        let mut store = StoreConfig::deserialize(section(&mut doc, "store")?)
            .map_err(|e| err(format!("[store]: {e}")))?;
        if let StoreConfig::Sqlite { path } = &mut store {
            *path = base.join(&*path);
        }
        let engine = EngineSection::deserialize(section(&mut doc, "engine")?)
            .map_err(|e| err(format!("[engine]: {e}")))?;
        let mut mapping = MappingSection::deserialize(section(&mut doc, "mapping")?)
            .map_err(|e| err(format!("[mapping]: {e}")))?;
        mapping.rulebook = base.join(&mapping.rulebook);
        mapping.sku_map = mapping.sku_map.map(|p| base.join(p));
        if let Some(fx) = &mut mapping.fx {
            fx.files = fx.files.iter().map(|p| base.join(p)).collect();
        }
        let queue = match doc.remove("queue") {
            None => None,
            Some(v) => {
                let q = QueueSection::deserialize(v).map_err(|e| err(format!("[queue]: {e}")))?;
                q.check()?;
                Some(q)
            }
        };
        let inventory = match doc.remove("inventory") {
            None => None,
            Some(v) => Some(
                InventorySection::deserialize(v).map_err(|e| err(format!("[inventory]: {e}")))?,
            ),
        };

        let mut erp_table = match section(&mut doc, "erp")? {
            toml::Value::Table(t) => t,
            _ => return Err(err("[erp] must be a table")),
        };
        let erp_kind: ErpKind = take_kind(&mut erp_table, "[erp]")?;
        let settings = split_secrets(
            erp_table,
            erp_kind.secret_fields(),
            &erp_kind.known_fields(),
            "[erp]",
            base,
        )?;
        let erp = ErpSection {
            kind: erp_kind,
            settings,
        };

        let mut connectors = Vec::new();
        let list = match section(&mut doc, "connectors")? {
            toml::Value::Array(a) => a,
            _ => {
                return Err(err(
                    "`connectors` must be an array of tables ([[connectors]])",
                ));
            }
        };
        for (i, item) in list.into_iter().enumerate() {
            let what = format!("[[connectors]] #{}", i + 1);
            let mut t = match item {
                toml::Value::Table(t) => t,
                _ => return Err(err(format!("{what}: must be a table"))),
            };
            let kind: ConnectorKind = take_kind(&mut t, &what)?;
            let entity = take_str(&mut t, "entity", &what)?;
            let start = match t.remove("start") {
                None => None,
                Some(v) => {
                    let text = match v {
                        toml::Value::String(s) => s,
                        toml::Value::Datetime(d) => d.to_string(),
                        _ => return Err(err(format!("{what}: `start` must be a date-time"))),
                    };
                    Some(
                        text.parse::<DateTime<Utc>>()
                            .map_err(|e| err(format!("{what}: `start` {text:?}: {e}")))?,
                    )
                }
            };
            let streams = match t.remove("streams") {
                None => None,
                Some(v) => {
                    let list = Vec::<String>::deserialize(v)
                        .map_err(|e| err(format!("{what}: `streams`: {e}")))?;
                    if let Some(bad) = list.iter().find(|s| !STREAMS.contains(&s.as_str())) {
                        return Err(err(format!(
                            "{what}: unknown stream {bad:?} (orders, refunds, settlements)"
                        )));
                    }
                    Some(list)
                }
            };
            let inventory = match t.remove("inventory") {
                None => ConnectorInventory::default(),
                Some(v) => {
                    let i = ConnectorInventory::deserialize(v)
                        .map_err(|e| err(format!("{what}: `inventory`: {e}")))?;
                    if i.share_pct > 100 {
                        return Err(err(format!("{what}: `inventory.share_pct` must be 0–100")));
                    }
                    i
                }
            };
            if queue.is_some() && !nats_token(&entity) {
                return Err(err(format!(
                    "{what}: entity {entity:?} names a NATS stream: letters, digits, `_` or `-` only"
                )));
            }
            let settings =
                split_secrets(t, kind.secret_fields(), &kind.known_fields(), &what, base)?;
            connectors.push(ConnectorSection {
                kind,
                entity,
                start,
                streams,
                inventory,
                settings,
            });
        }
        if connectors.is_empty() {
            return Err(err("no [[connectors]]"));
        }
        Ok(RunConfig {
            path: path.to_path_buf(),
            store,
            engine,
            mapping,
            erp,
            connectors,
            queue,
            inventory,
        })
    }
}

/// Moves a generated schema's `$defs` into `defs` and returns its root, without the secret
/// fields, with `kind` and `secrets` added.
fn section_schema(
    mut root: Value,
    kind: &str,
    secrets: &[&str],
    extra: Value,
    defs: &mut serde_json::Map<String, Value>,
) -> Value {
    if let Some(Value::Object(d)) = root.as_object_mut().and_then(|o| o.remove("$defs")) {
        defs.extend(d);
    }
    if let Some(o) = root.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
        if let Some(Value::Object(props)) = o.get_mut("properties") {
            for s in secrets {
                props.remove(*s);
            }
            props.insert(
                "kind".into(),
                json!({ "const": kind, "description": "Which adapter." }),
            );
            let secret_props: serde_json::Map<String, Value> = secrets
                .iter()
                .map(|s| ((*s).to_owned(), json!({ "$ref": "#/$defs/SecretSource" })))
                .collect();
            props.insert(
                "secrets".into(),
                json!({
                    "type": "object",
                    "description": "Where each secret is read from (environment variable or file); secret values are never in the file.",
                    "properties": secret_props,
                    "additionalProperties": { "$ref": "#/$defs/SecretSource" }
                }),
            );
            if let Value::Object(extra) = extra {
                props.extend(extra);
            }
        }
        if let Some(Value::Array(req)) = o.get_mut("required") {
            req.retain(|r| !secrets.iter().any(|s| r == s));
            req.push(json!("kind"));
        }
    }
    root
}

/// The JSON Schema (2020-12) of the `run --config` file.
pub fn config_schema() -> Value {
    let mut defs = serde_json::Map::new();
    let take = |v: Value, defs: &mut serde_json::Map<String, Value>| {
        let mut v = v;
        if let Some(Value::Object(d)) = v.as_object_mut().and_then(|o| o.remove("$defs")) {
            defs.extend(d);
        }
        if let Some(o) = v.as_object_mut() {
            o.remove("$schema");
        }
        v
    };
    let store = take(
        serde_json::to_value(schemars::schema_for!(StoreConfig)).unwrap_or_default(),
        &mut defs,
    );
    let engine = take(
        serde_json::to_value(schemars::schema_for!(EngineSection)).unwrap_or_default(),
        &mut defs,
    );
    let mapping = take(
        serde_json::to_value(schemars::schema_for!(MappingSection)).unwrap_or_default(),
        &mut defs,
    );
    let secret = take(
        serde_json::to_value(schemars::schema_for!(SecretSource)).unwrap_or_default(),
        &mut defs,
    );
    defs.insert("SecretSource".into(), secret);
    let queue = take(
        serde_json::to_value(schemars::schema_for!(QueueSection)).unwrap_or_default(),
        &mut defs,
    );
    let inventory = take(
        serde_json::to_value(schemars::schema_for!(InventorySection)).unwrap_or_default(),
        &mut defs,
    );
    let conn_inventory = take(
        serde_json::to_value(schemars::schema_for!(ConnectorInventory)).unwrap_or_default(),
        &mut defs,
    );
    let conn_extra = json!({
        "entity": { "type": "string", "description": "The legal entity this connector's documents are booked in (a rulebook entity)." },
        "start": { "type": "string", "format": "date-time", "description": "Where this connector's streams start when they have no cursor (default: engine.start)." },
        "streams": { "type": "array", "items": { "enum": STREAMS }, "description": "The streams to sync (default: every stream the connector declares)." },
        "inventory": conn_inventory
    });
    let tmall = section_schema(
        serde_json::to_value(schemars::schema_for!(marketsync_tmall::TmallConfig))
            .unwrap_or_default(),
        "tmall",
        ConnectorKind::Tmall.secret_fields(),
        conn_extra.clone(),
        &mut defs,
    );
    let shopify = section_schema(
        serde_json::to_value(schemars::schema_for!(marketsync_shopify::ShopifyConfig))
            .unwrap_or_default(),
        "shopify",
        ConnectorKind::Shopify.secret_fields(),
        conn_extra,
        &mut defs,
    );
    let netsuite = section_schema(
        serde_json::to_value(schemars::schema_for!(marketsync_netsuite::NetSuiteConfig))
            .unwrap_or_default(),
        "netsuite",
        ErpKind::Netsuite.secret_fields(),
        json!({}),
        &mut defs,
    );
    let tryton = section_schema(
        serde_json::to_value(schemars::schema_for!(marketsync_tryton::TrytonConfig))
            .unwrap_or_default(),
        "tryton",
        ErpKind::Tryton.secret_fields(),
        json!({}),
        &mut defs,
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://marketsync.dev/schemas/MarketsyncConfig.schema.json",
        "title": "MarketsyncConfig",
        "description": "The `marketsync run --config` file (TOML). Secrets are never in the file: each is named under `secrets` with the environment variable or file it is read from.",
        "type": "object",
        "additionalProperties": false,
        "required": ["store", "engine", "mapping", "erp", "connectors"],
        "properties": {
            "store": store,
            "engine": engine,
            "mapping": mapping,
            "queue": queue,
            "inventory": inventory,
            "erp": { "oneOf": [netsuite, tryton] },
            "connectors": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "oneOf": [
                        add_required(tmall, "entity"),
                        add_required(shopify, "entity")
                    ]
                }
            }
        },
        "$defs": defs,
    })
}

fn add_required(mut v: Value, field: &str) -> Value {
    if let Some(Value::Array(req)) = v.as_object_mut().and_then(|o| o.get_mut("required")) {
        req.push(json!(field));
    }
    v
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn secret_like_keys() {
        for k in [
            "app_secret",
            "access_token",
            "password",
            "session",
            "conninfo",
            "token_secret",
            "secret",
        ] {
            assert!(looks_secret(k), "{k}");
        }
        for k in [
            "token_id",
            "app_key",
            "shop_id",
            "consumer_key",
            "api_version",
            "session_env",
        ] {
            assert!(!looks_secret(k), "{k}");
        }
    }

    fn example() -> RunConfig {
        RunConfig::parse(
            crate::simulate::EXAMPLE_CONFIG,
            Path::new("examples/marketsync.toml"),
            Path::new("examples"),
        )
        .unwrap()
    }

    #[test]
    fn the_example_parses_without_reading_secrets() {
        let c = example();
        assert_eq!(
            c.store,
            StoreConfig::Sqlite {
                path: PathBuf::from("examples/marketsync.db")
            }
        );
        assert_eq!(c.mapping.rulebook, PathBuf::from("examples/rulebook.toml"));
        assert_eq!(c.erp.kind, ErpKind::Netsuite);
        assert_eq!(c.connectors.len(), 2);
        assert_eq!(c.connectors[0].kind, ConnectorKind::Tmall);
        assert_eq!(c.connectors[0].entity, "CN01");
        assert_eq!(
            c.connectors[0].streams.as_deref(),
            Some(&["orders".to_owned(), "refunds".to_owned()][..])
        );
        assert_eq!(c.connectors[1].streams, None);
        // Debug shows setting names and secret sources, no values.
        let debug = format!("{c:?}");
        assert!(debug.contains("TMALL_APP_SECRET"));
        assert!(!debug.contains("sim-app-secret"));
    }

    #[test]
    fn secrets_come_from_env_or_file_only() {
        let doc = crate::simulate::EXAMPLE_CONFIG.replace(
            "token_id = \"sim-token-id-0123456789abcdef\"",
            "token_id = \"x\"\ntoken_secret = \"abc\"",
        );
        let e = RunConfig::parse(&doc, Path::new("c.toml"), Path::new(".")).unwrap_err();
        assert!(
            e.0.contains("`erp.token_secret` holds a secret value"),
            "{e}"
        );
        assert!(!e.0.contains("abc"));
        // A secret given as something else than a string is still refused by name.
        let doc = crate::simulate::EXAMPLE_CONFIG.replace(
            "app_key = \"12345678\"",
            "app_key = \"12345678\"\nsession = 42",
        );
        let e = RunConfig::parse(&doc, Path::new("c.toml"), Path::new(".")).unwrap_err();
        assert!(e.0.contains("`session` is a secret"), "{e}");
        // Both sources, or neither.
        let doc = crate::simulate::EXAMPLE_CONFIG.replace(
            "{ env = \"TMALL_SESSION\" }",
            "{ env = \"A\", file = \"b\" }",
        );
        let e = RunConfig::parse(&doc, Path::new("c.toml"), Path::new(".")).unwrap_err();
        assert!(e.0.contains("exactly one of `env` or `file`"), "{e}");
        // An unknown section.
        let doc = format!("{}\n[extra]\nx = 1\n", crate::simulate::EXAMPLE_CONFIG);
        let e = RunConfig::parse(&doc, Path::new("c.toml"), Path::new(".")).unwrap_err();
        assert!(e.0.contains("unknown section `extra`"), "{e}");
    }

    #[test]
    fn the_schema_describes_the_example() {
        let schema = config_schema();
        let props = schema["properties"].as_object().unwrap();
        let doc: toml::Table = toml::from_str(crate::simulate::EXAMPLE_CONFIG).unwrap();
        for k in doc.keys() {
            assert!(props.contains_key(k), "{k}");
        }
        let tmall = &schema["properties"]["connectors"]["items"]["oneOf"][0];
        let tprops = tmall["properties"].as_object().unwrap();
        assert!(!tprops.contains_key("app_secret") && !tprops.contains_key("session"));
        assert!(tprops.contains_key("secrets") && tprops.contains_key("entity"));
        let required: Vec<&str> = tmall["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(required.contains(&"app_key") && !required.contains(&"app_secret"));
        let connectors = doc["connectors"].as_array().unwrap();
        for (i, c) in connectors.iter().enumerate() {
            let p = schema["properties"]["connectors"]["items"]["oneOf"][i]["properties"]
                .as_object()
                .unwrap();
            for k in c.as_table().unwrap().keys() {
                assert!(p.contains_key(k), "connector {i}: {k}");
            }
        }
        let erp = schema["properties"]["erp"]["oneOf"][0]["properties"]
            .as_object()
            .unwrap();
        for k in doc["erp"].as_table().unwrap().keys() {
            assert!(erp.contains_key(k), "erp: {k}");
        }
        // Every $ref resolves.
        let text = schema.to_string();
        let defs = schema["$defs"].as_object().unwrap();
        for part in text.split("\"#/$defs/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(defs.contains_key(name), "{name}");
        }
    }

    fn with(extra: &str) -> Result<RunConfig, ConfigError> {
        let doc = format!("{}\n{extra}\n", crate::simulate::EXAMPLE_CONFIG);
        RunConfig::parse(&doc, Path::new("examples/c.toml"), Path::new("examples"))
    }

    #[test]
    fn the_example_has_an_inventory_push_and_no_queue() {
        let c = example();
        let inv = c.inventory.as_ref().unwrap();
        assert_eq!(inv.safety_buffer, 2);
        assert_eq!(inv.items.len(), 12);
        assert_eq!(inv.items["1009"], "SKU-0009");
        assert!(
            c.connectors
                .iter()
                .all(|c| c.inventory == ConnectorInventory::default())
        );
        assert!(c.queue.is_none() && c.mapping.fx.is_none());
    }

    #[test]
    fn queue_section() {
        let doc = crate::simulate::EXAMPLE_CONFIG.replace(
            "# [queue]\n# url = \"nats://127.0.0.1:4222\"",
            "[queue]\nurl = \"nats://127.0.0.1:4222\"",
        );
        let c = RunConfig::parse(&doc, Path::new("c.toml"), Path::new(".")).unwrap();
        let q = c.queue.unwrap();
        assert_eq!(
            (
                q.stream.as_str(),
                q.subject_prefix.as_str(),
                q.workers,
                q.partitions
            ),
            ("MARKETSYNC", "marketsync.work", 2, 16)
        );
        let bad = |extra: &str| with(extra).unwrap_err().0;
        assert!(bad("[queue]\nurl = \"nats://u:hunter2@host:4222\"").contains("holds credentials"),);
        assert!(!bad("[queue]\nurl = \"nats://u:hunter2@host:4222\"").contains("hunter2"));
        assert!(bad("[queue]\nurl = \"http://x\"").contains("nats://"));
        assert!(bad("[queue]\nurl = \"nats://x\"\nstream = \"a.b\"").contains("`stream`"));
        assert!(
            bad("[queue]\nurl = \"nats://x\"\nsubject_prefix = \"a.*\"")
                .contains("`subject_prefix`")
        );
        assert!(bad("[queue]\nurl = \"nats://x\"\nworkers = 0").contains("at least 1"));
        assert!(bad("[queue]\nurl = \"nats://x\"\ntypo = 1").contains("unknown field"));
        // An entity names a NATS stream when the queue is on.
        let doc = doc.replace("entity = \"US01\"", "entity = \"US 01\"");
        let e = RunConfig::parse(&doc, Path::new("c.toml"), Path::new(".")).unwrap_err();
        assert!(e.0.contains("names a NATS stream"), "{e}");
    }

    #[test]
    fn connector_inventory_share() {
        let doc = crate::simulate::EXAMPLE_CONFIG.replace(
            "entity = \"US01\"",
            "entity = \"US01\"\ninventory = { share_pct = 40, cap = 7, zero_at_or_below = 1 }",
        );
        let c = RunConfig::parse(&doc, Path::new("c.toml"), Path::new(".")).unwrap();
        assert_eq!(
            c.connectors[1].inventory,
            ConnectorInventory {
                push: true,
                share_pct: 40,
                cap: Some(7),
                zero_at_or_below: Some(1)
            }
        );
        let doc = crate::simulate::EXAMPLE_CONFIG.replace(
            "entity = \"US01\"",
            "entity = \"US01\"\ninventory = { share_pct = 140 }",
        );
        let e = RunConfig::parse(&doc, Path::new("c.toml"), Path::new(".")).unwrap_err();
        assert!(e.0.contains("0–100"), "{e}");
    }

    #[test]
    fn fx_rates_inline_with_dates_as_dates_or_strings() {
        let c = with(
            "[mapping.fx]\nfiles = [\"rates.csv\"]\nrates = [\n  { date = 2026-01-01, from = \"USD\", to = \"EUR\", rate = \"0.92\", source = \"ECB\" },\n  { date = \"2026-02-01\", from = \"USD\", to = \"EUR\", rate = \"0.93\", source = \"ECB\" },\n]",
        );
        // `[mapping.fx]` after `[[connectors]]` is still the mapping section's table.
        let c = c.unwrap();
        let fx = c.mapping.fx.unwrap();
        assert_eq!(fx.files, vec![PathBuf::from("examples/rates.csv")]);
        assert_eq!(fx.rates.len(), 2);
        assert_eq!(fx.rates[0].date.to_string(), "2026-01-01");
        assert_eq!(fx.rates[1].date.to_string(), "2026-02-01");
        // A float rate is refused (money is never a float).
        let e = with("[mapping.fx]\nrates = [{ date = 2026-01-01, from = \"USD\", to = \"EUR\", rate = 0.92, source = \"ECB\" }]")
            .unwrap_err();
        assert!(e.0.contains("[mapping]"), "{e}");
        let e = with("[mapping.fx]\nrates = [{ date = \"01/02/2026\", from = \"USD\", to = \"EUR\", rate = \"1\", source = \"ECB\" }]")
            .unwrap_err();
        assert!(e.0.contains("invalid date"), "{e}");
    }

    #[test]
    fn the_schema_has_queue_inventory_and_fx() {
        let schema = config_schema();
        let props = &schema["properties"];
        assert!(props["queue"]["properties"]["url"].is_object());
        assert!(props["inventory"]["properties"]["items"].is_object());
        let tmall = &props["connectors"]["items"]["oneOf"][0]["properties"];
        assert!(tmall["inventory"]["properties"]["share_pct"].is_object());
        let text = schema.to_string();
        assert!(text.contains("FxSection") && text.contains("FxRateEntry"));
    }
}
