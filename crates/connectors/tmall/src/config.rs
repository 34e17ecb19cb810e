//! Connector configuration: serde + JSON Schema, built from a map or from
//! `MARKETSYNC_TMALL_<KEY>` environment variables. `Debug` hides the app secret and session.

use std::collections::BTreeMap;

use marketsync_core::{Channel, Error, ErrorKind, Result, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::sign::SignMethod;

/// TOP's production gateway.
pub const DEFAULT_GATEWAY: &str = "https://eco.taobao.com/router/rest";

/// Which storefront of the Taobao Open Platform the shop is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Storefront {
    /// A Tmall (B2C) shop.
    #[default]
    Tmall,
    /// A Taobao (C2C) shop.
    Taobao,
}

impl Storefront {
    /// The canonical channel.
    pub fn channel(self) -> Channel {
        match self {
            Storefront::Tmall => Channel::Tmall,
            Storefront::Taobao => Channel::Taobao,
        }
    }
}

/// Where a SKU's stock lives on TOP: the item (`num_iid`) and whether the SKU code is a
/// SKU-level `outer_id` (default) or the item itself has no SKUs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ListingRef {
    /// The item id.
    pub num_iid: u64,
    /// True when the item has no SKUs: the stock is the item's.
    #[serde(default)]
    pub item_level: bool,
}

/// Configuration of one shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TmallConfig {
    /// AppKey.
    pub app_key: String,
    /// AppSecret (never printed).
    pub app_secret: Secret,
    /// The seller's session key / access token (never printed).
    pub session: Secret,
    /// `md5` (default), `hmac` or `hmac-sha256`.
    #[serde(default)]
    pub sign_method: SignMethod,
    /// Gateway URL.
    #[serde(default = "default_gateway")]
    pub gateway: String,
    /// Our id for the shop (e.g. the seller nick).
    pub shop_id: String,
    /// Tmall or Taobao.
    #[serde(default)]
    pub storefront: Storefront,
    /// Length of the slices an incremental window is walked in (TOP allows ≤ 1 day and
    /// recommends ≤ 30 minutes).
    #[serde(default = "default_slice_minutes")]
    pub slice_minutes: u32,
    /// Default page size (1–100; TOP recommends 40–50).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Fetch each trade with `taobao.trade.fullinfo.get` (the increment list carries only part
    /// of a trade). Default true.
    #[serde(default = "default_true")]
    pub fetch_detail: bool,
    /// How many days of bills (by Alipay debit time) each settlement query re-reads to find
    /// the day statements published or amended inside its window: `taobao.bill.bills.get`
    /// filters only by debit or business time, so a bill TOP publishes late is found only if
    /// its debit day is within this look-back of the window (1–30, default 3).
    #[serde(default = "default_bill_lookback_days")]
    pub bill_lookback_days: u32,
    /// Whole-request timeout, milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// SKU code → item, for stock pushes.
    #[serde(default)]
    pub listings: BTreeMap<String, ListingRef>,
}

fn default_gateway() -> String {
    DEFAULT_GATEWAY.into()
}
fn default_slice_minutes() -> u32 {
    30
}
fn default_page_size() -> u32 {
    40
}
fn default_bill_lookback_days() -> u32 {
    3
}
fn default_true() -> bool {
    true
}
fn default_timeout_ms() -> u64 {
    30_000
}

fn config_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::ConfigInvalid, message).with_context("connector", "tmall")
}

impl TmallConfig {
    /// A configuration with defaults for everything but the credentials and shop.
    pub fn new(
        app_key: impl Into<String>,
        app_secret: impl Into<String>,
        session: impl Into<String>,
        shop_id: impl Into<String>,
    ) -> TmallConfig {
        TmallConfig {
            app_key: app_key.into(),
            app_secret: Secret::new(app_secret),
            session: Secret::new(session),
            sign_method: SignMethod::default(),
            gateway: default_gateway(),
            shop_id: shop_id.into(),
            storefront: Storefront::default(),
            slice_minutes: default_slice_minutes(),
            page_size: default_page_size(),
            fetch_detail: true,
            bill_lookback_days: default_bill_lookback_days(),
            timeout_ms: default_timeout_ms(),
            listings: BTreeMap::new(),
        }
    }

