#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The shared connector conformance suite, over HTTP, against the TOP simulator.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use marketsync_core::{MarketplaceConnector, OrderId, Sku, TimeWindow};
use marketsync_testkit::conformance::{ConnectorFixture, Fault, connector_suite};
use marketsync_testkit::sim::tmall::{self, SimFault, TmallSim, TmallSimConfig};
use marketsync_tmall::{ListingRef, SignMethod, TmallConfig, TmallConnector};

struct Fixture {
    sim: TmallSim,
    config: TmallConfig,
}

impl Fixture {
    async fn new(sign_method: SignMethod) -> Fixture {
        let sim = tmall::start(TmallSimConfig::default()).await.unwrap();
        let c = sim.config();
        let mut config = TmallConfig::new(&c.app_key, &c.app_secret, &c.session, "sim-flagship");
        config.gateway = sim.gateway().to_owned();
        config.sign_method = sign_method;
        // Two-hour slices hold ~20 trades: several pages each, walked backwards.
        config.slice_minutes = 120;
        config.timeout_ms = 2_000;
        let (num_iid, sku) = sim.stocked_sku().unwrap();
        config.listings.insert(
            sku,
            ListingRef {
                num_iid,
                item_level: false,
            },
        );
        Fixture { sim, config }
    }
}

#[async_trait]
impl ConnectorFixture for Fixture {
    fn connector(&self) -> Arc<dyn MarketplaceConnector> {
        Arc::new(TmallConnector::new(self.config.clone()).unwrap())
    }

    fn connector_with_bad_credentials(&self) -> Arc<dyn MarketplaceConnector> {
        let mut c = self.config.clone();
        c.app_secret = "not-the-secret".into();
        Arc::new(TmallConnector::new(c).unwrap())
    }

    fn window(&self) -> TimeWindow {
        let c = self.sim.config();
        TimeWindow::new(c.start, c.start + c.span).unwrap()
    }

    fn expected_order_ids(&self) -> BTreeSet<OrderId> {
        let w = self.window();
        self.sim
            .trade_ids_modified_in(w.start, w.end)
            .into_iter()
            .map(OrderId::new)
            .collect()
    }

    fn page_size(&self) -> u32 {
        7
    }

    async fn inject(&self, fault: Fault) -> bool {
        let f = match fault {
            Fault::Throttle { retry_after } => SimFault::Throttle {
                seconds: retry_after.as_secs_f64().ceil() as u64,
            },
            Fault::ServerError => SimFault::IspError,
            Fault::MalformedRecord => SimFault::MalformedRecord,
            Fault::DuplicateRecord => SimFault::DuplicateRecord,
            Fault::LateOrder { updated_at } => {
                return self.sim.publish_late_trade(updated_at).is_some();
            }
            Fault::LateSettlement { published_at } => {
                return self.sim.publish_late_bill(published_at).is_some();
            }
            _ => return false,
        };
        self.sim.inject(f);
        true
    }

    fn unknown_status_order(&self) -> Option<OrderId> {
        self.sim.unknown_status_tid().map(OrderId::new)
    }

    fn inventory_sku(&self) -> Option<Sku> {
        self.sim.stocked_sku().map(|(_, s)| Sku::new(s))
    }
}

const ALL_CHECKS: &[&str] = &[
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
];

async fn run(method: SignMethod) {
    let fixture = Fixture::new(method).await;
    let report = connector_suite(&fixture).await;
    assert!(report.skipped.is_empty(), "skipped: {:?}", report.skipped);
    for check in ALL_CHECKS {
        assert!(
            report.passed.contains(check),
            "{check} did not pass: {report:?}"
        );
    }
    // The stock push reached the simulator.
    let (num_iid, sku) = fixture.sim.stocked_sku().unwrap();
    assert_eq!(fixture.sim.stock(num_iid, &sku), Some(7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_md5() {
    run(SignMethod::Md5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_hmac_md5() {
    run(SignMethod::HmacMd5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_hmac_sha256() {
    run(SignMethod::HmacSha256).await;
}
