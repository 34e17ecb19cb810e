//! Inventory positions (from the ERP) and available-to-promise updates (to channels).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{Channel, LocationId, ShopId, Sku};

/// Stock of one SKU at one location, as the ERP or WMS reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InventoryPosition {
    /// The SKU (ERP item code).
    pub sku: Sku,
    /// The location.
    pub location: LocationId,
    /// Physically on hand.
    pub on_hand: i64,
    /// Reserved for open orders.
    pub reserved: i64,
    /// Available to promise as the ERP computes it (usually on hand − reserved).
    pub available: i64,
    /// When this was read.
    pub as_of: DateTime<Utc>,
}

/// A quantity to publish on one channel for one SKU.
///
/// `version` increases monotonically per (channel, shop, SKU): a channel adapter or the
/// platform can drop an update older than the last one applied, so out-of-order delivery never
/// resurrects stale stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InventoryUpdate {
    /// Target channel.
    pub channel: Channel,
    /// Target shop.
    pub shop: ShopId,
    /// The SKU as the channel knows it.
    pub sku: Sku,
    /// Location on the channel (multi-warehouse channels), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationId>,
    /// Quantity to show as sellable (never negative).
    pub available: u32,
    /// Monotonic version.
    pub version: u64,
    /// When the underlying stock change happened.
    pub computed_at: DateTime<Utc>,
}

/// A channel's answer to one pushed update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InventoryAck {
    /// The SKU.
    pub sku: Sku,
    /// The version acknowledged.
    pub version: u64,
    /// Whether the channel applied it (false: superseded by a newer version, or refused).
    pub applied: bool,
    /// Why it was not applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
