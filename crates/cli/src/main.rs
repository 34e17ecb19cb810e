//! The `marketsync` command.
//!
//! * `marketsync schema --out DIR` writes the JSON Schemas of the canonical model and of the
//!   mapping rulebook, for partner teams.
//! * `marketsync demo` runs the end-to-end demo (see the README).
//! * `marketsync purge-raw --older-than DAYS --db PATH` deletes archived raw payloads older
//!   than the retention (except those open exceptions still need).

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
    /// Run the end-to-end demo: Tmall and Shopify simulators → pipeline (SQLite) → NetSuite
    /// simulator, with a summary and an HTML report.
    Demo {
        /// SQLite database file (replaced).
        #[arg(long, default_value = "marketsync-demo.db")]
        db: PathBuf,
        /// HTML report file.
        #[arg(long, default_value = "marketsync-report.html")]
        report: PathBuf,
        /// Tmall trades to generate.
        #[arg(long, default_value_t = 2000)]
        tmall_orders: usize,
        /// Shopify orders to generate.
        #[arg(long, default_value_t = 400)]
        shopify_orders: usize,
        /// Seed of the generated data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Delete raw payloads (the one place personal data is kept as received) first seen more
    /// than DAYS days ago; payloads of open exceptions are kept for their replay.
    PurgeRaw {
        /// Retention in days.
        #[arg(long, value_name = "DAYS")]
        older_than: u32,
        /// SQLite database file.
        #[arg(long)]
        db: PathBuf,
    },
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

fn demo(opts: marketsync_cli::demo::DemoOptions) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(marketsync_cli::demo::run(&opts))?;
    Ok(())
}

fn purge_raw(db: &Path, older_than: u32) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let n = runtime.block_on(marketsync_cli::purge::purge_raw(
        db,
        older_than,
        chrono::Utc::now(),
    ))?;
    println!(
        "purged {n} raw payloads first seen more than {older_than} days ago from {}",
        db.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Schema { out } => schema(out),
        Command::PurgeRaw { older_than, db } => purge_raw(db, *older_than),
        Command::Demo {
            db,
            report,
            tmall_orders,
            shopify_orders,
            seed,
        } => demo(marketsync_cli::demo::DemoOptions {
            db: db.clone(),
            report: report.clone(),
            tmall_orders: *tmall_orders,
            shopify_orders: *shopify_orders,
            seed: *seed,
            ..marketsync_cli::demo::DemoOptions::default()
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
