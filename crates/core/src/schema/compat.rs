//! Compatibility check between two versions of a JSON Schema (or of a whole schema set).
//!
//! The question answered is the partner's: *does every document valid under the old schema
//! stay valid under the new one, and does every property a consumer read still exist?*
//!
//! | change | classification |
//! |---|---|
//! | property removed | breaking |
//! | new property that is required, or an existing property becoming required | breaking |
//! | type set shrank (`["string","null"]` → `"string"`), constraint added or tightened (`pattern`, `format`, `minimum`…) | breaking |
//! | enum value removed, `const` changed, `oneOf`/`anyOf` variant removed | breaking |
//! | `$defs` entry removed while it was referenced; a whole schema removed from a set | breaking |
//! | `additionalProperties` closed, a new `allOf` member, an unrecognised keyword changed | breaking |
//! | new optional property, type widened, enum value or variant added, new `$defs` entry, property becoming optional, constraint loosened | additive |
//! | `description`, `title`, `default`, `examples`, `$comment`, `$id`, `$schema`, `x-*` | ignored |
//!
//! A fixed-width number `format` (`uint32`, `int64`, `double`: Rust names, not JSON Schema
//! formats) is read as the `minimum` / `maximum` it stands for before comparing (see
//! [`super::format_bounds`]), so `uint32` → `uint64` is a loosened `maximum` (additive) and a
//! schema that replaced `"format": "uint64"` by its bounds has not changed.
//!
//! `$ref`s are followed: each `$defs` entry is compared once under `/$defs/<Name>`, and where a
//! reference now points elsewhere (or a reference was replaced by an inline schema) the two
//! targets are compared structurally at that place. `oneOf`/`anyOf` variants are matched by
//! content, not position: by their `$ref`, their `const`, the `const` of their tag property
//! (`{"type": {"const": "fee"}}` → `type=fee`), the key of an externally tagged variant, or
//! their `type`; so reordering variants is no change, and a schema that becomes nullable
//! (`X` → `anyOf[X, null]`) is additive.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Map, Value};

use super::SchemaSet;

/// Whether a change can break a partner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// Everything valid before stays valid, and nothing a consumer read disappeared.
    Additive,
    /// Some document valid before is now invalid, or something a consumer read is gone.
    Breaking,
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Classification::Additive => "additive",
            Classification::Breaking => "breaking",
        })
    }
}

/// One difference between two schemas.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Change {
    /// Where: a JSON pointer into the schema (`/properties/lines/items`, `/$defs/Money/…`),
    /// with `oneOf`/`anyOf` variants named by their match key (`/oneOf/const:refunded`). In
    /// [`compare_sets`] the pointer is prefixed by the schema name (`Order#/properties/id`).
    pub path: String,
    /// What changed, in words.
    pub description: String,
    /// Additive or breaking.
    pub classification: Classification,
}

impl Change {
    fn new(path: &str, classification: Classification, description: impl Into<String>) -> Change {
        Change {
            path: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
            description: description.into(),
            classification,
        }
    }

    /// True for a breaking change.
    pub fn is_breaking(&self) -> bool {
        self.classification == Classification::Breaking
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {}: {}",
            self.classification, self.path, self.description
        )
    }
}

use Classification::{Additive, Breaking};

/// Compares two versions of one schema document. An empty result means no semantic change
/// (descriptions and other annotations are ignored). Changes are sorted by path.
pub fn compare(old: &Value, new: &Value) -> Vec<Change> {
    // A fixed-width number format (`uint32`) means the bounds it stands for, so a schema that
    // spells them out instead (as the export does since 2.0.0) is compared as the same thing.
    let mut old = old.clone();
    let mut new = new.clone();
    super::integer_formats_to_bounds(&mut old);
    super::integer_formats_to_bounds(&mut new);
    let (old, new) = (&old, &new);
    let mut cmp = Comparer {
        old_root: old,
        new_root: new,
        out: Vec::new(),
        seen: BTreeSet::new(),
    };
    cmp.node(old, new, "");
    cmp.defs();
    let mut out = cmp.out;
    out.sort();
    out.dedup();
    out
}

