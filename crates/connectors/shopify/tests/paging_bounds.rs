#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Paging never trusts Shopify's `pageInfo` blindly: a window walk stops with an error at the
//! page cap, and a cursor that does not advance is an error, not a loop.

use marketsync_core::{Cursor, FetchQuery, MarketplaceConnector, TimeWindow};
use marketsync_shopify::client::{NestedPages, next_page_cursor};
use marketsync_shopify::wire::PageInfo;
use marketsync_shopify::{ShopifyConfig, ShopifyConnector};
use marketsync_testkit::sim::shopify::{self, ShopifySimConfig};

fn info(next: bool, end: Option<&str>) -> PageInfo {
    PageInfo {
        has_next_page: next,
        end_cursor: end.map(str::to_owned),
    }
}

#[tokio::test]
async fn a_window_walk_stops_at_the_page_cap() {
    let sim = shopify::start(ShopifySimConfig {
        maximum_available: 20_000.0,
        order_count: 10,
        ..ShopifySimConfig::default()
    })
    .await
    .unwrap();
    let mut config = ShopifyConfig::new(
        "marketsync-demo.myshopify.com",
        ShopifySimConfig::default().access_token,
    );
    config.endpoint = Some(sim.base_url.parse().unwrap());
    config.location_id = Some(shopify::data::LOCATION.into());
    let (s, e) = sim.window();
    let window = TimeWindow::new(s, e).unwrap();

    // Uncapped (default): 11 orders at 2 a page is 6 pages.
    let walk = |conn: ShopifyConnector| async move {
        let mut q = FetchQuery::new(window).with_page_size(2);
        let mut pages = 0;
        loop {
            let page = conn.fetch_orders(&q).await?;
            pages += 1;
            match page.next_cursor {
                Some(c) => q = q.with_cursor(Some(c)),
                None => return Ok::<_, marketsync_core::Error>(pages),
            }
        }
    };
    assert_eq!(
        walk(ShopifyConnector::new(config.clone()).unwrap())
            .await
            .unwrap(),
        6
    );
    // Capped at 6: still fine. Capped at 3: the walk stops with a reason.
    let capped = |n| {
        ShopifyConnector::new(config.clone())
            .unwrap()
            .with_max_pages_per_window(n)
    };
    assert_eq!(walk(capped(6)).await.unwrap(), 6);
    let err = walk(capped(3)).await.unwrap_err();
    assert_eq!(err.reason().as_str(), "page_cap_exceeded", "{err:?}");
}

#[test]
fn cursors_count_pages_and_must_advance() {
    // First page → a counted cursor; the count grows page by page.
    let c1 = next_page_cursor("orders", None, &info(true, Some("A")), 10)
        .unwrap()
        .unwrap();
    assert_eq!(c1.as_str(), "shp1:1:A");
    let c2 = next_page_cursor("orders", Some(&c1), &info(true, Some("B")), 10)
        .unwrap()
        .unwrap();
    assert_eq!(c2.as_str(), "shp1:2:B");
    assert_eq!(
        marketsync_shopify::client::after_cursor(Some(&c2)).unwrap(),
        Some("B".to_owned())
    );
    // Done.
    assert!(
        next_page_cursor("orders", Some(&c2), &info(false, Some("C")), 10)
            .unwrap()
            .is_none()
    );
    // The server hands back the cursor it was sent: an error, not a loop.
    let err = next_page_cursor("orders", Some(&c2), &info(true, Some("B")), 10).unwrap_err();
    assert_eq!(err.reason().as_str(), "cursor_not_advancing");
    // More pages but no cursor: an error, not a silent end (which would lose records).
    let err = next_page_cursor("orders", Some(&c2), &info(true, None), 10).unwrap_err();
    assert_eq!(err.reason().as_str(), "cursor_not_advancing");
    // A bare Shopify cursor (stored by an earlier version) still works.
    let legacy = Cursor::new("eyJsYXN0X2lkIjo0fQ==");
    let next = next_page_cursor("orders", Some(&legacy), &info(true, Some("D")), 10)
        .unwrap()
        .unwrap();
    assert_eq!(next.as_str(), "shp1:2:D");
    // A forged count at the cap is refused.
    let forged = Cursor::new("shp1:4000000000:X");
    let err = next_page_cursor("orders", Some(&forged), &info(true, Some("Y")), 10).unwrap_err();
    assert_eq!(err.reason().as_str(), "page_cap_exceeded");
}

#[test]
fn nested_connections_are_bounded() {
    let mut g = NestedPages::with_cap("orderLineItems", 3);
    assert_eq!(
        g.advance(&info(true, Some("a"))).unwrap().as_deref(),
        Some("a")
    );
    assert!(
        g.advance(&info(true, Some("a"))).is_err(),
        "a repeated cursor"
    );
    let mut g = NestedPages::with_cap("orderLineItems", 3);
    assert!(g.advance(&info(true, Some("a"))).unwrap().is_some());
    assert!(g.advance(&info(true, Some("b"))).unwrap().is_some());
    let err = g.advance(&info(true, Some("c"))).unwrap_err();
    assert_eq!(err.reason().as_str(), "page_cap_exceeded");
    assert!(g.advance(&info(false, None)).unwrap().is_none());
}
