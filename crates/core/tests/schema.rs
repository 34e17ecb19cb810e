//! The exported schemas have what a partner's tooling needs (a description on every property,
//! only standard formats, readable names, stable `$id`s, a valid 2020-12 schema), and the
//! compatibility check detects what it must.
//!
//! The comparison of the committed `schemas/` directory with the export (and the versioning
//! policy against it) is in `crates/mapping/tests/schemas.rs`, because the committed set also
//! holds the mapping crate's `Rulebook` schema.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use marketsync_core::schema::compat::{self, Change, Classification, PolicyError};
use marketsync_core::schema::{self, SchemaSet};
use serde_json::{Value, json};

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
fn every_exchanged_type_is_exported_with_dialect_stable_id_and_version() {
    let set = SchemaSet::current();
    let major = schema::SCHEMA_VERSION.split('.').next().unwrap();
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
        "OrderEnvelope",
        "RefundEnvelope",
        "ShipmentEnvelope",
        "SettlementEnvelope",
        "InventoryEnvelope",
        "JournalEnvelope",
    ] {
        let s = set
            .schemas
            .get(name)
            .unwrap_or_else(|| panic!("{name} not exported"));
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
        // The `$id` names the major only: an additive release renames nothing.
        assert_eq!(
            s["$id"],
            format!("https://marketsync.dev/schemas/v{major}/{name}.schema.json")
        );
        assert!(
            !s["$id"].as_str().unwrap().contains(schema::SCHEMA_VERSION)
                || major == schema::SCHEMA_VERSION
        );
        assert_eq!(schema::declared_version(s), Some(schema::SCHEMA_VERSION));
        assert_eq!(s["title"], name);
        assert!(
            s["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name}"
        );
    }
    let index = set.index();
    assert_eq!(index["schema_version"], schema::SCHEMA_VERSION);
    for entry in index["schemas"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        assert_eq!(entry["$id"], set.schemas[name]["$id"]);
    }
}

/// Calls `f` with the JSON pointer and schema of every property declared anywhere in `schema`.
fn for_each_property(schema: &Value, at: &str, f: &mut dyn FnMut(&str, &Value)) {
    match schema {
        Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{at}/{k}");
                // `properties` is a map of names, but a property *named* `properties` is not.
                if k == "properties" && v.is_object() && !at.ends_with("/properties") {
                    for (name, prop) in v.as_object().unwrap() {
                        f(&format!("{here}/{name}"), prop);
                    }
                }
                // Examples are documents, not schemas.
                if k != "examples" {
                    for_each_property(v, &here, f);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                for_each_property(v, &format!("{at}/{i}"), f);
            }
        }
        _ => {}
    }
}

/// The properties of `schemas` that have no non-empty `description`.
fn undescribed(schemas: &BTreeMap<String, Value>) -> (usize, Vec<String>) {
    let mut total = 0;
    let mut missing = Vec::new();
    for (name, s) in schemas {
        for_each_property(s, "", &mut |at, prop| {
            total += 1;
            let described = prop
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.trim().is_empty());
            if !described {
                missing.push(format!("{name}#{at}"));
            }
        });
    }
    (total, missing)
}

