//! The shared ERP conformance suite against the live Tryton server, through a loopback proxy
//! that can fail a request or drop a response after the server committed; then the same checks
//! for the documents after the sale, which the shared suite does not exercise yet: fulfilments
//! (customer shipments) and refunds (credit notes) — a repeat makes one document, the key finds
//! it, 16 concurrent writers make one, a lost response is found by key, a 503 is temporary and
//! leaves nothing, and what cannot be done is refused with the right reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::{FaultProxy, ProxyFault, live_config, with_test_accounts};
use marketsync_core::chrono::{DateTime, NaiveDate, Utc};
use marketsync_core::rust_decimal::Decimal;
use marketsync_core::*;
use marketsync_testkit::conformance::{ErpFault, ErpFixture, erp_suite};
use marketsync_tryton::{Secret, TrytonAdapter, TrytonConfig};
use serde_json::{Value, json};

struct Fixture {
    proxied: Arc<TrytonAdapter>,
    direct: Arc<TrytonAdapter>,
    bad: Arc<TrytonAdapter>,
    proxy: FaultProxy,
    seq: AtomicU64,
    /// In every document this fixture makes (the journals' memo, the orders' ids), so that
    /// `document_count` counts only those: other tests, other test binaries or another checkout's
    /// run may write to the same server at the same time.
    tag: String,
}

fn usd(s: &str) -> Money {
    Money::new(s.parse::<Decimal>().unwrap(), Currency::USD)
}

#[async_trait]
impl ErpFixture for Fixture {
    fn adapter(&self) -> Arc<dyn ErpAdapter> {
        self.proxied.clone()
    }

    fn adapter_with_bad_credentials(&self) -> Option<Arc<dyn ErpAdapter>> {
        Some(self.bad.clone())
    }

    fn sample_order(&self) -> Order {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let at: DateTime<Utc> = "2026-03-02T18:00:00Z".parse().unwrap();
        let line = |id: &str, sku: &str, qty: u32, price: &str| OrderLine {
            line_id: id.into(),
            sku: sku.into(),
            platform_sku_id: None,
            listing_id: None,
            title: format!("Item {sku}"),
            quantity: qty,
            unit_price: usd(price),
            discounts: vec![],
            taxes: vec![],
            fulfilment_channel: None,
            raw_status: None,
            quantity_shipped: 0,
        };
        Order {
            channel: Channel::Custom("conformance".into()),
            shop: "main".into(),
            id: format!("{}-{n}", self.tag).into(),
            revision: Revision::Version(1),
            status: OrderStatus::AwaitingFulfilment,
            raw_status: "paid".into(),
            placed_at: at,
            paid_at: Some(at),
            updated_at: at,
            source_time_zone: TimeZoneId::utc(),
            currency: Currency::USD,
            presentment: None,
            lines: vec![
                line("1", "SKU-0001", 2, "25.00"),
                line("2", "SKU-0002", 1, "9.99"),
            ],
            discounts: vec![],
            shipping: vec![],
            taxes: vec![],
            payments: vec![],
            fulfilment_channel: FulfilmentChannel::Seller,
            buyer: None,
            ship_to: None,
            attribution: None,
            raw: None,
            extensions: BTreeMap::new(),
        }
    }

    fn sample_journal(&self) -> JournalEntry {
        let dims = Dimensions {
            channel: Some(Channel::Amazon),
            ..Dimensions::default()
        };
        JournalEntry {
            entity: "US01".into(),
            date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            memo: self.tag.clone(),
            lines: vec![
                JournalLine::debit("1210", usd("59.99")).with_dimensions(dims.clone()),
                JournalLine::credit("4000", usd("59.99")).with_dimensions(dims),
            ],
            reference: Some("conformance:order".into()),
        }
    }

    async fn document_count(&self, kind: ErpDocumentKind) -> Option<usize> {
        // A move's description is "<reference> <memo>", a sale's reference "<channel>:<order id>".
        // A shipment's reference is "<carrier> <tracking>" (the tracking number carries the tag),
        // a credit note's description "<channel> refund <refund id> of order <order id>".
        let (model, field) = match kind {
            ErpDocumentKind::JournalEntry => ("account.move", "description"),
            ErpDocumentKind::SalesOrder => ("sale.sale", "reference"),
            ErpDocumentKind::Fulfilment => ("stock.shipment.out", "reference"),
            ErpDocumentKind::Refund => ("account.invoice", "description"),
            _ => return None,
        };
        let domain = json!([[field, "like", format!("%{}%", self.tag)]]);
        let n = self
            .direct
            .rpc()
            .search_count(model, domain, &json!({}))
            .await
            .unwrap_or_else(|e| panic!("search_count {model}: {e}"));
        Some(n as usize)
    }

