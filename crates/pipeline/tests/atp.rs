//! Available-to-promise: oversell prevention across channels, delta pushes, compaction,
//! versions and retries, against the in-memory marketplaces.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use marketsync_core::{
    Channel, InventoryPosition, LocationId, MarketplaceConnector, Order, OrderStatus, ShopId, Sku,
};
use marketsync_pipeline::atp::{AtpEngine, AtpPolicy, ChannelAllocation, push};
use marketsync_testkit::{ChannelProfile, Generator, GeneratorConfig, InMemoryMarketplace, Rng};

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

fn position(sku: &str, on_hand: i64) -> InventoryPosition {
    InventoryPosition {
        sku: Sku::new(sku),
        location: LocationId::new("WH1"),
        on_hand,
        reserved: 0,
        available: on_hand,
        as_of: t0(),
    }
}

struct Shop {
    market: InMemoryMarketplace,
    connector: Arc<dyn MarketplaceConnector>,
}

fn shops() -> Vec<Shop> {
    [
        (Channel::Tmall, "tmall-flagship"),
        (Channel::Jd, "jd-pop-1"),
        (Channel::Shopify, "brand.myshopify.com"),
    ]
    .into_iter()
    .map(|(c, s)| {
        let market = InMemoryMarketplace::new(c, ShopId::new(s), "k");
        let connector: Arc<dyn MarketplaceConnector> = Arc::new(market.connector("k"));
        Shop { market, connector }
    })
    .collect()
}

fn policy(shops: &[Shop]) -> AtpPolicy {
    AtpPolicy {
        channels: shops
            .iter()
            .map(|s| ChannelAllocation::full(s.connector.channel(), s.connector.shop()))
            .collect(),
        ..AtpPolicy::default()
    }
}

/// One paid, unshipped order of `qty` units of `sku` on a shop.
fn order(generator: &mut Generator, shop: &Shop, sku: &str, qty: u32, n: usize) -> Order {
    let mut o = generator.order_for(&ChannelProfile::tmall());
    o.channel = shop.connector.channel();
    o.shop = shop.connector.shop();
    o.id = format!("{}-{n}", o.id).into();
    o.status = OrderStatus::AwaitingFulfilment;
    o.lines.truncate(1);
    o.lines[0].sku = Sku::new(sku);
    o.lines[0].quantity = qty;
    o.lines[0].quantity_shipped = 0;
    o
}

#[tokio::test]
async fn the_last_unit_sells_once_across_three_channels() {
    let shops = shops();
    let connectors: Vec<_> = shops.iter().map(|s| s.connector.clone()).collect();
    let mut engine = AtpEngine::new(policy(&shops));
    engine.on_stock(&[position("SKU-A", 5)]);
    let first = push(&mut engine, &connectors, t0()).await;
    assert_eq!((first.sent, first.applied), (3, 3));
    for s in &shops {
        assert_eq!(s.market.stock(&Sku::new("SKU-A")).unwrap().0, 5);
    }

    // Buyers arrive on random channels; a channel sells only what it shows. Each accepted
    // order is seen by the pipeline and the next micro-batch pushes the new ATP everywhere.
    let mut rng = Rng::new(7);
    let mut generator = Generator::new(GeneratorConfig::new(1));
    let mut sold = 0u32;
    let mut refused = 0u32;
    for n in 0..40 {
        let shop = &shops[rng.range(0, 2) as usize];
        let want = rng.range(1, 2) as u32;
        let shown = shop.market.stock(&Sku::new("SKU-A")).map_or(0, |(q, _)| q);
        if shown < want {
            refused += 1;
            continue;
        }
        sold += want;
        let o = order(&mut generator, shop, "SKU-A", want, n);
        engine.on_order(&o);
        let s = push(&mut engine, &connectors, t0() + Duration::seconds(n as i64)).await;
        assert!(s.failed.is_empty());
    }
    assert_eq!(sold, 5, "exactly the stock was sold, never more");
    assert!(refused > 0);
    for s in &shops {
        assert_eq!(
            s.market.stock(&Sku::new("SKU-A")).unwrap().0,
            0,
            "{:?} still shows stock",
            s.connector.channel()
        );
    }
    assert_eq!(engine.atp(&Sku::new("SKU-A")), 0);
}

