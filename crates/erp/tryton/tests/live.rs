//! Behaviour against the live Tryton server beyond the conformance suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::{FaultProxy, ProxyFault, live_config, with_test_accounts};
use marketsync_core::chrono::{NaiveDate, Utc};
use marketsync_core::rust_decimal::Decimal;
use marketsync_core::*;
use marketsync_tryton::{TrytonAdapter, key_domain, legacy_key_domain, wire};
use serde_json::json;

fn usd(s: &str) -> Money {
    Money::new(s.parse::<Decimal>().unwrap(), Currency::USD)
}

fn key(label: &str) -> IdempotencyKey {
    let run = format!(
        "{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    IdempotencyKey::derive(
        &Channel::Custom("live".into()),
        &ShopId::new(label),
        &EventKind::Other("live".into()),
        &run,
        &Revision::Version(1),
    )
}

fn journal(debit: &str, credit: &str) -> JournalEntry {
    let dims = Dimensions {
        channel: Some(Channel::Amazon),
        ..Dimensions::default()
    };
    JournalEntry {
        entity: "US01".into(),
        date: NaiveDate::from_ymd_opt(2026, 3, 5).unwrap(),
        memo: "live test".into(),
        lines: vec![
            JournalLine::debit("1210", usd(debit)).with_dimensions(dims.clone()),
            JournalLine::credit("4000", usd(credit)).with_dimensions(dims),
        ],
        reference: Some("live:journal".into()),
    }
}

async fn count(a: &TrytonAdapter, model: &str, k: &IdempotencyKey) -> u64 {
    a.rpc()
        .search_count(model, key_domain(k), &json!({}))
        .await
        .unwrap()
}

fn adapter() -> Option<TrytonAdapter> {
    let config = with_test_accounts(live_config("US01")?);
    Some(TrytonAdapter::new(config).unwrap())
}

/// What the tests read from `scripts/tryton-up.sh` when they bring the server up themselves.
#[test]
fn tryton_up_exports_are_read_with_or_without_quotes() {
    let out = "noise\nexport MARKETSYNC_TRYTON_URL=http://127.0.0.1:8765/\n\
               export MARKETSYNC_TRYTON_DB='books'\n\
               export MARKETSYNC_TRYTON_PASSWORD_FILE=\"/home/a b/pw\"\n\
               export OTHER=x\n";
    let map = common::up::parse_exports(out).unwrap();
    assert_eq!(map.len(), 3);
    assert_eq!(map["URL"], "http://127.0.0.1:8765/");
    assert_eq!(map["DB"], "books");
    assert_eq!(map["PASSWORD_FILE"], "/home/a b/pw");
    let missing = common::up::parse_exports("export MARKETSYNC_TRYTON_DB=books\n").unwrap_err();
    assert!(missing.contains("MARKETSYNC_TRYTON_URL"), "{missing}");
}

#[tokio::test]
async fn a_repeated_post_makes_no_second_move() {
    let Some(a) = adapter() else { return };
    let k = key("repeat");
    let req = JournalRequest::new(k.clone(), journal("12.34", "12.34"));
    let first = a.post_journal(&req).await.unwrap();
    let second = a.post_journal(&req).await.unwrap();
    let third = a.post_journal(&req).await.unwrap();
    assert!(first.created && !second.created && !third.created);
    assert_eq!(first.id, second.id);
    assert_eq!(first.id, third.id);
    assert_eq!(first.number, third.number);
    assert_eq!(count(&a, "account.move", &k).await, 1);
    let found = a.find_by_idempotency_key(&k).await.unwrap().unwrap();
    assert_eq!(found.id, first.id);
    assert_eq!(found.kind, ErpDocumentKind::JournalEntry);
}

#[tokio::test]
async fn an_unbalanced_entry_is_refused_before_the_erp() {
    let Some(live) = adapter() else { return };
    // An adapter pointed at a port nothing listens on: any request would fail as
    // `Unavailable`, so a `Validation` error proves nothing was sent.
    let nowhere = TrytonAdapter::new(
        live.config()
            .clone()
            .with_url("http://127.0.0.1:9/".parse().unwrap()),
    )
    .unwrap();
    let k = key("unbalanced");
    let err = nowhere
        .post_journal(&JournalRequest::new(k.clone(), journal("10.00", "9.99")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Validation, "{err}");
    assert_eq!(err.reason(), ReasonCode::UnbalancedJournal);
    assert_eq!(err.retry(), Retry::Permanent);
    // And against the live server: refused, nothing created under the key.
    let err = live
        .post_journal(&JournalRequest::new(k.clone(), journal("10.00", "9.99")))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::UnbalancedJournal);
    assert_eq!(count(&live, "account.move", &k).await, 0);
}

