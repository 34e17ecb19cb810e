//! Adapter configuration: where the server is, who we log in as, and how our codes (legal
//! entities, GL accounts, channels, locations) resolve to Tryton records.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use marketsync_core::{Channel, Error, ErrorKind, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// A secret string: serialized as-is (configuration files), never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Tryton adapter settings. Build from a file (serde), with [`TrytonConfig::new`] and the
/// `with_…` methods, or from `MARKETSYNC_TRYTON_<KEY>` environment variables
/// ([`TrytonConfig::from_env`]).
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
pub struct TrytonConfig {
    /// The server's base URL (`http://127.0.0.1:8000/`); calls go to `<url>/<database>/rpc/`.
    #[schemars(with = "String", url)]
    pub url: Url,
    /// The database name.
    pub database: String,
    /// The user to log in as.
    pub login: String,
    /// Its password.
    pub password: Secret,
    /// Legal entity → the code of the company's party in Tryton. An entity not listed is looked
    /// up as a party code as-is.
    #[serde(default)]
    pub companies: BTreeMap<String, String>,
    /// The legal entity used for sales orders that name none.
    pub default_entity: String,
    /// Our GL account code → Tryton account code (per company chart). A code not listed is
    /// used as the Tryton code as-is.
    #[serde(default)]
    pub accounts: BTreeMap<String, String>,
    /// Code of the journal moves are created in (`MISC`, Tryton's "Miscellaneous").
    #[serde(default = "default_journal")]
    pub journal: String,
    /// Channel name (`tmall`, `custom:zalando`) → party code. A channel not listed is looked up
    /// as a party code equal to its name.
    #[serde(default)]
    pub channel_parties: BTreeMap<String, String>,
    /// Party code used on move lines of accounts that require a party (receivables, payables)
    /// when the line has no channel dimension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_party: Option<String>,
    /// Code of the warehouse (`stock.location` of type warehouse) for stock positions.
    #[serde(default = "default_warehouse")]
    pub warehouse: String,
    /// Our GL code of the sales-tax / VAT account that credit notes carry the refunded taxes
    /// on (resolved through [`TrytonConfig::accounts`] like journal lines). Needed only for
    /// refunds with taxes: without it such a refund is a `Mapping` error (`unmapped_tax`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_account: Option<String>,
    /// Whole-request timeout in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_journal() -> String {
    "MISC".into()
}

fn default_warehouse() -> String {
    "WH".into()
}

fn default_timeout_ms() -> u64 {
    30_000
}

impl fmt::Debug for TrytonConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrytonConfig")
            .field("url", &self.url.as_str())
            .field("database", &self.database)
            .field("login", &self.login)
            .field("password", &self.password)
            .field("companies", &self.companies)
            .field("default_entity", &self.default_entity)
            .field("accounts", &self.accounts.len())
            .field("journal", &self.journal)
            .field("warehouse", &self.warehouse)
            .field("tax_account", &self.tax_account)
            .field("timeout_ms", &self.timeout_ms)
            .finish_non_exhaustive()
    }
}

const ENV_PREFIX: &str = "MARKETSYNC_TRYTON_";

fn parse_map(key: &str, raw: &str) -> Result<BTreeMap<String, String>> {
    let mut m = BTreeMap::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!("{key}: expected `ours=theirs` pairs separated by commas"),
            )
        })?;
        m.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    Ok(m)
}

impl TrytonConfig {
    /// A configuration with the required fields and defaults for the rest.
    pub fn new(
        url: Url,
        database: impl Into<String>,
        login: impl Into<String>,
        password: Secret,
        default_entity: impl Into<String>,
    ) -> TrytonConfig {
        TrytonConfig {
            url,
            database: database.into(),
            login: login.into(),
            password,
            companies: BTreeMap::new(),
            default_entity: default_entity.into(),
            accounts: BTreeMap::new(),
            journal: default_journal(),
            channel_parties: BTreeMap::new(),
            default_party: None,
            warehouse: default_warehouse(),
            tax_account: None,
            timeout_ms: default_timeout_ms(),
        }
    }

    /// Maps one of our GL account codes to a Tryton account code.
    pub fn with_account(mut self, ours: impl Into<String>, tryton: impl Into<String>) -> Self {
        self.accounts.insert(ours.into(), tryton.into());
        self
    }

    /// Sets the GL code (ours) of the tax account credit notes carry refunded taxes on.
    pub fn with_tax_account(mut self, ours: impl Into<String>) -> Self {
        self.tax_account = Some(ours.into());
        self
    }

    /// Maps a legal entity to the party code of a Tryton company.
    pub fn with_company(
        mut self,
        entity: impl Into<String>,
        party_code: impl Into<String>,
    ) -> Self {
        self.companies.insert(entity.into(), party_code.into());
        self
    }

    /// Points the adapter at another base URL (a proxy, another port).
    pub fn with_url(mut self, url: Url) -> Self {
        self.url = url;
        self
    }

    /// Replaces the password.
    pub fn with_password(mut self, password: Secret) -> Self {
        self.password = password;
        self
    }

    /// Sets the request timeout.
    pub fn with_timeout_ms(mut self, timeout_ms: u64) -> Self {
        self.timeout_ms = timeout_ms;
        self
    }

