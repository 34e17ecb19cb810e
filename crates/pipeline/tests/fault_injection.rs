#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The fault-injection run: a seeded stream of 10,000 orders over five channels, delivered
//! with throttling (429 + retry-after), 5xx, duplicates, stale and out-of-order revisions and
//! malformed payloads, into an ERP that throttles, fails and commits-then-drops responses.
//!
//! Proves: every valid order is booked exactly once (one sales order when paid, and its
//! journals net to exactly the accrual of its latest revision — not a cent more or less),
//! every malformed one is in the exception queue with its raw payload, every journal balances,
//! and the ERP holds no document the lineage does not explain.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::*;
use marketsync_core::*;
use marketsync_pipeline::store::{ExceptionFilter, LineageQuery};
use marketsync_pipeline::{ExceptionStatus, LedgerState, ManualClock, RecordKey, SyncReport};
use marketsync_testkit::{Generator, GeneratorConfig, InMemoryErp, InMemoryMarketplace, Rng};

const ORDERS: usize = 10_000;

fn corrupt(order: &Order) -> Vec<u8> {
    let mut v = serde_json::to_value(order).unwrap();
    v["lines"][0]["unit_price"]["amount"] = serde_json::Value::from("12,5O");
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_orders_under_faults_post_exactly_once() {
    let cfg = GeneratorConfig::new(20_260_301);
    let profiles = cfg.channels.clone();
    let orders = Generator::new(cfg).orders(ORDERS);
    let mut rng = Rng::new(99);

    // Split by channel; ~1% malformed; ~12% get an older revision the connector re-delivers.
    let mut markets = BTreeMap::new();
    let mut malformed: BTreeMap<OrderId, Vec<u8>> = BTreeMap::new();
    let mut older: BTreeMap<Channel, BTreeMap<OrderId, Order>> = BTreeMap::new();
    let mut valid: Vec<&Order> = Vec::new();
    for p in &profiles {
        markets.insert(
            p.channel.clone(),
            InMemoryMarketplace::new(p.channel.clone(), p.shop.clone(), "secret"),
        );
    }
    for o in &orders {
        let m = &markets[&o.channel];
        if rng.chance(1) {
            let bytes = corrupt(o);
            m.upsert_raw_order(o.id.clone(), o.updated_at, bytes.clone());
            malformed.insert(o.id.clone(), bytes);
            continue;
        }
        m.upsert_orders(std::slice::from_ref(o));
        valid.push(o);
        let span = o.updated_at - o.placed_at;
        if rng.chance(12)
            && span > chrono::Duration::seconds(2)
            && o.status != OrderStatus::PendingPayment
        {
            let mut r0 = o.clone();
            r0.updated_at = o.placed_at + span / 2;
            r0.revision = Revision::UpdatedAt(r0.updated_at);
            r0.status = OrderStatus::AwaitingFulfilment;
            r0.paid_at = r0.paid_at.or(Some(o.placed_at));
            for l in &mut r0.lines {
                l.quantity_shipped = 0;
            }
            r0.validate().unwrap();
            older
                .entry(o.channel.clone())
                .or_default()
                .insert(o.id.clone(), r0);
        }
    }

    let inner = InMemoryErp::new("erp");
    let erp = Arc::new(FaultyErp::new(
        inner.clone(),
        7,
        ErpFaults {
            commit_then_drop: 2,
            throttle: 2,
            server_error: 2,
            lookup_error: 2,
        },
    ));
    let delivery = Delivery {
        throttle: 4,
        server_error: 4,
        duplicate: 3,
        stale_after: 30,
        older_before: 20,
    };
    let clock = ManualClock::new(t0());
    let store = memory_store().await;
    let engine = engine(store.clone(), erp.clone(), &clock, "w1");
    let started = std::time::Instant::now();
    let mut total = SyncReport::default();
    for (i, p) in profiles.iter().enumerate() {
        let c = FaultyConnector::new(
            markets[&p.channel].clone(),
            1000 + i as u64,
            delivery,
            older.remove(&p.channel).unwrap_or_default(),
        );
        let r = engine.sync_orders(&c).await.unwrap();
        assert_eq!(r.in_flight, 0);
        total.fetched += r.fetched;
        total.posted += r.posted;
        total.amendments += r.amendments;
        total.duplicates += r.duplicates;
        total.stale += r.stale;
        total.exceptions += r.exceptions;
        total.no_effect += r.no_effect;
    }
    eprintln!("sync took {:?}", started.elapsed());
    eprintln!(
        "fault run: {total:?}; ERP faults injected {}, look-ups {}, ERP writes {}, slept {:?} (manual clock)",
        erp.injected.load(Ordering::Relaxed),
        erp.lookups.load(Ordering::Relaxed),
        inner.writes(),
        clock.slept()
    );
    // The faults really happened.
    assert!(erp.injected.load(Ordering::Relaxed) > 300);
    assert!(
        total.duplicates > 100 && total.stale > 100 && total.amendments > 10,
        "{total:?}"
    );
    assert!(clock.slept() > std::time::Duration::from_secs(10));

    // Orders the posting rules refuse (e.g. a platform coupon larger than the goods) are
    // business exceptions: queued with their canonical form, nothing booked.
    let ctx = marketsync_mapping::Context::new(ENTITY);
    let mapper = mapper();
    let accruals: BTreeMap<&OrderId, Option<JournalEntry>> = valid
        .iter()
        .filter(|o| o.status.is_paid())
        .map(|o| (&o.id, mapper.order_accrual(o, &ctx).ok()))
        .collect();
    let refused: BTreeSet<OrderId> = accruals
        .iter()
        .filter(|(_, j)| j.is_none())
        .map(|(id, _)| (*id).clone())
        .collect();

    // Every malformed record is in the queue, with its raw payload; nothing else failed.
    let queued = store
        .exceptions(&ExceptionFilter {
            status: Some(ExceptionStatus::Open),
            limit: Some(100_000),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut seen_malformed = BTreeSet::new();
    for x in &queued {
        let id = OrderId::new(x.external_id.clone().unwrap_or_default());
        if let Some(bytes) = malformed.get(&id) {
            assert_eq!(x.reason, ReasonCode::MalformedPayload);
            let raw = store
                .raw(x.content_hash.as_ref().unwrap())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&raw.bytes, bytes, "{id}: the queued raw payload differs");
            assert!(
                seen_malformed.insert(id),
                "one exception per malformed record"
            );
        } else {
            assert!(
                refused.contains(&id),
                "a valid order failed: {id} {:?} {}",
                x.reason,
                x.message
            );
            assert!(x.canonical.is_some());
        }
    }
    assert_eq!(
        seen_malformed,
        malformed.keys().cloned().collect::<BTreeSet<_>>()
    );
    eprintln!(
        "malformed queued: {}, refused by posting rules: {}",
        malformed.len(),
        refused.len()
    );

    // Every valid order booked exactly once, to the cent.
    let journals = erp_journals(&inner);
    let mut explained = 0;
    let mut sales_orders = 0;
    for o in &valid {
        let rec = RecordKey {
            channel: o.channel.clone(),
            shop: o.shop.clone(),
            kind: EventKind::Order,
            external_id: o.id.to_string(),
        };
        let links = store.lineage(&LineageQuery::Record(rec)).await.unwrap();
        let so = links.iter().filter(|l| l.role == "sales_order").count();
        assert!(so <= 1, "{}: {so} sales orders", o.id);
        let expected = match accruals.get(&o.id) {
            Some(Some(j)) => {
                assert_eq!(so, 1, "{}: paid order without a sales order", o.id);
                net(std::slice::from_ref(j))
            }
            _ => BTreeMap::new(),
        };
        sales_orders += so;
        let mine: Vec<JournalEntry> = links
            .iter()
            .filter(|l| l.role != "sales_order")
            .map(|l| {
                journals
                    .get(&l.document_key)
                    .cloned()
                    .expect("lineage points at an ERP journal")
            })
            .collect();
        explained += links.len();
        assert_eq!(net(&mine), expected, "order {} is mis-booked", o.id);
    }
    assert_eq!(inner.count(&ErpDocumentKind::SalesOrder), sales_orders);
    assert_eq!(
        inner.documents().len(),
        explained,
        "the ERP holds documents lineage does not explain"
    );
    assert!(inner.journals().iter().all(JournalEntry::is_balanced));
    // Nothing left in flight; the only failed events are the refused orders, one exception each.
    let counts: BTreeMap<LedgerState, u64> =
        store.ledger_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts.get(&LedgerState::Pending), None, "{counts:?}");
    assert_eq!(
        counts.get(&LedgerState::Failed).copied().unwrap_or(0) as usize,
        queued.len() - malformed.len(),
        "{counts:?}"
    );
}
