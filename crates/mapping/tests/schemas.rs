//! The committed schemas (`schemas/` at the repository root) are exactly the published set
//! ([`marketsync_mapping::schema_set`]: the canonical model's schemas and the rulebook's) and
//! respect the versioning policy; the rulebook schema follows the conventions of the others.
//!
//! To regenerate `schemas/` after a model or rulebook change:
//! `MARKETSYNC_UPDATE_SCHEMAS=1 cargo test -p marketsync-mapping --test schemas`
//! (refused while the change breaks the versioning policy: raise `SCHEMA_VERSION` in
//! crates/core/src/schema/mod.rs first).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use marketsync_core::schema::{self, SchemaSet, compat};
use marketsync_mapping::{Rulebook, rulebook_schema, schema_set};
use serde_json::{Value, json};

const UPDATE_HINT: &str =
    "MARKETSYNC_UPDATE_SCHEMAS=1 cargo test -p marketsync-mapping --test schemas";

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn updating() -> bool {
    std::env::var("MARKETSYNC_UPDATE_SCHEMAS").is_ok_and(|v| v == "1")
}

/// Validates with a spec-complete 2020-12 validator, format assertions on; errors, or empty.
fn validate(schema: &Value, instance: &Value) -> Vec<String> {
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    let loc = "urn:marketsync:test-schema";
    if let Err(e) = compiler.add_resource(loc, schema.clone()) {
        return vec![format!("schema not loadable: {e:#}")];
    }
    match compiler.compile(loc, &mut schemas) {
        Ok(i) => match schemas.validate(instance, i) {
            Ok(()) => Vec::new(),
            Err(e) => vec![format!("{e:#}")],
        },
        Err(e) => vec![format!("schema does not compile: {e:#}")],
    }
}

#[test]
fn committed_schemas_match_the_published_set() {
    let dir = schemas_dir();
    let current = schema_set();
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
fn the_published_set_respects_the_versioning_policy() {
    if updating() {
        // The update run checks the policy itself before writing.
        return;
    }
    let committed = SchemaSet::read_dir(&schemas_dir())
        .unwrap_or_else(|e| panic!("cannot read the committed schemas ({e}); run `{UPDATE_HINT}`"));
    if let Err(e) = compat::check_policy(&committed, &schema_set()) {
        panic!(
            "{e}\n\nAfter raising SCHEMA_VERSION in crates/core/src/schema/mod.rs, run `{UPDATE_HINT}`."
        );
    }
}

#[test]
fn a_breaking_rulebook_change_needs_a_major_raise_too() {
    let committed = schema_set();
    let mut changed = committed.clone();
    let rb = changed.schemas.get_mut("Rulebook").unwrap();
    rb["properties"].as_object_mut().unwrap().remove("version");
    let err = compat::check_policy(&committed, &changed).unwrap_err();
    assert!(
        err.to_string().contains("Rulebook#/properties/version"),
        "{err}"
    );
}

#[test]
fn the_rulebook_schema_is_published_like_the_model_schemas() {
    let set = schema_set();
    let rb = &set.schemas["Rulebook"];
    assert_eq!(rb, &rulebook_schema());
    assert_eq!(rb["$schema"], schema::DIALECT);
    assert_eq!(
        rb["$id"],
        schema::schema_id(schema::SCHEMA_VERSION, "Rulebook")
    );
    assert_eq!(schema::declared_version(rb), Some(schema::SCHEMA_VERSION));
    assert!(!rb["description"].as_str().unwrap().contains("module docs"));
    // The model schemas are all there too, unchanged.
    for (name, s) in SchemaSet::current().schemas {
        assert_eq!(set.schemas[&name], s, "{name}");
    }
    // Every property described, only standard formats, readable definition names.
    let text = rb.to_string();
    assert!(!text.contains("_for_") && !text.contains("[`"), "{text}");
    let mut undescribed = Vec::new();
    let mut odd_formats = Vec::new();
    walk(rb, "", &mut undescribed, &mut odd_formats);
    assert!(undescribed.is_empty(), "undescribed: {undescribed:#?}");
    assert!(
        odd_formats.is_empty(),
        "non-standard formats: {odd_formats:#?}"
    );
}

fn walk(v: &Value, at: &str, undescribed: &mut Vec<String>, odd: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let here = format!("{at}/{k}");
                if k == "examples" {
                    continue;
                }
                if k == "properties" && !at.ends_with("/properties") {
                    for (name, p) in child.as_object().into_iter().flatten() {
                        if p.get("description")
                            .and_then(Value::as_str)
                            .is_none_or(str::is_empty)
                        {
                            undescribed.push(format!("{here}/{name}"));
                        }
                    }
                }
                if k == "format" {
                    if let Some(f) = child.as_str() {
                        if !schema::STANDARD_FORMATS.contains(&f) {
                            odd.push(format!("{here}: {f}"));
                        }
                    }
                }
                walk(child, &here, undescribed, odd);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, &format!("{at}/{i}"), undescribed, odd);
            }
        }
        _ => {}
    }
}

#[test]
fn the_rulebook_example_validates_and_loads() {
    let rb = rulebook_schema();
    let example = &rb["examples"][0];
    assert_eq!(example["version"], "2026.02-1");
    let errors = validate(&rb, example);
    assert!(errors.is_empty(), "{errors:#?}");
    let loaded = Rulebook::from_json_str(&example.to_string()).unwrap();
    assert_eq!(&serde_json::to_value(&loaded).unwrap(), example);
    // The validator is not vacuous: a rulebook without its version is refused.
    let mut bad = example.clone();
    bad.as_object_mut().unwrap().remove("version");
    assert!(!validate(&rb, &bad).is_empty());
    assert!(!validate(&rb, &json!({"version": 7})).is_empty());
}

#[test]
fn the_repository_example_rulebook_validates() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/rulebook.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let rb = Rulebook::from_toml_str(&text).unwrap();
    let json = serde_json::to_value(&rb).unwrap();
    let errors = validate(&rulebook_schema(), &json);
    assert!(errors.is_empty(), "{errors:#?}");
}
