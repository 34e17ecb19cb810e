//! What the operator commands share: opening the store, building the ERP adapter, the
//! connectors and one engine per connector from a [`RunConfig`], and `marketsync run`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use marketsync_core::{ErpAdapter, MarketplaceConnector};
use marketsync_mapping::{InMemoryRates, Mapper, Rulebook, SkuMap};
use marketsync_netsuite::{NetSuiteAdapter, NetSuiteConfig};
use marketsync_pipeline::store::postgres::{PgConfig, PgStore};
use marketsync_pipeline::store::sqlite::SqliteStore;
use marketsync_pipeline::{ConnectorReport, Engine, EngineConfig, Store, StreamResult};
use marketsync_shopify::{ShopifyConfig, ShopifyConnector};
use marketsync_tmall::{TmallConfig, TmallConnector};
use marketsync_tryton::{TrytonAdapter, TrytonConfig};
use serde::Deserialize;

use crate::config::{
    ConfigError, ConnectorKind, ErpKind, FxRateEntry, RunConfig, Settings, StoreConfig,
};

/// The boxed error the commands return.
pub type BoxError = Box<dyn std::error::Error>;

/// Opens the configured store. A SQLite file that does not exist is an error unless `create`.
pub async fn open_store(config: &StoreConfig, create: bool) -> Result<Arc<dyn Store>, BoxError> {
    match config {
        StoreConfig::Sqlite { path } => open_sqlite(path, create).await,
        StoreConfig::Postgres { conninfo, schema } => {
            let conninfo = conninfo.read("store.conninfo", Path::new("."))?;
            Ok(Arc::new(
                PgStore::connect(PgConfig::new(conninfo, schema.clone())).await?,
            ))
        }
    }
}

/// Opens a SQLite store file. A missing file is an error unless `create`.
pub async fn open_sqlite(path: &Path, create: bool) -> Result<Arc<dyn Store>, BoxError> {
    if !create && !path.is_file() {
        return Err(format!("no database at {}", path.display()).into());
    }
    Ok(Arc::new(SqliteStore::open(path).await?))
}

fn settings<T: for<'de> Deserialize<'de>>(settings: &Settings, what: &str) -> Result<T, BoxError> {
    from_table(settings.resolve()?, what)
}

fn from_table<T: for<'de> Deserialize<'de>>(table: toml::Table, what: &str) -> Result<T, BoxError> {
    // The table holds secrets: the error names the field, never echoes the table.
    T::deserialize(toml::Value::Table(table))
        .map_err(|e| ConfigError(format!("{what}: {}", e.message())).into())
}

