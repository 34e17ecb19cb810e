//! Shipments (fulfilments) of orders.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{Channel, LocationId, OrderId, OrderLineId, ShipmentId, ShopId, Sku};

/// One shipped line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShipmentLine {
    /// The order line.
    pub line_id: OrderLineId,
    /// Its SKU.
    pub sku: Sku,
    /// Units in this package.
    pub quantity: u32,
}

/// A package shipped for an order (one order may ship in several).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Shipment {
    /// The marketplace.
    pub channel: Channel,
    /// The shop.
    pub shop: ShopId,
    /// The order shipped.
    pub order_id: OrderId,
    /// Our or the platform's shipment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ShipmentId>,
    /// Carrier code as the platform knows it (Taobao company code `"SF"`, Shopify carrier name).
    pub carrier: String,
    /// Tracking number.
    pub tracking_number: String,
    /// When it left the warehouse (UTC).
    pub shipped_at: DateTime<Utc>,
    /// Shipped lines. Empty means "the whole order".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<ShipmentLine>,
    /// The stock location it shipped from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationId>,
}
