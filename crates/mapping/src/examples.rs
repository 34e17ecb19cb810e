//! The worked examples of the crate docs, as data, so you can run them, post them to your ERP,
//! or build tests on them.
//!
//! Three examples, one module each, every one with its legal entity ([`tmall::ENTITY`]), its
//! [`Rulebook`](crate::Rulebook) and exchange rates, its source documents and the journals they
//! map to:
//!
//! | module | story | entity |
//! |---|---|---|
//! | [`tmall`] | Tmall, CNY: platform-funded coupon and seller-funded discount, VAT included, settlement with fees, payout | `CN01`, Asia/Shanghai |
//! | [`amazon`] | Amazon US, USD: marketplace facilitator tax (offset mode), FBA fees, partial refund with restock, settlement, payout | `US01`, America/Los_Angeles |
//! | [`shopify`] | Shopify presented in EUR, shop in USD, books in GBP: functional-currency posting with rounding and FX gain/loss | `UK01`, Europe/London |
//!
//! The builders ([`order`], [`order_line`], [`discount`], [`tax_line`], [`settlement`],
//! [`settlement_line`], [`fee`], [`payout`]) fill every field the examples do not care about
//! with a neutral value (shop `main`, revision 1, no buyer, no raw payload), so tests can build
//! documents of their own in a few lines.
//!
//! Every example function returns a `Result`: the data is written the way the crate docs write
//! it (RFC 3339 instants, decimal amounts, IANA zone names) and parsed. None of it fails; nothing
//! in this module panics.
//!
//! ```
//! use marketsync_core::Currency;
//! use marketsync_mapping::examples::{amazon, shopify, tmall};
//! use marketsync_mapping::{Context, receivable_residuals};
//!
//! // Tmall: order accrual, one settlement journal, payout.
//! let journals = tmall::journals()?;
//! assert_eq!(journals.len(), 3);
//! assert_eq!(journals[0].reference.as_deref(), Some("tmall:order:4012345"));
//! // The settlement cleared exactly what the order created.
//! assert_eq!(receivable_residuals(&journals)?, vec![]);
//!
//! // Amazon: accrual, refund reversal, settlement, payout.
//! assert_eq!(amazon::journals()?.len(), 4);
//! // Shopify: every line in GBP, the entity's functional currency.
//! let gbp = shopify::journals()?;
//! assert!(gbp.iter().flat_map(|j| &j.lines).all(|l| l.amount.currency == Currency::GBP));
//!
//! // Or step by step, with the documents.
//! let mapper = tmall::mapper()?;
//! let accrual = mapper.order_accrual(&tmall::order()?, &Context::new(tmall::ENTITY))?;
//! assert_eq!(accrual, journals[0]);
//! # Ok::<(), marketsync_core::Error>(())
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use marketsync_core::{
    Channel, Currency, Discount, DiscountFunder, Error, FulfilmentChannel, Money, Order, OrderId,
    OrderLine, OrderStatus, Payout, Revision, Settlement, SettlementLine, SettlementLineKind,
    TaxCollector, TaxKind, TaxLine, TimeZoneId,
};
use rust_decimal::Decimal;

use crate::errors;

/// An order line of `quantity` × `sku` at `unit_price`, titled with the SKU, without discounts
/// or taxes (push them onto [`OrderLine::discounts`] and [`OrderLine::taxes`]).
pub fn order_line(line_id: &str, sku: &str, quantity: u32, unit_price: Money) -> OrderLine {
    OrderLine {
        line_id: line_id.into(),
        sku: sku.into(),
        platform_sku_id: None,
        listing_id: None,
        title: sku.to_owned(),
        quantity,
        unit_price,
        discounts: vec![],
        taxes: vec![],
        fulfilment_channel: None,
        raw_status: None,
        quantity_shipped: 0,
    }
}

/// A discount of `amount`, funded by `funder`, without code or description.
pub fn discount(funder: DiscountFunder, amount: Money) -> Discount {
    Discount {
        funder,
        amount,
        code: None,
        description: None,
    }
}

/// A tax line: its kind, rate (if the platform reports one), amount, whether the amount is
/// included in the price, who collects it, and its jurisdiction (country or state).
pub fn tax_line(
    kind: TaxKind,
    rate: Option<Decimal>,
    amount: Money,
    included_in_price: bool,
    collected_by: TaxCollector,
    jurisdiction: Option<&str>,
) -> TaxLine {
    TaxLine {
        kind,
        rate,
        amount,
        included_in_price,
        collected_by,
        jurisdiction: jurisdiction.map(str::to_owned),
    }
}