    /// Builds from a key → value map (keys without the `MARKETSYNC_TRYTON_` prefix):
    /// `URL`, `DB`, `LOGIN`, `PASSWORD` or `PASSWORD_FILE`, `DEFAULT_ENTITY`, and optionally
    /// `COMPANIES` / `ACCOUNTS` / `CHANNEL_PARTIES` (`ours=theirs,…`), `JOURNAL`,
    /// `DEFAULT_PARTY`, `WAREHOUSE`, `TAX_ACCOUNT`, `TIMEOUT_MS`.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<TrytonConfig> {
        let get = |k: &str| map.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let req = |k: &str| {
            get(k).ok_or_else(|| {
                Error::new(ErrorKind::ConfigInvalid, format!("missing {ENV_PREFIX}{k}"))
                    .with_context("key", k)
            })
        };
        let url: Url = req("URL")?.parse().map_err(|e| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!("{ENV_PREFIX}URL is not a URL"),
            )
            .with_source(e)
        })?;
        let password = match (get("PASSWORD"), get("PASSWORD_FILE")) {
            (Some(p), _) => p.to_owned(),
            (None, Some(path)) => std::fs::read_to_string(PathBuf::from(path))
                .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|e| {
                    Error::new(
                        ErrorKind::ConfigInvalid,
                        format!("cannot read {ENV_PREFIX}PASSWORD_FILE"),
                    )
                    .with_source(e)
                })?,
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("missing {ENV_PREFIX}PASSWORD or {ENV_PREFIX}PASSWORD_FILE"),
                ));
            }
        };
        let mut c = TrytonConfig::new(
            url,
            req("DB")?,
            get("LOGIN").unwrap_or("admin"),
            Secret::new(password),
            req("DEFAULT_ENTITY")?,
        );
        if let Some(v) = get("COMPANIES") {
            c.companies = parse_map("COMPANIES", v)?;
        }
        if let Some(v) = get("ACCOUNTS") {
            c.accounts = parse_map("ACCOUNTS", v)?;
        }
        if let Some(v) = get("CHANNEL_PARTIES") {
            c.channel_parties = parse_map("CHANNEL_PARTIES", v)?;
        }
        if let Some(v) = get("JOURNAL") {
            c.journal = v.to_owned();
        }
        if let Some(v) = get("DEFAULT_PARTY") {
            c.default_party = Some(v.to_owned());
        }
        if let Some(v) = get("WAREHOUSE") {
            c.warehouse = v.to_owned();
        }
        if let Some(v) = get("TAX_ACCOUNT") {
            c.tax_account = Some(v.to_owned());
        }
        if let Some(v) = get("TIMEOUT_MS") {
            c.timeout_ms = v.parse().map_err(|_| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("{ENV_PREFIX}TIMEOUT_MS is not a number"),
                )
            })?;
        }
        Ok(c)
    }

    /// Builds from `MARKETSYNC_TRYTON_*` environment variables (see [`TrytonConfig::from_map`]).
    pub fn from_env() -> Result<TrytonConfig> {
        let map: BTreeMap<String, String> = std::env::vars()
            .filter_map(|(k, v)| k.strip_prefix(ENV_PREFIX).map(|k| (k.to_owned(), v)))
            .collect();
        TrytonConfig::from_map(&map)
    }

    /// The JSON-RPC endpoint: `<url>/<database>/rpc/`.
    pub fn endpoint(&self) -> Result<Url> {
        let mut base = self.url.clone();
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        if self.database.is_empty() || self.database.contains('/') {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                "the Tryton database name is empty or contains '/'",
            ));
        }
        base.join(&format!("{}/rpc/", self.database)).map_err(|e| {
            Error::new(ErrorKind::ConfigInvalid, "cannot build the Tryton RPC URL").with_source(e)
        })
    }

    /// The Tryton company party code for a legal entity.
    pub fn company_code<'a>(&'a self, entity: &'a str) -> &'a str {
        self.companies.get(entity).map_or(entity, String::as_str)
    }

    /// The Tryton account code for one of our account codes.
    pub fn account_code<'a>(&'a self, ours: &'a str) -> &'a str {
        self.accounts.get(ours).map_or(ours, String::as_str)
    }

    /// The party code for a channel.
    pub fn channel_party(&self, channel: &Channel) -> String {
        let name = channel.name();
        self.channel_parties.get(&name).cloned().unwrap_or(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn debug_redacts_the_password() {
        let c = TrytonConfig::new(
            "http://127.0.0.1:8000/"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
            "db",
            "admin",
            Secret::new("hunter2-secret"),
            "US01",
        );
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("<redacted>"), "{dbg}");
        assert_eq!(format!("{:?}", c.password), "<redacted>");
    }

    #[test]
    fn from_map_and_endpoint() -> Result<()> {
        let c = TrytonConfig::from_map(&map(&[
            ("URL", "http://127.0.0.1:8765"),
            ("DB", "books"),
            ("PASSWORD", "pw"),
            ("DEFAULT_ENTITY", "US01"),
            ("ACCOUNTS", "1210=1.2.3, 4000=4.1.1"),
            ("CHANNEL_PARTIES", "amazon=AMZ"),
            ("TAX_ACCOUNT", "2202"),
        ]))?;
        assert_eq!(c.tax_account.as_deref(), Some("2202"));
        assert_eq!(c.login, "admin");
        assert_eq!(c.endpoint()?.as_str(), "http://127.0.0.1:8765/books/rpc/");
        assert_eq!(c.account_code("1210"), "1.2.3");
        assert_eq!(c.account_code("9999"), "9999");
        assert_eq!(c.channel_party(&Channel::Amazon), "AMZ");
        assert_eq!(c.channel_party(&Channel::Tmall), "tmall");
        assert_eq!(c.company_code("US01"), "US01");
        let e = TrytonConfig::from_map(&map(&[("URL", "http://x/")])).err();
        assert_eq!(e.map(|e| *e.kind()), Some(ErrorKind::ConfigInvalid));
        let e = TrytonConfig::from_map(&map(&[
            ("URL", "http://x/"),
            ("DB", "d"),
            ("DEFAULT_ENTITY", "E"),
        ]))
        .err();
        assert!(e.is_some_and(|e| e.message().contains("PASSWORD")));
        Ok(())
    }
}
