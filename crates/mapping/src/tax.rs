//! Tax rules: validate the marketplace's tax figures and decide who owes them.
//!
//! **The marketplace's tax figure is the source of truth.** A [`TaxRule`] recomputes the tax
//! only to *validate* it; a difference beyond the rule's tolerance is a `Mapping` error with
//! reason `TaxMismatch` (never an overwrite). What gets booked:
//!
//! | tax collected by | accrual | settlement tax lines |
//! |---|---|---|
//! | the seller ([`TaxCollector::Seller`]) | Cr `tax_payable` | clear the marketplace receivable |
//! | the marketplace (US marketplace facilitator, EU deemed supplier) | nothing: not the seller's liability, not in the receivable | [`MarketplaceTaxMode::Offset`]: to `marketplace_tax_offset` (collected and withheld both shown, netting to zero); [`MarketplaceTaxMode::NotBooked`]: netted per order, and a non-zero net stays on the receivable where reconciliation reports it |
//!
//! Built-ins: [`ChinaVat`] (13% / 9% / 6%, prices tax-inclusive), [`UsMarketplaceFacilitator`],
//! [`EuVat`] (OSS and deemed supplier) and [`SalesTaxExclusive`] (seller-collected US sales
//! tax added on top of prices).

use std::collections::BTreeMap;
use std::fmt;

use marketsync_core::{
    Channel, Error, Money, OrderId, ReasonCode, Rounding, ShopId, TaxCollector, TaxKind, TaxLine,
};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How tax collected and remitted by the marketplace is booked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MarketplaceTaxMode {
    /// Not booked: it is neither revenue nor a liability of the seller.
    #[default]
    NotBooked,
    /// Booked through the `marketplace_tax_offset` account (collected Cr, withheld Dr).
    Offset,
}

/// Which amount a tax rate applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaxBasis {
    /// Price less seller-funded discounts (platform subsidies are consideration too).
    #[default]
    NetOfSellerDiscounts,
    /// What the buyer paid: price less every discount.
    BuyerPaid,
}

/// What a tax line is checked against.
#[derive(Clone, Copy, Debug)]
pub struct TaxCheck<'a> {
    /// Channel.
    pub channel: &'a Channel,
    /// Shop.
    pub shop: &'a ShopId,
    /// Order.
    pub order_id: &'a OrderId,
    /// Where the tax sits: a line id, `"shipping"` or `"order"`.
    pub scope: &'a str,
    /// The taxable amount under [`TaxBasis::NetOfSellerDiscounts`] (tax-inclusive when the tax is
    /// included in the price).
    pub base_net_of_seller: Money,
    /// The taxable amount under [`TaxBasis::BuyerPaid`].
    pub base_buyer_paid: Money,
    /// The marketplace's tax line.
    pub tax: &'a TaxLine,
}

impl TaxCheck<'_> {
    /// The base for a basis.
    pub fn base(&self, basis: TaxBasis) -> Money {
        match basis {
            TaxBasis::NetOfSellerDiscounts => self.base_net_of_seller,
            TaxBasis::BuyerPaid => self.base_buyer_paid,
        }
    }

    /// Recomputes the tax at `rate` and compares it with the marketplace's figure; a difference
    /// above `tolerance` is a `TaxMismatch` error naming the rule, scope, expected and reported
    /// amounts.
    pub fn compare(
        &self,
        rule: &str,
        rate: Decimal,
        basis: TaxBasis,
        rounding: Rounding,
        tolerance: Decimal,
    ) -> Result<(), Error> {
        let base = self.base(basis).amount;
        if !(Decimal::ZERO..=Decimal::ONE).contains(&rate) {
            return Err(self
                .mismatch(rule, "tax rate outside 0..=1", None)
                .with_reason(ReasonCode::RateOutOfRange)
                .with_context("rate", rate));
        }
        let overflow = || {
            self.mismatch(rule, "recomputed tax overflows the decimal range", None)
                .with_reason(ReasonCode::AmountOutOfRange)
        };
        let exact = if self.tax.included_in_price {
            // rate ≥ 0, so the divisor is at least 1.
            let divisor = Decimal::ONE.checked_add(rate).ok_or_else(overflow)?;
            base.checked_mul(rate)
                .and_then(|v| v.checked_div(divisor))
                .ok_or_else(overflow)?
        } else {
            base.checked_mul(rate).ok_or_else(overflow)?
        };
        let expected = Money::new(exact, self.tax.amount.currency).round(rounding);
        let difference = expected
            .amount
            .checked_sub(self.tax.amount.amount)
            .ok_or_else(overflow)?;
        if difference.abs() > tolerance {
            return Err(self
                .mismatch(
                    rule,
                    "recomputed tax differs beyond tolerance",
                    Some(expected),
                )
                .with_context("rate", rate)
                .with_context("tolerance", tolerance));
        }
        Ok(())
    }

    /// A `TaxMismatch` error for this tax line.
    pub fn mismatch(&self, rule: &str, why: &str, expected: Option<Money>) -> Error {
        let mut e = Error::mapping(
            ReasonCode::TaxMismatch,
            format!(
                "tax on {} of order {} ({}): {why}; marketplace says {}",
                self.scope, self.order_id, rule, self.tax.amount
            ),
        )
        .with_context("channel", self.channel)
        .with_context("shop", self.shop)
        .with_context("order", self.order_id)
        .with_context("scope", self.scope)
        .with_context("rule", rule)
        .with_context("reported", self.tax.amount);
        if let Some(x) = expected {
            e = e.with_context("expected", x);
        }
        e
    }
}

