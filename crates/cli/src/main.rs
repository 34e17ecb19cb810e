//! The `marketsync` command.
//!
//! * `marketsync schema --out DIR` writes the JSON Schemas of the canonical model and of the
//!   mapping rulebook, for partner teams.
//! * `marketsync demo` runs the end-to-end demo (see the README).
//! * `marketsync purge-raw --older-than DAYS --db PATH` deletes archived raw payloads older
//!   than the retention (except those open exceptions still need).
//! * `marketsync run --config FILE [--once]` syncs real connectors into an ERP (with NATS
//!   JetStream workers, the ATP push and FX rates when configured).
//! * `marketsync exceptions list|show|replay`, `marketsync trace ORDER`, `marketsync report`:
//!   the operator's view of a store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use marketsync_cli::config::RunConfig;
use marketsync_cli::inspect::{self, Selection};
use marketsync_cli::logging::{self, LogFormat};
use marketsync_cli::ops::{self, BoxError};
use marketsync_core::{Channel, EventKind, ShopId};
use marketsync_pipeline::Store;
use marketsync_pipeline::store::ExceptionStatus;

/// Marketplace sales into ERP inventory and accounting.
#[derive(Parser)]
#[command(
    name = "marketsync",
    version,
    about = "Marketplace sales into ERP inventory and accounting: run the sync, work the exception queue, trace lineage, report, demo"
)]
struct Cli {
    /// Log line format (stderr); the filter comes from RUST_LOG (default `warn`).
    #[arg(long, value_enum, global = true, default_value = "pretty")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// Which store to read: the one a config file names, or a SQLite file.
#[derive(Args, Clone)]
#[group(required = true, multiple = false)]
struct StoreArgs {
    /// The `run` configuration whose store to use.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A SQLite store file.
    #[arg(long)]
    db: Option<PathBuf>,
}

/// Which exceptions.
#[derive(Args, Clone)]
struct SelectArgs {
    /// Only this reason code (e.g. `unknown_sku`).
    #[arg(long)]
    reason: Option<String>,
    /// Only this channel (e.g. `tmall`).
    #[arg(long)]
    channel: Option<String>,
    /// Only exceptions last seen on or after this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    since: Option<chrono::NaiveDate>,
    /// Only exceptions first seen on or before this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    until: Option<chrono::NaiveDate>,
}

impl SelectArgs {
    fn selection(&self, status: Option<ExceptionStatus>) -> Selection {
        Selection {
            status,
            reason: self.reason.clone(),
            channel: self.channel.clone(),
            since: self.since,
            until: self.until,
        }
    }
}

#[derive(Subcommand)]
enum ExceptionsCommand {
    /// List exceptions (default: open ones).
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        select: SelectArgs,
        /// open, resolved, replayed or all.
        #[arg(long, default_value = "open")]
        status: String,
    },
    /// Show one exception: its redacted canonical record and where its raw payload is.
    Show {
        #[command(flatten)]
        store: StoreArgs,
        /// The exception id.
        id: i64,
    },
    /// Replay one exception, or all open ones matching the filters, after a fix (audited).
    Replay {
        /// The `run` configuration (the ERP, rulebook and SKU map to replay with).
        #[arg(long)]
        config: PathBuf,
        /// Exception ids (none: every open exception matching the filters).
        ids: Vec<i64>,
        #[command(flatten)]
        select: SelectArgs,
        /// Who replays (kept in the audit trail).
        #[arg(long, default_value = "cli")]
        actor: String,
    },
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
    /// Sync the configured connectors into the ERP (through NATS JetStream workers with
    /// `[queue]`), then push available-to-promise (`[inventory]`): one pass (--once) or until
    /// Ctrl-C.
    Run {
        /// The configuration file (TOML; see `marketsync schema`, MarketsyncConfig.schema.json).
        #[arg(long)]
        config: PathBuf,
        /// One pass over every stream, then exit (status 1 when a stream, a worker or a push
        /// failed).
        #[arg(long)]
        once: bool,
    },
    /// The exception queue: list, show, replay.
    Exceptions {
        #[command(subcommand)]
        command: ExceptionsCommand,
    },
    /// An order's lineage: raw payload → canonical → ERP documents → settlement → payout.
    Trace {
        /// The order's id on its channel.
        order: String,
        #[command(flatten)]
        store: StoreArgs,
        /// The channel (default: every connector of the config).
        #[arg(long)]
        channel: Option<String>,
        /// The shop (with --channel).
        #[arg(long)]
        shop: Option<String>,
        /// What the id is: order, refund or settlement.
        #[arg(long, default_value = "order")]
        kind: String,
    },
    /// Start the TOP, Shopify and NetSuite simulators and write a configuration pointing at
    /// them (from examples/marketsync.toml); runs until Ctrl-C.
    Simulate {
        /// Where the configuration, rulebook and SKU map are written.
        #[arg(long, default_value = "marketsync-sim")]
        out: PathBuf,
        /// Tmall trades to generate.
        #[arg(long, default_value_t = 200)]
        tmall_orders: usize,
        /// Shopify orders to generate.
        #[arg(long, default_value_t = 40)]
        shopify_orders: usize,
    },
    /// Write the HTML report of a store.
    Report {
        #[command(flatten)]
        store: StoreArgs,
        /// HTML report file.
        #[arg(long, default_value = "marketsync-report.html")]
        out: PathBuf,
    },
    /// Write the JSON Schemas (2020-12) of the canonical model, the rulebook and the `run`
    /// configuration.
    Schema {
        /// Output directory (created if missing).
        #[arg(long, default_value = "schemas")]
        out: PathBuf,
    },
}

