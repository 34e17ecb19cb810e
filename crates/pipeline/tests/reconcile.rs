#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Settlement reconciliation: settlements clear exactly what the posted orders created; any
//! difference lands in the residual queue as `SettlementVariance`, never forced to balance.

mod common;

use std::sync::Arc;

use common::*;
use marketsync_core::rust_decimal::Decimal;
use marketsync_core::*;
use marketsync_mapping::receivable_residuals;
use marketsync_pipeline::store::{ExceptionFilter, LineageQuery};
use marketsync_pipeline::{Engine, ExceptionStatus, ManualClock, RecordKey};
use marketsync_testkit::{
    ChannelProfile, Generator, GeneratorConfig, InMemoryErp, InMemoryMarketplace,
};

struct Setup {
    engine: Engine,
    erp: InMemoryErp,
    market: InMemoryMarketplace,
    store: Arc<dyn marketsync_pipeline::Store>,
    generator: Generator,
    paid: Vec<Order>,
    profile: ChannelProfile,
}

async fn setup(tolerance: Decimal) -> Setup {
    let profile = ChannelProfile::tmall();
    let mut generator =
        Generator::new(GeneratorConfig::new(21).with_channels(vec![profile.clone()]));
    let orders = generator.orders(40);
    let market = InMemoryMarketplace::new(profile.channel.clone(), profile.shop.clone(), "secret");
    market.upsert_orders(&orders);
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = Engine::new(
        store.clone(),
        Arc::new(erp.clone()),
        mapper(),
        config("w1").with_settlement_tolerance(tolerance),
    )
    .with_time(Arc::new(clock.clone()), Arc::new(clock.clone()));
    engine
        .sync_orders(&market.connector("secret"))
        .await
        .unwrap();
    let paid = orders.into_iter().filter(|o| o.status.is_paid()).collect();
    Setup {
        engine,
        erp,
        market,
        store,
        generator,
        paid,
        profile,
    }
}

fn month() -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let start = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap(); // 2026-01-01
    (start, start + chrono::Duration::days(40))
}

#[tokio::test]
async fn an_exact_settlement_clears_every_receivable_once() {
    let mut s = setup(Decimal::ZERO).await;
    let (a, b) = month();
    let settlement = s.generator.settlement_for(&s.profile, &s.paid, &[], a, b);
    s.market.add_settlements(std::slice::from_ref(&settlement));
    let c = s.market.connector("secret");
    let r = s.engine.sync_settlements(&c).await.unwrap();
    assert_eq!(
        (r.reconciled, r.variances, r.unmatched_orders),
        (1, 0, 0),
        "{r:?}"
    );
    assert_eq!(r.matched_orders as usize, s.paid.len());
    assert!(r.journals >= 2, "settlement and payout journals: {r:?}");
    // Every journal balances and the marketplace receivable is fully cleared.
    let journals = s.erp.journals();
    assert!(journals.iter().all(JournalEntry::is_balanced));
    assert_eq!(receivable_residuals(&journals).unwrap(), vec![]);
    // Lineage ties the journals to the settlement and the payout.
    let links = s
        .store
        .lineage(&LineageQuery::Record(RecordKey {
            channel: settlement.channel.clone(),
            shop: settlement.shop.clone(),
            kind: EventKind::Settlement,
            external_id: settlement.id.to_string(),
        }))
        .await
        .unwrap();
    assert!(
        links
            .iter()
            .all(|l| l.settlement_id.as_deref() == Some(settlement.id.as_str()))
    );
    let payout = settlement.payout.as_ref().unwrap().id.to_string();
    assert!(
        links
            .iter()
            .any(|l| l.role == "payout" && l.payout_id.as_deref() == Some(payout.as_str()))
    );
    // Delivered again (overlap, later pass): nothing is posted twice.
    let before = s.erp.writes();
    let stream = marketsync_pipeline::StreamKey::new(
        settlement.channel.clone(),
        settlement.shop.clone(),
        "settlements",
    );
    let again = s
        .engine
        .reconcile_settlement(&stream, settlement.clone(), None);
    assert_eq!(
        again.await.unwrap(),
        marketsync_pipeline::SettlementOutcome::Duplicate
    );
    assert_eq!(s.erp.writes(), before);
}

#[tokio::test]
async fn short_payments_and_unknown_orders_land_in_the_residual_queue() {
    let mut s = setup(Decimal::new(1, 2)).await; // 0.01 tolerance
    let (a, b) = month();
    // The marketplace paid one order 5.00 short, one 0.01 short (inside tolerance), and paid
    // an order marketsync never saw.
    let mut settled = s.paid.clone();
    let short = settled[0].id.clone();
    let tiny = settled[1].id.clone();
    let mut stranger = settled[2].clone();
    stranger.id = OrderId::new("40NEVERSEEN");
    settled.push(stranger);
    let mut settlement = s.generator.settlement_for(&s.profile, &settled, &[], a, b);
    for l in &mut settlement.lines {
        if l.kind == SettlementLineKind::Sale && l.order_id.as_ref() == Some(&short) {
            l.amount = l
                .amount
                .checked_sub(&Money::new(Decimal::new(500, 2), l.amount.currency))
                .unwrap();
        }
        if l.kind == SettlementLineKind::Sale && l.order_id.as_ref() == Some(&tiny) {
            l.amount = l
                .amount
                .checked_sub(&Money::new(Decimal::new(1, 2), l.amount.currency))
                .unwrap();
        }
    }
    s.market.add_settlements(std::slice::from_ref(&settlement));
    let r = s
        .engine
        .sync_settlements(&s.market.connector("secret"))
        .await
        .unwrap();
    assert_eq!((r.variances, r.unmatched_orders), (2, 1), "{r:?}");
    let queue = s
        .store
        .exceptions(&ExceptionFilter {
            status: Some(ExceptionStatus::Open),
            reason: Some(ReasonCode::SettlementVariance),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut ids: Vec<String> = queue.iter().filter_map(|x| x.external_id.clone()).collect();
    ids.sort();
    let mut want = vec![short.to_string(), "40NEVERSEEN".to_string()];
    want.sort();
    assert_eq!(ids, want);
    let short_x = queue
        .iter()
        .find(|x| x.external_id.as_deref() == Some(short.as_str()))
        .unwrap();
    let residual: Money =
        serde_json::from_value(short_x.canonical.as_ref().unwrap()["residual"].clone()).unwrap();
    assert_eq!(
        residual.amount,
        Decimal::new(500, 2),
        "the marketplace still owes 5.00"
    );
    // Never forced to balance: the open receivable stays on the books, and the journals balance.
    let journals = s.erp.journals();
    assert!(journals.iter().all(JournalEntry::is_balanced));
    let open = receivable_residuals(&journals).unwrap();
    assert_eq!(open.len(), 3, "{open:?}");
}
