//! Every exported schema carries an example (`examples`), and each example is a document
//! marketsync really writes: it is the serialization of a test fixture, it validates against
//! its schema (checked with a spec-complete 2020-12 validator), and it deserializes into the
//! Rust type and serializes back to the same JSON.
//!
//! The example files live in `crates/core/src/schema/examples/`; after a model or fixture
//! change, rewrite them (and then the schemas) with
//! `MARKETSYNC_UPDATE_SCHEMAS=1 cargo test -p marketsync-core --test schema_examples`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use marketsync_core::schema::{self, SchemaVersion};
use marketsync_core::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use support::fixtures::*;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/schema/examples")
}

fn updating() -> bool {
    std::env::var("MARKETSYNC_UPDATE_SCHEMAS").is_ok_and(|v| v == "1")
}

fn meta(kind: EventKind, channel: Channel, shop: &str, id: &str, rev: Revision) -> EnvelopeMeta {
    EnvelopeMeta {
        channel,
        shop: ShopId::new(shop),
        kind,
        external_id: id.into(),
        revision: rev,
        occurred_at: utc(2026, 2, 9, 8, 0, 0),
        received_at: utc(2026, 2, 9, 8, 0, 4),
    }
}

/// A check that the example of a schema is what the Rust type writes and reads back.
type RoundTrip = fn(&Value) -> Result<Value, String>;

fn round_trip<T: Serialize + DeserializeOwned>(v: &Value) -> Result<Value, String> {
    let t: T = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&t).map_err(|e| e.to_string())
}

/// Schema name → (the fixture document, its Rust round trip).
fn expected() -> BTreeMap<&'static str, (Value, RoundTrip)> {
    fn j<T: Serialize>(t: T) -> Value {
        serde_json::to_value(t).unwrap()
    }
    let tmall = || Channel::Tmall;
    let mut m: BTreeMap<&'static str, (Value, RoundTrip)> = BTreeMap::new();
    m.insert(
        "Money",
        (j(cny("129.00".parse().unwrap())), round_trip::<Money>),
    );
    m.insert("Order", (j(tmall_order()), round_trip::<Order>));
    m.insert("Refund", (j(tmall_refund()), round_trip::<Refund>));
    m.insert("Shipment", (j(tmall_shipment()), round_trip::<Shipment>));
    m.insert(
        "InventoryPosition",
        (j(inventory_position()), round_trip::<InventoryPosition>),
    );
    m.insert(
        "InventoryUpdate",
        (j(inventory_update()), round_trip::<InventoryUpdate>),
    );
    m.insert(
        "InventoryAck",
        (j(inventory_ack()), round_trip::<InventoryAck>),
    );
    m.insert(
        "Settlement",
        (j(amazon_settlement()), round_trip::<Settlement>),
    );
    m.insert(
        "JournalEntry",
        (j(fx_journal()), round_trip::<JournalEntry>),
    );
    m.insert(
        "OrderEnvelope",
        (j(order_envelope()), round_trip::<Envelope<Order>>),
    );
    m.insert(
        "RefundEnvelope",
        (
            j(Envelope::new(
                meta(
                    EventKind::Refund,
                    tmall(),
                    "tmall-flagship-01",
                    "180012345678901234",
                    Revision::Version(3),
                ),
                tmall_refund(),
                tmall_refund().raw,
            )),
            round_trip::<Envelope<Refund>>,
        ),
    );
    m.insert(
        "ShipmentEnvelope",
        (
            j(Envelope::new(
                meta(
                    EventKind::Shipment,
                    tmall(),
                    "tmall-flagship-01",
                    "PKG-0001",
                    Revision::UpdatedAt(utc(2026, 2, 2, 4, 0, 0)),
                ),
                tmall_shipment(),
                None,
            )),
            round_trip::<Envelope<Shipment>>,
        ),
    );
    m.insert(
        "SettlementEnvelope",
        (
            j(Envelope::new(
                meta(
                    EventKind::Settlement,
                    Channel::Amazon,
                    "A2SELLER9EXAMPLE",
                    "12345678901",
                    Revision::Version(1),
                ),
                amazon_settlement(),
                None,
            )),
            round_trip::<Envelope<Settlement>>,
        ),
    );
    m.insert(
        "InventoryEnvelope",
        (
            j(Envelope::new(
                meta(
                    EventKind::Inventory,
                    tmall(),
                    "tmall-flagship-01",
                    "TEA-LONGJING-250G",
                    Revision::Version(42),
                ),
                inventory_update(),
                None,
            )),
            round_trip::<Envelope<InventoryUpdate>>,
        ),
    );
    m.insert(
        "JournalEnvelope",
        (
            j(Envelope::new(
                meta(
                    EventKind::Journal,
                    Channel::Amazon,
                    "A2SELLER9EXAMPLE",
                    "12345678901:payout",
                    Revision::Version(1),
                ),
                fx_journal(),
                None,
            )),
            round_trip::<Envelope<JournalEntry>>,
        ),
    );
    // The generic envelope: a kind defined out of tree, with its own payload.
    m.insert(
        "Envelope",
        (
            j(Envelope::new(
                meta(
                    EventKind::Other("listing".into()),
                    tmall(),
                    "tmall-flagship-01",
                    "622334455667",
                    Revision::UpdatedAt(utc(2026, 2, 9, 7, 59, 0)),
                ),
                json!({
                    "listing_id": "622334455667",
                    "sku": "TEA-LONGJING-250G",
                    "title": "明前龙井 250g",
                    "status": "on_sale"
                }),
                None,
            )),
            round_trip::<Envelope<Value>>,
        ),
    );
    m
}

