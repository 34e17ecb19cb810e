//! `marketsync demo`: the end-to-end run on the embedded default.
//!
//! Starts the Taobao/Tmall (TOP), Shopify Admin GraphQL and NetSuite REST simulators on
//! loopback, points the real connectors and the NetSuite adapter at them, and runs the sync
//! engine on an embedded SQLite store: orders are fetched page by page (signed requests,
//! throttling honoured), mapped by a versioned rulebook through a SKU map, and posted to
//! NetSuite idempotently. A second pass re-reads everything to show that nothing is doubled.
//! Refunds and settlements are fetched for the channel P&L. The summary goes to stdout and a
//! self-contained HTML report to disk.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Timelike, Utc};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use marketsync_core::{
    Channel, ConnectorCapabilities, ErpAdapter, FetchQuery, Health, IdempotencyKey, InventoryAck,
    InventoryUpdate, MarketplaceConnector, Order, Page, Refund, Result as MsResult, Settlement,
    Shipment, ShipmentAck, ShopId, Sku, TimeWindow,
};
use marketsync_mapping::{AliasKind, InMemoryRates, Mapper, Rulebook, SkuMap};
use marketsync_netsuite::{NetSuiteAdapter, NetSuiteConfig, TbaCredentials};
use marketsync_pipeline::Store;
use marketsync_pipeline::atp::{AtpEngine, AtpPolicy, ChannelAllocation, push};
use marketsync_pipeline::report::{KpiRecorder, PnlBuilder, TurnoverTracker};
use marketsync_pipeline::retry::{Decision, RetryPolicy};
use marketsync_pipeline::store::ExceptionFilter;
use marketsync_pipeline::store::sqlite::SqliteStore;
use marketsync_pipeline::{Engine, EngineConfig, StreamResult, SyncReport};
use marketsync_shopify::{ShopifyConfig, ShopifyConnector};
use marketsync_testkit::sim::{netsuite as ns_sim, shopify as shopify_sim, tmall as tmall_sim};
use marketsync_tmall::{ListingRef, TmallConfig, TmallConnector};

use crate::html::{ChannelSummary, ReportModel, render};

/// Demo settings.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// SQLite database file (replaced at the start).
    pub db: PathBuf,
    /// Where the HTML report goes.
    pub report: PathBuf,
    /// Tmall trades to seed.
    pub tmall_orders: usize,
    /// Shopify orders to seed.
    pub shopify_orders: usize,
    /// Seed of the simulators' data.
    pub seed: u64,
    /// Channel SKUs left out of the SKU map (their orders become `unknown_sku` exceptions).
    pub unmapped_skus: Vec<String>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            db: PathBuf::from("marketsync-demo.db"),
            report: PathBuf::from("marketsync-report.html"),
            tmall_orders: 2_000,
            shopify_orders: 400,
            seed: 2026,
            unmapped_skus: Vec::new(),
        }
    }
}

/// What the demo did, per channel and overall.
#[derive(Clone, Debug, Default)]
pub struct DemoSummary {
    /// Channel summaries (as printed).
    pub channels: Vec<ChannelSummary>,
    /// NetSuite documents created by the first pass.
    pub documents_first_pass: u64,
    /// NetSuite documents created by the second pass (zero: nothing doubled).
    pub documents_second_pass: u64,
    /// Sales orders the NetSuite simulator holds.
    pub netsuite_sales_orders: usize,
    /// Journal entries the NetSuite simulator holds.
    pub netsuite_journals: usize,
    /// ATP updates pushed to the channels, and how many they applied.
    pub inventory_updates: (usize, usize),
    /// Wall-clock duration.
    pub elapsed: Duration,
}

/// Wraps a connector and keeps a copy of every normalized order, refund and settlement it
/// returns (for the P&L), without changing what it does.
struct Recording<C> {
    inner: C,
    orders: Mutex<BTreeMap<String, Order>>,
    refunds: Mutex<BTreeMap<String, Refund>>,
    settlements: Mutex<BTreeMap<String, Settlement>>,
}

impl<C> Recording<C> {
    fn new(inner: C) -> Recording<C> {
        Recording {
            inner,
            orders: Mutex::new(BTreeMap::new()),
            refunds: Mutex::new(BTreeMap::new()),
            settlements: Mutex::new(BTreeMap::new()),
        }
    }

