//! Every model type survives a JSON round trip unchanged, writes amounts as strings, and
//! produces JSON that validates against its exported schema.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::fmt::Debug;

use marketsync_core::schema;
use marketsync_core::*;
use rust_decimal_macros::dec;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use support::fixtures::*;

/// Round-trips `value`, checks amounts are strings, validates against schema `name`.
fn check<T>(name: &str, value: &T) -> Value
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let json = serde_json::to_value(value).unwrap();
    let text = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, value, "{name} changed in a JSON round trip");
    let again: T = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(&again, value);
    assert_amounts_are_strings(&json, "");
    let schemas = schema::export();
    let root = schemas
        .get(name)
        .unwrap_or_else(|| panic!("no exported schema {name}"));
    let errors = support::validate(root, &json);
    assert!(
        errors.is_empty(),
        "{name} does not validate against its schema:\n{errors:#?}"
    );
    json
}

/// No JSON number in the output is fractional, and every `{amount, currency}` object and every
/// `rate` holds its decimal as a string.
fn assert_amounts_are_strings(v: &Value, at: &str) {
    match v {
        Value::Number(n) => assert!(n.is_i64() || n.is_u64(), "{at}: fractional JSON number {n}"),
        Value::Object(m) => {
            if m.contains_key("currency") && m.contains_key("amount") {
                assert!(
                    m["amount"].is_string(),
                    "{at}/amount is not a string: {}",
                    m["amount"]
                );
            }
            if let Some(rate) = m.get("rate") {
                assert!(rate.is_string(), "{at}/rate is not a string: {rate}");
            }
            for (k, x) in m {
                assert_amounts_are_strings(x, &format!("{at}/{k}"));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                assert_amounts_are_strings(x, &format!("{at}/{i}"));
            }
        }
        _ => {}
    }
}

#[test]
fn money_round_trips_in_every_minor_unit() {
    for m in [
        Money::new(dec!(12.30), Currency::CNY),
        Money::new(dec!(-0.05), Currency::USD),
        Money::new(dec!(1500), Currency::JPY),
        Money::new(dec!(1.235), Currency::KWD),
        Money::zero(Currency::EUR),
    ] {
        let json = check("Money", &m);
        assert_eq!(json["amount"], Value::String(m.amount.to_string()));
    }
    // Trailing zeros are kept exactly as given.
    let json = check("Money", &Money::new(dec!(12.30), Currency::CNY));
    assert_eq!(json["amount"], "12.30");
}

#[test]
fn tmall_order_round_trips() {
    let order = tmall_order();
    order.validate().unwrap();
    let totals = order.totals().unwrap();
    assert_eq!(totals.platform_discounts, cny(dec!(25.00)));
    assert_eq!(totals.seller_discounts, cny(dec!(10.00)));
    assert_eq!(totals.tax_inclusive, cny(dec!(35.90)));
    assert_eq!(totals.buyer_total, cny(dec!(292.00)));
    assert_eq!(totals.seller_receivable, cny(dec!(317.00)));
    let json = check("Order", &order);
    assert_eq!(json["buyer"]["region"], "cn");
    assert_eq!(json["buyer"]["state"], "clear");
    assert_eq!(json["lines"][0]["unit_price"]["amount"], "129.00");
    assert_eq!(json["lines"][0]["taxes"][0]["rate"], "0.13");
    assert_eq!(json["revision"]["kind"], "updated_at");
}

#[test]
fn amazon_order_round_trips() {
    let order = amazon_order();
    order.validate().unwrap();
    let totals = order.totals().unwrap();
    assert_eq!(totals.tax_marketplace_collected, usd(dec!(2.90)));
    assert_eq!(totals.buyer_total, usd(dec!(42.88)));
    // Marketplace-collected sales tax is not the seller's receivable.
    assert_eq!(totals.seller_receivable, usd(dec!(39.98)));
    let json = check("Order", &order);
    assert_eq!(
        json["fulfilment_channel"],
        serde_json::json!({"platform": "FBA"})
    );
    assert_eq!(json["ship_to"]["state"], "sealed");
}

#[test]
fn sealed_and_masked_pii_round_trip() {
    let order = douyin_order();
    let json = check("Order", &order);
    assert_eq!(json["buyer"]["state"], "sealed");
    assert_eq!(json["ship_to"]["state"], "masked");
    assert_eq!(json["attribution"]["live_room_id"], "7301234567890");
    let tokenized = tmall_buyer().tokenize(&TokenKey::new(b"tenant-key-0123456789".to_vec()));
    let mut o = tmall_order();
    o.buyer = Some(tokenized);
    let json = check("Order", &o);
    assert_eq!(json["buyer"]["state"], "token");
}

#[test]
fn refund_round_trips() {
    let refund = tmall_refund();
    assert!(refund.is_consistent());
    let json = check("Refund", &refund);
    assert_eq!(json["goods_return"]["lines"][0]["restock"], true);
    assert_eq!(
        json["revision"],
        serde_json::json!({"kind": "version", "value": 3})
    );
}

