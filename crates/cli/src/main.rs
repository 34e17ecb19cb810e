//! The `marketsync` command.
//!
//! * `marketsync schema --out DIR` writes the JSON Schemas of the canonical model and of the
//!   mapping rulebook, for partner teams.
//! * `marketsync demo` runs the end-to-end demo (see the README).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Marketplace sales into ERP inventory and accounting.
#[derive(Parser)]
#[command(name = "marketsync", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the JSON Schemas (2020-12) of the canonical model and the rulebook.
    Schema {
        /// Output directory (created if missing).
        #[arg(long, default_value = "schemas")]
        out: PathBuf,
    },
}

fn schema(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let written = marketsync_core::schema::SchemaSet::current().write_dir(out)?;
    let rulebook = out.join("Rulebook.schema.json");
    let text = serde_json::to_string_pretty(&marketsync_mapping::rulebook_schema())? + "\n";
    std::fs::write(&rulebook, text)?;
    println!(
        "wrote {} schema files (model schema version {}) and {} to {}",
        written.len(),
        marketsync_core::schema::SCHEMA_VERSION,
        rulebook.display(),
        out.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Schema { out } => schema(out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
