//! The shared conformance suites.
//!
//! Every connector runs [`connector_suite`] and every ERP adapter runs [`erp_suite`] from its
//! own `tests/conformance.rs`, against its simulator over real HTTP (or, for the reference
//! implementations in this crate, in memory). A fixture trait gives the suite what it cannot
//! know by itself: how to build the connector, what the backend holds, and how to make the
//! backend misbehave.
//!
//! The suites panic with a message naming the failed check (they are test helpers) and return
//! a [`Report`] listing the checks that ran and the ones skipped because the fixture or the
//! connector does not support them.

// Test-harness code: a failed check panics with its message, like `assert!` does.
#![allow(clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use marketsync_core::{
    ConnectorCapabilities, ErpAdapter, ErpDocumentKind, Error, ErrorKind, FetchQuery,
    IdempotencyKey, InventoryUpdate, JournalEntry, JournalRequest, MarketplaceConnector, Order,
    OrderId, ReasonCode, Retry, SalesOrderRequest, Sku, TimeWindow,
};

/// A fault the backend applies to the next request(s).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer the next request with the platform's throttling response, stating this wait.
    Throttle {
        /// The wait the platform states (platforms with second granularity round up).
        retry_after: Duration,
    },
    /// Answer the next request with a server error (HTTP 5xx or the platform's "system busy").
    ServerError,
    /// Corrupt one field of one record in the next page (e.g. a non-numeric price).
    MalformedRecord,
    /// Deliver one record of the next page twice.
    DuplicateRecord,
    /// A late order: make an order visible now that was placed inside
    /// [`ConnectorFixture::window`] but that the platform last updated at `updated_at` (after
    /// the window) — as when a platform amends or releases an old order after that window was
    /// walked. Applied at once, not to the next request.
    LateOrder {
        /// The order's update time on the platform (after the window).
        updated_at: chrono::DateTime<chrono::Utc>,
    },
    /// A late settlement record: make visible now a statement line (bill, balance transaction,
    /// payout) for business inside [`ConnectorFixture::window`], published or last updated at
    /// `published_at` (after the window) — a statement published, or amended, after its
    /// period was walked. Applied at once.
    LateSettlement {
        /// When the platform published (or last updated) it.
        published_at: chrono::DateTime<chrono::Utc>,
    },
}

/// The look-back the late-record check re-reads with, like the pipeline's defaults: a pass
/// starts this far before where the last one ended.
pub const LATE_CHECK_ORDER_LOOKBACK: chrono::Duration = chrono::Duration::minutes(10);
/// The settlement look-back of the late-record check (the pipeline's default).
pub const LATE_CHECK_SETTLEMENT_LOOKBACK: chrono::Duration = chrono::Duration::days(2);

/// A fault an ERP backend applies to the next write.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErpFault {
    /// Commit the next write, then drop the response (the client sees a timeout or a broken
    /// connection): the document exists, the caller does not know.
    CommitThenDropResponse,
    /// Throttle the next request (concurrency limit / 429).
    Throttle,
    /// Fail the next request with a server error, committing nothing.
    ServerError,
    /// Hold the next write in the backend for longer than the adapter's client timeout before
    /// committing it: the caller sees a timeout while its first attempt is still in flight, and
    /// a retry overlaps it. The fixture chooses the hold from its adapter's timeout, and
    /// [`ErpFixture::wait_for_held_writes`] waits until the held write has finished.
    HoldWriteBeyondTimeout,
}

/// What a connector's conformance run needs from its test environment.
#[async_trait]
pub trait ConnectorFixture: Send + Sync {
    /// A connector with valid credentials, pointed at the seeded backend. Each call may return a
    /// new instance (the cursor-resume check uses a fresh one).
    fn connector(&self) -> Arc<dyn MarketplaceConnector>;

    /// The same backend with wrong credentials (wrong secret, revoked token).
    fn connector_with_bad_credentials(&self) -> Arc<dyn MarketplaceConnector>;

    /// An update-time window covering the seeded orders.
    fn window(&self) -> TimeWindow;

    /// The ids of every order the backend holds whose update time is inside [`Self::window`].
    fn expected_order_ids(&self) -> BTreeSet<OrderId>;

    /// A page size small enough that the seeded orders span several pages.
    fn page_size(&self) -> u32;

    /// Applies a fault to the backend's next request(s). Returns `false` if this backend
    /// cannot simulate it (the check is then skipped and reported).
    async fn inject(&self, fault: Fault) -> bool;

    /// An order seeded with a raw status value the connector cannot know, if any.
    fn unknown_status_order(&self) -> Option<OrderId> {
        None
    }

    /// A SKU the backend accepts stock updates for, if inventory push is supported.
    fn inventory_sku(&self) -> Option<Sku> {
        None
    }
}

/// What an ERP adapter's conformance run needs from its test environment.
#[async_trait]
pub trait ErpFixture: Send + Sync {
    /// An adapter with valid credentials.
    fn adapter(&self) -> Arc<dyn ErpAdapter>;