/// A tax rule. Object safe: the rulebook holds `Arc<dyn TaxRule>` next to its built-ins.
pub trait TaxRule: Send + Sync + fmt::Debug {
    /// A short name for lineage and errors.
    fn name(&self) -> &str;
    /// True when this rule governs the tax line on this channel.
    fn applies(&self, channel: &Channel, tax: &TaxLine) -> bool;
    /// Validates the marketplace's figure (never changes it).
    fn validate(&self, check: &TaxCheck<'_>) -> Result<(), Error>;
    /// How marketplace-collected tax of this channel is booked, when this rule decides it.
    fn marketplace_mode(&self, channel: &Channel) -> Option<MarketplaceTaxMode> {
        let _ = channel;
        None
    }
    /// Extra dimensions for the tax-payable line (e.g. `vat_scheme = oss`). Default: none.
    fn dimensions(&self, tax: &TaxLine) -> Vec<(String, String)> {
        let _ = tax;
        Vec::new()
    }
}

fn tol() -> Decimal {
    Decimal::new(1, 2)
}

fn half_up() -> Rounding {
    Rounding::HalfUp
}

fn cn_rates() -> Vec<Decimal> {
    vec![Decimal::new(13, 2), Decimal::new(9, 2), Decimal::new(6, 2)]
}

fn cn_default() -> Decimal {
    Decimal::new(13, 2)
}

fn channel_ok(list: &[Channel], channel: &Channel) -> bool {
    list.is_empty() || list.contains(channel)
}

/// China VAT: prices include VAT at 13% (goods), 9% or 6%; the seller owes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChinaVat {
    /// Channels it governs (empty: all).
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Allowed rates; a reported rate outside them is a mismatch.
    #[serde(default = "cn_rates")]
    pub rates: Vec<Decimal>,
    /// Rate assumed when the marketplace does not report one.
    #[serde(default = "cn_default")]
    pub default_rate: Decimal,
    /// Largest accepted difference per tax line, in currency units.
    #[serde(default = "tol")]
    pub tolerance: Decimal,
    /// Base.
    #[serde(default)]
    pub basis: TaxBasis,
    /// Rounding of the recomputed tax.
    #[serde(default = "half_up")]
    pub rounding: Rounding,
}

impl Default for ChinaVat {
    fn default() -> Self {
        ChinaVat {
            channels: Vec::new(),
            rates: cn_rates(),
            default_rate: cn_default(),
            tolerance: tol(),
            basis: TaxBasis::default(),
            rounding: Rounding::HalfUp,
        }
    }
}

impl TaxRule for ChinaVat {
    fn name(&self) -> &str {
        "china_vat"
    }

    fn applies(&self, channel: &Channel, tax: &TaxLine) -> bool {
        tax.kind == TaxKind::Vat
            && tax
                .jurisdiction
                .as_deref()
                .is_none_or(|j| j.eq_ignore_ascii_case("CN"))
            && channel_ok(&self.channels, channel)
    }

    fn validate(&self, check: &TaxCheck<'_>) -> Result<(), Error> {
        let rate = check.tax.rate.unwrap_or(self.default_rate);
        if !self.rates.contains(&rate) {
            return Err(check
                .mismatch(self.name(), "rate is not a China VAT rate", None)
                .with_context("rate", rate));
        }
        check.compare(self.name(), rate, self.basis, self.rounding, self.tolerance)
    }
}

