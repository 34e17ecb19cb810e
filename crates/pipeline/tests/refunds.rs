#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The refund stream: reversal journal and refund document once per refund, re-deliveries
//! post nothing, a refund ahead of its order waits in the exception queue and replays once the
//! order synced, a lost ERP response is looked up, not re-sent. In-memory SQLite store, manual
//! clock (no real sleeps).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use marketsync_core::*;
use marketsync_pipeline::engine::refund_document_key;
use marketsync_pipeline::store::{ExceptionFilter, LineageQuery};
use marketsync_pipeline::{
    CursorState, EventOutcome, ExceptionStatus, ManualClock, RecordKey, ReplayResult, Store,
    StreamKey,
};
use marketsync_testkit::{
    ChannelProfile, ErpFault, Generator, GeneratorConfig, InMemoryErp, InMemoryMarketplace,
};

/// Paid Tmall orders and, for the first `n` of them, a partial refund (less than the order).
fn orders_and_refunds(seed: u64, n: usize) -> (Vec<Order>, Vec<Refund>) {
    let mut g =
        Generator::new(GeneratorConfig::new(seed).with_channels(vec![ChannelProfile::tmall()]));
    let orders: Vec<Order> = g
        .orders(200)
        .into_iter()
        .filter(|o| o.status.is_paid())
        .collect();
    let mut refunds = Vec::new();
    for o in &orders {
        if refunds.len() == n {
            break;
        }
        if let Some(r) = g.refund_for(o, 100) {
            let total = o.totals().unwrap().buyer_total;
            if r.total.checked_cmp(&total).unwrap() == std::cmp::Ordering::Less {
                refunds.push(r);
            }
        }
    }
    assert_eq!(refunds.len(), n);
    (orders, refunds)
}

fn market() -> InMemoryMarketplace {
    let p = ChannelProfile::tmall();
    InMemoryMarketplace::new(p.channel, p.shop, "secret")
}

fn order_key(r: &Refund) -> RecordKey {
    RecordKey {
        channel: r.channel.clone(),
        shop: r.shop.clone(),
        kind: EventKind::Order,
        external_id: r.order_id.to_string(),
    }
}

