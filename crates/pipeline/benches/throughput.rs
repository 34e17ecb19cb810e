//! Pipeline throughput on the embedded SQLite store, against a plain batched SQLite insert of
//! the same rows measured in the same run, and peak memory.
//!
//! ```text
//! cargo bench -p marketsync-pipeline --bench throughput                 # 20,000 orders
//! MARKETSYNC_BENCH_ORDERS=1000000 cargo bench -p marketsync-pipeline --bench throughput
//! ```
//!
//! The connector generates pages on the fly from the seeded generator (nothing is held in
//! memory), the store is a WAL file in the temp directory. Up to 100,000 orders the ERP is the
//! testkit's `InMemoryErp`; above, a counting ERP that keeps only the keys, so peak memory
//! (`VmHWM`) measures the pipeline, not the simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use marketsync_core::*;
use marketsync_mapping::*;
use marketsync_pipeline::store::sqlite::SqliteStore;
use marketsync_pipeline::{Engine, EngineConfig, Store};
use marketsync_testkit::{ChannelProfile, Generator, GeneratorConfig, InMemoryErp};

/// Generates `total` Tmall orders, page by page, in order.
struct Streaming {
    total: usize,
    next: Mutex<(usize, Generator)>,
}

#[async_trait]
impl MarketplaceConnector for Streaming {
    fn channel(&self) -> Channel {
        Channel::Tmall
    }
    fn shop(&self) -> ShopId {
        ChannelProfile::tmall().shop
    }
    fn capabilities(&self) -> ConnectorCapabilities {
        ConnectorCapabilities::all()
    }
    async fn health_check(&self) -> Result<Health, Error> {
        Ok(Health::ok())
    }
    async fn fetch_orders(&self, q: &FetchQuery) -> Result<Page<Order>, Error> {
        let size = q.page_size.unwrap_or(100) as usize;
        let mut g = self.next.lock().unwrap();
        let offset = q
            .cursor
            .as_ref()
            .and_then(|c| c.as_str().parse::<usize>().ok())
            .unwrap_or(0);
        assert_eq!(offset, g.0, "pages are fetched in order");
        let n = size.min(self.total - offset);
        let items = (0..n)
            .map(|_| {
                let mut o = g.1.order();
                let raw = RawRecord::json(serde_json::to_vec(&o).unwrap(), Some("bench"));
                o.raw = Some(raw.reference());
                Fetched::ok(o.id.to_string(), raw, o)
            })
            .collect();
        g.0 += n;
        Ok(Page {
            items,
            next_cursor: (g.0 < self.total).then(|| Cursor::new(g.0.to_string())),
        })
    }
    async fn fetch_returns(&self, _: &FetchQuery) -> Result<Page<Refund>, Error> {
        Ok(Page::last(Vec::new()))
    }
    async fn fetch_settlements(&self, _: &FetchQuery) -> Result<Page<Settlement>, Error> {
        Ok(Page::last(Vec::new()))
    }
    async fn push_inventory(&self, _: &[InventoryUpdate]) -> Result<Vec<InventoryAck>, Error> {
        Ok(Vec::new())
    }
}

/// An ERP that keeps only the keys it has seen (for the memory run).
#[derive(Default)]
struct Counting {
    keys: Mutex<HashSet<IdempotencyKey>>,
}

impl Counting {
    fn write(&self, key: &IdempotencyKey, kind: ErpDocumentKind) -> ErpDocumentRef {
        let mut k = self.keys.lock().unwrap();
        let created = k.insert(key.clone());
        ErpDocumentRef {
            id: ErpDocumentId::new(key.as_str()),
            kind,
            number: None,
            created,
        }
    }
}

