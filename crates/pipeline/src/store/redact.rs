//! The one place personal data is taken out of what the store keeps.
//!
//! The raw archive (`ms_raw`) is the only table that holds a record as the platform sent it
//! (it is what a replay re-reads, and it has its own retention: [`super::Store::purge_raw`]).
//! Everything else the store writes from a canonical record — an exception's `canonical`
//! column, a record snapshot's body — goes through [`redact_pii`] first, in the backends'
//! shared row helpers, so no engine path can store clear personal data by forgetting it.
//!
//! [`redact_pii`] finds every [`Pii`] value in a JSON document by its serialized shape
//! (`{"region": …, "state": "clear", "value": …}`) and replaces it with its masked form
//! ([`Pii::mask`]: the model's own masking of a buyer or an address, which keeps country,
//! province and city for tax and reporting). Masked, tokenized and sealed values are kept as
//! they are. The record stays readable as its canonical type, so a replay can re-map it; no
//! ERP adapter reads the buyer or the ship-to address.

use marketsync_core::pii::mask_text;
use marketsync_core::{Address, Buyer, Pii};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A copy of `value` with every clear [`Pii`] value in it masked.
pub fn redact_pii(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(masked) = mask_clear_pii(map) {
                return masked;
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), redact_pii(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(redact_pii).collect()),
        other => other.clone(),
    }
}

/// The masked form of a serialized clear `Pii`, or `None` when `map` is not one.
fn mask_clear_pii(map: &Map<String, Value>) -> Option<Value> {
    if map.get("state").and_then(Value::as_str) != Some("clear") || !map.contains_key("region") {
        return None;
    }
    let whole = Value::Object(map.clone());
    // The model's types first (their own masking rules), if they hold the value exactly;
    // anything else is masked field by field.
    mask_as::<Address>(&whole)
        .or_else(|| mask_as::<Buyer>(&whole))
        .or_else(|| mask_as::<String>(&whole))
        .or_else(|| {
            let mut out = map.clone();
            out.insert("state".into(), Value::String("masked".into()));
            let value = out.get("value").map(mask_leaves).unwrap_or(Value::Null);
            out.insert("value".into(), value);
            Some(Value::Object(out))
        })
}

/// Masks through the typed [`Pii::mask`] when `whole` reads as a `Pii<T>` without losing a
/// field (so unknown fields are never dropped silently).
fn mask_as<T>(whole: &Value) -> Option<Value>
where
    T: marketsync_core::Mask + Clone + Serialize + DeserializeOwned,
{
    let pii: Pii<T> = serde_json::from_value(whole.clone()).ok()?;
    if serde_json::to_value(&pii).ok()? != *whole {
        return None;
    }
    serde_json::to_value(pii.mask()).ok()
}

/// Every string inside `v`, masked.
fn mask_leaves(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(mask_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(mask_leaves).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), mask_leaves(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketsync_core::Region;
    use serde_json::json;

    #[test]
    fn masks_buyer_and_address_and_keeps_the_rest() {
        let buyer = Pii::new(
            Region::Us,
            Buyer {
                platform_id: Some("buyer-4711".into()),
                name: Some("Buyer 7".into()),
                email: Some("buyer7@example.com".into()),
                phone: Some("13812345678".into()),
            },
        );
        let address = Pii::new(
            Region::Us,
            Address {
                name: Some("Jane Doe".into()),
                phone: None,
                lines: vec!["17 Main Street".into()],
                district: None,
                city: Some("Louisville".into()),
                province: Some("KY".into()),
                postal_code: Some("40202".into()),
                country: "US".into(),
            },
        );
        let doc = json!({
            "id": "o-1",
            "buyer": buyer,
            "ship_to": address,
            "lines": [{"sku": "SKU-A1", "nested": {"who": Pii::new(Region::Cn, "张三丰".to_string())}}],
            "sealed": Pii::<Address>::sealed(Region::Cn, "taobao_oaid", "1CDr0001"),
        });
        let out = redact_pii(&doc);
        let text = out.to_string();
        for clear in [
            "buyer-4711",
            "Buyer 7",
            "buyer7@example.com",
            "13812345678",
            "Jane Doe",
            "17 Main Street",
            "40202",
            "张三丰",
        ] {
            assert!(!text.contains(clear), "{clear} left in {text}");
        }
        // Still the canonical shapes, now masked; the rest untouched.
        let b: Pii<Buyer> = serde_json::from_value(out["buyer"].clone()).unwrap();
        assert_eq!(b.state_name(), "masked");
        let a: Pii<Address> = serde_json::from_value(out["ship_to"].clone()).unwrap();
        assert_eq!(a.state_name(), "masked");
        assert_eq!(out["ship_to"]["value"]["city"], "Louisville");
        assert_eq!(out["lines"][0]["sku"], "SKU-A1");
        assert_eq!(out["lines"][0]["nested"]["who"]["state"], "masked");
        assert_eq!(out["sealed"], doc["sealed"]);
        assert_eq!(out["id"], "o-1");
        // Idempotent.
        assert_eq!(redact_pii(&out), out);
    }

    #[test]
    fn unknown_shapes_are_masked_leaf_by_leaf() {
        let doc = json!({"region": "eu", "state": "clear",
            "value": {"full_name": "Ana García", "vat": ["DE123456789"], "n": 3}});
        let out = redact_pii(&doc);
        assert_eq!(out["state"], "masked");
        assert_eq!(out["value"]["n"], 3);
        let text = out.to_string();
        assert!(
            !text.contains("Ana García") && !text.contains("DE123456789"),
            "{text}"
        );
    }
}
