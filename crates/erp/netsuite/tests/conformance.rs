//! The shared ERP conformance suite against the NetSuite simulator, over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use marketsync_core::{ErpAdapter, ErpDocumentKind, JournalEntry, Order};
use marketsync_netsuite::NetSuiteAdapter;
use marketsync_testkit::conformance::{ErpFault, ErpFixture, erp_suite};
use marketsync_testkit::sim::netsuite::{NetSuiteSim, RecordType, SimFault};

struct Fixture {
    sim: NetSuiteSim,
    good: Arc<NetSuiteAdapter>,
    bad: Arc<NetSuiteAdapter>,
    seq: AtomicU64,
}

#[async_trait]
impl ErpFixture for Fixture {
    fn adapter(&self) -> Arc<dyn ErpAdapter> {
        self.good.clone()
    }

    fn adapter_with_bad_credentials(&self) -> Option<Arc<dyn ErpAdapter>> {
        Some(self.bad.clone())
    }

    fn sample_order(&self) -> Order {
        common::order(&format!("40123{}", self.seq.fetch_add(1, Ordering::SeqCst)))
    }

    fn sample_journal(&self) -> JournalEntry {
        common::sample_journal()
    }

    async fn document_count(&self, kind: ErpDocumentKind) -> Option<usize> {
        let t = match kind {
            ErpDocumentKind::SalesOrder => RecordType::SalesOrder,
            ErpDocumentKind::JournalEntry => RecordType::JournalEntry,
            ErpDocumentKind::Fulfilment => RecordType::ItemFulfillment,
            ErpDocumentKind::Refund => RecordType::CreditMemo,
            _ => return None,
        };
        Some(self.sim.count(t))
    }

    async fn inject(&self, fault: ErpFault) -> bool {
        let f = match fault {
            ErpFault::CommitThenDropResponse => SimFault::CommitThenDropResponse,
            ErpFault::Throttle => SimFault::Throttle,
            ErpFault::ServerError => SimFault::ServerError,
            // Longer than the adapter's 3 s client timeout (tests/common).
            ErpFault::HoldWriteBeyondTimeout => SimFault::HoldWrite(Duration::from_millis(4_000)),
            _ => return false,
        };
        self.sim.inject(f);
        true
    }

    async fn wait_for_held_writes(&self) {
        while self.sim.held_writes() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netsuite_passes_the_erp_conformance_suite() {
    let sim = common::sim(5).await;
    let good = Arc::new(common::adapter(&sim, 4));
    let mut bad_config = common::config(&sim, 4);
    bad_config.token_secret = marketsync_netsuite::Secret::new("not-the-token-secret");
    let bad = Arc::new(NetSuiteAdapter::new(bad_config).unwrap());
    let fixture = Fixture {
        sim,
        good,
        bad,
        seq: AtomicU64::new(1),
    };
    let report = erp_suite(&fixture).await;
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
        "erp_throttling_is_rate_limited",
        "erp_server_error_is_temporary",
        "erp_auth_failure_is_permanent",
        "capabilities_are_honest",
    ] {
        assert!(
            report.passed.contains(&check),
            "{check} did not pass: {report:?}"
        );
    }
    assert!(report.skipped.is_empty(), "skipped: {:?}", report.skipped);
    // The bad credentials were refused by the simulator's own signature check.
    assert!(
        fixture
            .sim
            .login_audit_trail()
            .iter()
            .any(|r| r == "invalid signature")
    );
}
