//! The schema version a serialized document declares in its `schema_version` field.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::compat::Version;

/// A schema version, `MAJOR.MINOR.PATCH`, as written in a document's `schema_version` field
/// (for example [`Envelope`](crate::Envelope)).
///
/// marketsync always **writes** [`SchemaVersion::CURRENT`] (whatever version the value was
/// read with: what it writes follows the current schemas). On **reading**, the field is
/// optional: a document without it predates the field and follows
/// [`SchemaVersion::UNVERSIONED`] (1.0.0); a document whose major version is newer than this
/// build's is refused, because it may not mean what this build would read into it; anything
/// else is read (within a major, changes are additive, so an older or newer minor reads fine).
///
/// ```
/// use marketsync_core::schema::{SCHEMA_VERSION, SchemaVersion};
///
/// assert_eq!(SchemaVersion::CURRENT.to_string(), SCHEMA_VERSION);
/// let v: SchemaVersion = serde_json::from_str("\"1.0.0\"").unwrap();
/// assert_eq!(v, SchemaVersion::UNVERSIONED);
/// assert!(serde_json::from_str::<SchemaVersion>("\"99.0.0\"").is_err());
/// assert!(serde_json::from_str::<SchemaVersion>("\"v2\"").is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchemaVersion(Version);

/// A `schema_version` that cannot be read: not `MAJOR.MINOR.PATCH`, or a newer major.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaVersionError {
    /// Not `MAJOR.MINOR.PATCH`.
    #[error("schema_version {0:?} is not MAJOR.MINOR.PATCH")]
    Invalid(String),
    /// Written for a newer major version than this build reads.
    #[error(
        "schema_version {found} is newer than this build reads (schema version {current}): \
         upgrade marketsync to read it"
    )]
    NewerMajor {
        /// The version the document declares.
        found: String,
        /// This build's schema version.
        current: String,
    },
}

impl SchemaVersion {
    /// The version of this build's schemas ([`super::SCHEMA_VERSION`]).
    pub const CURRENT: SchemaVersion = SchemaVersion::new(2, 0, 0);

    /// The version a document without a `schema_version` field follows: the field was
    /// introduced in 2.0.0, and the schemas before were 1.0.0.
    pub const UNVERSIONED: SchemaVersion = SchemaVersion::new(1, 0, 0);

    /// A version from its parts.
    pub const fn new(major: u64, minor: u64, patch: u64) -> SchemaVersion {
        SchemaVersion(Version {
            major,
            minor,
            patch,
        })
    }

    /// [`SchemaVersion::CURRENT`], as a function (for `#[serde(default = …)]` and builders).
    pub fn current() -> SchemaVersion {
        SchemaVersion::CURRENT
    }

    /// [`SchemaVersion::UNVERSIONED`], the reading of a document without the field.
    pub fn unversioned() -> SchemaVersion {
        SchemaVersion::UNVERSIONED
    }

    /// The semver parts.
    pub fn version(&self) -> Version {
        self.0
    }

    /// Parses `MAJOR.MINOR.PATCH` (no pre-release or build suffix) and refuses a major newer
    /// than [`SchemaVersion::CURRENT`]'s.
    pub fn parse(s: &str) -> Result<SchemaVersion, SchemaVersionError> {
        let plain = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        let v = Version::parse(s)
            .filter(|_| plain)
            .ok_or_else(|| SchemaVersionError::Invalid(s.to_owned()))?;
        if v.major > SchemaVersion::CURRENT.0.major {
            return Err(SchemaVersionError::NewerMajor {
                found: s.to_owned(),
                current: SchemaVersion::CURRENT.to_string(),
            });
        }
        Ok(SchemaVersion(v))
    }

    /// Serializes [`SchemaVersion::CURRENT`] whatever the value: the serializer of the
    /// `schema_version` fields, since what marketsync writes follows its current schemas.
    pub fn serialize_current<S: Serializer>(_: &SchemaVersion, s: S) -> Result<S::Ok, S::Error> {
        SchemaVersion::CURRENT.serialize(s)
    }
}

impl Default for SchemaVersion {
    /// [`SchemaVersion::CURRENT`].
    fn default() -> Self {
        SchemaVersion::CURRENT
    }
}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for SchemaVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SchemaVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(d)?;
        SchemaVersion::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The pattern of a `schema_version` value.
pub const SCHEMA_VERSION_PATTERN: &str = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$";

impl JsonSchema for SchemaVersion {
    fn schema_name() -> Cow<'static, str> {
        "SchemaVersion".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": SCHEMA_VERSION_PATTERN,
            "description": "The version of the marketsync schemas the document follows \
                (`MAJOR.MINOR.PATCH`, see schemas/README.md). marketsync always writes it; a \
                document without it predates the field and follows 1.0.0. A reader refuses a \
                major version newer than its own.",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_matches_the_exported_version() {
        assert_eq!(
            SchemaVersion::CURRENT.to_string(),
            super::super::SCHEMA_VERSION
        );
    }

    #[test]
    fn parse_accepts_older_and_same_major_and_refuses_the_rest() {
        assert_eq!(
            SchemaVersion::parse("1.0.0"),
            Ok(SchemaVersion::UNVERSIONED)
        );
        let next_minor = format!("{}.9.0", SchemaVersion::CURRENT.0.major);
        assert!(SchemaVersion::parse(&next_minor).is_ok());
        let next_major = format!("{}.0.0", SchemaVersion::CURRENT.0.major + 1);
        assert!(matches!(
            SchemaVersion::parse(&next_major),
            Err(SchemaVersionError::NewerMajor { .. })
        ));
        for bad in ["", "2", "2.0", "2.0.0-rc.1", "v2.0.0", "2.0.0.0", " 2.0.0"] {
            assert!(
                matches!(
                    SchemaVersion::parse(bad),
                    Err(SchemaVersionError::Invalid(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn serialize_current_ignores_the_value() {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::new(&mut out);
        SchemaVersion::serialize_current(&SchemaVersion::UNVERSIONED, &mut ser).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("\"{}\"", SchemaVersion::CURRENT)
        );
    }
}
