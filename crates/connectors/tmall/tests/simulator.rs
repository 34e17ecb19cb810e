#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The connector against the TOP simulator over HTTP: signing round trip and TOP's error body,
//! the shifting result set, throttling, timeouts, window limits, refunds, bills, stock and
//! shipments.

use std::collections::BTreeSet;
use std::time::Duration;

use marketsync_core::{
    Channel, ErrorKind, EventKind, FetchQuery, IdempotencyKey, InventoryUpdate,
    MarketplaceConnector, OrderId, OrderLineId, Revision, Settlement, Shipment, ShipmentLine,
    ShopId, Sku, TimeWindow,
};
use marketsync_testkit::sim::tmall::{self, SimFault, TmallSim, TmallSimConfig};
use marketsync_tmall::normalize::format_top_time;
use marketsync_tmall::{ListingRef, SignMethod, TmallConfig, TmallConnector, sign};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config_for(sim: &TmallSim) -> TmallConfig {
    let c = sim.config();
    let mut config = TmallConfig::new(&c.app_key, &c.app_secret, &c.session, "sim-flagship");
    config.gateway = sim.gateway().to_owned();
    config.timeout_ms = 2_000;
    config
}

fn window(sim: &TmallSim) -> TimeWindow {
    let c = sim.config();
    TimeWindow::new(c.start, c.start + c.span).unwrap()
}

/// POSTs a form to the simulator over a plain TCP socket and returns the JSON body.
async fn raw_post(gateway: &str, pairs: &[(String, String)]) -> serde_json::Value {
    let url = url_parts(gateway);
    let body = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut s = tokio::net::TcpStream::connect(&url.0).await.unwrap();
    let req = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded;charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        url.1,
        url.0,
        body.len(),
        body
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let json = &text[text.find("\r\n\r\n").unwrap() + 4..];
    serde_json::from_str(json).unwrap()
}

