//! JSON Schema export of the canonical model, for partner teams.
//!
//! [`export`] returns one [JSON Schema 2020-12](https://json-schema.org/draft/2020-12/schema)
//! document per type a partner exchanges with marketsync, keyed by type name. Each document
//! is self-contained (nested types live under `$defs`), carries `$schema`, the type name as
//! `title`, and an `$id` that names the [`SCHEMA_VERSION`]:
//! `urn:marketsync:schema:<version>:<TypeName>`.
//!
//! | schema | what it is |
//! |---|---|
//! | `Money` | an amount (a decimal **string**) and an ISO 4217 currency |
//! | `Order` | a marketplace order (buyer and ship-to as `Pii_for_*`) |
//! | `Refund` | a refund with its lines and the goods return, if any |
//! | `Shipment` | a package shipped for an order |
//! | `InventoryPosition` / `InventoryUpdate` / `InventoryAck` | ERP stock, channel ATP updates and their acknowledgements |
//! | `Settlement` | a marketplace statement with typed lines and the payout |
//! | `JournalEntry` | a balanced journal posted to the ERP |
//! | `Envelope` | an event with provenance and its idempotency key |
//!
//! **`Envelope` is exported once, with a free-form `payload`** (any JSON value) rather than as
//! one schema per payload type: the envelope's `kind` names the payload's schema (`order` →
//! `Order`, `refund` → `Refund`, `shipment` → `Shipment`, `settlement` → `Settlement`,
//! `inventory` → `InventoryUpdate`, `journal` → `JournalEntry`), and the same machine-readable
//! mapping is in the envelope schema's `x-marketsync-payload-schemas` keyword. Validate the
//! envelope, then validate `payload` against the schema its `kind` names.
//!
//! [`SchemaSet::write_dir`] writes the set as `<TypeName>.schema.json` files plus an
//! `index.json` manifest, pretty-printed with sorted keys and a trailing newline, so the output
//! is byte-for-byte deterministic and diffs well. The repository commits that output under
//! `schemas/`; a test fails when it is stale, and [`compat::check_policy`] refuses a change that
//! breaks partners unless the major version of [`SCHEMA_VERSION`] was raised (and an additive
//! change unless at least the minor was).
//!
//! ```
//! use marketsync_core::schema::{self, SchemaSet};
//!
//! let set = SchemaSet::current();
//! assert_eq!(set.version, schema::SCHEMA_VERSION);
//! let order = &set.schemas["Order"];
//! assert_eq!(order["$schema"], "https://json-schema.org/draft/2020-12/schema");
//! assert!(order["$id"].as_str().is_some_and(|id| id.contains(schema::SCHEMA_VERSION)));
//! // Comparing a set with itself finds no change.
//! assert!(schema::compat::compare_sets(&set.schemas, &set.schemas).is_empty());
//! ```

pub mod compat;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// Version of the exported schemas (semver). Raise the major on a breaking change, the minor on
/// an additive one; [`compat::check_policy`] enforces it against the committed schemas.
pub const SCHEMA_VERSION: &str = "1.0.0";

/// The JSON Schema dialect of every exported schema.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The name of the manifest file written next to the schemas.
pub const INDEX_FILE: &str = "index.json";

/// The keyword of the envelope schema mapping an event kind to its payload schema's `$id`.
pub const PAYLOAD_SCHEMAS_KEYWORD: &str = "x-marketsync-payload-schemas";

/// The `$id` of a schema in a version: `urn:marketsync:schema:<version>:<TypeName>`.
pub fn schema_id(version: &str, type_name: &str) -> String {
    format!("urn:marketsync:schema:{version}:{type_name}")
}

/// The file a schema is written to: `<TypeName>.schema.json`.
pub fn file_name(type_name: &str) -> String {
    format!("{type_name}.schema.json")
}

fn root_schema<T: JsonSchema>(title: &str) -> Value {
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
    }
    plain_descriptions(&mut value);
    canonical(&value)
}

/// Strips rustdoc intra-doc link markup from every `description`: ``[`Channel::Custom`]`` →
/// `` `Channel::Custom` `` (a partner's schema tooling shows descriptions as plain text or
/// Markdown, where the brackets are noise).
fn plain_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    Value::String(text) if k == "description" => *text = strip_doc_links(text),
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
            Some(end) if !after[..end + 1].contains('[') => {
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

/// Event kind → the type name of its payload schema (see the [module docs](self)).
const PAYLOAD_SCHEMAS: &[(&str, &str)] = &[
    ("inventory", "InventoryUpdate"),
    ("journal", "JournalEntry"),
    ("order", "Order"),
    ("refund", "Refund"),
    ("settlement", "Settlement"),
    ("shipment", "Shipment"),
];

fn envelope_schema() -> Value {
    let mut value = root_schema::<crate::Envelope<Value>>("Envelope");
    if let Value::Object(map) = &mut value {
        let mapping: Map<String, Value> = PAYLOAD_SCHEMAS
            .iter()
            .map(|(kind, ty)| {
                (
                    (*kind).to_owned(),
                    Value::String(schema_id(SCHEMA_VERSION, ty)),
                )
            })
            .collect();
        map.insert(PAYLOAD_SCHEMAS_KEYWORD.into(), Value::Object(mapping));
        if let Some(Value::Object(payload)) =
            map.get_mut("properties").and_then(|p| p.get_mut("payload"))
        {
            payload.insert(
                "description".into(),
                Value::String(
                    "The canonical record, any JSON value here: validate it against the schema \
                     its `kind` names (order → Order, refund → Refund, shipment → Shipment, \
                     settlement → Settlement, inventory → InventoryUpdate, journal → \
                     JournalEntry; see `x-marketsync-payload-schemas`)."
                        .into(),
                ),
            );
        }
    }
    canonical(&value)
}

/// Every canonical model schema a partner exchanges, keyed by type name (see the
/// [module docs](self) for the list and for how `Envelope` is exported).
pub fn export() -> BTreeMap<&'static str, Value> {
    use crate::*;
    let mut out = BTreeMap::new();
    macro_rules! add {
        ($($t:ident),* $(,)?) => {$(
            out.insert(stringify!($t), root_schema::<$t>(stringify!($t)));
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

    /// The `index.json` manifest: the version, the dialect and one entry per schema with its
    /// file and `$id`.
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
        serde_json::json!({
            "schema_version": self.version,
            "dialect": DIALECT,
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
    fn every_schema_has_dialect_id_and_title() {
        for (name, schema) in export() {
            assert_eq!(schema["$schema"], DIALECT, "{name}");
            assert_eq!(schema["$id"], schema_id(SCHEMA_VERSION, name), "{name}");
            assert_eq!(schema["title"], name, "{name}");
        }
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
    fn generic_pii_gets_stable_names() {
        let order = &export()["Order"];
        assert!(order["$defs"].get("Pii_for_Buyer").is_some());
        assert!(order["$defs"].get("Pii_for_Address").is_some());
    }

    #[test]
    fn amounts_are_string_only() {
        let money = &export()["Money"];
        assert_eq!(money["properties"]["amount"]["type"], "string");
    }

    #[test]
    fn envelope_maps_kinds_to_payload_schemas() {
        let env = &export()["Envelope"];
        let map = env[PAYLOAD_SCHEMAS_KEYWORD].as_object().unwrap();
        let names = export();
        for (_, id) in map {
            let id = id.as_str().unwrap();
            assert!(
                names.keys().any(|n| schema_id(SCHEMA_VERSION, n) == id),
                "{id}"
            );
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
    }
}