async fn open_exceptions(store: &Arc<dyn Store>) -> Vec<marketsync_pipeline::ExceptionRecord> {
    store
        .exceptions(&ExceptionFilter {
            status: Some(ExceptionStatus::Open),
            ..ExceptionFilter::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_partial_refund_posts_one_reversal_and_one_refund_document_once() {
    let (orders, refunds) = orders_and_refunds(11, 1);
    let refund = &refunds[0];
    let m = market();
    m.upsert_orders(&orders);
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = engine(store.clone(), Arc::new(erp.clone()), &clock, "w1");
    let c = m.connector("secret");
    engine.sync_orders(&c).await.unwrap();
    let journals_before = erp.count(&ErpDocumentKind::JournalEntry);

    // The order's snapshot is kept without personal data.
    let snap = store.snapshot(&order_key(refund)).await.unwrap().unwrap();
    let kept: Order = serde_json::from_value(snap.body).unwrap();
    assert!(kept.buyer.is_none() && kept.ship_to.is_none());

    // Delivered twice in one page: the second is a duplicate.
    m.add_refunds(&[refund.clone(), refund.clone()]);
    let r = engine.sync_refunds(&c).await.unwrap();
    assert_eq!(
        (r.fetched, r.posted, r.documents, r.duplicates, r.exceptions),
        (2, 1, 2, 1, 0)
    );
    assert_eq!(erp.count(&ErpDocumentKind::Refund), 1);
    assert_eq!(
        erp.count(&ErpDocumentKind::JournalEntry),
        journals_before + 1
    );
    let all = erp.journals();
    assert!(all.iter().all(JournalEntry::is_balanced));
    // The reversal is exactly the mapper's, and clears the refund from the receivable.
    let order = orders.iter().find(|o| o.id == refund.order_id).unwrap();
    let ctx = marketsync_mapping::Context::new(ENTITY);
    let expected = mapper().refund_reversal(refund, order, &ctx).unwrap();
    assert_eq!(all.last(), Some(&expected));
    let accrual = mapper().order_accrual(order, &ctx).unwrap();
    let residuals =
        marketsync_mapping::receivable_residuals(&[accrual.clone(), expected.clone()]).unwrap();
    let open = residuals
        .iter()
        .find(|x| x.order_id.as_deref() == Some(order.id.as_str()))
        .unwrap();
    let receivable = order.totals().unwrap().seller_receivable;
    assert_eq!(open.amount, receivable.checked_sub(&refund.total).unwrap());
    assert_eq!(
        engine
            .refund_reversals_of(&order_key(refund))
            .await
            .unwrap(),
        vec![expected]
    );
    // The refund document is the refund, keyed per refund, against the order's sales order.
    let doc = erp
        .documents()
        .into_iter()
        .find(|d| d.reference.kind == ErpDocumentKind::Refund)
        .unwrap();
    assert_eq!(doc.key, refund_document_key(refund));

    // Lineage: refund → its documents; order → sales order, accrual, refund, reversal.
    let rec = RecordKey {
        kind: EventKind::Refund,
        external_id: refund.id.to_string(),
        ..order_key(refund)
    };
    let under_refund: BTreeSet<String> = store
        .lineage(&LineageQuery::Record(rec))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.role)
        .collect();
    assert_eq!(
        under_refund,
        BTreeSet::from(["refund".to_owned(), "refund_reversal".to_owned()])
    );
    let under_order: BTreeSet<String> = store
        .lineage(&LineageQuery::Record(order_key(refund)))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.role)
        .collect();
    assert_eq!(
        under_order,
        ["accrual", "refund", "refund_reversal", "sales_order"]
            .into_iter()
            .map(String::from)
            .collect::<BTreeSet<_>>()
    );

    // The whole stream delivered again (the cursor lost): nothing new, nothing written.
    let stream = StreamKey::new(refund.channel.clone(), refund.shop.clone(), "refunds");
    store
        .save_cursor(&stream, &CursorState::default(), t0())
        .await
        .unwrap();
    clock.advance(Duration::from_secs(3600));
    let writes = erp.writes();
    let r2 = engine.sync_refunds(&c).await.unwrap();
    assert_eq!((r2.fetched, r2.posted, r2.duplicates), (2, 0, 2), "{r2:?}");
    assert_eq!(erp.writes(), writes, "a re-delivery wrote to the ERP");
    assert_eq!(erp.count(&ErpDocumentKind::Refund), 1);
    assert!(open_exceptions(&store).await.is_empty());
}

#[tokio::test]
async fn a_refund_ahead_of_its_order_waits_in_the_exception_queue_and_replays() {
    let (orders, refunds) = orders_and_refunds(12, 1);
    let refund = &refunds[0];
    let m = market();
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = engine(store.clone(), Arc::new(erp.clone()), &clock, "w1");
    let c = m.connector("secret");

    m.add_refunds(std::slice::from_ref(refund));
    let r = engine.sync_refunds(&c).await.unwrap();
    assert_eq!((r.posted, r.exceptions), (0, 1));
    assert_eq!(erp.writes(), 0, "nothing may post before the order");
    let open = open_exceptions(&store).await;
    assert_eq!(open.len(), 1);
    let x = &open[0];
    assert_eq!(x.reason, ReasonCode::OrderNotSynced);
    assert_eq!(x.kind, EventKind::Refund);
    assert!(
        x.message.contains(refund.order_id.as_str()),
        "{}",
        x.message
    );
    assert!(x.content_hash.is_some(), "raw payload kept");
    assert!(x.canonical.is_some(), "canonical form kept for the replay");
    // Delivered again before the order: a known failure, left to the replay.
    let stream = StreamKey::new(refund.channel.clone(), refund.shop.clone(), "refunds");
    store
        .save_cursor(&stream, &CursorState::default(), t0())
        .await
        .unwrap();
    let again = engine.sync_refunds(&c).await.unwrap();
    assert_eq!((again.posted, again.known_failures), (0, 1));
    assert_eq!(erp.writes(), 0);

    // The order arrives; the replay posts the refund, once.
    m.upsert_orders(&orders);
    engine.sync_orders(&c).await.unwrap();
    let res = engine
        .replay_exception(x.id, "ops@example", None)
        .await
        .unwrap();
    assert_eq!(
        res,
        ReplayResult::Ran(EventOutcome::Posted {
            documents: 2,
            created: 2,
            amended: false
        })
    );
    assert_eq!(
        store.exception(x.id).await.unwrap().unwrap().status,
        ExceptionStatus::Replayed
    );
    assert_eq!(erp.count(&ErpDocumentKind::Refund), 1);
    let res = engine
        .replay_exception(x.id, "ops@example", None)
        .await
        .unwrap();
    assert_eq!(res, ReplayResult::NotOpen(ExceptionStatus::Replayed));
    let writes = erp.writes();
    clock.advance(Duration::from_secs(60));
    let r = engine.sync_refunds(&c).await.unwrap();
    assert_eq!(r.posted, 0);
    assert_eq!(erp.writes(), writes);
    assert!(erp.journals().iter().all(JournalEntry::is_balanced));
    let audit = store.audit_log(0, 100).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "replay_exception" && a.actor == "ops@example")
    );
}

#[tokio::test]
async fn a_lost_erp_response_is_looked_up_not_sent_twice() {
    let (orders, refunds) = orders_and_refunds(13, 3);
    let m = market();
    m.upsert_orders(&orders);
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = engine(store.clone(), Arc::new(erp.clone()), &clock, "w1");
    let c = m.connector("secret");
    engine.sync_orders(&c).await.unwrap();
    m.add_refunds(&refunds);
    // The refund document commits and its response is lost; then a 503 and a throttle.
    erp.inject(ErpFault::CommitThenDropResponse);
    erp.inject(ErpFault::ServerError);
    erp.inject(ErpFault::Throttle);
    let r = engine.sync_refunds(&c).await.unwrap();
    assert_eq!((r.posted, r.documents, r.exceptions), (3, 6, 0));
    assert_eq!(erp.count(&ErpDocumentKind::Refund), 3);
    let reversals = erp
        .documents()
        .into_iter()
        .filter(|d| d.reference.kind == ErpDocumentKind::JournalEntry)
        .count();
    let paid = orders.iter().filter(|o| o.status.is_paid()).count();
    assert_eq!(
        reversals,
        paid + 3,
        "one accrual per order, one reversal per refund"
    );
    assert!(erp.journals().iter().all(JournalEntry::is_balanced));
}

#[tokio::test]
async fn refunds_that_are_not_completed_post_nothing() {
    let (orders, refunds) = orders_and_refunds(14, 1);
    let mut pending = refunds[0].clone();
    pending.status = RefundStatus::Requested;
    let m = market();
    m.upsert_orders(&orders);
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = engine(store.clone(), Arc::new(erp.clone()), &clock, "w1");
    let c = m.connector("secret");
    engine.sync_orders(&c).await.unwrap();
    let writes = erp.writes();
    m.add_refunds(&[pending]);
    let r = engine.sync_refunds(&c).await.unwrap();
    assert_eq!((r.posted, r.no_effect, r.exceptions), (0, 1, 0));
    assert_eq!(erp.writes(), writes);
}