/// A paid order awaiting fulfilment (raw status `paid`) in shop `main`, revision 1, placed,
/// paid and last updated at `placed_at`, source zone UTC, fulfilled by the seller; no order
/// discounts, shipping, taxes or payments (push them onto the order).
pub fn order(
    channel: Channel,
    id: &str,
    currency: Currency,
    placed_at: DateTime<Utc>,
    lines: Vec<OrderLine>,
) -> Order {
    Order {
        channel,
        shop: "main".into(),
        id: id.into(),
        revision: Revision::Version(1),
        status: OrderStatus::AwaitingFulfilment,
        raw_status: "paid".into(),
        placed_at,
        paid_at: Some(placed_at),
        updated_at: placed_at,
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

/// A settlement line of `kind` and signed `amount` (positive: owed to the seller), for an order
/// or for none, posted at `posted_at`.
pub fn settlement_line(
    kind: SettlementLineKind,
    amount: Money,
    order_id: Option<&str>,
    posted_at: DateTime<Utc>,
) -> SettlementLine {
    SettlementLine {
        kind,
        amount,
        order_id: order_id.map(OrderId::from),
        reference: None,
        posted_at,
        description: None,
    }
}

/// The settlement line kind of a platform fee code (`技术服务费`, `FBAPerUnitFulfillmentFee`).
pub fn fee(code: &str) -> SettlementLineKind {
    SettlementLineKind::Fee { code: code.into() }
}

/// A settlement of shop `main`, revision 1, for the period `[period_start, period_end)`,
/// without payout (set [`Settlement::payout`], see [`payout`]).
pub fn settlement(
    channel: Channel,
    id: &str,
    currency: Currency,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    lines: Vec<SettlementLine>,
) -> Settlement {
    Settlement {
        channel,
        shop: "main".into(),
        id: id.into(),
        revision: Revision::Version(1),
        currency,
        period_start,
        period_end,
        lines,
        payout: None,
        raw: None,
    }
}

/// A payout of `amount` (in the bank's currency), deposited at `paid_at`, without bank
/// reference.
pub fn payout(id: &str, amount: Money, paid_at: DateTime<Utc>) -> Payout {
    Payout {
        id: id.into(),
        amount,
        paid_at,
        bank_reference: None,
    }
}

/// Tmall, CNY: a platform-funded coupon and a seller-funded discount.
///
/// 2 × TEA-250G at 100.00, store coupon (seller) 20.00, Tmall coupon (platform) 10.00, VAT 13%
/// included (20.71 on 180.00), shipping 8.00 with VAT 9% included (0.66). The buyer pays
/// 178.00; Tmall owes the seller 188.00 (the coupon is Tmall's). Placed 2026-01-31T17:30Z, which
/// is 2026-02-01 in Asia/Shanghai: a February entry. The weekly settlement deducts the technical
/// service fee (9.00) and Tmall points (0.90); the payout of 178.10 lands on 2026-02-09.
pub mod tmall {
    use std::sync::Arc;

    use marketsync_core::{
        Channel, Currency, DiscountFunder, Error, JournalEntry, Order, Payment, Settlement,
        SettlementLineKind, ShippingCharge, TaxCollector, TaxKind, TimeZoneId,
    };
    use rust_decimal::Decimal;

    use super::{at, discount, fee, money, order_line, payout, settlement_line, tax_line};
    use crate::{
        AccountMap, AccountRole, ChinaVat, Context, EntitySettings, InMemoryRates, Mapper,
        PostingCurrency, Rulebook, TaxRuleConfig,
    };

    /// The legal entity: CN01, Asia/Shanghai, books in CNY.
    pub const ENTITY: &str = "CN01";

    /// Rulebook `2026.02-1`: China VAT, the built-in fee tables, CNY document-currency posting
    /// and the CN01 chart (receivable 1122.01, revenue 6001, shipping income 6051, output VAT
    /// 2221.01, commission 6601.01, points 6601.02, Alipay clearing 1012.01, bank 1002,
    /// rounding 6603.01).
    pub fn rulebook() -> Result<Rulebook, Error> {
        let e = ENTITY;
        Ok(Rulebook::new("2026.02-1")
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
            .with_builtin_fee_tables())
    }

    /// No exchange rates: documents and books are both in CNY.
    pub fn rates() -> Result<InMemoryRates, Error> {
        Ok(InMemoryRates::new())
    }

    /// A mapper with [`rulebook`] and [`rates`], without SKU map.
    pub fn mapper() -> Result<Mapper, Error> {
        Mapper::new(Arc::new(rulebook()?), Arc::new(rates()?))
    }

    /// Order 4012345: 2 × TEA-250G, both discounts, VAT-inclusive line and shipping, paid
    /// 178.00 by Alipay.
    pub fn order() -> Result<Order, Error> {
        let c = Currency::CNY;
        let mut l = order_line("1", "TEA-250G", 2, money("100.00", c)?);
        l.discounts = vec![
            discount(DiscountFunder::Seller, money("20.00", c)?),
            discount(DiscountFunder::Platform, money("10.00", c)?),
        ];
        l.taxes = vec![tax_line(
            TaxKind::Vat,
            Some(Decimal::new(13, 2)),
            money("20.71", c)?,
            true,
            TaxCollector::Seller,
            Some("CN"),
        )];
        let mut o = super::order(
            Channel::Tmall,
            "4012345",
            c,
            at("2026-01-31T17:30:00Z")?,
            vec![l],
        );
        o.shipping = vec![ShippingCharge {
            amount: money("8.00", c)?,
            discounts: vec![],
            taxes: vec![tax_line(
                TaxKind::Vat,
                Some(Decimal::new(9, 2)),
                money("0.66", c)?,
                true,
                TaxCollector::Seller,
                Some("CN"),
            )],
            method: None,
        }];
        o.payments = vec![Payment {
            amount: money("178.00", c)?,
            method: Some("alipay".into()),
            transaction_id: None,
            paid_at: None,
        }];
        Ok(o)
    }

    /// Settlement TS-202602-01 (2026-01-31T16:00Z to 2026-02-07T16:00Z, the Shanghai week):
    /// sale 188.00, technical service fee −9.00, Tmall points −0.90, transfer −178.10; payout
    /// P-0208 of 178.10 on 2026-02-09.
    pub fn settlement() -> Result<Settlement, Error> {
        let c = Currency::CNY;
        let (oid, posted) = (Some("4012345"), at("2026-02-05T02:00:00Z")?);
        let mut s = super::settlement(
            Channel::Tmall,
            "TS-202602-01",
            c,
            at("2026-01-31T16:00:00Z")?,
            at("2026-02-07T16:00:00Z")?,
            vec![
                settlement_line(SettlementLineKind::Sale, money("188.00", c)?, oid, posted),
                settlement_line(fee("技术服务费"), money("-9.00", c)?, oid, posted),
                settlement_line(fee("天猫积分"), money("-0.90", c)?, oid, posted),
                settlement_line(
                    SettlementLineKind::Payout,
                    money("-178.10", c)?,
                    None,
                    at("2026-02-08T02:00:00Z")?,
                ),
            ],
        );
        s.payout = Some(payout(
            "P-0208",
            money("178.10", c)?,
            at("2026-02-09T02:00:00Z")?,
        ));
        Ok(s)
    }

    /// The journals, in posting order: the order accrual, the settlement journal (one period)
    /// and the payout.
    pub fn journals() -> Result<Vec<JournalEntry>, Error> {
        let mapper = mapper()?;
        let ctx = Context::new(ENTITY);
        let s = settlement()?;
        let mut all = vec![mapper.order_accrual(&order()?, &ctx)?];
        all.extend(mapper.settlement_journals(&s, &ctx)?);
        all.push(mapper.payout_journal(&s, &ctx)?);
        Ok(all)
    }
}

/// Amazon US, USD: marketplace facilitator tax, FBA fees and a partial refund.
///
/// 2 × MUG-01 at 25.00, fulfilled by Amazon (FBA), California sales tax 4.13 collected and
/// remitted by Amazon (offset mode: through account 2290, neither receivable nor liability);
/// one mug refunded and restocked (25.00 + 2.06 tax), refunds posting to `refund_returns`. The
/// settlement deducts commission, the FBA fulfilment fee and the refund administration fee; the
/// payout of 12.56 lands on 2026-03-16.
pub mod amazon {
    use std::sync::Arc;

    use marketsync_core::{
        Channel, Currency, Error, FulfilmentChannel, JournalEntry, Order, Refund, RefundLine,
        RefundReason, RefundStatus, Revision, Settlement, SettlementLineKind, TaxCollector,
        TaxKind,
    };
    use rust_decimal::Decimal;

    use super::{at, fee, money, order_line, payout, settlement_line, tax_line, zone};
    use crate::{
        AccountMap, AccountRole, Context, EntitySettings, InMemoryRates, Mapper,
        MarketplaceTaxMode, PostingCurrency, RefundPosting, Rulebook, TaxRuleConfig,
        UsMarketplaceFacilitator,
    };

    /// The legal entity: US01, America/Los_Angeles, books in USD.
    pub const ENTITY: &str = "US01";

    /// The order id.
    const ORDER_ID: &str = "113-0000001-0000001";

    /// Rulebook `2026.03-us`: US marketplace facilitator tax in offset mode (California
    /// 8.25%), refunds to refunds/returns, the built-in fee tables, USD document-currency
    /// posting and the US01 chart (receivable 1210, revenue 4000, refunds/returns 4900, tax
    /// offset 2290, commission 6100, fulfilment 6110, refund administration 6120, clearing
    /// 1150, bank 1000).
    pub fn rulebook() -> Result<Rulebook, Error> {
        let e = ENTITY;
        let mut mf = UsMarketplaceFacilitator {
            mode: MarketplaceTaxMode::Offset,
            ..UsMarketplaceFacilitator::default()
        };
        mf.rates.insert("CA".into(), Decimal::new(825, 4));
        let mut rb = Rulebook::new("2026.03-us")
            .with_entity(EntitySettings {
                id: e.into(),
                time_zone: zone("America/Los_Angeles")?,
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
        Ok(rb)
    }

    /// No exchange rates: documents and books are both in USD.
    pub fn rates() -> Result<InMemoryRates, Error> {
        Ok(InMemoryRates::new())
    }

    /// A mapper with [`rulebook`] and [`rates`], without SKU map.
    pub fn mapper() -> Result<Mapper, Error> {
        Mapper::new(Arc::new(rulebook()?), Arc::new(rates()?))
    }

    /// Order 113-0000001-0000001: 2 × MUG-01 at 25.00, FBA, California sales tax 4.13
    /// collected by the marketplace, on top of the price.
    pub fn order() -> Result<Order, Error> {
        let usd = Currency::USD;
        let mut l = order_line("li-1", "MUG-01", 2, money("25.00", usd)?);
        l.taxes = vec![tax_line(
            TaxKind::SalesTax,
            None,
            money("4.13", usd)?,
            false,
            TaxCollector::Marketplace,
            Some("CA"),
        )];
        let mut o = super::order(
            Channel::Amazon,
            ORDER_ID,
            usd,
            at("2026-03-02T18:00:00Z")?,
            vec![l],
        );
        o.fulfilment_channel = FulfilmentChannel::Platform("FBA".into());
        Ok(o)
    }

    /// Refund R-1, completed 2026-03-09: one mug (25.00) and its tax (2.06), restocked.
    pub fn refund() -> Result<Refund, Error> {
        let usd = Currency::USD;
        Ok(Refund {
            channel: Channel::Amazon,
            shop: "main".into(),
            id: "R-1".into(),
            order_id: ORDER_ID.into(),
            revision: Revision::Version(1),
            status: RefundStatus::Completed,
            raw_status: "Completed".into(),
            reason: RefundReason {
                code: None,
                text: None,
            },
            created_at: at("2026-03-08T20:00:00Z")?,
            updated_at: at("2026-03-09T20:00:00Z")?,
            lines: vec![RefundLine {
                line_id: "li-1".into(),
                sku: "MUG-01".into(),
                quantity: 1,
                amount: money("25.00", usd)?,
                taxes: vec![tax_line(
                    TaxKind::SalesTax,
                    None,
                    money("2.06", usd)?,
                    false,
                    TaxCollector::Marketplace,
                    Some("CA"),
                )],
                restock: true,
            }],
            shipping: None,
            total: money("27.06", usd)?,
            goods_return: None,
            raw: None,
        })
    }

    /// Settlement 12345678901 (2026-03-01T08:00Z to 2026-03-15T07:00Z): the sale with its
    /// marketplace-collected tax in and out, commission, FBA fee; the refund with its tax,
    /// commission refunded and refund commission; transfer −12.56; payout EFT-0316 of 12.56 on
    /// 2026-03-16.
    pub fn settlement() -> Result<Settlement, Error> {
        let usd = Currency::USD;
        let oid = Some(ORDER_ID);
        let mc = |x| SettlementLineKind::Tax {
            marketplace_collected: x,
        };
        let (at1, at2) = (at("2026-03-04T12:00:00Z")?, at("2026-03-10T12:00:00Z")?);
        let line = |kind, amount: &str, posted| -> Result<_, Error> {
            Ok(settlement_line(kind, money(amount, usd)?, oid, posted))
        };
        let mut s = super::settlement(
            Channel::Amazon,
            "12345678901",
            usd,
            at("2026-03-01T08:00:00Z")?,
            at("2026-03-15T07:00:00Z")?,
            vec![
                line(SettlementLineKind::Sale, "50.00", at1)?,
                line(mc(true), "4.13", at1)?,
                line(mc(true), "-4.13", at1)?,
                line(SettlementLineKind::Commission, "-7.50", at1)?,
                line(fee("FBAPerUnitFulfillmentFee"), "-7.94", at1)?,
                line(SettlementLineKind::Refund, "-25.00", at2)?,
                line(mc(true), "-2.06", at2)?,
                line(mc(true), "2.06", at2)?,
                line(SettlementLineKind::Commission, "3.75", at2)?,
                line(fee("RefundCommission"), "-0.75", at2)?,
                settlement_line(
                    SettlementLineKind::Payout,
                    money("-12.56", usd)?,
                    None,
                    at("2026-03-15T07:00:00Z")?,
                ),
            ],
        );
        s.payout = Some(payout(
            "EFT-0316",
            money("12.56", usd)?,
            at("2026-03-16T17:00:00Z")?,
        ));
        Ok(s)
    }

    /// The journals, in posting order: the order accrual, the refund reversal, the settlement
    /// journal (one period) and the payout.
    pub fn journals() -> Result<Vec<JournalEntry>, Error> {
        let mapper = mapper()?;
        let ctx = Context::new(ENTITY);
        let o = order()?;
        let s = settlement()?;
        let mut all = vec![
            mapper.order_accrual(&o, &ctx)?,
            mapper.refund_reversal(&refund()?, &o, &ctx)?,
        ];
        all.extend(mapper.settlement_journals(&s, &ctx)?);
        all.push(mapper.payout_journal(&s, &ctx)?);
        Ok(all)
    }
}

/// Shopify: presented in EUR, shop in USD, books in GBP.
///
/// 1 × JACKET-M at 108.00 USD (the buyer saw 100.00 EUR), German VAT 19% included (17.24),
/// under OSS. UK01 posts in its functional currency, GBP: every line is converted at the ECB
/// rate of its date and carries it, the conversion's rounding goes to 7999, and the receivable
/// is cleared at the rate it was booked at, the difference being realized FX gain/loss (7800).
/// The settlement deducts the Shopify Payments fee (3.43); the payout of 82.60 GBP lands on
/// 2026-03-16.
pub mod shopify {
    use std::sync::Arc;

    use marketsync_core::{
        Channel, Currency, Error, JournalEntry, Order, Presentment, Settlement, SettlementLineKind,
        TaxCollector, TaxKind,
    };
    use rust_decimal::Decimal;

    use super::{at, fee, money, order_line, payout, settlement_line, tax_line, zone};
    use crate::{
        AccountMap, AccountRole, Context, EntitySettings, EuVat, InMemoryRates, Mapper,
        PostingCurrency, Rulebook, TaxRuleConfig,
    };

    /// The legal entity: UK01, Europe/London, books in GBP.
    pub const ENTITY: &str = "UK01";

    /// Rulebook `2026.03-uk`: EU VAT under OSS (Germany 19%), the built-in fee tables,
    /// functional-currency (GBP) posting and the UK01 chart (receivable 1105, revenue 4000, VAT
    /// 2202, payment processing 7710, clearing 1108, bank 1200, FX gain/loss 7800, rounding
    /// 7999).
    pub fn rulebook() -> Result<Rulebook, Error> {
        let e = ENTITY;
        let mut vat = EuVat {
            oss: true,
            ..EuVat::default()
        };
        vat.rates.insert("DE".into(), Decimal::new(19, 2));
        Ok(Rulebook::new("2026.03-uk")
            .with_entity(EntitySettings {
                id: e.into(),
                time_zone: zone("Europe/London")?,
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
            .with_builtin_fee_tables())
    }

    /// ECB USD → GBP: 0.7893 on 2026-03-10 (the order), 0.7920 on 2026-03-12 (the
    /// settlement).
    pub fn rates() -> Result<InMemoryRates, Error> {
        InMemoryRates::new()
            .with(
                Currency::USD,
                Currency::GBP,
                at("2026-03-10T00:00:00Z")?.date_naive(),
                Decimal::new(7893, 4),
                "ECB",
            )?
            .with(
                Currency::USD,
                Currency::GBP,
                at("2026-03-12T00:00:00Z")?.date_naive(),
                Decimal::new(7920, 4),
                "ECB",
            )
    }

    /// A mapper with [`rulebook`] and [`rates`], without SKU map.
    pub fn mapper() -> Result<Mapper, Error> {
        Mapper::new(Arc::new(rulebook()?), Arc::new(rates()?))
    }

    /// Order 1001: 1 × JACKET-M at 108.00 USD with 17.24 German VAT included, presented as
    /// 100.00 EUR.
    pub fn order() -> Result<Order, Error> {
        let usd = Currency::USD;
        let mut l = order_line(
            "gid://shopify/LineItem/1",
            "JACKET-M",
            1,
            money("108.00", usd)?,
        );
        l.taxes = vec![tax_line(
            TaxKind::Vat,
            Some(Decimal::new(19, 2)),
            money("17.24", usd)?,
            true,
            TaxCollector::Seller,
            Some("DE"),
        )];
        let mut o = super::order(
            Channel::Shopify,
            "1001",
            usd,
            at("2026-03-10T12:00:00Z")?,
            vec![l],
        );
        o.presentment = Some(Presentment {
            currency: Currency::EUR,
            total: money("100.00", Currency::EUR)?,
        });
        Ok(o)
    }

    /// Settlement SP-0312 (2026-03-11 to 2026-03-13, UTC): sale 108.00, Shopify Payments fee
    /// −3.43, transfer −104.57 USD; payout PO-88 of 82.60 GBP on 2026-03-16.
    pub fn settlement() -> Result<Settlement, Error> {
        let usd = Currency::USD;
        let (oid, posted) = (Some("1001"), at("2026-03-11T10:00:00Z")?);
        let mut s = super::settlement(
            Channel::Shopify,
            "SP-0312",
            usd,
            at("2026-03-11T00:00:00Z")?,
            at("2026-03-13T00:00:00Z")?,
            vec![
                settlement_line(SettlementLineKind::Sale, money("108.00", usd)?, oid, posted),
                settlement_line(
                    fee("shopify_payments_fee"),
                    money("-3.43", usd)?,
                    oid,
                    posted,
                ),
                settlement_line(
                    SettlementLineKind::Payout,
                    money("-104.57", usd)?,
                    None,
                    at("2026-03-12T23:00:00Z")?,
                ),
            ],
        );
        s.payout = Some(payout(
            "PO-88",
            money("82.60", Currency::GBP)?,
            at("2026-03-16T09:00:00Z")?,
        ));
        Ok(s)
    }

    /// The journals, in posting order: the order accrual, the settlement journal (clearing the
    /// receivable at the accrual's rate) and the payout.
    pub fn journals() -> Result<Vec<JournalEntry>, Error> {
        let mapper = mapper()?;
        let ctx = Context::new(ENTITY);
        let s = settlement()?;
        let accrual = mapper.order_accrual(&order()?, &ctx)?;
        let js =
            mapper.settlement_journals_with_accruals(&s, &ctx, std::slice::from_ref(&accrual))?;
        let mut all = vec![accrual];
        all.extend(js);
        all.push(mapper.payout_journal(&s, &ctx)?);
        Ok(all)
    }
}

/// An RFC 3339 instant, in UTC.
fn at(s: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| errors::invalid(format!("invalid RFC 3339 instant {s:?}: {e}")))
}

/// A decimal amount in a currency.
fn money(amount: &str, currency: Currency) -> Result<Money, Error> {
    Money::parse(amount, currency).map_err(Error::from)
}

/// An IANA time zone.
fn zone(name: &str) -> Result<TimeZoneId, Error> {
    TimeZoneId::new(name).ok_or_else(|| errors::config(format!("unknown time zone {name:?}")))
}
