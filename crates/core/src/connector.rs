//! The marketplace side: [`MarketplaceConnector`] and its query and page types.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::envelope::IdempotencyKey;
use crate::error::{Error, Result};
use crate::ids::{Channel, Cursor, OrderId, ShopId};
use crate::inventory::{InventoryAck, InventoryUpdate};
use crate::order::Order;
use crate::raw::RawRecord;
use crate::refund::Refund;
use crate::settlement::Settlement;
use crate::shipment::Shipment;

/// A half-open time window `[start, end)` in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeWindow {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

impl TimeWindow {
    /// A window; `None` if `end < start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<TimeWindow> {
        (start <= end).then_some(TimeWindow { start, end })
    }

    /// True when `t` is inside the window.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// Splits into consecutive windows no longer than `max` (platforms such as Taobao limit an
    /// incremental query to one day).
    pub fn split(&self, max: chrono::Duration) -> Vec<TimeWindow> {
        let mut out = Vec::new();
        let mut start = self.start;
        if max <= chrono::Duration::zero() {
            return vec![*self];
        }
        while start < self.end {
            let end = std::cmp::min(start + max, self.end);
            out.push(TimeWindow { start, end });
            start = end;
        }
        out
    }
}

/// A page request: records the platform *changed or published* inside `window`, continuing
/// from `cursor`.
///
/// # The stream contract
///
/// Every stream — orders, refunds/returns and settlements — is read by **"updated or
/// published since"**: `window` is over the time the platform last changed or published the
/// record, never over a business time the record describes.
///
/// | stream | the time `window` is over |
/// |---|---|
/// | orders ([`MarketplaceConnector::fetch_orders`]) | the order's last update on the platform |
/// | refunds ([`MarketplaceConnector::fetch_returns`]) | the refund's (or return's) last update |
/// | settlements ([`MarketplaceConnector::fetch_settlements`]) | when the statement, payout or bill was published or last updated — **not** the period it covers |
///
/// So a record that appears after its business period was walked (a statement published days
/// after its period, an order amended a week later) carries a time after that walk and is read
/// by a later window: nothing is missed by walking windows forward from a watermark. A record
/// may come again in a later window (a new revision, or an overlapping re-read): callers
/// de-duplicate by (id, revision), which the pipeline's ledger does.
///
/// Where the platform can only filter by a business time (e.g. a bill's debit time), the
/// connector reads a look-back of that time and returns the records whose change or
/// publication time falls inside `window`; its README says how far back it looks. Platforms
/// that index late are covered by the caller re-reading a little before its watermark (the
/// pipeline's per-stream look-back).
///
/// `#[non_exhaustive]`: build with [`FetchQuery::new`] and the `with_*` methods, so fields can be
/// added without breaking callers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchQuery {
    /// The window over the records' change / publication time (see the
    /// [stream contract](FetchQuery#the-stream-contract)).
    pub window: TimeWindow,
    /// Where to continue; `None` for the first page.
    pub cursor: Option<Cursor>,
    /// Preferred page size; connectors clamp it to the platform's limits.
    pub page_size: Option<u32>,
    /// Fetch only these records, when the platform supports lookup by id.
    pub ids: Vec<OrderId>,
}

impl FetchQuery {
    /// The first page of a window.
    pub fn new(window: TimeWindow) -> FetchQuery {
        FetchQuery {
            window,
            cursor: None,
            page_size: None,
            ids: Vec::new(),
        }
    }

    /// Continues from a cursor.
    pub fn with_cursor(mut self, cursor: Option<Cursor>) -> FetchQuery {
        self.cursor = cursor;
        self
    }

    /// Sets the preferred page size.
    pub fn with_page_size(mut self, size: u32) -> FetchQuery {
        self.page_size = Some(size);
        self
    }
}

/// One record of a page: the raw platform record and what normalizing it gave.
///
/// A record that fails to normalize is not dropped: it arrives here as an `Err` with its raw
/// bytes, so the pipeline can put both in the exception queue.
#[derive(Debug)]
pub struct Fetched<T> {
    /// The platform's id for the record, when it could be read even if normalization failed.
    pub external_id: Option<String>,
    /// The raw record.
    pub raw: RawRecord,
    /// The canonical record, or why it could not be built.
    pub outcome: std::result::Result<T, Error>,
}