    /// An adapter with wrong credentials, if the backend checks them.
    fn adapter_with_bad_credentials(&self) -> Option<Arc<dyn ErpAdapter>>;

    /// An order whose SKUs the ERP knows (a new order id on every call).
    fn sample_order(&self) -> Order;

    /// A balanced journal entry on accounts the ERP knows.
    fn sample_journal(&self) -> JournalEntry;

    /// How many documents of a kind the backend holds, if it can tell.
    async fn document_count(&self, kind: ErpDocumentKind) -> Option<usize>;

    /// Applies a fault to the next write. `false` if unsupported.
    async fn inject(&self, fault: ErpFault) -> bool;

    /// Waits until every write held by [`ErpFault::HoldWriteBeyondTimeout`] has finished in the
    /// backend (committed or refused). The default returns at once.
    async fn wait_for_held_writes(&self) {}
}

/// What a suite run checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Checks that ran and passed.
    pub passed: Vec<&'static str>,
    /// Checks skipped, with the reason.
    pub skipped: Vec<(&'static str, String)>,
}

impl Report {
    fn pass(&mut self, check: &'static str) {
        self.passed.push(check);
    }

    fn skip(&mut self, check: &'static str, why: impl Into<String>) {
        self.skipped.push((check, why.into()));
    }
}

/// Walks every page of the fixture's window and returns the order ids and page count.
async fn walk_orders(
    connector: &dyn MarketplaceConnector,
    window: TimeWindow,
    page_size: u32,
    max_pages: usize,
) -> (Vec<Order>, Vec<(Option<String>, Error)>, usize) {
    let mut orders = Vec::new();
    let mut failures = Vec::new();
    let mut query = FetchQuery::new(window).with_page_size(page_size);
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(
            pages <= max_pages,
            "pagination did not end after {max_pages} pages"
        );
        let page = match connector.fetch_orders(&query).await {
            Ok(p) => p,
            Err(e) => panic!("fetch_orders failed on page {pages}: {e}"),
        };
        for item in page.items {
            assert!(
                !item.raw.bytes.is_empty(),
                "a fetched record has no raw payload"
            );
            match item.outcome {
                Ok(o) => orders.push(o),
                Err(e) => failures.push((item.external_id, e)),
            }
        }
        match page.next_cursor {
            Some(c) => query = query.with_cursor(Some(c)),
            None => break,
        }
    }
    (orders, failures, pages)
}

/// Splits `window` like the pipeline does (by the connector's `max_window`).
fn engine_windows(window: TimeWindow, caps: &ConnectorCapabilities) -> Vec<TimeWindow> {
    match caps
        .max_window
        .and_then(|m| chrono::Duration::from_std(m).ok())
    {
        Some(max) => window.split(max),
        None => vec![window],
    }
}

/// Every order of `window` (walked in the connector's `max_window` pieces), as (id, update
/// time, placed time).
async fn orders_seen(
    connector: &dyn MarketplaceConnector,
    window: TimeWindow,
    page_size: u32,
    max_pages: usize,
) -> BTreeSet<(String, DateTime<Utc>, DateTime<Utc>)> {
    let mut out = BTreeSet::new();
    for w in engine_windows(window, &connector.capabilities()) {
        let (orders, _, _) = walk_orders(connector, w, page_size, max_pages).await;
        out.extend(
            orders
                .into_iter()
                .map(|o| (o.id.to_string(), o.updated_at, o.placed_at)),
        );
    }
    out
}

/// Every settlement of `window` (walked in the connector's `max_window` pieces), as (id,
/// revision, period start).
async fn settlements_seen(
    connector: &dyn MarketplaceConnector,
    window: TimeWindow,
    page_size: u32,
    max_pages: usize,
) -> BTreeSet<(String, String, DateTime<Utc>)> {
    let mut out = BTreeSet::new();
    for w in engine_windows(window, &connector.capabilities()) {
        let mut query = FetchQuery::new(w).with_page_size(page_size);
        let mut pages = 0;
        loop {
            pages += 1;
            assert!(
                pages <= max_pages,
                "settlement pagination did not end after {max_pages} pages"
            );
            let page = connector
                .fetch_settlements(&query)
                .await
                .unwrap_or_else(|e| panic!("fetch_settlements failed: {e}"));
            for s in page.ok_items() {
                out.insert((
                    s.id.to_string(),
                    format!("{:?}", s.revision),
                    s.period_start,
                ));
            }
            match page.next_cursor {
                Some(c) => query = query.with_cursor(Some(c)),
                None => break,
            }
        }
    }
    out
}

fn check_error(result_err: Option<Error>, check: &str, want: impl Fn(&Error) -> bool) -> Error {
    match result_err {
        Some(e) if want(&e) => e,
        Some(e) => panic!("{check}: unexpected error {e}"),
        None => panic!("{check}: expected an error, the call succeeded"),
    }
}