#[tokio::test]
async fn an_unknown_account_is_a_mapping_error_and_creates_nothing() {
    let Some(a) = adapter() else { return };
    let mut j = journal("5.00", "5.00");
    j.lines[1].account = "9.9.9-nope".into();
    let k = key("unknown-account");
    let err = a
        .post_journal(&JournalRequest::new(k.clone(), j))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Mapping, "{err}");
    assert_eq!(count(&a, "account.move", &k).await, 0);
}

#[tokio::test]
async fn a_date_without_an_open_period_is_refused_and_leaves_nothing() {
    let Some(a) = adapter() else { return };
    let mut j = journal("5.00", "5.00");
    j.date = NaiveDate::from_ymd_opt(2031, 1, 15).unwrap();
    let k = key("no-period");
    let err = a
        .post_journal(&JournalRequest::new(k.clone(), j))
        .await
        .unwrap_err();
    assert!(!err.is_temporary(), "{err}");
    assert_eq!(count(&a, "account.move", &k).await, 0);
}

fn order(id: &str, sku: &str) -> Order {
    let at = "2026-03-06T10:00:00Z".parse().unwrap();
    let mut line = OrderLine {
        line_id: "1".into(),
        sku: sku.into(),
        platform_sku_id: None,
        listing_id: None,
        title: "Mug".into(),
        quantity: 3,
        unit_price: usd("20.00"),
        discounts: vec![],
        taxes: vec![],
        fulfilment_channel: None,
        raw_status: None,
        quantity_shipped: 0,
    };
    line.discounts = vec![Discount {
        funder: DiscountFunder::Seller,
        amount: usd("5.00"),
        code: None,
        description: None,
    }];
    Order {
        channel: Channel::Shopify,
        shop: "main".into(),
        id: id.into(),
        revision: Revision::Version(1),
        status: OrderStatus::AwaitingFulfilment,
        raw_status: "paid".into(),
        placed_at: at,
        paid_at: Some(at),
        updated_at: at,
        source_time_zone: TimeZoneId::utc(),
        currency: Currency::USD,
        presentment: None,
        lines: vec![line],
        discounts: vec![],
        shipping: vec![ShippingCharge {
            amount: usd("4.50"),
            discounts: vec![],
            taxes: vec![],
            method: None,
        }],
        taxes: vec![TaxLine {
            kind: TaxKind::SalesTax,
            rate: None,
            amount: usd("4.86"),
            included_in_price: false,
            collected_by: TaxCollector::Seller,
            jurisdiction: Some("NY".into()),
        }],
        payments: vec![],
        fulfilment_channel: FulfilmentChannel::Seller,
        buyer: None,
        ship_to: None,
        attribution: None,
        raw: None,
        extensions: BTreeMap::new(),
    }
}

#[tokio::test]
async fn a_sales_order_is_confirmed_with_the_buyer_total() {
    let Some(a) = adapter() else { return };
    let o = order(&format!("LIVE-{}", std::process::id()), "SKU-0005");
    let expected = o.totals().unwrap().buyer_total;
    let k = key("sale");
    let doc = a
        .upsert_sales_order(&SalesOrderRequest::new(k.clone(), o.clone()))
        .await
        .unwrap();
    assert!(doc.created);
    assert!(doc.number.is_some());
    let rows = a
        .rpc()
        .search_read(
            "sale.sale",
            json!([["id", "=", doc.id.as_str().parse::<i64>().unwrap()]]),
            None,
            &[
                "state",
                "total_amount",
                "reference",
                "invoice_method",
                "lines",
            ],
            &json!({}),
        )
        .await
        .unwrap();
    let row = &rows[0];
    assert!(
        ["confirmed", "processing"].contains(&row["state"].as_str().unwrap()),
        "{row:?}"
    );
    assert_eq!(
        wire::parse_decimal(&row["total_amount"]),
        Some(expected.amount)
    );
    assert_eq!(row["invoice_method"], "manual");
    assert_eq!(row["lines"].as_array().map(Vec::len), Some(4));
    assert_eq!(row["reference"], format!("shopify:{}", o.id));
    let again = a
        .upsert_sales_order(&SalesOrderRequest::new(k.clone(), o))
        .await
        .unwrap();
    assert_eq!((again.id, again.created), (doc.id, false));
    assert_eq!(count(&a, "sale.sale", &k).await, 1);
}

