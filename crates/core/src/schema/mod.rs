//! JSON Schema export of the canonical model, for partner teams.
//!
//! [`export`] returns one [JSON Schema 2020-12](https://json-schema.org/draft/2020-12/schema)
//! document per type a partner exchanges with marketsync, keyed by type name. Each document
//! is self-contained (nested types live under `$defs`, with readable names such as
//! `PiiBuyer`), and carries:
//!
//! * `$schema` (the 2020-12 dialect), the type name as `title`, and a stable `$id` that names
//!   the **major** version only: `https://marketsync.dev/schemas/v2/Order.schema.json` (see
//!   [`schema_id`]), so an additive release does not rename any schema;
//! * the full version beside it, in `index.json` (`schema_version`) and in the schema's
//!   `$comment` (`marketsync schema version 2.0.0. …`, see [`declared_version`]). No custom
//!   `x-` keyword is used: ajv, in its default strict mode, refuses unknown keywords;
//! * a description on every property, and only standard `format`s (`date-time`, `date`):
//!   fixed-width integers are bounded by `minimum` / `maximum` instead of the non-standard
//!   `uint64`-style formats that strict validators (ajv) refuse;
//! * an `examples` entry: a realistic document, exactly as marketsync serializes it.
//!
//! | schema | what it is |
//! |---|---|
//! | `Money` | an amount (a decimal **string**) and an ISO 4217 currency |
//! | `Order` | a marketplace order (buyer and ship-to as `PiiBuyer` / `PiiAddress`) |
//! | `Refund` | a refund with its lines and the goods return, if any |
//! | `Shipment` | a package shipped for an order |
//! | `InventoryPosition` / `InventoryUpdate` / `InventoryAck` | ERP stock, channel ATP updates and their acknowledgements |
//! | `Settlement` | a marketplace statement with typed lines and the payout |
//! | `JournalEntry` | a balanced journal posted to the ERP |
//! | `Envelope` | an event with provenance, its idempotency key and any payload |
//! | `OrderEnvelope`, `RefundEnvelope`, `ShipmentEnvelope`, `SettlementEnvelope`, `InventoryEnvelope`, `JournalEnvelope` | the envelope of one event kind, its `payload` typed |
//!
//! An envelope is serialized with its `kind` beside a `payload`. The typed envelope schemas
//! (`OrderEnvelope`: `kind` is `"order"`, `payload` an `Order`, …) validate both in one step;
//! the generic `Envelope` accepts any payload (for kinds defined out of tree); `index.json`
//! maps each built-in kind to its payload and envelope schemas (`envelopes`).
//! Every envelope carries `schema_version` (see [`SchemaVersion`]): always written, optional
//! on input.
//!
//! [`SchemaSet::write_dir`] writes the set as `<TypeName>.schema.json` files plus an
//! `index.json` manifest, pretty-printed with sorted keys and a trailing newline, so the output
//! is byte-for-byte deterministic and diffs well. Crates that own other published documents
//! add theirs with [`SchemaSet::insert`] and [`document_schema`] (the mapping crate adds the
//! `Rulebook`). The repository commits the complete set under `schemas/`; a test fails when it
//! is stale, and [`compat::check_policy`] refuses a change that breaks partners unless the
//! major version of [`SCHEMA_VERSION`] was raised (and an additive change unless at least the
//! minor was).
//!
//! ```
//! use marketsync_core::schema::{self, SchemaSet};
//!
//! let set = SchemaSet::current();
//! assert_eq!(set.version, schema::SCHEMA_VERSION);
//! let order = &set.schemas["Order"];
//! assert_eq!(order["$schema"], "https://json-schema.org/draft/2020-12/schema");
//! assert_eq!(order["$id"], "https://marketsync.dev/schemas/v2/Order.schema.json");
//! assert_eq!(schema::declared_version(order), Some(schema::SCHEMA_VERSION));
//! assert!(order["$defs"].get("PiiBuyer").is_some());
//! // Comparing a set with itself finds no change.
//! assert!(schema::compat::compare_sets(&set.schemas, &set.schemas).is_empty());
//! ```

pub mod compat;
mod examples;
mod version;

pub use version::{SCHEMA_VERSION_PATTERN, SchemaVersion, SchemaVersionError};

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// Version of the exported schemas (semver). Raise the major on a breaking change, the minor on
/// an additive one; [`compat::check_policy`] enforces it against the committed schemas. The
/// `$id`s name only the major.
pub const SCHEMA_VERSION: &str = "2.0.0";

