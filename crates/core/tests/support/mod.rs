//! Shared helpers of the core integration tests: realistic fixtures and JSON Schema
//! validation with a spec-complete 2020-12 validator (`boon`, a dev-dependency).

#![allow(dead_code, unreachable_pub)]

pub mod fixtures;

use serde_json::Value;

/// Validates `instance` against a root `schema` (local `$ref`s resolved in it) with format
/// assertions on (`date-time`, `date`, …), after checking the schema itself against the
/// 2020-12 meta-schema. Returns the errors, empty when valid; a schema that does not compile
/// is an error too.
pub fn validate(root: &Value, instance: &Value) -> Vec<String> {
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V2020_12);
    compiler.enable_format_assertions();
    let loc = "urn:marketsync:test-schema";
    if let Err(e) = compiler.add_resource(loc, root.clone()) {
        return vec![format!("schema not loadable: {e:#}")];
    }
    let index = match compiler.compile(loc, &mut schemas) {
        Ok(i) => i,
        Err(e) => return vec![format!("schema does not compile: {e:#}")],
    };
    match schemas.validate(instance, index) {
        Ok(()) => Vec::new(),
        Err(e) => vec![format!("{e:#}")],
    }
}