#[async_trait]
impl ErpAdapter for Counting {
    fn system(&self) -> &str {
        "counting"
    }
    fn capabilities(&self) -> ErpCapabilities {
        ErpCapabilities::all()
    }
    async fn health_check(&self) -> Result<Health, Error> {
        Ok(Health::ok())
    }
    async fn upsert_sales_order(&self, r: &SalesOrderRequest) -> Result<ErpDocumentRef, Error> {
        Ok(self.write(&r.idempotency_key, ErpDocumentKind::SalesOrder))
    }
    async fn post_journal(&self, r: &JournalRequest) -> Result<ErpDocumentRef, Error> {
        r.entry.validate()?;
        Ok(self.write(&r.idempotency_key, ErpDocumentKind::JournalEntry))
    }
    async fn record_fulfilment(&self, r: &FulfilmentRequest) -> Result<ErpDocumentRef, Error> {
        Ok(self.write(&r.idempotency_key, ErpDocumentKind::Fulfilment))
    }
    async fn record_refund(&self, r: &RefundRequest) -> Result<ErpDocumentRef, Error> {
        Ok(self.write(&r.idempotency_key, ErpDocumentKind::Refund))
    }
    async fn inventory_positions(&self, _: &[Sku]) -> Result<Vec<InventoryPosition>, Error> {
        Ok(Vec::new())
    }
    async fn find_by_idempotency_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<ErpDocumentRef>, Error> {
        Ok(self
            .keys
            .lock()
            .unwrap()
            .contains(key)
            .then(|| ErpDocumentRef {
                id: ErpDocumentId::new(key.as_str()),
                kind: ErpDocumentKind::Other("any".into()),
                number: None,
                created: false,
            }))
    }
}

fn mapper() -> Arc<Mapper> {
    let e = "CN01";
    let mut accounts = AccountMap::new().with(e, AccountRole::fee(""), "6600");
    for (i, r) in AccountRole::SIMPLE.iter().enumerate() {
        accounts = accounts.with(e, r.clone(), format!("{}", 1000 + i));
    }
    let rb = Rulebook::new("bench")
        .with_entity(EntitySettings {
            id: e.into(),
            time_zone: TimeZoneId::shanghai(),
            functional_currency: Currency::CNY,
            posting_currency: PostingCurrency::Document,
        })
        .with_accounts(accounts)
        .with_builtin_fee_tables()
        .with_tax_rule(TaxRuleConfig::ChinaVat(ChinaVat::default()));
    Arc::new(Mapper::new(Arc::new(rb), Arc::new(InMemoryRates::new())).unwrap())
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb as f64 / 1024.0)
}