#[test]
fn every_exported_schema_has_an_example_that_is_the_fixture() {
    let exported = schema::export();
    let expected = expected();
    assert_eq!(
        exported.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "every exported schema needs a fixture here"
    );
    if updating() {
        for (name, (doc, _)) in &expected {
            let path = examples_dir().join(format!("{name}.json"));
            std::fs::write(&path, schema::to_pretty(doc)).unwrap();
        }
        eprintln!(
            "rewrote {}; now regenerate the schemas",
            examples_dir().display()
        );
        return;
    }
    for (name, (doc, _)) in &expected {
        let examples = exported[name]["examples"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no examples"));
        assert_eq!(examples.len(), 1, "{name}");
        assert_eq!(
            examples[0],
            schema::canonical(doc),
            "{name}: the example is stale; run MARKETSYNC_UPDATE_SCHEMAS=1 cargo test -p \
             marketsync-core --test schema_examples"
        );
    }
}

#[test]
fn every_example_validates_and_round_trips() {
    let exported = schema::export();
    for (name, (_, rt)) in expected() {
        let schema = &exported[name];
        let example = &schema["examples"][0];
        let errors = support::validate(schema, example);
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        let back = rt(example).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&back, example, "{name} does not round-trip");
    }
}

#[test]
fn a_typed_envelope_refuses_another_kind_or_payload() {
    let exported = schema::export();
    let order_env = &exported["OrderEnvelope"];
    let mut wrong_kind = exported["OrderEnvelope"]["examples"][0].clone();
    wrong_kind["kind"] = json!("refund");
    assert!(!support::validate(order_env, &wrong_kind).is_empty());
    let refund_payload = exported["RefundEnvelope"]["examples"][0].clone();
    let mut wrong_payload = exported["OrderEnvelope"]["examples"][0].clone();
    wrong_payload["payload"] = refund_payload["payload"].clone();
    assert!(!support::validate(order_env, &wrong_payload).is_empty());
    // The generic envelope takes both.
    assert!(support::validate(&exported["Envelope"], &wrong_payload).is_empty());
}

// ---- schema_version on envelopes -------------------------------------------------------------

#[test]
fn envelopes_always_write_the_current_schema_version() {
    let json = serde_json::to_value(order_envelope()).unwrap();
    assert_eq!(json["schema_version"], schema::SCHEMA_VERSION);
    let back: Envelope<Order> = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back.schema_version, SchemaVersion::CURRENT);
    assert_eq!(serde_json::to_value(&back).unwrap(), json);
}

#[test]
fn an_envelope_without_schema_version_is_read_as_1_0_0_and_written_current() {
    let mut old = serde_json::to_value(order_envelope()).unwrap();
    old.as_object_mut().unwrap().remove("schema_version");
    // Old documents stay valid against the schemas too.
    let exported = schema::export();
    assert!(support::validate(&exported["OrderEnvelope"], &old).is_empty());
    assert!(support::validate(&exported["Envelope"], &old).is_empty());
    let env: Envelope<Order> = serde_json::from_value(old.clone()).unwrap();
    assert_eq!(env.schema_version, SchemaVersion::UNVERSIONED);
    assert_eq!(env.payload, tmall_order());
    let written = serde_json::to_value(&env).unwrap();
    assert_eq!(written["schema_version"], schema::SCHEMA_VERSION);
    let mut without = written.clone();
    without.as_object_mut().unwrap().remove("schema_version");
    assert_eq!(without, old);
}

#[test]
fn an_envelope_of_a_newer_major_version_is_refused_with_the_reason() {
    let mut doc = serde_json::to_value(order_envelope()).unwrap();
    let newer = format!("{}.0.0", SchemaVersion::CURRENT.version().major + 1);
    doc["schema_version"] = json!(newer);
    let err = serde_json::from_value::<Envelope<Order>>(doc.clone()).unwrap_err();
    assert!(
        err.to_string().contains("newer than this build reads"),
        "{err}"
    );
    // A newer minor of the same major is read (additive changes only).
    doc["schema_version"] = json!(format!("{}.5.0", SchemaVersion::CURRENT.version().major));
    assert!(serde_json::from_value::<Envelope<Order>>(doc.clone()).is_ok());
    doc["schema_version"] = json!("latest");
    assert!(serde_json::from_value::<Envelope<Order>>(doc.clone()).is_err());
    // And the schema refuses a malformed version.
    let exported = schema::export();
    assert!(!support::validate(&exported["OrderEnvelope"], &doc).is_empty());
}