/// The exchange rates of `[mapping.fx]`: its files (CSV or TOML), then its inline rates.
/// Empty without the section.
pub fn fx_rates(config: &RunConfig) -> Result<InMemoryRates, BoxError> {
    let mut rates = InMemoryRates::new();
    let Some(fx) = &config.mapping.fx else {
        return Ok(rates);
    };
    let mut add = |e: &FxRateEntry, what: &str| -> Result<(), BoxError> {
        let cur = |c: &str| {
            marketsync_core::Currency::new(c)
                .map_err(|_| ConfigError(format!("{what}: unknown currency {c:?}")))
        };
        let rate = rust_decimal::Decimal::from_str_exact(e.rate.trim()).map_err(|_| {
            ConfigError(format!(
                "{what}: rate {:?} is not a decimal (write it as a string: \"7.2345\")",
                e.rate
            ))
        })?;
        rates
            .insert(cur(&e.from)?, cur(&e.to)?, e.date, rate, e.source.clone())
            .map_err(|x| ConfigError(format!("{what}: {}", x.message())))?;
        Ok(())
    };
    for path in &fx.files {
        let what = format!("FX rates {}", path.display());
        if path.extension().is_some_and(|x| x == "toml") {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct RateFile {
                #[serde(default)]
                rate: Vec<FxRateEntry>,
            }
            let text = std::fs::read_to_string(path).map_err(|e| format!("{what}: {e}"))?;
            let file: RateFile =
                toml::from_str(&text).map_err(|e| ConfigError(format!("{what}: {e}")))?;
            for (i, e) in file.rate.iter().enumerate() {
                add(e, &format!("{what}: [[rate]] #{}", i + 1))?;
            }
        } else {
            // CSV: the header `date,from,to,rate,source` (the mapping crate's rate file).
            let file = std::fs::File::open(path).map_err(|e| format!("{what}: {e}"))?;
            let mut rdr = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(file);
            let header: Vec<String> = rdr
                .headers()
                .map_err(|e| ConfigError(format!("{what}: {e}")))?
                .iter()
                .map(str::to_owned)
                .collect();
            if header != ["date", "from", "to", "rate", "source"] {
                return Err(ConfigError(format!(
                    "{what}: the header must be date,from,to,rate,source"
                ))
                .into());
            }
            for (i, rec) in rdr.records().enumerate() {
                let what = format!("{what}: record {}", i + 1);
                let rec = rec.map_err(|e| ConfigError(format!("{what}: {e}")))?;
                let field = |n: usize| rec.get(n).unwrap_or("").to_owned();
                let date = chrono::NaiveDate::parse_from_str(&field(0), "%Y-%m-%d")
                    .map_err(|_| ConfigError(format!("{what}: invalid date {:?}", field(0))))?;
                if field(4).is_empty() {
                    return Err(ConfigError(format!("{what}: empty source")).into());
                }
                let e = FxRateEntry {
                    date,
                    from: field(1),
                    to: field(2),
                    rate: field(3),
                    source: field(4),
                };
                add(&e, &what)?;
            }
        }
    }
    for (i, e) in fx.rates.iter().enumerate() {
        add(e, &format!("[mapping.fx] rates #{}", i + 1))?;
    }
    Ok(rates)
}

/// The mapper: the configured rulebook, SKU map and exchange rates (`[mapping.fx]`).
pub fn mapper(config: &RunConfig) -> Result<Arc<Mapper>, BoxError> {
    let path = &config.mapping.rulebook;
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("rulebook {}: {e}", path.display()))?;
    let mut rulebook = if path.extension().is_some_and(|x| x == "json") {
        Rulebook::from_json_str(&text)?
    } else {
        Rulebook::from_toml_str(&text)?
    };
    if config.mapping.builtin_fee_tables {
        rulebook = rulebook.with_builtin_fee_tables();
    }
    let mut mapper = Mapper::new(Arc::new(rulebook), Arc::new(fx_rates(config)?))?;
    if let Some(path) = &config.mapping.sku_map {
        let map = if path.extension().is_some_and(|x| x == "csv") {
            let file = std::fs::File::open(path)
                .map_err(|e| format!("SKU map {}: {e}", path.display()))?;
            SkuMap::from_csv_reader(file)?
        } else {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("SKU map {}: {e}", path.display()))?;
            SkuMap::from_toml_str(&text)?
        };
        mapper = mapper.with_sku_map(Arc::new(map));
    }
    Ok(Arc::new(mapper))
}

/// The configured ERP adapter.
pub fn erp(config: &RunConfig) -> Result<Arc<dyn ErpAdapter>, BoxError> {
    Ok(match config.erp.kind {
        ErpKind::Netsuite => {
            let c: NetSuiteConfig = settings(&config.erp.settings, "[erp] netsuite")?;
            Arc::new(NetSuiteAdapter::new(c)?)
        }
        ErpKind::Tryton => {
            let c: TrytonConfig = settings(&config.erp.settings, "[erp] tryton")?;
            Arc::new(TrytonAdapter::new(c)?)
        }
    })
}

/// The configured connectors, in file order.
pub fn connectors(config: &RunConfig) -> Result<Vec<Arc<dyn MarketplaceConnector>>, BoxError> {
    build_connectors(config, false)
}

/// The (channel, shop) of each configured connector, without reading any secret.
pub fn connector_ids(
    config: &RunConfig,
) -> Result<Vec<(marketsync_core::Channel, marketsync_core::ShopId)>, BoxError> {
    Ok(build_connectors(config, true)?
        .iter()
        .map(|c| (c.channel(), c.shop()))
        .collect())
}

