//! Identifiers: newtypes so that an order id is never passed where a SKU is expected.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a platform or ERP identifier as given.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Unwraps into the inner string.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A marketplace order id (Tmall `tid`, Amazon `AmazonOrderId`, Shopify order GID…).
    OrderId
);
string_id!(
    /// An order line id as the platform numbers it (Tmall `oid`, Shopify line item GID…).
    OrderLineId
);
string_id!(
    /// A stock-keeping unit code as the channel reports it (seller outer id, SellerSKU…).
    Sku
);
string_id!(
    /// A marketplace listing or product id (Tmall `num_iid`, ASIN, Shopify product GID…).
    ListingId
);
string_id!(
    /// The shop / seller account a connector instance speaks for.
    ShopId
);
string_id!(
    /// A refund or after-sales case id.
    RefundId
);
string_id!(
    /// A return (goods coming back) id.
    ReturnId
);
string_id!(
    /// A shipment / package id.
    ShipmentId
);
string_id!(
    /// A settlement, statement or bill id.
    SettlementId
);
string_id!(
    /// A payout (bank transfer to the seller) id.
    PayoutId
);
string_id!(
    /// A warehouse or stock location id.
    LocationId
);
string_id!(
    /// An ERP document's internal id (NetSuite internal id, SAP document number…).
    ErpDocumentId
);
string_id!(
    /// An ERP item id or code.
    ErpItemId
);
string_id!(
    /// A legal entity / company code in the ERP.
    LegalEntityId
);
string_id!(
    /// A general-ledger account code or number.
    AccountCode
);
string_id!(
    /// An opaque pagination cursor issued by a connector. Only the connector that issued it can
    /// interpret it; the pipeline stores it verbatim.
    Cursor
);

/// A sales channel (marketplace). Out-of-tree connectors use [`Channel::Custom`].
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Channel {
    /// Tmall (Taobao Open Platform).
    Tmall,
    /// Taobao (Taobao Open Platform).
    Taobao,
    /// JD.com.
    Jd,
    /// Douyin e-commerce (TikTok China).
    Douyin,
    /// Pinduoduo.
    Pinduoduo,
    /// Xiaohongshu (RED).
    Xiaohongshu,
    /// Amazon (Selling Partner API).
    Amazon,
    /// Shopify.
    Shopify,
    /// Walmart Marketplace.
    Walmart,
    /// eBay.
    Ebay,
    /// A channel implemented outside this crate family; the name should be a short lowercase
    /// identifier such as `"zalando"`.
    Custom(String),
}

impl Channel {
    /// A stable lowercase name: `"tmall"`, `"shopify"`, or `"custom:<name>"`.
    pub fn name(&self) -> String {
        match self {
            Channel::Tmall => "tmall".into(),
            Channel::Taobao => "taobao".into(),
            Channel::Jd => "jd".into(),
            Channel::Douyin => "douyin".into(),
            Channel::Pinduoduo => "pinduoduo".into(),
            Channel::Xiaohongshu => "xiaohongshu".into(),
            Channel::Amazon => "amazon".into(),
            Channel::Shopify => "shopify".into(),
            Channel::Walmart => "walmart".into(),
            Channel::Ebay => "ebay".into(),
            Channel::Custom(name) => format!("custom:{name}"),
        }
    }

    /// Parses the output of [`Channel::name`].
    pub fn from_name(name: &str) -> Option<Channel> {
        Some(match name {
            "tmall" => Channel::Tmall,
            "taobao" => Channel::Taobao,
            "jd" => Channel::Jd,
            "douyin" => Channel::Douyin,
            "pinduoduo" => Channel::Pinduoduo,
            "xiaohongshu" => Channel::Xiaohongshu,
            "amazon" => Channel::Amazon,
            "shopify" => Channel::Shopify,
            "walmart" => Channel::Walmart,
            "ebay" => Channel::Ebay,
            other => Channel::Custom(other.strip_prefix("custom:")?.to_owned()),
        })
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// An IANA time-zone name (`"Asia/Shanghai"`, `"America/Los_Angeles"`, `"UTC"`): the zone
/// the platform reported its local times in. Model times are UTC; this keeps where they came
/// from, so a business date can be computed in the source zone or the legal entity's zone.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct TimeZoneId(String);

impl TimeZoneId {
    /// `Asia/Shanghai` (GMT+8, no daylight saving): Tmall, JD, Douyin, Pinduoduo, RED.
    pub fn shanghai() -> TimeZoneId {
        TimeZoneId("Asia/Shanghai".into())
    }

    /// `UTC`.
    pub fn utc() -> TimeZoneId {
        TimeZoneId("UTC".into())
    }

    /// Wraps an IANA name. Only the shape is checked here (non-empty, no spaces); the mapping
    /// layer resolves it against the time-zone database.
    pub fn new(name: impl Into<String>) -> Option<TimeZoneId> {
        let name = name.into();
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            None
        } else {
            Some(TimeZoneId(name))
        }
    }

    /// The IANA name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TimeZoneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The version of a source record: its last-update time or a platform version number.
///
/// Revisions order events of one record so the pipeline can drop stale ones. Two revisions of
/// different kinds are not comparable (`partial_cmp` is `None`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Revision {
    /// The record's update time at the source.
    UpdatedAt(DateTime<Utc>),
    /// A monotonically increasing version number.
    Version(u64),
}

impl Revision {
    /// A stable string form used in idempotency keys: RFC 3339 with nanoseconds, or the number.
    pub fn key_string(&self) -> String {
        match self {
            Revision::UpdatedAt(t) => {
                format!("t{}", t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
            }
            Revision::Version(v) => format!("v{v}"),
        }
    }
}

impl PartialOrd for Revision {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Revision::UpdatedAt(a), Revision::UpdatedAt(b)) => Some(a.cmp(b)),
            (Revision::Version(a), Revision::Version(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip() {
        for c in [
            Channel::Tmall,
            Channel::Jd,
            Channel::Shopify,
            Channel::Custom("zalando".into()),
        ] {
            assert_eq!(Channel::from_name(&c.name()), Some(c));
        }
        assert_eq!(Channel::from_name("nope"), None);
    }

    #[test]
    fn revisions_of_one_kind_order() {
        assert!(Revision::Version(2) > Revision::Version(1));
        let t = DateTime::<Utc>::from_timestamp(0, 0).unwrap();
        assert_eq!(
            Revision::Version(1).partial_cmp(&Revision::UpdatedAt(t)),
            None
        );
    }
}