/// The JSON Schema dialect of every exported schema.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Where the schemas' `$id`s live: `<ID_BASE>/v<MAJOR>/<TypeName>.schema.json`.
pub const ID_BASE: &str = "https://marketsync.dev/schemas";

/// The name of the manifest file written next to the schemas.
pub const INDEX_FILE: &str = "index.json";

/// How every exported schema's `$comment` starts: the full version it was exported at follows
/// (the `$id` names only the major). See [`version_comment`] and [`declared_version`].
pub const VERSION_COMMENT_PREFIX: &str = "marketsync schema version ";

/// The `$comment` of a schema exported at `version`.
pub fn version_comment(version: &str) -> String {
    format!(
        "{VERSION_COMMENT_PREFIX}{version}. The $id names the major version only; the versioning \
         rules are in the README.md beside index.json."
    )
}

/// The version an exported schema declares in its `$comment` (see [`version_comment`]).
pub fn declared_version(schema: &Value) -> Option<&str> {
    let rest = schema
        .get("$comment")?
        .as_str()?
        .strip_prefix(VERSION_COMMENT_PREFIX)?;
    rest.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .map(|v| v.trim_end_matches('.'))
        .filter(|v| !v.is_empty())
}

/// The `format`s an exported schema may use: the ones JSON Schema 2020-12 defines, which every
/// validator knows (ajv with `ajv-formats`, Python `jsonschema`, …).
pub const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// The major part of a `MAJOR.MINOR.PATCH` version (the text before the first `.`).
fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

/// The `$id` of a schema: `https://marketsync.dev/schemas/v<MAJOR>/<TypeName>.schema.json`.
/// Only the major of `version` is used, so the `$id` stays the same across additive releases.
///
/// ```
/// use marketsync_core::schema::schema_id;
/// assert_eq!(schema_id("2.3.1", "Order"), "https://marketsync.dev/schemas/v2/Order.schema.json");
/// assert_eq!(schema_id("2.3.1", "Order"), schema_id("2.0.0", "Order"));
/// ```
pub fn schema_id(version: &str, type_name: &str) -> String {
    format!("{ID_BASE}/v{}/{}", major(version), file_name(type_name))
}

/// The file a schema is written to: `<TypeName>.schema.json`.
pub fn file_name(type_name: &str) -> String {
    format!("{type_name}.schema.json")
}

/// The schema of `T` as a published document named `title`, in the form every exported schema
/// has: the 2020-12 dialect, the `$id` of `title` at [`SCHEMA_VERSION`], `title`,
/// [`version_comment`], readable `$defs` names, standard formats only (fixed-width integers
/// bounded instead), plain-text descriptions (also on the tag and value properties of enum
/// variants), and sorted keys. Crates publishing other documents (the mapping crate's
/// rulebook) use it so their schemas follow the same conventions; add an example with
/// [`with_examples`].
pub fn document_schema<T: JsonSchema>(title: &str) -> Value {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut value = schema.to_value();
    if let Value::Object(map) = &mut value {
        map.insert("$schema".into(), Value::String(DIALECT.into()));
        map.insert(
            "$id".into(),
            Value::String(schema_id(SCHEMA_VERSION, title)),
        );
        map.insert("title".into(), Value::String(title.into()));
        map.insert(
            "$comment".into(),
            Value::String(version_comment(SCHEMA_VERSION)),
        );
    }
    readable_def_names(&mut value);
    describe_pii_defs(&mut value);
    version_field_default(&mut value);
    integer_formats_to_bounds(&mut value);
    describe_variant_properties(&mut value);
    plain_descriptions(&mut value);
    canonical(&value)
}

/// `schema` with `examples` set (the annotation keyword of JSON Schema: documents that are
/// valid instances of the schema).
pub fn with_examples(mut schema: Value, examples: Vec<Value>) -> Value {
    if let Value::Object(map) = &mut schema {
        map.insert("examples".into(), Value::Array(examples));
    }
    canonical(&schema)
}

/// A readable definition name: `Pii_for_Buyer` → `PiiBuyer`, `Envelope_for_Order` →
/// `EnvelopeOrder`, `Map_for_String_and_Money` → `MapStringMoney` (schemars spells generic
/// instantiations with `_for_` and `_and_`).
pub fn readable_name(name: &str) -> String {
    name.replace("_for_", "").replace("_and_", "")
}