    async fn inject(&self, fault: ErpFault) -> bool {
        match fault {
            ErpFault::CommitThenDropResponse => {
                self.proxy.inject(ProxyFault::DropResponseAfterCommit);
                true
            }
            ErpFault::ServerError => {
                self.proxy.inject(ProxyFault::ServerError);
                true
            }
            ErpFault::HoldWriteBeyondTimeout => {
                self.proxy.inject(ProxyFault::HoldWrite(
                    PROXIED_TIMEOUT + Duration::from_millis(1_500),
                ));
                true
            }
            // Tryton throttles only logins (HTTP 429 after too many attempts); the error table
            // maps it, but a model call cannot be made to throttle for real.
            _ => false,
        }
    }

    async fn wait_for_held_writes(&self) {
        self.proxy.wait_for_held().await;
    }
}

/// The client timeout of the adapter behind the proxy (a held write outlasts it).
const PROXIED_TIMEOUT: Duration = Duration::from_secs(8);

fn upstream(config: &TrytonConfig) -> String {
    let host = config.url.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = config.url.port_or_known_default().unwrap_or(8000);
    format!("{host}:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erp_conformance_suite_against_live_tryton() {
    let Some(config) = live_config("US01") else {
        return;
    };
    let config = with_test_accounts(config);
    let proxy = FaultProxy::start(upstream(&config)).await;
    let mut proxied_config = config.clone().with_url(proxy.url());
    proxied_config.timeout_ms = u64::try_from(PROXIED_TIMEOUT.as_millis()).unwrap();
    let proxied = Arc::new(TrytonAdapter::new(proxied_config).unwrap());
    let direct = Arc::new(TrytonAdapter::new(config.clone()).unwrap());
    let bad = Arc::new(
        TrytonAdapter::new(config.with_password(Secret::new("not-the-password"))).unwrap(),
    );
    let fixture = Fixture {
        proxied,
        direct,
        bad,
        proxy,
        seq: AtomicU64::new(0),
        tag: format!(
            "CONF-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ),
    };
    let report = erp_suite(&fixture).await;
    eprintln!("passed: {:?}\nskipped: {:?}", report.passed, report.skipped);
    life_cycle_checks(&fixture).await;
    for check in [
        "health_check",
        "unknown_key_finds_nothing",
        "repeated_journal_post_makes_one_document",
        "unbalanced_journal_refused_client_side",
        "lost_response_found_by_key",
        "repeated_sales_order_makes_one_document",
        "concurrent_journal_writers_make_one_document",
        "concurrent_sales_order_writers_make_one_document",
        "retry_overlapping_a_slow_write_makes_one_document",
        "erp_server_error_is_temporary",
        "erp_auth_failure_is_permanent",
        "capabilities_are_honest",
    ] {
        assert!(report.passed.contains(&check), "{check} did not run");
    }
}

impl Fixture {
    /// A shipment of the sample order `order` (all of it when `lines` is empty), tagged in its
    /// tracking number.
    fn shipment(&self, order: &Order, lines: &[(&str, &str, u32)]) -> Shipment {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(id, sku, q)| json!({"line_id": id, "sku": sku, "quantity": q}))
            .collect();
        serde_json::from_value(json!({
            "channel": order.channel,
            "shop": order.shop,
            "order_id": order.id,
            "carrier": "UPS",
            "tracking_number": format!("1Z-{}", self.tag),
            "shipped_at": "2026-03-03T10:00:00Z",
            "lines": lines,
        }))
        .unwrap()
    }

    /// A completed refund of one unit of the sample order's first line (25.00) with 8.25%
    /// sales tax on top (2.06) and 4.99 of shipping, tagged in its id.
    fn refund(&self, order: &Order, n: &str) -> Refund {
        serde_json::from_value(json!({
            "channel": order.channel,
            "shop": order.shop,
            "id": format!("{}-R{n}", self.tag),
            "order_id": order.id,
            "revision": {"kind": "version", "value": 1},
            "status": "completed",
            "raw_status": "refunded",
            "reason": {"code": "damaged"},
            "created_at": "2026-03-09T08:00:00Z",
            "updated_at": "2026-03-09T09:00:00Z",
            "lines": [{
                "line_id": "1", "sku": "SKU-0001", "quantity": 1, "restock": true,
                "amount": {"amount": "25.00", "currency": "USD"},
                "taxes": [{"kind": "sales_tax", "rate": "0.0825", "jurisdiction": "CA",
                    "amount": {"amount": "2.06", "currency": "USD"},
                    "included_in_price": false, "collected_by": "seller"}]
            }],
            "shipping": {"amount": "4.99", "currency": "USD"},
            "total": {"amount": "32.05", "currency": "USD"}
        }))
        .unwrap()
    }

    /// A new sample order, booked as a confirmed sale through the direct adapter.
    async fn booked_order(&self, label: &str) -> (Order, ErpDocumentRef) {
        let order = self.sample_order();
        let key = key(label, order.id.as_str());
        let sale = self
            .direct
            .upsert_sales_order(&SalesOrderRequest::new(key, order.clone()))
            .await
            .unwrap_or_else(|e| panic!("booking the {label} sale: {e}"));
        (order, sale)
    }

    async fn count(&self, kind: ErpDocumentKind) -> usize {
        self.document_count(kind).await.unwrap()
    }
}

fn key(label: &str, n: &str) -> IdempotencyKey {
    IdempotencyKey::derive(
        &Channel::Custom("conformance".into()),
        &ShopId::new(label),
        &EventKind::Other("life-cycle".into()),
        n,
        &Revision::Version(1),
    )
}

/// Sixteen writers of one request at once, each on its own task, through the proxied adapter;
/// temporary errors are retried as the pipeline would. Exactly one document results, every
/// writer learns its id, and the key finds it.
async fn race<F, Fut>(fixture: &Fixture, kind: ErpDocumentKind, key: &IdempotencyKey, write: F)
where
    F: Fn(Arc<dyn ErpAdapter>) -> Fut,
    Fut: std::future::Future<Output = Result<ErpDocumentRef>> + Send + 'static,
{
    let before = fixture.count(kind.clone()).await;
    let tasks: Vec<_> = (0..16)
        .map(|_| tokio::spawn(write(fixture.adapter())))
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    let mut created = 0;
    for task in tasks {
        let doc = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{kind:?} writer: {e}"));
        created += usize::from(doc.created);
        ids.insert(doc.id);
    }
    assert_eq!(
        ids.len(),
        1,
        "16 {kind:?} writers learnt different ids: {ids:?}"
    );
    assert!(created >= 1, "no {kind:?} writer created the document");
    assert_eq!(
        fixture.count(kind.clone()).await,
        before + 1,
        "16 {kind:?} writers of one key left more than one document"
    );
    let found = fixture.direct.find_by_idempotency_key(key).await.unwrap();
    assert_eq!(found.map(|d| d.id), ids.into_iter().next());
}

async fn retrying<F, Fut>(mut write: F) -> Result<ErpDocumentRef>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<ErpDocumentRef>>,
{
    let mut attempt = 0u64;
    loop {
        match write().await {
            Err(e) if e.is_temporary() && attempt < 30 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
            }
            other => return other,
        }
    }
}

