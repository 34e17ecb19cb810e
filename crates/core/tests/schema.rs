//! The committed schemas (`schemas/` at the repository root) match the current export and
//! respect the versioning policy; the compatibility check detects what it must.
//!
//! To regenerate `schemas/` after a model change:
//! `MARKETSYNC_UPDATE_SCHEMAS=1 cargo test -p marketsync-core --test schema`
//! (refused while the change breaks the versioning policy: raise `SCHEMA_VERSION` first).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use marketsync_core::schema::compat::{self, Change, Classification, PolicyError};
use marketsync_core::schema::{self, SchemaSet};
use serde_json::{Value, json};

const UPDATE_HINT: &str = "MARKETSYNC_UPDATE_SCHEMAS=1 cargo test -p marketsync-core --test schema";

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn updating() -> bool {
    std::env::var("MARKETSYNC_UPDATE_SCHEMAS").is_ok_and(|v| v == "1")
}

#[test]
fn committed_schemas_match_the_current_export() {
    let dir = schemas_dir();
    let current = SchemaSet::current();
    if updating() {
        if dir.join(schema::INDEX_FILE).exists() {
            let committed = SchemaSet::read_dir(&dir).unwrap();
            if let Err(e) = compat::check_policy(&committed, &current) {
                panic!(
                    "refusing to rewrite {}:\n{e}\n\nRaise SCHEMA_VERSION in \
                     crates/core/src/schema/mod.rs as the policy says, then run `{UPDATE_HINT}` again.",
                    dir.display()
                );
            }
        }
        current.write_dir(&dir).unwrap();
        eprintln!("rewrote {}; review and commit the diff", dir.display());
        return;
    }
    let expected = current.files();
    let mut problems = Vec::new();
    for (name, text) in &expected {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(committed) if committed == *text => {}
            Ok(_) => problems.push(format!("{name} differs")),
            Err(_) => problems.push(format!("{name} is missing")),
        }
    }
    for name in schema::schema_files_in(&dir).unwrap() {
        if !expected.contains_key(&name) {
            problems.push(format!("{name} is no longer exported"));
        }
    }
    assert!(
        problems.is_empty(),
        "the committed schemas in {} are stale: {}.\nRun `{UPDATE_HINT}` to regenerate them, \
         then review and commit the diff.",
        dir.display(),
        problems.join("; ")
    );
}

#[test]
fn current_export_respects_the_versioning_policy() {
    if updating() {
        // The update run checks the policy itself before writing.
        return;
    }
    let committed = SchemaSet::read_dir(&schemas_dir())
        .unwrap_or_else(|e| panic!("cannot read the committed schemas ({e}); run `{UPDATE_HINT}`"));
    if let Err(e) = compat::check_policy(&committed, &SchemaSet::current()) {
        panic!(
            "{e}\n\nAfter raising SCHEMA_VERSION in crates/core/src/schema/mod.rs, run `{UPDATE_HINT}`."
        );
    }
}