/// Renames every `$defs` entry to its [`readable_name`] and rewrites the references. A name
/// that would collide with another entry is left as it is (a test checks none does).
fn readable_def_names(root: &mut Value) {
    let Some(defs) = root.get_mut("$defs").and_then(Value::as_object_mut) else {
        return;
    };
    let mut renames = BTreeMap::new();
    let names: Vec<String> = defs.keys().cloned().collect();
    for name in &names {
        let new = readable_name(name);
        if new != *name && !defs.contains_key(&new) && !renames.values().any(|n| *n == new) {
            renames.insert(name.clone(), new);
        }
    }
    if renames.is_empty() {
        return;
    }
    for (old, new) in &renames {
        if let Some(schema) = defs.remove(old) {
            defs.insert(new.clone(), schema);
        }
    }
    let refs: BTreeMap<String, String> = renames
        .iter()
        .map(|(o, n)| (format!("#/$defs/{o}"), format!("#/$defs/{n}")))
        .collect();
    rewrite_refs(root, &refs);
}

fn rewrite_refs(value: &mut Value, refs: &BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    Value::String(r) if k == "$ref" => {
                        if let Some(new) = refs.get(r.as_str()) {
                            *r = new.clone();
                        }
                    }
                    other => rewrite_refs(other, refs),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, refs)),
        _ => {}
    }
}

/// A document's `schema_version` property, when absent, means [`SchemaVersion::UNVERSIONED`]:
/// that is its `default` in the schema (schemars would show the version marketsync writes).
fn version_field_default(root: &mut Value) {
    if let Some(Value::Object(p)) = root
        .get_mut("properties")
        .and_then(|p| p.get_mut("schema_version"))
    {
        p.insert(
            "default".into(),
            Value::String(SchemaVersion::UNVERSIONED.to_string()),
        );
    }
}

/// Describes the `Pii<T>` definitions (`PiiBuyer`, `PiiAddress`, …) for a partner: the Rust
/// type's own doc comment points at Rust module docs, which a schema reader cannot follow.
fn describe_pii_defs(root: &mut Value) {
    let Some(defs) = root.get_mut("$defs").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, def) in defs.iter_mut() {
        let Some(inner) = name.strip_prefix("Pii").filter(|t| !t.is_empty()) else {
            continue;
        };
        if let Value::Object(map) = def {
            map.insert(
                "description".into(),
                Value::String(format!(
                    "Personal data (a {inner}) tagged with its data-residency `region`. `state` \
                     says how `value` is held: `clear` (the {inner} as received), `masked` (a \
                     {inner} with masked fields, safe to show), `token` (a stable keyed token \
                     string, for matching) or `sealed` (encrypted by the platform: `scheme` and \
                     `reference`)."
                )),
            );
        }
    }
}

/// The `minimum` and `maximum` a fixed-width number format stands for (`uint32` → 0 and
/// 4294967295), or `None` for other formats. `Some((None, None))` for the float formats, which
/// bound nothing a JSON number can exceed in practice.
pub fn format_bounds(format: &str) -> Option<(Option<Value>, Option<Value>)> {
    let int = |min: i64, max: u64| Some((Some(Value::from(min)), Some(Value::from(max))));
    match format {
        "uint8" => int(0, u8::MAX.into()),
        "uint16" => int(0, u16::MAX.into()),
        "uint32" => int(0, u32::MAX.into()),
        "uint64" | "uint" => int(0, u64::MAX),
        "uint128" => Some((Some(Value::from(0)), None)),
        "int8" => int(i8::MIN.into(), i8::MAX.unsigned_abs().into()),
        "int16" => int(i16::MIN.into(), i16::MAX.unsigned_abs().into()),
        "int32" => int(i32::MIN.into(), i32::MAX.unsigned_abs().into()),
        "int64" | "int" => int(i64::MIN, i64::MAX.unsigned_abs()),
        "int128" => Some((None, None)),
        "float" | "double" => Some((None, None)),
        _ => None,
    }
}

/// Replaces every fixed-width number `format` (`uint64`, `int32`, `double`, …: Rust names,
/// not JSON Schema formats) by the `minimum` / `maximum` it stands for, keeping an existing
/// bound when it is tighter.
pub fn integer_formats_to_bounds(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let bounds = map
                .get("format")
                .and_then(Value::as_str)
                .and_then(format_bounds);
            if let Some((min, max)) = bounds {
                map.remove("format");
                if let Some(min) = min {
                    tighten(map, "minimum", min, |new, old| new > old);
                }
                if let Some(max) = max {
                    tighten(map, "maximum", max, |new, old| new < old);
                }
            }
            for v in map.values_mut() {
                integer_formats_to_bounds(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integer_formats_to_bounds),
        _ => {}
    }
}

fn tighten(map: &mut Map<String, Value>, key: &str, bound: Value, tighter: fn(f64, f64) -> bool) {
    let replace = match (map.get(key).and_then(Value::as_f64), bound.as_f64()) {
        (None, _) => true,
        (Some(old), Some(new)) => tighter(new, old),
        (Some(_), None) => false,
    };
    if replace {
        map.insert(key.into(), bound);
    }
}