/// Compares two schema sets keyed by schema (type) name. A schema removed from the set is
/// breaking, a new one additive; the others are [`compare`]d, their paths prefixed by the name
/// (`Order#/properties/id`).
pub fn compare_sets(old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>) -> Vec<Change> {
    let mut out = Vec::new();
    for (name, old_schema) in old {
        match new.get(name) {
            None => out.push(Change {
                path: format!("{name}#"),
                description: format!("schema `{name}` removed"),
                classification: Breaking,
            }),
            Some(new_schema) => {
                for c in compare(old_schema, new_schema) {
                    out.push(Change {
                        path: format!("{name}#{}", c.path),
                        ..c
                    });
                }
            }
        }
    }
    for name in new.keys().filter(|n| !old.contains_key(*n)) {
        out.push(Change {
            path: format!("{name}#"),
            description: format!("schema `{name}` added"),
            classification: Additive,
        });
    }
    out
}

/// Keywords that do not affect which documents validate.
fn is_annotation(keyword: &str) -> bool {
    matches!(
        keyword,
        "description"
            | "title"
            | "default"
            | "examples"
            | "$comment"
            | "$id"
            | "$schema"
            | "$anchor"
            | "deprecated"
            | "readOnly"
            | "writeOnly"
    ) || keyword.starts_with("x-")
}

/// Keywords [`Comparer::keywords`] analyses itself.
const HANDLED: &[&str] = &[
    "$ref",
    "$defs",
    "definitions",
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "oneOf",
    "anyOf",
    "allOf",
    "pattern",
    "format",
    "minimum",
    "exclusiveMinimum",
    "minLength",
    "minItems",
    "minProperties",
    "maximum",
    "exclusiveMaximum",
    "maxLength",
    "maxItems",
    "maxProperties",
];

const LOWER_BOUNDS: &[&str] = &[
    "minimum",
    "exclusiveMinimum",
    "minLength",
    "minItems",
    "minProperties",
];
const UPPER_BOUNDS: &[&str] = &[
    "maximum",
    "exclusiveMaximum",
    "maxLength",
    "maxItems",
    "maxProperties",
];

static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

struct Comparer<'a> {
    old_root: &'a Value,
    new_root: &'a Value,
    out: Vec<Change>,
    /// Pairs of reference targets already compared structurally (cycle guard).
    seen: BTreeSet<(String, String)>,
}