#[test]
fn read_back_equals_what_was_written() {
    let dir = std::env::temp_dir().join(format!("marketsync-schemas-{}", std::process::id()));
    let set = SchemaSet::current();
    // A stale file from an older export is removed.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Gone.schema.json"), "{}\n").unwrap();
    let written = set.write_dir(&dir).unwrap();
    assert_eq!(written.len(), set.schemas.len() + 1);
    assert!(!dir.join("Gone.schema.json").exists());
    assert_eq!(SchemaSet::read_dir(&dir).unwrap(), set);
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schema_version"], schema::SCHEMA_VERSION);
    assert_eq!(
        index["schemas"].as_array().unwrap().len(),
        set.schemas.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_exchanged_type_is_exported_with_dialect_and_versioned_id() {
    let set = SchemaSet::current();
    for name in [
        "Money",
        "Order",
        "Refund",
        "Shipment",
        "InventoryPosition",
        "InventoryUpdate",
        "InventoryAck",
        "Settlement",
        "JournalEntry",
        "Envelope",
    ] {
        let s = set
            .schemas
            .get(name)
            .unwrap_or_else(|| panic!("{name} not exported"));
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(
            s["$id"],
            format!("urn:marketsync:schema:{}:{name}", schema::SCHEMA_VERSION)
        );
        assert_eq!(s["title"], name);
    }
}

// ---- detection ------------------------------------------------------------------------------

fn order() -> Value {
    SchemaSet::current().schemas["Order"].clone()
}

fn breaking(changes: &[Change]) -> Vec<&Change> {
    changes.iter().filter(|c| c.is_breaking()).collect()
}

fn has(changes: &[Change], class: Classification, path: &str, words: &str) -> bool {
    changes
        .iter()
        .any(|c| c.classification == class && c.path == path && c.description.contains(words))
}

#[test]
fn an_export_compared_with_itself_has_no_change() {
    let set = SchemaSet::current();
    assert!(compat::compare_sets(&set.schemas, &set.schemas).is_empty());
}

#[test]
fn removing_a_property_is_breaking() {
    let old = order();
    let mut new = old.clone();
    new["properties"]
        .as_object_mut()
        .unwrap()
        .remove("raw_status");
    new["required"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r != "raw_status");
    let changes = compat::compare(&old, &new);
    assert!(
        has(
            &changes,
            Classification::Breaking,
            "/properties/raw_status",
            "removed"
        ),
        "{changes:#?}"
    );
    // Nested, inside a definition reached by $ref.
    let mut new = old.clone();
    new["$defs"]["OrderLine"]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("title");
    let changes = compat::compare(&old, &new);
    assert!(has(
        &changes,
        Classification::Breaking,
        "/$defs/OrderLine/properties/title",
        "removed"
    ));
}

#[test]
fn adding_a_required_property_is_breaking() {
    let old = order();
    let mut new = old.clone();
    new["properties"]["priority"] = json!({"type": "string"});
    new["required"]
        .as_array_mut()
        .unwrap()
        .push("priority".into());
    let changes = compat::compare(&old, &new);
    assert!(
        has(
            &changes,
            Classification::Breaking,
            "/properties/priority",
            "required"
        ),
        "{changes:#?}"
    );
    // An existing optional property becoming required.
    let mut new = old.clone();
    new["required"]
        .as_array_mut()
        .unwrap()
        .push("paid_at".into());
    let changes = compat::compare(&old, &new);
    assert!(has(
        &changes,
        Classification::Breaking,
        "/required",
        "`paid_at` became required"
    ));
}

#[test]
fn narrowing_a_type_is_breaking() {
    let old = order();
    let mut new = old.clone();
    new["$defs"]["Address"]["properties"]["city"]["type"] = json!("string");
    let changes = compat::compare(&old, &new);
    assert!(
        has(
            &changes,
            Classification::Breaking,
            "/$defs/Address/properties/city/type",
            "null"
        ),
        "{changes:#?}"
    );
    // A nullable reference becoming mandatory.
    let mut new = old.clone();
    new["properties"]["buyer"] = json!({"$ref": "#/$defs/Pii_for_Buyer"});
    let changes = compat::compare(&old, &new);
    assert!(
        has(
            &changes,
            Classification::Breaking,
            "/properties/buyer/anyOf",
            "type:null"
        ),
        "{changes:#?}"
    );
}

#[test]
fn removing_an_enum_value_is_breaking() {
    // Unit variants are exported as `oneOf` of `const`s (each with its doc comment).
    let old = order();
    let mut new = old.clone();
    new["$defs"]["OrderStatus"]["oneOf"]
        .as_array_mut()
        .unwrap()
        .retain(|v| v["const"] != "refunded");
    let changes = compat::compare(&old, &new);
    assert!(
        has(
            &changes,
            Classification::Breaking,
            "/$defs/OrderStatus/oneOf",
            "\"refunded\" removed"
        ),
        "{changes:#?}"
    );
    // A plain `enum` list losing a value.
    let mut old = order();
    old["$defs"]["Currency"]["enum"] = json!(["CNY", "USD", "JPY"]);
    let mut new = old.clone();
    new["$defs"]["Currency"]["enum"] = json!(["CNY", "USD"]);
    let changes = compat::compare(&old, &new);
    assert!(has(
        &changes,
        Classification::Breaking,
        "/$defs/Currency/enum",
        "\"JPY\" removed"
    ));
    // A tagged variant disappearing (settlement line kinds are matched by their `type` const).
    let old = SchemaSet::current().schemas["Settlement"].clone();
    let mut new = old.clone();
    new["$defs"]["SettlementLineKind"]["oneOf"]
        .as_array_mut()
        .unwrap()
        .retain(|v| v["properties"]["type"]["const"] != "unknown");
    let changes = compat::compare(&old, &new);
    assert!(has(
        &changes,
        Classification::Breaking,
        "/$defs/SettlementLineKind/oneOf",
        "type=unknown"
    ));
    // A changed const.
    let mut new = old.clone();
    new["$defs"]["SettlementLineKind"]["oneOf"][0]["properties"]["type"]["const"] = json!("sales");
    let changes = compat::compare(&old, &new);
    assert!(!breaking(&changes).is_empty());
}

#[test]
fn adding_an_optional_property_or_enum_value_is_additive() {
    let old = order();
    let mut new = old.clone();
    new["properties"]["gift_message"] = json!({"type": ["string", "null"]});
    let changes = compat::compare(&old, &new);
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert!(has(
        &changes,
        Classification::Additive,
        "/properties/gift_message",
        "optional"
    ));

    let mut new = old.clone();
    new["$defs"]["OrderStatus"]["oneOf"]
        .as_array_mut()
        .unwrap()
        .push(json!({"const": "on_hold", "type": "string"}));
    let changes = compat::compare(&old, &new);
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert!(has(
        &changes,
        Classification::Additive,
        "/$defs/OrderStatus/oneOf",
        "\"on_hold\" added"
    ));

    let mut old_enum = order();
    old_enum["$defs"]["Currency"]["enum"] = json!(["CNY"]);
    let mut new_enum = old_enum.clone();
    new_enum["$defs"]["Currency"]["enum"] = json!(["CNY", "USD"]);
    let changes = compat::compare(&old_enum, &new_enum);
    assert!(breaking(&changes).is_empty());
    assert!(has(
        &changes,
        Classification::Additive,
        "/$defs/Currency/enum",
        "\"USD\" added"
    ));
}

#[test]
fn widening_new_defs_and_descriptions_are_not_breaking() {
    let old = order();
    let mut new = old.clone();
    new["$defs"]["Address"]["properties"]["country"]["type"] = json!(["string", "null"]);
    new["$defs"]["Gift"] = json!({"type": "object"});
    new["description"] = json!("A rewritten description.");
    new["$defs"]["Money"]["description"] = json!("Money, described differently.");
    let changes = compat::compare(&old, &new);
    assert!(breaking(&changes).is_empty(), "{changes:#?}");
    assert!(has(
        &changes,
        Classification::Additive,
        "/$defs/Address/properties/country/type",
        "widened"
    ));
    assert!(has(
        &changes,
        Classification::Additive,
        "/$defs/Gift",
        "added"
    ));
    assert_eq!(changes.len(), 2);
}

#[test]
fn reordered_variants_are_no_change() {
    let old = order();
    let mut new = old.clone();
    new["$defs"]["OrderStatus"]["oneOf"]
        .as_array_mut()
        .unwrap()
        .reverse();
    new["$defs"]["Channel"]["oneOf"]
        .as_array_mut()
        .unwrap()
        .reverse();
    assert!(compat::compare(&old, &new).is_empty());
}

#[test]
fn removing_a_referenced_definition_is_breaking() {
    let old = order();
    let mut new = old.clone();
    new["$defs"].as_object_mut().unwrap().remove("Attribution");
    let changes = compat::compare(&old, &new);
    assert!(has(
        &changes,
        Classification::Breaking,
        "/$defs/Attribution",
        "referenced"
    ));
}

#[test]
fn removing_a_whole_schema_is_breaking() {
    let old = SchemaSet::current();
    let mut new = old.clone();
    new.schemas.remove("InventoryAck");
    let changes = compat::compare_sets(&old.schemas, &new.schemas);
    assert_eq!(changes.len(), 1);
    assert!(changes[0].is_breaking());
    assert_eq!(changes[0].path, "InventoryAck#");
}

#[test]
fn real_rust_type_evolution_is_classified() {
    use schemars::JsonSchema;
    mod v1 {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        pub(super) struct Item {
            pub(super) sku: String,
            pub(super) quantity: u32,
        }
    }
    mod v2 {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        pub(super) struct Item {
            pub(super) sku: String,
            pub(super) quantity: u64,
            pub(super) note: Option<String>,
        }
    }
    mod v3 {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        pub(super) struct Item {
            pub(super) sku: String,
            pub(super) warehouse: String,
        }
    }
    fn s<T: JsonSchema>() -> Value {
        schemars::schema_for!(T).to_value()
    }
    let v1_v2 = compat::compare(&s::<v1::Item>(), &s::<v2::Item>());
    assert!(breaking(&v1_v2).is_empty(), "{v1_v2:#?}");
    assert!(has(
        &v1_v2,
        Classification::Additive,
        "/properties/note",
        "optional"
    ));
    assert!(has(
        &v1_v2,
        Classification::Additive,
        "/properties/quantity/format",
        "widened"
    ));
    let v2_v3 = compat::compare(&s::<v2::Item>(), &s::<v3::Item>());
    assert!(has(
        &v2_v3,
        Classification::Breaking,
        "/properties/quantity",
        "removed"
    ));
    assert!(has(
        &v2_v3,
        Classification::Breaking,
        "/properties/warehouse",
        "required"
    ));
}

// ---- policy ---------------------------------------------------------------------------------

fn with(version: &str, schemas: BTreeMap<String, Value>) -> SchemaSet {
    SchemaSet {
        version: version.into(),
        schemas,
    }
}

#[test]
fn policy_requires_a_major_raise_for_breaking_changes() {
    let committed = with("1.0.0", SchemaSet::current().schemas);
    let mut schemas = committed.schemas.clone();
    schemas.get_mut("Order").unwrap()["properties"]
        .as_object_mut()
        .unwrap()
        .remove("raw_status");
    for v in ["1.0.0", "1.1.0", "1.0.1"] {
        let err = compat::check_policy(&committed, &with(v, schemas.clone())).unwrap_err();
        assert!(
            matches!(err, PolicyError::BreakingWithoutMajor { .. }),
            "{v}: {err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("Order#/properties/raw_status"), "{msg}");
        assert!(msg.contains("raise its major"), "{msg}");
    }
    let changes = compat::check_policy(&committed, &with("2.0.0", schemas)).unwrap();
    assert!(changes.iter().any(Change::is_breaking));
}

#[test]
fn policy_requires_a_minor_raise_for_additive_changes() {
    let committed = with("1.2.3", SchemaSet::current().schemas);
    let mut schemas = committed.schemas.clone();
    schemas.get_mut("Order").unwrap()["properties"]["gift_message"] = json!({"type": "string"});
    let err = compat::check_policy(&committed, &with("1.2.4", schemas.clone())).unwrap_err();
    assert!(
        matches!(err, PolicyError::AdditiveWithoutMinor { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("gift_message"));
    assert!(compat::check_policy(&committed, &with("1.3.0", schemas.clone())).is_ok());
    assert!(compat::check_policy(&committed, &with("2.0.0", schemas)).is_ok());
}

#[test]
fn policy_accepts_no_change_and_refuses_a_lower_version() {
    let committed = with("1.2.3", SchemaSet::current().schemas);
    assert_eq!(
        compat::check_policy(&committed, &committed).unwrap(),
        vec![]
    );
    let lower = with("1.2.2", committed.schemas.clone());
    assert!(matches!(
        compat::check_policy(&committed, &lower),
        Err(PolicyError::VersionDecreased { .. })
    ));
    let bad = with("v1", committed.schemas.clone());
    assert!(matches!(
        compat::check_policy(&committed, &bad),
        Err(PolicyError::InvalidVersion(_))
    ));
}