/// The same rows the pipeline writes per posted order — one raw payload, three ledger entries,
/// one head, one snapshot of the canonical order, two lineage links — inserted with plain
/// batched transactions (1,000 orders each), into tables with only their primary keys.
fn baseline(path: &std::path::Path, n: usize) -> Duration {
    let mut c = rusqlite::Connection::open(path).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "NORMAL").unwrap();
    c.execute_batch(
        "CREATE TABLE raw (hash TEXT PRIMARY KEY, media_type TEXT, source TEXT, bytes BLOB, first_seen BIGINT);
         CREATE TABLE ledger (key TEXT PRIMARY KEY, scope TEXT, state TEXT, owner TEXT, lease_until BIGINT,
             attempts BIGINT, erp_document TEXT, reason TEXT, created_at BIGINT, updated_at BIGINT);
         CREATE TABLE head (channel TEXT, shop TEXT, kind TEXT, external_id TEXT, revision TEXT, event_key TEXT,
             state TEXT, updated_at BIGINT, PRIMARY KEY (channel, shop, kind, external_id));
         CREATE TABLE lineage (document_key TEXT PRIMARY KEY, event_key TEXT, external_id TEXT, role TEXT,
             erp_document TEXT, at BIGINT);
         CREATE TABLE snapshot (channel TEXT, shop TEXT, kind TEXT, external_id TEXT, revision TEXT,
             body TEXT, updated_at BIGINT, PRIMARY KEY (channel, shop, kind, external_id));",
    )
    .unwrap();
    let mut g =
        Generator::new(GeneratorConfig::new(7).with_channels(vec![ChannelProfile::tmall()]));
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < n {
        // Prepare a batch first: only the inserts are timed.
        let rows: Vec<_> = (0..(n - done).min(1000))
            .map(|_| {
                let o = g.order();
                let bytes = serde_json::to_vec(&o).unwrap();
                let hash = ContentHash::of(&bytes);
                let body = String::from_utf8(bytes.clone()).unwrap();
                let key = IdempotencyKey::derive(
                    &o.channel,
                    &o.shop,
                    &EventKind::Order,
                    o.id.as_str(),
                    &o.revision,
                );
                (o.id.to_string(), bytes, hash, key, body)
            })
            .collect();
        done += rows.len();
        let started = Instant::now();
        let tx = c.transaction().unwrap();
        for (id, bytes, hash, key, body) in &rows {
            tx.execute(
                "INSERT INTO raw VALUES (?1, 'application/json', 'bench', ?2, 0)",
                rusqlite::params![hash.as_str(), bytes],
            )
            .unwrap();
            for k in [key.clone(), key.child("sales_order"), key.child("accrual")] {
                tx.execute(
                    "INSERT INTO ledger VALUES (?1, 'x', 'posted', 'w', 0, 1, 'D', NULL, 0, 0)",
                    rusqlite::params![k.as_str()],
                )
                .unwrap();
            }
            tx.execute(
                "INSERT INTO head VALUES ('tmall', 's', 'order', ?1, 'r', ?2, '{}', 0)",
                rusqlite::params![id, key.as_str()],
            )
            .unwrap();
            tx.execute(
                "INSERT INTO snapshot VALUES ('tmall', 's', 'order', ?1, 'r', ?2, 0)",
                rusqlite::params![id, body],
            )
            .unwrap();
            for k in [key.child("sales_order"), key.child("accrual")] {
                tx.execute(
                    "INSERT INTO lineage VALUES (?1, ?2, ?3, 'r', 'D', 0)",
                    rusqlite::params![k.as_str(), key.as_str(), id],
                )
                .unwrap();
            }
        }
        tx.commit().unwrap();
        total += started.elapsed();
    }
    total
}

fn main() {
    let n: usize = std::env::var("MARKETSYNC_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("marketsync-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (elapsed, report) = rt.block_on(async {
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(dir.join("pipeline.db")).await.unwrap());
        let erp: Arc<dyn ErpAdapter> = if n <= 100_000 {
            Arc::new(InMemoryErp::new("erp"))
        } else {
            Arc::new(Counting::default())
        };
        let start = DateTime::<Utc>::from_timestamp(1_764_547_200, 0).unwrap();
        let engine = Engine::new(
            store,
            erp,
            mapper(),
            EngineConfig::new("bench", "CN01", start).with_page_size(500),
        );
        let connector = Streaming {
            total: n,
            next: Mutex::new((
                0,
                Generator::new(
                    GeneratorConfig::new(7).with_channels(vec![ChannelProfile::tmall()]),
                ),
            )),
        };
        let started = Instant::now();
        let report = engine.sync_orders(&connector).await.unwrap();
        (started.elapsed(), report)
    });
    assert_eq!(report.fetched as usize, n);
    let peak = peak_rss_mib();
    let base = baseline(&dir.join("baseline.db"), n);
    let pipeline_rate = n as f64 / elapsed.as_secs_f64();
    let base_rate = n as f64 / base.as_secs_f64();
    println!("orders                      {n}");
    println!(
        "pipeline                    {:.2} s  {pipeline_rate:.0} orders/s  (posted {}, no effect {})",
        elapsed.as_secs_f64(),
        report.posted,
        report.no_effect
    );
    println!(
        "plain batched SQLite insert {:.2} s  {base_rate:.0} orders/s (same rows)",
        base.as_secs_f64()
    );
    // The two fixed lines benches/README.md and the pipeline README quote.
    println!(
        "ratio pipeline / plain {:.1}x",
        elapsed.as_secs_f64() / base.as_secs_f64()
    );
    match peak {
        Some(mib) => println!("peak memory {mib:.0} MiB"),
        None => println!("peak memory unknown MiB (no /proc/self/status)"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