/// The last segment of a local reference (`#/$defs/Money` → `Money`), or the reference.
fn ref_name(r: &str) -> &str {
    r.rsplit('/').next().unwrap_or(r)
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// The type set of a schema; `None` when it does not constrain the type.
fn types(schema: &Map<String, Value>) -> Option<BTreeSet<String>> {
    match schema.get("type")? {
        Value::String(t) => Some(BTreeSet::from([t.clone()])),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

fn type_list(ts: &BTreeSet<String>) -> String {
    let v: Vec<&str> = ts.iter().map(String::as_str).collect();
    format!("[{}]", v.join(", "))
}

/// A type is covered by a set when it is in it, or is `integer` and the set has `number`.
fn covered(t: &str, set: &BTreeSet<String>) -> bool {
    set.contains(t) || (t == "integer" && set.contains("number"))
}

fn required(schema: &Map<String, Value>) -> BTreeSet<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Strips annotations, for content keys of variants that have nothing better to match on.
fn strip_annotations(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !is_annotation(k))
                .map(|(k, v)| (k.clone(), strip_annotations(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_annotations).collect()),
        other => other.clone(),
    }
}

/// The content key a union variant is matched by (see the module docs).
fn variant_key(variant: &Value) -> String {
    let Some(m) = variant.as_object() else {
        return format!("schema:{variant}");
    };
    if let Some(r) = m.get("$ref").and_then(Value::as_str) {
        return format!("ref:{}", ref_name(r));
    }
    if let Some(c) = m.get("const") {
        return match c {
            Value::String(s) => format!("const:{s}"),
            other => format!("const:{other}"),
        };
    }
    if let Some(props) = m.get("properties").and_then(Value::as_object) {
        let tags: Vec<String> = props
            .iter()
            .filter_map(|(k, p)| {
                p.get("const").map(|c| match c {
                    Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
            })
            .collect();
        if !tags.is_empty() {
            return tags.join(",");
        }
    }
    if m.contains_key("enum") {
        return "enum".into();
    }
    let req = required(m);
    if !req.is_empty() {
        let r: Vec<&str> = req.iter().map(String::as_str).collect();
        return format!("required:{}", r.join(","));
    }
    if let Some(ts) = types(m) {
        let t: Vec<&str> = ts.iter().map(String::as_str).collect();
        return format!("type:{}", t.join(","));
    }
    format!("schema:{}", super::canonical(&strip_annotations(variant)))
}

/// Variants keyed by content; duplicate keys get a `#n` suffix in order of appearance.
fn keyed(variants: &[Value]) -> BTreeMap<String, &Value> {
    let mut out = BTreeMap::new();
    for v in variants {
        let base = variant_key(v);
        let mut key = base.clone();
        let mut n = 2;
        while out.contains_key(&key) {
            key = format!("{base}#{n}");
            n += 1;
        }
        out.insert(key, v);
    }
    out
}

fn describe_variant(key: &str) -> String {
    match key.strip_prefix("const:") {
        Some(value) => format!("enum value {value:?}"),
        None => format!("variant `{key}`"),
    }
}

/// The union keyword of a schema and its variants.
fn union(m: &Map<String, Value>) -> Option<(&'static str, &Vec<Value>)> {
    if let Some(v) = m.get("oneOf").and_then(Value::as_array) {
        return Some(("oneOf", v));
    }
    m.get("anyOf")
        .and_then(Value::as_array)
        .map(|v| ("anyOf", v))
}

fn is_any(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Object(m) => m.keys().all(|k| is_annotation(k)),
        _ => false,
    }
}

impl<'a> Comparer<'a> {
    fn push(&mut self, path: &str, classification: Classification, description: String) {
        self.out
            .push(Change::new(path, classification, description));
    }

    fn resolve<'v>(root: &'v Value, reference: &str) -> Option<&'v Value> {
        let pointer = reference.strip_prefix('#')?;
        if pointer.is_empty() {
            return Some(root);
        }
        root.pointer(pointer)
    }

    fn node(&mut self, old: &Value, new: &Value, path: &str) {
        if old == new {
            return;
        }
        // Boolean schemas and "anything" schemas.
        match (old, new) {
            (Value::Bool(false), _) => {
                self.push(path, Additive, "schema accepts values (was `false`)".into());
                return;
            }
            (_, Value::Bool(false)) => {
                self.push(
                    path,
                    Breaking,
                    "schema rejects every value (now `false`)".into(),
                );
                return;
            }
            _ => {}
        }
        match (is_any(old), is_any(new)) {
            (true, true) => return,
            (true, false) => {
                self.push(
                    path,
                    Breaking,
                    "schema constrained (accepted any value)".into(),
                );
                return;
            }
            (false, true) => {
                self.push(
                    path,
                    Additive,
                    "constraints removed (accepts any value)".into(),
                );
                return;
            }
            (false, false) => {}
        }
        let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
            self.push(path, Breaking, "schema is not an object".into());
            return;
        };

        // Unions: match variants by content. A side without a union is one variant.
        let ou = union(o);
        let nu = union(n);
        match (ou, nu) {
            (None, None) => {
                // References: same target → compared once under $defs; otherwise follow both.
                let o_ref = o.get("$ref").and_then(Value::as_str);
                let n_ref = n.get("$ref").and_then(Value::as_str);
                if o_ref != n_ref {
                    self.follow(old, new, o_ref, n_ref, path);
                } else {
                    self.keywords(o, n, path);
                }
            }
            (Some((kw, ov)), Some((_, nv))) => {
                self.variants(ov, nv, &format!("{path}/{kw}"));
                self.keywords(o, n, path);
            }
            (Some((kw, ov)), None) => {
                self.variants(ov, std::slice::from_ref(new), &format!("{path}/{kw}"));
            }
            (None, Some((kw, nv))) => {
                self.variants(std::slice::from_ref(old), nv, &format!("{path}/{kw}"));
            }
        }
    }

    fn follow(
        &mut self,
        old: &Value,
        new: &Value,
        o_ref: Option<&str>,
        n_ref: Option<&str>,
        path: &str,
    ) {
        let o_target = match o_ref {
            Some(r) => Self::resolve(self.old_root, r),
            None => Some(old),
        };
        let n_target = match n_ref {
            Some(r) => Self::resolve(self.new_root, r),
            None => Some(new),
        };
        match (o_target, n_target) {
            (Some(ot), Some(nt)) => {
                let key = (
                    o_ref.map_or_else(|| format!("inline:{path}"), str::to_owned),
                    n_ref.map_or_else(|| format!("inline:{path}"), str::to_owned),
                );
                if self.seen.insert(key) {
                    self.node(ot, nt, &format!("{path}/$ref"));
                }
            }
            _ => self.push(
                path,
                Breaking,
                format!(
                    "reference changed from {} to {} (not resolvable here)",
                    o_ref.unwrap_or("an inline schema"),
                    n_ref.unwrap_or("an inline schema"),
                ),
            ),
        }
    }

    fn variants(&mut self, old: &[Value], new: &[Value], path: &str) {
        let ok = keyed(old);
        let nk = keyed(new);
        for (key, ov) in &ok {
            match nk.get(key) {
                Some(nv) => self.node(ov, nv, &format!("{path}/{key}")),
                None => self.push(path, Breaking, format!("{} removed", describe_variant(key))),
            }
        }
        for key in nk.keys().filter(|k| !ok.contains_key(*k)) {
            self.push(path, Additive, format!("{} added", describe_variant(key)));
        }
    }

    fn keywords(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, path: &str) {
        self.types(o, n, path);
        self.enum_and_const(o, n, path);
        self.properties(o, n, path);
        self.additional(o, n, path);
        self.items(o, n, path);
        self.all_of(o, n, path);
        self.bounds(o, n, path);
        self.pattern_and_format(o, n, path);
        // Anything else: a change we cannot reason about is treated as breaking.
        let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
        for k in keys {
            if is_annotation(k) || HANDLED.contains(&k.as_str()) {
                continue;
            }
            if o.get(k) != n.get(k) {
                self.push(
                    &format!("{path}/{k}"),
                    Breaking,
                    format!("keyword `{k}` changed (not analysed, assumed breaking)"),
                );
            }
        }
    }

    fn types(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, path: &str) {
        let p = format!("{path}/type");
        match (types(o), types(n)) {
            (None, None) => {}
            (None, Some(nt)) => self.push(
                &p,
                Breaking,
                format!("type constrained to {}", type_list(&nt)),
            ),
            (Some(ot), None) => self.push(
                &p,
                Additive,
                format!("type constraint {} removed", type_list(&ot)),
            ),
            (Some(ot), Some(nt)) => {
                let removed: BTreeSet<String> =
                    ot.iter().filter(|t| !covered(t, &nt)).cloned().collect();
                let added: BTreeSet<String> =
                    nt.iter().filter(|t| !covered(t, &ot)).cloned().collect();
                if !removed.is_empty() {
                    self.push(
                        &p,
                        Breaking,
                        format!(
                            "type narrowed from {} to {} ({} no longer allowed)",
                            type_list(&ot),
                            type_list(&nt),
                            type_list(&removed)
                        ),
                    );
                }
                if !added.is_empty() {
                    self.push(
                        &p,
                        Additive,
                        format!("type widened from {} to {}", type_list(&ot), type_list(&nt)),
                    );
                }
            }
        }
    }

    fn enum_and_const(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, path: &str) {
        let p = format!("{path}/enum");
        match (
            o.get("enum").and_then(Value::as_array),
            n.get("enum").and_then(Value::as_array),
        ) {
            (None, None) => {}
            (None, Some(_)) => self.push(&p, Breaking, "enum constraint added".into()),
            (Some(_), None) => self.push(&p, Additive, "enum constraint removed".into()),
            (Some(ov), Some(nv)) => {
                for v in ov.iter().filter(|v| !nv.contains(v)) {
                    self.push(&p, Breaking, format!("enum value {} removed", short(v)));
                }
                for v in nv.iter().filter(|v| !ov.contains(v)) {
                    self.push(&p, Additive, format!("enum value {} added", short(v)));
                }
            }
        }
        let p = format!("{path}/const");
        match (o.get("const"), n.get("const")) {
            (None, None) => {}
            (None, Some(c)) => self.push(&p, Breaking, format!("const {} added", short(c))),
            (Some(c), None) => self.push(&p, Additive, format!("const {} removed", short(c))),
            (Some(a), Some(b)) if a != b => self.push(
                &p,
                Breaking,
                format!("const changed from {} to {}", short(a), short(b)),
            ),
            _ => {}
        }
    }

    fn properties(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, path: &str) {
        let op = o
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&*EMPTY);
        let np = n
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&*EMPTY);
        let oreq = required(o);
        let nreq = required(n);
        for (name, os) in op {
            let p = format!("{path}/properties/{name}");
            match np.get(name) {
                None => self.push(&p, Breaking, format!("property `{name}` removed")),
                Some(ns) => self.node(os, ns, &p),
            }
        }
        for name in np.keys().filter(|k| !op.contains_key(*k)) {
            let p = format!("{path}/properties/{name}");
            if nreq.contains(name) {
                self.push(&p, Breaking, format!("new required property `{name}`"));
            } else {
                self.push(&p, Additive, format!("new optional property `{name}`"));
            }
        }
        let p = format!("{path}/required");
        for name in nreq.difference(&oreq) {
            // New properties were reported above.
            if op.contains_key(name) || !np.contains_key(name) {
                self.push(&p, Breaking, format!("property `{name}` became required"));
            }
        }
        for name in oreq.difference(&nreq) {
            if np.contains_key(name) {
                self.push(&p, Additive, format!("property `{name}` became optional"));
            }
        }
    }

    fn additional(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, path: &str) {
        let p = format!("{path}/additionalProperties");
        match (o.get("additionalProperties"), n.get("additionalProperties")) {
            (None, None) => {}
            (Some(a), Some(b)) => self.node(a, b, &p),
            (None, Some(b)) if !is_any(b) => self.push(
                &p,
                Breaking,
                "additional properties restricted (were allowed)".into(),
            ),
            (Some(a), None) if !is_any(a) => self.push(
                &p,
                Additive,
                "additional properties allowed (were restricted)".into(),
            ),
            _ => {}
        }
    }

    fn items(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, path: &str) {
        let p = format!("{path}/items");
        match (o.get("items"), n.get("items")) {
            (None, None) => {}
            (Some(a), Some(b)) => self.node(a, b, &p),
            (None, Some(b)) if !is_any(b) => {
                self.push(&p, Breaking, "array items constrained".into())
            }
            (Some(a), None) if !is_any(a) => {
                self.push(&p, Additive, "array item constraint removed".into())
            }
            _ => {}
        }
        let empty = Vec::new();
        let oi = o
            .get("prefixItems")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        let ni = n
            .get("prefixItems")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        for (i, (a, b)) in oi.iter().zip(ni.iter()).enumerate() {
            self.node(a, b, &format!("{path}/prefixItems/{i}"));
        }
        if ni.len() > oi.len() {
            self.push(
                &format!("{path}/prefixItems"),
                Breaking,
                "tuple positions constrained".into(),
            );
        } else if ni.len() < oi.len() {
            self.push(
                &format!("{path}/prefixItems"),
                Additive,
                "tuple positions unconstrained".into(),
            );
        }
    }

    fn all_of(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, path: &str) {
        let empty = Vec::new();
        let oa = o.get("allOf").and_then(Value::as_array).unwrap_or(&empty);
        let na = n.get("allOf").and_then(Value::as_array).unwrap_or(&empty);
        if oa == na {
            return;
        }
        let p = format!("{path}/allOf");
        let ok = keyed(oa);
        let nk = keyed(na);
        for (key, ov) in &ok {
            match nk.get(key) {
                Some(nv) => self.node(ov, nv, &format!("{p}/{key}")),
                None => self.push(&p, Additive, format!("allOf member `{key}` removed")),
            }
        }
        for key in nk.keys().filter(|k| !ok.contains_key(*k)) {
            self.push(&p, Breaking, format!("allOf member `{key}` added"));
        }
    }

    fn bounds(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, path: &str) {
        for (keys, lower) in [(LOWER_BOUNDS, true), (UPPER_BOUNDS, false)] {
            for k in keys {
                let p = format!("{path}/{k}");
                match (
                    o.get(*k).and_then(Value::as_f64),
                    n.get(*k).and_then(Value::as_f64),
                ) {
                    (None, None) => {}
                    (None, Some(b)) => self.push(&p, Breaking, format!("`{k}` {b} added")),
                    (Some(a), None) => self.push(&p, Additive, format!("`{k}` {a} removed")),
                    (Some(a), Some(b)) => {
                        let tighter = if lower { b > a } else { b < a };
                        if a != b {
                            let (class, verb) = if tighter {
                                (Breaking, "tightened")
                            } else {
                                (Additive, "loosened")
                            };
                            self.push(&p, class, format!("`{k}` {verb} from {a} to {b}"));
                        }
                    }
                }
            }
        }
    }

    fn pattern_and_format(&mut self, o: &Map<String, Value>, n: &Map<String, Value>, path: &str) {
        for k in ["pattern", "format"] {
            let p = format!("{path}/{k}");
            match (
                o.get(k).and_then(Value::as_str),
                n.get(k).and_then(Value::as_str),
            ) {
                (None, None) => {}
                (None, Some(b)) => self.push(&p, Breaking, format!("`{k}` {b:?} added")),
                (Some(a), None) => self.push(&p, Additive, format!("`{k}` {a:?} removed")),
                (Some(a), Some(b)) if a != b => {
                    self.push(&p, Breaking, format!("`{k}` changed from {a:?} to {b:?}"))
                }
                _ => {}
            }
        }
    }

    /// Compares `$defs` (and legacy `definitions`) entries by name.
    fn defs(&mut self) {
        for kw in ["$defs", "definitions"] {
            let od = self
                .old_root
                .get(kw)
                .and_then(Value::as_object)
                .unwrap_or(&*EMPTY);
            let nd = self
                .new_root
                .get(kw)
                .and_then(Value::as_object)
                .unwrap_or(&*EMPTY);
            for (name, os) in od {
                let p = format!("/{kw}/{name}");
                match nd.get(name) {
                    Some(ns) => self.node(os, ns, &p),
                    None => {
                        let target = format!("#/{kw}/{name}");
                        if references(self.old_root, &target) {
                            self.push(
                                &p,
                                Breaking,
                                format!("definition `{name}` removed while it was referenced"),
                            );
                        } else {
                            self.push(&p, Additive, format!("unused definition `{name}` removed"));
                        }
                    }
                }
            }
            for name in nd.keys().filter(|k| !od.contains_key(*k)) {
                self.push(
                    &format!("/{kw}/{name}"),
                    Additive,
                    format!("definition `{name}` added"),
                );
            }
        }
    }
}

