//! Adapter configuration: account, credentials, concurrency and the mapping of our codes to
//! NetSuite internal ids.

use std::collections::BTreeMap;
use std::fmt;

use marketsync_core::{Error, ErrorKind, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::sign::{TbaCredentials, host_label_of};

/// Credentials are [`marketsync_core::Secret`]s: serialized as-is, never shown by `Debug`.
pub use marketsync_core::Secret;

/// Maps one of our journal-line dimensions to a NetSuite line field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DimensionRule {
    /// Our dimension: `channel`, `shop`, `entity`, `order_id`, or a key of
    /// [`Dimensions::extra`](marketsync_core::Dimensions::extra) such as `department`.
    pub source: String,
    /// The NetSuite line field it fills: `department`, `class`, `location`, `subsidiary` or a
    /// custom column (`custcol_…`). Sent as a reference `{"id": …}`.
    pub field: String,
    /// Our value → NetSuite internal id. Empty: the value is already the internal id. Not
    /// empty: a value missing from the map is a `Mapping` error (never a silent default).
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

impl DimensionRule {
    /// `department`, `class` and `location` from the same-named extra dimensions, values used
    /// as internal ids.
    pub fn defaults() -> Vec<DimensionRule> {
        ["department", "class", "location"]
            .iter()
            .map(|f| DimensionRule {
                source: (*f).to_owned(),
                field: (*f).to_owned(),
                values: BTreeMap::new(),
            })
            .collect()
    }
}

/// NetSuite adapter settings. Build from a file (serde), from a map or from
/// `MARKETSYNC_NETSUITE_<KEY>` environment variables ([`NetSuiteConfig::from_env`]).
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
pub struct NetSuiteConfig {
    /// Account id, either form: `1234567`, `1234567-sb1` or `1234567_SB1`.
    pub account_id: String,
    /// Base URL override (a proxy or a simulator). Default:
    /// `https://<account>.suitetalk.api.netsuite.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", url)]
    pub base_url: Option<Url>,
    /// Integration record consumer key.
    pub consumer_key: String,
    /// Integration record consumer secret.
    pub consumer_secret: Secret,
    /// Access token id.
    pub token_id: String,
    /// Access token secret.
    pub token_secret: Secret,
    /// The most requests this adapter runs at once (its share of the account's concurrency
    /// limit, which SOAP, REST and RESTlets share).
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: u32,
    /// Whole-request timeout in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The customer (entity internal id) sales orders and credit memos are booked to.
    pub customer: String,
    /// Per-channel customer overrides: channel name (`tmall`) → customer internal id.
    #[serde(default)]
    pub channel_customers: BTreeMap<String, String>,
    /// Legal entity → subsidiary internal id.
    #[serde(default)]
    pub subsidiaries: BTreeMap<String, String>,
    /// ISO 4217 code → currency internal id. A currency not listed is refused.
    #[serde(default)]
    pub currencies: BTreeMap<String, String>,
    /// GL account code → account internal id.
    #[serde(default)]
    pub accounts: BTreeMap<String, String>,
    /// When true, an account code missing from `accounts` is sent as the internal id.
    #[serde(default)]
    pub account_codes_are_internal_ids: bool,
    /// Our location id → NetSuite location internal id.
    #[serde(default)]
    pub locations: BTreeMap<String, String>,
    /// Journal-line dimension mapping.
    #[serde(default = "DimensionRule::defaults")]
    pub dimensions: Vec<DimensionRule>,
    /// Item booked for shipping on credit memos (required only when a refund includes shipping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_item: Option<String>,
    /// Discount item for order-level discounts (required only when an order has them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_item: Option<String>,
    /// When set, a refund's credit memo is followed by a customer refund paid from this
    /// account (internal id); unset, only the credit memo is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_account: Option<String>,
    /// IANA zone of the books: transaction dates are the local date of the event there.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

fn default_max_concurrency() -> u32 {
    4
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn default_time_zone() -> String {
    "UTC".into()
}

impl fmt::Debug for NetSuiteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetSuiteConfig")
            .field("account_id", &self.account_id)
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &self.consumer_secret)
            .field("token_id", &self.token_id)
            .field("token_secret", &self.token_secret)
            .field("max_concurrency", &self.max_concurrency)
            .field("customer", &self.customer)
            .field("time_zone", &self.time_zone)
            .finish_non_exhaustive()
    }
}

const ENV_PREFIX: &str = "MARKETSYNC_NETSUITE_";