#[tokio::test]
async fn an_unknown_sku_is_a_mapping_error_and_creates_no_sale() {
    let Some(a) = adapter() else { return };
    let k = key("unknown-sku");
    let err = a
        .upsert_sales_order(&SalesOrderRequest::new(
            k.clone(),
            order("LIVE-X", "NOPE-1"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Mapping);
    assert_eq!(err.reason(), ReasonCode::UnknownSku);
    assert_eq!(count(&a, "sale.sale", &k).await, 0);
}

#[tokio::test]
async fn stock_positions_come_from_the_warehouse() {
    let Some(a) = adapter() else { return };
    let skus = [Sku::new("SKU-0019"), Sku::new("SKU-0001")];
    let pos = a.inventory_positions(&skus).await.unwrap();
    assert_eq!(pos.len(), 2);
    // SKU-0019 is never sold by the tests: the 100 units of the setup inventory.
    assert_eq!(
        (pos[0].on_hand, pos[0].available, pos[0].reserved),
        (100, 100, 0)
    );
    assert_eq!(pos[0].location.as_str(), "WH");
    for p in &pos {
        assert!(p.available <= p.on_hand && p.reserved == p.on_hand - p.available);
    }
    let err = a
        .inventory_positions(&[Sku::new("NOPE-1")])
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::UnknownSku);
}

#[tokio::test]
async fn real_server_errors_map_to_their_kinds() {
    let Some(a) = adapter() else { return };
    // A Tryton UserError (reading a record that does not exist).
    let err = a
        .rpc()
        .model(
            "account.move",
            "read",
            vec![json!([999_999_999]), json!(["id"])],
            &json!({}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Validation, "{err}");
    assert_eq!(err.reason(), ReasonCode::ErpRejected);
    assert_eq!(err.retry(), Retry::Permanent);
    // A method not exposed over RPC: HTTP 403.
    let err = a
        .rpc()
        .model("account.move", "no_such_method", vec![], &json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::PermissionDenied, "{err}");
    // (An unknown database answers 404 only after trytond's 30 s connection-pool timeout, so
    // it is covered by the error-table unit test rather than here.)
    // Nothing listening: Unavailable, Temporary.
    let err = TrytonAdapter::new(
        a.config()
            .clone()
            .with_url("http://127.0.0.1:9/".parse().unwrap()),
    )
    .unwrap()
    .health_check()
    .await
    .unwrap_err();
    assert!(err.is_temporary(), "{err}");
    // The whole order life cycle is supported, and declared.
    let caps = a.capabilities();
    assert!(
        caps.journals && caps.sales_orders && caps.fulfilments && caps.refunds && caps.inventory,
        "{caps:?}"
    );
}

#[tokio::test]
async fn an_expired_session_logs_in_again() {
    let Some(a) = adapter() else { return };
    let before = a.rpc().user_id().await.unwrap();
    // End the session on the server; the next call gets 401, logs in again and succeeds.
    a.rpc().call("common.db.logout", &[]).await.unwrap();
    let n = a
        .rpc()
        .search_count("company.company", json!([]), &json!({}))
        .await
        .unwrap();
    assert!(n >= 1);
    assert_eq!(a.rpc().user_id().await.unwrap(), before);
}

/// Documents of `model` under key `k` in `state` (any state when `None`), counted on the server.
async fn count_in(a: &TrytonAdapter, model: &str, k: &IdempotencyKey, state: Option<&str>) -> u64 {
    let mut domain = key_domain(k);
    if let (Some(state), Some(d)) = (state, domain.as_array_mut()) {
        d.push(json!(["state", "=", state]));
    }
    a.rpc()
        .search_count(model, domain, &json!({}))
        .await
        .unwrap()
}

/// Retries temporary errors, as the pipeline would.
async fn retrying<F, Fut>(mut write: F) -> Result<ErpDocumentRef>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<ErpDocumentRef>>,
{
    let mut attempt = 0u64;
    loop {
        match write().await {
            Err(e) if e.is_temporary() && attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            other => return other,
        }
    }
}

/// `n` writers at once, each with its own adapter (its own session) when `own_clients`, else
/// all sharing one; answers every writer's document.
async fn race<F, Fut>(n: usize, own_clients: bool, write: F) -> Vec<ErpDocumentRef>
where
    F: Fn(Arc<TrytonAdapter>) -> Fut,
    Fut: std::future::Future<Output = Result<ErpDocumentRef>> + Send + 'static,
{
    let shared = Arc::new(adapter().unwrap());
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let a = if own_clients {
                Arc::new(adapter().unwrap())
            } else {
                shared.clone()
            };
            tokio::spawn(write(a))
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(
            t.await
                .unwrap()
                .unwrap_or_else(|e| panic!("a writer failed: {e}")),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_posts_of_one_key_leave_one_posted_move() {
    let Some(a) = adapter() else { return };
    for round in 0..5 {
        let k = key(&format!("race-journal-{round}"));
        let req = Arc::new(JournalRequest::new(k.clone(), journal("7.77", "7.77")));
        // Rounds alternate between 16 clients and 16 tasks sharing one adapter.
        let docs = race(16, round % 2 == 0, |a| {
            let req = req.clone();
            async move { retrying(|| a.post_journal(&req)).await }
        })
        .await;
        let ids: BTreeSet<_> = docs.iter().map(|d| d.id.clone()).collect();
        assert_eq!(ids.len(), 1, "round {round}: writers learnt {ids:?}");
        assert_eq!(
            docs.iter().filter(|d| d.created).count(),
            1,
            "round {round}: exactly one writer created the move"
        );
        assert_eq!(
            count_in(&a, "account.move", &k, None).await,
            1,
            "round {round}"
        );
        assert_eq!(
            count_in(&a, "account.move", &k, Some("posted")).await,
            1,
            "round {round}: the move is posted"
        );
        let found = a.find_by_idempotency_key(&k).await.unwrap().unwrap();
        assert_eq!(Some(&found.id), ids.first());
        // The key is not stuck: a later post answers the same move.
        let later = a.post_journal(&req).await.unwrap();
        assert_eq!((Some(&later.id), later.created), (ids.first(), false));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_upserts_of_one_key_leave_one_confirmed_sale() {
    let Some(a) = adapter() else { return };
    for round in 0..5 {
        let k = key(&format!("race-sale-{round}"));
        let o = order(&format!("RACE-{}-{round}", std::process::id()), "SKU-0007");
        let req = Arc::new(SalesOrderRequest::new(k.clone(), o));
        let docs = race(16, round % 2 == 0, |a| {
            let req = req.clone();
            async move { retrying(|| a.upsert_sales_order(&req)).await }
        })
        .await;
        let ids: BTreeSet<_> = docs.iter().map(|d| d.id.clone()).collect();
        assert_eq!(ids.len(), 1, "round {round}: writers learnt {ids:?}");
        assert_eq!(docs.iter().filter(|d| d.created).count(), 1);
        assert_eq!(
            count_in(&a, "sale.sale", &k, None).await,
            1,
            "round {round}"
        );
        let confirmed = count_in(&a, "sale.sale", &k, Some("confirmed")).await
            + count_in(&a, "sale.sale", &k, Some("processing")).await;
        assert_eq!(confirmed, 1, "round {round}: the sale is confirmed");
    }
}

#[tokio::test]
async fn a_503_on_the_write_leaves_nothing_that_blocks_the_key() {
    let Some(config) = live_config("US01") else {
        return;
    };
    let config = with_test_accounts(config);
    let host = config.url.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = config.url.port_or_known_default().unwrap_or(8000);
    let proxy = FaultProxy::start(format!("{host}:{port}")).await;
    let a = TrytonAdapter::new(config.clone().with_url(proxy.url())).unwrap();
    let direct = TrytonAdapter::new(config).unwrap();
    let k = key("503");
    let req = JournalRequest::new(k.clone(), journal("3.21", "3.21"));
    // Warm the caches (company, accounts) so the 503 hits the write itself.
    a.post_journal(&JournalRequest::new(
        key("503-warm"),
        journal("1.00", "1.00"),
    ))
    .await
    .unwrap();
    proxy.inject(ProxyFault::ServerErrorOnWrite);
    let err = a.post_journal(&req).await.unwrap_err();
    assert!(err.is_temporary(), "{err}");
    assert_eq!(count_in(&direct, "account.move", &k, None).await, 0);
    let doc = a.post_journal(&req).await.unwrap();
    assert!(doc.created);
    assert_eq!(
        count_in(&direct, "account.move", &k, Some("posted")).await,
        1
    );
    assert_eq!(count_in(&direct, "account.move", &k, None).await, 1);
}

/// A move copied from `from` with `description` and no key: what an adapter before the
/// unique key left (it keyed documents by the first word of the description).
async fn legacy_copy(a: &TrytonAdapter, from: &ErpDocumentRef, description: &str) -> i64 {
    let id: i64 = from.id.as_str().parse().unwrap();
    let copied = a
        .rpc()
        .model(
            "account.move",
            "copy",
            vec![json!([id]), json!({"description": description})],
            &json!({}),
        )
        .await
        .unwrap();
    copied.as_array().unwrap()[0].as_i64().unwrap()
}

#[tokio::test]
async fn drafts_left_by_an_older_adapter_are_repaired() {
    let Some(a) = adapter() else { return };
    let template = a
        .post_journal(&JournalRequest::new(
            key("legacy-template"),
            journal("4.44", "4.44"),
        ))
        .await
        .unwrap();
    let k = key("legacy-drafts");
    let first = legacy_copy(&a, &template, &format!("{} old adapter", k.as_str())).await;
    let second = legacy_copy(&a, &template, &format!("{} old adapter", k.as_str())).await;
    assert_eq!(
        a.rpc()
            .search_count("account.move", legacy_key_domain(&k), &json!({}))
            .await
            .unwrap(),
        2
    );
    // Drafts are not a finished document: the lookup finds nothing yet.
    assert!(a.find_by_idempotency_key(&k).await.unwrap().is_none());
    let doc = a
        .post_journal(&JournalRequest::new(k.clone(), journal("4.44", "4.44")))
        .await
        .unwrap();
    // The first draft is adopted and posted, the extra one deleted.
    assert_eq!(doc.id.as_str(), first.to_string());
    assert!(!doc.created);
    assert_eq!(count_in(&a, "account.move", &k, Some("posted")).await, 1);
    assert_eq!(
        a.rpc()
            .search_count("account.move", json!([["id", "=", second]]), &json!({}))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn two_posted_documents_under_one_key_are_a_typed_conflict_naming_both() {
    let Some(a) = adapter() else { return };
    let template = a
        .post_journal(&JournalRequest::new(
            key("dup-template"),
            journal("5.55", "5.55"),
        ))
        .await
        .unwrap();
    let k = key("legacy-duplicates");
    let label = format!("{} old adapter", k.as_str());
    let one = legacy_copy(&a, &template, &label).await;
    let two = legacy_copy(&a, &template, &label).await;
    a.rpc()
        .button("account.move", "post", &[one, two], &json!({}))
        .await
        .unwrap();
    let err = a
        .post_journal(&JournalRequest::new(k.clone(), journal("5.55", "5.55")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Conflict, "{err}");
    assert_eq!(err.retry(), Retry::Permanent);
    assert_eq!(err.reason().as_str(), "duplicate_erp_documents");
    assert_eq!(
        err.context_value("tryton_ids"),
        Some(format!("{one},{two}").as_str())
    );
    let err = a.find_by_idempotency_key(&k).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Conflict);
}

#[tokio::test]
async fn marketplace_text_with_control_characters_posts() {
    let Some(a) = adapter() else { return };
    let mut j = journal("6.66", "6.66");
    j.memo = "buyer note:\r\nleave at the door\tplease\u{0}!".into();
    j.reference = Some("live:\nref".into());
    j.lines[0].memo = Some("line\nmemo".into());
    let k = key("control-chars");
    let doc = a
        .post_journal(&JournalRequest::new(k.clone(), j))
        .await
        .unwrap();
    let rows = a
        .rpc()
        .search_read(
            "account.move",
            key_domain(&k),
            None,
            &["description", "state"],
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(rows[0]["state"], "posted", "{doc:?}");
    assert_eq!(
        rows[0]["description"],
        "live: ref buyer note: leave at the door please !"
    );

    let mut o = order(&format!("CTRL-{}", std::process::id()), "SKU-0008");
    o.lines[0].title = "Mug\nwith\u{0}lid".into();
    o.id = format!("CTRL\n{}", std::process::id()).into();
    let doc = a
        .upsert_sales_order(&SalesOrderRequest::new(key("control-chars-sale"), o))
        .await
        .unwrap();
    assert!(doc.created && doc.number.is_some());
}

#[tokio::test]
async fn an_empty_entry_has_its_own_reason() {
    let Some(a) = adapter() else { return };
    let mut j = journal("1.00", "1.00");
    j.lines.clear();
    let err = a
        .post_journal(&JournalRequest::new(key("empty"), j))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::EmptyJournal, "{err}");
    let j = journal("0.00", "0.00");
    let err = a
        .post_journal(&JournalRequest::new(key("zero"), j))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::EmptyJournal, "{err}");
}

#[tokio::test]
async fn lookup_errors_read_as_sentences() {
    let Some(a) = adapter() else { return };
    let mut j = journal("5.00", "5.00");
    j.date = NaiveDate::from_ymd_opt(2031, 1, 15).unwrap();
    let err = a
        .post_journal(&JournalRequest::new(key("period-text"), j))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "Tryton has no open standard accounting period of the company containing \"2031-01-15\""
        ),
        "{err}"
    );
}

#[tokio::test]
async fn sales_left_by_an_older_adapter_are_repaired() {
    let Some(a) = adapter() else { return };
    let template = a
        .upsert_sales_order(&SalesOrderRequest::new(
            key("legacy-sale-template"),
            order(&format!("LEGACY-T-{}", std::process::id()), "SKU-0009"),
        ))
        .await
        .unwrap();
    let k = key("legacy-sales");
    let label = format!("{} shopify order old", k.as_str());
    let template_id: i64 = template.id.as_str().parse().unwrap();
    let mut copies = Vec::new();
    for _ in 0..2 {
        let copied = a
            .rpc()
            .model(
                "sale.sale",
                "copy",
                vec![json!([template_id]), json!({"description": label})],
                &json!({}),
            )
            .await
            .unwrap();
        copies.push(copied.as_array().unwrap()[0].as_i64().unwrap());
    }
    // The second one got as far as a quotation before the old adapter lost track of it.
    a.rpc()
        .button("sale.sale", "quote", &[copies[1]], &json!({}))
        .await
        .unwrap();
    let doc = a
        .upsert_sales_order(&SalesOrderRequest::new(
            k.clone(),
            order(&format!("LEGACY-{}", std::process::id()), "SKU-0009"),
        ))
        .await
        .unwrap();
    // The oldest draft is adopted and confirmed; the quotation is reset and deleted.
    assert_eq!(doc.id.as_str(), copies[0].to_string());
    assert!(!doc.created);
    let confirmed = count_in(&a, "sale.sale", &k, Some("confirmed")).await
        + count_in(&a, "sale.sale", &k, Some("processing")).await;
    assert_eq!(confirmed, 1);
    assert_eq!(
        a.rpc()
            .search_count("sale.sale", json!([["id", "=", copies[1]]]), &json!({}))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        a.rpc()
            .search_count("sale.sale", legacy_key_domain(&k), &json!({}))
            .await
            .unwrap(),
        0
    );
}

/// On hand in the warehouse, for one SKU.
async fn on_hand(a: &TrytonAdapter, sku: &str) -> i64 {
    a.inventory_positions(&[Sku::new(sku)]).await.unwrap()[0].on_hand
}

fn shipment_of(o: &Order, lines: serde_json::Value) -> Shipment {
    serde_json::from_value(json!({
        "channel": o.channel, "shop": o.shop, "order_id": o.id,
        "carrier": "USPS", "tracking_number": "9400-LIVE",
        "shipped_at": "2026-03-07T15:00:00Z", "lines": lines,
    }))
    .unwrap()
}

#[tokio::test]
async fn a_fulfilment_ships_stock_out_of_the_warehouse() {
    let Some(a) = adapter() else { return };
    // SKU-0018 is only shipped by this test.
    let before = on_hand(&a, "SKU-0018").await;
    let k = key("ship-stock");
    let o = order(&format!("LIVE-SHIP-{}", k.as_str()), "SKU-0018");
    let sale = a
        .upsert_sales_order(&SalesOrderRequest::new(k.clone(), o.clone()))
        .await
        .unwrap();
    let mut two = FulfilmentRequest::new(
        key("ship-stock-1"),
        shipment_of(
            &o,
            json!([{"line_id": "1", "sku": "SKU-0018", "quantity": 2}]),
        ),
    );
    two.sales_order = Some(sale.id.clone());
    let first = a.record_fulfilment(&two).await.unwrap();
    assert_eq!(on_hand(&a, "SKU-0018").await, before - 2);
    // Repeating it ships nothing more.
    assert_eq!(a.record_fulfilment(&two).await.unwrap().id, first.id);
    assert_eq!(on_hand(&a, "SKU-0018").await, before - 2);
    // More than is left on the order is refused, and ships nothing.
    let mut too_many = FulfilmentRequest::new(
        key("ship-stock-2"),
        shipment_of(
            &o,
            json!([{"line_id": "1", "sku": "SKU-0018", "quantity": 2}]),
        ),
    );
    too_many.sales_order = Some(sale.id.clone());
    let err = a.record_fulfilment(&too_many).await.unwrap_err();
    assert_eq!(err.reason(), ReasonCode::OverFulfilment, "{err}");
    assert!(
        a.find_by_idempotency_key(&too_many.idempotency_key)
            .await
            .unwrap()
            .is_none()
    );
    let mut rest = FulfilmentRequest::new(key("ship-stock-3"), shipment_of(&o, json!([])));
    rest.sales_order = Some(sale.id.clone());
    a.record_fulfilment(&rest).await.unwrap();
    assert_eq!(on_hand(&a, "SKU-0018").await, before - 3);
}

#[tokio::test]
async fn a_fulfilment_beyond_the_book_stock_is_forced_through() {
    let Some(a) = adapter() else { return };
    // SKU-0017 is only shipped by this test: one unit more than the warehouse holds.
    let before = on_hand(&a, "SKU-0017").await;
    let quantity = u32::try_from(before.max(0) + 1).unwrap();
    let k = key("ship-forced");
    let mut o = order(&format!("LIVE-FORCE-{}", k.as_str()), "SKU-0017");
    o.lines[0].quantity = quantity;
    a.upsert_sales_order(&SalesOrderRequest::new(k, o.clone()))
        .await
        .unwrap();
    // No sale id: found by its reference.
    let shipped = a
        .record_fulfilment(&FulfilmentRequest::new(
            key("ship-forced-1"),
            shipment_of(&o, json!([])),
        ))
        .await
        .unwrap();
    assert!(shipped.created);
    let after = on_hand(&a, "SKU-0017").await;
    assert_eq!(after, before - i64::from(quantity));
    assert!(after < 0, "the book stock shows the shortfall: {after}");
}

fn refund_of(o: &Order, id: &str, sku: &str, tax: bool) -> Refund {
    let taxes = if tax {
        json!([{"kind": "sales_tax", "amount": {"amount": "1.65", "currency": "USD"},
                "included_in_price": false, "collected_by": "seller"}])
    } else {
        json!([])
    };
    let total = if tax { "21.65" } else { "20.00" };
    serde_json::from_value(json!({
        "channel": o.channel, "shop": o.shop, "id": id, "order_id": o.id,
        "revision": {"kind": "version", "value": 1}, "status": "completed",
        "raw_status": "success", "reason": {},
        "created_at": "2026-03-10T08:00:00Z", "updated_at": "2026-03-10T08:30:00Z",
        "lines": [{"line_id": "1", "sku": sku, "quantity": 1, "restock": false,
                   "amount": {"amount": "20.00", "currency": "USD"}, "taxes": taxes}],
        "total": {"amount": total, "currency": "USD"}
    }))
    .unwrap()
}

#[tokio::test]
async fn refunds_are_refused_before_anything_is_written_when_they_cannot_be_booked() {
    let Some(a) = adapter() else { return };
    let o = order("LIVE-REFUND-NO-SALE", "SKU-0003");
    // An unknown product.
    let k = key("refund-unknown-sku");
    let err = a
        .record_refund(&RefundRequest::new(
            k.clone(),
            refund_of(&o, "R-U", "NOPE-1", false),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.reason()),
        (&ErrorKind::Mapping, ReasonCode::UnknownSku)
    );
    assert_eq!(count(&a, "account.invoice", &k).await, 0);
    // Taxes, but no tax account to carry them on.
    let mut config = a.config().clone();
    config.tax_account = None;
    let untaxed = TrytonAdapter::new(config).unwrap();
    let k = key("refund-no-tax-account");
    let err = untaxed
        .record_refund(&RefundRequest::new(
            k.clone(),
            refund_of(&o, "R-T", "SKU-0003", true),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::UnmappedTax, "{err}");
    assert_eq!(count(&a, "account.invoice", &k).await, 0);
    // Without taxes it books (in the default company: Tryton holds no sale of the order).
    let note = untaxed
        .record_refund(&RefundRequest::new(
            k.clone(),
            refund_of(&o, "R-T", "SKU-0003", false),
        ))
        .await
        .unwrap();
    assert!(note.created);
    assert_eq!(count(&a, "account.invoice", &k).await, 1);
    let row = a
        .rpc()
        .search_read(
            "account.invoice",
            key_domain(&k),
            None,
            &["company.party.code", "total_amount", "state"],
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(row[0]["state"], "validated");
    assert_eq!(
        wire::parse_decimal(&row[0]["total_amount"]),
        Some("-20.00".parse::<Decimal>().unwrap())
    );
}

#[tokio::test]
async fn returned_goods_come_back_to_stock_with_the_credit_note() {
    let Some(a) = adapter() else { return };
    // SKU-0016 is only returned by this test.
    let before = on_hand(&a, "SKU-0016").await;
    let k = key("return-sale");
    let o = order(&format!("LIVE-RETURN-{}", k.as_str()), "SKU-0016");
    a.upsert_sales_order(&SalesOrderRequest::new(k.clone(), o.clone()))
        .await
        .unwrap();
    // The return's tracking number names this run: its shipments are found by reference.
    let with_return = |id: &str, received: bool| -> Refund {
        let mut r = refund_of(&o, id, "SKU-0016", false);
        let mut goods = json!({
            "id": format!("RET-{id}"), "carrier": "UPS",
            "tracking_number": format!("{}-{id}", k.as_str()),
            "lines": [{"line_id": "1", "sku": "SKU-0016", "quantity": 1, "restock": true},
                      {"line_id": "1", "sku": "SKU-0016", "quantity": 1, "restock": false}],
        });
        if received {
            goods["received_at"] = json!("2026-03-12T10:00:00Z");
        }
        r.goods_return = Some(serde_json::from_value(goods).unwrap());
        r
    };
    let returns = |id: &str| {
        let reference = format!("UPS {}-{id}", k.as_str());
        let a = &a;
        async move {
            a.rpc()
                .search_read(
                    "stock.shipment.out.return",
                    json!([["reference", "=", reference]]),
                    None,
                    &["state", "effective_date", "incoming_moves"],
                    &json!({}),
                )
                .await
                .unwrap()
        }
    };
    // Received: the restocked unit is back on hand, the damaged one is not stock.
    let received = RefundRequest::new(key("return-received"), with_return("RR", true));
    let note = a.record_refund(&received).await.unwrap();
    assert!(note.created);
    assert_eq!(on_hand(&a, "SKU-0016").await, before + 1);
    let rows = returns("RR").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["state"], "done");
    assert_eq!(rows[0]["incoming_moves"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        wire::parse_date(&rows[0]["effective_date"]),
        NaiveDate::from_ymd_opt(2026, 3, 12)
    );
    // A repeat makes no second return.
    assert_eq!(a.record_refund(&received).await.unwrap().id, note.id);
    assert_eq!(returns("RR").await.len(), 1);
    assert_eq!(on_hand(&a, "SKU-0016").await, before + 1);
    // Not received yet: a draft for the warehouse to receive; stock unchanged.
    let pending = RefundRequest::new(key("return-pending"), with_return("RP", false));
    a.record_refund(&pending).await.unwrap();
    let rows = returns("RP").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["state"], "draft");
    assert_eq!(on_hand(&a, "SKU-0016").await, before + 1);
}