/// True when some `$ref` in `value` points at `target`.
fn references(value: &Value, target: &str) -> bool {
    match value {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| (k == "$ref" && v.as_str() == Some(target)) || references(v, target)),
        Value::Array(a) => a.iter().any(|v| references(v, target)),
        _ => false,
    }
}

/// A `MAJOR.MINOR.PATCH` version (pre-release and build suffixes are ignored for the policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Raised on a breaking change.
    pub major: u64,
    /// Raised on an additive change.
    pub minor: u64,
    /// Raised on a change partners cannot observe (descriptions).
    pub patch: u64,
}

impl Version {
    /// Parses `MAJOR.MINOR.PATCH[-pre][+build]`.
    pub fn parse(s: &str) -> Option<Version> {
        let core = s.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Why a schema change is refused by [`check_policy`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// A version is not `MAJOR.MINOR.PATCH`.
    InvalidVersion(String),
    /// The current version is lower than the committed one.
    VersionDecreased {
        /// The committed version.
        committed: String,
        /// The current version.
        current: String,
    },
    /// Breaking changes without a major raise.
    BreakingWithoutMajor {
        /// The committed version.
        committed: String,
        /// The current version.
        current: String,
        /// The breaking changes.
        changes: Vec<Change>,
    },
    /// Additive changes without at least a minor raise.
    AdditiveWithoutMinor {
        /// The committed version.
        committed: String,
        /// The current version.
        current: String,
        /// The additive changes.
        changes: Vec<Change>,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, changes: &[Change]| -> fmt::Result {
            for c in changes {
                write!(f, "\n  - {c}")?;
            }
            Ok(())
        };
        match self {
            PolicyError::InvalidVersion(v) => {
                write!(f, "schema version {v:?} is not MAJOR.MINOR.PATCH")
            }
            PolicyError::VersionDecreased { committed, current } => write!(
                f,
                "SCHEMA_VERSION {current} is lower than the committed schema version {committed}"
            ),
            PolicyError::BreakingWithoutMajor {
                committed,
                current,
                changes,
            } => {
                write!(
                    f,
                    "{} breaking schema change(s) since the committed schemas {committed}, but \
                     SCHEMA_VERSION is {current}: raise its major version (or undo the change):",
                    changes.len()
                )?;
                list(f, changes)
            }
            PolicyError::AdditiveWithoutMinor {
                committed,
                current,
                changes,
            } => {
                write!(
                    f,
                    "{} additive schema change(s) since the committed schemas {committed}, but \
                     SCHEMA_VERSION is {current}: raise at least its minor version:",
                    changes.len()
                )?;
                list(f, changes)
            }
        }
    }
}

impl std::error::Error for PolicyError {}

/// The versioning policy between the committed schemas and the current ones: breaking changes
/// need a higher major version, additive changes at least a higher minor (or major) version,
/// and the version never goes down. Returns every change found when the policy holds.
pub fn check_policy(
    committed: &SchemaSet,
    current: &SchemaSet,
) -> Result<Vec<Change>, PolicyError> {
    let old = Version::parse(&committed.version)
        .ok_or_else(|| PolicyError::InvalidVersion(committed.version.clone()))?;
    let new = Version::parse(&current.version)
        .ok_or_else(|| PolicyError::InvalidVersion(current.version.clone()))?;
    if new < old {
        return Err(PolicyError::VersionDecreased {
            committed: committed.version.clone(),
            current: current.version.clone(),
        });
    }
    let changes = compare_sets(&committed.schemas, &current.schemas);
    let breaking: Vec<Change> = changes
        .iter()
        .filter(|c| c.is_breaking())
        .cloned()
        .collect();
    if !breaking.is_empty() && new.major <= old.major {
        return Err(PolicyError::BreakingWithoutMajor {
            committed: committed.version.clone(),
            current: current.version.clone(),
            changes: breaking,
        });
    }
    if !changes.is_empty() && (new.major, new.minor) <= (old.major, old.minor) {
        return Err(PolicyError::AdditiveWithoutMinor {
            committed: committed.version.clone(),
            current: current.version.clone(),
            changes,
        });
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(changes: &[Change]) -> Vec<(String, Classification)> {
        changes
            .iter()
            .map(|c| (c.path.clone(), c.classification))
            .collect()
    }

    #[test]
    fn identical_and_description_only_changes_are_no_change() {
        let a =
            json!({"type": "object", "description": "a", "properties": {"x": {"type": "string"}}});
        let b = json!({"type": "object", "description": "b", "properties": {"x": {"type": "string", "description": "x"}}});
        assert!(compare(&a, &b).is_empty());
    }

    #[test]
    fn nullable_ref_is_additive_and_back_is_breaking() {
        let a =
            json!({"properties": {"m": {"$ref": "#/$defs/M"}}, "$defs": {"M": {"type": "string"}}});
        let b = json!({"properties": {"m": {"anyOf": [{"$ref": "#/$defs/M"}, {"type": "null"}]}}, "$defs": {"M": {"type": "string"}}});
        let up = compare(&a, &b);
        assert_eq!(kinds(&up), vec![("/properties/m/anyOf".into(), Additive)]);
        let down = compare(&b, &a);
        assert_eq!(kinds(&down), vec![("/properties/m/anyOf".into(), Breaking)]);
    }

    #[test]
    fn variants_match_by_tag_not_position() {
        let a = json!({"oneOf": [
            {"properties": {"type": {"const": "a"}}, "required": ["type"]},
            {"properties": {"type": {"const": "b"}, "x": {"type": "string"}}, "required": ["type"]}
        ]});
        let b = json!({"oneOf": [
            {"properties": {"type": {"const": "b"}, "x": {"type": "string"}}, "required": ["type"]},
            {"properties": {"type": {"const": "a"}}, "required": ["type"]}
        ]});
        assert!(compare(&a, &b).is_empty());
        let c = json!({"oneOf": [
            {"properties": {"type": {"const": "b"}, "x": {"type": "integer"}}, "required": ["type"]}
        ]});
        let changes = compare(&a, &c);
        assert_eq!(
            kinds(&changes),
            vec![
                ("/oneOf".into(), Breaking),
                ("/oneOf/type=b/properties/x/type".into(), Breaking),
                ("/oneOf/type=b/properties/x/type".into(), Additive),
            ]
        );
    }

    #[test]
    fn integer_widens_to_number_and_formats_widen() {
        let a = json!({"type": "integer", "format": "uint32", "minimum": 0});
        let b = json!({"type": "number", "format": "uint64", "minimum": 0});
        let changes = compare(&a, &b);
        assert!(changes.iter().all(|c| !c.is_breaking()), "{changes:?}");
        assert!(compare(&b, &a).iter().any(Change::is_breaking));
    }

    #[test]
    fn a_format_and_its_bounds_are_the_same_schema() {
        let a = json!({"type": "integer", "format": "uint32", "minimum": 0});
        let b = json!({"type": "integer", "minimum": 0, "maximum": 4294967295u64});
        assert!(compare(&a, &b).is_empty());
        assert!(compare(&b, &a).is_empty());
        // Narrower than the format was is still breaking.
        let c = json!({"type": "integer", "minimum": 0, "maximum": 65535});
        let changes = compare(&a, &c);
        assert_eq!(kinds(&changes), vec![("/maximum".into(), Breaking)]);
        // Standard formats are compared as before.
        let d = json!({"type": "string", "format": "date"});
        let e = json!({"type": "string", "format": "date-time"});
        assert!(compare(&d, &e).iter().any(Change::is_breaking));
    }

    #[test]
    fn recursive_refs_terminate() {
        let a = json!({"$ref": "#/$defs/A", "$defs": {"A": {"properties": {"next": {"$ref": "#/$defs/A"}}}}});
        let b = json!({"$ref": "#/$defs/B", "$defs": {"B": {"properties": {"next": {"$ref": "#/$defs/B"}}}}});
        let changes = compare(&a, &b);
        assert!(
            changes
                .iter()
                .any(|c| c.path == "/$defs/A" && c.is_breaking())
        );
    }

    #[test]
    fn versions_parse() {
        assert_eq!(
            Version::parse("1.2.3-rc.1"),
            Some(Version {
                major: 1,
                minor: 2,
                patch: 3
            })
        );
        assert_eq!(Version::parse("1.2"), None);
        assert_eq!(Version::parse("1.2.3.4"), None);
    }
}