/// Gives the tag and value properties of enum variants a description: serde writes a variant
/// as `{"<tag>": "<name>", "<content>": …}` or `{"<name>": …}`, and those properties come from
/// no Rust field, so they have no doc comment. A tag property (one with a `const`) is described
/// as "Always `name`: <the variant's description>", any other undescribed property as the
/// variant's description. Properties of variants without a description stay undescribed.
fn describe_variant_properties(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in ["oneOf", "anyOf"] {
                if let Some(Value::Array(variants)) = map.get_mut(key) {
                    variants.iter_mut().for_each(describe_variant);
                }
            }
            for v in map.values_mut() {
                describe_variant_properties(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(describe_variant_properties),
        _ => {}
    }
}

fn describe_variant(variant: &mut Value) {
    let Some(map) = variant.as_object_mut() else {
        return;
    };
    let Some(about) = map
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return;
    };
    let Some(Value::Object(props)) = map.get_mut("properties") else {
        return;
    };
    for prop in props.values_mut() {
        let Some(p) = prop.as_object_mut() else {
            continue;
        };
        if p.contains_key("description") {
            continue;
        }
        let text = match p.get("const") {
            Some(Value::String(c)) => format!("Always `{c}`: {about}"),
            Some(other) => format!("Always `{other}`: {about}"),
            None => about.clone(),
        };
        p.insert("description".into(), Value::String(text));
    }
}

/// Strips rustdoc link markup from every `description`: ``[`Channel::Custom`]`` →
/// `` `Channel::Custom` ``, `[module docs](self)` → `module docs` (a partner's schema tooling
/// shows descriptions as plain text or Markdown, where the brackets and Rust paths are noise).
/// Links to web addresses are kept.
fn plain_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    Value::String(text) if k == "description" => {
                        *text = strip_rust_links(&strip_doc_links(text));
                    }
                    other => plain_descriptions(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(plain_descriptions),
        _ => {}
    }
}

