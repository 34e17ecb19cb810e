//! The mapping crate's worked examples, posted as real moves into the live Tryton server: each
//! move's lines are read back, and each Tryton account's balance must move by exactly what the
//! journals said.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{live_config, with_test_accounts};
use marketsync_core::chrono::{DateTime, NaiveDate, Utc};
use marketsync_core::rust_decimal::Decimal;
use marketsync_core::*;
use marketsync_mapping::*;
use marketsync_tryton::{TrytonAdapter, TrytonConfig, wire};
use serde_json::{Value, json};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn m(s: &str, c: Currency) -> Money {
    Money::new(d(s), c)
}

fn line(id: &str, sku: &str, qty: u32, price: Money) -> OrderLine {
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

fn tax(
    kind: TaxKind,
    rate: Option<&str>,
    amount: Money,
    included: bool,
    by: TaxCollector,
    jurisdiction: &str,
) -> TaxLine {
    TaxLine {
        kind,
        rate: rate.map(d),
        amount,
        included_in_price: included,
        collected_by: by,
        jurisdiction: Some(jurisdiction.to_owned()),
    }
}

fn order(channel: Channel, id: &str, c: Currency, placed: &str, lines: Vec<OrderLine>) -> Order {
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
        currency: c,
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

fn sline(kind: SettlementLineKind, amount: Money, order: Option<&str>, at: &str) -> SettlementLine {
    SettlementLine {
        kind,
        amount,
        order_id: order.map(OrderId::from),
        reference: None,
        posted_at: t(at),
        description: None,
    }
}

fn fee(code: &str) -> SettlementLineKind {
    SettlementLineKind::Fee { code: code.into() }
}

fn settlement(
    channel: Channel,
    id: &str,
    c: Currency,
    start: &str,
    end: &str,
    lines: Vec<SettlementLine>,
    payout: (&str, Money, &str),
) -> Settlement {
    Settlement {
        channel,
        shop: "main".into(),
        id: id.into(),
        revision: Revision::Version(1),
        currency: c,
        period_start: t(start),
        period_end: t(end),
        lines,
        payout: Some(Payout {
            id: payout.0.into(),
            amount: payout.1,
            paid_at: t(payout.2),
            bank_reference: None,
        }),
        raw: None,
    }
}

/// Tmall, CNY: platform coupon and seller discount, VAT inclusive, settlement and payout.
fn tmall_cny() -> Vec<JournalEntry> {
    let e = "CN01";
    let rb = Rulebook::new("2026.02-1")
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
        .with_builtin_fee_tables();
    let mapper = Mapper::new(Arc::new(rb), Arc::new(InMemoryRates::new())).unwrap();
    let ctx = Context::new(e);
    let c = Currency::CNY;
    let mut l = line("1", "TEA-250G", 2, m("100.00", c));
    l.discounts = vec![
        Discount {
            funder: DiscountFunder::Seller,
            amount: m("20.00", c),
            code: None,
            description: None,
        },
        Discount {
            funder: DiscountFunder::Platform,
            amount: m("10.00", c),
            code: None,
            description: None,
        },
    ];
    l.taxes = vec![tax(
        TaxKind::Vat,
        Some("0.13"),
        m("20.71", c),
        true,
        TaxCollector::Seller,
        "CN",
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
            "CN",
        )],
        method: None,
    }];
    let accrual = mapper.order_accrual(&o, &ctx).unwrap();
    let s = settlement(
        Channel::Tmall,
        "TS-202602-01",
        c,
        "2026-01-31T16:00:00Z",
        "2026-02-07T16:00:00Z",
        vec![
            sline(
                SettlementLineKind::Sale,
                m("188.00", c),
                Some("4012345"),
                "2026-02-05T02:00:00Z",
            ),
            sline(
                fee("技术服务费"),
                m("-9.00", c),
                Some("4012345"),
                "2026-02-05T02:00:00Z",
            ),
            sline(
                fee("天猫积分"),
                m("-0.90", c),
                Some("4012345"),
                "2026-02-05T02:00:00Z",
            ),
            sline(
                SettlementLineKind::Payout,
                m("-178.10", c),
                None,
                "2026-02-08T02:00:00Z",
            ),
        ],
        ("P-0208", m("178.10", c), "2026-02-09T02:00:00Z"),
    );
    let mut all = vec![accrual];
    all.extend(mapper.settlement_journals(&s, &ctx).unwrap());
    all.push(mapper.payout_journal(&s, &ctx).unwrap());
    all
}