fn url_parts(gateway: &str) -> (String, String) {
    let rest = gateway.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    (host.to_owned(), path.to_owned())
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn signature_round_trip_and_wrong_secret_gets_top_error_body() {
    let sim = tmall::start(TmallSimConfig::default()).await.unwrap();
    let c = sim.config().clone();
    for method in [SignMethod::Md5, SignMethod::HmacMd5, SignMethod::HmacSha256] {
        let w = window(&sim);
        let mut pairs: Vec<(String, String)> = [
            ("method", "taobao.trades.sold.increment.get".to_owned()),
            ("app_key", c.app_key.clone()),
            ("session", c.session.clone()),
            ("timestamp", format_top_time(chrono::Utc::now())),
            ("format", "json".to_owned()),
            ("v", "2.0".to_owned()),
            ("sign_method", method.as_str().to_owned()),
            ("fields", "tid,modified".to_owned()),
            ("start_modified", format_top_time(w.start)),
            (
                "end_modified",
                format_top_time(w.start + chrono::Duration::hours(1)),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let good = sign::sign(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &c.app_secret,
            method,
        );
        let bad = sign::sign(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            "wrong-secret",
            method,
        );
        pairs.push(("sign".into(), good));
        let ok = raw_post(sim.gateway(), &pairs).await;
        let resp = &ok["trades_sold_increment_get_response"];
        assert!(resp["total_results"].as_u64().unwrap() > 0, "{ok}");
        pairs.last_mut().unwrap().1 = bad;
        let refused = raw_post(sim.gateway(), &pairs).await;
        let e = &refused["error_response"];
        assert_eq!(e["code"], 25, "{refused}");
        assert_eq!(e["msg"], "Invalid signature");
        assert!(e["request_id"].is_string());
    }

    // Through the connector: wrong secret → Unauthorized with TOP's code, permanent.
    let mut cfg = config_for(&sim);
    cfg.app_secret = "wrong-secret".into();
    let err = TmallConnector::new(cfg)
        .unwrap()
        .health_check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    assert_eq!(err.context_value("top_code"), Some("25"));
    assert!(!err.is_temporary());
    // Wrong session → code 27.
    let mut cfg = config_for(&sim);
    cfg.session = "expired".into();
    let err = TmallConnector::new(cfg)
        .unwrap()
        .health_check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    assert_eq!(
        err.context_value("top_sub_code"),
        Some("invalid-sessionkey")
    );
}

async fn walk_ids(connector: &TmallConnector, w: TimeWindow, page_size: u32) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut q = FetchQuery::new(w).with_page_size(page_size);
    for _ in 0..500 {
        let page = connector.fetch_orders(&q).await.unwrap();
        ids.extend(page.items.iter().filter_map(|i| i.external_id.clone()));
        match page.next_cursor {
            Some(c) => q = q.with_cursor(Some(c)),
            None => return ids,
        }
    }
    panic!("walk did not end");
}

/// What a naive client does: page 1, 2, 3… forward with the same window.
async fn forward_walk_ids(sim: &TmallSim, w: TimeWindow, page_size: u32) -> BTreeSet<String> {
    let client = marketsync_tmall::TopClient::new(&config_for(sim)).unwrap();
    let mut ids = BTreeSet::new();
    for page_no in 1.. {
        let resp = client
            .call(
                "taobao.trades.sold.increment.get",
                &[
                    ("fields", "tid,tid_str,modified".to_owned()),
                    ("start_modified", format_top_time(w.start)),
                    (
                        "end_modified",
                        format_top_time(w.end - chrono::Duration::seconds(1)),
                    ),
                    ("page_no", page_no.to_string()),
                    ("page_size", page_size.to_string()),
                    ("use_has_next", "true".to_owned()),
                ],
            )
            .await
            .unwrap();
        let page = marketsync_tmall::wire::ListPage::from_response(&resp.body, "trades", "trade");
        ids.extend(
            page.records
                .iter()
                .filter_map(|r| r["tid_str"].as_str().map(str::to_owned)),
        );
        if page.has_next != Some(true) {
            break;
        }
    }
    ids
}

#[tokio::test]
async fn backward_walk_misses_nothing_while_the_result_set_shifts() {
    let cfg = TmallSimConfig {
        unknown_status: false,
        ..TmallSimConfig::default()
    };
    let later = |sim: &TmallSim| {
        let w = window(sim);
        TimeWindow::new(w.end, w.end + chrono::Duration::days(2)).unwrap()
    };

    // The naive forward walker loses orders.
    let sim = tmall::start(cfg.clone()).await.unwrap();
    let seeded = sim.trade_ids_modified_in(window(&sim).start, window(&sim).end);
    sim.set_shift_on_read(true);
    let mut naive = forward_walk_ids(&sim, window(&sim), 7).await;
    sim.set_shift_on_read(false);
    let connector = TmallConnector::new(config_for(&sim)).unwrap();
    naive.extend(walk_ids(&connector, later(&sim), 100).await);
    let lost: Vec<_> = seeded.difference(&naive).collect();
    assert!(
        !lost.is_empty(),
        "the simulator did not shift the result set"
    );

    // The connector walks the slice from the last page back: nothing lost.
    let sim = tmall::start(cfg).await.unwrap();
    let mut c = config_for(&sim);
    c.slice_minutes = 360;
    c.fetch_detail = false;
    let connector = TmallConnector::new(c).unwrap();
    sim.set_shift_on_read(true);
    let mut got = walk_ids(&connector, window(&sim), 7).await;
    sim.set_shift_on_read(false);
    let moved = sim.trade_ids_modified_in(later(&sim).start, later(&sim).end);
    assert!(!moved.is_empty(), "no trade was modified during the walk");
    got.extend(walk_ids(&connector, later(&sim), 100).await);
    let missing: Vec<_> = seeded.difference(&got).collect();
    assert!(missing.is_empty(), "backward walk missed {missing:?}");
}

#[tokio::test]
async fn rate_limit_answers_code_7_with_the_ban() {
    let sim = tmall::start(TmallSimConfig {
        calls_per_second: Some(2),
        ..TmallSimConfig::default()
    })
    .await
    .unwrap();
    let connector = TmallConnector::new(config_for(&sim)).unwrap();
    let mut throttled = None;
    for _ in 0..12 {
        if let Err(e) = connector.health_check().await {
            throttled = Some(e);
            break;
        }
    }
    let e = throttled.expect("never throttled");
    assert!(matches!(e.kind(), ErrorKind::RateLimited { .. }), "{e}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(e.context_value("top_code"), Some("7"));
    assert!(e.is_temporary());
}

#[tokio::test]
async fn timeouts_gateway_errors_and_isp_errors_are_temporary() {
    let sim = tmall::start(TmallSimConfig::default()).await.unwrap();
    let mut c = config_for(&sim);
    c.timeout_ms = 200;
    let connector = TmallConnector::new(c).unwrap();
    sim.inject(SimFault::Delay(Duration::from_millis(800)));
    let e = connector.health_check().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Timeout, "{e}");
    assert!(e.is_temporary());
    sim.inject(SimFault::HttpStatus(502));
    let e = connector.health_check().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
    sim.inject(SimFault::IspError);
    let e = connector.health_check().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
    assert_eq!(
        e.context_value("top_sub_code"),
        Some("isp.top-remote-connection-timeout")
    );
    connector.health_check().await.unwrap();
}

#[tokio::test]
async fn windows_over_one_day_are_sliced() {
    let sim = tmall::start(TmallSimConfig::default()).await.unwrap();
    let client = marketsync_tmall::TopClient::new(&config_for(&sim)).unwrap();
    let w = window(&sim);
    // The simulator refuses a two-day span, as TOP does.
    let e = client
        .call(
            "taobao.trades.sold.increment.get",
            &[
                ("fields", "tid".to_owned()),
                ("start_modified", format_top_time(w.start)),
                (
                    "end_modified",
                    format_top_time(w.start + chrono::Duration::days(2)),
                ),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Validation);
    assert_eq!(e.context_value("top_code"), Some("41"));
    // The connector splits a three-day window and finds every order.
    let mut c = config_for(&sim);
    c.slice_minutes = 1440;
    let connector = TmallConnector::new(c).unwrap();
    assert_eq!(
        connector.capabilities().max_window,
        Some(Duration::from_secs(86_400))
    );
    assert!(!connector.capabilities().webhooks);
    let big = TimeWindow::new(
        w.start - chrono::Duration::days(1),
        w.end + chrono::Duration::days(2),
    )
    .unwrap();
    let got = walk_ids(&connector, big, 40).await;
    assert_eq!(got, sim.trade_ids_modified_in(w.start, w.end));
}

#[tokio::test]
async fn refunds_and_settlements() {
    let sim = tmall::start(TmallSimConfig::default()).await.unwrap();
    let connector = TmallConnector::new(config_for(&sim)).unwrap();
    let w = window(&sim);
    let mut q = FetchQuery::new(w).with_page_size(5);
    let mut refunds = Vec::new();
    loop {
        let page = connector.fetch_returns(&q).await.unwrap();
        for item in page.items {
            refunds.push(item.outcome.unwrap());
        }
        match page.next_cursor {
            Some(c) => q = q.with_cursor(Some(c)),
            None => break,
        }
    }
    let ids: BTreeSet<String> = refunds.iter().map(|r| r.id.as_str().to_owned()).collect();
    assert_eq!(ids, sim.refund_ids_modified_in(w.start, w.end));
    assert!(refunds.iter().all(|r| r.is_consistent()));
    assert!(refunds.iter().any(|r| r.goods_return.is_some()));
    assert!(refunds.iter().any(|r| r.lines[0].quantity == 0));

    // Bills are debited an hour after the trade's change; statements are per Beijing day of
    // debits, published when the day closes. Two days of publications hold the first day's.
    let sw = TimeWindow::new(w.start, w.start + chrono::Duration::days(2)).unwrap();
    let statements = all_settlements(&connector, sw).await;
    assert_eq!(statements.len(), 1, "{statements:?}");
    let s = &statements[0];
    assert_eq!(s.id.as_str(), "top-bills-20240318000000-20240319000000");
    assert_eq!(
        s.revision,
        Revision::UpdatedAt(w.start + chrono::Duration::days(1))
    );
    assert!(!s.lines.is_empty());
    assert!(s.lines.iter().all(|l| l.amount.is_negative()));
    assert!(s.net().unwrap().is_negative());
    // Nothing new is published in the next two days...
    let later = TimeWindow::new(sw.end, sw.end + chrono::Duration::days(2)).unwrap();
    assert!(all_settlements(&connector, later).await.is_empty());
    // ...until TOP books a late bill on that day: the day's statement comes again, revised.
    let at = sw.end + chrono::Duration::days(1);
    let bid = sim.publish_late_bill(at).unwrap();
    let again = all_settlements(&connector, later).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].id, s.id);
    assert_eq!(again[0].revision, Revision::UpdatedAt(at));
    assert_eq!(again[0].lines.len(), s.lines.len() + 1);
    assert!(
        again[0]
            .lines
            .iter()
            .any(|l| l.reference.as_deref() == Some(bid.to_string().as_str()))
    );
}

async fn all_settlements(connector: &TmallConnector, window: TimeWindow) -> Vec<Settlement> {
    let mut q = FetchQuery::new(window);
    let mut out = Vec::new();
    loop {
        let page = connector.fetch_settlements(&q).await.unwrap();
        out.extend(page.items.into_iter().map(|i| i.outcome.unwrap()));
        match page.next_cursor {
            Some(c) => q = q.with_cursor(Some(c)),
            None => return out,
        }
    }
}

fn update(sku: &str, available: u32, version: u64) -> InventoryUpdate {
    InventoryUpdate {
        channel: Channel::Tmall,
        shop: ShopId::new("sim-flagship"),
        sku: Sku::new(sku),
        location: None,
        available,
        version,
        computed_at: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn stock_push_batches_per_item_and_drops_stale_versions() {
    let sim = tmall::start(TmallSimConfig::default()).await.unwrap();
    let mut c = config_for(&sim);
    let item = 612_345_678_901_u64;
    for sku in ["SIM-10", "SIM-11", "SIM-12"] {
        c.listings.insert(
            sku.into(),
            ListingRef {
                num_iid: item,
                item_level: false,
            },
        );
    }
    c.listings.insert(
        "SIM-GONE".into(),
        ListingRef {
            num_iid: item,
            item_level: false,
        },
    );
    let connector = TmallConnector::new(c).unwrap();
    let acks = connector
        .push_inventory(&[
            update("SIM-10", 3, 5),
            update("SIM-11", 4, 5),
            update("NOPE", 1, 1),
        ])
        .await
        .unwrap();
    assert_eq!(acks.len(), 3);
    assert!(acks[0].applied && acks[1].applied);
    assert!(!acks[2].applied);
    assert_eq!(sim.stock(item, "SIM-10"), Some(3));
    assert_eq!(sim.stock(item, "SIM-11"), Some(4));
    assert_eq!(sim.calls("taobao.skus.quantity.update"), 1);

    // An older version never overwrites a newer one; a SKU TOP does not know is refused.
    let acks = connector
        .push_inventory(&[update("SIM-10", 99, 4), update("SIM-GONE", 1, 1)])
        .await
        .unwrap();
    assert!(!acks[0].applied);
    assert!(!acks[1].applied, "{:?}", acks[1]);
    assert_eq!(sim.stock(item, "SIM-10"), Some(3));
    let acks = connector
        .push_inventory(&[update("SIM-12", 8, 1)])
        .await
        .unwrap();
    assert!(acks[0].applied);
    assert_eq!(sim.calls("taobao.item.quantity.update"), 2);
}

#[tokio::test]
async fn split_shipment_then_idempotent_repeat() {
    let sim = tmall::start(TmallSimConfig::default()).await.unwrap();
    let connector = TmallConnector::new(config_for(&sim)).unwrap();
    // The seeded SELLER_CONSIGNED_PART trade: first sub-order shipped, second waiting.
    let tid = (0..60u64)
        .map(|i| (2_865_412_345_678_000_000_u64 + i * 1000).to_string())
        .find(|t| {
            sim.trade(t)
                .is_some_and(|v| v["status"] == "SELLER_CONSIGNED_PART")
        })
        .unwrap();
    let trade = sim.trade(&tid).unwrap();
    let oid = trade["orders"]["order"][1]["oid_str"]
        .as_str()
        .unwrap()
        .to_owned();
    let shipment = Shipment {
        channel: Channel::Tmall,
        shop: ShopId::new("sim-flagship"),
        order_id: OrderId::new(&tid),
        id: None,
        carrier: "YTO".into(),
        tracking_number: "YT9988776655".into(),
        shipped_at: chrono::Utc::now(),
        lines: vec![ShipmentLine {
            line_id: OrderLineId::new(&oid),
            sku: Sku::new("x"),
            quantity: 1,
        }],
        location: None,
    };
    let key = IdempotencyKey::derive(
        &Channel::Tmall,
        &ShopId::new("sim-flagship"),
        &EventKind::Shipment,
        &tid,
        &Revision::Version(1),
    );
    let ack = connector.confirm_shipment(&shipment, &key).await.unwrap();
    assert!(ack.created);
    assert_eq!(sim.shipments().len(), 1);
    assert_eq!(sim.shipments()[0].3, vec![oid.clone()]);
    assert_eq!(
        sim.trade(&tid).unwrap()["status"],
        "WAIT_BUYER_CONFIRM_GOODS"
    );
    // The same confirmation again: TOP refuses, the connector sees it was already recorded.
    let again = connector.confirm_shipment(&shipment, &key).await.unwrap();
    assert!(!again.created);
    assert_eq!(sim.shipments().len(), 1);
    // A different parcel on an already shipped sub-order is a real refusal.
    let other = Shipment {
        tracking_number: "OTHER".into(),
        ..shipment
    };
    let e = connector.confirm_shipment(&other, &key).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Validation);
}
