//! Envelopes and idempotency keys.
//!
//! Every business event travels in an [`Envelope`]: where it came from, what it is, which
//! revision of which record, when it happened and when we received it, the hash of its content,
//! and an [`IdempotencyKey`]. The key is derived deterministically from
//! (channel, shop, kind, external id, revision), so the same event delivered twice — by a
//! webhook and a poll, or by a replay — gets the same key, and the ERP gets one document.

use std::fmt;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{Channel, Revision, ShopId};
use crate::raw::{ContentHash, RawPayloadRef, hex};
use crate::schema::SchemaVersion;

/// What kind of business event an envelope carries.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// An order snapshot.
    Order,
    /// A refund / return.
    Refund,
    /// A shipment.
    Shipment,
    /// A settlement.
    Settlement,
    /// An inventory update.
    Inventory,
    /// A journal entry.
    Journal,
    /// Something defined out of tree.
    Other(String),
}

impl EventKind {
    /// The stable name used in keys.
    pub fn name(&self) -> &str {
        match self {
            EventKind::Order => "order",
            EventKind::Refund => "refund",
            EventKind::Shipment => "shipment",
            EventKind::Settlement => "settlement",
            EventKind::Inventory => "inventory",
            EventKind::Journal => "journal",
            EventKind::Other(s) => s,
        }
    }
}

/// The number of hex digits of SHA-256 kept in a key: 160 bits, collision-free in practice,
/// short enough for ERP external-id fields.
const KEY_HEX_LEN: usize = 40;
const KEY_PREFIX: &str = "msk1-";

/// A deterministic, validated idempotency key: `msk1-` followed by 40 lowercase hex digits
/// (45 characters, safe as a NetSuite external id or a SAP reference).
///
/// ```
/// use marketsync_core::{Channel, EventKind, IdempotencyKey, Revision, ShopId};
///
/// let key = IdempotencyKey::derive(
///     &Channel::Tmall,
///     &ShopId::new("flagship"),
///     &EventKind::Order,
///     "4012345678",
///     &Revision::Version(3),
/// );
/// assert!(key.as_str().starts_with("msk1-") && key.as_str().len() == 45);
/// // A stored key parses back; anything else is refused.
/// assert_eq!(IdempotencyKey::parse(key.as_str()), Ok(key.clone()));
/// assert!(IdempotencyKey::parse("order-4012345678").is_err());
/// // A new revision is a new business event, so a new key.
/// let v4 = IdempotencyKey::derive(
///     &Channel::Tmall,
///     &ShopId::new("flagship"),
///     &EventKind::Order,
///     "4012345678",
///     &Revision::Version(4),
/// );
/// assert_ne!(key, v4);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
#[schemars(
    description = "A deterministic, validated idempotency key: `msk1-` followed by 40 lowercase hex digits\n(45 characters, safe as a NetSuite external id or a SAP reference)."
)]
#[schemars(extend("pattern" = "^msk1-[0-9a-f]{40}$"))]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Derives the key of a business event. Each component is length-prefixed before hashing,
    /// so no two different tuples can produce the same input.
    pub fn derive(
        channel: &Channel,
        shop: &ShopId,
        kind: &EventKind,
        external_id: &str,
        revision: &Revision,
    ) -> IdempotencyKey {
        Self::from_parts(&[
            &channel.name(),
            shop.as_str(),
            kind.name(),
            external_id,
            &revision.key_string(),
        ])
    }

    /// A key for one of several documents produced from the same event (e.g. the sales order
    /// and the accrual journal of one order event): deterministic in (`self`, `purpose`).
    pub fn child(&self, purpose: &str) -> IdempotencyKey {
        Self::from_parts(&[self.as_str(), purpose])
    }

    fn from_parts(parts: &[&str]) -> IdempotencyKey {
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p.as_bytes());
        }
        let digest = hex(&h.finalize());
        IdempotencyKey(format!("{KEY_PREFIX}{}", &digest[..KEY_HEX_LEN]))
    }

    /// Validates a stored key.
    pub fn parse(s: &str) -> Result<IdempotencyKey, InvalidKey> {
        match s.strip_prefix(KEY_PREFIX) {
            Some(h)
                if h.len() == KEY_HEX_LEN
                    && h.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
            {
                Ok(IdempotencyKey(s.to_owned()))
            }
            _ => Err(InvalidKey(s.to_owned())),
        }
    }

    /// The key string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A string that is not a valid [`IdempotencyKey`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid idempotency key {0:?}")]
pub struct InvalidKey(pub String);

impl TryFrom<String> for IdempotencyKey {
    type Error = InvalidKey;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        IdempotencyKey::parse(&s)
    }
}