/// Amazon US, USD: marketplace facilitator tax through an offset account, FBA fees, a partial
/// refund, settlement and payout.
fn amazon_usd() -> Vec<JournalEntry> {
    let e = "US01";
    let mut mf = UsMarketplaceFacilitator {
        mode: MarketplaceTaxMode::Offset,
        ..UsMarketplaceFacilitator::default()
    };
    mf.rates.insert("CA".into(), d("0.0825"));
    let mut rb = Rulebook::new("2026.03-us")
        .with_entity(EntitySettings {
            id: e.into(),
            time_zone: TimeZoneId::new("America/Los_Angeles").unwrap(),
            functional_currency: Currency::USD,
            posting_currency: PostingCurrency::Document,
        })
        .with_accounts(
            AccountMap::new()
                .with(e, AccountRole::MarketplaceReceivable, "1210")
                .with(e, AccountRole::Revenue, "4000")
                .with(e, AccountRole::RefundReturns, "4900")
                .with(e, AccountRole::MarketplaceTaxOffset, "2290")
                .with(e, AccountRole::CommissionExpense, "6100")
                .with(e, AccountRole::fee("fulfilment"), "6110")
                .with(e, AccountRole::fee("refund_administration"), "6120")
                .with(e, AccountRole::CashClearing, "1150")
                .with(e, AccountRole::Bank, "1000"),
        )
        .with_tax_rule(TaxRuleConfig::UsMarketplaceFacilitator(mf))
        .with_builtin_fee_tables();
    rb.refunds = RefundPosting::RefundReturns;
    let mapper = Mapper::new(Arc::new(rb), Arc::new(InMemoryRates::new())).unwrap();
    let ctx = Context::new(e);
    let usd = Currency::USD;
    let mut l = line("li-1", "MUG-01", 2, m("25.00", usd));
    l.taxes = vec![tax(
        TaxKind::SalesTax,
        None,
        m("4.13", usd),
        false,
        TaxCollector::Marketplace,
        "CA",
    )];
    let mut o = order(
        Channel::Amazon,
        "113-0000001-0000001",
        usd,
        "2026-03-02T18:00:00Z",
        vec![l],
    );
    o.fulfilment_channel = FulfilmentChannel::Platform("FBA".into());
    let accrual = mapper.order_accrual(&o, &ctx).unwrap();
    let refund = Refund {
        channel: Channel::Amazon,
        shop: "main".into(),
        id: "R-1".into(),
        order_id: o.id.clone(),
        revision: Revision::Version(1),
        status: RefundStatus::Completed,
        raw_status: "Completed".into(),
        reason: RefundReason {
            code: None,
            text: None,
        },
        created_at: t("2026-03-08T20:00:00Z"),
        updated_at: t("2026-03-09T20:00:00Z"),
        lines: vec![RefundLine {
            line_id: "li-1".into(),
            sku: "MUG-01".into(),
            quantity: 1,
            amount: m("25.00", usd),
            taxes: vec![tax(
                TaxKind::SalesTax,
                None,
                m("2.06", usd),
                false,
                TaxCollector::Marketplace,
                "CA",
            )],
            restock: true,
        }],
        shipping: None,
        total: m("27.06", usd),
        goods_return: None,
        raw: None,
    };
    let reversal = mapper.refund_reversal(&refund, &o, &ctx).unwrap();
    let oid = Some("113-0000001-0000001");
    let mc = |x| SettlementLineKind::Tax {
        marketplace_collected: x,
    };
    let (at1, at2) = ("2026-03-04T12:00:00Z", "2026-03-10T12:00:00Z");
    let s = settlement(
        Channel::Amazon,
        "12345678901",
        usd,
        "2026-03-01T08:00:00Z",
        "2026-03-15T07:00:00Z",
        vec![
            sline(SettlementLineKind::Sale, m("50.00", usd), oid, at1),
            sline(mc(true), m("4.13", usd), oid, at1),
            sline(mc(true), m("-4.13", usd), oid, at1),
            sline(SettlementLineKind::Commission, m("-7.50", usd), oid, at1),
            sline(fee("FBAPerUnitFulfillmentFee"), m("-7.94", usd), oid, at1),
            sline(SettlementLineKind::Refund, m("-25.00", usd), oid, at2),
            sline(mc(true), m("-2.06", usd), oid, at2),
            sline(mc(true), m("2.06", usd), oid, at2),
            sline(SettlementLineKind::Commission, m("3.75", usd), oid, at2),
            sline(fee("RefundCommission"), m("-0.75", usd), oid, at2),
            sline(
                SettlementLineKind::Payout,
                m("-12.56", usd),
                None,
                "2026-03-15T07:00:00Z",
            ),
        ],
        ("EFT-0316", m("12.56", usd), "2026-03-16T17:00:00Z"),
    );
    let mut all = vec![accrual, reversal];
    all.extend(mapper.settlement_journals(&s, &ctx).unwrap());
    all.push(mapper.payout_journal(&s, &ctx).unwrap());
    all
}