impl<T> Fetched<T> {
    /// A successfully normalized record.
    pub fn ok(external_id: impl Into<String>, raw: RawRecord, value: T) -> Fetched<T> {
        Fetched {
            external_id: Some(external_id.into()),
            raw,
            outcome: Ok(value),
        }
    }

    /// A record that failed to normalize.
    pub fn failed(external_id: Option<String>, raw: RawRecord, error: Error) -> Fetched<T> {
        Fetched {
            external_id,
            raw,
            outcome: Err(error),
        }
    }
}

/// A page of records and where to continue.
#[derive(Debug)]
pub struct Page<T> {
    /// The records, in the platform's order.
    pub items: Vec<Fetched<T>>,
    /// The cursor for the next page; `None` when the window is exhausted.
    pub next_cursor: Option<Cursor>,
}

impl<T> Page<T> {
    /// The last page: no continuation.
    pub fn last(items: Vec<Fetched<T>>) -> Page<T> {
        Page {
            items,
            next_cursor: None,
        }
    }

    /// The successfully normalized records.
    pub fn ok_items(&self) -> impl Iterator<Item = &T> {
        self.items.iter().filter_map(|f| f.outcome.as_ref().ok())
    }
}

/// What a connector can do, stated up front (`Copy`).
///
/// The trait's optional methods answer a typed [`ErrorKind::Unsupported`](crate::ErrorKind)
/// by default; declare here exactly the ones a connector overrides (the testkit's conformance
/// suite checks the two agree).
///
/// ```
/// use std::time::Duration;
/// use marketsync_core::ConnectorCapabilities;
///
/// let caps = ConnectorCapabilities::none()
///     .with_orders(true)
///     .with_returns(true)
///     .with_max_window(Duration::from_secs(24 * 3600));
/// assert!(caps.orders && caps.returns && !caps.settlements);
/// assert_eq!(caps.max_window, Some(Duration::from_secs(86_400)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConnectorCapabilities {
    /// `fetch_orders` works.
    pub orders: bool,
    /// `fetch_returns` works.
    pub returns: bool,
    /// `fetch_settlements` works.
    pub settlements: bool,
    /// `push_inventory` works.
    pub inventory_push: bool,
    /// `confirm_shipment` works.
    pub shipment_confirmation: bool,
    /// The platform pushes events (webhooks / message service) besides polling.
    pub webhooks: bool,
    /// The largest window one incremental query may span, if the platform limits it. Callers
    /// split longer windows (the pipeline uses the smaller of this and its own limit).
    pub max_window: Option<Duration>,
}

impl ConnectorCapabilities {
    /// Everything supported, no window limit.
    pub fn all() -> ConnectorCapabilities {
        ConnectorCapabilities {
            orders: true,
            returns: true,
            settlements: true,
            inventory_push: true,
            shipment_confirmation: true,
            webhooks: false,
            max_window: None,
        }
    }

    /// Nothing supported; enable what the connector does with the `with_*` methods
    /// ([`with_orders`](Self::with_orders), [`with_returns`](Self::with_returns),
    /// [`with_settlements`](Self::with_settlements),
    /// [`with_inventory_push`](Self::with_inventory_push),
    /// [`with_shipment_confirmation`](Self::with_shipment_confirmation),
    /// [`with_webhooks`](Self::with_webhooks), [`with_max_window`](Self::with_max_window)).
    pub fn none() -> ConnectorCapabilities {
        ConnectorCapabilities::default()
    }

    /// Declares whether `fetch_orders` works.
    pub fn with_orders(mut self, on: bool) -> ConnectorCapabilities {
        self.orders = on;
        self
    }

    /// Declares whether `fetch_returns` works.
    pub fn with_returns(mut self, on: bool) -> ConnectorCapabilities {
        self.returns = on;
        self
    }

    /// Declares whether `fetch_settlements` works.
    pub fn with_settlements(mut self, on: bool) -> ConnectorCapabilities {
        self.settlements = on;
        self
    }

    /// Declares whether `push_inventory` works.
    pub fn with_inventory_push(mut self, on: bool) -> ConnectorCapabilities {
        self.inventory_push = on;
        self
    }

    /// Declares whether `confirm_shipment` works.
    pub fn with_shipment_confirmation(mut self, on: bool) -> ConnectorCapabilities {
        self.shipment_confirmation = on;
        self
    }

