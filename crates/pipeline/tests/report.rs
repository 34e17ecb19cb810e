//! Channel P&L and KPIs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use marketsync_core::{Currency, Money, ReasonCode, Sku};
use marketsync_pipeline::report::{KpiRecorder, PnlBuilder, TurnoverTracker};
use marketsync_testkit::{ChannelProfile, Generator, GeneratorConfig};

#[test]
fn channel_pnl_adds_up_per_channel_and_month() {
    let profile = ChannelProfile::tmall();
    let mut g = Generator::new(GeneratorConfig::new(21).with_channels(vec![profile.clone()]));
    let mut orders = g.orders(80);
    // 2026-01-31T17:30Z is 1 February in Shanghai.
    let boundary = DateTime::parse_from_rfc3339("2026-01-31T17:30:00Z")
        .unwrap()
        .with_timezone(&Utc);
    orders[0].placed_at = boundary;
    orders[0].paid_at = Some(boundary);
    orders[0].updated_at = boundary;
    orders[0].status = marketsync_core::OrderStatus::AwaitingFulfilment;
    let refunds: Vec<_> = orders.iter().filter_map(|o| g.refund_for(o, 20)).collect();
    let start = g.config().start;
    let settlement = g.settlement_for(
        &profile,
        &orders,
        &refunds,
        start,
        start + chrono::Duration::days(31),
    );

    let costs = (1..=20).map(|i| {
        (
            Sku::new(format!("SKU-{i:04}")),
            Money::from_minor(1_000, Currency::CNY),
        )
    });
    let mut b = PnlBuilder::new(chrono_tz::Asia::Shanghai).with_item_costs(costs);
    for o in &orders {
        b.add_order(o).unwrap();
    }
    for r in &refunds {
        b.add_refund(r).unwrap();
    }
    b.add_settlement(&settlement).unwrap();
    let rows = b.build().unwrap();

    let months: Vec<_> = rows.keys().map(|k| k.month.clone()).collect();
    assert!(months.contains(&"2026-02".to_string()), "{months:?}");
    let paid = orders.iter().filter(|o| o.status.is_paid()).count() as u64;
    assert_eq!(rows.values().map(|r| r.orders).sum::<u64>(), paid);
    for (key, r) in &rows {
        assert_eq!(key.currency, Currency::CNY);
        let expect_net = r
            .gross_sales
            .checked_add(&r.shipping)
            .unwrap()
            .checked_sub(&r.seller_discounts)
            .unwrap()
            .checked_sub(&r.refunds)
            .unwrap();
        assert_eq!(r.net_sales, expect_net);
        let cogs = r.cogs.expect("every SKU has a cost");
        assert_eq!(
            r.contribution_margin,
            r.net_sales
                .checked_sub(&r.total_fees().unwrap())
                .unwrap()
                .checked_sub(&cogs)
                .unwrap()
        );
        assert!(r.gross_sales.amount > r.seller_discounts.amount);
    }
    let jan = rows.iter().find(|(k, _)| k.month == "2026-01").unwrap().1;
    assert!(
        jan.fees.contains_key("commission") && jan.fees.contains_key("tmall_points"),
        "{:?}",
        jan.fees
    );

    // Without a cost for every SKU, COGS is unknown rather than understated.
    let mut partial = PnlBuilder::new(chrono_tz::Asia::Shanghai)
        .with_item_costs([(Sku::new("SKU-0001"), Money::from_minor(500, Currency::CNY))]);
    for o in &orders {
        partial.add_order(o).unwrap();
    }
    assert!(partial.build().unwrap().values().any(|r| r.cogs.is_none()));
}

#[test]
fn kpis_are_ratios_of_what_happened() {
    let mut k = KpiRecorder::default();
    for _ in 0..100 {
        k.received();
    }
    for _ in 0..10 {
        k.duplicate();
    }
    for _ in 0..85 {
        k.ingested();
    }
    for _ in 0..5 {
        k.exception(&ReasonCode::UnknownSku);
    }
    k.manual_action();
    k.inventory_latency(Duration::from_millis(120));
    k.inventory_latency(Duration::from_millis(80));
    k.settlement_cycle(Duration::from_secs(3600));
    let kpis = k.kpis();
    assert!((kpis.ingestion_success_rate - 85.0 / 90.0).abs() < 1e-9);
    assert!((kpis.duplicate_rate - 0.1).abs() < 1e-9);
    assert_eq!(kpis.exceptions_by_reason.get("unknown_sku"), Some(&5));
    assert_eq!(
        kpis.inventory_update_latency.max,
        Duration::from_millis(120)
    );
    assert_eq!(kpis.settlement_reconciliation_cycle.count, 1);
    k.emit();
}

#[test]
fn inventory_turnover_is_units_sold_over_average_shown() {
    let profile = ChannelProfile::tmall();
    let mut g = Generator::new(GeneratorConfig::new(5).with_channels(vec![profile.clone()]));
    let orders = g.orders(30);
    let sold: u64 = orders
        .iter()
        .filter(|o| o.status.is_paid())
        .flat_map(|o| o.lines.iter())
        .map(|l| u64::from(l.quantity))
        .sum();
    let mut t = TurnoverTracker::default();
    for o in &orders {
        t.add_sold(o);
    }
    t.sample_stock(&profile.channel, &profile.shop, 40);
    t.sample_stock(&profile.channel, &profile.shop, 60);
    let turnover = t.turnover();
    let got = turnover[&(profile.channel.clone(), profile.shop.clone())];
    assert!((got - sold as f64 / 50.0).abs() < 1e-9, "{got}");
    let mut k = KpiRecorder::default();
    k.inventory_turnover(&t);
    assert_eq!(k.kpis().inventory_turnover.len(), 1);
    // No stock sampled: no turnover claimed.
    assert!(TurnoverTracker::default().turnover().is_empty());
}
