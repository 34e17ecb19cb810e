//! Writes the published JSON Schemas (2020-12) for partner teams: the canonical model's, the
//! typed envelopes' and the rulebook's.
//!
//! `cargo run -p marketsync --example export_schemas -- target/schemas`
//!
//! One `<Type>.schema.json` per document plus `index.json` with the schema version. The same
//! files are committed under `schemas/` in the repository (see schemas/README.md); a test fails
//! when they are stale, or when the model changes without the schema version being raised.

use std::path::PathBuf;

use marketsync::mapping::schema_set;
use marketsync::schema::SCHEMA_VERSION;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/schemas"));
    let written = schema_set().write_dir(&dir)?;
    println!(
        "schema version {SCHEMA_VERSION}: {} files in {}",
        written.len(),
        dir.display()
    );
    for path in written {
        println!("  {}", path.display());
    }
    Ok(())
}