#[test]
fn every_exported_property_has_a_description() {
    let (total, missing) = undescribed(&SchemaSet::current().schemas);
    assert!(
        total > 250,
        "only {total} properties found: the walk is broken"
    );
    assert!(
        missing.is_empty(),
        "{} of {total} properties have no description (add a `///` doc comment on the \
         field):\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}

#[test]
fn the_description_check_is_not_vacuous() {
    let mut schemas = SchemaSet::current().schemas;
    let order = schemas.get_mut("Order").unwrap();
    order["properties"]["raw_status"]
        .as_object_mut()
        .unwrap()
        .remove("description");
    let (_, missing) = undescribed(&schemas);
    assert_eq!(missing, vec!["Order#/properties/raw_status".to_owned()]);
}

#[test]
fn descriptions_have_no_rustdoc_markup() {
    let text = serde_json::to_string(&SchemaSet::current().schemas).unwrap();
    for noise in ["[`", "`]", "](self)", "](crate::"] {
        assert!(!text.contains(noise), "{noise:?} left in a description");
    }
}

/// Every `format` used in `value` (examples excluded), with where.
fn formats(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "format" {
                    if let Some(f) = v.as_str() {
                        out.push((at.to_owned(), f.to_owned()));
                    }
                } else if k != "examples" {
                    formats(v, &format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                formats(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn only_standard_formats_and_integers_are_bounded() {
    let set = SchemaSet::current();
    let mut found = Vec::new();
    for (name, s) in &set.schemas {
        formats(s, name, &mut found);
    }
    let odd: Vec<_> = found
        .iter()
        .filter(|(_, f)| !schema::STANDARD_FORMATS.contains(&f.as_str()))
        .collect();
    assert!(odd.is_empty(), "non-standard formats: {odd:?}");
    assert!(found.iter().any(|(_, f)| f == "date-time"));
    // Counts and versions are bounded the way their Rust types are.
    let inv = &set.schemas["InventoryUpdate"]["properties"];
    assert_eq!(inv["available"]["minimum"], 0);
    assert_eq!(inv["available"]["maximum"], u64::from(u32::MAX));
    assert_eq!(inv["version"]["maximum"], u64::MAX);
    // A value past the bound is refused by a standard validator.
    let mut doc = set.schemas["InventoryUpdate"]["examples"][0].clone();
    doc["available"] = json!(u64::from(u32::MAX) + 1);
    assert!(!support::validate(&set.schemas["InventoryUpdate"], &doc).is_empty());
}

#[test]
fn definition_names_are_readable() {
    for (name, s) in &SchemaSet::current().schemas {
        for def in s["$defs"].as_object().into_iter().flat_map(|d| d.keys()) {
            assert!(
                def.chars().all(|c| c.is_ascii_alphanumeric()),
                "{name}: $defs/{def}"
            );
        }
    }
    let order = &SchemaSet::current().schemas["Order"];
    assert!(
        order["$defs"]["PiiBuyer"]["description"]
            .as_str()
            .unwrap()
            .contains("residency")
    );
}

#[test]
fn every_schema_is_a_valid_2020_12_schema() {
    // Compiling checks the schema against the 2020-12 meta-schema; `true` is a valid instance
    // of nothing here, so the validator must have run.
    for (name, s) in &SchemaSet::current().schemas {
        let errors = support::validate(s, &json!(true));
        assert_eq!(errors.len(), 1, "{name}: {errors:#?}");
        assert!(
            !errors[0].contains("does not compile"),
            "{name}: {errors:#?}"
        );
    }
}

// ---- the previous major ----------------------------------------------------------------------

fn schemas_1_0_0() -> SchemaSet {
    SchemaSet::read_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemas-1.0.0"),
    )
    .unwrap()
}

#[test]
fn the_1_0_0_schemas_upgrade_to_the_current_major_only() {
    let old = schemas_1_0_0();
    assert_eq!(old.version, "1.0.0");
    // Their `$id`s held the full version; the compatibility check ignores `$id`s.
    assert_eq!(
        old.schemas["Order"]["$id"],
        "urn:marketsync:schema:1.0.0:Order"
    );
    let current = SchemaSet::current();
    let changes = compat::check_policy(&old, &current).unwrap_or_else(|e| panic!("{e}"));
    // The renamed generic definitions are breaking for whoever referenced them by pointer…
    assert!(changes.iter().any(|c| c.is_breaking()
        && c.path == "Order#/$defs/Pii_for_Buyer"
        && c.description.contains("removed while it was referenced")));
    // … so staying on major 1 is refused.
    let as_minor = SchemaSet {
        version: "1.1.0".into(),
        schemas: current.schemas.clone(),
    };
    assert!(matches!(
        compat::check_policy(&old, &as_minor),
        Err(PolicyError::BreakingWithoutMajor { .. })
    ));
    // Formats spelled as bounds, new descriptions, examples, ids: no change. The envelope's
    // optional `schema_version` is additive.
    assert!(
        !changes
            .iter()
            .any(|c| c.path.contains("/format") || c.path.contains("/maximum")),
        "{changes:#?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| !c.is_breaking() && c.path == "Envelope#/properties/schema_version")
    );
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
    new["properties"]["buyer"] = json!({"$ref": "#/$defs/PiiBuyer"});
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
        "/properties/quantity/maximum",
        "loosened"
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
