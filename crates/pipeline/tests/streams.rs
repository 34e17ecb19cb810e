#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! One stream contract: every stream is read by the time the platform changed or published its
//! records, with a per-stream look-back; late and revised settlements are never missed and
//! never doubled; the connector's `max_window` is honoured; one entry point drives every
//! declared stream.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use marketsync_core::*;
use marketsync_mapping::receivable_residuals;
use marketsync_pipeline::atp::{AtpEngine, AtpPolicy, ChannelAllocation};
use marketsync_pipeline::{
    AtpSource, Engine, ManualClock, ShutdownHandle, StreamKind, StreamResult,
};
use marketsync_testkit::{
    ChannelProfile, Generator, GeneratorConfig, InMemoryConnector, InMemoryErp, InMemoryMarketplace,
};

struct Setup {
    engine: Engine,
    clock: ManualClock,
    erp: InMemoryErp,
    market: InMemoryMarketplace,
    generator: Generator,
    paid: Vec<Order>,
    profile: ChannelProfile,
}

async fn setup() -> Setup {
    let profile = ChannelProfile::tmall();
    let mut generator =
        Generator::new(GeneratorConfig::new(33).with_channels(vec![profile.clone()]));
    let orders = generator.orders(30);
    let market = InMemoryMarketplace::new(profile.channel.clone(), profile.shop.clone(), "secret");
    market.upsert_orders(&orders);
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let engine = engine(memory_store().await, Arc::new(erp.clone()), &clock, "w1");
    engine
        .sync_orders(&market.connector("secret"))
        .await
        .unwrap();
    let paid = orders.into_iter().filter(|o| o.status.is_paid()).collect();
    Setup {
        engine,
        clock,
        erp,
        market,
        generator,
        paid,
        profile,
    }
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 3600)
}

/// January 2026 and a bit: the period every generated order falls in.
fn period() -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let start = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap(); // 2026-01-01
    (start, start + chrono::Duration::days(40))
}

#[tokio::test]
async fn a_settlement_published_after_its_period_was_walked_is_fetched_by_a_later_pass() {
    let mut s = setup().await;
    let c = s.market.connector("secret");
    // First pass: nothing published yet; the stream's watermark moves to now (t0), long after
    // the period the statement will cover.
    let r = s.engine.sync_settlements(&c).await.unwrap();
    assert_eq!(r.fetched, 0);

    // The platform publishes the statement for January a day later.
    let (a, b) = period();
    let settlement = s.generator.settlement_for(&s.profile, &s.paid, &[], a, b);
    assert!(
        settlement.period_end < t0(),
        "the period was already walked"
    );
    s.clock.advance(days(1));
    s.market.publish_settlements(
        std::slice::from_ref(&settlement),
        s.engine.now() - chrono::Duration::hours(1),
    );
    s.clock.advance(days(1));
    let r = s.engine.sync_settlements(&c).await.unwrap();
    assert_eq!((r.fetched, r.reconciled, r.variances), (1, 1, 0), "{r:?}");
    assert!(r.journals >= 2, "{r:?}");
    let journals = s.erp.journals();
    assert_eq!(receivable_residuals(&journals).unwrap(), vec![]);

    // A statement the platform indexes late: published (by its own clock) before the pass
    // below walked past it, but visible only after that pass. The settlement look-back
    // (2 days by default) reads it on the next pass.
    let mut second = s
        .generator
        .settlement_for(&s.profile, &s.paid[..1], &[], a, b);
    second.id = SettlementId::new("late-indexed");
    second.payout = None;
    second
        .lines
        .retain(|l| !matches!(l.kind, SettlementLineKind::Payout));
    let published = s.engine.now() + chrono::Duration::hours(2);
    s.clock.advance(Duration::from_secs(3 * 3600));
    let r = s.engine.sync_settlements(&c).await.unwrap();
    assert_eq!(r.fetched, 1, "only the first statement, again: {r:?}");
    assert_eq!(r.duplicates, 1, "{r:?}");
    s.market
        .publish_settlements(std::slice::from_ref(&second), published);
    s.clock.advance(Duration::from_secs(3600));
    let r = s.engine.sync_settlements(&c).await.unwrap();
    assert_eq!(r.reconciled, 1, "the late-indexed statement: {r:?}");
}

