//! The reference in-memory implementations pass the shared conformance suites.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;
use marketsync_core::{
    Channel, ErpAdapter, ErpDocumentKind, JournalEntry, JournalLine, MarketplaceConnector, Money,
    Order, OrderId, ShopId, Sku, TimeWindow,
};
use marketsync_testkit::conformance::{connector_suite, erp_suite};
use marketsync_testkit::generate::raw_status;
use marketsync_testkit::{
    ChannelProfile, ConnectorFixture, ErpFault, ErpFixture, Fault, Generator, GeneratorConfig,
    InMemoryErp, InMemoryMarketplace,
};

struct MarketFixture {
    market: InMemoryMarketplace,
    window: TimeWindow,
    expected: BTreeSet<OrderId>,
    unknown: OrderId,
}

impl MarketFixture {
    fn new() -> MarketFixture {
        let profile = ChannelProfile::tmall();
        let mut generator = Generator::new(GeneratorConfig::new(2026).with_channels(vec![profile]));
        let mut orders = generator.orders(57);
        // One order whose status this platform has never documented.
        orders[3].raw_status = "TRADE_NEW_STATE_2027".into();
        let unknown = orders[3].id.clone();
        let market =
            InMemoryMarketplace::new(Channel::Tmall, ShopId::new("tmall-flagship"), "top-secret");
        market.upsert_orders(&orders);
        let known = marketsync_core::OrderStatus::ALL
            .iter()
            .map(|s| raw_status(&Channel::Tmall, *s).to_owned())
            .collect();
        market.set_known_statuses(known);
        let start = generator.config().start;
        let window = TimeWindow::new(start, start + Duration::days(40)).unwrap();
        let expected = orders.iter().map(|o| o.id.clone()).collect();
        MarketFixture {
            market,
            window,
            expected,
            unknown,
        }
    }
}

#[async_trait]
impl ConnectorFixture for MarketFixture {
    fn connector(&self) -> Arc<dyn MarketplaceConnector> {
        Arc::new(self.market.connector("top-secret"))
    }
    fn connector_with_bad_credentials(&self) -> Arc<dyn MarketplaceConnector> {
        Arc::new(self.market.connector("wrong"))
    }
    fn window(&self) -> TimeWindow {
        self.window
    }
    fn expected_order_ids(&self) -> BTreeSet<OrderId> {
        self.expected.clone()
    }
    fn page_size(&self) -> u32 {
        10
    }
    async fn inject(&self, fault: Fault) -> bool {
        self.market.inject(fault);
        true
    }
    fn unknown_status_order(&self) -> Option<OrderId> {
        Some(self.unknown.clone())
    }
    fn inventory_sku(&self) -> Option<Sku> {
        Some(Sku::new("SKU-0001"))
    }
}

#[tokio::test]
async fn in_memory_connector_passes_the_suite() {
    let fixture = MarketFixture::new();
    let report = connector_suite(&fixture).await;
    assert!(report.skipped.is_empty(), "skipped: {:?}", report.skipped);
    for check in [
        "pagination_exhausts_every_page",
        "cursor_resume",
        "throttling_is_rate_limited_with_retry_after",
        "auth_failure_is_permanent",
        "malformed_record_kept_with_raw_payload",
        "unknown_platform_values_survive",
        "money_totals_add_up",
        "late_order_fetched_by_next_window",
        "late_settlement_fetched_by_next_window",
    ] {
        assert!(report.passed.contains(&check), "{check} did not run");
    }
}

struct ErpFix {
    erp: InMemoryErp,
    generator: std::sync::Mutex<Generator>,
}

#[async_trait]
impl ErpFixture for ErpFix {
    fn adapter(&self) -> Arc<dyn ErpAdapter> {
        Arc::new(self.erp.clone())
    }
    fn adapter_with_bad_credentials(&self) -> Option<Arc<dyn ErpAdapter>> {
        Some(Arc::new(self.erp.with_credential("nope")))
    }
    fn sample_order(&self) -> Order {
        self.generator.lock().unwrap().order()
    }
    fn sample_journal(&self) -> JournalEntry {
        let cny = marketsync_core::Currency::CNY;
        JournalEntry {
            entity: "CN01".into(),
            date: chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
            memo: "conformance".into(),
            lines: vec![
                JournalLine::debit("1122", Money::from_minor(11_300, cny)),
                JournalLine::credit("6001", Money::from_minor(10_000, cny)),
                JournalLine::credit("2221", Money::from_minor(1_300, cny)),
            ],
            reference: None,
        }
    }
    async fn document_count(&self, kind: ErpDocumentKind) -> Option<usize> {
        Some(self.erp.count(&kind))
    }
    async fn inject(&self, fault: ErpFault) -> bool {
        self.erp.inject(fault);
        true
    }
    async fn wait_for_held_writes(&self) {
        while self.erp.held_writes() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test]
async fn in_memory_erp_passes_the_suite() {
    let fixture = ErpFix {
        erp: InMemoryErp::new("erp-secret"),
        generator: std::sync::Mutex::new(Generator::new(GeneratorConfig::new(5))),
    };
    let report = erp_suite(&fixture).await;
    assert!(report.skipped.is_empty(), "skipped: {:?}", report.skipped);
    assert!(report.passed.contains(&"lost_response_found_by_key"));
    assert!(
        report
            .passed
            .contains(&"repeated_journal_post_makes_one_document")
    );
    assert!(
        report
            .passed
            .contains(&"unbalanced_journal_refused_client_side")
    );
    for check in [
        "concurrent_journal_writers_make_one_document",
        "concurrent_sales_order_writers_make_one_document",
        "retry_overlapping_a_slow_write_makes_one_document",
    ] {
        assert!(report.passed.contains(&check), "{check} did not pass");
    }
    // Exactly the documents the suite meant to create: journal, lost-response journal, raced
    // journal, slow-write journal; sales order, raced sales order.
    assert_eq!(fixture.erp.count(&ErpDocumentKind::JournalEntry), 4);
    assert_eq!(fixture.erp.count(&ErpDocumentKind::SalesOrder), 2);
}