#[tokio::test]
async fn shipping_and_cancelling_release_and_erp_stock_takes_over() {
    let shops = shops();
    let connectors: Vec<_> = shops.iter().map(|s| s.connector.clone()).collect();
    let mut engine = AtpEngine::new(policy(&shops));
    engine.on_stock(&[position("SKU-B", 10)]);
    push(&mut engine, &connectors, t0()).await;
    let mut generator = Generator::new(GeneratorConfig::new(2));
    let mut o = order(&mut generator, &shops[0], "SKU-B", 3, 1);
    engine.on_order(&o);
    engine.on_order(&o); // the same revision twice reserves once
    assert_eq!(engine.atp(&Sku::new("SKU-B")), 7);
    o.status = OrderStatus::Cancelled;
    engine.on_order(&o);
    assert_eq!(engine.atp(&Sku::new("SKU-B")), 10);
    push(&mut engine, &connectors, t0()).await;
    assert_eq!(shops[1].market.stock(&Sku::new("SKU-B")).unwrap().0, 10);
}

#[tokio::test]
async fn only_changes_are_pushed_and_bursts_compact() {
    let shops = shops();
    let connectors: Vec<_> = shops.iter().map(|s| s.connector.clone()).collect();
    let mut engine = AtpEngine::new(policy(&shops));
    let all: Vec<_> = (0..100)
        .map(|i| position(&format!("SKU-{i:03}"), 50))
        .collect();
    engine.on_stock(&all);
    let first = push(&mut engine, &connectors, t0()).await;
    assert_eq!(first.sent, 300);

    // The same stock again: nothing to push.
    engine.on_stock(&all);
    assert_eq!(push(&mut engine, &connectors, t0()).await.sent, 0);

    // Ten SKUs change three times inside one micro-batch.
    let before = engine.stats();
    for round in 1..=3 {
        let changed: Vec<_> = (0..10)
            .map(|i| position(&format!("SKU-{i:03}"), 50 - round))
            .collect();
        engine.on_stock(&changed);
    }
    let after_changes = engine.stats();
    assert_eq!(after_changes.changes_received - before.changes_received, 30);
    assert_eq!(
        after_changes.changes_compacted - before.changes_compacted,
        20
    );
    let s = push(&mut engine, &connectors, t0()).await;
    assert_eq!(s.sent, 30, "10 SKUs × 3 channels, only the latest quantity");
    assert_eq!(shops[2].market.stock(&Sku::new("SKU-000")).unwrap().0, 47);
    assert_eq!(shops[2].market.stock(&Sku::new("SKU-050")).unwrap().0, 50);
    let stats = engine.stats();
    let delta_share = stats.updates_emitted as f64 / (stats.pairs_evaluated.max(1)) as f64;
    println!("ATP stats: {stats:?}, emitted/evaluated = {delta_share:.2}");
}

#[tokio::test]
async fn failed_pushes_retry_with_higher_versions() {
    let shops = shops();
    let broken: Arc<dyn MarketplaceConnector> = Arc::new(shops[0].market.connector("wrong-key"));
    let mut engine = AtpEngine::new(AtpPolicy {
        channels: vec![ChannelAllocation::full(
            Channel::Tmall,
            ShopId::new("tmall-flagship"),
        )],
        ..AtpPolicy::default()
    });
    engine.on_stock(&[position("SKU-C", 4)]);
    let s = push(&mut engine, std::slice::from_ref(&broken), t0()).await;
    assert_eq!(s.failed.len(), 1);
    assert!(shops[0].market.stock(&Sku::new("SKU-C")).is_none());
    let good = vec![shops[0].connector.clone()];
    let s = push(&mut engine, &good, t0()).await;
    assert_eq!((s.sent, s.applied), (1, 1));
    let (qty, version) = shops[0].market.stock(&Sku::new("SKU-C")).unwrap();
    assert_eq!((qty, version), (4, 2), "the retry carries a higher version");
}