    fn refunds(&self) -> Vec<Refund> {
        self.refunds
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    fn settlements(&self) -> Vec<Settlement> {
        self.settlements
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    fn orders(&self) -> Vec<Order> {
        self.orders
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

#[async_trait]
impl<C: MarketplaceConnector> MarketplaceConnector for Recording<C> {
    fn channel(&self) -> Channel {
        self.inner.channel()
    }
    fn shop(&self) -> ShopId {
        self.inner.shop()
    }
    fn capabilities(&self) -> ConnectorCapabilities {
        self.inner.capabilities()
    }
    async fn health_check(&self) -> MsResult<Health> {
        self.inner.health_check().await
    }
    async fn fetch_orders(&self, query: &FetchQuery) -> MsResult<Page<Order>> {
        let page = self.inner.fetch_orders(query).await?;
        if let Ok(mut m) = self.orders.lock() {
            for o in page.ok_items() {
                // Keep the latest revision of each order.
                let newer = m
                    .get(o.id.as_str())
                    .is_none_or(|old| old.updated_at <= o.updated_at);
                if newer {
                    m.insert(o.id.to_string(), o.clone());
                }
            }
        }
        Ok(page)
    }
    async fn fetch_returns(&self, query: &FetchQuery) -> MsResult<Page<Refund>> {
        let page = self.inner.fetch_returns(query).await?;
        if let Ok(mut m) = self.refunds.lock() {
            for r in page.ok_items() {
                m.insert(r.id.to_string(), r.clone());
            }
        }
        Ok(page)
    }
    async fn fetch_settlements(&self, query: &FetchQuery) -> MsResult<Page<Settlement>> {
        let page = self.inner.fetch_settlements(query).await?;
        if let Ok(mut m) = self.settlements.lock() {
            for x in page.ok_items() {
                m.insert(x.id.to_string(), x.clone());
            }
        }
        Ok(page)
    }
    async fn push_inventory(&self, updates: &[InventoryUpdate]) -> MsResult<Vec<InventoryAck>> {
        self.inner.push_inventory(updates).await
    }
    async fn confirm_shipment(
        &self,
        shipment: &Shipment,
        key: &IdempotencyKey,
    ) -> MsResult<ShipmentAck> {
        self.inner.confirm_shipment(shipment, key).await
    }
}

/// The rulebook finance owns for the demo: two entities, roles mapped to the chart of
/// accounts NetSuite knows, tax and fee rules.
fn rulebook() -> Result<Rulebook, Box<dyn std::error::Error>> {
    let mut toml = String::from(
        r#"
version = "2026.11-demo"
rounding = "half_up"

[[entities]]
id = "CN01"
time_zone = "Asia/Shanghai"
functional_currency = "CNY"

[[entities]]
id = "US01"
time_zone = "America/New_York"
functional_currency = "USD"

[[tax_rules]]
type = "china_vat"
channels = ["tmall"]

# TOP bills name their charges by account id (taobao.bill.accounts.get): 5 is the Tmall
# commission, 7 the technical service fee.
[[fee_rules]]
type = "code_table"
channel = "tmall"
codes = { "account:5" = "commission_expense", "account:7" = "commission_expense" }

[[tax_rules]]
type = "sales_tax_exclusive"
channels = ["shopify"]

[[tax_rules]]
type = "eu_vat"
channels = ["shopify"]
rates = { DE = "0.19", FR = "0.20", GB = "0.20" }
"#,
    );
    let roles = [
        ("marketplace_receivable", "1122"),
        ("revenue", "6001"),
        ("shipping_income", "6051"),
        ("tax_payable", "2221"),
        ("refund_returns", "6002"),
        ("commission_expense", "6601"),
        ("fee_expense", "6602"),
        ("cash_clearing", "1012"),
        ("bank", "1002"),
        ("rounding", "6603"),
        ("fx_gain_loss", "6604"),
    ];
    for entity in ["CN01", "US01"] {
        for (role, account) in roles {
            toml.push_str(&format!(
                "\n[[accounts]]\nentity = \"{entity}\"\nrole = \"{role}\"\naccount = \"{account}\"\n"
            ));
        }
    }
    Ok(Rulebook::from_toml_str(&toml)?.with_builtin_fee_tables())
}

/// The demo's catalogue: NetSuite items (code, internal id) and the SKU each channel lists
/// them under. Tmall's simulator sells 4 items × 3 SKUs (`SIM-<item><sku>`, on listings
/// `num_iid` 612345678900 + item); Shopify's sells four variants.
struct Catalogue {
    /// (NetSuite item code, internal id, channel, channel SKU, Tmall num_iid).
    rows: Vec<(String, String, Channel, String, Option<u64>)>,
}

impl Catalogue {
    fn demo() -> Catalogue {
        let mut rows = Vec::new();
        for item in 0..4u64 {
            for sku in 0..3u64 {
                let n = item * 3 + sku + 1;
                rows.push((
                    format!("SKU-{n:04}"),
                    format!("{}", 1000 + n),
                    Channel::Tmall,
                    format!("SIM-{item}{sku}"),
                    Some(612_345_678_900 + item),
                ));
            }
        }
        for (i, sku) in ["SKU-A0", "SKU-A1", "SKU-A2", "SKU-B"].iter().enumerate() {
            let n = i as u64 + 9;
            rows.push((
                format!("SKU-{n:04}"),
                format!("{}", 1000 + n),
                Channel::Shopify,
                (*sku).to_owned(),
                None,
            ));
        }
        Catalogue { rows }
    }

    /// Channel SKUs → NetSuite item internal ids, for sales orders.
    fn sku_map(&self, unmapped: &[String]) -> Result<SkuMap, Box<dyn std::error::Error>> {
        let mut map = SkuMap::new();
        for (_, id, channel, sku, _) in &self.rows {
            if unmapped.contains(sku) {
                continue;
            }
            map = map.with(channel.clone(), AliasKind::SellerSku, sku, id.as_str())?;
        }
        Ok(map)
    }

    /// NetSuite item codes (what stock is read by).
    fn item_codes(&self) -> Vec<Sku> {
        let mut codes: Vec<Sku> = self.rows.iter().map(|r| Sku::new(&r.0)).collect();
        codes.sort();
        codes.dedup();
        codes
    }

    /// Internal id → item code.
    fn code_of(&self, internal_id: &str) -> Option<Sku> {
        self.rows
            .iter()
            .find(|r| r.1 == internal_id)
            .map(|r| Sku::new(&r.0))
    }

    /// Item code → the SKU a channel lists it under.
    fn listings(&self, channel: &Channel) -> BTreeMap<Sku, Sku> {
        self.rows
            .iter()
            .filter(|r| &r.2 == channel)
            .map(|r| (Sku::new(&r.0), Sku::new(&r.3)))
            .collect()
    }

    /// Tmall SKU code → listing, for stock pushes.
    fn tmall_listings(&self) -> BTreeMap<String, ListingRef> {
        self.rows
            .iter()
            .filter_map(|r| {
                r.4.map(|num_iid| {
                    (
                        r.3.clone(),
                        ListingRef {
                            num_iid,
                            item_level: false,
                        },
                    )
                })
            })
            .collect()
    }
}

fn netsuite_config(
    sim: &ns_sim::NetSuiteSim,
) -> Result<NetSuiteConfig, Box<dyn std::error::Error>> {
    let s = sim.config();
    let mut c = NetSuiteConfig::new(
        s.realm.to_ascii_lowercase().replace('_', "-"),
        TbaCredentials {
            consumer_key: s.consumer_key.clone(),
            consumer_secret: s.consumer_secret.clone(),
            token_id: s.token_id.clone(),
            token_secret: s.token_secret.clone(),
        },
        "101",
    );
    c.base_url = Some(sim.base_url().parse()?);
    c.max_concurrency = 4;
    c.time_zone = "Asia/Shanghai".into();
    c.channel_customers.insert("shopify".into(), "102".into());
    c.currencies = [("CNY", "5"), ("USD", "1"), ("EUR", "2")]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    c.subsidiaries.insert("CN01".into(), "1".into());
    c.subsidiaries.insert("US01".into(), "3".into());
    c.accounts = [
        ("1122", "210"),
        ("6001", "400"),
        ("6051", "400"),
        ("6002", "500"),
        ("2221", "220"),
        ("6601", "610"),
        ("6602", "610"),
        ("6603", "620"),
        ("6604", "620"),
        ("1012", "110"),
        ("1002", "110"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    c.shipping_item = Some("2001".into());
    c.discount_item = Some("2002".into());
    Ok(c)
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix:>8} [{elapsed_precise}] {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

async fn sync_with_progress(
    engine: &Engine,
    connector: &dyn MarketplaceConnector,
    bar: &ProgressBar,
    label: &str,
) -> Result<SyncReport, Box<dyn std::error::Error>> {
    bar.set_message(format!("{label}: syncing…"));
    let ticker = {
        let bar = bar.clone();
        tokio::spawn(async move {
            loop {
                bar.tick();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let result = engine.sync_orders(connector).await;
    ticker.abort();
    let report = result?;
    bar.set_message(format!(
        "{label}: {} pages, {} fetched, {} posted ({} documents), {} duplicates, {} exceptions",
        report.pages,
        report.fetched,
        report.posted,
        report.documents,
        report.duplicates,
        report.exceptions
    ));
    Ok(report)
}

/// The three platform simulators on loopback, as the demo and `marketsync simulate` run them,
/// and where their data starts.
pub(crate) struct Platforms {
    pub(crate) tmall: tmall_sim::TmallSim,
    pub(crate) shopify: shopify_sim::ShopifySim,
    pub(crate) netsuite: ns_sim::NetSuiteSim,
    /// Where the Tmall trades start.
    pub(crate) start: DateTime<Utc>,
    /// Where the Shopify orders start.
    pub(crate) shopify_start: DateTime<Utc>,
}

/// `t` truncated to the hour.
pub(crate) fn hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

/// Starts the TOP, Shopify and NetSuite simulators. Tmall trades are spread over 36 hours; the
/// Shopify simulator seeds one order every 55 minutes. Both data sets end in the past, so one
/// pass up to "now" reads them all. `unknown_status` seeds one trade with a status no
/// connector knows (an exception to show).
pub(crate) async fn start_platforms(
    seed: u64,
    tmall_orders: usize,
    shopify_orders: usize,
    unknown_status: bool,
) -> std::io::Result<Platforms> {
    let now = Utc::now();
    let start = hour(now - chrono::Duration::days(2));
    let shopify_start = hour(now - chrono::Duration::hours(shopify_orders as i64 + 3));
    let tmall = tmall_sim::start(tmall_sim::TmallSimConfig {
        seed,
        trades: tmall_orders,
        start,
        span: chrono::Duration::hours(36),
        unknown_status,
        ..tmall_sim::TmallSimConfig::default()
    })
    .await?;
    let shopify = shopify_sim::start(shopify_sim::ShopifySimConfig {
        // An enterprise-sized bucket (20,000 points, 2,000/s restore): throttling still
        // happens when the bucket runs dry, and the engine waits exactly as long as Shopify
        // says.
        maximum_available: 20_000.0,
        restore_rate: 2_000.0,
        window_start: shopify_start,
        order_count: shopify_orders,
        ..shopify_sim::ShopifySimConfig::default()
    })
    .await?;
    // NetSuite's default concurrency governance (5 requests at once).
    let netsuite = ns_sim::start(ns_sim::NetSuiteSimConfig::default()).await?;
    Ok(Platforms {
        tmall,
        shopify,
        netsuite,
        start,
        shopify_start,
    })
}

/// Runs the demo. Prints progress to stderr (when it is a terminal) and the summary to stdout.
pub async fn run(opts: &DemoOptions) -> Result<DemoSummary, Box<dyn std::error::Error>> {
    let started = Instant::now();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = opts.db.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    // The platforms.
    let Platforms {
        tmall,
        shopify,
        netsuite,
        start,
        shopify_start,
    } = start_platforms(opts.seed, opts.tmall_orders, opts.shopify_orders, true).await?;

    // The connectors and the ERP adapter, exactly as a user configures them.
    let tc = tmall.config();
    let mut tmall_config =
        TmallConfig::new(&tc.app_key, &tc.app_secret, &tc.session, "sim-flagship");
    tmall_config.gateway = tmall.gateway().to_owned();
    tmall_config.slice_minutes = 360;
    let catalogue = Catalogue::demo();
    tmall_config.listings = catalogue.tmall_listings();
    let tmall_conn = Arc::new(Recording::new(TmallConnector::new(tmall_config)?));
    let mut shopify_config = ShopifyConfig::new(
        "marketsync-demo.myshopify.com",
        shopify_sim::ShopifySimConfig::default().access_token,
    );
    shopify_config.endpoint = Some(shopify.base_url.parse()?);
    shopify_config.location_id = Some(shopify_sim::data::LOCATION.into());
    shopify_config.time_zone = "America/New_York".into();
    let shopify_conn = Arc::new(Recording::new(ShopifyConnector::new(shopify_config)?));
    let erp = Arc::new(NetSuiteAdapter::new(netsuite_config(&netsuite)?)?);

    // Mapping and the embedded store.
    let mapper = Arc::new(
        Mapper::new(Arc::new(rulebook()?), Arc::new(InMemoryRates::new()))?
            .with_sku_map(Arc::new(catalogue.sku_map(&opts.unmapped_skus)?)),
    );
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&opts.db).await?);
    let cn = Engine::new(
        store.clone(),
        erp.clone(),
        mapper.clone(),
        EngineConfig::new("demo-cn", "CN01", start).with_page_size(50),
    );
    let us = Engine::new(
        store.clone(),
        erp.clone(),
        mapper.clone(),
        EngineConfig::new("demo-us", "US01", shopify_start).with_page_size(50),
    );

    println!(
        "marketsync demo: {} Tmall trades and {} Shopify orders → NetSuite, store {} ({})",
        opts.tmall_orders,
        opts.shopify_orders,
        opts.db.display(),
        store.backend()
    );
    let multi = MultiProgress::new();
    let tbar = multi.add(
        ProgressBar::new_spinner()
            .with_style(style())
            .with_prefix("tmall"),
    );
    let sbar = multi.add(
        ProgressBar::new_spinner()
            .with_style(style())
            .with_prefix("shopify"),
    );
    let (t1, s1) = tokio::join!(
        sync_with_progress(&cn, tmall_conn.as_ref(), &tbar, "pass 1"),
        sync_with_progress(&us, shopify_conn.as_ref(), &sbar, "pass 1"),
    );
    let (t1, s1) = (t1?, s1?);
    let docs_after_first = (netsuite.count(ns_sim::RecordType::SalesOrder)
        + netsuite.count(ns_sim::RecordType::JournalEntry)) as u64;

    // Second pass: replay the whole range. Every event is already in the ledger.
    let end = Utc::now();
    let window = TimeWindow::new(start, end).ok_or("bad window")?;
    let shopify_window = TimeWindow::new(shopify_start, end).ok_or("bad window")?;
    let t2 = cn.replay_range(tmall_conn.as_ref(), window, "demo").await?;
    let s2 = us
        .replay_range(shopify_conn.as_ref(), shopify_window, "demo")
        .await?;
    tbar.finish_with_message(format!(
        "done: {} posted, pass 2: {} duplicates suppressed",
        t1.posted, t2.duplicates
    ));
    sbar.finish_with_message(format!(
        "done: {} posted, pass 2: {} duplicates suppressed",
        s1.posted, s2.duplicates
    ));
    let docs_after_second = (netsuite.count(ns_sim::RecordType::SalesOrder)
        + netsuite.count(ns_sim::RecordType::JournalEntry)) as u64;

    // Refunds, then settlements, through the same engine: one ERP document per event, and
    // each settlement reconciled against the orders it pays. Shopify: one pass over every
    // stream it declares (its orders are up to date; refunds, then payouts).
    let (tr, shopify_pass) = tokio::join!(
        cn.sync_refunds(tmall_conn.as_ref()),
        us.sync_connector(shopify_conn.as_ref())
    );
    let tr = tr?;
    if let StreamResult::Failed(e) = shopify_pass.orders {
        return Err(e.into());
    }
    let (sr, settled) = match (shopify_pass.refunds, shopify_pass.settlements) {
        (StreamResult::Failed(e), _) | (_, StreamResult::Failed(e)) => return Err(e.into()),
        (refunds, settlements) => (
            refunds.into_report().unwrap_or_default(),
            settlements.into_report().unwrap_or_default(),
        ),
    };
    // The order → settlement → payout links `marketsync trace` shows.
    crate::settled::index(store.as_ref(), &shopify_conn.settlements(), Utc::now()).await?;
    // TOP bills carry only the platform's charges (a sale's proceeds reach the seller's Alipay
    // balance, not the bill), so Tmall bills are read for the P&L's fees, not reconciled.
    fetch_all_settlements(tmall_conn.as_ref(), window).await?;

    // Inventory: NetSuite stock → available-to-promise → both channels, with the units sold
    // and not yet shipped on either channel reserved everywhere.
    let mut kpi = KpiRecorder::default();
    let atp_started = Instant::now();
    let mut atp = AtpEngine::new(AtpPolicy {
        default_buffer: 2,
        channels: vec![
            ChannelAllocation::full(tmall_conn.channel(), tmall_conn.shop())
                .with_listings(catalogue.listings(&Channel::Tmall)),
            ChannelAllocation::full(shopify_conn.channel(), shopify_conn.shop())
                .with_listings(catalogue.listings(&Channel::Shopify)),
        ],
        ..AtpPolicy::default()
    });
    let positions = erp.inventory_positions(&catalogue.item_codes()).await?;
    atp.on_stock(&positions);
    for o in tmall_conn
        .orders()
        .iter()
        .chain(shopify_conn.orders().iter())
    {
        // Reservations are by item code; orders resolve to NetSuite internal ids.
        let Ok(ids) = mapper.resolve_items(o) else {
            continue;
        };
        let items = ids
            .into_iter()
            .filter_map(|(line, id)| {
                catalogue
                    .code_of(id.as_str())
                    .map(|code| (line, marketsync_core::ErpItemId::new(code.as_str())))
            })
            .collect();
        atp.on_order_resolved(o, &items);
    }
    let connectors: Vec<Arc<dyn MarketplaceConnector>> =
        vec![tmall_conn.clone(), shopify_conn.clone()];
    let pushed = push(&mut atp, &connectors, Utc::now()).await;
    let latency = atp_started.elapsed();
    for _ in 0..pushed.applied {
        kpi.inventory_latency(latency);
    }
    for (channel, _, e) in &pushed.failed {
        eprintln!("inventory push to {channel} failed (retried next batch): {e}");
    }
    let mut turnover = TurnoverTracker::default();
    for c in &connectors {
        turnover.sample_stock(
            &c.channel(),
            &c.shop(),
            atp.shown_units(&c.channel(), &c.shop()),
        );
    }
    for o in tmall_conn
        .orders()
        .iter()
        .chain(shopify_conn.orders().iter())
    {
        turnover.add_sold(o);
    }
    kpi.inventory_turnover(&turnover);

    // Refunds and settlements for the P&L.
    let mut pnl = PnlBuilder::new(chrono_tz::Asia::Shanghai);
    let mut channels = Vec::new();
    let reconciled_at = Utc::now();
    for (conn, first, second, refunds, reconciled) in [
        (tmall_conn.as_ref() as &dyn RecordingView, &t1, &t2, &tr, 0),
        (
            shopify_conn.as_ref() as &dyn RecordingView,
            &s1,
            &s2,
            &sr,
            settled.reconciled,
        ),
    ] {
        for o in conn.recorded_orders() {
            pnl.add_order(&o)?;
        }
        for r in conn.recorded_refunds() {
            pnl.add_refund(&r)?;
        }
        for s in conn.recorded_settlements() {
            pnl.add_settlement(&s)?;
            if reconciled > 0 {
                if let Ok(cycle) = (reconciled_at - s.period_end).to_std() {
                    kpi.settlement_cycle(cycle);
                }
            }
        }
        let filter = ExceptionFilter {
            channel: Some(conn.connector().channel()),
            ..ExceptionFilter::default()
        };
        let mut exceptions: BTreeMap<String, u64> = BTreeMap::new();
        for e in store.exceptions(&filter).await? {
            *exceptions.entry(e.reason.to_string()).or_default() += 1;
            kpi.exception(&e.reason);
        }
        kpi.add(
            first.fetched + second.fetched,
            first.posted + first.no_effect + second.posted + second.no_effect,
            first.duplicates + second.duplicates,
        );
        channels.push(ChannelSummary {
            channel: conn.connector().channel().to_string(),
            orders_fetched: first.fetched,
            orders_posted: first.posted,
            duplicates_suppressed: first.duplicates + second.duplicates,
            refunds_posted: refunds.posted,
            settlements_reconciled: reconciled,
            exceptions,
        });
    }
    let pnl = pnl.build()?;
    let kpis = kpi.kpis();
    kpi.emit();

    let model = ReportModel {
        title: "marketsync demo — Tmall and Shopify into NetSuite".into(),
        generated_at: Utc::now().to_rfc3339(),
        channels: channels.clone(),
        pnl: pnl.clone(),
        kpis: kpis.clone(),
    };
    std::fs::write(&opts.report, render(&model))?;

    println!();
    println!(
        "{:<10} {:>8} {:>8} {:>12} {:>9} {:>12}  exceptions by reason",
        "channel", "fetched", "posted", "duplicates", "refunds", "settlements"
    );
    for c in &channels {
        println!(
            "{:<10} {:>8} {:>8} {:>12} {:>9} {:>12}  {:?}",
            c.channel,
            c.orders_fetched,
            c.orders_posted,
            c.duplicates_suppressed,
            c.refunds_posted,
            c.settlements_reconciled,
            c.exceptions
        );
    }
    println!(
        "settlements: {} reconciled, {} orders matched, {} variances, {} settled but never posted",
        settled.reconciled, settled.matched_orders, settled.variances, settled.unmatched_orders
    );
    println!();
    println!("channel P&L (net sales / fees / contribution):");
    for (k, r) in &pnl {
        let fees = r
            .total_fees()
            .unwrap_or(marketsync_core::Money::zero(k.currency));
        println!(
            "  {:<8} {:<24} {}  orders {:>5}  net {:>14}  fees {:>12}  contribution {:>14}",
            k.channel.to_string(),
            k.shop.as_str(),
            k.month,
            r.orders,
            r.net_sales.to_string(),
            fees.to_string(),
            r.contribution_margin.to_string()
        );
    }
    println!();
    println!(
        "inventory: {} ATP updates pushed, {} applied, {} channel pushes failed",
        pushed.sent,
        pushed.applied,
        pushed.failed.len()
    );
    println!(
        "KPIs: ingestion success {:.2}%, duplicate rate {:.2}%, exceptions {}, manual share {:.2}%",
        kpis.ingestion_success_rate * 100.0,
        kpis.duplicate_rate * 100.0,
        kpis.exceptions_by_reason.values().sum::<u64>(),
        kpis.manual_action_share * 100.0
    );
    let summary = DemoSummary {
        channels,
        documents_first_pass: docs_after_first,
        documents_second_pass: docs_after_second - docs_after_first,
        netsuite_sales_orders: netsuite.count(ns_sim::RecordType::SalesOrder),
        netsuite_journals: netsuite.count(ns_sim::RecordType::JournalEntry),
        inventory_updates: (pushed.sent, pushed.applied),
        elapsed: started.elapsed(),
    };
    println!(
        "NetSuite holds {} sales orders and {} journal entries; the second pass created {} documents.",
        summary.netsuite_sales_orders, summary.netsuite_journals, summary.documents_second_pass
    );
    println!(
        "report: {} ({:.1} s)",
        opts.report.display(),
        summary.elapsed.as_secs_f64()
    );
    Ok(summary)
}

trait RecordingView: Send + Sync {
    fn recorded_orders(&self) -> Vec<Order>;
    fn recorded_refunds(&self) -> Vec<Refund>;
    fn recorded_settlements(&self) -> Vec<Settlement>;
    fn connector(&self) -> &dyn MarketplaceConnector;
}

impl<C: MarketplaceConnector> RecordingView for Recording<C> {
    fn recorded_orders(&self) -> Vec<Order> {
        self.orders()
    }
    fn recorded_refunds(&self) -> Vec<Refund> {
        self.refunds()
    }
    fn recorded_settlements(&self) -> Vec<Settlement> {
        self.settlements()
    }
    fn connector(&self) -> &dyn MarketplaceConnector {
        self
    }
}

async fn fetch_all_settlements(
    c: &dyn MarketplaceConnector,
    window: TimeWindow,
) -> Result<Vec<Settlement>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    if !c.capabilities().settlements {
        return Ok(out);
    }
    // The pipeline's retry policy: temporary errors wait (honouring retry-after) up to its
    // caps; anything else ends the read.
    let policy = RetryPolicy::default();
    let rng = Mutex::new(0x5eed);
    let mut q = FetchQuery::new(window).with_page_size(50);
    loop {
        let mut attempts = policy.start(Utc::now(), &rng);
        let page = loop {
            match c.fetch_settlements(&q).await {
                Ok(p) => break p,
                Err(e) => match attempts.failed(&e, Utc::now()) {
                    Decision::RetryAfter(wait) => tokio::time::sleep(wait).await,
                    Decision::GiveUp => return Err(e.into()),
                },
            }
        };
        out.extend(page.ok_items().cloned());
        match page.next_cursor {
            Some(cur) => q = q.with_cursor(Some(cur)),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    //! The engine over the TOP simulator (HTTP): a bill TOP books on a day whose statement was
    //! already read revises that statement on a later pass — never missed, never doubled.

    use std::sync::Arc;

    use marketsync_core::{ErpAdapter, MarketplaceConnector};
    use marketsync_mapping::{InMemoryRates, Mapper};
    use marketsync_pipeline::store::sqlite::SqliteStore;
    use marketsync_pipeline::{Engine, EngineConfig, ManualClock};
    use marketsync_testkit::InMemoryErp;
    use marketsync_testkit::sim::tmall as tmall_sim;
    use marketsync_tmall::{TmallConfig, TmallConnector};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_late_tmall_bill_revises_its_day_statement_on_the_next_pass() {
        let sim = tmall_sim::start(tmall_sim::TmallSimConfig::default())
            .await
            .unwrap();
        let c = sim.config();
        let mut config = TmallConfig::new(&c.app_key, &c.app_secret, &c.session, "sim-flagship");
        config.gateway = sim.gateway().to_owned();
        let connector = TmallConnector::new(config).unwrap();
        let start = c.start;
        let erp = InMemoryErp::new("erp");
        let erp_dyn: Arc<dyn ErpAdapter> = Arc::new(erp.clone());
        let mapper = Arc::new(
            Mapper::new(
                Arc::new(super::rulebook().unwrap()),
                Arc::new(InMemoryRates::new()),
            )
            .unwrap(),
        );
        // The engine's clock: two days after the seeded trades.
        let clock = ManualClock::new(start + chrono::Duration::days(2));
        let engine = Engine::new(
            Arc::new(SqliteStore::in_memory().await.unwrap()),
            erp_dyn,
            mapper,
            EngineConfig::new("late-bills", "CN01", start),
        )
        .with_time(Arc::new(clock.clone()), Arc::new(clock.clone()));
        assert_eq!(
            engine.max_window(&connector),
            connector.capabilities().max_window,
            "TOP's one-day limit applies"
        );

        // First pass: the first day's statement, published at its close.
        let r = engine.sync_settlements(&connector).await.unwrap();
        assert_eq!((r.reconciled, r.amended), (1, 0), "{r:?}");
        let first = erp.journals();
        assert!(!first.is_empty());

        // TOP books a late bill on that day; the next pass (its look-back re-reads the day)
        // finds the revised statement: the booked journal is reversed and the new one posted.
        clock.advance(std::time::Duration::from_secs(3600));
        sim.publish_late_bill(engine.now()).unwrap();
        clock.advance(std::time::Duration::from_secs(3600));
        let r = engine.sync_settlements(&connector).await.unwrap();
        assert_eq!((r.reconciled, r.amended), (1, 1), "{r:?}");
        let after = erp.journals();
        assert_eq!(
            after.len(),
            first.len() * 3,
            "reversal and new journal per journal"
        );
        assert!(after.iter().all(marketsync_core::JournalEntry::is_balanced));

        // Read again later: nothing new.
        let writes = erp.writes();
        clock.advance(std::time::Duration::from_secs(3600));
        let r = engine.sync_settlements(&connector).await.unwrap();
        assert_eq!((r.reconciled, r.duplicates), (0, 1), "{r:?}");
        assert_eq!(erp.writes(), writes);
    }
}
