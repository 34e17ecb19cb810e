//! JSON Schema export of the canonical model (JSON Schema 2020-12).

use std::collections::BTreeMap;

/// Version of the exported schemas. Raise the major on a breaking change, the minor on an
/// additive one.
pub const SCHEMA_VERSION: &str = "1.0.0";

/// Every canonical model schema, keyed by type name.
pub fn export() -> BTreeMap<&'static str, serde_json::Value> {
    let mut out = BTreeMap::new();
    macro_rules! add {
        ($($t:ty),* $(,)?) => {$(
            out.insert(stringify!($t), schemars::schema_for!($t).to_value());
        )*};
    }
    use crate::*;
    add!(
        Money,
        Order,
        Refund,
        Shipment,
        InventoryPosition,
        InventoryUpdate,
        InventoryAck,
        Settlement,
        JournalEntry
    );
    out.insert(
        "Envelope",
        schemars::schema_for!(Envelope<serde_json::Value>).to_value(),
    );
    out
}