fn build_connectors(
    config: &RunConfig,
    placeholders: bool,
) -> Result<Vec<Arc<dyn MarketplaceConnector>>, BoxError> {
    let mut out: Vec<Arc<dyn MarketplaceConnector>> = Vec::new();
    for (i, c) in config.connectors.iter().enumerate() {
        let what = format!("[[connectors]] #{} ({:?})", i + 1, c.kind);
        let table = if placeholders {
            c.settings.with_placeholders()
        } else {
            c.settings.resolve()?
        };
        out.push(match c.kind {
            ConnectorKind::Tmall => {
                let t: TmallConfig = from_table(table, &what)?;
                Arc::new(TmallConnector::new(t)?)
            }
            ConnectorKind::Shopify => {
                let s: ShopifyConfig = from_table(table, &what)?;
                Arc::new(ShopifyConnector::new(s)?)
            }
        });
        if let Some(streams) = &c.streams {
            if let Some(last) = out.pop() {
                out.push(Arc::new(OnlyStreams::new(last, streams)));
            }
        }
    }
    Ok(out)
}

/// One connector and the engine that books its records (in its connector's entity).
pub struct Lane {
    /// The connector (limited to its configured streams), recording the settlements it
    /// returns for the settlement index.
    pub connector: Arc<dyn MarketplaceConnector>,
    /// The same connector, as the recorder.
    pub recorder: Arc<crate::settled::Recording>,
    /// Its engine.
    pub engine: Engine,
    /// The legal entity.
    pub entity: String,
}

/// Everything `run` and `exceptions replay` drive: one engine per connector (each books in its
/// connector's entity), sharing the store, the ERP and the mapper; with `[queue]`, each
/// entity's NATS work queue and workers; with `[inventory]`, the ATP push.
pub struct Pipeline {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The connectors and their engines, in file order.
    pub lanes: Vec<Lane>,
    /// Seconds between passes.
    pub interval: Duration,
    /// The work queues (one per entity), when `[queue]` is configured.
    pub queues: Vec<crate::work::EntityQueue>,
    /// The inventory push, when `[inventory]` is configured.
    pub inventory: Option<crate::inventory::Inventory>,
    /// How the workers wait for work: (poll, idle polls before a pass's drain ends).
    pub drain: (Duration, u32),
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("store", &self.store.backend())
            .field("lanes", &self.lanes.len())
            .field("queues", &self.queues)
            .field("inventory", &self.inventory)
            .finish()
    }
}

impl Pipeline {
    /// Builds the lanes a configuration describes (the SQLite file is created if missing),
    /// without the queue and the inventory push (what `exceptions replay` needs).
    pub async fn build(config: &RunConfig) -> Result<Pipeline, BoxError> {
        Pipeline::assemble(config, false).await
    }

    /// Builds everything `run` drives: the lanes, the NATS queues and workers (`[queue]`,
    /// connecting to NATS) and the inventory push (`[inventory]`).
    pub async fn build_for_run(config: &RunConfig) -> Result<Pipeline, BoxError> {
        Pipeline::assemble(config, true).await
    }

    async fn assemble(config: &RunConfig, full: bool) -> Result<Pipeline, BoxError> {
        let store = open_store(&config.store, true).await?;
        let erp = erp(config)?;
        let mapper = mapper(config)?;
        let conns = connectors(config)?;
        let inventory = if full {
            crate::inventory::Inventory::build(config, erp.clone(), &conns)?
        } else {
            None
        };
        let engine_for = |worker_id: String, entity: &str, start| {
            let engine = Engine::new(
                store.clone(),
                erp.clone(),
                mapper.clone(),
                EngineConfig::new(worker_id, entity, start).with_page_size(config.engine.page_size),
            );
            match &inventory {
                Some(inv) => engine.with_atp(inv.source()),
                None => engine,
            }
        };
        let mut lanes = Vec::new();
        for (i, (conn, section)) in conns.into_iter().zip(&config.connectors).enumerate() {
            let recorder = Arc::new(crate::settled::Recording::new(conn));
            let engine = engine_for(
                format!("{}-{}", config.engine.worker_id, i + 1),
                section.entity.as_str(),
                section.start.unwrap_or(config.engine.start),
            );
            lanes.push(Lane {
                connector: recorder.clone(),
                recorder,
                engine,
                entity: section.entity.clone(),
            });
        }
        let mut queues = Vec::new();
        if let (true, Some(q)) = (full, &config.queue) {
            let mut entities: Vec<&str> = config
                .connectors
                .iter()
                .map(|c| c.entity.as_str())
                .collect();
            entities.sort_unstable();
            entities.dedup();
            for entity in entities {
                let queue = crate::work::connect(q, entity).await?;
                let workers = (0..q.workers)
                    .map(|w| {
                        Arc::new(engine_for(
                            format!("{}-{entity}-w{}", config.engine.worker_id, w + 1),
                            entity,
                            config.engine.start,
                        ))
                    })
                    .collect();
                queues.push(crate::work::EntityQueue {
                    entity: entity.to_owned(),
                    queue,
                    workers,
                });
            }
        }
        Ok(Pipeline {
            store,
            lanes,
            interval: Duration::from_secs(config.engine.interval_secs.max(1)),
            queues,
            inventory,
            drain: (Duration::from_millis(200), 5),
        })
    }