/// ``[`X`]`` → `` `X` ``; other text unchanged.
pub fn strip_doc_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("[`") {
        let after = &rest[start + 1..];
        match after.find("`]") {
            Some(end) if !after[..end + 1].contains('[') && !after[end + 2..].starts_with('(') => {
                out.push_str(&rest[..start]);
                out.push_str(&after[..end + 1]);
                rest = &after[end + 2..];
            }
            _ => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `[text](target)` → `text` when `target` is a Rust path or `self` (no `://`); other text,
/// and links to web addresses, unchanged.
pub fn strip_rust_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            let label = &after[..close];
            let target_start = close + 2;
            let target_len = after[target_start..].find(')')?;
            let target = &after[target_start..target_start + target_len];
            let rusty = !label.contains('[')
                && !target.is_empty()
                && !target.contains("://")
                && !target.contains(char::is_whitespace);
            rusty.then_some((label, target_start + target_len + 1))
        });
        match link {
            Some((label, consumed)) => {
                out.push_str(&rest[..open]);
                out.push_str(label);
                rest = &after[consumed..];
            }
            None => {
                out.push_str(&rest[..open + 1]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Event kind → the type name of its payload schema and of its typed envelope schema.
const PAYLOAD_SCHEMAS: &[(&str, &str, &str)] = &[
    ("inventory", "InventoryUpdate", "InventoryEnvelope"),
    ("journal", "JournalEntry", "JournalEnvelope"),
    ("order", "Order", "OrderEnvelope"),
    ("refund", "Refund", "RefundEnvelope"),
    ("settlement", "Settlement", "SettlementEnvelope"),
    ("shipment", "Shipment", "ShipmentEnvelope"),
];

/// The typed envelope schemas, by event kind: `(kind, payload schema, envelope schema)`.
pub fn typed_envelopes() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    PAYLOAD_SCHEMAS.iter().copied()
}

fn envelope_schema() -> Value {
    let mut value = document_schema::<crate::Envelope<Value>>("Envelope");
    if let Value::Object(map) = &mut value {
        map.insert(
            "description".into(),
            Value::String(
                "A business event with its provenance and idempotency key, of any `kind` and \
                 with any `payload`. An envelope of a built-in kind is also valid against the \
                 typed schema of its kind (OrderEnvelope, RefundEnvelope, ShipmentEnvelope, \
                 SettlementEnvelope, InventoryEnvelope, JournalEnvelope), which types `payload`."
                    .into(),
            ),
        );
        if let Some(Value::Object(payload)) =
            map.get_mut("properties").and_then(|p| p.get_mut("payload"))
        {
            payload.insert(
                "description".into(),
                Value::String(
                    "The canonical record, any JSON value here: validate it against the schema \
                     its `kind` names (order → Order, refund → Refund, shipment → Shipment, \
                     settlement → Settlement, inventory → InventoryUpdate, journal → \
                     JournalEntry; see `envelopes` in index.json), or validate the whole \
                     envelope against the typed envelope schema of its kind (OrderEnvelope, …)."
                        .into(),
                ),
            );
        }
    }
    canonical(&value)
}

/// The schema of the envelope of one event `kind` with a `T` payload: `kind` fixed to its
/// value, `payload` a `payload_name` document.
fn typed_envelope_schema<T: JsonSchema>(name: &str, kind: &str, payload_name: &str) -> Value {
    let mut value = document_schema::<crate::Envelope<T>>(name);
    if let Some(Value::Object(props)) = value.get_mut("properties") {
        if let Some(Value::Object(k)) = props.get_mut("kind") {
            k.insert("const".into(), Value::String(kind.into()));
            k.insert(
                "description".into(),
                Value::String(format!(
                    "Event kind: always `{kind}` in this envelope (its payload is {} \
                     `{payload_name}`).",
                    article(payload_name)
                )),
            );
        }
        if let Some(Value::Object(p)) = props.get_mut("payload") {
            p.insert(
                "description".into(),
                Value::String(format!(
                    "The canonical record: {} `{payload_name}`.",
                    article(payload_name)
                )),
            );
        }
    }
    if let Value::Object(map) = &mut value {
        map.insert(
            "description".into(),
            Value::String(format!(
                "{} `{kind}` event with its provenance: the envelope with `kind` = `{kind}` \
                 and {} `{payload_name}` as `payload`.",
                if article(kind) == "an" { "An" } else { "A" },
                article(payload_name)
            )),
        );
    }
    canonical(&value)
}

/// `a` or `an` before a (type or kind) name.
fn article(name: &str) -> &'static str {
    match name.chars().next() {
        Some(c) if "AEIOUaeiou".contains(c) => "an",
        _ => "a",
    }
}

/// Every canonical model schema a partner exchanges, keyed by type name (see the
/// [module docs](self) for the list and for how envelopes are exported), each with its
/// example. The rulebook schema is added by the mapping crate (`marketsync_mapping::schema_set`).
pub fn export() -> BTreeMap<&'static str, Value> {
    use crate::*;
    let mut out = BTreeMap::new();
    macro_rules! add {
        ($($t:ident),* $(,)?) => {$(
            out.insert(stringify!($t), document_schema::<$t>(stringify!($t)));
        )*};
    }
    add!(
        Money,
        Order,
        Refund,
        Shipment,
        InventoryPosition,
        InventoryUpdate,
        InventoryAck,
        Settlement,
        JournalEntry,
    );
    out.insert("Envelope", envelope_schema());
    macro_rules! envelope {
        ($($name:literal, $kind:literal => $t:ident),* $(,)?) => {$(
            out.insert($name, typed_envelope_schema::<$t>($name, $kind, stringify!($t)));
        )*};
    }
    envelope!(
        "OrderEnvelope", "order" => Order,
        "RefundEnvelope", "refund" => Refund,
        "ShipmentEnvelope", "shipment" => Shipment,
        "SettlementEnvelope", "settlement" => Settlement,
        "InventoryEnvelope", "inventory" => InventoryUpdate,
        "JournalEnvelope", "journal" => JournalEntry,
    );
    for (name, schema) in out.iter_mut() {
        if let Some(example) = examples::example(name) {
            *schema = with_examples(schema.take(), vec![example]);
        }
    }
    out
}