fn parse_map(key: &str, raw: &str) -> Result<BTreeMap<String, String>> {
    let mut m = BTreeMap::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!("{key}: expected `code=id` pairs separated by commas"),
            )
        })?;
        m.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    Ok(m)
}

impl NetSuiteConfig {
    /// A configuration with the required fields and defaults for the rest.
    pub fn new(
        account_id: impl Into<String>,
        credentials: TbaCredentials,
        customer: impl Into<String>,
    ) -> NetSuiteConfig {
        NetSuiteConfig {
            account_id: account_id.into(),
            base_url: None,
            consumer_key: credentials.consumer_key,
            consumer_secret: Secret::new(credentials.consumer_secret),
            token_id: credentials.token_id,
            token_secret: Secret::new(credentials.token_secret),
            max_concurrency: default_max_concurrency(),
            timeout_ms: default_timeout_ms(),
            customer: customer.into(),
            channel_customers: BTreeMap::new(),
            subsidiaries: BTreeMap::new(),
            currencies: BTreeMap::new(),
            accounts: BTreeMap::new(),
            account_codes_are_internal_ids: false,
            locations: BTreeMap::new(),
            dimensions: DimensionRule::defaults(),
            shipping_item: None,
            discount_item: None,
            refund_account: None,
            time_zone: default_time_zone(),
        }
    }