fn schema(out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    // The published set (model and rulebook, with index.json), as the library writes it.
    let written = marketsync_mapping::schema_set().write_dir(out)?;
    let config = out.join("MarketsyncConfig.schema.json");
    let text = serde_json::to_string_pretty(&marketsync_cli::config::config_schema())? + "\n";
    std::fs::write(&config, text)?;
    println!(
        "wrote {} files of schema version {} (the model, the rulebook, index.json) and {} to {}",
        written.len(),
        marketsync_core::schema::SCHEMA_VERSION,
        config.display(),
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

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

async fn store_of(args: &StoreArgs) -> Result<(Arc<dyn Store>, Option<RunConfig>), BoxError> {
    match (&args.config, &args.db) {
        (Some(c), _) => {
            let config = RunConfig::load(c)?;
            Ok((ops::open_store(&config.store, false).await?, Some(config)))
        }
        (None, Some(db)) => Ok((ops::open_sqlite(db, false).await?, None)),
        (None, None) => Err("give --config or --db".into()),
    }
}

fn run(config: &Path, once: bool) -> Result<(), BoxError> {
    let config = RunConfig::load(config)?;
    let failed = runtime()?.block_on(ops::run(&config, once))?;
    if failed > 0 {
        return Err(format!("{failed} stream(s) failed; the next pass resumes them").into());
    }
    Ok(())
}

fn exceptions(cmd: &ExceptionsCommand) -> Result<(), BoxError> {
    let rt = runtime()?;
    rt.block_on(async {
        match cmd {
            ExceptionsCommand::List {
                store,
                select,
                status,
            } => {
                let (store, _) = store_of(store).await?;
                let sel = select.selection(inspect::parse_status(status)?);
                print!("{}", inspect::list(store.as_ref(), &sel).await?);
            }
            ExceptionsCommand::Show { store, id } => {
                let (store, _) = store_of(store).await?;
                print!("{}", inspect::show(store.as_ref(), *id).await?);
            }
            ExceptionsCommand::Replay {
                config,
                ids,
                select,
                actor,
            } => {
                let config = RunConfig::load(config)?;
                let pipeline = ops::Pipeline::build(&config).await?;
                let (text, _, _) =
                    inspect::replay(&pipeline, ids, &select.selection(None), actor).await?;
                print!("{text}");
            }
        }
        Ok(())
    })
}

fn trace(
    order: &str,
    store: &StoreArgs,
    channel: Option<&str>,
    shop: Option<&str>,
    kind: &str,
) -> Result<(), BoxError> {
    let kind = match kind {
        "order" => EventKind::Order,
        "refund" => EventKind::Refund,
        "settlement" => EventKind::Settlement,
        other => return Err(format!("unknown kind {other:?} (order, refund, settlement)").into()),
    };
    runtime()?.block_on(async {
        let (st, config) = store_of(store).await?;
        let candidates = match (channel, shop, &config) {
            (Some(c), Some(s), _) => vec![(
                Channel::from_name(c).ok_or_else(|| format!("unknown channel {c:?}"))?,
                ShopId::new(s),
            )],
            (c, None, Some(config)) => ops::connector_ids(config)?
                .into_iter()
                .filter(|(ch, _)| c.is_none_or(|c| ch.name() == c))
                .collect(),
            _ => return Err::<(), BoxError>("give --channel and --shop (or --config)".into()),
        };
        print!(
            "{}",
            inspect::trace(st.as_ref(), kind, order, &candidates).await?
        );
        Ok(())
    })
}

fn simulate(out: &Path, tmall_orders: usize, shopify_orders: usize) -> Result<(), BoxError> {
    runtime()?.block_on(async {
        let sims = marketsync_cli::simulate::start(&marketsync_cli::simulate::SimOptions {
            out: out.to_path_buf(),
            tmall_orders,
            shopify_orders,
            ..Default::default()
        })
        .await?;
        println!(
            "simulators up: TOP {}, Shopify {}, NetSuite {}",
            sims.tmall.gateway(),
            sims.shopify.base_url,
            sims.netsuite.base_url()
        );
        println!(
            "wrote {} (with rulebook.toml and skus.toml)",
            sims.config.display()
        );
        println!("the simulators' credentials (test values, not secrets), for `run`:");
        for (var, value) in &sims.env {
            println!("export {var}={value}");
        }
        println!("Ctrl-C stops the simulators.");
        tokio::signal::ctrl_c().await?;
        Ok(())
    })
}

fn report(store: &StoreArgs, out: &Path) -> Result<(), BoxError> {
    runtime()?.block_on(async {
        let (st, _) = store_of(store).await?;
        let html = inspect::report(st, "marketsync report").await?;
        std::fs::write(out, html)?;
        println!("report: {}", out.display());
        Ok(())
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = logging::init(cli.log_format) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let result = match &cli.command {
        Command::Run { config, once } => run(config, *once),
        Command::Exceptions { command } => exceptions(command),
        Command::Trace {
            order,
            store,
            channel,
            shop,
            kind,
        } => trace(order, store, channel.as_deref(), shop.as_deref(), kind),
        Command::Report { store, out } => report(store, out),
        Command::Simulate {
            out,
            tmall_orders,
            shopify_orders,
        } => simulate(out, *tmall_orders, *shopify_orders),
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