/// Runs the marketplace connector conformance suite. See the [module docs](self).
pub async fn connector_suite(fixture: &dyn ConnectorFixture) -> Report {
    let mut report = Report::default();
    let connector = fixture.connector();
    let caps: ConnectorCapabilities = connector.capabilities();
    let window = fixture.window();
    let page_size = fixture.page_size();
    let expected = fixture.expected_order_ids();
    let max_pages = expected.len() / page_size.max(1) as usize + 50;

    // Health.
    match connector.health_check().await {
        Ok(h) => assert!(h.ok, "health_check answered not ok: {:?}", h.detail),
        Err(e) => panic!("health_check failed: {e}"),
    }
    report.pass("health_check");

    assert!(
        caps.orders,
        "a marketplace connector must support fetch_orders"
    );

    // Pagination exhausts every page; no order missed; times UTC and inside the window;
    // money adds up.
    let (orders, failures, pages) =
        walk_orders(connector.as_ref(), window, page_size, max_pages).await;
    let got: BTreeSet<OrderId> = orders.iter().map(|o| o.id.clone()).collect();
    let failed_ids: BTreeSet<String> = failures.iter().filter_map(|(id, _)| id.clone()).collect();
    let missing: Vec<&OrderId> = expected
        .iter()
        .filter(|id| !got.contains(*id) && !failed_ids.contains(id.as_str()))
        .collect();
    assert!(missing.is_empty(), "pagination missed orders: {missing:?}");
    if expected.len() > page_size as usize {
        assert!(
            pages > 1,
            "{} orders came in one page of size {page_size}",
            expected.len()
        );
    }
    report.pass("pagination_exhausts_every_page");
    for o in &orders {
        assert!(
            o.placed_at <= o.updated_at,
            "order {}: placed after updated",
            o.id
        );
        assert!(
            window.contains(o.updated_at),
            "order {} updated at {} outside the window {:?}",
            o.id,
            o.updated_at,
            window
        );
        assert!(
            !o.source_time_zone.as_str().is_empty(),
            "order {}: no source zone",
            o.id
        );
        assert!(
            !o.raw_status.is_empty(),
            "order {}: raw status dropped",
            o.id
        );
        assert_eq!(
            o.channel,
            connector.channel(),
            "order {}: wrong channel",
            o.id
        );
        if let Err(e) = o.validate() {
            panic!("order {}: money or structure does not add up: {e}", o.id);
        }
    }
    report.pass("times_are_utc_inside_window");
    report.pass("money_totals_add_up");
    for (id, e) in &failures {
        let ok = matches!(e.kind(), ErrorKind::Validation | ErrorKind::Mapping);
        assert!(ok, "record {id:?} failed with a non-data error: {e}");
    }

    // Cursor resume with a fresh instance.
    {
        let first = connector
            .fetch_orders(&FetchQuery::new(window).with_page_size(page_size))
            .await
            .unwrap_or_else(|e| panic!("first page failed: {e}"));
        let mut ids: BTreeSet<String> = first
            .items
            .iter()
            .filter_map(|i| i.external_id.clone())
            .collect();
        if let Some(cursor) = first.next_cursor {
            let fresh = fixture.connector();
            let mut query = FetchQuery::new(window)
                .with_page_size(page_size)
                .with_cursor(Some(cursor));
            let mut n = 0;
            loop {
                n += 1;
                assert!(n <= max_pages, "resumed pagination did not end");
                let page = fresh
                    .fetch_orders(&query)
                    .await
                    .unwrap_or_else(|e| panic!("resumed page failed: {e}"));
                ids.extend(page.items.iter().filter_map(|i| i.external_id.clone()));
                match page.next_cursor {
                    Some(c) => query = query.with_cursor(Some(c)),
                    None => break,
                }
            }
            let missing: Vec<&OrderId> = expected
                .iter()
                .filter(|id| !ids.contains(id.as_str()))
                .collect();
            assert!(
                missing.is_empty(),
                "cursor resume missed orders: {missing:?}"
            );
            report.pass("cursor_resume");
        } else {
            report.skip("cursor_resume", "the window fits one page");
        }
    }

    // Throttling surfaces as RateLimited with the stated wait, and is not fatal.
    let wait = Duration::from_secs(2);
    if fixture.inject(Fault::Throttle { retry_after: wait }).await {
        let err = connector
            .fetch_orders(&FetchQuery::new(window).with_page_size(page_size))
            .await
            .err();
        let err = check_error(err, "throttling", |e| {
            matches!(e.kind(), ErrorKind::RateLimited { .. })
        });
        assert_eq!(
            err.retry(),
            Retry::Temporary,
            "throttling must be Temporary"
        );
        let stated = err
            .retry_after()
            .unwrap_or_else(|| panic!("throttling without retry_after: {err}"));
        assert!(
            stated >= wait && stated <= wait + Duration::from_secs(1),
            "retry_after {stated:?} does not match the platform's {wait:?}"
        );
        connector
            .fetch_orders(&FetchQuery::new(window).with_page_size(page_size))
            .await
            .unwrap_or_else(|e| panic!("the call after throttling failed: {e}"));
        report.pass("throttling_is_rate_limited_with_retry_after");
    } else {
        report.skip(
            "throttling_is_rate_limited_with_retry_after",
            "fixture cannot throttle",
        );
    }

    // A server error is temporary.
    if fixture.inject(Fault::ServerError).await {
        let err = connector
            .fetch_orders(&FetchQuery::new(window).with_page_size(page_size))
            .await
            .err();
        let err = check_error(err, "server_error", |e| e.is_temporary());
        assert!(err.is_temporary());
        report.pass("server_error_is_temporary");
    } else {
        report.skip("server_error_is_temporary", "fixture cannot fail");
    }

    // Auth failure is Permanent.
    {
        let bad = fixture.connector_with_bad_credentials();
        let err = bad
            .fetch_orders(&FetchQuery::new(window).with_page_size(page_size))
            .await
            .err();
        let err = check_error(err, "auth_failure", |e| {
            matches!(
                e.kind(),
                ErrorKind::Unauthorized | ErrorKind::PermissionDenied
            )
        });
        assert_eq!(
            err.retry(),
            Retry::Permanent,
            "auth failure must be Permanent"
        );
        report.pass("auth_failure_is_permanent");
    }

    // A malformed record is reported with its raw payload, the rest of the page survives.
    if fixture.inject(Fault::MalformedRecord).await {
        let page = connector
            .fetch_orders(&FetchQuery::new(window).with_page_size(page_size))
            .await
            .unwrap_or_else(|e| panic!("a malformed record failed the whole page: {e}"));
        let bad: Vec<_> = page
            .items
            .iter()
            .filter(|i| {
                i.outcome
                    .as_ref()
                    .is_err_and(|e| e.reason() == ReasonCode::MalformedPayload)
            })
            .collect();
        assert_eq!(
            bad.len(),
            1,
            "expected exactly one malformed record (reason malformed_payload) in the page"
        );
        assert!(
            !bad[0].raw.bytes.is_empty(),
            "malformed record lost its raw payload"
        );
        assert!(
            page.items.len() > 1,
            "the good records of the page were dropped"
        );
        report.pass("malformed_record_kept_with_raw_payload");
    } else {
        report.skip(
            "malformed_record_kept_with_raw_payload",
            "fixture cannot corrupt",
        );
    }

    // A duplicated record is delivered (at-least-once) without breaking the page.
    if fixture.inject(Fault::DuplicateRecord).await {
        let page = connector
            .fetch_orders(&FetchQuery::new(window).with_page_size(page_size))
            .await
            .unwrap_or_else(|e| panic!("a duplicate record failed the page: {e}"));
        let ids: Vec<_> = page
            .items
            .iter()
            .filter_map(|i| i.external_id.clone())
            .collect();
        let unique: BTreeSet<_> = ids.iter().collect();
        assert!(
            unique.len() < ids.len(),
            "the duplicated record did not come through"
        );
        report.pass("duplicate_delivery_survives");
    } else {
        report.skip("duplicate_delivery_survives", "fixture cannot duplicate");
    }

    // Unknown platform values survive: kept verbatim, or routed as UnknownStatus with raw data.
    if let Some(id) = fixture.unknown_status_order() {
        let in_ok = orders.iter().find(|o| o.id == id);
        let in_failed = failures
            .iter()
            .find(|(eid, _)| eid.as_deref() == Some(id.as_str()));
        match (in_ok, in_failed) {
            (Some(o), _) => assert!(!o.raw_status.is_empty(), "unknown status dropped"),
            (None, Some((_, e))) => assert_eq!(
                e.reason(),
                ReasonCode::UnknownStatus,
                "unknown status should be reason UnknownStatus, got {e}"
            ),
            (None, None) => panic!("order {id} with an unknown status vanished"),
        }
        report.pass("unknown_platform_values_survive");
    } else {
        report.skip(
            "unknown_platform_values_survive",
            "no unknown-status order seeded",
        );
    }

    // Capabilities are honest: supported calls work, unsupported ones say Unsupported.
    let q = FetchQuery::new(window).with_page_size(page_size);
    let returns = connector.fetch_returns(&q).await;
    check_capability("fetch_returns", caps.returns, returns.map(|_| ()));
    let settlements = connector.fetch_settlements(&q).await;
    check_capability(
        "fetch_settlements",
        caps.settlements,
        settlements.map(|_| ()),
    );
    report.pass("capabilities_are_honest");

    if caps.inventory_push {
        if let Some(sku) = fixture.inventory_sku() {
            let update = InventoryUpdate {
                channel: connector.channel(),
                shop: connector.shop(),
                sku: sku.clone(),
                location: None,
                available: 7,
                version: 1,
                computed_at: window.end,
            };
            let acks = connector
                .push_inventory(std::slice::from_ref(&update))
                .await
                .unwrap_or_else(|e| panic!("push_inventory failed: {e}"));
            assert_eq!(acks.len(), 1, "one ack per update");
            assert_eq!(acks[0].sku, sku);
            assert!(
                acks[0].applied,
                "inventory update not applied: {:?}",
                acks[0].message
            );
            report.pass("inventory_push_acknowledged");
        } else {
            report.skip("inventory_push_acknowledged", "no inventory SKU in fixture");
        }
    } else {
        let err = connector.push_inventory(&[]).await.err();
        check_error(err, "push_inventory unsupported", |e| {
            e.kind() == &ErrorKind::Unsupported
        });
    }
    late_records(fixture, connector.as_ref(), &mut report, max_pages).await;
    report
}

