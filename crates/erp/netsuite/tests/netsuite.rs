//! The adapter against the NetSuite simulator over HTTP: signing, governance, exact money,
//! documents and lookups.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use marketsync_core::chrono::{DateTime, Utc};
use marketsync_core::{
    Channel, ErpAdapter, ErpDocumentId, ErpDocumentKind, ErrorKind, EventKind, FulfilmentRequest,
    IdempotencyKey, JournalLine, JournalRequest, ReasonCode, Refund, RefundLine, RefundReason,
    RefundRequest, RefundStatus, Retry, Revision, SalesOrderRequest, Shipment, ShipmentLine,
    ShopId, Sku,
};
use marketsync_http::http::{Method, StatusCode};
use marketsync_http::{HttpClient, HttpConfig, HttpRequest, RequestSigner};
use marketsync_netsuite::{NetSuiteAdapter, Secret, TbaSigner};
use marketsync_testkit::sim::netsuite::RecordType;

fn key(n: &str) -> IdempotencyKey {
    IdempotencyKey::derive(
        &Channel::Tmall,
        &ShopId::new("shop-1"),
        &EventKind::Journal,
        n,
        &Revision::Version(1),
    )
}

#[tokio::test]
async fn wrong_secret_is_refused_with_netsuites_error_body() {
    let sim = common::sim(5).await;
    let mut cfg = common::config(&sim, 2);
    cfg.token_secret = Secret::new("wrong");
    // Through the adapter: Unauthorized, permanent, with NetSuite's error code.
    let bad = NetSuiteAdapter::new(cfg.clone()).unwrap();
    let err = bad.health_check().await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    assert_eq!(err.retry(), Retry::Permanent);
    assert_eq!(err.context_value("ns_error_code"), Some("INVALID_LOGIN"));
    assert!(err.message().starts_with("Invalid login attempt."), "{err}");
    assert_eq!(
        sim.login_audit_trail().last().map(String::as_str),
        Some("invalid signature")
    );

    // The raw answer is NetSuite's error body.
    let http = HttpClient::new(HttpConfig::default()).unwrap();
    let signer = TbaSigner::new(&cfg.account_id, cfg.credentials());
    let url = format!("{}/services/rest/record/v1/salesOrder/1", sim.base_url());
    let resp = http
        .send(
            HttpRequest::new(Method::GET, url.parse().unwrap()),
            Some(&signer),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["title"], "Unauthorized");
    assert_eq!(body["o:errorDetails"][0]["o:errorCode"], "INVALID_LOGIN");

    // The right secret with the realm in the wrong case is refused too.
    let mut cfg = common::config(&sim, 2);
    cfg.token_secret = Secret::new(sim.config().token_secret.clone());
    let good = NetSuiteAdapter::new(cfg.clone()).unwrap();
    good.health_check().await.unwrap();
    let lower = TbaSigner::new(&cfg.account_id, cfg.credentials());
    assert_eq!(lower.realm(), sim.config().realm);
}