#[tokio::test]
async fn without_a_lookback_a_late_indexed_statement_is_missed() {
    // The same late-indexed statement with the settlement look-back set to zero: the pass
    // that follows never reads back, so it is missed (what the look-back is for).
    let s = setup().await;
    let engine = Engine::new(
        memory_store().await,
        Arc::new(s.erp.clone()),
        mapper(),
        config("w2").with_lookback(StreamKind::Settlements, Duration::ZERO),
    )
    .with_time(Arc::new(s.clock.clone()), Arc::new(s.clock.clone()));
    let c = s.market.connector("secret");
    engine.sync_settlements(&c).await.unwrap();
    let (a, b) = period();
    let mut generator =
        Generator::new(GeneratorConfig::new(33).with_channels(vec![s.profile.clone()]));
    let late = generator.settlement_for(&s.profile, &s.paid, &[], a, b);
    s.market.publish_settlements(
        std::slice::from_ref(&late),
        engine.now() - chrono::Duration::hours(1),
    );
    s.clock.advance(days(1));
    let r = engine.sync_settlements(&c).await.unwrap();
    assert_eq!(r.fetched, 0, "{r:?}");
}

#[tokio::test]
async fn a_revised_settlement_reverses_what_was_booked_and_posts_the_new_journals_once() {
    let mut s = setup().await;
    let c = s.market.connector("secret");
    let (a, b) = period();
    let mut v1 = s.generator.settlement_for(&s.profile, &s.paid, &[], a, b);
    v1.revision = Revision::UpdatedAt(t0());
    s.market
        .publish_settlements(std::slice::from_ref(&v1), t0());
    s.clock.advance(days(1));
    let r = s.engine.sync_settlements(&c).await.unwrap();
    assert_eq!(r.reconciled, 1, "{r:?}");
    let booked = s.erp.journals().len();
    let v1_journals = r.journals as usize;

    // The platform re-issues the statement with one more fee (a late bill).
    let mut v2 = v1.clone();
    let revised_at = s.engine.now();
    v2.revision = Revision::UpdatedAt(revised_at);
    let fee = SettlementLine {
        kind: SettlementLineKind::Fee {
            code: v1
                .lines
                .iter()
                .find_map(|l| match &l.kind {
                    SettlementLineKind::Fee { code } => Some(code.clone()),
                    _ => None,
                })
                .expect("the generated settlement has a fee"),
        },
        amount: Money::from_minor(-100, v1.currency),
        order_id: s.paid.first().map(|o| o.id.clone()),
        reference: Some("late-bill-1".into()),
        posted_at: v1.period_end - chrono::Duration::hours(1),
        description: Some("a bill published late".into()),
    };
    v2.lines.push(fee);
    s.market
        .publish_settlements(std::slice::from_ref(&v2), revised_at);
    s.clock.advance(days(1));
    let r = s.engine.sync_settlements(&c).await.unwrap();
    assert_eq!((r.reconciled, r.amended), (1, 1), "{r:?}");
    let journals = s.erp.journals();
    // Every earlier journal reversed, the new ones posted.
    assert_eq!(journals.len(), booked + r.journals as usize);
    assert!(
        r.journals as usize > v1_journals,
        "reversals and new journals: {r:?}"
    );
    assert!(journals.iter().all(JournalEntry::is_balanced));
    assert!(
        journals
            .iter()
            .filter(|j| j.memo.starts_with("Reversal:"))
            .count()
            == v1_journals,
        "one reversal per journal booked for the first revision"
    );

    // Read again (the look-back re-reads it): a duplicate, nothing posted.
    let writes = s.erp.writes();
    s.clock.advance(Duration::from_secs(3600));
    let r = s.engine.sync_settlements(&c).await.unwrap();
    assert_eq!(r.duplicates, 1, "{r:?}");
    assert_eq!(s.erp.writes(), writes);

    // An older revision delivered late is stale; a newer revision with the same journals
    // posts nothing.
    let stream =
        marketsync_pipeline::StreamKey::new(v1.channel.clone(), v1.shop.clone(), "settlements");
    let o = s
        .engine
        .reconcile_settlement(&stream, v1.clone(), None)
        .await
        .unwrap();
    assert_eq!(o, marketsync_pipeline::SettlementOutcome::Duplicate);
    let mut v0 = v1.clone();
    v0.revision = Revision::UpdatedAt(t0() - chrono::Duration::days(1));
    let o = s
        .engine
        .reconcile_settlement(&stream, v0, None)
        .await
        .unwrap();
    assert_eq!(o, marketsync_pipeline::SettlementOutcome::Stale);
    let mut v3 = v2.clone();
    v3.revision = Revision::UpdatedAt(s.engine.now());
    let o = s
        .engine
        .reconcile_settlement(&stream, v3, None)
        .await
        .unwrap();
    assert!(
        matches!(
            o,
            marketsync_pipeline::SettlementOutcome::Reconciled { journals: 0, .. }
        ),
        "{o:?}"
    );
    assert_eq!(s.erp.writes(), writes);
}

