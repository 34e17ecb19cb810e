//! Shared builders for the integration tests.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::BTreeMap;
use std::str::FromStr;

use marketsync_core::chrono::{DateTime, Utc};
use marketsync_core::rust_decimal::Decimal;
use marketsync_core::*;
use marketsync_mapping::*;

pub type R<T = ()> = Result<T, Box<dyn std::error::Error>>;

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

pub fn m(s: &str, c: Currency) -> Money {
    Money::new(d(s), c)
}

pub fn line(id: &str, sku: &str, qty: u32, price: Money) -> OrderLine {
    OrderLine {
        line_id: id.into(),
        sku: sku.into(),
        platform_sku_id: None,
        listing_id: None,
        title: sku.to_owned(),
        quantity: qty,
        unit_price: price,
        discounts: vec![],
        taxes: vec![],
        fulfilment_channel: None,
        raw_status: None,
        quantity_shipped: 0,
    }
}

pub fn discount(funder: DiscountFunder, amount: Money) -> Discount {
    Discount {
        funder,
        amount,
        code: None,
        description: None,
    }
}

pub fn tax(
    kind: TaxKind,
    rate: Option<&str>,
    amount: Money,
    included: bool,
    by: TaxCollector,
    jurisdiction: Option<&str>,
) -> TaxLine {
    TaxLine {
        kind,
        rate: rate.map(d),
        amount,
        included_in_price: included,
        collected_by: by,
        jurisdiction: jurisdiction.map(str::to_owned),
    }
}

pub fn order(
    channel: Channel,
    id: &str,
    currency: Currency,
    placed: &str,
    lines: Vec<OrderLine>,
) -> Order {
    Order {
        channel,
        shop: "main".into(),
        id: id.into(),
        revision: Revision::Version(1),
        status: OrderStatus::AwaitingFulfilment,
        raw_status: "paid".into(),
        placed_at: t(placed),
        paid_at: Some(t(placed)),
        updated_at: t(placed),
        source_time_zone: TimeZoneId::utc(),
        currency,
        presentment: None,
        lines,
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

pub fn sline(
    kind: SettlementLineKind,
    amount: Money,
    order: Option<&str>,
    at: &str,
) -> SettlementLine {
    SettlementLine {
        kind,
        amount,
        order_id: order.map(OrderId::from),
        reference: None,
        posted_at: t(at),
        description: None,
    }
}

pub fn fee(code: &str) -> SettlementLineKind {
    SettlementLineKind::Fee { code: code.into() }
}

pub fn settlement(
    channel: Channel,
    id: &str,
    currency: Currency,
    start: &str,
    end: &str,
    lines: Vec<SettlementLine>,
) -> Settlement {
    Settlement {
        channel,
        shop: "main".into(),
        id: id.into(),
        revision: Revision::Version(1),
        currency,
        period_start: t(start),
        period_end: t(end),
        lines,
        payout: None,
        raw: None,
    }
}

/// One row per line: `Dr 1122.01 178.00 CNY marketplace_receivable`, with `@rate` for converted
/// lines.
pub fn table(e: &JournalEntry) -> String {
    let mut out = format!("{} {}\n", e.date, e.reference.as_deref().unwrap_or(""));
    for l in &e.lines {
        let side = match l.side {
            Side::Debit => "Dr",
            Side::Credit => "Cr",
        };
        let role = l.dimensions.extra.get("role").cloned().unwrap_or_default();
        let fx =
            l.fx.as_ref()
                .map(|f| format!(" ({} @{})", f.original, f.rate))
                .unwrap_or_default();
        out.push_str(&format!(
            "{side} {:<8} {:>8} {} {role}{fx}\n",
            l.account.as_str(),
            l.amount.amount,
            l.amount.currency
        ));
    }
    out
}

pub fn cn_rulebook() -> Rulebook {
    let e = "CN01";
    Rulebook::new("2026.02-1")
        .with_entity(EntitySettings {
            id: e.into(),
            time_zone: TimeZoneId::shanghai(),
            functional_currency: Currency::CNY,
            posting_currency: PostingCurrency::Document,
        })
        .with_accounts(
            AccountMap::new()
                .with(e, AccountRole::MarketplaceReceivable, "1122.01")
                .with(e, AccountRole::Revenue, "6001")
                .with(e, AccountRole::ShippingIncome, "6051")
                .with(e, AccountRole::TaxPayable, "2221.01")
                .with(e, AccountRole::CommissionExpense, "6601.01")
                .with(e, AccountRole::fee("points"), "6601.02")
                .with(e, AccountRole::CashClearing, "1012.01")
                .with(e, AccountRole::Bank, "1002")
                .with(e, AccountRole::Rounding, "6603.01"),
        )
        .with_tax_rule(TaxRuleConfig::ChinaVat(ChinaVat::default()))
        .with_builtin_fee_tables()
}

pub fn tmall_order() -> Order {
    let c = Currency::CNY;
    let mut l = line("1", "TEA-250G", 2, m("100.00", c));
    l.discounts = vec![
        discount(DiscountFunder::Seller, m("20.00", c)),
        discount(DiscountFunder::Platform, m("10.00", c)),
    ];
    l.taxes = vec![tax(
        TaxKind::Vat,
        Some("0.13"),
        m("20.71", c),
        true,
        TaxCollector::Seller,
        Some("CN"),
    )];
    let mut o = order(
        Channel::Tmall,
        "4012345",
        c,
        "2026-01-31T17:30:00Z",
        vec![l],
    );
    o.shipping = vec![ShippingCharge {
        amount: m("8.00", c),
        discounts: vec![],
        taxes: vec![tax(
            TaxKind::Vat,
            Some("0.09"),
            m("0.66", c),
            true,
            TaxCollector::Seller,
            Some("CN"),
        )],
        method: None,
    }];
    o.payments = vec![Payment {
        amount: m("178.00", c),
        method: Some("alipay".into()),
        transaction_id: None,
        paid_at: None,
    }];
    o
}