/// Shopify: presented in EUR, shop in USD, books in GBP (functional-currency posting with FX
/// gain/loss and rounding lines).
fn shopify_gbp() -> Vec<JournalEntry> {
    let e = "UK01";
    let mut vat = EuVat {
        oss: true,
        ..EuVat::default()
    };
    vat.rates.insert("DE".into(), d("0.19"));
    let rb = Rulebook::new("2026.03-uk")
        .with_entity(EntitySettings {
            id: e.into(),
            time_zone: TimeZoneId::new("Europe/London").unwrap(),
            functional_currency: Currency::GBP,
            posting_currency: PostingCurrency::Functional,
        })
        .with_accounts(
            AccountMap::new()
                .with(e, AccountRole::MarketplaceReceivable, "1105")
                .with(e, AccountRole::Revenue, "4000")
                .with(e, AccountRole::TaxPayable, "2202")
                .with(e, AccountRole::fee("payment_processing"), "7710")
                .with(e, AccountRole::CashClearing, "1108")
                .with(e, AccountRole::Bank, "1200")
                .with(e, AccountRole::FxGainLoss, "7800")
                .with(e, AccountRole::Rounding, "7999"),
        )
        .with_tax_rule(TaxRuleConfig::EuVat(vat))
        .with_builtin_fee_tables();
    let day = |s: &str| t(s).date_naive();
    let rates = InMemoryRates::new()
        .with(
            Currency::USD,
            Currency::GBP,
            day("2026-03-10T00:00:00Z"),
            d("0.7893"),
            "ECB",
        )
        .unwrap()
        .with(
            Currency::USD,
            Currency::GBP,
            day("2026-03-12T00:00:00Z"),
            d("0.7920"),
            "ECB",
        )
        .unwrap();
    let mapper = Mapper::new(Arc::new(rb), Arc::new(rates)).unwrap();
    let ctx = Context::new(e);
    let usd = Currency::USD;
    let mut l = line("gid://shopify/LineItem/1", "JACKET-M", 1, m("108.00", usd));
    l.taxes = vec![tax(
        TaxKind::Vat,
        Some("0.19"),
        m("17.24", usd),
        true,
        TaxCollector::Seller,
        "DE",
    )];
    let mut o = order(
        Channel::Shopify,
        "1001",
        usd,
        "2026-03-10T12:00:00Z",
        vec![l],
    );
    o.presentment = Some(Presentment {
        currency: Currency::EUR,
        total: m("100.00", Currency::EUR),
    });
    let accrual = mapper.order_accrual(&o, &ctx).unwrap();
    let s = settlement(
        Channel::Shopify,
        "SP-0312",
        usd,
        "2026-03-11T00:00:00Z",
        "2026-03-13T00:00:00Z",
        vec![
            sline(
                SettlementLineKind::Sale,
                m("108.00", usd),
                Some("1001"),
                "2026-03-11T10:00:00Z",
            ),
            sline(
                fee("shopify_payments_fee"),
                m("-3.43", usd),
                Some("1001"),
                "2026-03-11T10:00:00Z",
            ),
            sline(
                SettlementLineKind::Payout,
                m("-104.57", usd),
                None,
                "2026-03-12T23:00:00Z",
            ),
        ],
        ("PO-88", m("82.60", Currency::GBP), "2026-03-16T09:00:00Z"),
    );
    let js = mapper
        .settlement_journals_with_accruals(&s, &ctx, std::slice::from_ref(&accrual))
        .unwrap();
    let payout = mapper.payout_journal(&s, &ctx).unwrap();
    let mut all = vec![accrual];
    all.extend(js);
    all.push(payout);
    all
}

