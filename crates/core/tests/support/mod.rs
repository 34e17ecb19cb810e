//! Shared helpers of the core integration tests: realistic fixtures and a small JSON Schema
//! checker (enough of 2020-12 for the exported schemas, so no validator dependency is needed).

#![allow(dead_code, unreachable_pub)]

pub mod fixtures;

use chrono::{DateTime, NaiveDate};
use serde_json::Value;

/// Validates `instance` against a root `schema` (local `$ref`s resolved in `root`). Supports
/// boolean schemas, `$ref`, `type`, `enum`, `const`, `properties`, `required`,
/// `additionalProperties`, `items`, `oneOf`, `anyOf`, `allOf`, `minimum`, `maximum`, the
/// `date-time` / `date` formats and the simple anchored patterns the model uses. Returns the
/// errors, empty when valid.
pub fn validate(root: &Value, instance: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(root, root, instance, "", &mut errors);
    errors
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        _ => false,
    }
}

fn check(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let s = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => {
            errors.push(format!("{at}: schema `false` rejects every value"));
            return;
        }
        Value::Object(s) => s,
        _ => {
            errors.push(format!("{at}: schema is not an object"));
            return;
        }
    };
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        match r.strip_prefix('#').and_then(|p| {
            if p.is_empty() {
                Some(root)
            } else {
                root.pointer(p)
            }
        }) {
            Some(target) => check(root, target, v, at, errors),
            None => errors.push(format!("{at}: unresolvable $ref {r}")),
        }
    }
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_matches(t, v),
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(t, v)),
            _ => true,
        };
        if !ok {
            errors.push(format!("{at}: {v} is not of type {t}"));
        }
    }
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        if !values.contains(v) {
            errors.push(format!("{at}: {v} not in enum"));
        }
    }
    if let Some(c) = s.get("const") {
        if c != v {
            errors.push(format!("{at}: {v} is not const {c}"));
        }
    }
    if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if n < min {
            errors.push(format!("{at}: {n} < minimum {min}"));
        }
    }
    if let (Some(max), Some(n)) = (s.get("maximum").and_then(Value::as_f64), v.as_f64()) {
        if n > max {
            errors.push(format!("{at}: {n} > maximum {max}"));
        }
    }
    if let Some(text) = v.as_str() {
        match s.get("format").and_then(Value::as_str) {
            Some("date-time") if DateTime::parse_from_rfc3339(text).is_err() => {
                errors.push(format!("{at}: {text:?} is not a date-time"))
            }
            Some("date") if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_err() => {
                errors.push(format!("{at}: {text:?} is not a date"))
            }
            _ => {}
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            if let Some(false) = simple_pattern(p, text) {
                errors.push(format!("{at}: {text:?} does not match {p}"));
            }
        }
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(req) = s.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    errors.push(format!("{at}: missing required property {r:?}"));
                }
            }
        }
        for (k, val) in obj {
            let path = format!("{at}/{k}");
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check(root, ps, val, &path, errors),
                None => {
                    if let Some(ap) = s.get("additionalProperties") {
                        check(root, ap, val, &path, errors);
                    }
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check(root, items, item, &format!("{at}/{i}"), errors);
        }
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            check(root, sub, v, at, errors);
        }
    }
    let passes = |sub: &Value| {
        let mut e = Vec::new();
        check(root, sub, v, at, &mut e);
        e.is_empty()
    };
    if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
        if !any.iter().any(passes) {
            errors.push(format!("{at}: {v} matches no anyOf variant"));
        }
    }
    if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
        let n = one.iter().filter(|sub| passes(sub)).count();
        if n != 1 {
            errors.push(format!(
                "{at}: {v} matches {n} oneOf variants (expected exactly 1)"
            ));
        }
    }
}

/// Evaluates the handful of anchored patterns the model uses; `None` for any other pattern.
fn simple_pattern(pattern: &str, text: &str) -> Option<bool> {
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match pattern {
        "^[A-Z]{3}$" => Some(text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase())),
        "^-?[0-9]+(\\.[0-9]+)?$" => {
            let t = text.strip_prefix('-').unwrap_or(text);
            let (int, frac) = match t.split_once('.') {
                Some((i, f)) => (i, Some(f)),
                None => (t, None),
            };
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            Some(digits(int) && frac.is_none_or(digits))
        }
        "^msk1-[0-9a-f]{40}$" => Some(text.strip_prefix("msk1-").is_some_and(|h| hex(h, 40))),
        "^sha256:[0-9a-f]{64}$" => Some(text.strip_prefix("sha256:").is_some_and(|h| hex(h, 64))),
        _ => None,
    }
}