/// Late records are never missed: after the fixture's window was walked, a record for business
/// inside it appears with an update / publication time after the walk; the next pass — from
/// the end of the walk minus the look-back, split by the connector's `max_window`, as the
/// pipeline walks — must fetch it.
async fn late_records(
    fixture: &dyn ConnectorFixture,
    connector: &dyn MarketplaceConnector,
    report: &mut Report,
    max_pages: usize,
) {
    let window = fixture.window();
    let page_size = fixture.page_size();
    let caps = connector.capabilities();

    // Orders.
    let at = window.end + chrono::Duration::hours(1);
    let next = TimeWindow::new(
        window.end - LATE_CHECK_ORDER_LOOKBACK,
        at + chrono::Duration::minutes(1),
    )
    .unwrap_or(window);
    let before = orders_seen(connector, next, page_size, max_pages).await;
    if fixture.inject(Fault::LateOrder { updated_at: at }).await {
        let after = orders_seen(connector, next, page_size, max_pages).await;
        let late: Vec<_> = after.difference(&before).collect();
        assert!(
            !late.is_empty(),
            "a late order (placed inside the walked window, updated at {at}) was not fetched by \
             the next window {next:?}"
        );
        for (id, updated, placed) in late {
            assert!(
                *updated >= window.end && *placed < window.end,
                "late order {id}: placed {placed}, updated {updated}; expected placed inside \
                 the walked window and updated after it"
            );
        }
        report.pass("late_order_fetched_by_next_window");
    } else {
        report.skip(
            "late_order_fetched_by_next_window",
            "fixture cannot publish a late order",
        );
    }

    // Settlements.
    if !caps.settlements {
        report.skip(
            "late_settlement_fetched_by_next_window",
            "the connector does not declare settlements",
        );
        return;
    }
    let at = window.end + chrono::Duration::days(2);
    let next = TimeWindow::new(
        window.end - LATE_CHECK_SETTLEMENT_LOOKBACK,
        at + chrono::Duration::minutes(1),
    )
    .unwrap_or(window);
    let before = settlements_seen(connector, next, page_size, max_pages).await;
    if fixture
        .inject(Fault::LateSettlement { published_at: at })
        .await
    {
        let after = settlements_seen(connector, next, page_size, max_pages).await;
        let late: Vec<_> = after.difference(&before).collect();
        assert!(
            !late.is_empty(),
            "a late settlement (published at {at} for business inside the walked window) was \
             not fetched by the next window {next:?}"
        );
        assert!(
            late.iter().any(|(_, _, start)| *start < window.end),
            "no late settlement covers the walked window: {late:?}"
        );
        report.pass("late_settlement_fetched_by_next_window");
    } else {
        report.skip(
            "late_settlement_fetched_by_next_window",
            "fixture cannot publish a late settlement",
        );
    }
}