    /// The lane of the connector with this channel and shop.
    pub fn lane(
        &self,
        channel: &marketsync_core::Channel,
        shop: &marketsync_core::ShopId,
    ) -> Option<&Lane> {
        self.lanes
            .iter()
            .find(|l| &l.connector.channel() == channel && &l.connector.shop() == shop)
    }

    /// Every engine's shutdown handle (lanes and workers).
    pub fn shutdown_handles(&self) -> Vec<marketsync_pipeline::ShutdownHandle> {
        self.lanes
            .iter()
            .map(|l| l.engine.shutdown_handle())
            .chain(
                self.queues
                    .iter()
                    .flat_map(|q| q.workers.iter().map(|w| w.shutdown_handle())),
            )
            .collect()
    }

    /// One pass: every connector's streams (with `[queue]`: orders published to NATS and
    /// worked off by the workers first, then refunds and settlements), the settlement index,
    /// then the inventory push.
    pub async fn pass(&self) -> PassReport {
        let mut report = PassReport::default();
        if self.queues.is_empty() {
            for lane in &self.lanes {
                let bar = spinner(format!(
                    "{} {}: syncing…",
                    lane.connector.channel(),
                    lane.connector.shop().as_str()
                ));
                report.connectors.push((
                    lane.engine.sync_connector(lane.connector.as_ref()).await,
                    None,
                ));
                bar.finish_and_clear();
            }
        } else {
            let mut published = Vec::new();
            for lane in &self.lanes {
                let Some(q) = self.queues.iter().find(|q| q.entity == lane.entity) else {
                    continue;
                };
                let bar = spinner(format!(
                    "{} {}: publishing orders to NATS…",
                    lane.connector.channel(),
                    lane.connector.shop().as_str()
                ));
                let publishing =
                    crate::work::Publishing::new(lane.connector.clone(), q.queue.clone());
                let orders = if lane.connector.capabilities().orders {
                    match lane.engine.sync_orders(&publishing).await {
                        Ok(r) => StreamResult::Done(r),
                        Err(e) => StreamResult::Failed(e),
                    }
                } else {
                    StreamResult::Unsupported
                };
                bar.finish_and_clear();
                published.push((orders, publishing.published()));
            }
            let bar = spinner("workers: taking the queued orders…".into());
            report.workers =
                Some(crate::work::drain(&self.queues, self.drain.0, self.drain.1).await);
            bar.finish_and_clear();
            for (lane, (orders, n)) in self.lanes.iter().zip(published) {
                let rest = OnlyStreams::new(
                    lane.connector.clone(),
                    &["refunds".to_owned(), "settlements".to_owned()],
                );
                let mut c = lane.engine.sync_connector(&rest).await;
                c.orders = orders;
                report.connectors.push((c, Some(n)));
            }
        }
        for lane in &self.lanes {
            let settlements = lane.recorder.take_settlements();
            if settlements.is_empty() {
                continue;
            }
            match crate::settled::index(self.store.as_ref(), &settlements, chrono::Utc::now()).await
            {
                Ok(n) => report.settlement_links += n,
                Err(e) => report.index_error = Some(e),
            }
        }
        if let Some(inv) = &self.inventory {
            report.inventory = Some(inv.push().await);
        }
        report
    }
}