    /// Declares the window limit.
    pub fn with_max_window(mut self, max: Duration) -> ConnectorCapabilities {
        self.max_window = Some(max);
        self
    }

    /// Declares webhook support.
    pub fn with_webhooks(mut self, on: bool) -> ConnectorCapabilities {
        self.webhooks = on;
        self
    }
}

/// The result of a health check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Whether the remote answered and accepted our credentials.
    pub ok: bool,
    /// Round-trip time, if measured.
    pub latency: Option<Duration>,
    /// Details (never secrets).
    pub detail: Option<String>,
}

impl Health {
    /// A healthy answer.
    pub fn ok() -> Health {
        Health {
            ok: true,
            latency: None,
            detail: None,
        }
    }
}

/// The answer to a shipment confirmation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentAck {
    /// The order confirmed.
    pub order_id: OrderId,
    /// The platform's shipment / package id, if it issues one.
    pub platform_shipment_id: Option<String>,
    /// False when the platform already had this confirmation (an idempotent repeat).
    pub created: bool,
}

/// A marketplace connector: one instance speaks for one shop account.
///
/// Object-safe: use it as `Arc<dyn MarketplaceConnector>`. Only [`channel`](Self::channel),
/// [`shop`](Self::shop), [`capabilities`](Self::capabilities),
/// [`health_check`](Self::health_check) and [`fetch_orders`](Self::fetch_orders) are required;
/// the other operations answer a typed [`ErrorKind::Unsupported`](crate::ErrorKind) by
/// default, so a connector without returns, settlements, inventory or shipments writes no
/// stubs — it overrides what it supports and says so in
/// [`capabilities`](Self::capabilities) (whose `with_*` builders mirror the methods).
///
/// Connectors do not retry: they classify errors (`RateLimited` with the wait the platform
/// asked for, `Timeout`, `Unavailable`…) and the pipeline's retry policy decides.
///
/// ```
/// use marketsync_core::async_trait;
/// use marketsync_core::{
///     Channel, ConnectorCapabilities, ErrorKind, FetchQuery, Health, MarketplaceConnector,
///     Order, Page, Result, ShopId, TimeWindow,
/// };
///
/// /// A marketplace that only lists orders (none yet).
/// struct OrdersOnly;
///
/// #[async_trait]
/// impl MarketplaceConnector for OrdersOnly {
///     fn channel(&self) -> Channel {
///         Channel::Shopify
///     }
///     fn shop(&self) -> ShopId {
///         ShopId::new("demo")
///     }
///     fn capabilities(&self) -> ConnectorCapabilities {
///         ConnectorCapabilities::none().with_orders(true)
///     }
///     async fn health_check(&self) -> Result<Health> {
///         Ok(Health::ok())
///     }
///     async fn fetch_orders(&self, _query: &FetchQuery) -> Result<Page<Order>> {
///         Ok(Page::last(Vec::new()))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<()> {
/// let c: Box<dyn MarketplaceConnector> = Box::new(OrdersOnly);
/// let t = marketsync_core::chrono::DateTime::from_timestamp(0, 0).unwrap();
/// let q = FetchQuery::new(TimeWindow::new(t, t).unwrap());
/// assert!(c.fetch_orders(&q).await?.items.is_empty());
/// // Not overridden: a typed `Unsupported`, as the capabilities said.
/// let err = c.fetch_settlements(&q).await.unwrap_err();
/// assert_eq!(*err.kind(), ErrorKind::Unsupported);
/// assert!(!c.capabilities().settlements);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait MarketplaceConnector: Send + Sync {
    /// The channel.
    fn channel(&self) -> Channel;

    /// The shop this instance speaks for.
    fn shop(&self) -> ShopId;

    /// What this connector supports.
    fn capabilities(&self) -> ConnectorCapabilities;

    /// Checks that the platform answers and accepts our credentials.
    async fn health_check(&self) -> Result<Health>;

    /// Orders the platform updated inside the query's window, one page at a time (see the
    /// [stream contract](FetchQuery#the-stream-contract)).
    async fn fetch_orders(&self, query: &FetchQuery) -> Result<Page<Order>>;

    /// Refunds and returns the platform updated inside the window (see the
    /// [stream contract](FetchQuery#the-stream-contract)).
    ///
    /// Default: `Unsupported` (declare [`ConnectorCapabilities::returns`] when overriding).
    async fn fetch_returns(&self, query: &FetchQuery) -> Result<Page<Refund>> {
        let _ = query;
        Err(unsupported(self.channel(), "fetch_returns"))
    }

    /// Settlements (statements, payouts, bills) the platform published or last updated inside
    /// the window — whatever period they cover (see the
    /// [stream contract](FetchQuery#the-stream-contract)). A statement that changes after
    /// publication (a late line, a payout that failed) comes again with a newer revision.
    ///
    /// Default: `Unsupported` (declare [`ConnectorCapabilities::settlements`] when overriding).
    async fn fetch_settlements(&self, query: &FetchQuery) -> Result<Page<Settlement>> {
        let _ = query;
        Err(unsupported(self.channel(), "fetch_settlements"))
    }

    /// Publishes available quantities. One ack per update, in order.
    ///
    /// Default: `Unsupported` (declare [`ConnectorCapabilities::inventory_push`] when
    /// overriding).
    async fn push_inventory(&self, updates: &[InventoryUpdate]) -> Result<Vec<InventoryAck>> {
        let _ = updates;
        Err(unsupported(self.channel(), "push_inventory"))
    }

    /// Tells the platform an order (or part of it) has shipped. The key makes a repeat harmless.
    ///
    /// Default: `Unsupported` (declare [`ConnectorCapabilities::shipment_confirmation`] when
    /// overriding).
    async fn confirm_shipment(
        &self,
        shipment: &Shipment,
        key: &IdempotencyKey,
    ) -> Result<ShipmentAck> {
        let _ = (shipment, key);
        Err(unsupported(self.channel(), "confirm_shipment"))
    }
}