#[test]
fn allocation_rules() {
    let mut a = ChannelAllocation::full(Channel::Tmall, ShopId::new("s"));
    a.share_bps = 5_000;
    assert_eq!(a.quantity(9), 4);
    a.cap = Some(3);
    assert_eq!(a.quantity(100), 3);
    a.zero_at_or_below = Some(2);
    assert_eq!(a.quantity(5), 0, "share 2 is at the threshold");
    assert_eq!(a.quantity(-3), 0);
    let buffered = AtpPolicy {
        default_buffer: 2,
        channels: vec![ChannelAllocation::full(Channel::Jd, ShopId::new("j"))],
        ..AtpPolicy::default()
    };
    let mut engine = AtpEngine::new(buffered);
    engine.on_stock(&[position("SKU-D", 3)]);
    assert_eq!(engine.atp(&Sku::new("SKU-D")), 1);
    let updates = engine.micro_batch(t0());
    assert_eq!(updates[0].available, 1);
}

#[tokio::test]
async fn channels_get_their_own_skus_and_orders_reserve_erp_items() {
    let shops = shops();
    let connectors: Vec<_> = shops.iter().map(|s| s.connector.clone()).collect();
    let listing = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(item, sku)| (Sku::new(*item), Sku::new(*sku)))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let policy = AtpPolicy {
        channels: vec![
            ChannelAllocation::full(Channel::Tmall, ShopId::new("tmall-flagship"))
                .with_listings(listing(&[("ITEM-1", "SIM-00"), ("ITEM-2", "SIM-01")])),
            // JD lists only ITEM-1.
            ChannelAllocation::full(Channel::Jd, ShopId::new("jd-pop-1"))
                .with_listings(listing(&[("ITEM-1", "JD-1")])),
            ChannelAllocation::full(Channel::Shopify, ShopId::new("brand.myshopify.com")),
        ],
        ..AtpPolicy::default()
    };
    let mut engine = AtpEngine::new(policy);
    engine.on_stock(&[position("ITEM-1", 6), position("ITEM-2", 2)]);
    let s = push(&mut engine, &connectors, t0()).await;
    assert_eq!(s.sent, 5, "tmall 2 + jd 1 + shopify 2");
    assert_eq!(shops[0].market.stock(&Sku::new("SIM-00")).unwrap().0, 6);
    assert_eq!(shops[1].market.stock(&Sku::new("JD-1")).unwrap().0, 6);
    assert!(shops[1].market.stock(&Sku::new("ITEM-2")).is_none());
    assert_eq!(shops[2].market.stock(&Sku::new("ITEM-1")).unwrap().0, 6);

    // A Tmall order for SIM-00, resolved to ITEM-1, lowers ITEM-1 everywhere.
    let mut generator = Generator::new(GeneratorConfig::new(4));
    let o = order(&mut generator, &shops[0], "SIM-00", 4, 1);
    let items = [(
        o.lines[0].line_id.clone(),
        marketsync_core::ErpItemId::new("ITEM-1"),
    )]
    .into_iter()
    .collect();
    engine.on_order_resolved(&o, &items);
    let s = push(&mut engine, &connectors, t0()).await;
    assert_eq!(s.sent, 3);
    assert_eq!(shops[1].market.stock(&Sku::new("JD-1")).unwrap().0, 2);
    assert_eq!(shops[2].market.stock(&Sku::new("ITEM-1")).unwrap().0, 2);
    assert_eq!(
        engine.shown(
            &Channel::Tmall,
            &ShopId::new("tmall-flagship"),
            &Sku::new("SIM-00")
        ),
        Some(2)
    );
}
