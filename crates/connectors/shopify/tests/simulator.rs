#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End-to-end behaviour against the Shopify simulator over loopback HTTP.

use std::time::Duration;

use chrono::Utc;
use marketsync_core::{
    Channel, ErrorKind, EventKind, FetchQuery, IdempotencyKey, InventoryUpdate, LocationId,
    MarketplaceConnector, OrderId, OrderLineId, OrderStatus, RefundStatus, Retry, Revision,
    SettlementLineKind, Shipment, ShipmentLine, ShopId, Sku, TimeWindow,
};
use marketsync_http::{HttpClient, HttpConfig, HttpRequest};
use marketsync_shopify::{ShopifyConfig, ShopifyConnector, throttle_wait};
use marketsync_testkit::sim::shopify::{self, ShopifySim, ShopifySimConfig, SimFault};

async fn setup(sim_config: ShopifySimConfig) -> (ShopifySim, ShopifyConfig) {
    let token = sim_config.access_token.clone();
    let sim = shopify::start(sim_config).await.unwrap();
    let mut config = ShopifyConfig::new("marketsync-demo.myshopify.com", token);
    config.endpoint = Some(sim.base_url.parse().unwrap());
    config.location_id = Some(shopify::data::LOCATION.into());
    (sim, config)
}

fn big_bucket() -> ShopifySimConfig {
    ShopifySimConfig {
        maximum_available: 20_000.0,
        ..ShopifySimConfig::default()
    }
}

fn window(sim: &ShopifySim) -> TimeWindow {
    let (s, e) = sim.window();
    TimeWindow::new(s, e).unwrap()
}

#[tokio::test]
async fn wrong_token_gets_shopifys_401_body() {
    let (sim, config) = setup(big_bucket()).await;
    let http = HttpClient::new(HttpConfig::default()).unwrap();
    let url = format!("{}/admin/api/2026-01/graphql.json", sim.base_url);
    let req = HttpRequest::new(http::Method::POST, url.parse().unwrap())
        .header("X-Shopify-Access-Token", "shpat_wrong")
        .unwrap()
        .json_body(br#"{"query":"{ shop { name } }"}"#.to_vec());
    let resp = http.send(req, None).await.unwrap();
    assert_eq!(resp.status.as_u16(), 401);
    assert_eq!(
        std::str::from_utf8(&resp.body).unwrap(),
        r#"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}"#
    );

    let mut bad = config.clone();
    bad.access_token = "shpat_wrong".into();
    let err = ShopifyConnector::new(bad)
        .unwrap()
        .health_check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    assert_eq!(err.retry(), Retry::Permanent);
    assert!(err.message().contains("Invalid API key"), "{err}");
    // The token never appears in errors.
    assert!(!format!("{err:?}").contains("shpat_simulator_token"));

    let ok = ShopifyConnector::new(config)
        .unwrap()
        .health_check()
        .await
        .unwrap();
    assert!(ok.ok);
}

#[tokio::test]
async fn the_real_bucket_throttles_with_the_exact_wait() {
    // A tiny restore rate: the second full page cannot be paid for.
    let (sim, config) = setup(ShopifySimConfig {
        maximum_available: 1000.0,
        restore_rate: 1.0,
        ..ShopifySimConfig::default()
    })
    .await;
    let c = ShopifyConnector::new(config).unwrap();
    let q = FetchQuery::new(window(&sim)).with_page_size(3);
    c.fetch_orders(&q).await.unwrap();
    sim.set_available(300.0);
    let err = c.fetch_orders(&q).await.unwrap_err();
    let status = c.client().last_throttle_status().unwrap();
    assert_eq!(status.maximum_available, 1000.0);
    assert_eq!(status.restore_rate, 1.0);
    // 2 + 3 × 278 = 836 points requested, ~300 available, 1 point/s.
    let expected = throttle_wait(836.0, &status).unwrap();
    assert!(expected >= Duration::from_secs(530), "{expected:?}");
    assert_eq!(err.retry_after(), Some(expected));
    assert!(err.is_temporary());
    // Nothing was deducted for the refused query.
    assert!(status.currently_available >= 300.0);
}

#[tokio::test]
async fn pages_never_exceed_the_single_query_cost_limit() {
    let (sim, config) = setup(big_bucket()).await;
    let c = ShopifyConnector::new(config).unwrap();
    let mut q = FetchQuery::new(window(&sim)).with_page_size(250);
    let mut seen = 0;
    loop {
        let page = c.fetch_orders(&q).await.unwrap();
        assert!(page.items.len() <= 3);
        seen += page.items.len();
        match page.next_cursor {
            Some(cur) => q = q.with_cursor(Some(cur)),
            None => break,
        }
    }
    assert_eq!(seen, sim.expected_order_ids().len());
    let r = c
        .fetch_returns(&FetchQuery::new(window(&sim)).with_page_size(250))
        .await
        .unwrap();
    assert!(r.next_cursor.is_some());
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let (sim, mut config) = setup(big_bucket()).await;
    config.timeout_ms = 150;
    let c = ShopifyConnector::new(config).unwrap();
    sim.inject(SimFault::Delay(Duration::from_millis(600)));
    let err = c.health_check().await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Timeout);
    assert!(err.is_temporary());
    sim.inject(SimFault::ServerError);
    let err = c.health_check().await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable);
}

