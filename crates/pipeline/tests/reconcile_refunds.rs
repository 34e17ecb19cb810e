#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A settlement that pays orders net of their refunds reconciles to zero: the refund reversals
//! booked by the refund stream count in the receivable, so no false `SettlementVariance`.

mod common;

use std::sync::Arc;

use common::*;
use marketsync_core::rust_decimal::Decimal;
use marketsync_pipeline::store::ExceptionFilter;
use marketsync_pipeline::{Engine, ManualClock};
use marketsync_testkit::{
    ChannelProfile, Generator, GeneratorConfig, InMemoryErp, InMemoryMarketplace,
};

#[tokio::test]
async fn refunded_orders_settle_without_variance() {
    let profile = ChannelProfile::tmall();
    let mut generator =
        Generator::new(GeneratorConfig::new(33).with_channels(vec![profile.clone()]));
    let orders = generator.orders(40);
    let refunds: Vec<_> = orders
        .iter()
        .filter_map(|o| generator.refund_for(o, 40))
        .collect();
    assert!(refunds.len() >= 3, "the seed gives a few refunds");
    let market = InMemoryMarketplace::new(profile.channel.clone(), profile.shop.clone(), "secret");
    market.upsert_orders(&orders);
    market.add_refunds(&refunds);
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = Engine::new(
        store.clone(),
        Arc::new(erp.clone()),
        mapper(),
        config("w1").with_settlement_tolerance(Decimal::ZERO),
    )
    .with_time(Arc::new(clock.clone()), Arc::new(clock.clone()));
    let c = market.connector("secret");
    engine.sync_orders(&c).await.unwrap();
    let r = engine.sync_refunds(&c).await.unwrap();
    assert_eq!(r.exceptions, 0, "{r:?}");

    let paid: Vec<_> = orders.into_iter().filter(|o| o.status.is_paid()).collect();
    let start = generator.config().start;
    let settlement = generator.settlement_for(
        &profile,
        &paid,
        &refunds,
        start,
        start + chrono::Duration::days(40),
    );
    market.add_settlements(std::slice::from_ref(&settlement));
    let s = engine.sync_settlements(&c).await.unwrap();
    assert_eq!(
        (s.reconciled, s.variances, s.unmatched_orders),
        (1, 0, 0),
        "{s:?}"
    );
    let open = store.exceptions(&ExceptionFilter::default()).await.unwrap();
    assert!(open.is_empty(), "no exception expected: {open:?}");
    assert!(erp.journals().iter().all(|j| j.is_balanced()));
}
