//! Connector configuration: serde + JSON Schema, built from a map or from
//! `MARKETSYNC_SHOPIFY_<KEY>` environment variables. `Debug` never prints the access token or
//! the webhook secret.

use std::collections::BTreeMap;
use std::time::Duration;

use marketsync_core::{Error, ErrorKind, Region, Result, Secret, ShopId, TimeZoneId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// The Admin API version this crate is written and tested against.
///
/// `2026-01` is the first version that accepts the `@idempotent` directive on
/// `inventorySetQuantities`; it is still before the `2026-04` switch from `compareQuantity` to
/// `changeFromQuantity`. Both shapes are supported (see [`ShopifyConfig::api_version`]).
pub const DEFAULT_API_VERSION: &str = "2026-01";

/// The environment-variable prefix.
pub const ENV_PREFIX: &str = "MARKETSYNC_SHOPIFY_";

/// Settings for one shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShopifyConfig {
    /// `{shop}.myshopify.com`. Env: `MARKETSYNC_SHOPIFY_SHOP_DOMAIN`.
    pub shop_domain: String,
    /// Admin API access token (`shpat_…` or an OAuth offline token), sent as
    /// `X-Shopify-Access-Token`. Secret. Env: `MARKETSYNC_SHOPIFY_ACCESS_TOKEN`.
    pub access_token: Secret,
    /// The pinned Admin API version (`YYYY-MM`), sent in the URL path
    /// `/admin/api/{version}/graphql.json`. Env: `MARKETSYNC_SHOPIFY_API_VERSION`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The app's client secret, used to verify webhook HMACs. Secret.
    /// Env: `MARKETSYNC_SHOPIFY_WEBHOOK_SECRET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<Secret>,
    /// The previous client secret during a rotation (Shopify may sign with it for up to an
    /// hour). Secret. Env: `MARKETSYNC_SHOPIFY_PREVIOUS_WEBHOOK_SECRET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_webhook_secret: Option<Secret>,
    /// Base URL override (a proxy or a simulator), e.g. `http://127.0.0.1:8080`. Default
    /// `https://{shop_domain}`. Env: `MARKETSYNC_SHOPIFY_ENDPOINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub endpoint: Option<Url>,
    /// The shop's IANA time zone, recorded as the orders' source zone (GraphQL times are UTC
    /// instants; this keeps the shop's business-day zone). Env: `MARKETSYNC_SHOPIFY_TIME_ZONE`.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// The location whose stock `push_inventory` sets when an update names none
    /// (`gid://shopify/Location/…`). Env: `MARKETSYNC_SHOPIFY_LOCATION_ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// Residency region of buyer data. When unset it is derived from the ship-to country
    /// (EU member states → `eu`, `US` → `us`, `CN` → `cn`, otherwise `global`).
    /// Env: `MARKETSYNC_SHOPIFY_PII_REGION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii_region: Option<Region>,
    /// Whole-request timeout in milliseconds. Env: `MARKETSYNC_SHOPIFY_TIMEOUT_MS`.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_owned()
}

fn default_time_zone() -> String {
    "UTC".to_owned()
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::ConfigInvalid, message).with_context("connector", "shopify")
}

impl ShopifyConfig {
    /// A configuration with defaults for everything but the shop and the token.
    pub fn new(shop_domain: impl Into<String>, access_token: impl Into<String>) -> ShopifyConfig {
        ShopifyConfig {
            shop_domain: shop_domain.into(),
            access_token: Secret::new(access_token),
            api_version: default_api_version(),
            webhook_secret: None,
            previous_webhook_secret: None,
            endpoint: None,
            time_zone: default_time_zone(),
            location_id: None,
            pii_region: None,
            timeout_ms: default_timeout_ms(),
        }
    }