#[tokio::test]
async fn orders_normalize_across_statuses_and_currencies() {
    let (sim, config) = setup(big_bucket()).await;
    let c = ShopifyConnector::new(config).unwrap();
    let mut q = FetchQuery::new(window(&sim)).with_page_size(3);
    let mut orders = Vec::new();
    let mut failed = Vec::new();
    loop {
        let page = c.fetch_orders(&q).await.unwrap();
        for item in page.items {
            match item.outcome {
                Ok(o) => orders.push(o),
                Err(e) => failed.push((item.external_id, e)),
            }
        }
        match page.next_cursor {
            Some(cur) => q = q.with_cursor(Some(cur)),
            None => break,
        }
    }
    assert_eq!(
        failed.len(),
        1,
        "only the unknown-status order fails: {failed:?}"
    );
    assert_eq!(failed[0].0, sim.unknown_status_order());
    let statuses: std::collections::HashSet<_> = orders.iter().map(|o| o.status).collect();
    for s in [
        OrderStatus::Shipped,
        OrderStatus::PendingPayment,
        OrderStatus::AwaitingFulfilment,
        OrderStatus::Refunded,
        OrderStatus::Cancelled,
        OrderStatus::PartiallyShipped,
    ] {
        assert!(statuses.contains(&s), "{s:?} missing from {statuses:?}");
    }
    let eur = orders.iter().find(|o| o.presentment.is_some()).unwrap();
    assert_eq!(eur.currency.code(), "USD");
    assert_eq!(eur.presentment.as_ref().unwrap().currency.code(), "EUR");
    assert!(orders.iter().any(|o| {
        o.lines
            .iter()
            .any(|l| l.taxes.iter().any(|t| t.included_in_price))
    }));
    // Lookup by id.
    let id = orders[0].id.clone();
    let mut by_id = FetchQuery::new(window(&sim));
    by_id.ids = vec![id.clone()];
    let page = c.fetch_orders(&by_id).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].external_id.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn refunds_and_payouts() {
    let (sim, config) = setup(big_bucket()).await;
    let c = ShopifyConnector::new(config).unwrap();
    let mut q = FetchQuery::new(window(&sim));
    let mut refunds = Vec::new();
    loop {
        let page = c.fetch_returns(&q).await.unwrap();
        refunds.extend(page.items.into_iter().map(|i| i.outcome.unwrap()));
        match page.next_cursor {
            Some(cur) => q = q.with_cursor(Some(cur)),
            None => break,
        }
    }
    assert!(!refunds.is_empty());
    assert!(refunds.iter().all(|r| r.status == RefundStatus::Completed));
    assert!(refunds.iter().all(|r| r.is_consistent()), "{refunds:?}");
    assert!(
        refunds
            .iter()
            .any(|r| r.goods_return.is_some() && r.lines[0].restock)
    );
    assert!(refunds.iter().any(|r| !r.lines[0].restock));

    let page = c
        .fetch_settlements(&FetchQuery::new(window(&sim)))
        .await
        .unwrap();
    let settlements: Vec<_> = page.items.into_iter().map(|i| i.outcome.unwrap()).collect();
    assert_eq!(settlements.len(), 2);
    for s in &settlements {
        let payout_line: marketsync_core::Money = s
            .lines
            .iter()
            .find(|l| l.kind == SettlementLineKind::Payout)
            .unwrap()
            .amount;
        // What the period earned is exactly what was paid out.
        assert_eq!(s.net().unwrap(), payout_line.neg());
        assert!(s.lines.iter().any(|l| matches!(&l.kind, SettlementLineKind::Fee { code } if code == "shopify_payments_fee")));
    }
    assert!(settlements[0].payout.is_some());
}

fn update(sku: &str, available: u32, version: u64) -> InventoryUpdate {
    InventoryUpdate {
        channel: Channel::Shopify,
        shop: ShopId::new("marketsync-demo.myshopify.com"),
        sku: Sku::new(sku),
        location: None,
        available,
        version,
        computed_at: Utc::now(),
    }
}

