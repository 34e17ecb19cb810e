//! The example document of each exported schema (its `examples` keyword).
//!
//! Each is a realistic document exactly as marketsync serializes it: the core tests check that
//! it validates against its schema and that it deserializes into the Rust type and serializes
//! back to the same JSON. The files live in `examples/` beside this module.

use serde_json::Value;

/// The example files, by schema name.
const EXAMPLES: &[(&str, &str)] = &[
    ("Envelope", include_str!("examples/Envelope.json")),
    ("InventoryAck", include_str!("examples/InventoryAck.json")),
    (
        "InventoryEnvelope",
        include_str!("examples/InventoryEnvelope.json"),
    ),
    (
        "InventoryPosition",
        include_str!("examples/InventoryPosition.json"),
    ),
    (
        "InventoryUpdate",
        include_str!("examples/InventoryUpdate.json"),
    ),
    ("JournalEntry", include_str!("examples/JournalEntry.json")),
    (
        "JournalEnvelope",
        include_str!("examples/JournalEnvelope.json"),
    ),
    ("Money", include_str!("examples/Money.json")),
    ("Order", include_str!("examples/Order.json")),
    ("OrderEnvelope", include_str!("examples/OrderEnvelope.json")),
    ("Refund", include_str!("examples/Refund.json")),
    (
        "RefundEnvelope",
        include_str!("examples/RefundEnvelope.json"),
    ),
    ("Settlement", include_str!("examples/Settlement.json")),
    (
        "SettlementEnvelope",
        include_str!("examples/SettlementEnvelope.json"),
    ),
    ("Shipment", include_str!("examples/Shipment.json")),
    (
        "ShipmentEnvelope",
        include_str!("examples/ShipmentEnvelope.json"),
    ),
];

/// The example of schema `name`, or `None` when it has none or its file is not valid JSON
/// (the tests require a valid example for every exported schema).
pub(super) fn example(name: &str) -> Option<Value> {
    let (_, text) = EXAMPLES.iter().find(|(n, _)| *n == name)?;
    serde_json::from_str(text).ok()
}