    /// Builds from `(key, value)` pairs named like the environment variables, with or without
    /// the `MARKETSYNC_NETSUITE_` prefix (`ACCOUNT_ID`, `CONSUMER_KEY`, `CONSUMER_SECRET`,
    /// `TOKEN_ID`, `TOKEN_SECRET`, `CUSTOMER`, `BASE_URL`, `MAX_CONCURRENCY`, `TIMEOUT_MS`,
    /// `TIME_ZONE`, `SHIPPING_ITEM`, `DISCOUNT_ITEM`, `REFUND_ACCOUNT`,
    /// `ACCOUNT_CODES_ARE_INTERNAL_IDS`, and the maps `CURRENCIES`, `SUBSIDIARIES`, `ACCOUNTS`,
    /// `LOCATIONS`, `CHANNEL_CUSTOMERS` as `code=id,code=id`).
    pub fn from_map<I, K, V>(pairs: I) -> Result<NetSuiteConfig>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in pairs {
            let k = k.as_ref();
            let k = k.strip_prefix(ENV_PREFIX).unwrap_or(k).to_ascii_uppercase();
            vars.insert(k, v.into());
        }
        let required = |k: &str| -> Result<String> {
            vars.get(k)
                .filter(|v| !v.trim().is_empty())
                .cloned()
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::ConfigInvalid,
                        format!("{ENV_PREFIX}{k} is required"),
                    )
                })
        };
        let mut c = NetSuiteConfig::new(
            required("ACCOUNT_ID")?,
            TbaCredentials {
                consumer_key: required("CONSUMER_KEY")?,
                consumer_secret: required("CONSUMER_SECRET")?,
                token_id: required("TOKEN_ID")?,
                token_secret: required("TOKEN_SECRET")?,
            },
            required("CUSTOMER")?,
        );
        if let Some(u) = vars.get("BASE_URL") {
            c.base_url = Some(Url::parse(u).map_err(|e| {
                Error::new(ErrorKind::ConfigInvalid, "BASE_URL is not a URL").with_source(e)
            })?);
        }
        let number = |k: &str| -> Result<Option<u64>> {
            vars.get(k)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|e| {
                        Error::new(ErrorKind::ConfigInvalid, format!("{k} is not a number"))
                            .with_source(e)
                    })
                })
                .transpose()
        };
        if let Some(n) = number("MAX_CONCURRENCY")? {
            c.max_concurrency = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(n) = number("TIMEOUT_MS")? {
            c.timeout_ms = n;
        }
        if let Some(v) = vars.get("TIME_ZONE") {
            c.time_zone = v.clone();
        }
        c.shipping_item = vars.get("SHIPPING_ITEM").cloned();
        c.discount_item = vars.get("DISCOUNT_ITEM").cloned();
        c.refund_account = vars.get("REFUND_ACCOUNT").cloned();
        c.account_codes_are_internal_ids = vars
            .get("ACCOUNT_CODES_ARE_INTERNAL_IDS")
            .is_some_and(|v| matches!(v.trim(), "1" | "true" | "TRUE" | "yes"));
        for (key, slot) in [
            ("CURRENCIES", &mut c.currencies),
            ("SUBSIDIARIES", &mut c.subsidiaries),
            ("ACCOUNTS", &mut c.accounts),
            ("LOCATIONS", &mut c.locations),
            ("CHANNEL_CUSTOMERS", &mut c.channel_customers),
        ] {
            if let Some(v) = vars.get(key) {
                *slot = parse_map(key, v)?;
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// Builds from `MARKETSYNC_NETSUITE_*` environment variables (see [`Self::from_map`]).
    pub fn from_env() -> Result<NetSuiteConfig> {
        NetSuiteConfig::from_map(std::env::vars().filter(|(k, _)| k.starts_with(ENV_PREFIX)))
    }

    /// Checks the settings that can be checked offline.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::new(ErrorKind::ConfigInvalid, m.to_owned()));
        if self.account_id.trim().is_empty()
            || !self
                .account_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return bad("account_id must be letters, digits, `-` or `_`");
        }
        if self.max_concurrency == 0 {
            return bad("max_concurrency must be at least 1");
        }
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return bad("time_zone is not an IANA time zone");
        }
        Ok(())
    }

    /// The REST base URL (`https://<account>.suitetalk.api.netsuite.com` unless overridden).
    pub fn rest_base(&self) -> Result<Url> {
        match &self.base_url {
            Some(u) => Ok(u.clone()),
            None => Url::parse(&format!(
                "https://{}.suitetalk.api.netsuite.com",
                host_label_of(&self.account_id)
            ))
            .map_err(|e| Error::new(ErrorKind::ConfigInvalid, "invalid account id").with_source(e)),
        }
    }

    /// The credentials as a [`TbaCredentials`].
    pub fn credentials(&self) -> TbaCredentials {
        TbaCredentials {
            consumer_key: self.consumer_key.clone(),
            consumer_secret: self.consumer_secret.expose().to_owned(),
            token_id: self.token_id.clone(),
            token_secret: self.token_secret.expose().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vec<(&'static str, &'static str)> {
        vec![
            ("MARKETSYNC_NETSUITE_ACCOUNT_ID", "1234567-sb1"),
            ("MARKETSYNC_NETSUITE_CONSUMER_KEY", "ck"),
            (
                "MARKETSYNC_NETSUITE_CONSUMER_SECRET",
                "very-secret-consumer",
            ),
            ("MARKETSYNC_NETSUITE_TOKEN_ID", "tk"),
            ("MARKETSYNC_NETSUITE_TOKEN_SECRET", "very-secret-token"),
            ("MARKETSYNC_NETSUITE_CUSTOMER", "101"),
            ("MARKETSYNC_NETSUITE_CURRENCIES", "USD=1, CNY=2"),
            ("MARKETSYNC_NETSUITE_MAX_CONCURRENCY", "3"),
            ("MARKETSYNC_NETSUITE_TIME_ZONE", "Asia/Shanghai"),
        ]
    }

    #[test]
    fn builds_from_env_style_map() {
        let c = NetSuiteConfig::from_map(vars()).unwrap();
        assert_eq!(c.max_concurrency, 3);
        assert_eq!(c.currencies.get("CNY").map(String::as_str), Some("2"));
        assert_eq!(
            c.rest_base().unwrap().as_str(),
            "https://1234567-sb1.suitetalk.api.netsuite.com/"
        );
        assert_eq!(c.dimensions, DimensionRule::defaults());
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = NetSuiteConfig::from_map(vars()).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("very-secret"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn missing_and_invalid_values_are_config_errors() {
        let mut v = vars();
        v.retain(|(k, _)| !k.ends_with("TOKEN_SECRET"));
        let e = NetSuiteConfig::from_map(v).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::ConfigInvalid);
        let mut v = vars();
        v.push(("MARKETSYNC_NETSUITE_TIME_ZONE", "Mars/Base"));
        assert!(NetSuiteConfig::from_map(v).is_err());
        let mut v = vars();
        v.push(("MARKETSYNC_NETSUITE_CURRENCIES", "USD"));
        assert!(NetSuiteConfig::from_map(v).is_err());
    }

    #[test]
    fn serde_round_trip_and_schema() {
        let c = NetSuiteConfig::from_map(vars()).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        let back: NetSuiteConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.token_secret.expose(), "very-secret-token");
        let schema = schemars::schema_for!(NetSuiteConfig);
        assert!(
            serde_json::to_string(&schema)
                .unwrap()
                .contains("max_concurrency")
        );
    }
}