#[tokio::test]
async fn inventory_is_set_once_per_idempotency_key() {
    let (sim, config) = setup(big_bucket()).await;
    let item = "gid://shopify/InventoryItem/2001";
    let batch = [update("SKU-A0", 42, 5), update("NO-SUCH-SKU", 1, 5)];
    let acks = ShopifyConnector::new(config.clone())
        .unwrap()
        .push_inventory(&batch)
        .await
        .unwrap();
    assert!(acks[0].applied && !acks[1].applied);
    assert!(acks[1].message.as_deref().unwrap().contains("NO-SUCH-SKU"));
    assert_eq!(sim.inventory_level(item, shopify::data::LOCATION), Some(42));
    // Someone changes the stock in Shopify; a blind re-send of the same batch (a retry after a
    // lost answer) must not overwrite it: Shopify replays the first answer for the same key.
    let other = ShopifyConnector::new(config.clone()).unwrap();
    other
        .push_inventory(&[update("SKU-A0", 40, 6)])
        .await
        .unwrap();
    let replay = ShopifyConnector::new(config.clone())
        .unwrap()
        .push_inventory(&batch)
        .await
        .unwrap();
    assert!(replay[0].applied);
    assert_eq!(sim.inventory_level(item, shopify::data::LOCATION), Some(40));
    // A stale version on the same instance is refused without a call.
    let before = sim.requests().len();
    let acks = other
        .push_inventory(&[update("SKU-A0", 1, 3)])
        .await
        .unwrap();
    assert!(!acks[0].applied);
    assert_eq!(sim.requests().len(), before);
    assert_eq!(
        sim.requests()
            .iter()
            .filter(|r| *r == "inventorySetQuantities")
            .count(),
        3
    );
}

#[tokio::test]
async fn inventory_follows_the_pinned_version() {
    for version in ["2025-07", "2026-04"] {
        let (sim, mut config) = setup(big_bucket()).await;
        config.api_version = version.into();
        let acks = ShopifyConnector::new(config)
            .unwrap()
            .push_inventory(&[update("SKU-B", 3, 1)])
            .await
            .unwrap();
        assert!(acks[0].applied, "{version}: {:?}", acks[0].message);
        assert_eq!(
            sim.inventory_level("gid://shopify/InventoryItem/2004", shopify::data::LOCATION),
            Some(3)
        );
    }
}

#[tokio::test]
async fn shipments_create_fulfilments_once() {
    let (sim, config) = setup(big_bucket()).await;
    let c = ShopifyConnector::new(config).unwrap();
    let order = "gid://shopify/Order/5001"; // seeded UNFULFILLED, lines 50010 ×2 and 50011 ×2
    let key = IdempotencyKey::derive(
        &Channel::Shopify,
        &ShopId::new("s"),
        &EventKind::Shipment,
        order,
        &Revision::Version(1),
    );
    let shipment = |number: &str, line: &str, quantity: u32| Shipment {
        channel: Channel::Shopify,
        shop: ShopId::new("marketsync-demo.myshopify.com"),
        order_id: OrderId::new(order),
        id: None,
        carrier: "UPS".into(),
        tracking_number: number.into(),
        shipped_at: Utc::now(),
        lines: vec![ShipmentLine {
            line_id: OrderLineId::new(line),
            sku: Sku::new("x"),
            quantity,
        }],
        location: Some(LocationId::new(shopify::data::LOCATION)),
    };
    let first = shipment("1ZFIRST", "gid://shopify/LineItem/50010", 2);
    let ack = c.confirm_shipment(&first, &key).await.unwrap();
    assert!(ack.created);
    assert_eq!(
        sim.order(order).unwrap()["displayFulfillmentStatus"],
        "PARTIALLY_FULFILLED"
    );
    let again = c.confirm_shipment(&first, &key).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.platform_shipment_id, ack.platform_shipment_id);

    let too_many = shipment("1ZMANY", "gid://shopify/LineItem/50011", 3);
    assert_eq!(
        c.confirm_shipment(&too_many, &key)
            .await
            .unwrap_err()
            .kind(),
        &ErrorKind::Validation
    );

    let rest = shipment("1ZREST", "gid://shopify/LineItem/50011", 2);
    assert!(c.confirm_shipment(&rest, &key).await.unwrap().created);
    let o = sim.order(order).unwrap();
    assert_eq!(o["displayFulfillmentStatus"], "FULFILLED");
    assert_eq!(o["fulfillments"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn large_orders_fetch_their_remaining_lines() {
    let (sim, config) = setup(big_bucket()).await;
    let gid = "gid://shopify/Order/5000";
    sim.add_line_items(gid, 65);
    let c = ShopifyConnector::new(config).unwrap();
    let mut q = FetchQuery::new(window(&sim));
    q.ids = vec![OrderId::new(gid)];
    let page = c.fetch_orders(&q).await.unwrap();
    let order = page.items[0].outcome.as_ref().unwrap();
    assert_eq!(order.lines.len(), 67);
    order.validate().unwrap();
    let follow_ups = sim.requests().iter().filter(|r| *r == "order").count();
    assert_eq!(follow_ups, 2, "10 lines in the page, then 50 + 7");
}
