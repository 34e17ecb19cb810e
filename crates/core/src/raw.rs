//! Raw platform payloads and their content hashes.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `sha256:<64 hex>` of a payload's bytes. Identical payloads hash alike, so the archive stores
/// each once and a re-delivered event is recognised.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
#[schemars(extend("pattern" = "^sha256:[0-9a-f]{64}$"))]
pub struct ContentHash(String);

impl ContentHash {
    /// Hashes bytes.
    pub fn of(bytes: &[u8]) -> ContentHash {
        ContentHash(format!("sha256:{}", hex(&Sha256::digest(bytes))))
    }

    /// The `sha256:…` string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ContentHash {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.strip_prefix("sha256:") {
            Some(h)
                if h.len() == 64
                    && h.bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) =>
            {
                Ok(ContentHash(s))
            }
            _ => Err(format!("not a sha256 content hash: {s:?}")),
        }
    }
}

impl From<ContentHash> for String {
    fn from(h: ContentHash) -> String {
        h.0
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", &self.0)
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// A reference from a canonical record to the raw payload it came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct RawPayloadRef {
    /// Hash of the raw bytes (the archive key).
    pub content_hash: ContentHash,
    /// The platform API or webhook topic it came from (`"taobao.trade.fullinfo.get"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A raw platform record exactly as received, kept so that a record that fails to normalize
/// (or is mapped wrongly) can be inspected and replayed. May contain personal data: store it in
/// its region; never log it.
#[derive(Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// The bytes (usually one JSON object).
    pub bytes: Vec<u8>,
    /// Hash of `bytes`.
    pub content_hash: ContentHash,
    /// MIME type, usually `application/json`.
    pub media_type: String,
    /// Where it came from (API method or webhook topic).
    pub source: Option<String>,
}

impl RawRecord {
    /// Wraps JSON bytes.
    pub fn json(bytes: impl Into<Vec<u8>>, source: Option<&str>) -> RawRecord {
        let bytes = bytes.into();
        RawRecord {
            content_hash: ContentHash::of(&bytes),
            bytes,
            media_type: "application/json".into(),
            source: source.map(str::to_owned),
        }
    }

    /// Serializes a value as the raw record (for connectors whose raw form is a parsed value).
    pub fn from_value(value: &serde_json::Value, source: Option<&str>) -> RawRecord {
        RawRecord::json(serde_json::to_vec(value).unwrap_or_default(), source)
    }

    /// The reference to put on the canonical record.
    pub fn reference(&self) -> RawPayloadRef {
        RawPayloadRef {
            content_hash: self.content_hash.clone(),
            source: self.source.clone(),
        }
    }
}

impl fmt::Debug for RawRecord {
    /// Never prints the bytes: they may hold personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRecord")
            .field("content_hash", &self.content_hash)
            .field("len", &self.bytes.len())
            .field("media_type", &self.media_type)
            .field("source", &self.source)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_known_vector() {
        // SHA-256("abc") from FIPS 180-2.
        assert_eq!(
            ContentHash::of(b"abc").as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(ContentHash::try_from("sha256:xyz".to_string()).is_err());
    }
}