#[tokio::test]
async fn signature_round_trips_with_query_parameters() {
    let sim = common::sim(5).await;
    let ns = common::adapter(&sim, 2);
    // SuiteQL sends limit/offset query parameters; record reads send expandSubResources.
    let page = ns
        .client()
        .suiteql(
            "SELECT id, itemid FROM item WHERE itemid IN ('SKU-0001')",
            5,
            0,
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let got = ns
        .client()
        .get_record(
            "salesOrder",
            "999999",
            &[("expandSubResources", "true"), ("q", "a b+\"c\"")],
        )
        .await
        .unwrap();
    assert!(got.is_none(), "unknown id is NotFound → None");
    assert!(
        sim.login_audit_trail().is_empty(),
        "{:?}",
        sim.login_audit_trail()
    );
}

/// External ids are unique per record type, atomically: 32 concurrent `PUT …/eid:<x>` upserts of
/// one journal make one record, and every request learns its internal id.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_eid_upserts_make_one_record() {
    let sim = common::sim(64).await;
    let ns = Arc::new(common::adapter(&sim, 32));
    let body = marketsync_netsuite::normalize::journal_body(&common::sample_journal(), ns.config())
        .unwrap();
    let body = serde_json::to_vec(&body).unwrap();
    let k = key("eid-race");
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (ns, body, k) = (ns.clone(), body.clone(), k.clone());
            tokio::spawn(async move {
                ns.upsert_by_external_id("journalEntry", k.as_str(), body)
                    .await
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap().unwrap());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(sim.count(RecordType::JournalEntry), 1);
    assert!(sim.peak_concurrency() > 1, "the upserts did not overlap");
}

/// A user's form POST to a RESTlet: the signer includes the form-encoded body parameters
/// (RFC 5849 §3.4.1.3.1) and the simulator verifies them; the same header on a changed body
/// is refused.
#[tokio::test]
async fn form_body_parameters_are_signed_and_verified() {
    let sim = common::sim(5).await;
    let cfg = common::config(&sim, 2);
    let signer = TbaSigner::new(&cfg.account_id, cfg.credentials());
    let http = HttpClient::new(HttpConfig::default()).unwrap();
    let url: url::Url = format!(
        "{}/app/site/hosting/restlet.nl?script=6&deploy=1",
        sim.base_url().trim_end_matches('/')
    )
    .parse()
    .unwrap();
    let form = vec![
        ("memo".to_owned(), "leave at the door, please".to_owned()),
        ("c2".to_owned(), String::new()),
        ("a3".to_owned(), "2 q".to_owned()),
    ];
    let request = HttpRequest::new(Method::POST, url.clone()).form_body(&form);
    let response = http.send(request, Some(&signer)).await.unwrap();
    // Signature accepted: the simulator then answers that it has no RESTlet (404), not 401.
    assert_ne!(response.status, StatusCode::UNAUTHORIZED);
    assert!(
        sim.login_audit_trail().is_empty(),
        "{:?}",
        sim.login_audit_trail()
    );
    // The same signed header with a different body: the signature no longer matches.
    let mut tampered = HttpRequest::new(Method::POST, url).form_body(&form);
    signer.sign(&mut tampered).unwrap();
    tampered.body = b"memo=something+else&c2=&a3=2+q".to_vec();
    let response = http.send(tampered, None).await.unwrap();
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        sim.login_audit_trail(),
        vec!["invalid signature".to_owned()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_limit_is_rate_limited_and_the_semaphore_prevents_it() {
    let sim = common::sim(2).await;
    sim.set_latency(std::time::Duration::from_millis(150));
    let probe = |ns: Arc<NetSuiteAdapter>, n: usize| async move {
        let mut tasks = Vec::new();
        for i in 0..n {
            let ns = ns.clone();
            tasks.push(tokio::spawn(async move {
                ns.find_by_idempotency_key(&key(&format!("probe-{i}")))
                    .await
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    };
    // An adapter allowed more than the account: the account refuses the excess.
    let greedy = Arc::new(common::adapter(&sim, 8));
    assert_eq!(greedy.capabilities().max_concurrency, Some(8));
    let results = probe(greedy, 8).await;
    let limited: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        !limited.is_empty(),
        "no request was refused over the account limit"
    );
    for e in &limited {
        assert!(matches!(e.kind(), ErrorKind::RateLimited { .. }), "{e}");
        assert!(e.is_temporary());
        assert_eq!(
            e.context_value("ns_error_code"),
            Some("SSS_REQUEST_LIMIT_EXCEEDED")
        );
        assert_eq!(e.context_value("http_status"), Some("429"));
    }
    assert!(sim.throttled() >= limited.len());

    // An adapter sized to the account never exceeds it.
    sim.reset_peak();
    let polite = Arc::new(common::adapter(&sim, 2));
    let results = probe(polite.clone(), 8).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(
        sim.peak_concurrency() <= 2,
        "peak {}",
        sim.peak_concurrency()
    );
    assert_eq!(polite.client().available_permits(), 2);
}

#[tokio::test]
async fn journal_amounts_are_sent_byte_exact_with_dimensions() {
    let sim = common::sim(5).await;
    let mut cfg = common::config(&sim, 2);
    cfg.dimensions.push(marketsync_netsuite::DimensionRule {
        source: "channel".into(),
        field: "class".into(),
        values: [("tmall".to_owned(), "8".to_owned())].into_iter().collect(),
    });
    let ns = NetSuiteAdapter::new(cfg).unwrap();
    let mut dims = marketsync_core::Dimensions {
        channel: Some(Channel::Tmall),
        ..Default::default()
    };
    dims.extra.insert("department".into(), "12".into());
    let tenth = common::cny("0.1");
    let fifth = common::cny("0.2");
    let sum = tenth.checked_add(&fifth).unwrap();
    let entry = common::journal(vec![
        JournalLine::debit("1122", sum)
            .with_memo("0.1 + 0.2")
            .with_dimensions(dims),
        JournalLine::debit("1002", common::cny("12345678901234567.89")),
        JournalLine::credit("6001", common::cny("0.30")),
        JournalLine::credit("2221", common::cny("12345678901234567.89")),
    ]);
    let k = key("exact");
    let doc = ns
        .post_journal(&JournalRequest::new(k.clone(), entry))
        .await
        .unwrap();
    assert!(doc.created);
    let raw =
        String::from_utf8(sim.raw_body(RecordType::JournalEntry, k.as_str()).unwrap()).unwrap();
    assert!(
        raw.contains(
            r#""debit":0.3,"memo":"0.1 + 0.2","class":{"id":"8"},"department":{"id":"12"}"#
        ),
        "{raw}"
    );
    assert!(raw.contains(r#""credit":0.30}"#), "{raw}");
    assert!(raw.contains(r#""debit":12345678901234567.89}"#), "{raw}");
    assert!(raw.contains(r#""tranDate":"2026-02-01""#), "{raw}");
    let found = ns.find_by_idempotency_key(&k).await.unwrap().unwrap();
    assert_eq!(found.id, doc.id);
    assert_eq!(found.kind, ErpDocumentKind::JournalEntry);
    assert!(found.number.is_some());
}

#[tokio::test]
async fn journal_refusals_happen_before_any_request() {
    let sim = common::sim(5).await;
    let ns = common::adapter(&sim, 2);
    let mut bad = common::sample_journal();
    bad.lines[0].amount = common::cny("113.01");
    let err = ns
        .post_journal(&JournalRequest::new(key("unbalanced"), bad))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::UnbalancedJournal);
    let mut unmapped = common::sample_journal();
    unmapped.entity = "US01".into();
    let err = ns
        .post_journal(&JournalRequest::new(key("unmapped"), unmapped))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Mapping);
    assert_eq!(sim.count(RecordType::JournalEntry), 0);
    // An account NetSuite does not know is NetSuite's refusal, with the path of the field.
    let mut cfg = common::config(&sim, 2);
    cfg.accounts.insert("6001".into(), "999".into());
    let ns = NetSuiteAdapter::new(cfg).unwrap();
    let err = ns
        .post_journal(&JournalRequest::new(
            key("bad-account"),
            common::sample_journal(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Validation);
    assert_eq!(err.reason(), ReasonCode::ErpRejected);
    assert_eq!(
        err.context_value("ns_error_code"),
        Some("INVALID_KEY_OR_REF")
    );
    assert_eq!(
        err.context_value("ns_error_path"),
        Some("line.items[1].account")
    );
}

fn shipment(order_id: &str, lines: Vec<ShipmentLine>) -> Shipment {
    Shipment {
        channel: Channel::Tmall,
        shop: ShopId::new("shop-1"),
        order_id: order_id.into(),
        id: None,
        carrier: "SF".into(),
        tracking_number: "SF1234567890".into(),
        shipped_at: DateTime::parse_from_rfc3339("2026-02-02T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        lines,
        location: None,
    }
}

#[tokio::test]
async fn sales_order_fulfilment_refund_and_inventory() {
    let sim = common::sim(5).await;
    let mut cfg = common::config(&sim, 3);
    cfg.refund_account = Some("110".into());
    let ns = NetSuiteAdapter::new(cfg).unwrap();

    // Sales order, upserted by external id; items resolved by SKU through SuiteQL.
    let so_key = key("so-1");
    let req = SalesOrderRequest::new(so_key.clone(), common::order("5001"));
    let so = ns.upsert_sales_order(&req).await.unwrap();
    assert!(so.created);
    let again = ns.upsert_sales_order(&req).await.unwrap();
    assert_eq!((again.id.clone(), again.created), (so.id.clone(), false));
    assert_eq!(sim.count(RecordType::SalesOrder), 1);
    let raw = String::from_utf8(
        sim.raw_body(RecordType::SalesOrder, so_key.as_str())
            .unwrap(),
    )
    .unwrap();
    assert!(
        raw.contains(r#""item":{"id":"1001"},"quantity":2,"rate":19.90,"amount":39.80"#),
        "{raw}"
    );
    assert!(raw.contains(r#""otherRefNum":"5001""#));

    // Partial shipment, sales order found by the marketplace order id.
    let ship_key = key("ship-1");
    let partial = FulfilmentRequest::new(
        ship_key.clone(),
        shipment(
            "5001",
            vec![ShipmentLine {
                line_id: "1".into(),
                sku: "SKU-0001".into(),
                quantity: 1,
            }],
        ),
    );
    let f = ns.record_fulfilment(&partial).await.unwrap();
    assert!(f.created);
    assert_eq!(
        sim.fulfilled(so.id.as_str())
            .values()
            .copied()
            .collect::<Vec<_>>(),
        vec![1, 0]
    );
    // The same shipment again: found by external id, nothing new.
    let f2 = ns.record_fulfilment(&partial).await.unwrap();
    assert_eq!((f2.id.clone(), f2.created), (f.id.clone(), false));
    assert_eq!(f2.kind, ErpDocumentKind::Fulfilment);
    // The rest of the order, with the sales order id given.
    let mut rest = FulfilmentRequest::new(key("ship-2"), shipment("5001", vec![]));
    rest.sales_order = Some(so.id.clone());
    ns.record_fulfilment(&rest).await.unwrap();
    assert_eq!(
        sim.fulfilled(so.id.as_str())
            .values()
            .copied()
            .collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(sim.count(RecordType::ItemFulfillment), 2);
    // Nothing left to ship.
    let err = ns
        .record_fulfilment(&FulfilmentRequest::new(
            key("ship-3"),
            shipment("5001", vec![]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Validation);

    // Refund: credit memo plus customer refund, both idempotent.
    let t = DateTime::parse_from_rfc3339("2026-02-03T04:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let refund = Refund {
        channel: Channel::Tmall,
        shop: ShopId::new("shop-1"),
        id: "R1".into(),
        order_id: "5001".into(),
        revision: Revision::Version(1),
        status: RefundStatus::Completed,
        raw_status: "SUCCESS".into(),
        reason: RefundReason {
            code: None,
            text: Some("damaged".into()),
        },
        created_at: t,
        updated_at: t,
        lines: vec![RefundLine {
            line_id: "1".into(),
            sku: "SKU-0001".into(),
            quantity: 1,
            amount: common::cny("19.90"),
            taxes: vec![],
            restock: false,
        }],
        shipping: Some(common::cny("6.00")),
        total: common::cny("25.90"),
        goods_return: None,
        raw: None,
    };
    let mut rreq = RefundRequest::new(key("refund-1"), refund.clone());
    rreq.sales_order = Some(so.id.clone());
    let cm = ns.record_refund(&rreq).await.unwrap();
    assert!(cm.created);
    let cm2 = ns.record_refund(&rreq).await.unwrap();
    assert_eq!((cm2.id.clone(), cm2.created), (cm.id.clone(), false));
    assert_eq!(sim.count(RecordType::CreditMemo), 1);
    assert_eq!(sim.count(RecordType::CustomerRefund), 1);
    let raw = String::from_utf8(
        sim.raw_body(RecordType::CreditMemo, key("refund-1").as_str())
            .unwrap(),
    )
    .unwrap();
    assert!(
        raw.contains(r#"{"item":{"id":"2001"},"quantity":1,"amount":6.00}"#),
        "{raw}"
    );
    let child = key("refund-1").child("customer_refund");
    let raw = String::from_utf8(
        sim.raw_body(RecordType::CustomerRefund, child.as_str())
            .unwrap(),
    )
    .unwrap();
    assert!(raw.contains(r#""apply":true,"amount":25.90"#), "{raw}");
    // A refund that is not completed has no accounting effect and is refused.
    let mut pending = refund;
    pending.status = RefundStatus::Requested;
    let err = ns
        .record_refund(&RefundRequest::new(key("refund-2"), pending))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Validation);

    // Lookups by key find each kind.
    let d = ns.find_by_idempotency_key(&so_key).await.unwrap().unwrap();
    assert_eq!((d.id, d.kind), (so.id.clone(), ErpDocumentKind::SalesOrder));
    let d = ns
        .find_by_idempotency_key(&key("refund-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.id, d.kind), (cm.id, ErpDocumentKind::Refund));

    // Inventory by SuiteQL: SKU-0002 stocks at both locations, SKU-0003 at one.
    let inv = ns
        .inventory_positions(&[Sku::new("SKU-0002"), Sku::new("SKU-0003"), Sku::new("NOPE")])
        .await
        .unwrap();
    assert_eq!(inv.len(), 3);
    let p = inv
        .iter()
        .find(|p| p.sku.as_str() == "SKU-0002" && p.location.as_str() == "2")
        .unwrap();
    assert_eq!((p.on_hand, p.reserved, p.available), (10, 1, 9));
    let p = inv.iter().find(|p| p.sku.as_str() == "SKU-0003").unwrap();
    assert_eq!((p.on_hand, p.reserved, p.available), (30, 0, 30));

    // An unknown SKU on an order is a mapping error before anything is written.
    let mut o = common::order("5002");
    o.lines[0].sku = "NOT-IN-NETSUITE".into();
    let err = ns
        .upsert_sales_order(&SalesOrderRequest::new(key("so-2"), o))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::UnknownSku);
    assert_eq!(sim.count(RecordType::SalesOrder), 1);
    let _ = ErpDocumentId::new("unused");
}