impl From<IdempotencyKey> for String {
    fn from(k: IdempotencyKey) -> String {
        k.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({})", self.0)
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A business event with its provenance.
///
/// [`Envelope::new`] derives the idempotency key from (channel, shop, kind, external id,
/// revision) and hashes the payload, so the same event always wraps to the same key — which is
/// what lets every ERP write be made exactly once:
///
/// ```
/// use marketsync_core::chrono::{DateTime, Utc};
/// use marketsync_core::{Channel, Envelope, EnvelopeMeta, EventKind, Revision, ShopId};
///
/// let at: DateTime<Utc> = "2026-01-05T10:00:00Z".parse().unwrap();
/// let meta = || EnvelopeMeta {
///     channel: Channel::Shopify,
///     shop: ShopId::new("eu-store"),
///     kind: EventKind::Order,
///     external_id: "1001".into(),
///     revision: Revision::Version(3),
///     occurred_at: at,
///     received_at: at,
/// };
/// let first = Envelope::new(meta(), "payload v3", None);
/// let again = Envelope::new(meta(), "payload v3", None);
/// assert_eq!(first.idempotency_key, again.idempotency_key);
/// // The sales order and the journal of one event get distinct, stable child keys.
/// assert_ne!(
///     first.idempotency_key.child("sales_order"),
///     first.idempotency_key.child("accrual")
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(description = "A business event with its provenance.")]
pub struct Envelope<T> {
    /// The version of the marketsync schemas this document follows (`MAJOR.MINOR.PATCH`).
    /// marketsync always writes its current version ([`SchemaVersion::CURRENT`]). Optional on
    /// input: a document without it follows 1.0.0 ([`SchemaVersion::UNVERSIONED`]), and one
    /// of a newer major version than the reader's is refused.
    #[serde(
        default = "SchemaVersion::unversioned",
        serialize_with = "SchemaVersion::serialize_current"
    )]
    #[schemars(
        description = "The version of the marketsync schemas this document follows \
                       (`MAJOR.MINOR.PATCH`). marketsync always writes its current version. \
                       Optional on input: a document without it follows 1.0.0, and one of a \
                       newer major version than the reader's is refused."
    )]
    pub schema_version: SchemaVersion,
    /// Source channel.
    pub channel: Channel,
    /// Source shop.
    pub shop: ShopId,
    /// Event kind.
    pub kind: EventKind,
    /// The record's id at the source.
    pub external_id: String,
    /// The record's revision.
    pub revision: Revision,
    /// When the event happened at the source (UTC).
    pub occurred_at: DateTime<Utc>,
    /// When marketsync received it (UTC).
    pub received_at: DateTime<Utc>,
    /// Hash of the raw payload (or of the canonical payload when there is no raw form).
    pub content_hash: ContentHash,
    /// Derived from (channel, shop, kind, external id, revision).
    pub idempotency_key: IdempotencyKey,
    /// Where the raw payload is archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawPayloadRef>,
    /// The canonical record.
    pub payload: T,
}

/// The parts of an envelope that are not derived.
#[derive(Clone, Debug)]
pub struct EnvelopeMeta {
    /// Source channel.
    pub channel: Channel,
    /// Source shop.
    pub shop: ShopId,
    /// Event kind.
    pub kind: EventKind,
    /// The record's id at the source.
    pub external_id: String,
    /// The record's revision.
    pub revision: Revision,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
    /// When it was received (pass the injected clock's now).
    pub received_at: DateTime<Utc>,
}

impl<T: Serialize> Envelope<T> {
    /// Wraps a payload, deriving the idempotency key and the content hash. The hash is of the
    /// raw payload when given, otherwise of the payload's canonical JSON.
    pub fn new(meta: EnvelopeMeta, payload: T, raw: Option<RawPayloadRef>) -> Envelope<T> {
        let idempotency_key = IdempotencyKey::derive(
            &meta.channel,
            &meta.shop,
            &meta.kind,
            &meta.external_id,
            &meta.revision,
        );
        let content_hash = match &raw {
            Some(r) => r.content_hash.clone(),
            None => ContentHash::of(&serde_json::to_vec(&payload).unwrap_or_default()),
        };
        Envelope {
            schema_version: SchemaVersion::CURRENT,
            channel: meta.channel,
            shop: meta.shop,
            kind: meta.kind,
            external_id: meta.external_id,
            revision: meta.revision,
            occurred_at: meta.occurred_at,
            received_at: meta.received_at,
            content_hash,
            idempotency_key,
            raw,
            payload,
        }
    }
}

impl Envelope<crate::order::Order> {
    /// Wraps an order snapshot: external id = order id, revision and times from the order.
    pub fn order(order: crate::order::Order, received_at: DateTime<Utc>) -> Self {
        let meta = EnvelopeMeta {
            channel: order.channel.clone(),
            shop: order.shop.clone(),
            kind: EventKind::Order,
            external_id: order.id.to_string(),
            revision: order.revision.clone(),
            occurred_at: order.updated_at,
            received_at,
        };
        let raw = order.raw.clone();
        Envelope::new(meta, order, raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(channel: Channel, shop: &str, id: &str, version: u64) -> IdempotencyKey {
        IdempotencyKey::derive(
            &channel,
            &ShopId::new(shop),
            &EventKind::Order,
            id,
            &Revision::Version(version),
        )
    }

    #[test]
    fn keys_are_deterministic_and_distinct() {
        let k1 = key(Channel::Tmall, "s1", "42", 1);
        assert_eq!(k1, key(Channel::Tmall, "s1", "42", 1));
        assert_ne!(k1, key(Channel::Tmall, "s1", "42", 2));
        assert_ne!(k1, key(Channel::Taobao, "s1", "42", 1));
        assert_eq!(k1.as_str().len(), 45);
        assert_eq!(IdempotencyKey::parse(k1.as_str()), Ok(k1.clone()));
        assert_ne!(k1.child("journal"), k1.child("sales_order"));
        // Length prefixing: ("ab","c") and ("a","bc") differ.
        assert_ne!(
            key(Channel::Tmall, "ab", "c", 1),
            key(Channel::Tmall, "a", "bc", 1)
        );
    }

    #[test]
    fn parse_rejects_garbage() {
        assert!(IdempotencyKey::parse("msk1-xyz").is_err());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(serde_json::from_str::<IdempotencyKey>("\"nope\"").is_err());
    }
}
