//! Writes the JSON Schemas (2020-12) of the canonical model for partner teams.
//!
//! `cargo run -p marketsync --example export_schemas -- target/schemas`
//!
//! One `<Type>.schema.json` per exchanged document plus `index.json` with the schema version.
//! The same files are committed under `schemas/` in the repository; a test fails when the model
//! changes without the schema version being raised.

use std::path::PathBuf;

use marketsync::schema::{SCHEMA_VERSION, SchemaSet};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/schemas"));
    let written = SchemaSet::current().write_dir(&dir)?;
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
