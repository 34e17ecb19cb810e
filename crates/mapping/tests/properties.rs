//! Property tests over generated orders, refunds and settlements.

mod common;

use std::sync::Arc;

use common::*;
use marketsync_core::rust_decimal::Decimal;
use marketsync_core::*;
use marketsync_mapping::examples::{
    discount, fee, order, order_line, settlement, settlement_line, tax_line,
};
use marketsync_mapping::*;
use proptest::prelude::*;

/// Accepts every marketplace tax figure (the properties are about balance, not tax law).
#[derive(Debug)]
struct AcceptAll;

impl TaxRule for AcceptAll {
    fn name(&self) -> &str {
        "accept_all"
    }
    fn applies(&self, _: &Channel, _: &TaxLine) -> bool {
        true
    }
    fn validate(&self, _: &TaxCheck<'_>) -> Result<(), Error> {
        Ok(())
    }
}

fn rulebook(functional: bool, contra: bool) -> Rulebook {
    let e = "E1";
    let mut accounts = AccountMap::new().with(e, AccountRole::fee(""), "6999");
    for (i, r) in AccountRole::SIMPLE.iter().enumerate() {
        accounts = accounts.with(e, r.clone(), format!("{}", 1000 + i));
    }
    let mut rb = Rulebook::new("prop")
        .with_entity(EntitySettings {
            id: e.into(),
            time_zone: TimeZoneId::shanghai(),
            functional_currency: Currency::GBP,
            posting_currency: if functional {
                PostingCurrency::Functional
            } else {
                PostingCurrency::Document
            },
        })
        .with_accounts(accounts)
        .with_builtin_fee_tables()
        .with_custom_tax_rule(Arc::new(AcceptAll));
    if contra {
        rb.seller_discounts = SellerDiscountPosting::ContraRevenue;
    }
    rb
}

#[derive(Debug, Clone)]
struct GenLine {
    price: i64,
    qty: u32,
    seller_pct: i64,
    platform_pct: i64,
    incl_tax_pct: i64,
    mc_tax: i64,
}

fn gen_line() -> impl Strategy<Value = GenLine> {
    (
        1i64..200_000,
        1u32..6,
        0i64..50,
        0i64..30,
        0i64..15,
        0i64..2_000,
    )
        .prop_map(
            |(price, qty, seller_pct, platform_pct, incl_tax_pct, mc_tax)| GenLine {
                price,
                qty,
                seller_pct,
                platform_pct,
                incl_tax_pct,
                mc_tax,
            },
        )
}

fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![
        Just(Currency::CNY),
        Just(Currency::USD),
        Just(Currency::JPY),
        Just(Currency::KWD)
    ]
}

fn build_order(c: Currency, lines: &[GenLine], order_seller: i64, ship: i64) -> Order {
    let mut ls = Vec::new();
    for (i, g) in lines.iter().enumerate() {
        let gross = g.price * i64::from(g.qty);
        let mut l = order_line(
            &format!("L{i}"),
            &format!("SKU{i}"),
            g.qty,
            Money::from_minor(g.price, c),
        );
        let seller = gross * g.seller_pct / 100;
        let platform = gross * g.platform_pct / 100;
        if seller > 0 {
            l.discounts.push(discount(
                DiscountFunder::Seller,
                Money::from_minor(seller, c),
            ));
        }
        if platform > 0 {
            l.discounts.push(discount(
                DiscountFunder::Platform,
                Money::from_minor(platform, c),
            ));
        }
        let incl = (gross - seller) * g.incl_tax_pct / 100;
        if incl > 0 {
            l.taxes.push(tax_line(
                TaxKind::Vat,
                None,
                Money::from_minor(incl, c),
                true,
                TaxCollector::Seller,
                None,
            ));
        }
        if g.mc_tax > 0 {
            l.taxes.push(tax_line(
                TaxKind::SalesTax,
                None,
                Money::from_minor(g.mc_tax, c),
                false,
                TaxCollector::Marketplace,
                None,
            ));
        }
        ls.push(l);
    }
    let mut o = order(Channel::Tmall, "O-1", c, t("2026-01-31T17:30:00Z"), ls);
    if order_seller > 0 {
        o.discounts.push(discount(
            DiscountFunder::Seller,
            Money::from_minor(order_seller, c),
        ));
    }
    if ship > 0 {
        o.shipping.push(ShippingCharge {
            amount: Money::from_minor(ship, c),
            discounts: vec![],
            taxes: vec![],
            method: None,
        });
    }
    o
}

