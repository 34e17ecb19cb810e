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
use marketsync_pipeline::{Engine, EngineConfig, Store, StreamResult, SyncAllReport};
use marketsync_shopify::{ShopifyConfig, ShopifyConnector};
use marketsync_tmall::{TmallConfig, TmallConnector};
use marketsync_tryton::{TrytonAdapter, TrytonConfig};
use serde::Deserialize;

use crate::config::{ConfigError, ConnectorKind, ErpKind, RunConfig, Settings, StoreConfig};

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

/// The mapper: the configured rulebook, SKU map, and no FX rates (documents book in the
/// order's currency).
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
    let mut mapper = Mapper::new(Arc::new(rulebook), Arc::new(InMemoryRates::new()))?;
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

/// Everything `run` and `exceptions replay` drive: one engine per connector (each books in its
/// connector's entity), sharing the store, the ERP and the mapper.
pub struct Pipeline {
    /// The store.
    pub store: Arc<dyn Store>,
    /// (connector, its engine), in file order.
    pub lanes: Vec<(Arc<dyn MarketplaceConnector>, Engine)>,
    /// Seconds between passes.
    pub interval: Duration,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("store", &self.store.backend())
            .field("lanes", &self.lanes.len())
            .finish()
    }
}

impl Pipeline {
    /// Builds the pipeline a configuration describes (the SQLite file is created if missing).
    pub async fn build(config: &RunConfig) -> Result<Pipeline, BoxError> {
        let store = open_store(&config.store, true).await?;
        let erp = erp(config)?;
        let mapper = mapper(config)?;
        let conns = connectors(config)?;
        let mut lanes = Vec::new();
        for (i, (conn, section)) in conns.into_iter().zip(&config.connectors).enumerate() {
            let engine = Engine::new(
                store.clone(),
                erp.clone(),
                mapper.clone(),
                EngineConfig::new(
                    format!("{}-{}", config.engine.worker_id, i + 1),
                    section.entity.as_str(),
                    section.start.unwrap_or(config.engine.start),
                )
                .with_page_size(config.engine.page_size),
            );
            lanes.push((conn, engine));
        }
        Ok(Pipeline {
            store,
            lanes,
            interval: Duration::from_secs(config.engine.interval_secs.max(1)),
        })
    }

    /// The engine of the connector with this channel and shop.
    pub fn lane(
        &self,
        channel: &marketsync_core::Channel,
        shop: &marketsync_core::ShopId,
    ) -> Option<&(Arc<dyn MarketplaceConnector>, Engine)> {
        self.lanes
            .iter()
            .find(|(c, _)| &c.channel() == channel && &c.shop() == shop)
    }
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

/// Prints one pass's report per connector; returns how many streams failed.
pub fn print_pass(report: &SyncAllReport) -> usize {
    let mut failed = 0;
    for c in &report.connectors {
        let line = |name: &str, r: &StreamResult<marketsync_pipeline::SyncReport>| match r {
            StreamResult::Done(r) => format!(
                "{name}: {} fetched, {} posted ({} documents), {} duplicates, {} exceptions",
                r.fetched, r.posted, r.documents, r.duplicates, r.exceptions
            ),
            StreamResult::Unsupported => format!("{name}: not supported"),
            StreamResult::Failed(e) => format!("{name}: FAILED ({e})"),
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
            line("orders", &c.orders),
            line("refunds", &c.refunds),
            settlements
        );
    }
    failed
}

/// `marketsync run`: one pass (`once`) or passes every `interval` until Ctrl-C (the page in
/// hand completes and its cursor is saved). Returns the number of failed streams of the last
/// pass (`once`) or zero.
pub async fn run(config: &RunConfig, once: bool) -> Result<usize, BoxError> {
    let pipeline = Pipeline::build(config).await?;
    println!(
        "marketsync run: {} connector(s), store {}, config {}",
        pipeline.lanes.len(),
        pipeline.store.backend(),
        config.path.display()
    );
    if once {
        let mut failed = 0;
        for (conn, engine) in &pipeline.lanes {
            let bar = spinner(format!(
                "{} {}: syncing…",
                conn.channel(),
                conn.shop().as_str()
            ));
            let report = engine.sync_all(std::slice::from_ref(conn)).await;
            bar.finish_and_clear();
            failed += print_pass(&report);
        }
        return Ok(failed);
    }
    println!(
        "syncing every {} s; Ctrl-C stops after the pages in hand",
        pipeline.interval.as_secs()
    );
    let handles: Vec<_> = pipeline
        .lanes
        .iter()
        .map(|(_, e)| e.shutdown_handle())
        .collect();
    let stop = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping after the pages in hand…");
            for h in &handles {
                h.shutdown();
            }
        }
    });
    let runs = pipeline
        .lanes
        .iter()
        .map(|(conn, engine)| engine.run(std::slice::from_ref(conn), pipeline.interval));
    let results = futures_join_all(runs).await;
    stop.abort();
    for r in results {
        r?;
    }
    println!("stopped.");
    Ok(0)
}

/// Awaits every future, concurrently, in order.
async fn futures_join_all<F: std::future::Future>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out = Vec::with_capacity(set.len());
    // Poll all concurrently: drive them together with a simple select-all loop.
    let mut pending: Vec<Option<std::pin::Pin<Box<F>>>> = set.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.extend(results.into_iter().flatten());
    out
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
}