fn run_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

/// Balances (debit − credit, posted moves of the 2026 fiscal year) of Tryton accounts by code.
async fn balances(a: &TrytonAdapter, company: i64, codes: &[String]) -> BTreeMap<String, Decimal> {
    let context = json!({
        "company": company,
        "companies": [company],
        "posted": true,
        "date": wire::date(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()),
    });
    let rows = a
        .rpc()
        .search_read(
            "account.account",
            json!([["company", "=", company], ["code", "in", codes]]),
            None,
            &["code", "balance"],
            &context,
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let code = r["code"].as_str().unwrap().to_owned();
            let balance = wire::parse_decimal(&r["balance"]).unwrap();
            (code, balance)
        })
        .collect()
}

fn signed(l: &JournalLine) -> Decimal {
    match l.side {
        Side::Debit => l.amount.amount,
        Side::Credit => -l.amount.amount,
    }
}

async fn post_and_compare(config: &TrytonConfig, entity: &str, journals: Vec<JournalEntry>) {
    let a = TrytonAdapter::new(config.clone()).unwrap();
    let company = a.company(entity).await.unwrap();
    for j in &journals {
        j.validate().unwrap();
    }
    // What the journals say each Tryton account moves by.
    let mut expected: BTreeMap<String, Decimal> = BTreeMap::new();
    for l in journals.iter().flat_map(|j| &j.lines) {
        *expected
            .entry(config.account_code(l.account.as_str()).to_owned())
            .or_default() += signed(l);
    }
    let codes: Vec<String> = expected.keys().cloned().collect();
    let before = balances(&a, company.id, &codes).await;
    assert_eq!(
        before.len(),
        codes.len(),
        "accounts missing in {entity}: {codes:?}"
    );

    let run = run_id();
    for (i, j) in journals.iter().enumerate() {
        let key = IdempotencyKey::derive(
            &Channel::Custom("worked-examples".into()),
            &ShopId::new(run.as_str()),
            &EventKind::Other("journal".into()),
            &format!("{entity}-{i}"),
            &Revision::Version(1),
        );
        let doc = a
            .post_journal(&JournalRequest::new(key, j.clone()))
            .await
            .unwrap_or_else(|e| panic!("{entity} journal {i} ({:?}): {e}", j.reference));
        assert!(doc.created);
        assert!(doc.number.is_some(), "a posted move has a number");
        // The move's lines, read back, are the journal's lines.
        let rows = a
            .rpc()
            .search_read(
                "account.move.line",
                json!([["move", "=", doc.id.as_str().parse::<i64>().unwrap()]]),
                None,
                &["account.code", "debit", "credit", "move.state"],
                &json!({"company": company.id}),
            )
            .await
            .unwrap();
        let mut got: Vec<(String, Decimal)> = rows
            .iter()
            .map(|r| {
                let code = r["account."]["code"].as_str().unwrap().to_owned();
                let debit = wire::parse_decimal(&r["debit"]).unwrap();
                let credit = wire::parse_decimal(&r["credit"]).unwrap();
                assert_eq!(r["move."]["state"], Value::from("posted"));
                (code, debit - credit)
            })
            .collect();
        let mut want: Vec<(String, Decimal)> = j
            .lines
            .iter()
            .map(|l| {
                (
                    config.account_code(l.account.as_str()).to_owned(),
                    signed(l),
                )
            })
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{entity} journal {i}: Tryton lines differ");
    }

    let after = balances(&a, company.id, &codes).await;
    for (code, delta) in &expected {
        let moved = after[code] - before[code];
        assert_eq!(
            moved, *delta,
            "{entity}: Tryton account {code} moved by {moved}, the journals say {delta}"
        );
    }
    // Double entry: the deltas sum to zero.
    assert_eq!(expected.values().copied().sum::<Decimal>(), Decimal::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worked_examples_post_as_real_moves_and_balances_match() {
    let Some(config) = live_config("US01") else {
        return;
    };
    let config = with_test_accounts(config);
    post_and_compare(&config, "CN01", tmall_cny()).await;
    post_and_compare(&config, "US01", amazon_usd()).await;
    post_and_compare(&config, "UK01", shopify_gbp()).await;
}