/// A connector over the in-memory one that declares chosen capabilities and records every
/// query window per stream.
struct Declared {
    inner: InMemoryConnector,
    caps: ConnectorCapabilities,
    windows: Mutex<Vec<(&'static str, TimeWindow)>>,
    stop_after_settlements: Option<ShutdownHandle>,
}

impl Declared {
    fn new(inner: InMemoryConnector, caps: ConnectorCapabilities) -> Declared {
        Declared {
            inner,
            caps,
            windows: Mutex::new(Vec::new()),
            stop_after_settlements: None,
        }
    }

    fn windows(&self, stream: &str) -> Vec<TimeWindow> {
        self.windows
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, w)| *w)
            .collect()
    }

    fn saw(&self, stream: &'static str, q: &FetchQuery) {
        self.windows.lock().unwrap().push((stream, q.window));
    }
}

#[async_trait]
impl MarketplaceConnector for Declared {
    fn channel(&self) -> Channel {
        self.inner.channel()
    }
    fn shop(&self) -> ShopId {
        self.inner.shop()
    }
    fn capabilities(&self) -> ConnectorCapabilities {
        self.caps
    }
    async fn health_check(&self) -> Result<Health> {
        self.inner.health_check().await
    }
    async fn fetch_orders(&self, q: &FetchQuery) -> Result<Page<Order>> {
        self.saw("orders", q);
        self.inner.fetch_orders(q).await
    }
    async fn fetch_returns(&self, q: &FetchQuery) -> Result<Page<Refund>> {
        self.saw("refunds", q);
        if !self.caps.returns {
            return Err(Error::new(ErrorKind::Unsupported, "no refunds here"));
        }
        self.inner.fetch_returns(q).await
    }
    async fn fetch_settlements(&self, q: &FetchQuery) -> Result<Page<Settlement>> {
        self.saw("settlements", q);
        if let Some(h) = &self.stop_after_settlements {
            h.shutdown();
        }
        self.inner.fetch_settlements(q).await
    }
    async fn push_inventory(&self, u: &[InventoryUpdate]) -> Result<Vec<InventoryAck>> {
        self.inner.push_inventory(u).await
    }
    async fn confirm_shipment(
        &self,
        shipment: &Shipment,
        key: &IdempotencyKey,
    ) -> Result<ShipmentAck> {
        self.inner.confirm_shipment(shipment, key).await
    }
}

#[tokio::test]
async fn the_connectors_max_window_is_honoured() {
    let s = setup().await;
    let six_hours = Duration::from_secs(6 * 3600);
    let c = Declared::new(
        s.market.connector("secret"),
        ConnectorCapabilities::all().with_max_window(six_hours),
    );
    let fresh = || async {
        Engine::new(
            memory_store().await,
            Arc::new(InMemoryErp::new("erp")),
            mapper(),
            config("w3"),
        )
        .with_time(Arc::new(s.clock.clone()), Arc::new(s.clock.clone()))
    };
    let engine = fresh().await;
    let r = engine.sync_orders(&c).await.unwrap();
    assert!(r.posted > 0, "{r:?}");
    let windows = c.windows("orders");
    assert!(
        windows.len() > 300,
        "90 days in 6-hour windows: {}",
        windows.len()
    );
    assert!(
        windows
            .iter()
            .all(|w| w.end - w.start <= chrono::Duration::hours(6))
    );
    // The windows tile the range: each starts where the previous one ended.
    assert!(
        windows
            .windows(2)
            .all(|p| p[0].end <= p[1].start || p[0] == p[1])
    );
    assert_eq!(engine.max_window(&c), Some(six_hours));

    // The engine's own limit, when smaller, wins.
    let c2 = Declared::new(
        s.market.connector("secret"),
        ConnectorCapabilities::all().with_max_window(six_hours),
    );
    let mut cfg = config("w4");
    cfg.max_window = Some(Duration::from_secs(3600 * 24 * 30));
    let engine = Engine::new(
        memory_store().await,
        Arc::new(InMemoryErp::new("erp")),
        mapper(),
        cfg.with_max_window(Duration::from_secs(2 * 3600)),
    )
    .with_time(Arc::new(s.clock.clone()), Arc::new(s.clock.clone()));
    assert_eq!(engine.max_window(&c2), Some(Duration::from_secs(2 * 3600)));
    engine.sync_orders(&c2).await.unwrap();
    assert!(
        c2.windows("orders")
            .iter()
            .all(|w| w.end - w.start <= chrono::Duration::hours(2))
    );
}