fn rates(c: Currency, rate: Decimal) -> Result<InMemoryRates, Error> {
    let date = t("2026-01-01T00:00:00Z").date_naive();
    InMemoryRates::new().with(c, Currency::GBP, date, rate, "test")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn journals_balance_and_settlements_clear_the_receivable(
        c in currency(),
        lines in prop::collection::vec(gen_line(), 1..5),
        order_seller in 0i64..500,
        ship in 0i64..3_000,
        functional in any::<bool>(),
        contra in any::<bool>(),
        rate_bp in 1i64..2_000_000,
        refund_pct in 0i64..=100,
        fee_minor in 0i64..5_000,
        delta in -3i64..=3,
        split_months in any::<bool>(),
    ) {
        let o = build_order(c, &lines, order_seller, ship);
        prop_assume!(o.validate().is_ok());
        let rate = Decimal::new(rate_bp, 4);
        let fx = rates(c, rate).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mapper = Mapper::new(Arc::new(rulebook(functional, contra)), Arc::new(fx))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let ctx = Context::new("E1");
        let accrual = mapper.order_accrual(&o, &ctx).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(accrual.validate().is_ok());
        let totals = o.totals().map_err(|e| TestCaseError::fail(e.to_string()))?;

        // A partial refund of the first line.
        let l0 = &o.lines[0];
        let gross0 = l0.gross().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let refund_amount = Money::from_minor(gross0.to_minor().unwrap_or(0) * refund_pct / 100, c);
        let mut entries = vec![accrual];
        let mut refunded = Money::zero(c);
        if !refund_amount.is_zero() {
            let refund = Refund {
                channel: o.channel.clone(),
                shop: o.shop.clone(),
                id: "R".into(),
                order_id: o.id.clone(),
                revision: Revision::Version(1),
                status: RefundStatus::Completed,
                raw_status: "SUCCESS".into(),
                reason: RefundReason { code: None, text: None },
                created_at: t("2026-02-03T00:00:00Z"),
                updated_at: t("2026-02-03T00:00:00Z"),
                lines: vec![RefundLine {
                    line_id: l0.line_id.clone(),
                    sku: l0.sku.clone(),
                    quantity: 1,
                    amount: refund_amount,
                    taxes: vec![],
                    restock: refund_pct % 2 == 0,
                }],
                shipping: None,
                total: refund_amount,
                goods_return: None,
                raw: None,
            };
            let r = mapper.refund_reversal(&refund, &o, &ctx).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(r.validate().is_ok());
            entries.push(r);
            refunded = refund_amount;
        }

        // The settlement pays the receivable (± delta minor units), less a fee and the refund;
        // optionally the refund lands in the next month.
        let sale = Money::from_minor(totals.seller_receivable.to_minor().unwrap_or(0) + delta, c);
        let mut slines = vec![
            settlement_line(SettlementLineKind::Sale, sale, Some("O-1"), t("2026-02-10T00:00:00Z")),
            settlement_line(fee("技术服务费"), Money::from_minor(-fee_minor, c), Some("O-1"), t("2026-02-10T00:00:00Z")),
        ];
        if !refunded.is_zero() {
            let at = if split_months { "2026-03-02T00:00:00Z" } else { "2026-02-11T00:00:00Z" };
            slines.push(settlement_line(SettlementLineKind::Refund, refunded.neg(), Some("O-1"), t(at)));
        }
        let s = settlement(Channel::Tmall, "S", c, t("2026-02-01T00:00:00Z"), t("2026-03-05T00:00:00Z"), slines);
        let js = mapper
            .settlement_journals_with_accruals(&s, &ctx, &entries)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let periods = if split_months && !refunded.is_zero() { 2 } else { 1 };
        prop_assert_eq!(js.len(), periods);
        for j in &js {
            prop_assert!(j.validate().is_ok());
            let totals = j.totals().map_err(|e| TestCaseError::fail(e.to_string()))?;
            for (_, (dr, cr)) in totals {
                prop_assert_eq!(dr, cr);
            }
        }
        entries.extend(js);
        let residuals = receivable_residuals(&entries).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if delta == 0 {
            prop_assert!(residuals.is_empty(), "{:?}", residuals);
        } else {
            // Overpaid by delta: the receivable shows −delta, reported, not absorbed.
            prop_assert_eq!(residuals.len(), 1);
            prop_assert_eq!(residuals[0].amount, Money::from_minor(-delta, c));
        }
    }

    #[test]
    fn allocation_and_conversion_never_create_or_lose_a_minor_unit(
        c in currency(),
        parts in prop::collection::vec(-1_000_000i64..1_000_000, 1..12),
        rate_bp in 1i64..5_000_000,
        to in currency(),
        weights in prop::collection::vec(0u32..1000, 1..12),
        total in -1_000_000i64..1_000_000,
    ) {
        let to = if c == to { Currency::EUR } else { to };
        let rate = FxRate { from: c, to, rate: Decimal::new(rate_bp, 5), as_of: t("2026-01-01T00:00:00Z").date_naive(), source: "p".into() };
        let money: Vec<Money> = parts.iter().map(|p| Money::from_minor(*p, c)).collect();
        let sum = Money::sum(c, &money).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for r in [Rounding::HalfUp, Rounding::HalfEven, Rounding::Floor] {
            let conv = convert_parts(&money, &rate, r).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let conv_sum = Money::sum(to, &conv).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (whole, _) = convert(&sum, &rate, r).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(conv_sum, whole);
            prop_assert!(conv.iter().all(Money::is_rounded));
            // Signs are kept.
            for (p, q) in money.iter().zip(&conv) {
                prop_assert!(!(p.amount > Decimal::ZERO && q.amount < Decimal::ZERO));
                prop_assert!(!(p.amount < Decimal::ZERO && q.amount > Decimal::ZERO));
            }
        }
        let w: Vec<Decimal> = weights.iter().enumerate().map(|(i, w)| Decimal::from(*w + u32::from(i == 0))).collect();
        let t = Money::from_minor(total, c);
        let alloc = t.allocate(&w).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(Money::sum(c, &alloc).map_err(|e| TestCaseError::fail(e.to_string()))?, t);
    }
}