/// The default answer of an operation a connector does not override.
fn unsupported(channel: Channel, operation: &str) -> Error {
    Error::unsupported(operation).with_context("channel", channel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_windows() {
        let start = DateTime::<Utc>::from_timestamp(0, 0).unwrap();
        let end = start + chrono::Duration::hours(50);
        let parts = TimeWindow::new(start, end)
            .unwrap()
            .split(chrono::Duration::hours(24));
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].start, start);
        assert_eq!(parts[2].end, end);
        assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
    }

    /// Implements only what is required.
    struct OrdersOnly;

    #[async_trait]
    impl MarketplaceConnector for OrdersOnly {
        fn channel(&self) -> Channel {
            Channel::Shopify
        }
        fn shop(&self) -> ShopId {
            ShopId::new("s")
        }
        fn capabilities(&self) -> ConnectorCapabilities {
            ConnectorCapabilities::none().with_orders(true)
        }
        async fn health_check(&self) -> Result<Health> {
            Ok(Health::ok())
        }
        async fn fetch_orders(&self, _query: &FetchQuery) -> Result<Page<Order>> {
            Ok(Page::last(Vec::new()))
        }
    }

    #[tokio::test]
    async fn every_optional_operation_defaults_to_a_typed_unsupported() {
        let c: &dyn MarketplaceConnector = &OrdersOnly;
        let t = DateTime::<Utc>::from_timestamp(0, 0).unwrap();
        let q = FetchQuery::new(TimeWindow::new(t, t).unwrap());
        let results = [
            ("fetch_returns", c.fetch_returns(&q).await.map(|_| ())),
            (
                "fetch_settlements",
                c.fetch_settlements(&q).await.map(|_| ()),
            ),
            ("push_inventory", c.push_inventory(&[]).await.map(|_| ())),
        ];
        for (op, r) in results {
            let e = r.unwrap_err();
            assert_eq!(*e.kind(), crate::ErrorKind::Unsupported, "{op}");
            assert_eq!(e.context_value("operation"), Some(op));
            assert_eq!(e.context_value("channel"), Some("shopify"));
        }
        assert!(c.fetch_orders(&q).await.is_ok());
    }

    #[test]
    fn builders_set_each_capability() {
        let c = ConnectorCapabilities::none();
        assert_eq!(c, ConnectorCapabilities::default());
        let all = ConnectorCapabilities::none()
            .with_orders(true)
            .with_returns(true)
            .with_settlements(true)
            .with_inventory_push(true)
            .with_shipment_confirmation(true);
        assert_eq!(all, ConnectorCapabilities::all());
        let some = ConnectorCapabilities::all().with_returns(false);
        assert!(!some.returns && some.orders && some.settlements);
    }
}
