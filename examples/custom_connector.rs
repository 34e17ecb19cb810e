//! Implementing `MarketplaceConnector` for your own platform, and proving it with the shared
//! conformance suite.
//!
//! The "platform" here is a small in-process API (pages of JSON orders behind an API key) so the
//! example runs anywhere; a real connector would sign HTTP requests with `marketsync-http`.
//! Everything else is what a real connector does: wire types that never fail on an unknown
//! enum value, a pure `normalize` from wire to canonical, a malformed record kept with its raw
//! bytes, errors classified into kinds, and unsupported operations declared up front.
//!
//! Run it with `cargo run -p marketsync --features testing --example custom_connector`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use marketsync::ids::TimeZoneId;
use marketsync::order::{FulfilmentChannel, Payment};
use marketsync::prelude::*;
use marketsync::testing::conformance::{ConnectorFixture, Fault, connector_suite};
use serde::Deserialize;

// ---- wire.rs: the platform's own shapes -------------------------------------------------

/// The platform's order status; unknown values are kept, never a parse failure.
#[derive(Debug, Clone, PartialEq)]
enum WireStatus {
    Open,
    Paid,
    Dispatched,
    Closed,
    Unknown(String),
}

impl<'de> Deserialize<'de> for WireStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "OPEN" => WireStatus::Open,
            "PAID" => WireStatus::Paid,
            "DISPATCHED" => WireStatus::Dispatched,
            "CLOSED" => WireStatus::Closed,
            _ => WireStatus::Unknown(s),
        })
    }
}

#[derive(Debug, Deserialize)]
struct WireOrder {
    order_no: String,
    status: WireStatus,
    /// Local time in Europe/Berlin, "2026-01-05 14:03:00" (this platform's documented format).
    created: String,
    modified: String,
    currency: String,
    items: Vec<WireItem>,
}

#[derive(Debug, Deserialize)]
struct WireItem {
    pos: u32,
    ean: String,
    qty: u32,
    /// Gross unit price as a string, "19.95".
    price: String,
}

// ---- normalize.rs: pure wire → canonical ----------------------------------------------

/// Berlin is UTC+1 in January; a real connector resolves the zone with chrono-tz.
fn berlin_to_utc(local: &str) -> std::result::Result<DateTime<Utc>, Error> {
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S").map_err(|e| {
        Error::validation(ReasonCode::MalformedPayload, format!("bad time {local:?}"))
            .with_source(e)
    })?;
    Ok(Utc.from_utc_datetime(&(naive - chrono::Duration::hours(1))))
}

fn normalize(shop: &ShopId, wire: WireOrder) -> Result<Order> {
    let status = match &wire.status {
        WireStatus::Open => OrderStatus::PendingPayment,
        WireStatus::Paid => OrderStatus::AwaitingFulfilment,
        WireStatus::Dispatched => OrderStatus::Shipped,
        WireStatus::Closed => OrderStatus::Completed,
        WireStatus::Unknown(s) => {
            return Err(
                Error::mapping(ReasonCode::UnknownStatus, format!("unknown status {s:?}"))
                    .with_context("order_no", &wire.order_no),
            );
        }
    };
    let raw_status = match &wire.status {
        WireStatus::Unknown(s) => s.clone(),
        other => format!("{other:?}").to_uppercase(),
    };
    let currency = Currency::new(&wire.currency)?;
    let mut lines = Vec::new();
    for item in &wire.items {
        lines.push(OrderLine {
            line_id: OrderLineId::new(format!("{}-{}", wire.order_no, item.pos)),
            sku: Sku::new(&item.ean),
            platform_sku_id: None,
            listing_id: None,
            title: item.ean.clone(),
            quantity: item.qty,
            unit_price: Money::parse(&item.price, currency)?,
            discounts: Vec::new(),
            taxes: Vec::new(),
            fulfilment_channel: None,
            raw_status: None,
            quantity_shipped: if status == OrderStatus::Shipped {
                item.qty
            } else {
                0
            },
        });
    }
    let updated_at = berlin_to_utc(&wire.modified)?;
    let mut order = Order {
        channel: Channel::Custom("example-market".into()),
        shop: shop.clone(),
        id: OrderId::new(&wire.order_no),
        revision: Revision::UpdatedAt(updated_at),
        status,
        raw_status,
        placed_at: berlin_to_utc(&wire.created)?,
        paid_at: None,
        updated_at,
        source_time_zone: TimeZoneId::new("Europe/Berlin").unwrap_or_else(TimeZoneId::utc),
        currency,
        presentment: None,
        lines,
        discounts: Vec::new(),
        shipping: Vec::new(),
        taxes: Vec::new(),
        payments: Vec::new(),
        fulfilment_channel: FulfilmentChannel::Seller,
        buyer: None,
        ship_to: None,
        attribution: None,
        raw: None,
        extensions: BTreeMap::new(),
    };
    if status.is_paid() {
        let total = order.totals()?.buyer_total;
        order.payments.push(Payment {
            amount: total,
            method: None,
            transaction_id: None,
            paid_at: None,
        });
    }
    order.validate()?;
    Ok(order)
}