#[tokio::test]
async fn sync_connector_drives_every_declared_stream_and_skips_the_others() {
    let s = setup().await;
    let mut caps = ConnectorCapabilities::none();
    caps.orders = true;
    caps.settlements = true;
    let c = Declared::new(s.market.connector("secret"), caps);
    let engine = Engine::new(
        memory_store().await,
        Arc::new(s.erp.clone()),
        mapper(),
        config("w5"),
    )
    .with_time(Arc::new(s.clock.clone()), Arc::new(s.clock.clone()));
    let r = engine.sync_connector(&c).await;
    assert!(r.failures().is_empty(), "{:?}", r.failures());
    assert!(r.orders.report().is_some_and(|o| o.posted > 0), "{r:?}");
    assert!(matches!(r.refunds, StreamResult::Unsupported), "{r:?}");
    assert!(r.settlements.report().is_some(), "{r:?}");
    assert!(
        c.windows("refunds").is_empty(),
        "an undeclared stream was called"
    );
    assert!(!c.windows("settlements").is_empty());
}

#[tokio::test]
async fn run_drives_orders_refunds_settlements_and_the_inventory_push() {
    let s = setup().await;
    let (a, b) = period();
    let mut generator =
        Generator::new(GeneratorConfig::new(33).with_channels(vec![s.profile.clone()]));
    let settlement = generator.settlement_for(&s.profile, &s.paid, &[], a, b);
    s.market.publish_settlements(
        std::slice::from_ref(&settlement),
        t0() - chrono::Duration::days(1),
    );
    let sku = Sku::new("ATP-SKU-1");
    s.erp.set_stock(sku.clone(), 40);
    let atp = AtpEngine::new(AtpPolicy {
        channels: vec![ChannelAllocation::full(
            s.profile.channel.clone(),
            s.profile.shop.clone(),
        )],
        ..AtpPolicy::default()
    });
    let erp = InMemoryErp::new("erp");
    erp.set_stock(sku.clone(), 40);
    let engine = Engine::new(
        memory_store().await,
        Arc::new(erp.clone()),
        mapper(),
        config("w6"),
    )
    .with_time(Arc::new(s.clock.clone()), Arc::new(s.clock.clone()))
    .with_atp(AtpSource::new(atp, vec![sku.clone()]));
    let mut c = Declared::new(s.market.connector("secret"), ConnectorCapabilities::all());
    // Stop the loop once the pass reaches the last stream.
    c.stop_after_settlements = Some(engine.shutdown_handle());
    let c: Arc<dyn MarketplaceConnector> = Arc::new(c);
    tokio::time::timeout(
        Duration::from_secs(60),
        engine.run(std::slice::from_ref(&c), Duration::from_secs(30)),
    )
    .await
    .expect("run stopped")
    .unwrap();
    // Every stream was walked: orders posted, the statement reconciled.
    let orders = erp.count(&ErpDocumentKind::SalesOrder);
    assert!(orders > 0, "no sales orders posted");
    let stream = marketsync_pipeline::StreamKey::new(
        s.profile.channel.clone(),
        s.profile.shop.clone(),
        "settlements",
    );
    let cursor = engine.store().cursor(&stream).await.unwrap();
    assert!(cursor.is_some(), "the settlement stream was not walked");
    let refunds = marketsync_pipeline::StreamKey::new(
        s.profile.channel.clone(),
        s.profile.shop.clone(),
        "refunds",
    );
    assert!(engine.store().cursor(&refunds).await.unwrap().is_some());

    // One pass with sync_all: the inventory push reaches the channel.
    let engine2 = Engine::new(
        memory_store().await,
        Arc::new(erp.clone()),
        mapper(),
        config("w7"),
    )
    .with_time(Arc::new(s.clock.clone()), Arc::new(s.clock.clone()))
    .with_atp(AtpSource::new(
        AtpEngine::new(AtpPolicy {
            channels: vec![ChannelAllocation::full(
                s.profile.channel.clone(),
                s.profile.shop.clone(),
            )],
            ..AtpPolicy::default()
        }),
        vec![sku.clone()],
    ));
    let plain: Arc<dyn MarketplaceConnector> = Arc::new(s.market.connector("secret"));
    let report = engine2.sync_all(std::slice::from_ref(&plain)).await;
    assert_eq!(report.connectors.len(), 1);
    assert!(report.connectors[0].failures().is_empty());
    let pushed = report.inventory.expect("an inventory push");
    let pushed = pushed.report().expect("the push ran");
    assert!(pushed.applied >= 1, "{pushed:?}");
    assert_eq!(s.market.stock(&sku).map(|(q, _)| q), Some(40));
}