#[test]
fn shipment_and_inventory_round_trip() {
    check("Shipment", &tmall_shipment());
    let mut whole_order = tmall_shipment();
    whole_order.lines.clear();
    whole_order.id = None;
    let json = check("Shipment", &whole_order);
    assert!(json.get("lines").is_none());
    check("InventoryPosition", &inventory_position());
    check("InventoryUpdate", &inventory_update());
    check("InventoryAck", &inventory_ack());
}

#[test]
fn settlement_with_every_line_kind_round_trips() {
    let settlement = amazon_settlement();
    let json = check("Settlement", &settlement);
    let kinds: Vec<&str> = json["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"]["type"].as_str().unwrap())
        .collect();
    for k in [
        "sale",
        "commission",
        "fee",
        "tax",
        "refund",
        "adjustment",
        "reserve_hold",
        "reserve_release",
        "payout",
        "unknown",
    ] {
        assert!(kinds.contains(&k), "missing settlement line kind {k}");
    }
    // The net excludes payouts and equals the payout here.
    assert_eq!(settlement.net().unwrap(), usd(dec!(9.80)));
}

#[test]
fn fx_journal_round_trips() {
    let entry = fx_journal();
    entry.validate().unwrap();
    let json = check("JournalEntry", &entry);
    assert_eq!(json["lines"][0]["fx"]["rate"], "7.12345");
    assert_eq!(json["lines"][0]["fx"]["original"]["currency"], "USD");
    assert_eq!(json["date"], "2026-02-17");
}

#[test]
fn envelope_round_trips_and_its_payload_validates_by_kind() {
    let env = order_envelope();
    let json = serde_json::to_value(&env).unwrap();
    let back: Envelope<Order> = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, env);
    let schemas = schema::export();
    let errors = support::validate(&schemas["Envelope"], &json);
    assert!(errors.is_empty(), "{errors:#?}");
    // The index names the payload and envelope schemas of each kind.
    let index = schema::SchemaSet::current().index();
    let kind = json["kind"].as_str().unwrap();
    let name = index["envelopes"][kind]["payload"].as_str().unwrap();
    assert_eq!(name, "Order");
    assert!(support::validate(&schemas[name], &json["payload"]).is_empty());
    let envelope = index["envelopes"][kind]["envelope"].as_str().unwrap();
    assert!(support::validate(&schemas[envelope], &json).is_empty());
    // Generic envelopes round-trip too.
    let meta = EnvelopeMeta {
        channel: Channel::Amazon,
        shop: ShopId::new("A2SELLER9EXAMPLE"),
        kind: EventKind::Settlement,
        external_id: "12345678901".into(),
        revision: Revision::Version(1),
        occurred_at: utc(2026, 2, 15, 0, 0, 0),
        received_at: utc(2026, 2, 15, 0, 5, 0),
    };
    let env = Envelope::new(meta, amazon_settlement(), None);
    let json = serde_json::to_value(&env).unwrap();
    assert_eq!(
        serde_json::from_value::<Envelope<Settlement>>(json.clone()).unwrap(),
        env
    );
    assert!(support::validate(&schemas["Envelope"], &json).is_empty());
    let env = Envelope::new(
        EnvelopeMeta {
            kind: EventKind::Other("listing".into()),
            ..env_meta()
        },
        serde_json::json!({"anything": [1, 2, 3]}),
        None,
    );
    let json = serde_json::to_value(&env).unwrap();
    assert_eq!(
        serde_json::from_value::<Envelope<Value>>(json.clone()).unwrap(),
        env
    );
    assert!(support::validate(&schemas["Envelope"], &json).is_empty());
}

fn env_meta() -> EnvelopeMeta {
    EnvelopeMeta {
        channel: Channel::Custom("zalando".into()),
        shop: ShopId::new("z1"),
        kind: EventKind::Order,
        external_id: "1".into(),
        revision: Revision::Version(1),
        occurred_at: utc(2026, 1, 1, 0, 0, 0),
        received_at: utc(2026, 1, 1, 0, 0, 1),
    }
}

#[test]
fn the_validator_is_not_vacuous() {
    let schemas = schema::export();
    let mut json = serde_json::to_value(tmall_order()).unwrap();
    json["lines"][0]["unit_price"]["amount"] = serde_json::json!(129.0);
    assert!(!support::validate(&schemas["Order"], &json).is_empty());
    let mut json = serde_json::to_value(tmall_order()).unwrap();
    json.as_object_mut().unwrap().remove("currency");
    assert!(!support::validate(&schemas["Order"], &json).is_empty());
    let mut json = serde_json::to_value(amazon_settlement()).unwrap();
    json["lines"][0]["kind"]["type"] = "bonus".into();
    assert!(!support::validate(&schemas["Settlement"], &json).is_empty());
    let mut json = serde_json::to_value(order_envelope()).unwrap();
    json["idempotency_key"] = "msk1-nothex".into();
    assert!(!support::validate(&schemas["Envelope"], &json).is_empty());
}
