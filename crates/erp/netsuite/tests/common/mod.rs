//! Shared test setup: a simulator and adapters pointed at it.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use marketsync_core::chrono::{DateTime, NaiveDate, Utc};
use marketsync_core::rust_decimal::Decimal;
use marketsync_core::{
    Channel, Currency, FulfilmentChannel, JournalEntry, JournalLine, Money, Order, OrderLine,
    OrderStatus, Revision, ShopId, TimeZoneId,
};
use marketsync_netsuite::{NetSuiteAdapter, NetSuiteConfig, TbaCredentials};
use marketsync_testkit::sim::netsuite::{NetSuiteSim, NetSuiteSimConfig, start};

pub async fn sim(concurrency_limit: usize) -> NetSuiteSim {
    start(NetSuiteSimConfig {
        concurrency_limit,
        ..NetSuiteSimConfig::default()
    })
    .await
    .unwrap()
}

pub fn config(sim: &NetSuiteSim, max_concurrency: u32) -> NetSuiteConfig {
    let s = sim.config();
    let mut c = NetSuiteConfig::new(
        s.realm.to_ascii_lowercase().replace('_', "-"),
        TbaCredentials {
            consumer_key: s.consumer_key.clone(),
            consumer_secret: s.consumer_secret.clone(),
            token_id: s.token_id.clone(),
            token_secret: s.token_secret.clone(),
        },
        "101",
    );
    c.base_url = Some(sim.base_url().parse().unwrap());
    c.max_concurrency = max_concurrency;
    c.timeout_ms = 3_000;
    c.time_zone = "Asia/Shanghai".into();
    c.currencies = [("CNY", "5"), ("USD", "1")]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    c.subsidiaries.insert("CN01".into(), "1".into());
    c.accounts = [
        ("1122", "210"),
        ("6001", "400"),
        ("2221", "220"),
        ("1002", "110"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    c.shipping_item = Some("2001".into());
    c
}

pub fn adapter(sim: &NetSuiteSim, max_concurrency: u32) -> NetSuiteAdapter {
    NetSuiteAdapter::new(config(sim, max_concurrency)).unwrap()
}

pub fn cny(s: &str) -> Money {
    Money::parse(s, Currency::CNY).unwrap()
}

pub fn order(id: &str) -> Order {
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let line = |n: &str, sku: &str, qty: u32, price: &str| OrderLine {
        line_id: n.into(),
        sku: sku.into(),
        platform_sku_id: None,
        listing_id: None,
        title: format!("item {sku}"),
        quantity: qty,
        unit_price: cny(price),
        discounts: vec![],
        taxes: vec![],
        fulfilment_channel: None,
        raw_status: None,
        quantity_shipped: 0,
    };
    Order {
        channel: Channel::Tmall,
        shop: ShopId::new("shop-1"),
        id: id.into(),
        revision: Revision::Version(1),
        status: OrderStatus::AwaitingFulfilment,
        raw_status: "WAIT_SELLER_SEND_GOODS".into(),
        placed_at: t("2026-02-01T02:00:00Z"),
        paid_at: Some(t("2026-02-01T02:01:00Z")),
        updated_at: t("2026-02-01T02:01:00Z"),
        source_time_zone: TimeZoneId::shanghai(),
        currency: Currency::CNY,
        presentment: None,
        lines: vec![
            line("1", "SKU-0001", 2, "19.90"),
            line("2", "SKU-0004", 1, "0.10"),
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

pub fn journal(lines: Vec<JournalLine>) -> JournalEntry {
    JournalEntry {
        entity: "CN01".into(),
        date: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
        memo: "tmall settlement".into(),
        lines,
        reference: Some("tmall:settlement:1".into()),
    }
}

pub fn sample_journal() -> JournalEntry {
    journal(vec![
        JournalLine::debit("1122", cny("113.00")),
        JournalLine::credit("6001", cny("100.00")),
        JournalLine::credit("2221", cny("13.00")),
    ])
}

pub fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}