    /// Builds from `KEY → value` pairs (keys as in the env vars without the prefix, any case:
    /// `SHOP_DOMAIN`, `ACCESS_TOKEN`, `API_VERSION`, `WEBHOOK_SECRET`, `PREVIOUS_WEBHOOK_SECRET`,
    /// `ENDPOINT`, `TIME_ZONE`, `LOCATION_ID`, `PII_REGION`, `TIMEOUT_MS`).
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<ShopifyConfig> {
        let get = |k: &str| {
            map.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let shop = get("SHOP_DOMAIN").ok_or_else(|| invalid("SHOP_DOMAIN is required"))?;
        let token = get("ACCESS_TOKEN").ok_or_else(|| invalid("ACCESS_TOKEN is required"))?;
        let mut cfg = ShopifyConfig::new(shop, token);
        if let Some(v) = get("API_VERSION") {
            cfg.api_version = v;
        }
        cfg.webhook_secret = get("WEBHOOK_SECRET").map(Secret::new);
        cfg.previous_webhook_secret = get("PREVIOUS_WEBHOOK_SECRET").map(Secret::new);
        if let Some(v) = get("ENDPOINT") {
            cfg.endpoint =
                Some(Url::parse(&v).map_err(|e| invalid("ENDPOINT is not a URL").with_source(e))?);
        }
        if let Some(v) = get("TIME_ZONE") {
            cfg.time_zone = v;
        }
        cfg.location_id = get("LOCATION_ID");
        if let Some(v) = get("PII_REGION") {
            let quoted = serde_json::Value::String(v.to_ascii_lowercase());
            cfg.pii_region =
                Some(serde_json::from_value(quoted).map_err(|e| {
                    invalid("PII_REGION must be cn, eu, us or global").with_source(e)
                })?);
        }
        if let Some(v) = get("TIMEOUT_MS") {
            cfg.timeout_ms = v
                .parse()
                .map_err(|e| invalid("TIMEOUT_MS must be an integer").with_source(e))?;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Builds from `MARKETSYNC_SHOPIFY_*` environment variables.
    pub fn from_env() -> Result<ShopifyConfig> {
        let map: BTreeMap<String, String> = std::env::vars()
            .filter_map(|(k, v)| k.strip_prefix(ENV_PREFIX).map(|k| (k.to_owned(), v)))
            .collect();
        ShopifyConfig::from_map(&map)
    }

    /// Checks the shape of every field.
    pub fn validate(&self) -> Result<()> {
        if self.shop_domain.is_empty()
            || self
                .shop_domain
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        {
            return Err(invalid("shop_domain must look like {shop}.myshopify.com"));
        }
        if self.access_token.is_empty() {
            return Err(invalid("access_token is empty"));
        }
        if self.api_version_tuple().is_none() && self.api_version != "unstable" {
            return Err(invalid(
                "api_version must be YYYY-MM (e.g. 2026-01) or unstable",
            ));
        }
        if TimeZoneId::new(self.time_zone.clone()).is_none() {
            return Err(invalid("time_zone must be an IANA zone name"));
        }
        if self.timeout_ms == 0 {
            return Err(invalid("timeout_ms must be positive"));
        }
        Ok(())
    }

    /// `(year, month)` of the pinned version; `None` for `unstable`.
    pub fn api_version_tuple(&self) -> Option<(u16, u8)> {
        let (y, m) = self.api_version.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let month: u8 = m.parse().ok()?;
        (1..=12)
            .contains(&month)
            .then_some(())
            .and_then(|_| Some((y.parse().ok()?, month)))
    }

    /// True when the pinned version is at least `(year, month)` (`unstable` counts as newest).
    pub fn version_at_least(&self, year: u16, month: u8) -> bool {
        self.api_version_tuple()
            .is_none_or(|(y, m)| (y, m) >= (year, month))
    }

    /// The GraphQL endpoint: `{base}/admin/api/{version}/graphql.json`.
    pub fn graphql_url(&self) -> Result<Url> {
        let base = match &self.endpoint {
            Some(u) => u.clone(),
            None => Url::parse(&format!("https://{}", self.shop_domain))
                .map_err(|e| invalid("shop_domain does not form a URL").with_source(e))?,
        };
        let base = base.as_str().trim_end_matches('/').to_owned();
        Url::parse(&format!(
            "{base}/admin/api/{}/graphql.json",
            self.api_version
        ))
        .map_err(|e| invalid("cannot build the GraphQL URL").with_source(e))
    }

    /// The shop id used on canonical records (the shop domain).
    pub fn shop_id(&self) -> ShopId {
        ShopId::new(self.shop_domain.clone())
    }

    /// The request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
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
    fn debug_redacts_secrets() {
        let mut cfg = ShopifyConfig::new("demo.myshopify.com", "shpat_SUPERSECRET");
        cfg.webhook_secret = Some("whsec_TOPSECRET".into());
        cfg.previous_webhook_secret = Some("old_HIDDEN".into());
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("SUPERSECRET"), "{dbg}");
        assert!(!dbg.contains("TOPSECRET"), "{dbg}");
        assert!(!dbg.contains("HIDDEN"), "{dbg}");
        assert!(dbg.contains("demo.myshopify.com"));
    }

    #[test]
    fn from_map_and_url() {
        let cfg = ShopifyConfig::from_map(&map(&[
            ("SHOP_DOMAIN", "demo.myshopify.com"),
            ("ACCESS_TOKEN", "tok"),
            ("API_VERSION", "2025-07"),
            ("PII_REGION", "EU"),
            ("ENDPOINT", "http://127.0.0.1:9/"),
        ]))
        .unwrap();
        assert_eq!(cfg.pii_region, Some(Region::Eu));
        assert_eq!(
            cfg.graphql_url().unwrap().as_str(),
            "http://127.0.0.1:9/admin/api/2025-07/graphql.json"
        );
        assert!(cfg.version_at_least(2025, 7));
        assert!(!cfg.version_at_least(2026, 1));
        let default = ShopifyConfig::new("demo.myshopify.com", "t");
        assert_eq!(
            default.graphql_url().unwrap().as_str(),
            format!("https://demo.myshopify.com/admin/api/{DEFAULT_API_VERSION}/graphql.json")
        );
    }

    #[test]
    fn rejects_bad_values() {
        assert!(ShopifyConfig::from_map(&map(&[("SHOP_DOMAIN", "x.myshopify.com")])).is_err());
        let bad = ShopifyConfig::from_map(&map(&[
            ("SHOP_DOMAIN", "x.myshopify.com"),
            ("ACCESS_TOKEN", "t"),
            ("API_VERSION", "2025-13"),
        ]));
        assert_eq!(bad.unwrap_err().kind(), &ErrorKind::ConfigInvalid);
        let bad =
            ShopifyConfig::from_map(&map(&[("SHOP_DOMAIN", "x/evil"), ("ACCESS_TOKEN", "t")]));
        assert!(bad.is_err());
    }

    #[test]
    fn deserializes_with_defaults() {
        let cfg: ShopifyConfig =
            serde_json::from_str(r#"{"shop_domain":"a.myshopify.com","access_token":"t"}"#)
                .unwrap();
        assert_eq!(cfg.api_version, DEFAULT_API_VERSION);
        assert_eq!(cfg.time_zone, "UTC");
    }
}