fn check_capability(op: &str, declared: bool, result: Result<(), Error>) {
    match (declared, result) {
        (true, Ok(())) => {}
        (true, Err(e)) => panic!("{op} is declared supported but failed: {e}"),
        (false, Err(e)) if e.kind() == &ErrorKind::Unsupported => {}
        (false, Err(e)) => panic!("{op} is declared unsupported but failed with {e}"),
        (false, Ok(())) => panic!("{op} is declared unsupported but succeeded"),
    }
}

fn key(label: &str, n: &str) -> IdempotencyKey {
    IdempotencyKey::derive(
        &marketsync_core::Channel::Custom("conformance".into()),
        &marketsync_core::ShopId::new(label),
        &marketsync_core::EventKind::Other("conformance".into()),
        n,
        &marketsync_core::Revision::Version(1),
    )
}

/// Runs the ERP adapter conformance suite. See the [module docs](self).
pub async fn erp_suite(fixture: &dyn ErpFixture) -> Report {
    let mut report = Report::default();
    let adapter = fixture.adapter();
    let caps = adapter.capabilities();
    let run = std::process::id().to_string()
        + &format!(
            "-{}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );

    match adapter.health_check().await {
        Ok(h) => assert!(h.ok, "health_check not ok: {:?}", h.detail),
        Err(e) => panic!("health_check failed: {e}"),
    }
    report.pass("health_check");

    // Unknown key: nothing found.
    let unknown = key("unknown", &run);
    let found = adapter
        .find_by_idempotency_key(&unknown)
        .await
        .unwrap_or_else(|e| panic!("find_by_idempotency_key failed: {e}"));
    assert!(found.is_none(), "an unused key found a document: {found:?}");
    report.pass("unknown_key_finds_nothing");

    // Journal: a repeated post with the same key makes one document.
    if caps.journals {
        let before = fixture.document_count(ErpDocumentKind::JournalEntry).await;
        let k = key("journal", &run);
        let req = JournalRequest::new(k.clone(), fixture.sample_journal());
        let first = adapter
            .post_journal(&req)
            .await
            .unwrap_or_else(|e| panic!("post_journal failed: {e}"));
        assert!(first.created, "first post must create");
        let second = adapter
            .post_journal(&req)
            .await
            .unwrap_or_else(|e| panic!("repeated post_journal failed: {e}"));
        assert_eq!(
            first.id, second.id,
            "a repeated post made a second document"
        );
        assert!(
            !second.created,
            "a repeated post must answer created: false"
        );
        let found = adapter
            .find_by_idempotency_key(&k)
            .await
            .unwrap_or_else(|e| panic!("find_by_idempotency_key failed: {e}"));
        assert_eq!(
            found.map(|d| d.id),
            Some(first.id.clone()),
            "key lookup did not find the journal"
        );
        if let (Some(b), Some(a)) = (
            before,
            fixture.document_count(ErpDocumentKind::JournalEntry).await,
        ) {
            assert_eq!(
                a,
                b + 1,
                "the ERP holds {} new journals, expected one",
                a - b
            );
        }
        report.pass("repeated_journal_post_makes_one_document");

        // An unbalanced journal is refused before it reaches the ERP.
        let mut bad = fixture.sample_journal();
        if let Some(line) = bad.lines.first_mut() {
            line.amount.amount += line.amount.currency.minor_unit();
        }
        let before = fixture.document_count(ErpDocumentKind::JournalEntry).await;
        let err = adapter
            .post_journal(&JournalRequest::new(key("unbalanced", &run), bad))
            .await
            .err();
        let err = check_error(err, "unbalanced journal", |e| {
            e.kind() == &ErrorKind::Validation
        });
        assert_eq!(err.retry(), Retry::Permanent);
        assert_eq!(
            before,
            fixture.document_count(ErpDocumentKind::JournalEntry).await,
            "an unbalanced journal reached the ERP"
        );
        report.pass("unbalanced_journal_refused_client_side");

        // Commit, lose the response, find it by key, repost makes nothing new.
        if fixture.inject(ErpFault::CommitThenDropResponse).await {
            let k = key("lost-response", &run);
            let req = JournalRequest::new(k.clone(), fixture.sample_journal());
            let err = adapter.post_journal(&req).await.err();
            let err = check_error(err, "lost response", |e| e.is_temporary());
            assert!(
                matches!(err.kind(), ErrorKind::Timeout | ErrorKind::Unavailable),
                "a dropped response should look like a timeout, got {err}"
            );
            let found = adapter
                .find_by_idempotency_key(&k)
                .await
                .unwrap_or_else(|e| panic!("lookup after lost response failed: {e}"));
            let found =
                found.unwrap_or_else(|| panic!("the committed journal was not found by key"));
            let again = adapter
                .post_journal(&req)
                .await
                .unwrap_or_else(|e| panic!("repost after lost response failed: {e}"));
            assert_eq!(again.id, found.id);
            assert!(
                !again.created,
                "repost after a lost response created a second journal"
            );
            report.pass("lost_response_found_by_key");
        } else {
            report.skip(
                "lost_response_found_by_key",
                "fixture cannot drop responses",
            );
        }
    } else {
        let err = adapter
            .post_journal(&JournalRequest::new(
                key("j", &run),
                fixture.sample_journal(),
            ))
            .await
            .err();
        check_error(err, "post_journal unsupported", |e| {
            e.kind() == &ErrorKind::Unsupported
        });
        report.skip(
            "repeated_journal_post_makes_one_document",
            "journals unsupported",
        );
    }

    // Sales order: the same key twice makes one document.
    if caps.sales_orders {
        let before = fixture.document_count(ErpDocumentKind::SalesOrder).await;
        let k = key("sales-order", &run);
        let req = SalesOrderRequest::new(k.clone(), fixture.sample_order());
        let first = adapter
            .upsert_sales_order(&req)
            .await
            .unwrap_or_else(|e| panic!("upsert_sales_order failed: {e}"));
        let second = adapter
            .upsert_sales_order(&req)
            .await
            .unwrap_or_else(|e| panic!("repeated upsert_sales_order failed: {e}"));
        assert_eq!(
            first.id, second.id,
            "a repeated upsert made a second sales order"
        );
        assert!(
            !second.created,
            "a repeated upsert must answer created: false"
        );
        if let (Some(b), Some(a)) = (
            before,
            fixture.document_count(ErpDocumentKind::SalesOrder).await,
        ) {
            assert_eq!(a, b + 1, "expected exactly one new sales order");
        }
        report.pass("repeated_sales_order_makes_one_document");
    } else {
        let err = adapter
            .upsert_sales_order(&SalesOrderRequest::new(
                key("so", &run),
                fixture.sample_order(),
            ))
            .await
            .err();
        check_error(err, "upsert_sales_order unsupported", |e| {
            e.kind() == &ErrorKind::Unsupported
        });
        report.skip(
            "repeated_sales_order_makes_one_document",
            "sales orders unsupported",
        );
    }

    concurrency_checks(fixture, &mut report, &run).await;

    // Throttling and server errors are temporary.
    if fixture.inject(ErpFault::Throttle).await {
        let err = adapter
            .post_journal(&JournalRequest::new(
                key("throttle", &run),
                fixture.sample_journal(),
            ))
            .await
            .err();
        check_error(err, "erp throttling", |e| {
            matches!(e.kind(), ErrorKind::RateLimited { .. }) && e.is_temporary()
        });
        report.pass("erp_throttling_is_rate_limited");
    } else {
        report.skip("erp_throttling_is_rate_limited", "fixture cannot throttle");
    }
    if fixture.inject(ErpFault::ServerError).await {
        let err = adapter
            .post_journal(&JournalRequest::new(
                key("5xx", &run),
                fixture.sample_journal(),
            ))
            .await
            .err();
        check_error(err, "erp server error", Error::is_temporary);
        report.pass("erp_server_error_is_temporary");
    } else {
        report.skip("erp_server_error_is_temporary", "fixture cannot fail");
    }

    // Bad credentials are Permanent.
    if let Some(bad) = fixture.adapter_with_bad_credentials() {
        let err = bad.health_check().await.err();
        let err = check_error(err, "erp auth failure", |e| {
            matches!(
                e.kind(),
                ErrorKind::Unauthorized | ErrorKind::PermissionDenied
            )
        });
        assert_eq!(err.retry(), Retry::Permanent);
        report.pass("erp_auth_failure_is_permanent");
    } else {
        report.skip("erp_auth_failure_is_permanent", "no credential check");
    }

    // Inventory positions, when supported, answer for the sample order's SKUs.
    let skus: Vec<Sku> = fixture
        .sample_order()
        .lines
        .iter()
        .map(|l| l.sku.clone())
        .collect();
    let inv = adapter.inventory_positions(&skus).await;
    match (caps.inventory, inv) {
        (true, Ok(_)) => {}
        (false, Err(e)) if e.kind() == &ErrorKind::Unsupported => {}
        (false, Err(e)) => panic!("inventory_positions declared unsupported but failed with {e}"),
        (true, Err(e)) => panic!("inventory_positions declared supported but failed: {e}"),
        (false, Ok(_)) => panic!("inventory_positions declared unsupported but succeeded"),
    }
    report.pass("capabilities_are_honest");
    report
}

/// How many writers race on one key in the concurrency checks.
const CONCURRENT_WRITERS: usize = 16;

/// Calls `write` until it answers something other than a temporary error (at most 30 attempts),
/// waiting the stated `Retry-After` or a short growing pause in between: what the pipeline's
/// retry policy does, compressed.
async fn retrying<F, Fut>(mut write: F) -> Result<marketsync_core::ErpDocumentRef, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<marketsync_core::ErpDocumentRef, Error>>,
{
    let mut attempt: u64 = 0;
    loop {
        match write().await {
            Err(e) if e.is_temporary() && attempt < 30 => {
                attempt += 1;
                let wait = e
                    .retry_after()
                    .unwrap_or(Duration::from_millis(20 * attempt))
                    .min(Duration::from_secs(2));
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

/// Runs `CONCURRENT_WRITERS` writers of one request at once (each on its own task) and checks
/// that exactly one document exists afterwards and that every writer learnt its id.
async fn race_one_key<F, Fut>(
    fixture: &dyn ErpFixture,
    kind: ErpDocumentKind,
    key: &IdempotencyKey,
    what: &str,
    write: F,
) where
    F: Fn(Arc<dyn ErpAdapter>) -> Fut,
    Fut: std::future::Future<Output = Result<marketsync_core::ErpDocumentRef, Error>>
        + Send
        + 'static,
{
    let before = fixture.document_count(kind.clone()).await;
    let tasks: Vec<_> = (0..CONCURRENT_WRITERS)
        .map(|_| tokio::spawn(write(fixture.adapter())))
        .collect();
    let mut ids = BTreeSet::new();
    let mut created = 0usize;
    for (n, task) in tasks.into_iter().enumerate() {
        match task.await {
            Ok(Ok(doc)) => {
                created += usize::from(doc.created);
                ids.insert(doc.id);
            }
            Ok(Err(e)) => panic!("concurrent {what} writer {n} failed: {e}"),
            Err(e) => panic!("concurrent {what} writer {n} panicked: {e}"),
        }
    }
    assert_eq!(
        ids.len(),
        1,
        "{CONCURRENT_WRITERS} concurrent {what} writers with one key learnt different ids: {ids:?}"
    );
    assert!(
        created >= 1,
        "no concurrent {what} writer reported the document as created"
    );
    if let (Some(b), Some(a)) = (before, fixture.document_count(kind).await) {
        assert_eq!(
            a,
            b + 1,
            "{CONCURRENT_WRITERS} concurrent {what} writers with one key left {} documents",
            a.saturating_sub(b)
        );
    }
    let found = fixture
        .adapter()
        .find_by_idempotency_key(key)
        .await
        .unwrap_or_else(|e| panic!("key lookup after the {what} race failed: {e}"));
    assert_eq!(
        found.map(|d| d.id),
        ids.into_iter().next(),
        "the key lookup after the {what} race found another document"
    );
}

/// Concurrent writers with one key, and a retry that overlaps a slow first attempt.
async fn concurrency_checks(fixture: &dyn ErpFixture, report: &mut Report, run: &str) {
    let caps = fixture.adapter().capabilities();
    if caps.journals {
        let k = key("concurrent-journal", run);
        let req = Arc::new(JournalRequest::new(k.clone(), fixture.sample_journal()));
        race_one_key(fixture, ErpDocumentKind::JournalEntry, &k, "journal", |a| {
            let req = req.clone();
            async move { retrying(|| a.post_journal(&req)).await }
        })
        .await;
        report.pass("concurrent_journal_writers_make_one_document");
    } else {
        report.skip(
            "concurrent_journal_writers_make_one_document",
            "journals unsupported",
        );
    }
    if caps.sales_orders {
        let k = key("concurrent-sales-order", run);
        let req = Arc::new(SalesOrderRequest::new(k.clone(), fixture.sample_order()));
        race_one_key(
            fixture,
            ErpDocumentKind::SalesOrder,
            &k,
            "sales order",
            |a| {
                let req = req.clone();
                async move { retrying(|| a.upsert_sales_order(&req)).await }
            },
        )
        .await;
        report.pass("concurrent_sales_order_writers_make_one_document");
    } else {
        report.skip(
            "concurrent_sales_order_writers_make_one_document",
            "sales orders unsupported",
        );
    }

    // A first attempt the backend holds beyond the client's timeout, and a retry that overlaps
    // it: still one document, and the key finds the one the retry answered.
    if !caps.journals {
        report.skip(
            "retry_overlapping_a_slow_write_makes_one_document",
            "journals unsupported",
        );
        return;
    }
    if !fixture.inject(ErpFault::HoldWriteBeyondTimeout).await {
        report.skip(
            "retry_overlapping_a_slow_write_makes_one_document",
            "fixture cannot hold a write",
        );
        return;
    }
    let adapter = fixture.adapter();
    let k = key("slow-first-attempt", run);
    let req = JournalRequest::new(k.clone(), fixture.sample_journal());
    let before = fixture.document_count(ErpDocumentKind::JournalEntry).await;
    let err = adapter.post_journal(&req).await.err();
    let err = check_error(err, "held write", Error::is_temporary);
    assert!(
        matches!(err.kind(), ErrorKind::Timeout | ErrorKind::Unavailable),
        "a write held beyond the client timeout should time out, got {err}"
    );
    let retry = retrying(|| adapter.post_journal(&req))
        .await
        .unwrap_or_else(|e| panic!("the retry overlapping a held write failed: {e}"));
    fixture.wait_for_held_writes().await;
    let again = adapter
        .post_journal(&req)
        .await
        .unwrap_or_else(|e| panic!("a repost after the held write landed failed: {e}"));
    assert_eq!(again.id, retry.id, "the held write made a second document");
    assert!(!again.created, "a repost after the held write created");
    if let (Some(b), Some(a)) = (
        before,
        fixture.document_count(ErpDocumentKind::JournalEntry).await,
    ) {
        assert_eq!(
            a,
            b + 1,
            "a retry overlapping a held write left {} documents",
            a.saturating_sub(b)
        );
    }
    let found = adapter
        .find_by_idempotency_key(&k)
        .await
        .unwrap_or_else(|e| panic!("key lookup after the held write failed: {e}"));
    assert_eq!(found.map(|d| d.id), Some(retry.id));
    report.pass("retry_overlapping_a_slow_write_makes_one_document");
}