/// US marketplace facilitator sales tax: collected and remitted by the marketplace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UsMarketplaceFacilitator {
    /// Channels it governs (empty: all).
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// How it is booked.
    #[serde(default)]
    pub mode: MarketplaceTaxMode,
    /// Known combined rates by jurisdiction (state code), used to validate when the marketplace
    /// reports no rate. Without a rate the figure is accepted as reported.
    #[serde(default)]
    pub rates: BTreeMap<String, Decimal>,
    /// Largest accepted difference per tax line.
    #[serde(default = "tol")]
    pub tolerance: Decimal,
    /// Base.
    #[serde(default)]
    pub basis: TaxBasis,
    /// Rounding of the recomputed tax.
    #[serde(default = "half_up")]
    pub rounding: Rounding,
}

fn rate_for(tax: &TaxLine, table: &BTreeMap<String, Decimal>) -> Option<Decimal> {
    tax.rate.or_else(|| {
        tax.jurisdiction
            .as_ref()
            .and_then(|j| table.get(j))
            .copied()
    })
}

impl TaxRule for UsMarketplaceFacilitator {
    fn name(&self) -> &str {
        "us_marketplace_facilitator"
    }

    fn applies(&self, channel: &Channel, tax: &TaxLine) -> bool {
        tax.kind == TaxKind::SalesTax
            && tax.collected_by == TaxCollector::Marketplace
            && channel_ok(&self.channels, channel)
    }

    fn validate(&self, check: &TaxCheck<'_>) -> Result<(), Error> {
        match rate_for(check.tax, &self.rates) {
            Some(rate) => {
                check.compare(self.name(), rate, self.basis, self.rounding, self.tolerance)
            }
            None => Ok(()),
        }
    }

    fn marketplace_mode(&self, channel: &Channel) -> Option<MarketplaceTaxMode> {
        channel_ok(&self.channels, channel).then_some(self.mode)
    }
}

/// EU VAT: prices include VAT at the destination country's rate. Seller-collected (OSS or
/// domestic) VAT is the seller's liability; in deemed-supplier cases the marketplace collects
/// and owes it (`collected_by = marketplace`) and [`EuVat::deemed_supplier_mode`] applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EuVat {
    /// Channels it governs (empty: all).
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Standard rates by ISO country code (`"DE"` → `"0.19"`). A line whose country has no
    /// rate and that reports none is a mismatch.
    pub rates: BTreeMap<String, Decimal>,
    /// The seller declares cross-border B2C VAT through the One-Stop Shop (recorded as a
    /// dimension `vat_scheme = oss`).
    #[serde(default)]
    pub oss: bool,
    /// Booking of deemed-supplier VAT.
    #[serde(default)]
    pub deemed_supplier_mode: MarketplaceTaxMode,
    /// Largest accepted difference per tax line.
    #[serde(default = "tol")]
    pub tolerance: Decimal,
    /// Base.
    #[serde(default)]
    pub basis: TaxBasis,
    /// Rounding of the recomputed tax.
    #[serde(default = "half_up")]
    pub rounding: Rounding,
}

impl TaxRule for EuVat {
    fn name(&self) -> &str {
        "eu_vat"
    }

    fn applies(&self, channel: &Channel, tax: &TaxLine) -> bool {
        tax.kind == TaxKind::Vat
            && tax
                .jurisdiction
                .as_ref()
                .is_some_and(|j| self.rates.contains_key(j))
            && channel_ok(&self.channels, channel)
    }

    fn validate(&self, check: &TaxCheck<'_>) -> Result<(), Error> {
        match rate_for(check.tax, &self.rates) {
            Some(rate) => {
                check.compare(self.name(), rate, self.basis, self.rounding, self.tolerance)
            }
            None => Err(check.mismatch(self.name(), "no VAT rate known for the country", None)),
        }
    }

    fn marketplace_mode(&self, channel: &Channel) -> Option<MarketplaceTaxMode> {
        channel_ok(&self.channels, channel).then_some(self.deemed_supplier_mode)
    }

    fn dimensions(&self, tax: &TaxLine) -> Vec<(String, String)> {
        let scheme = match tax.collected_by {
            TaxCollector::Marketplace => "deemed_supplier",
            TaxCollector::Seller if self.oss => "oss",
            TaxCollector::Seller => "domestic",
        };
        vec![("vat_scheme".into(), scheme.into())]
    }
}

/// Seller-collected sales tax added on top of prices (tax-exclusive), e.g. a US web shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SalesTaxExclusive {
    /// Channels it governs (empty: all).
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Known rates by jurisdiction, used when the marketplace reports none.
    #[serde(default)]
    pub rates: BTreeMap<String, Decimal>,
    /// Largest accepted difference per tax line.
    #[serde(default = "tol")]
    pub tolerance: Decimal,
    /// Base.
    #[serde(default)]
    pub basis: TaxBasis,
    /// Rounding of the recomputed tax.
    #[serde(default = "half_up")]
    pub rounding: Rounding,
}

