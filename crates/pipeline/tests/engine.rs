#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Engine behaviour, one property per test, on the in-memory SQLite store with the testkit's
//! in-memory marketplace and ERP and a manual clock (no real sleeps).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use marketsync_core::*;
use marketsync_pipeline::engine::sales_order_key;
use marketsync_pipeline::store::{ExceptionFilter, LineageQuery};
use marketsync_pipeline::{
    EventOutcome, ExceptionStatus, LedgerState, ManualClock, RecordKey, ReplayResult,
};
use marketsync_testkit::{
    ChannelProfile, ErpFault, Fault, Generator, GeneratorConfig, InMemoryErp, InMemoryMarketplace,
};

fn tmall_orders(seed: u64, n: usize) -> Vec<Order> {
    Generator::new(GeneratorConfig::new(seed).with_channels(vec![ChannelProfile::tmall()]))
        .orders(n)
}

fn market(orders: &[Order]) -> InMemoryMarketplace {
    let p = ChannelProfile::tmall();
    let m = InMemoryMarketplace::new(p.channel, p.shop, "secret");
    m.upsert_orders(orders);
    m
}

fn accrual(order: &Order) -> JournalEntry {
    mapper()
        .order_accrual(order, &marketsync_mapping::Context::new(ENTITY))
        .unwrap()
}

#[tokio::test]
async fn posts_each_paid_order_once_and_a_second_pass_posts_nothing() {
    let orders = tmall_orders(1, 250);
    let m = market(&orders);
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = engine(store.clone(), Arc::new(erp.clone()), &clock, "w1");
    let c = m.connector("secret");
    let r = engine.sync_orders(&c).await.unwrap();
    let paid: Vec<&Order> = orders.iter().filter(|o| o.status.is_paid()).collect();
    assert_eq!(r.fetched, 250);
    assert_eq!(r.posted as usize, paid.len());
    assert_eq!(r.no_effect as usize, 250 - paid.len());
    assert_eq!(erp.count(&ErpDocumentKind::SalesOrder), paid.len());
    assert_eq!(erp.count(&ErpDocumentKind::JournalEntry), paid.len());
    assert!(erp.journals().iter().all(JournalEntry::is_balanced));
    // Lineage: order → sales order + accrual, with the rulebook version on the journal.
    let o = paid[0];
    let rec = RecordKey {
        channel: o.channel.clone(),
        shop: o.shop.clone(),
        kind: EventKind::Order,
        external_id: o.id.to_string(),
    };
    let links = store.lineage(&LineageQuery::Record(rec)).await.unwrap();
    let roles: BTreeSet<&str> = links.iter().map(|l| l.role.as_str()).collect();
    assert_eq!(roles, BTreeSet::from(["accrual", "sales_order"]));
    assert!(
        links
            .iter()
            .any(|l| l.rulebook_version.as_deref() == Some("rb-test-1"))
    );
    // A second pass (overlap window, later clock) finds only duplicates.
    clock.advance(Duration::from_secs(3600));
    let writes = erp.writes();
    let r2 = engine.sync_orders(&c).await.unwrap();
    assert_eq!(r2.posted, 0);
    assert_eq!(erp.writes(), writes, "a second pass wrote to the ERP");
}