    /// Builds from `KEY → value` pairs; keys are the upper-case field names (`APP_KEY`,
    /// `APP_SECRET`, `SESSION`, `SHOP_ID`, `SIGN_METHOD`, `GATEWAY`, `STOREFRONT`,
    /// `SLICE_MINUTES`, `PAGE_SIZE`, `FETCH_DETAIL`, `BILL_LOOKBACK_DAYS`, `TIMEOUT_MS`,
    /// `LISTINGS`). `LISTINGS` is
    /// `SKU=num_iid[:item],…`.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<TmallConfig> {
        let get = |k: &str| map.get(k).map(|v| v.trim().to_owned());
        let need = |k: &str| {
            get(k)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| config_error(format!("missing MARKETSYNC_TMALL_{k}")))
        };
        let mut c = TmallConfig::new(
            need("APP_KEY")?,
            need("APP_SECRET")?,
            need("SESSION")?,
            need("SHOP_ID")?,
        );
        if let Some(v) = get("SIGN_METHOD") {
            c.sign_method = v.parse()?;
        }
        if let Some(v) = get("GATEWAY") {
            c.gateway = v;
        }
        if let Some(v) = get("STOREFRONT") {
            c.storefront = match v.to_ascii_lowercase().as_str() {
                "tmall" => Storefront::Tmall,
                "taobao" => Storefront::Taobao,
                other => return Err(config_error(format!("unknown storefront {other:?}"))),
            };
        }
        let num = |k: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| config_error(format!("MARKETSYNC_TMALL_{k} is not a number")))
        };
        if let Some(v) = get("SLICE_MINUTES") {
            c.slice_minutes = u32::try_from(num("SLICE_MINUTES", v)?)
                .map_err(|_| config_error("SLICE_MINUTES too large"))?;
        }
        if let Some(v) = get("PAGE_SIZE") {
            c.page_size = u32::try_from(num("PAGE_SIZE", v)?)
                .map_err(|_| config_error("PAGE_SIZE too large"))?;
        }
        if let Some(v) = get("BILL_LOOKBACK_DAYS") {
            c.bill_lookback_days = u32::try_from(num("BILL_LOOKBACK_DAYS", v)?)
                .map_err(|_| config_error("BILL_LOOKBACK_DAYS too large"))?;
        }
        if let Some(v) = get("TIMEOUT_MS") {
            c.timeout_ms = num("TIMEOUT_MS", v)?;
        }
        if let Some(v) = get("FETCH_DETAIL") {
            c.fetch_detail = match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                _ => return Err(config_error("FETCH_DETAIL must be true or false")),
            };
        }
        if let Some(v) = get("LISTINGS") {
            for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (sku, target) = entry
                    .split_once('=')
                    .ok_or_else(|| config_error(format!("bad LISTINGS entry {entry:?}")))?;
                let (iid, item_level) = match target.split_once(':') {
                    Some((iid, "item")) => (iid, true),
                    Some(_) => return Err(config_error(format!("bad LISTINGS entry {entry:?}"))),
                    None => (target, false),
                };
                c.listings.insert(
                    sku.trim().to_owned(),
                    ListingRef {
                        num_iid: num("LISTINGS", iid.trim().to_owned())?,
                        item_level,
                    },
                );
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// Builds from `MARKETSYNC_TMALL_*` environment variables.
    pub fn from_env() -> Result<TmallConfig> {
        let map: BTreeMap<String, String> = std::env::vars()
            .filter_map(|(k, v)| {
                k.strip_prefix("MARKETSYNC_TMALL_")
                    .map(|rest| (rest.to_owned(), v))
            })
            .collect();
        TmallConfig::from_map(&map)
    }

    /// Checks ranges and the gateway URL.
    pub fn validate(&self) -> Result<()> {
        if self.app_key.is_empty() || self.app_secret.is_empty() || self.session.is_empty() {
            return Err(config_error("app_key, app_secret and session are required"));
        }
        if !(1..=1440).contains(&self.slice_minutes) {
            return Err(config_error(
                "slice_minutes must be 1–1440 (TOP allows one day)",
            ));
        }
        if !(1..=30).contains(&self.bill_lookback_days) {
            return Err(config_error("bill_lookback_days must be 1–30"));
        }
        if !(1..=100).contains(&self.page_size) {
            return Err(config_error("page_size must be 1–100"));
        }
        marketsync_http::url::Url::parse(&self.gateway)
            .map_err(|e| config_error(format!("gateway is not a URL: {e}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> BTreeMap<String, String> {
        [
            ("APP_KEY", "12345678"),
            ("APP_SECRET", "s3cr3t-app-secret"),
            ("SESSION", "6100a-session-token"),
            ("SHOP_ID", "demo-flagship"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = TmallConfig::from_map(&base()).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cr3t-app-secret"), "{dbg}");
        assert!(!dbg.contains("6100a-session-token"), "{dbg}");
        assert!(dbg.contains("12345678"));
    }

    #[test]
    fn from_map_reads_every_key() {
        let mut m = base();
        for (k, v) in [
            ("SIGN_METHOD", "hmac-sha256"),
            ("GATEWAY", "http://127.0.0.1:9/router/rest"),
            ("STOREFRONT", "taobao"),
            ("SLICE_MINUTES", "15"),
            ("PAGE_SIZE", "50"),
            ("FETCH_DETAIL", "false"),
            ("TIMEOUT_MS", "1500"),
            ("BILL_LOOKBACK_DAYS", "7"),
            ("LISTINGS", "M880=612345678901, BOX=612345678902:item"),
        ] {
            m.insert(k.into(), v.into());
        }
        let c = TmallConfig::from_map(&m).unwrap();
        assert_eq!(c.sign_method, SignMethod::HmacSha256);
        assert_eq!(c.storefront.channel(), Channel::Taobao);
        assert_eq!((c.slice_minutes, c.page_size, c.timeout_ms), (15, 50, 1500));
        assert!(!c.fetch_detail);
        assert_eq!(c.bill_lookback_days, 7);
        assert_eq!(
            c.listings.get("BOX"),
            Some(&ListingRef {
                num_iid: 612345678902,
                item_level: true
            })
        );
        assert!(!c.listings["M880"].item_level);
    }

    #[test]
    fn rejects_bad_values() {
        let mut m = base();
        m.insert("PAGE_SIZE".into(), "500".into());
        assert_eq!(
            TmallConfig::from_map(&m).unwrap_err().kind(),
            &ErrorKind::ConfigInvalid
        );
        let mut m = base();
        m.remove("SESSION");
        assert!(TmallConfig::from_map(&m).is_err());
        let mut m = base();
        m.insert("SIGN_METHOD".into(), "sha1".into());
        assert!(TmallConfig::from_map(&m).is_err());
        let mut m = base();
        m.insert("BILL_LOOKBACK_DAYS".into(), "0".into());
        assert!(TmallConfig::from_map(&m).is_err());
    }

    #[test]
    fn serde_round_trip_with_defaults() {
        let c: TmallConfig = serde_json::from_str(
            r#"{"app_key":"k","app_secret":"s","session":"t","shop_id":"x","sign_method":"hmac"}"#,
        )
        .unwrap();
        assert_eq!(c.sign_method, SignMethod::HmacMd5);
        assert_eq!(c.gateway, DEFAULT_GATEWAY);
        assert_eq!(c.page_size, 40);
        let schema = schemars::schema_for!(TmallConfig);
        assert!(
            serde_json::to_string(&schema)
                .unwrap()
                .contains("slice_minutes")
        );
    }
}