// ---- the "platform": an in-process API with an API key and pages -------------------------

struct Platform {
    api_key: String,
    /// (modified UTC, raw JSON) sorted by time.
    orders: Vec<(DateTime<Utc>, String)>,
}

impl Platform {
    fn seeded() -> Platform {
        let mut orders = Vec::new();
        for i in 0..23 {
            let status = ["OPEN", "PAID", "DISPATCHED", "CLOSED"][i % 4];
            let status = if i == 17 {
                "ON_HOLD_FOR_REVIEW"
            } else {
                status
            };
            let price = if i == 11 {
                "19,95".to_string()
            } else {
                format!("{}.95", 10 + i)
            };
            let raw = format!(
                r#"{{"order_no":"EX-{i:04}","status":"{status}","created":"2026-01-05 {h:02}:00:00","modified":"2026-01-05 {h:02}:30:00","currency":"EUR","items":[{{"pos":1,"ean":"4006381333931","qty":2,"price":"{price}"}}]}}"#,
                h = i
            );
            let modified = berlin_to_utc(&format!("2026-01-05 {i:02}:30:00")).unwrap();
            orders.push((modified, raw));
        }
        Platform {
            api_key: "key-123".into(),
            orders,
        }
    }

    /// `GET /orders?modified_from&modified_to&offset&limit` — this platform pages by offset.
    fn list(
        &self,
        key: &str,
        window: TimeWindow,
        offset: usize,
        limit: usize,
    ) -> std::result::Result<(Vec<String>, usize), u16> {
        if key != self.api_key {
            return Err(401);
        }
        let all: Vec<&String> = self
            .orders
            .iter()
            .filter(|(t, _)| window.contains(*t))
            .map(|(_, r)| r)
            .collect();
        Ok((
            all.iter()
                .skip(offset)
                .take(limit)
                .map(|s| (*s).clone())
                .collect(),
            all.len(),
        ))
    }
}

// ---- lib.rs: the connector ----------------------------------------------------------------

struct ExampleConnector {
    platform: Arc<Platform>,
    api_key: String,
    shop: ShopId,
}

#[async_trait]
impl MarketplaceConnector for ExampleConnector {
    fn channel(&self) -> Channel {
        Channel::Custom("example-market".into())
    }
    fn shop(&self) -> ShopId {
        self.shop.clone()
    }
    fn capabilities(&self) -> ConnectorCapabilities {
        // Only orders: returns, settlements, inventory and shipment confirmation keep the
        // trait's default (a typed `Unsupported`), and the suite checks we said so.
        ConnectorCapabilities::none().with_orders(true)
    }
    async fn health_check(&self) -> Result<Health> {
        let now = Utc::now();
        let window = TimeWindow::new(now, now).expect("empty window");
        self.platform
            .list(&self.api_key, window, 0, 1)
            .map(|_| Health::ok())
            .map_err(|_| Error::new(ErrorKind::Unauthorized, "API key refused"))
    }
    async fn fetch_orders(&self, query: &FetchQuery) -> Result<Page<Order>> {
        let offset: usize = match &query.cursor {
            Some(c) => c
                .as_str()
                .parse()
                .map_err(|_| Error::new(ErrorKind::ConfigInvalid, "bad cursor"))?,
            None => 0,
        };
        let limit = query.page_size.unwrap_or(50).clamp(1, 50) as usize;
        let (rows, total) = self
            .platform
            .list(&self.api_key, query.window, offset, limit)
            .map_err(status_error)?;
        let items = rows
            .into_iter()
            .map(|row| {
                let raw = RawRecord::json(row.clone().into_bytes(), Some("GET /orders"));
                let id = serde_json::from_str::<serde_json::Value>(&row)
                    .ok()
                    .and_then(|v| v["order_no"].as_str().map(str::to_owned));
                match serde_json::from_str::<WireOrder>(&row)
                    .map_err(|e| Error::validation(ReasonCode::MalformedPayload, e.to_string()))
                    .and_then(|w| normalize(&self.shop, w))
                {
                    Ok(mut order) => {
                        order.raw = Some(raw.reference());
                        Fetched::ok(order.id.to_string(), raw, order)
                    }
                    Err(e) => Fetched::failed(id, raw, e),
                }
            })
            .collect();
        let next = offset + limit;
        Ok(Page {
            items,
            next_cursor: (next < total).then(|| Cursor::new(next.to_string())),
        })
    }
}