/// What one pass of `run` did.
#[derive(Debug, Default)]
pub struct PassReport {
    /// Per connector: its streams, and with `[queue]` the orders it published.
    pub connectors: Vec<(ConnectorReport, Option<u64>)>,
    /// With `[queue]`: what the workers did.
    pub workers: Option<crate::work::DrainReport>,
    /// Order → settlement links saved for `trace`.
    pub settlement_links: usize,
    /// Why the settlement index could not be written, if it could not.
    pub index_error: Option<marketsync_core::Error>,
    /// With `[inventory]`: the push.
    pub inventory: Option<Result<crate::inventory::InventoryReport, marketsync_core::Error>>,
}

fn spinner(label: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(label);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Prints one pass's report; returns how many streams (and pushes, and workers) failed.
pub fn print_pass(report: &PassReport) -> usize {
    let mut failed = 0;
    for (c, published) in &report.connectors {
        let line = |name: &str, r: &StreamResult<marketsync_pipeline::SyncReport>| match r {
            StreamResult::Done(r) => format!(
                "{name}: {} fetched, {} posted ({} documents), {} duplicates, {} exceptions",
                r.fetched, r.posted, r.documents, r.duplicates, r.exceptions
            ),
            StreamResult::Unsupported => format!("{name}: not supported"),
            StreamResult::Failed(e) => format!("{name}: FAILED ({e})"),
        };
        let orders = match (published, &c.orders) {
            (Some(n), StreamResult::Done(r)) => {
                format!("orders: {n} published to NATS, {} exceptions", r.exceptions)
            }
            (Some(n), StreamResult::Failed(e)) => {
                format!("orders: FAILED after {n} published to NATS ({e})")
            }
            _ => line("orders", &c.orders),
        };
        let settlements = match &c.settlements {
            StreamResult::Done(r) => format!(
                "settlements: {} reconciled, {} variances",
                r.reconciled, r.variances
            ),
            StreamResult::Unsupported => "settlements: not supported".into(),
            StreamResult::Failed(e) => format!("settlements: FAILED ({e})"),
        };
        failed += c.failures().len();
        println!(
            "{} {}: {}; {}; {}",
            c.channel,
            c.shop.as_str(),
            orders,
            line("refunds", &c.refunds),
            settlements
        );
    }
    if let Some(w) = &report.workers {
        for (entity, (r, n)) in &w.entities {
            println!(
                "workers {entity} (NATS, {n}): {} handled, {} posted, {} duplicates or stale, {} exceptions, {} given back",
                r.acked, r.posted, r.dropped, r.exceptions, r.nacked
            );
        }
        for (entity, e) in &w.failed {
            println!("workers {entity}: a worker FAILED ({e}); the queue keeps its events");
            failed += 1;
        }
    }
    if report.settlement_links > 0 {
        println!(
            "trace index: {} order → settlement links",
            report.settlement_links
        );
    }
    if let Some(e) = &report.index_error {
        println!("trace index: FAILED ({e})");
        failed += 1;
    }
    match &report.inventory {
        None => {}
        Some(Ok(r)) => {
            println!(
                "inventory: {} items read, {} ATP updates pushed, {} applied, {} channel pushes failed",
                r.items_read,
                r.summary.sent,
                r.summary.applied,
                r.summary.failed.len()
            );
            for (channel, shop, e) in &r.summary.failed {
                println!(
                    "inventory: push to {channel} {} FAILED ({e}); retried next pass",
                    shop.as_str()
                );
                failed += 1;
            }
        }
        Some(Err(e)) => {
            println!("inventory: FAILED reading stock ({e}); retried next pass");
            failed += 1;
        }
    }
    failed
}

/// `marketsync run`: one pass (`once`) or passes every `interval` until Ctrl-C (the page in
/// hand completes and its cursor is saved). Returns the number of failures of the last pass
/// (`once`) or zero.
pub async fn run(config: &RunConfig, once: bool) -> Result<usize, BoxError> {
    let pipeline = Pipeline::build_for_run(config).await?;
    println!(
        "marketsync run: {} connector(s), store {}, config {}",
        pipeline.lanes.len(),
        pipeline.store.backend(),
        config.path.display()
    );
    if let Some(q) = &config.queue {
        println!(
            "work queue: NATS JetStream {}, {} worker(s) per entity ({}), {} partitions",
            q.url,
            q.workers,
            pipeline
                .queues
                .iter()
                .map(|q| q.entity.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            q.partitions
        );
    }
    if once {
        return Ok(print_pass(&pipeline.pass().await));
    }
    println!(
        "syncing every {} s; Ctrl-C stops after the pages in hand",
        pipeline.interval.as_secs()
    );
    let handles = pipeline.shutdown_handles();
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (stop, stopping) = (stop.clone(), stopping.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping after the pages in hand…");
                stopping.store(true, std::sync::atomic::Ordering::SeqCst);
                for h in &handles {
                    h.shutdown();
                }
                stop.notify_waiters();
            }
        })
    };
    while !stopping.load(std::sync::atomic::Ordering::SeqCst) {
        let report = pipeline.pass().await;
        let failed = print_pass(&report);
        tracing::info!(failed, "sync pass done");
        let notified = stop.notified();
        if stopping.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(pipeline.interval) => {}
            _ = notified => {}
        }
    }
    watcher.abort();
    println!("stopped.");
    Ok(0)
}