#[tokio::test]
async fn amendment_books_reversal_and_new_accrual_not_a_second_order() {
    let mut orders = tmall_orders(2, 40);
    let i = orders
        .iter()
        .position(|o| o.status.is_paid() && o.lines.len() >= 2 && o.payments.len() == 1)
        .expect("a multi-line paid order");
    let m = market(&orders);
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = engine(store.clone(), Arc::new(erp.clone()), &clock, "w1");
    let c = m.connector("secret");
    engine.sync_orders(&c).await.unwrap();
    // Partial cancel: the last line goes, the payment follows.
    let mut amended = orders[i].clone();
    amended.lines.pop();
    // Platforms stamp an amendment with the time it happened: after the last sync.
    amended.updated_at = t0() + chrono::Duration::minutes(30);
    amended.revision = Revision::UpdatedAt(amended.updated_at);
    amended.payments[0].amount = amended.totals().unwrap().buyer_total;
    amended.validate().unwrap();
    m.upsert_orders(std::slice::from_ref(&amended));
    orders[i] = amended.clone();
    clock.advance(Duration::from_secs(3600));
    let r = engine.sync_orders(&c).await.unwrap();
    assert_eq!((r.posted, r.amendments, r.documents), (1, 1, 2), "{r:?}");
    assert_eq!(
        erp.count(&ErpDocumentKind::SalesOrder),
        orders.iter().filter(|o| o.status.is_paid()).count()
    );
    // The order's journals now net to the amended accrual exactly.
    let rec = RecordKey {
        channel: amended.channel.clone(),
        shop: amended.shop.clone(),
        kind: EventKind::Order,
        external_id: amended.id.to_string(),
    };
    let docs = erp_journals(&erp);
    let mine: Vec<JournalEntry> = store
        .lineage(&LineageQuery::Record(rec))
        .await
        .unwrap()
        .iter()
        .filter_map(|l| docs.get(&l.document_key).cloned())
        .collect();
    assert_eq!(mine.len(), 3, "accrual, reversal, new accrual");
    assert_eq!(net(&mine), net(&[accrual(&amended)]));
    // Cancelling it afterwards reverses the accrual and books nothing new.
    let mut cancelled = amended.clone();
    cancelled.status = OrderStatus::Cancelled;
    cancelled.updated_at = t0() + chrono::Duration::minutes(90);
    cancelled.revision = Revision::UpdatedAt(cancelled.updated_at);
    m.upsert_orders(std::slice::from_ref(&cancelled));
    clock.advance(Duration::from_secs(3600));
    let r = engine.sync_orders(&c).await.unwrap();
    assert_eq!((r.amendments, r.documents), (1, 1));
    let docs = erp_journals(&erp);
    let mine: Vec<JournalEntry> = docs
        .values()
        .filter(|j| {
            j.lines
                .iter()
                .any(|l| l.dimensions.order_id.as_deref() == Some(amended.id.as_str()))
        })
        .cloned()
        .collect();
    assert!(
        net(&mine).is_empty(),
        "a cancelled order nets to zero: {:?}",
        net(&mine)
    );
    assert!(
        erp.find_by_idempotency_key(&sales_order_key(&amended))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn stale_revisions_are_dropped_and_duplicates_ignored() {
    let orders = tmall_orders(3, 30);
    let o = orders.iter().find(|o| o.status.is_paid()).unwrap().clone();
    let m = market(&orders);
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = engine(store.clone(), Arc::new(erp.clone()), &clock, "w1");
    engine.sync_orders(&m.connector("secret")).await.unwrap();
    let stream = marketsync_pipeline::StreamKey::new(o.channel.clone(), o.shop.clone(), "orders");
    let mut old = o.clone();
    old.updated_at -= chrono::Duration::minutes(1);
    old.revision = Revision::UpdatedAt(old.updated_at);
    let writes = erp.writes();
    assert_eq!(
        engine.process_order(&stream, old, None).await.unwrap(),
        EventOutcome::Stale
    );
    assert_eq!(
        engine
            .process_order(&stream, o.clone(), None)
            .await
            .unwrap(),
        EventOutcome::Duplicate
    );
    assert_eq!(erp.writes(), writes);
}

#[tokio::test]
async fn retries_honour_retry_after_and_never_resend_a_committed_write() {
    let orders = tmall_orders(4, 20);
    let paid = orders.iter().filter(|o| o.status.is_paid()).count();
    let m = market(&orders);
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = engine(store.clone(), Arc::new(erp.clone()), &clock, "w1");
    // The marketplace throttles twice (asking for 2 s) and fails once; the ERP commits and
    // drops the response, throttles, and fails.
    m.inject(Fault::Throttle {
        retry_after: Duration::from_secs(2),
    });
    m.inject(Fault::Throttle {
        retry_after: Duration::from_secs(2),
    });
    m.inject(Fault::ServerError);
    erp.inject(ErpFault::CommitThenDropResponse);
    erp.inject(ErpFault::Throttle);
    erp.inject(ErpFault::ServerError);
    erp.inject(ErpFault::CommitThenDropResponse);
    let r = engine.sync_orders(&m.connector("secret")).await.unwrap();
    assert_eq!(r.posted as usize, paid);
    assert!(
        clock.slept() >= Duration::from_secs(4),
        "retry-after honoured: {:?}",
        clock.slept()
    );
    assert_eq!(erp.count(&ErpDocumentKind::SalesOrder), paid);
    assert_eq!(erp.count(&ErpDocumentKind::JournalEntry), paid);
    // 2 documents per order, +2 for the throttled and failed writes; the two committed-then-
    // dropped writes were found by key, not re-sent.
    assert_eq!(erp.writes() as usize, 2 * paid + 2);
}

#[tokio::test]
async fn exhausted_retries_go_to_the_exception_queue_and_replay_later() {
    let orders = tmall_orders(5, 10);
    let o = orders.iter().find(|o| o.status.is_paid()).unwrap().clone();
    let m = market(std::slice::from_ref(&o));
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
    assert_eq!(x.reason, ReasonCode::RetriesExhausted);
    assert!(x.canonical.is_some() && x.content_hash.is_some());
    // A re-delivery (a webhook, say) does not retry it behind the operator's back.
    let stream = marketsync_pipeline::StreamKey::new(o.channel.clone(), o.shop.clone(), "orders");
    let writes = erp.writes();
    assert_eq!(
        engine
            .process_order(&stream, o.clone(), None)
            .await
            .unwrap(),
        EventOutcome::KnownFailure
    );
    assert_eq!(erp.writes(), writes);
    // The ERP is back: replay.
    let result = engine
        .replay_exception(x.id, "ops@example", None)
        .await
        .unwrap();
    assert!(
        matches!(result, ReplayResult::Ran(EventOutcome::Posted { .. })),
        "{result:?}"
    );
    assert_eq!(erp.count(&ErpDocumentKind::SalesOrder), 1);
    let x = store.exception(x.id).await.unwrap().unwrap();
    assert_eq!(x.status, ExceptionStatus::Replayed);
    // Replaying again is a no-op, and both replays are audited.
    let again = engine
        .replay_exception(x.id, "ops@example", None)
        .await
        .unwrap();
    assert_eq!(again, ReplayResult::NotOpen(ExceptionStatus::Replayed));
    let audit = store.audit_log(0, 10).await.unwrap();
    assert_eq!(audit.len(), 2);
    assert!(
        audit
            .iter()
            .all(|a| a.actor == "ops@example" && a.action == "replay_exception")
    );
}

#[tokio::test]
async fn permanent_erp_rejection_goes_straight_to_the_queue_then_replays_after_the_fix() {
    let orders = tmall_orders(6, 30);
    let m = market(&orders);
    let erp = InMemoryErp::new("erp");
    // The ERP knows every SKU but one.
    let skus: BTreeSet<Sku> = orders
        .iter()
        .flat_map(|o| o.lines.iter().map(|l| l.sku.clone()))
        .collect();
    let missing = skus.iter().next().unwrap().clone();
    erp.set_known_items(skus.iter().filter(|s| **s != missing).cloned().collect());
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = engine(store.clone(), Arc::new(erp.clone()), &clock, "w1");
    let r = engine.sync_orders(&m.connector("secret")).await.unwrap();
    let affected: Vec<&Order> = orders
        .iter()
        .filter(|o| o.status.is_paid() && o.lines.iter().any(|l| l.sku == missing))
        .collect();
    assert!(!affected.is_empty());
    assert_eq!(r.exceptions as usize, affected.len());
    assert_eq!(
        clock.slept(),
        Duration::ZERO,
        "a permanent error was retried"
    );
    let open = store
        .exceptions(&ExceptionFilter {
            status: Some(ExceptionStatus::Open),
            reason: Some(ReasonCode::ErpRejected),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(open.len(), affected.len());
    // Fix: the item is created in the ERP. Replay the range; it is audited and idempotent.
    erp.set_known_items(skus);
    let window = TimeWindow::new(t0() - chrono::Duration::days(120), t0()).unwrap();
    let c = m.connector("secret");
    let r = engine
        .replay_range(&c, window, "ops@example")
        .await
        .unwrap();
    assert_eq!(r.posted as usize, affected.len());
    let r = engine
        .replay_range(&c, window, "ops@example")
        .await
        .unwrap();
    assert_eq!(r.posted, 0);
    assert_eq!(
        erp.count(&ErpDocumentKind::SalesOrder),
        orders.iter().filter(|o| o.status.is_paid()).count()
    );
    let open = store
        .exceptions(&ExceptionFilter {
            status: Some(ExceptionStatus::Open),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(open.is_empty(), "posting resolved the exceptions: {open:?}");
    let audit = store.audit_log(0, 10).await.unwrap();
    assert_eq!(
        audit.iter().filter(|a| a.action == "replay_range").count(),
        2
    );
}

#[tokio::test]
async fn malformed_payload_is_queued_with_its_raw_bytes_and_replays_after_the_source_is_fixed() {
    let orders = tmall_orders(7, 5);
    let m = market(&orders);
    let bad_id = OrderId::new("40BROKEN");
    let bad = br#"{"id":"40BROKEN","lines":[{"unit_price":{"amount":"12,5O"}}]}"#.to_vec();
    let at = orders[0].updated_at;
    m.upsert_raw_order(bad_id.clone(), at, bad.clone());
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = engine(store.clone(), Arc::new(erp.clone()), &clock, "w1");
    let c = m.connector("secret");
    let r = engine.sync_orders(&c).await.unwrap();
    assert_eq!(r.exceptions, 1);
    let x = store
        .exceptions(&ExceptionFilter::default())
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(x.reason, ReasonCode::MalformedPayload);
    assert_eq!(x.external_id.as_deref(), Some("40BROKEN"));
    let raw = store
        .raw(x.content_hash.as_ref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raw.bytes, bad);
    // Still broken: the replay fails again and the exception stays open with more attempts.
    let again = engine
        .replay_exception(x.id, "ops", Some(&c))
        .await
        .unwrap();
    assert!(matches!(
        again,
        ReplayResult::Ran(EventOutcome::Exception(_))
    ));
    assert_eq!(store.exception(x.id).await.unwrap().unwrap().attempts, 2);
    // The platform now serves a valid payload for that order.
    let mut fixed = orders.iter().find(|o| o.status.is_paid()).unwrap().clone();
    fixed.id = bad_id.clone();
    fixed.updated_at = at;
    fixed.revision = Revision::UpdatedAt(at);
    m.upsert_orders(std::slice::from_ref(&fixed));
    let ok = engine
        .replay_exception(x.id, "ops", Some(&c))
        .await
        .unwrap();
    assert!(
        matches!(ok, ReplayResult::Ran(EventOutcome::Posted { .. })),
        "{ok:?}"
    );
    assert_eq!(
        store.exception(x.id).await.unwrap().unwrap().status,
        ExceptionStatus::Replayed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_stops_after_the_page_in_hand() {
    let orders = tmall_orders(8, 300);
    let m = market(&orders);
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = Arc::new(engine(store.clone(), Arc::new(erp.clone()), &clock, "w1"));
    let handle = engine.shutdown_handle();
    let c: Arc<dyn MarketplaceConnector> = Arc::new(m.connector("secret"));
    let e2 = engine.clone();
    let task = tokio::spawn(async move { e2.run(&[c], Duration::from_secs(60)).await });
    // Let it work, then stop it.
    while store
        .ledger_counts()
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum::<u64>()
        < 50
    {
        tokio::task::yield_now().await;
    }
    handle.shutdown();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the engine stopped")
        .unwrap()
        .unwrap();
    // Nothing is left half-done: no pending ledger entry.
    let counts = store.ledger_counts().await.unwrap();
    assert!(
        !counts
            .iter()
            .any(|(s, n)| *s == LedgerState::Pending && *n > 0),
        "{counts:?}"
    );
}

#[tokio::test]
async fn report_separates_created_from_already_existed_and_unchanged() {
    let orders = tmall_orders(7, 40);
    let m = market(&orders);
    let erp = InMemoryErp::new("erp");
    let clock = ManualClock::new(t0());
    let c = m.connector("secret");
    let paid = orders.iter().filter(|o| o.status.is_paid()).count() as u64;
    assert!(paid > 0);
    let first = engine(memory_store().await, Arc::new(erp.clone()), &clock, "w1");
    let r = first.sync_orders(&c).await.unwrap();
    assert_eq!(
        (r.posted, r.created, r.already_existed),
        (paid, paid, 0),
        "{r:?}"
    );
    assert_eq!(
        (r.documents_created, r.documents_existing),
        (r.documents, 0)
    );
    assert_eq!(r.unchanged(), r.no_effect);
    // A second installation with an empty ledger sends the same keys: the ERP answers
    // `created: false`, which is not counted as created.
    let docs = erp.documents().len();
    let second = engine(memory_store().await, Arc::new(erp.clone()), &clock, "w2");
    let r2 = second.sync_orders(&c).await.unwrap();
    assert_eq!(
        (r2.posted, r2.created, r2.already_existed),
        (paid, 0, paid),
        "{r2:?}"
    );
    assert_eq!(
        (r2.documents, r2.documents_created, r2.documents_existing),
        (r.documents, 0, r.documents)
    );
    assert_eq!(erp.documents().len(), docs, "a second document was made");
    // The first engine again: every event is unchanged.
    clock.advance(Duration::from_secs(3600));
    let r3 = first.sync_orders(&c).await.unwrap();
    assert_eq!((r3.posted, r3.created, r3.already_existed), (0, 0, 0));
    assert_eq!(r3.unchanged(), r3.fetched, "{r3:?}");
}