impl TaxRule for SalesTaxExclusive {
    fn name(&self) -> &str {
        "sales_tax_exclusive"
    }

    fn applies(&self, channel: &Channel, tax: &TaxLine) -> bool {
        tax.kind == TaxKind::SalesTax
            && tax.collected_by == TaxCollector::Seller
            && !tax.included_in_price
            && channel_ok(&self.channels, channel)
    }

    fn validate(&self, check: &TaxCheck<'_>) -> Result<(), Error> {
        match rate_for(check.tax, &self.rates) {
            Some(rate) => {
                check.compare(self.name(), rate, self.basis, self.rounding, self.tolerance)
            }
            None => Ok(()),
        }
    }
}

impl Default for UsMarketplaceFacilitator {
    fn default() -> Self {
        UsMarketplaceFacilitator {
            channels: Vec::new(),
            mode: MarketplaceTaxMode::default(),
            rates: BTreeMap::new(),
            tolerance: tol(),
            basis: TaxBasis::BuyerPaid,
            rounding: Rounding::HalfUp,
        }
    }
}

impl Default for EuVat {
    fn default() -> Self {
        EuVat {
            channels: Vec::new(),
            rates: BTreeMap::new(),
            oss: false,
            deemed_supplier_mode: MarketplaceTaxMode::default(),
            tolerance: tol(),
            basis: TaxBasis::default(),
            rounding: Rounding::HalfUp,
        }
    }
}

impl Default for SalesTaxExclusive {
    fn default() -> Self {
        SalesTaxExclusive {
            channels: Vec::new(),
            rates: BTreeMap::new(),
            tolerance: tol(),
            basis: TaxBasis::BuyerPaid,
            rounding: Rounding::HalfUp,
        }
    }
}

/// The built-in tax rules as rulebook data (serialized with a `type` tag).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaxRuleConfig {
    /// [`ChinaVat`].
    ChinaVat(ChinaVat),
    /// [`UsMarketplaceFacilitator`].
    UsMarketplaceFacilitator(UsMarketplaceFacilitator),
    /// [`EuVat`].
    EuVat(EuVat),
    /// [`SalesTaxExclusive`].
    SalesTaxExclusive(SalesTaxExclusive),
}

impl TaxRuleConfig {
    /// The rule behind the configuration.
    pub fn rule(&self) -> &dyn TaxRule {
        match self {
            TaxRuleConfig::ChinaVat(r) => r,
            TaxRuleConfig::UsMarketplaceFacilitator(r) => r,
            TaxRuleConfig::EuVat(r) => r,
            TaxRuleConfig::SalesTaxExclusive(r) => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketsync_core::{Currency, TaxKind};

    #[test]
    fn hostile_rates_and_bases_are_errors_not_panics() {
        let usd = |d: Decimal| Money::new(d, Currency::USD);
        let (channel, shop, order) = (Channel::Shopify, ShopId::new("s"), OrderId::new("o"));
        for included in [false, true] {
            let tax = TaxLine {
                kind: TaxKind::SalesTax,
                rate: None,
                amount: usd(Decimal::ONE),
                included_in_price: included,
                collected_by: TaxCollector::Seller,
                jurisdiction: None,
            };
            let check = TaxCheck {
                channel: &channel,
                shop: &shop,
                order_id: &order,
                scope: "line",
                base_net_of_seller: usd(Decimal::MAX),
                base_buyer_paid: usd(Decimal::MAX),
                tax: &tax,
            };
            // 2^64 − 1 as a rate (Shopify's GraphQL Float): refused by range, never multiplied.
            let e = check
                .compare(
                    "r",
                    Decimal::from(u64::MAX),
                    TaxBasis::BuyerPaid,
                    Rounding::HalfUp,
                    Decimal::ZERO,
                )
                .unwrap_err();
            assert_eq!(e.reason(), ReasonCode::RateOutOfRange);
            let e = check
                .compare(
                    "r",
                    Decimal::NEGATIVE_ONE,
                    TaxBasis::BuyerPaid,
                    Rounding::HalfUp,
                    Decimal::ZERO,
                )
                .unwrap_err();
            assert_eq!(e.reason(), ReasonCode::RateOutOfRange);
            // A rate in range on the largest base: compared (a mismatch), not overflowed.
            let e = check
                .compare(
                    "r",
                    Decimal::ONE,
                    TaxBasis::BuyerPaid,
                    Rounding::HalfUp,
                    Decimal::ZERO,
                )
                .unwrap_err();
            assert!(
                matches!(
                    e.reason(),
                    ReasonCode::TaxMismatch | ReasonCode::AmountOutOfRange
                ),
                "{e}"
            );
        }
    }
}