/// A connector limited to some of its streams (`streams = [...]` in the config): the streams
/// left out are not declared in its capabilities, so the engine does not walk them.
struct OnlyStreams {
    inner: Arc<dyn MarketplaceConnector>,
    caps: marketsync_core::ConnectorCapabilities,
}

impl OnlyStreams {
    fn new(inner: Arc<dyn MarketplaceConnector>, streams: &[String]) -> OnlyStreams {
        let mut caps = inner.capabilities();
        let on = |name: &str| streams.iter().any(|s| s == name);
        caps.orders &= on("orders");
        caps.returns &= on("refunds");
        caps.settlements &= on("settlements");
        OnlyStreams { inner, caps }
    }
}

#[async_trait::async_trait]
impl MarketplaceConnector for OnlyStreams {
    fn channel(&self) -> marketsync_core::Channel {
        self.inner.channel()
    }
    fn shop(&self) -> marketsync_core::ShopId {
        self.inner.shop()
    }
    fn capabilities(&self) -> marketsync_core::ConnectorCapabilities {
        self.caps
    }
    async fn health_check(&self) -> marketsync_core::Result<marketsync_core::Health> {
        self.inner.health_check().await
    }
    async fn fetch_orders(
        &self,
        query: &marketsync_core::FetchQuery,
    ) -> marketsync_core::Result<marketsync_core::Page<marketsync_core::Order>> {
        self.inner.fetch_orders(query).await
    }
    async fn fetch_returns(
        &self,
        query: &marketsync_core::FetchQuery,
    ) -> marketsync_core::Result<marketsync_core::Page<marketsync_core::Refund>> {
        self.inner.fetch_returns(query).await
    }
    async fn fetch_settlements(
        &self,
        query: &marketsync_core::FetchQuery,
    ) -> marketsync_core::Result<marketsync_core::Page<marketsync_core::Settlement>> {
        self.inner.fetch_settlements(query).await
    }
    async fn push_inventory(
        &self,
        updates: &[marketsync_core::InventoryUpdate],
    ) -> marketsync_core::Result<Vec<marketsync_core::InventoryAck>> {
        self.inner.push_inventory(updates).await
    }
    async fn confirm_shipment(
        &self,
        shipment: &marketsync_core::Shipment,
        key: &marketsync_core::IdempotencyKey,
    ) -> marketsync_core::Result<marketsync_core::ShipmentAck> {
        self.inner.confirm_shipment(shipment, key).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// A Tryton `[erp]` section builds the Tryton adapter, its password read from a file.
    #[test]
    fn tryton_erp_from_the_config() {
        let dir = std::env::temp_dir().join(format!("marketsync-ops-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tryton.secret"), "s3cret\n").unwrap();
        let erp_section = "[erp]\nkind = \"tryton\"\nurl = \"http://127.0.0.1:8000/\"\n\
             database = \"marketsync\"\nlogin = \"admin\"\ndefault_entity = \"CN01\"\n\
             companies = { CN01 = \"1\" }\n\
             secrets = { password = { file = \"tryton.secret\" } }\n";
        let example = crate::simulate::EXAMPLE_CONFIG;
        let start = example.find("[erp]").unwrap();
        let end = example.find("[[connectors]]").unwrap();
        let doc = format!("{}{erp_section}\n{}", &example[..start], &example[end..]);
        let config = RunConfig::parse(&doc, &dir.join("c.toml"), &dir).unwrap();
        assert_eq!(config.erp.kind, ErpKind::Tryton);
        let adapter = erp(&config).unwrap();
        assert_eq!(adapter.system(), "tryton");
        // Without the file: the error names it.
        std::fs::remove_file(dir.join("tryton.secret")).unwrap();
        let e = erp(&config).err().unwrap().to_string();
        assert!(e.contains("tryton.secret"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `[mapping.fx]`: a CSV file, a TOML file and inline rates merge into one table; a
    /// document dated D takes the latest rate dated on or before D, in the direction given.
    #[test]
    fn fx_rates_from_files_and_inline() {
        use marketsync_core::Currency;
        use marketsync_mapping::FxRates;
        let dir = std::env::temp_dir().join(format!("marketsync-fx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("rates.csv"),
            "date,from,to,rate,source\n2026-01-01,USD,EUR,0.9200,ECB\n2026-03-01,USD,EUR,0.9300,ECB\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("rates.toml"),
            "[[rate]]\ndate = 2026-01-01\nfrom = \"CNY\"\nto = \"USD\"\nrate = \"0.1380\"\nsource = \"PBOC\"\n",
        )
        .unwrap();
        let doc = format!(
            "{}\n[mapping.fx]\nfiles = [\"rates.csv\", \"rates.toml\"]\nrates = [{{ date = 2026-02-01, from = \"USD\", to = \"EUR\", rate = \"0.9250\", source = \"corporate\" }}]\n",
            crate::simulate::EXAMPLE_CONFIG
        );
        let config = RunConfig::parse(&doc, &dir.join("c.toml"), &dir).unwrap();
        let rates = fx_rates(&config).unwrap();
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let r = |from, to, d: &str| rates.rate(from, to, day(d));
        let got = r(Currency::USD, Currency::EUR, "2026-02-15").unwrap();
        assert_eq!(
            (got.rate.to_string(), got.as_of, got.source.as_str()),
            ("0.9250".to_owned(), day("2026-02-01"), "corporate")
        );
        assert_eq!(
            r(Currency::USD, Currency::EUR, "2026-03-01")
                .unwrap()
                .rate
                .to_string(),
            "0.9300"
        );
        assert_eq!(
            r(Currency::CNY, Currency::USD, "2026-06-30")
                .unwrap()
                .source,
            "PBOC"
        );
        // Before the first rate, and the inverse direction: none (never 1).
        assert!(r(Currency::USD, Currency::EUR, "2025-12-31").is_err());
        assert!(r(Currency::EUR, Currency::USD, "2026-06-30").is_err());

        // Bad files name the file and the record.
        std::fs::write(dir.join("rates.csv"), "day,from,to,rate,source\n").unwrap();
        let e = fx_rates(&config).unwrap_err().to_string();
        assert!(e.contains("rates.csv") && e.contains("header"), "{e}");
        std::fs::write(
            dir.join("rates.csv"),
            "date,from,to,rate,source\n2026-01-01,USD,EUR,-1,ECB\n",
        )
        .unwrap();
        let e = fx_rates(&config).unwrap_err().to_string();
        assert!(e.contains("record 1") && e.contains("non-positive"), "{e}");
        std::fs::write(
            dir.join("rates.csv"),
            "date,from,to,rate,source\n2026-01-01,USD,EUR,0.9x,ECB\n",
        )
        .unwrap();
        let e = fx_rates(&config).unwrap_err().to_string();
        assert!(e.contains("not a decimal"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