/// Fulfilments and refunds against the live server: the checks the shared suite makes for
/// journals and sales orders.
async fn life_cycle_checks(fixture: &Fixture) {
    let adapter = fixture.adapter();
    let caps = adapter.capabilities();
    assert!(caps.fulfilments && caps.refunds, "{caps:?}");

    // A partial shipment, repeated: one shipment, found by its key.
    let (order, sale) = fixture.booked_order("ship").await;
    let before = fixture.count(ErpDocumentKind::Fulfilment).await;
    let mut partial = FulfilmentRequest::new(
        key("ship-1", order.id.as_str()),
        fixture.shipment(&order, &[("1", "SKU-0001", 1)]),
    );
    partial.sales_order = Some(sale.id.clone());
    let first = adapter.record_fulfilment(&partial).await.unwrap();
    assert!(first.created);
    assert_eq!(first.kind, ErpDocumentKind::Fulfilment);
    let again = adapter.record_fulfilment(&partial).await.unwrap();
    assert_eq!((again.id.clone(), again.created), (first.id.clone(), false));
    let found = adapter
        .find_by_idempotency_key(&partial.idempotency_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id, found.kind),
        (first.id.clone(), ErpDocumentKind::Fulfilment)
    );
    assert_eq!(fixture.count(ErpDocumentKind::Fulfilment).await, before + 1);
    // What Tryton shipped: one unit of SKU-0001, done, on the day it left.
    let shipped = fixture
        .direct
        .rpc()
        .search_read(
            "stock.move",
            json!([["shipment", "=", format!("stock.shipment.out,{}", first.id)]]),
            None,
            &["product.code", "quantity", "state", "effective_date"],
            &json!({}),
        )
        .await
        .unwrap();
    let shipped: Vec<(String, f64, String)> = shipped
        .iter()
        .map(|m| {
            assert_eq!(
                marketsync_tryton::wire::parse_date(&m["effective_date"]),
                NaiveDate::from_ymd_opt(2026, 3, 3)
            );
            (
                m["product."]["code"].as_str().unwrap().to_owned(),
                m["quantity"].as_f64().unwrap(),
                m["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // The outgoing and the inventory move of the unit.
    assert_eq!(
        shipped,
        vec![
            ("SKU-0001".to_owned(), 1.0, "done".to_owned()),
            ("SKU-0001".to_owned(), 1.0, "done".to_owned())
        ]
    );
    // The rest of the order (found through the sale's reference, no sale id), then nothing.
    let rest = FulfilmentRequest::new(
        key("ship-2", order.id.as_str()),
        fixture.shipment(&order, &[]),
    );
    let second = adapter.record_fulfilment(&rest).await.unwrap();
    assert!(second.created);
    assert_ne!(
        second.id, first.id,
        "the rest ships in the sale's new shipment"
    );
    let sale_row = fixture
        .direct
        .rpc()
        .search_read(
            "sale.sale",
            json!([["id", "=", sale.id.as_str().parse::<i64>().unwrap()]]),
            None,
            &["shipment_state"],
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(sale_row[0]["shipment_state"], "sent");
    let over = FulfilmentRequest::new(
        key("ship-3", order.id.as_str()),
        fixture.shipment(&order, &[]),
    );
    let err = adapter.record_fulfilment(&over).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.reason()),
        (&ErrorKind::Validation, ReasonCode::OverFulfilment),
        "{err}"
    );
    // A shipment of an order Tryton never saw.
    let mut unknown = fixture.sample_order();
    unknown.id = format!("{}-never-synced", fixture.tag).into();
    let err = adapter
        .record_fulfilment(&FulfilmentRequest::new(
            key("ship-4", unknown.id.as_str()),
            fixture.shipment(&unknown, &[]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::OrderNotSynced, "{err}");
    // A SKU the sale does not hold.
    let (order2, _) = fixture.booked_order("ship-sku").await;
    let err = adapter
        .record_fulfilment(&FulfilmentRequest::new(
            key("ship-5", order2.id.as_str()),
            fixture.shipment(&order2, &[("9", "SKU-0009", 1)]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::UnknownSku, "{err}");
    eprintln!("passed: repeated_fulfilment_makes_one_document, fulfilment_refusals");

    // A refund, repeated: one credit note carrying the tax, found by its key.
    let before = fixture.count(ErpDocumentKind::Refund).await;
    let mut refund = RefundRequest::new(
        key("refund-1", order.id.as_str()),
        fixture.refund(&order, "1"),
    );
    refund.sales_order = Some(sale.id.clone());
    let note = adapter.record_refund(&refund).await.unwrap();
    assert!(note.created);
    assert_eq!(note.kind, ErpDocumentKind::Refund);
    let again = adapter.record_refund(&refund).await.unwrap();
    assert_eq!((again.id.clone(), again.created), (note.id.clone(), false));
    let found = adapter
        .find_by_idempotency_key(&refund.idempotency_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id, found.kind),
        (note.id.clone(), ErpDocumentKind::Refund)
    );
    assert_eq!(fixture.count(ErpDocumentKind::Refund).await, before + 1);
    let row = fixture
        .direct
        .rpc()
        .search_read(
            "account.invoice",
            json!([["id", "=", note.id.as_str().parse::<i64>().unwrap()]]),
            None,
            &[
                "type",
                "state",
                "total_amount",
                "tax_amount",
                "move",
                "party.code",
            ],
            &json!({}),
        )
        .await
        .unwrap();
    let d = |v: &Value| marketsync_tryton::wire::parse_decimal(v).unwrap();
    assert_eq!(row[0]["type"], "out");
    assert_eq!(row[0]["state"], "validated");
    assert_eq!(
        row[0]["move"],
        Value::Null,
        "a credit note must not book the GL"
    );
    assert_eq!(row[0]["party."]["code"], "custom:conformance");
    assert_eq!(
        d(&row[0]["total_amount"]),
        "-32.05".parse::<Decimal>().unwrap()
    );
    assert_eq!(
        d(&row[0]["tax_amount"]),
        "-2.06".parse::<Decimal>().unwrap()
    );
    // Not completed: no credit note.
    let mut pending = fixture.refund(&order, "pending");
    pending.status = RefundStatus::Requested;
    let err = adapter
        .record_refund(&RefundRequest::new(
            key("refund-p", order.id.as_str()),
            pending,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::NotPostable, "{err}");
    eprintln!("passed: repeated_refund_makes_one_document, refund_refusals");

    // 16 concurrent writers of one fulfilment, and of one refund.
    let (order3, _) = fixture.booked_order("race").await;
    let k = key("race-ship", order3.id.as_str());
    let req = Arc::new(FulfilmentRequest::new(
        k.clone(),
        fixture.shipment(&order3, &[]),
    ));
    race(fixture, ErpDocumentKind::Fulfilment, &k, |a| {
        let req = req.clone();
        async move { retrying(|| a.record_fulfilment(&req)).await }
    })
    .await;
    let k = key("race-refund", order3.id.as_str());
    let req = Arc::new(RefundRequest::new(
        k.clone(),
        fixture.refund(&order3, "race"),
    ));
    race(fixture, ErpDocumentKind::Refund, &k, |a| {
        let req = req.clone();
        async move { retrying(|| a.record_refund(&req)).await }
    })
    .await;
    eprintln!(
        "passed: concurrent_fulfilment_writers_make_one_document, \
         concurrent_refund_writers_make_one_document"
    );

    // Lost responses: Tryton commits, the answer never arrives; the key finds the document and
    // a repeat makes nothing new.
    let (order4, _) = fixture.booked_order("lost").await;
    let ship = FulfilmentRequest::new(
        key("lost-ship", order4.id.as_str()),
        fixture.shipment(&order4, &[]),
    );
    let note_req = RefundRequest::new(
        key("lost-refund", order4.id.as_str()),
        fixture.refund(&order4, "lost"),
    );
    for (what, kind) in [
        ("fulfilment", ErpDocumentKind::Fulfilment),
        ("refund", ErpDocumentKind::Refund),
    ] {
        let before = fixture.count(kind.clone()).await;
        fixture.proxy.inject(ProxyFault::DropResponseAfterCommit);
        let (err, k) = match kind {
            ErpDocumentKind::Fulfilment => (
                adapter.record_fulfilment(&ship).await.err(),
                &ship.idempotency_key,
            ),
            _ => (
                adapter.record_refund(&note_req).await.err(),
                &note_req.idempotency_key,
            ),
        };
        let err = err.unwrap_or_else(|| panic!("the {what} answer was not dropped"));
        assert!(err.is_temporary(), "{what}: {err}");
        let found = adapter.find_by_idempotency_key(k).await.unwrap();
        let found = found.unwrap_or_else(|| panic!("the committed {what} was not found by key"));
        assert_eq!(found.kind, kind);
        let again = match kind {
            ErpDocumentKind::Fulfilment => adapter.record_fulfilment(&ship).await.unwrap(),
            _ => adapter.record_refund(&note_req).await.unwrap(),
        };
        assert_eq!((again.id, again.created), (found.id, false), "{what}");
        assert_eq!(fixture.count(kind).await, before + 1, "{what}");
    }
    eprintln!("passed: lost_fulfilment_and_refund_responses_found_by_key");

    // A 503 on the write is temporary and leaves nothing under the key.
    let (order5, _) = fixture.booked_order("5xx").await;
    let ship = FulfilmentRequest::new(
        key("5xx-ship", order5.id.as_str()),
        fixture.shipment(&order5, &[]),
    );
    fixture.proxy.inject(ProxyFault::ServerErrorOnWrite);
    let err = adapter.record_fulfilment(&ship).await.unwrap_err();
    assert!(err.is_temporary(), "{err}");
    assert!(
        adapter
            .find_by_idempotency_key(&ship.idempotency_key)
            .await
            .unwrap()
            .is_none()
    );
    assert!(adapter.record_fulfilment(&ship).await.unwrap().created);
    let note_req = RefundRequest::new(
        key("5xx-refund", order5.id.as_str()),
        fixture.refund(&order5, "5xx"),
    );
    fixture.proxy.inject(ProxyFault::ServerErrorOnWrite);
    let err = adapter.record_refund(&note_req).await.unwrap_err();
    assert!(err.is_temporary(), "{err}");
    assert!(
        adapter
            .find_by_idempotency_key(&note_req.idempotency_key)
            .await
            .unwrap()
            .is_none()
    );
    assert!(adapter.record_refund(&note_req).await.unwrap().created);
    eprintln!("passed: fulfilment_and_refund_server_errors_are_temporary");
}
