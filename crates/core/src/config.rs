//! Configuration helpers shared by every connector and ERP adapter.
//!
//! * [`Secret`]: a credential that serializes as-is (configuration files) but never shows in
//!   `Debug` or `Display`.
//! * [`ConfigMap`]: `KEY → value` settings from a map or from `MARKETSYNC_<PLATFORM>_<KEY>`
//!   environment variables, with typed, error-reporting getters. Keys are case-insensitive;
//!   empty values count as absent.
//!
//! ```
//! use marketsync_core::config::{ConfigMap, Secret};
//!
//! let map = ConfigMap::from_pairs([("APP_KEY", "12345678"), ("app_secret", "s3cret"), ("PAGE_SIZE", "50")]);
//! assert_eq!(map.require("app_key")?, "12345678");
//! let secret = Secret::new(map.require("APP_SECRET")?);
//! assert_eq!(format!("{secret:?}"), "<redacted>");
//! assert_eq!(map.parse::<u32>("PAGE_SIZE")?, Some(50));
//! assert!(map.parse::<u32>("APP_KEY").is_ok());
//! assert!(map.require("SESSION").is_err());
//! # Ok::<(), marketsync_core::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// A secret string (API secret, token, password): serialized as-is, never shown by `Debug` or
/// `Display`. Read it with [`Secret::expose`], whose name marks every place that does.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_owned())
    }
}

/// Settings as `KEY → value` pairs; keys are stored upper-case.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ConfigMap {
    values: BTreeMap<String, String>,
    /// The environment prefix the values came from, for error messages.
    prefix: String,
}

impl fmt::Debug for ConfigMap {
    /// Lists the keys only: values may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigMap")
            .field("prefix", &self.prefix)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ConfigMap {
    /// From pairs (keys any case).
    pub fn from_pairs<K: AsRef<str>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> ConfigMap {
        ConfigMap {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_ascii_uppercase(), v.into()))
                .collect(),
            prefix: String::new(),
        }
    }

    /// From the environment variables `MARKETSYNC_<PLATFORM>_<KEY>` (platform upper-cased,
    /// e.g. `"TMALL"`), with the prefix stripped.
    pub fn from_env(platform: &str) -> ConfigMap {
        let prefix = format!("MARKETSYNC_{}_", platform.to_ascii_uppercase());
        let mut map = ConfigMap::from_pairs(
            std::env::vars()
                .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k.to_owned(), v))),
        );
        map.prefix = prefix;
        map
    }

    /// The trimmed value of a key, `None` when absent or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_uppercase())
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The value of a required key, or a `ConfigInvalid` error naming it.
    pub fn require(&self, key: &str) -> Result<&str> {
        self.get(key).ok_or_else(|| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!("{}{} is required", self.prefix, key.to_ascii_uppercase()),
            )
        })
    }

    /// A secret value of a required key.
    pub fn require_secret(&self, key: &str) -> Result<Secret> {
        self.require(key).map(Secret::new)
    }

    /// Parses an optional key; a value that does not parse is a `ConfigInvalid` error (the
    /// value itself is not echoed: it may be a secret).
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!(
                        "{}{} has an invalid value",
                        self.prefix,
                        key.to_ascii_uppercase()
                    ),
                )
            }),
        }
    }

    /// The keys present.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"hunter2\"");
        let m = ConfigMap::from_pairs([("TOKEN", "hunter2")]);
        assert!(!format!("{m:?}").contains("hunter2"));
        let e = ConfigMap::from_pairs([("N", "hunter2")])
            .parse::<u8>("n")
            .unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn empty_values_are_absent() {
        let m = ConfigMap::from_pairs([("A", "  "), ("b", " x ")]);
        assert_eq!(m.get("a"), None);
        assert_eq!(m.get("B"), Some("x"));
    }
}