/// One error table per connector: HTTP status (and platform code) → error kind.
fn status_error(status: u16) -> Error {
    match status {
        401 => Error::new(ErrorKind::Unauthorized, "API key refused"),
        429 => Error::rate_limited(None, "throttled"),
        s if s >= 500 => Error::new(ErrorKind::Unavailable, format!("server error {s}")),
        s => Error::new(ErrorKind::Unexpected, format!("HTTP {s}")),
    }
}

// ---- tests/conformance.rs: the shared suite -------------------------------------------------

struct Fixture {
    platform: Arc<Platform>,
}

#[async_trait]
impl ConnectorFixture for Fixture {
    fn connector(&self) -> Arc<dyn MarketplaceConnector> {
        Arc::new(ExampleConnector {
            platform: self.platform.clone(),
            api_key: "key-123".into(),
            shop: ShopId::new("de-1"),
        })
    }
    fn connector_with_bad_credentials(&self) -> Arc<dyn MarketplaceConnector> {
        Arc::new(ExampleConnector {
            platform: self.platform.clone(),
            api_key: "wrong".into(),
            shop: ShopId::new("de-1"),
        })
    }
    fn window(&self) -> TimeWindow {
        TimeWindow::new(
            self.platform.orders[0].0,
            self.platform.orders[22].0 + chrono::Duration::seconds(1),
        )
        .unwrap()
    }
    fn expected_order_ids(&self) -> BTreeSet<OrderId> {
        (0..23)
            .map(|i| OrderId::new(format!("EX-{i:04}")))
            .collect()
    }
    fn page_size(&self) -> u32 {
        5
    }
    async fn inject(&self, _: Fault) -> bool {
        false // this toy platform cannot misbehave on demand; real simulators can
    }
    fn unknown_status_order(&self) -> Option<OrderId> {
        Some(OrderId::new("EX-0017"))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let fixture = Fixture {
        platform: Arc::new(Platform::seeded()),
    };
    let connector = fixture.connector();

    let mut query = FetchQuery::new(fixture.window()).with_page_size(10);
    let mut pages = 0;
    loop {
        let page = connector.fetch_orders(&query).await?;
        pages += 1;
        for item in &page.items {
            match &item.outcome {
                Ok(o) => println!(
                    "{:<8} {:<22} {:>10} {}",
                    o.id,
                    format!("{:?}", o.status),
                    o.totals()?.buyer_total,
                    o.placed_at
                ),
                Err(e) => println!(
                    "{:<8} EXCEPTION {} ({} raw bytes kept): {}",
                    item.external_id.as_deref().unwrap_or("?"),
                    e.reason(),
                    item.raw.bytes.len(),
                    e.message()
                ),
            }
        }
        match page.next_cursor {
            Some(c) => query = query.with_cursor(Some(c)),
            None => break,
        }
    }
    println!("{pages} pages");

    let report = connector_suite(&fixture).await;
    println!(
        "conformance: {} checks passed, skipped: {:?}",
        report.passed.len(),
        report.skipped.iter().map(|(c, _)| *c).collect::<Vec<_>>()
    );
    Ok(())
}