#[tokio::test]
async fn a_lookback_longer_than_the_max_window_is_walked_forward_in_pieces() {
    let s = setup().await;
    let c = Declared::new(
        s.market.connector("secret"),
        ConnectorCapabilities::all().with_max_window(Duration::from_secs(6 * 3600)),
    );
    let engine = Engine::new(
        memory_store().await,
        Arc::new(InMemoryErp::new("erp")),
        mapper(),
        config("w8"),
    )
    .with_time(Arc::new(s.clock.clone()), Arc::new(s.clock.clone()));
    engine.sync_settlements(&c).await.unwrap();
    let first_pass = c.windows("settlements").len();
    s.clock.advance(Duration::from_secs(3600));
    engine.sync_settlements(&c).await.unwrap();
    let second: Vec<TimeWindow> = c.windows("settlements")[first_pass..].to_vec();
    // The pass re-reads two days before its watermark (t0), in 6-hour windows, up to now.
    assert_eq!(
        second.first().unwrap().start,
        t0() - chrono::Duration::days(2)
    );
    assert_eq!(second.last().unwrap().end, engine.now());
    assert_eq!(second.len(), 9, "{second:?}");
    assert!(second.windows(2).all(|p| p[0].end == p[1].start));
    assert!(
        second
            .iter()
            .all(|w| w.end - w.start <= chrono::Duration::hours(6))
    );
}

#[tokio::test]
async fn a_settlement_that_failed_to_post_is_replayed_from_the_exception_queue() {
    let mut s = setup().await;
    let (a, b) = period();
    let settlement = s.generator.settlement_for(&s.profile, &s.paid, &[], a, b);
    let stream = marketsync_pipeline::StreamKey::new(
        settlement.channel.clone(),
        settlement.shop.clone(),
        "settlements",
    );
    // The ERP fails and this worker does not retry: the settlement is queued.
    let impatient = Engine::new(
        s.engine.store().clone(),
        Arc::new(s.erp.clone()),
        mapper(),
        config("w9").with_retry(marketsync_pipeline::RetryPolicy {
            max_attempts: 1,
            ..marketsync_pipeline::RetryPolicy::default()
        }),
    )
    .with_time(Arc::new(s.clock.clone()), Arc::new(s.clock.clone()));
    s.erp.inject(marketsync_testkit::ErpFault::ServerError);
    let o = impatient
        .reconcile_settlement(&stream, settlement.clone(), None)
        .await
        .unwrap();
    let marketsync_pipeline::SettlementOutcome::Exception(id) = o else {
        panic!("expected an exception, got {o:?}");
    };
    // The ERP is back: the replay reconciles it, once.
    let before = s.erp.journals().len();
    let r = s.engine.replay_exception(id, "ops", None).await.unwrap();
    assert!(
        matches!(
            r,
            marketsync_pipeline::ReplayResult::Ran(
                marketsync_pipeline::EventOutcome::Posted { .. }
            )
        ),
        "{r:?}"
    );
    assert!(s.erp.journals().len() > before);
    // Replaying again does nothing: the exception is closed.
    let again = s.engine.replay_exception(id, "ops", None).await.unwrap();
    assert!(
        matches!(again, marketsync_pipeline::ReplayResult::NotOpen(_)),
        "{again:?}"
    );
}
