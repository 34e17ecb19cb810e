#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The shared conformance suite, over HTTP, against the Shopify simulator.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use marketsync_core::{MarketplaceConnector, OrderId, Sku, TimeWindow};
use marketsync_shopify::{ShopifyConfig, ShopifyConnector};
use marketsync_testkit::conformance::{ConnectorFixture, Fault, connector_suite};
use marketsync_testkit::sim::shopify::{self, ShopifySim, ShopifySimConfig, SimFault};

struct Fixture {
    sim: ShopifySim,
    config: ShopifyConfig,
}

impl Fixture {
    async fn new() -> Fixture {
        let sim_config = ShopifySimConfig {
            // A bucket large enough that the suite is only throttled when it asks.
            maximum_available: 20_000.0,
            ..ShopifySimConfig::default()
        };
        let token = sim_config.access_token.clone();
        let sim = shopify::start(sim_config).await.unwrap();
        let mut config = ShopifyConfig::new("marketsync-demo.myshopify.com", token);
        config.endpoint = Some(sim.base_url.parse().unwrap());
        config.location_id = Some(shopify::data::LOCATION.into());
        config.time_zone = "America/New_York".into();
        Fixture { sim, config }
    }
}

#[async_trait]
impl ConnectorFixture for Fixture {
    fn connector(&self) -> Arc<dyn MarketplaceConnector> {
        Arc::new(ShopifyConnector::new(self.config.clone()).unwrap())
    }

    fn connector_with_bad_credentials(&self) -> Arc<dyn MarketplaceConnector> {
        let mut c = self.config.clone();
        c.access_token = "shpat_revoked".into();
        Arc::new(ShopifyConnector::new(c).unwrap())
    }

    fn window(&self) -> TimeWindow {
        let (start, end) = self.sim.window();
        TimeWindow::new(start, end).unwrap()
    }

    fn expected_order_ids(&self) -> BTreeSet<OrderId> {
        self.sim
            .expected_order_ids()
            .into_iter()
            .map(OrderId::new)
            .collect()
    }

    fn page_size(&self) -> u32 {
        2
    }

    async fn inject(&self, fault: Fault) -> bool {
        let f = match fault {
            Fault::Throttle { retry_after } => SimFault::Throttle(retry_after),
            Fault::ServerError => SimFault::ServerError,
            Fault::MalformedRecord => SimFault::MalformedRecord,
            Fault::DuplicateRecord => SimFault::DuplicateRecord,
            Fault::LateOrder { updated_at } => {
                return self.sim.publish_late_order(updated_at).is_some();
            }
            Fault::LateSettlement { published_at } => {
                return self.sim.publish_late_payout(published_at).is_some();
            }
            _ => return false,
        };
        self.sim.inject(f);
        true
    }

    fn unknown_status_order(&self) -> Option<OrderId> {
        self.sim.unknown_status_order().map(OrderId::new)
    }

    fn inventory_sku(&self) -> Option<Sku> {
        Some(Sku::new("SKU-B"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_passes_the_connector_suite() {
    let fixture = Fixture::new().await;
    let report = connector_suite(&fixture).await;
    for check in [
        "health_check",
        "pagination_exhausts_every_page",
        "times_are_utc_inside_window",
        "money_totals_add_up",
        "cursor_resume",
        "throttling_is_rate_limited_with_retry_after",
        "server_error_is_temporary",
        "auth_failure_is_permanent",
        "malformed_record_kept_with_raw_payload",
        "duplicate_delivery_survives",
        "unknown_platform_values_survive",
        "capabilities_are_honest",
        "inventory_push_acknowledged",
        "late_order_fetched_by_next_window",
        "late_settlement_fetched_by_next_window",
    ] {
        assert!(
            report.passed.contains(&check),
            "{check} did not pass: {report:?}"
        );
    }
    assert!(report.skipped.is_empty(), "skipped: {:?}", report.skipped);
    // The stock really moved on the simulated shop.
    assert_eq!(
        fixture
            .sim
            .inventory_level("gid://shopify/InventoryItem/2004", shopify::data::LOCATION),
        Some(7)
    );
}
