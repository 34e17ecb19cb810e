#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Exception rows keep the canonical record with personal data masked (the store redacts at
//! its one write point), and a replay from that masked record still posts.

mod common;

use std::sync::Arc;

use common::*;
use marketsync_core::*;
use marketsync_pipeline::store::ExceptionFilter;
use marketsync_pipeline::{EventOutcome, ExceptionStatus, ManualClock, ReplayResult};
use marketsync_testkit::{
    ChannelProfile, ErpFault, Generator, GeneratorConfig, InMemoryErp, InMemoryMarketplace,
};

/// Every clear personal value of an order, as text.
fn personal_values(o: &Order) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(b) = o.buyer.as_ref().and_then(Pii::expose) {
        out.extend(b.name.clone());
        out.extend(b.email.clone());
        out.extend(b.phone.clone());
        out.extend(b.platform_id.clone());
    }
    if let Some(a) = o.ship_to.as_ref().and_then(Pii::expose) {
        out.extend(a.name.clone());
        out.extend(a.phone.clone());
        out.extend(a.lines.clone());
        out.extend(a.postal_code.clone());
    }
    out
}

#[tokio::test]
async fn exception_rows_are_masked_and_replay_still_posts() {
    let orders =
        Generator::new(GeneratorConfig::new(11).with_channels(vec![ChannelProfile::shopify()]))
            .orders(20);
    let o = orders
        .iter()
        .find(|o| o.status.is_paid() && personal_values(o).len() >= 4)
        .expect("a paid order with a clear buyer and address")
        .clone();
    let clear = personal_values(&o);
    let p = ChannelProfile::shopify();
    let m = InMemoryMarketplace::new(p.channel, p.shop, "secret");
    m.upsert_orders(std::slice::from_ref(&o));
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = engine(store.clone(), Arc::new(erp.clone()), &clock, "w1");
    for _ in 0..10 {
        erp.inject(ErpFault::ServerError);
    }
    let r = engine.sync_orders(&m.connector("secret")).await.unwrap();
    assert_eq!(r.exceptions, 1);
    let x = store
        .exceptions(&ExceptionFilter::default())
        .await
        .unwrap()
        .pop()
        .unwrap();
    let canonical = x.canonical.clone().expect("the canonical record is kept");
    let text = canonical.to_string();
    for v in &clear {
        assert!(!text.contains(v.as_str()), "{v:?} kept in clear: {text}");
    }
    let stored: Order = serde_json::from_value(canonical).unwrap();
    assert_eq!(stored.buyer.as_ref().map(Pii::state_name), Some("masked"));
    assert_eq!(stored.ship_to.as_ref().map(Pii::state_name), Some("masked"));
    assert_eq!(stored.lines, o.lines, "everything else is kept as it was");
    // The raw archive, and only it, keeps the payload as received.
    assert!(x.content_hash.is_some());

    // The ERP is back: the replay re-maps the masked record and posts.
    let result = engine.replay_exception(x.id, "ops", None).await.unwrap();
    assert!(
        matches!(result, ReplayResult::Ran(EventOutcome::Posted { .. })),
        "{result:?}"
    );
    assert_eq!(erp.count(&ErpDocumentKind::SalesOrder), 1);
    let x = store.exception(x.id).await.unwrap().unwrap();
    assert_eq!(x.status, ExceptionStatus::Replayed);
}