/// A copy of `value` with every object's keys in sorted order, whatever map type
/// `serde_json` was built with (`preserve_order` keeps insertion order otherwise).
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                if let Some(v) = map.get(k) {
                    out.insert(k.clone(), canonical(v));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Pretty-prints a value the way the schema files are written: sorted keys, two-space
/// indentation, a trailing newline.
pub fn to_pretty(value: &Value) -> String {
    // Serializing a `Value` cannot fail (its map keys are strings).
    let mut s = serde_json::to_string_pretty(&canonical(value)).unwrap_or_default();
    s.push('\n');
    s
}

/// Reading or writing a schema directory failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaIoError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid JSON.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// `index.json` does not have the expected shape.
    #[error("{path}: {message}")]
    Index {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A versioned set of schemas: the current export, or a committed snapshot read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaSet {
    /// The schema version (semver).
    pub version: String,
    /// The schemas, by type name.
    pub schemas: BTreeMap<String, Value>,
}

impl SchemaSet {
    /// The schemas of this build, at [`SCHEMA_VERSION`].
    pub fn current() -> SchemaSet {
        SchemaSet {
            version: SCHEMA_VERSION.to_owned(),
            schemas: export()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }
    }

    /// Adds (or replaces) a schema, e.g. one made with [`document_schema`] by a crate that
    /// publishes another document (the mapping crate's `Rulebook`). Its `$id`, `title` and
    /// `$comment` ([`version_comment`]) are set to this set's.
    pub fn insert(&mut self, name: &str, schema: Value) {
        let mut schema = schema;
        if let Value::Object(map) = &mut schema {
            map.insert("$id".into(), Value::String(schema_id(&self.version, name)));
            map.insert("title".into(), Value::String(name.into()));
            map.insert(
                "$comment".into(),
                Value::String(version_comment(&self.version)),
            );
        }
        self.schemas.insert(name.to_owned(), canonical(&schema));
    }

    /// The `index.json` manifest: the version, the dialect, the `$id` base and one entry per
    /// schema with its file and `$id`.
    pub fn index(&self) -> Value {
        let schemas: Vec<Value> = self
            .schemas
            .keys()
            .map(|name| {
                serde_json::json!({
                    "name": name,
                    "file": file_name(name),
                    "$id": schema_id(&self.version, name),
                })
            })
            .collect();
        let envelopes: Map<String, Value> = typed_envelopes()
            .filter(|(_, payload, envelope)| {
                self.schemas.contains_key(*payload) && self.schemas.contains_key(*envelope)
            })
            .map(|(kind, payload, envelope)| {
                (
                    kind.to_owned(),
                    serde_json::json!({"payload": payload, "envelope": envelope}),
                )
            })
            .collect();
        serde_json::json!({
            "schema_version": self.version,
            "dialect": DIALECT,
            "id_base": format!("{ID_BASE}/v{}/", major(&self.version)),
            "envelopes": envelopes,
            "schemas": schemas,
        })
    }

    /// The files of the set, by file name, exactly as [`SchemaSet::write_dir`] writes them.
    pub fn files(&self) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = self
            .schemas
            .iter()
            .map(|(name, schema)| (file_name(name), to_pretty(schema)))
            .collect();
        out.insert(INDEX_FILE.to_owned(), to_pretty(&self.index()));
        out
    }

    /// Writes the set into `dir` (created if missing): one `<TypeName>.schema.json` per schema
    /// and `index.json`. Each file is replaced atomically (written aside, then renamed), and
    /// `*.schema.json` files no longer in the set are removed. Returns the paths written.
    pub fn write_dir(&self, dir: &Path) -> Result<Vec<PathBuf>, SchemaIoError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SchemaIoError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let files = self.files();
        for stale in schema_files_in(dir)? {
            if !files.contains_key(&stale) {
                let path = dir.join(&stale);
                fs::remove_file(&path).map_err(io(&path))?;
            }
        }
        let mut written = Vec::with_capacity(files.len());
        // The manifest last, so a reader never sees an index naming files not yet written.
        let order = files
            .iter()
            .filter(|(n, _)| n.as_str() != INDEX_FILE)
            .chain(files.iter().filter(|(n, _)| n.as_str() == INDEX_FILE));
        for (name, text) in order {
            let path = dir.join(name);
            let tmp = dir.join(format!(".{name}.tmp"));
            fs::write(&tmp, text).map_err(io(&tmp))?;
            fs::rename(&tmp, &path).map_err(io(&path))?;
            written.push(path);
        }
        Ok(written)
    }

    /// Reads a set written by [`SchemaSet::write_dir`]: the version and file list from
    /// `index.json`, then each listed file.
    pub fn read_dir(dir: &Path) -> Result<SchemaSet, SchemaIoError> {
        let index_path = dir.join(INDEX_FILE);
        let index = read_json(&index_path)?;
        let bad = |message: &str| SchemaIoError::Index {
            path: index_path.clone(),
            message: message.to_owned(),
        };
        let version = index
            .get("schema_version")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("missing string `schema_version`"))?
            .to_owned();
        let entries = index
            .get("schemas")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("missing array `schemas`"))?;
        let mut schemas = BTreeMap::new();
        for entry in entries {
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("a `schemas` entry has no string `name`"))?;
            let file = entry
                .get("file")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("a `schemas` entry has no string `file`"))?;
            if file.contains(['/', '\\']) {
                return Err(bad("a `file` must be a plain file name"));
            }
            schemas.insert(name.to_owned(), read_json(&dir.join(file))?);
        }
        Ok(SchemaSet { version, schemas })
    }
}

