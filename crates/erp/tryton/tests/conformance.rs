//! The shared ERP conformance suite against the live Tryton server, through a loopback proxy
//! that can fail a request or drop a response after the server committed.
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
use serde_json::json;

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
        let (model, field) = match kind {
            ErpDocumentKind::JournalEntry => ("account.move", "description"),
            ErpDocumentKind::SalesOrder => ("sale.sale", "reference"),
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