/// Names of the `*.schema.json` files in `dir` (empty when `dir` does not exist).
pub fn schema_files_in(dir: &Path) -> Result<Vec<String>, SchemaIoError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(SchemaIoError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| SchemaIoError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if let Some(name) = entry.file_name().to_str() {
            if name.ends_with(".schema.json") {
                out.push(name.to_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read_json(path: &Path) -> Result<Value, SchemaIoError> {
    let text = fs::read_to_string(path).map_err(|source| SchemaIoError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| SchemaIoError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes the current export into `dir` (see [`SchemaSet::write_dir`]).
pub fn write_dir(dir: &Path) -> Result<Vec<PathBuf>, SchemaIoError> {
    SchemaSet::current().write_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_has_dialect_id_title_and_version() {
        for (name, schema) in export() {
            assert_eq!(schema["$schema"], DIALECT, "{name}");
            assert_eq!(schema["$id"], schema_id(SCHEMA_VERSION, name), "{name}");
            assert_eq!(schema["title"], name, "{name}");
            assert_eq!(declared_version(&schema), Some(SCHEMA_VERSION), "{name}");
        }
    }

    #[test]
    fn ids_name_the_major_only() {
        assert_eq!(
            schema_id("2.0.0", "Order"),
            "https://marketsync.dev/schemas/v2/Order.schema.json"
        );
        assert_eq!(schema_id("2.7.1", "Order"), schema_id("2.0.0", "Order"));
        assert_ne!(schema_id("3.0.0", "Order"), schema_id("2.0.0", "Order"));
    }

    #[test]
    fn output_is_deterministic_and_sorted() {
        let a = SchemaSet::current().files();
        let b = SchemaSet::current().files();
        assert_eq!(a, b);
        for text in a.values() {
            assert!(text.ends_with("}\n"));
        }
    }

    #[test]
    fn generic_names_are_readable() {
        assert_eq!(readable_name("Pii_for_Buyer"), "PiiBuyer");
        assert_eq!(readable_name("Map_for_String_and_Money"), "MapStringMoney");
        assert_eq!(readable_name("Order"), "Order");
        let order = &export()["Order"];
        assert!(order["$defs"].get("PiiBuyer").is_some());
        assert!(order["$defs"].get("PiiAddress").is_some());
        assert_eq!(
            order["properties"]["buyer"]["anyOf"][0]["$ref"],
            "#/$defs/PiiBuyer"
        );
        for (name, schema) in export() {
            for def in schema["$defs"]
                .as_object()
                .into_iter()
                .flat_map(|d| d.keys())
            {
                assert!(!def.contains('_'), "{name}: $defs/{def}");
            }
        }
    }

    #[test]
    fn renaming_rewrites_every_reference_and_avoids_collisions() {
        let mut v = serde_json::json!({
            "$ref": "#/$defs/Pii_for_Buyer",
            "$defs": {
                "Pii_for_Buyer": {"items": {"$ref": "#/$defs/Pii_for_Buyer"}},
                "A_for_B": {"type": "string"},
                "AB": {"type": "integer"},
            }
        });
        readable_def_names(&mut v);
        assert_eq!(v["$ref"], "#/$defs/PiiBuyer");
        assert_eq!(v["$defs"]["PiiBuyer"]["items"]["$ref"], "#/$defs/PiiBuyer");
        // `AB` exists already: `A_for_B` keeps its name rather than overwrite it.
        assert_eq!(v["$defs"]["A_for_B"]["type"], "string");
        assert_eq!(v["$defs"]["AB"]["type"], "integer");
    }

    #[test]
    fn amounts_are_string_only() {
        let money = &export()["Money"];
        assert_eq!(money["properties"]["amount"]["type"], "string");
    }

    #[test]
    fn fixed_width_formats_become_bounds() {
        let mut v = serde_json::json!({"properties": {
            "a": {"type": "integer", "format": "uint32", "minimum": 0},
            "b": {"type": "integer", "format": "int64"},
            "c": {"type": "integer", "format": "uint64", "minimum": 1},
            "d": {"type": "integer", "format": "uint8", "maximum": 9},
            "e": {"type": "number", "format": "double"},
            "f": {"type": "string", "format": "date-time"},
        }});
        integer_formats_to_bounds(&mut v);
        let p = &v["properties"];
        assert_eq!(
            p["a"],
            serde_json::json!({"type": "integer", "minimum": 0, "maximum": 4294967295u64})
        );
        assert_eq!(p["b"]["minimum"], i64::MIN);
        assert_eq!(p["b"]["maximum"], i64::MAX);
        assert_eq!(p["c"]["minimum"], 1);
        assert_eq!(p["c"]["maximum"], u64::MAX);
        assert_eq!(p["d"]["maximum"], 9);
        assert_eq!(p["e"], serde_json::json!({"type": "number"}));
        assert_eq!(p["f"]["format"], "date-time");
    }

    #[test]
    fn the_index_maps_kinds_to_payload_and_envelope_schemas() {
        let set = SchemaSet::current();
        let index = set.index();
        let envelopes = index["envelopes"].as_object().unwrap();
        assert_eq!(envelopes.len(), PAYLOAD_SCHEMAS.len());
        assert_eq!(envelopes["order"]["payload"], "Order");
        assert_eq!(envelopes["order"]["envelope"], "OrderEnvelope");
        for entry in envelopes.values() {
            for k in ["payload", "envelope"] {
                assert!(set.schemas.contains_key(entry[k].as_str().unwrap()));
            }
        }
    }

    #[test]
    fn declared_version_reads_the_comment() {
        let s = serde_json::json!({"$comment": version_comment("2.4.1")});
        assert_eq!(declared_version(&s), Some("2.4.1"));
        assert_eq!(
            declared_version(&serde_json::json!({"$comment": "other"})),
            None
        );
        assert_eq!(declared_version(&serde_json::json!({})), None);
    }

    /// No custom keyword: ajv's default strict mode refuses unknown keywords.
    #[test]
    fn no_custom_keywords() {
        fn walk(v: &Value, at: &str) {
            match v {
                Value::Object(m) => {
                    for (k, c) in m {
                        assert!(!k.starts_with("x-"), "{at}/{k}");
                        // Property names are data, not keywords; examples are documents.
                        if k != "examples" && k != "properties" && k != "$defs" {
                            walk(c, &format!("{at}/{k}"));
                        } else if k != "examples" {
                            for (n, s) in c.as_object().into_iter().flatten() {
                                walk(s, &format!("{at}/{k}/{n}"));
                            }
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|c| walk(c, at)),
                _ => {}
            }
        }
        for (name, s) in export() {
            walk(&s, name);
        }
    }

    #[test]
    fn typed_envelopes_fix_the_kind_and_type_the_payload() {
        let all = export();
        for (kind, payload, envelope) in typed_envelopes() {
            let s = &all[envelope];
            assert_eq!(s["properties"]["kind"]["const"], kind, "{envelope}");
            let payload_ref = s["properties"]["payload"]["$ref"].as_str().unwrap();
            assert_eq!(payload_ref, format!("#/$defs/{payload}"), "{envelope}");
            assert!(s["$defs"].get(payload).is_some(), "{envelope}");
        }
    }

    #[test]
    fn rustdoc_links_become_plain_code() {
        assert_eq!(
            strip_doc_links("See [`Channel::Custom`] and [`Pii`]."),
            "See `Channel::Custom` and `Pii`."
        );
        assert_eq!(
            strip_doc_links("no links [here] `x`"),
            "no links [here] `x`"
        );
        assert_eq!(strip_doc_links("[`unclosed"), "[`unclosed");
        assert_eq!(strip_doc_links("a [`b`] [`c`]"), "a `b` `c`");
        assert_eq!(
            strip_rust_links("See the [module docs](self) and [`Pii`](crate::Pii)."),
            "See the module docs and `Pii`."
        );
        assert_eq!(
            strip_rust_links("[RFC 3339](https://www.rfc-editor.org/rfc/rfc3339) [x] (y)"),
            "[RFC 3339](https://www.rfc-editor.org/rfc/rfc3339) [x] (y)"
        );
        assert_eq!(
            strip_rust_links(&strip_doc_links("[`Money`](crate::Money)")),
            "`Money`"
        );
    }

    #[test]
    fn variant_tags_and_values_are_described() {
        let mut v = serde_json::json!({"oneOf": [
            {"description": "By time.", "properties": {"kind": {"const": "at"}, "value": {"type": "string"}}},
            {"properties": {"kind": {"const": "n"}}},
        ]});
        describe_variant_properties(&mut v);
        assert_eq!(
            v["oneOf"][0]["properties"]["kind"]["description"],
            "Always `at`: By time."
        );
        assert_eq!(
            v["oneOf"][0]["properties"]["value"]["description"],
            "By time."
        );
        assert!(
            v["oneOf"][1]["properties"]["kind"]
                .get("description")
                .is_none()
        );
    }
}
