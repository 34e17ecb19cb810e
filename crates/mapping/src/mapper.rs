//! Posting rules: orders, refunds, settlements and payouts → balanced [`JournalEntry`]s.
//!
//! Signs: internally every amount is *signed from the ledger's side* (debit positive, credit
//! negative); a line whose signed amount is negative becomes a credit, zero lines are dropped.
//! Every entry is checked with [`JournalEntry::validate`] before it is returned.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use marketsync_core::{
    Channel, Currency, Dimensions, DiscountFunder, Error, FxConversion, JournalEntry, JournalLine,
    LegalEntityId, Money, MoneyError, Order, OrderLine, ReasonCode, Refund, RefundStatus,
    Settlement, SettlementLineKind, ShopId, Side, TaxCollector, TaxLine,
};
use rust_decimal::Decimal;

use crate::accounts::AccountRole;
use crate::errors::{self, money};
use crate::fee::{FeeLine, OrderFeeContext, SettlementFeeContext};
use crate::fx::{FxRate, FxRates, convert};
use crate::period::{Period, business_date, parse_tz};
use crate::rulebook::{
    AccrualDate, EntitySettings, PostingCurrency, RefundPosting, Rulebook, SellerDiscountPosting,
};
use crate::sku::SkuMap;
use crate::tax::{MarketplaceTaxMode, TaxCheck};

/// The legal entity a document is posted in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The entity (its settings come from the rulebook).
    pub entity: LegalEntityId,
}

impl Context {
    /// A context for an entity.
    pub fn new(entity: impl Into<LegalEntityId>) -> Context {
        Context {
            entity: entity.into(),
        }
    }
}

/// Turns canonical documents into journal entries under a [`Rulebook`].
#[derive(Clone, Debug)]
pub struct Mapper {
    rulebook: Arc<Rulebook>,
    fx: Arc<dyn FxRates>,
    skus: Option<Arc<SkuMap>>,
}

/// One line being drafted: a role and a signed amount (debit positive).
#[derive(Clone, Debug)]
struct Draft {
    role: AccountRole,
    signed: Money,
    order_id: Option<String>,
    memo: Option<String>,
    extra: Vec<(String, String)>,
    /// In functional posting: the rate this line's balance was booked at (a receivable cleared
    /// at its accrual rate); the difference to today's rate is realized FX.
    booked_at: Option<FxRate>,
}

struct Drafts {
    currency: Currency,
    lines: Vec<Draft>,
}

impl Drafts {
    fn new(currency: Currency) -> Drafts {
        Drafts {
            currency,
            lines: Vec::new(),
        }
    }

    fn push(
        &mut self,
        role: AccountRole,
        signed: Money,
        order_id: Option<&str>,
        memo: &str,
    ) -> &mut Draft {
        self.lines.push(Draft {
            role,
            signed,
            order_id: order_id.map(str::to_owned),
            memo: Some(memo.to_owned()),
            extra: Vec::new(),
            booked_at: None,
        });
        let last = self.lines.len() - 1;
        &mut self.lines[last]
    }

    fn debit(
        &mut self,
        role: AccountRole,
        amount: Money,
        order_id: Option<&str>,
        memo: &str,
    ) -> &mut Draft {
        self.push(role, amount, order_id, memo)
    }

    fn credit(
        &mut self,
        role: AccountRole,
        amount: Money,
        order_id: Option<&str>,
        memo: &str,
    ) -> &mut Draft {
        self.push(role, amount.neg(), order_id, memo)
    }
}

impl Draft {
    fn with(&mut self, k: &str, v: impl ToString) -> &mut Draft {
        self.extra.push((k.to_owned(), v.to_string()));
        self
    }
}

struct Header<'a> {
    channel: &'a Channel,
    shop: &'a ShopId,
    date: NaiveDate,
    memo: String,
    reference: String,
}

fn sum<'a>(c: Currency, it: impl IntoIterator<Item = &'a Money>) -> Result<Money, Error> {
    Money::sum(c, it).map_err(money)
}

fn add(a: Money, b: &Money) -> Result<Money, Error> {
    a.checked_add(b).map_err(money)
}

fn sub(a: Money, b: &Money) -> Result<Money, Error> {
    a.checked_sub(b).map_err(money)
}

/// Allocates `total` over weights, falling back to equal weights when they sum to zero.
fn spread(total: Money, weights: &[Decimal]) -> Result<Vec<Money>, Error> {
    if weights.is_empty() {
        return Ok(Vec::new());
    }
    if total.is_zero() {
        return Ok(weights
            .iter()
            .map(|_| Money::zero(total.currency))
            .collect());
    }
    let w: Vec<Decimal> = if weights.iter().all(|w| w.is_zero() || w.is_sign_negative()) {
        weights.iter().map(|_| Decimal::ONE).collect()
    } else {
        weights.iter().map(|w| (*w).max(Decimal::ZERO)).collect()
    };
    total.allocate(&w).map_err(money)
}

/// Resolved ERP item and category of an order line.
type ItemAndCategory = (Option<String>, Option<String>);
/// Extra dimensions.
type Extra = Vec<(String, String)>;

/// Per-line amounts of an order after spreading order-level discounts and taxes.
struct LineAmounts {
    gross: Money,
    seller_disc: Money,
    platform_disc: Money,
    included_tax: Money,
}

impl Mapper {
    /// A mapper. The rulebook is validated here.
    pub fn new(rulebook: Arc<Rulebook>, fx: Arc<dyn FxRates>) -> Result<Mapper, Error> {
        rulebook.validate()?;
        Ok(Mapper {
            rulebook,
            fx,
            skus: None,
        })
    }

    /// Resolves every order line through a SKU map: revenue lines get the ERP item as dimension
    /// `item`, and an unmapped SKU fails the posting with `UnknownSku`.
    pub fn with_sku_map(mut self, skus: Arc<SkuMap>) -> Mapper {
        self.skus = Some(skus);
        self
    }

    /// The rulebook.
    pub fn rulebook(&self) -> &Rulebook {
        &self.rulebook
    }

    /// The ERP item of every order line, through the attached SKU map (what an ERP sales order
    /// is booked with). Empty when no SKU map is attached (adapters then use the channel's SKU
    /// as the item code); an unmapped SKU is `UnknownSku`.
    pub fn resolve_items(
        &self,
        order: &Order,
    ) -> Result<BTreeMap<marketsync_core::OrderLineId, marketsync_core::ErpItemId>, Error> {
        let Some(map) = &self.skus else {
            return Ok(BTreeMap::new());
        };
        order
            .lines
            .iter()
            .map(|l| {
                map.resolve_line(&order.channel, &order.shop, l)
                    .map(|r| (l.line_id.clone(), r.item))
            })
            .collect()
    }

    fn settings(&self, ctx: &Context) -> Result<(&EntitySettings, Tz), Error> {
        let s = self.rulebook.entity(&ctx.entity)?;
        Ok((s, parse_tz(&s.time_zone)?))
    }

    fn accrual_instant(&self, order: &Order) -> DateTime<Utc> {
        match self.rulebook.accrual_date {
            AccrualDate::Paid => order.paid_at.unwrap_or(order.placed_at),
            AccrualDate::Placed => order.placed_at,
        }
    }

    /// The business date of an instant in the entity's time zone.
    pub fn business_date(&self, at: DateTime<Utc>, ctx: &Context) -> Result<NaiveDate, Error> {
        Ok(business_date(at, self.settings(ctx)?.1))
    }

    fn categories(&self, order: &Order) -> Result<Vec<ItemAndCategory>, Error> {
        order
            .lines
            .iter()
            .map(|l| match &self.skus {
                Some(map) => map
                    .resolve_line(&order.channel, &order.shop, l)
                    .map(|r| (Some(r.item.into_inner()), r.category)),
                None => Ok((None, None)),
            })
            .collect()
    }

    /// Fees the fee rules expect for an order (commission estimates and fixed fees). Line
    /// categories come from the SKU map when one is attached.
    pub fn expected_fees(&self, order: &Order) -> Result<Vec<FeeLine>, Error> {
        let cats: Vec<Option<String>> = self.categories(order)?.into_iter().map(|c| c.1).collect();
        let ctx = OrderFeeContext {
            order,
            categories: &cats,
        };
        let mut out = Vec::new();
        for rule in self.rulebook.fee_rules() {
            out.extend(
                rule.order_fees(&ctx)?
                    .into_iter()
                    .filter(|f| !f.amount.is_zero()),
            );
        }
        Ok(out)
    }

    fn line_amounts(&self, order: &Order) -> Result<Vec<LineAmounts>, Error> {
        let c = order.currency;
        let mut out = Vec::with_capacity(order.lines.len());
        let mut weights = Vec::with_capacity(order.lines.len());
        for l in &order.lines {
            let gross = l.gross().map_err(money)?;
            let seller = l.discount_by(DiscountFunder::Seller).map_err(money)?;
            let platform = l.discount_by(DiscountFunder::Platform).map_err(money)?;
            let incl = sum(
                c,
                l.taxes
                    .iter()
                    .filter(|t| t.included_in_price)
                    .map(|t| &t.amount),
            )?;
            weights.push(
                gross
                    .amount
                    .checked_sub(seller.amount)
                    .and_then(|v| v.checked_sub(platform.amount))
                    .ok_or(MoneyError::Overflow)
                    .map_err(money)?,
            );
            out.push(LineAmounts {
                gross,
                seller_disc: seller,
                platform_disc: platform,
                included_tax: incl,
            });
        }
        let by = |f: DiscountFunder| {
            sum(
                c,
                order
                    .discounts
                    .iter()
                    .filter(|d| d.funder == f)
                    .map(|d| &d.amount),
            )
        };
        let order_seller = spread(by(DiscountFunder::Seller)?, &weights)?;
        let order_platform = spread(by(DiscountFunder::Platform)?, &weights)?;
        let order_incl = spread(
            sum(
                c,
                order
                    .taxes
                    .iter()
                    .filter(|t| t.included_in_price)
                    .map(|t| &t.amount),
            )?,
            &weights,
        )?;
        for (i, la) in out.iter_mut().enumerate() {
            if let Some(m) = order_seller.get(i) {
                la.seller_disc = add(la.seller_disc, m)?;
            }
            if let Some(m) = order_platform.get(i) {
                la.platform_disc = add(la.platform_disc, m)?;
            }
            if let Some(m) = order_incl.get(i) {
                la.included_tax = add(la.included_tax, m)?;
            }
        }
        Ok(out)
    }

    fn check_tax(
        &self,
        order: &Order,
        scope: &str,
        net_of_seller: Money,
        buyer_paid: Money,
        tax: &TaxLine,
    ) -> Result<Vec<(String, String)>, Error> {
        let check = TaxCheck {
            channel: &order.channel,
            shop: &order.shop,
            order_id: &order.id,
            scope,
            base_net_of_seller: net_of_seller,
            base_buyer_paid: buyer_paid,
            tax,
        };
        let rule = self
            .rulebook
            .tax_rule_for(&order.channel, tax)
            .ok_or_else(|| {
                Error::mapping(
                    ReasonCode::UnmappedTax,
                    format!(
                        "no tax rule governs a {:?} tax on {scope} of order {}",
                        tax.kind, order.id
                    ),
                )
                .with_context("channel", &order.channel)
                .with_context("shop", &order.shop)
                .with_context("order", &order.id)
                .with_context("scope", scope)
            })?;
        rule.validate(&check)?;
        Ok(rule.dimensions(tax))
    }

    /// The order accrual: Dr marketplace receivable (buyer-paid part and platform-funded
    /// discounts on separate lines), Cr revenue per line (net of seller discounts and included
    /// tax), Cr shipping income, Cr tax payable for tax the seller owes. Tax the marketplace
    /// collects and remits is neither receivable nor liability. Every tax line is validated by
    /// its tax rule first (`TaxMismatch` on a difference beyond tolerance).
    ///
    /// Fails with `Validation` for an inconsistent or unpaid order, `UnknownSku` when a SKU map is
    /// attached and a line is unmapped, `unmapped_account` when a role has no account.
    pub fn order_accrual(&self, order: &Order, ctx: &Context) -> Result<JournalEntry, Error> {
        order.validate()?;
        if !order.status.is_paid() {
            return Err(Error::validation(
                ReasonCode::NotPostable,
                format!(
                    "order {} is {:?}: no accounting effect",
                    order.id, order.status
                ),
            )
            .with_context("order", &order.id));
        }
        let (_, tz) = self.settings(ctx)?;
        let at = self.accrual_instant(order);
        let c = order.currency;
        let oid = order.id.as_str();
        let items = self.categories(order)?;
        let amounts = self.line_amounts(order)?;
        let totals = order.totals().map_err(money)?;
        let mut d = Drafts::new(c);

        // Receivable.
        let buyer_part = sub(totals.buyer_total, &totals.tax_marketplace_collected)?;
        let recv = d.debit(
            AccountRole::MarketplaceReceivable,
            buyer_part,
            Some(oid),
            "buyer payment due from marketplace",
        );
        if let Some(p) = &order.presentment {
            recv.with("presentment", p.total);
        }
        d.debit(
            AccountRole::MarketplaceReceivable,
            totals.platform_discounts,
            Some(oid),
            "platform-funded discounts due from marketplace",
        );

        // Taxes: validate, and collect the seller's liabilities.
        let mut payable: BTreeMap<(String, String, String), (Money, Extra)> = BTreeMap::new();
        let mut book_tax = |tax: &TaxLine, dims: Vec<(String, String)>| -> Result<(), Error> {
            if tax.collected_by == TaxCollector::Seller {
                let key = (
                    format!("{:?}", tax.kind).to_lowercase(),
                    tax.jurisdiction.clone().unwrap_or_default(),
                    tax.rate
                        .map(|r| r.normalize().to_string())
                        .unwrap_or_default(),
                );
                let e = payable.entry(key).or_insert((Money::zero(c), dims));
                e.0 = add(e.0, &tax.amount)?;
            }
            Ok(())
        };
        let mut all_net = Money::zero(c);
        let mut all_paid = Money::zero(c);
        for (line, la) in order.lines.iter().zip(&amounts) {
            let net = sub(la.gross, &la.seller_disc)?;
            let paid = sub(net, &la.platform_disc)?;
            all_net = add(all_net, &net)?;
            all_paid = add(all_paid, &paid)?;
            for tax in &line.taxes {
                let dims = self.check_tax(order, line.line_id.as_str(), net, paid, tax)?;
                book_tax(tax, dims)?;
            }
        }
        for tax in &order.taxes {
            let dims = self.check_tax(order, "order", all_net, all_paid, tax)?;
            book_tax(tax, dims)?;
        }
        let mut shipping_income = Money::zero(c);
        for s in &order.shipping {
            let seller = sum(
                c,
                s.discounts
                    .iter()
                    .filter(|x| x.funder == DiscountFunder::Seller)
                    .map(|x| &x.amount),
            )?;
            let all = sum(c, s.discounts.iter().map(|x| &x.amount))?;
            let net = sub(s.amount, &seller)?;
            let paid = sub(s.amount, &all)?;
            let incl = sum(
                c,
                s.taxes
                    .iter()
                    .filter(|t| t.included_in_price)
                    .map(|t| &t.amount),
            )?;
            for tax in &s.taxes {
                let dims = self.check_tax(order, "shipping", net, paid, tax)?;
                book_tax(tax, dims)?;
            }
            shipping_income = add(shipping_income, &sub(net, &incl)?)?;
        }

        // Revenue per line.
        for ((line, la), (item, _)) in order.lines.iter().zip(&amounts).zip(&items) {
            self.revenue_lines(&mut d, line, la, item.as_deref(), oid)?;
        }
        d.credit(
            AccountRole::ShippingIncome,
            shipping_income,
            Some(oid),
            "shipping charged",
        );
        for ((kind, juris, rate), (amount, dims)) in payable {
            let line = d.credit(
                AccountRole::TaxPayable,
                amount,
                Some(oid),
                "tax payable by the seller",
            );
            line.with("tax_kind", kind);
            if !juris.is_empty() {
                line.with("jurisdiction", juris);
            }
            if !rate.is_empty() {
                line.with("tax_rate", rate);
            }
            line.extra.extend(dims);
        }
        self.finish(
            d,
            ctx,
            Header {
                channel: &order.channel,
                shop: &order.shop,
                date: business_date(at, tz),
                memo: format!("{} order {} accrual", order.channel, order.id),
                reference: format!("{}:order:{}", order.channel, order.id),
            },
        )
    }

    fn revenue_lines(
        &self,
        d: &mut Drafts,
        line: &OrderLine,
        la: &LineAmounts,
        item: Option<&str>,
        oid: &str,
    ) -> Result<(), Error> {
        let net = sub(la.gross, &la.seller_disc)?;
        let revenue_net = sub(net, &la.included_tax)?;
        let tag = |dr: &mut Draft| {
            dr.with("line_id", &line.line_id).with("sku", &line.sku);
            if let Some(i) = item {
                dr.with("item", i);
            }
        };
        let contra = self.rulebook.seller_discounts == SellerDiscountPosting::ContraRevenue
            && !la.seller_disc.is_zero();
        if !contra {
            tag(d.credit(AccountRole::Revenue, revenue_net, Some(oid), "goods sold"));
            return Ok(());
        }
        // Split the included tax between gross price and discount; post the split's rounding.
        let (tax_gross, tax_disc) = if la.included_tax.is_zero() || net.is_zero() {
            (la.included_tax, Money::zero(net.currency))
        } else {
            let r = self.rulebook.rounding;
            let share = |part: &Money| -> Result<Money, Error> {
                let v = la
                    .included_tax
                    .amount
                    .checked_mul(part.amount)
                    .and_then(|x| x.checked_div(net.amount))
                    .ok_or_else(|| errors::invalid("tax split overflow"))?;
                Ok(Money::new(v, net.currency).round(r))
            };
            (share(&la.gross)?, share(&la.seller_disc)?)
        };
        let revenue_gross = sub(la.gross, &tax_gross)?;
        let discount = sub(la.seller_disc, &tax_disc)?;
        tag(d.credit(
            AccountRole::Revenue,
            revenue_gross,
            Some(oid),
            "goods sold (gross)",
        ));
        tag(d.debit(
            AccountRole::SellerDiscount,
            discount,
            Some(oid),
            "seller-funded discount",
        ));
        let residual = sub(revenue_net, &sub(revenue_gross, &discount)?)?;
        d.credit(
            AccountRole::Rounding,
            residual,
            Some(oid),
            "rounding of tax split",
        );
        Ok(())
    }

    /// The refund reversal, per refunded line (partial refunds allowed): Dr revenue (or
    /// `refund_returns`) net of included tax, Dr tax payable for the seller's tax, Cr marketplace
    /// receivable for what the buyer gets back less marketplace-collected tax; refunded shipping
    /// likewise. Each line records `restock = true|false`.
    ///
    /// A refund line `amount` is the goods amount as priced (including taxes that are included in
    /// the price); taxes added on top are listed in its `taxes` and added to what the buyer
    /// gets back. Only `Completed` refunds post.
    pub fn refund_reversal(
        &self,
        refund: &Refund,
        order: &Order,
        ctx: &Context,
    ) -> Result<JournalEntry, Error> {
        if refund.status != RefundStatus::Completed {
            return Err(Error::validation(
                ReasonCode::NotPostable,
                format!(
                    "refund {} is {:?}: only completed refunds post",
                    refund.id, refund.status
                ),
            )
            .with_context("refund", &refund.id));
        }
        refund.validate()?;
        if refund.order_id != order.id || refund.channel != order.channel {
            return Err(errors::invalid(format!(
                "refund {} does not belong to order {}",
                refund.id, order.id
            )));
        }
        let (settings, tz) = self.settings(ctx)?;
        // Functional posting: the receivable is reversed at the rate the accrual used.
        let booked = if settings.posting_currency == PostingCurrency::Functional
            && order.currency != settings.functional_currency
        {
            let at = self.accrual_instant(order);
            Some(self.fx.rate(
                order.currency,
                settings.functional_currency,
                business_date(at, tz),
            )?)
        } else {
            None
        };
        let c = order.currency;
        let oid = order.id.as_str();
        let goods_role = match self.rulebook.refunds {
            RefundPosting::ReverseRevenue => AccountRole::Revenue,
            RefundPosting::RefundReturns => AccountRole::RefundReturns,
        };
        let ship_role = match self.rulebook.refunds {
            RefundPosting::ReverseRevenue => AccountRole::ShippingIncome,
            RefundPosting::RefundReturns => AccountRole::RefundReturns,
        };
        let mut d = Drafts::new(c);
        for rl in &refund.lines {
            let Some(ol) = order.lines.iter().find(|l| l.line_id == rl.line_id) else {
                return Err(errors::invalid(format!(
                    "refund {} names unknown line {}",
                    refund.id, rl.line_id
                ))
                .with_context("refund", &refund.id)
                .with_context("line_id", &rl.line_id));
            };
            for m in std::iter::once(&rl.amount).chain(rl.taxes.iter().map(|t| &t.amount)) {
                if m.currency != c || m.is_negative() || !m.is_rounded() {
                    return Err(errors::invalid(format!(
                        "refund {} has an invalid amount {m}",
                        refund.id
                    )));
                }
            }
            let item = match &self.skus {
                Some(map) => Some(map.resolve_line(&order.channel, &order.shop, ol)?.item),
                None => None,
            };
            let incl = sum(
                c,
                rl.taxes
                    .iter()
                    .filter(|t| t.included_in_price)
                    .map(|t| &t.amount),
            )?;
            let excl = sum(
                c,
                rl.taxes
                    .iter()
                    .filter(|t| !t.included_in_price)
                    .map(|t| &t.amount),
            )?;
            let seller = sum(
                c,
                rl.taxes
                    .iter()
                    .filter(|t| t.collected_by == TaxCollector::Seller)
                    .map(|t| &t.amount),
            )?;
            let market = sum(
                c,
                rl.taxes
                    .iter()
                    .filter(|t| t.collected_by == TaxCollector::Marketplace)
                    .map(|t| &t.amount),
            )?;
            let restock = if rl.restock { "true" } else { "false" };
            let g = d.debit(
                goods_role.clone(),
                sub(rl.amount, &incl)?,
                Some(oid),
                "goods refunded",
            );
            g.with("line_id", &rl.line_id)
                .with("sku", &rl.sku)
                .with("quantity", rl.quantity)
                .with("restock", restock);
            if let Some(i) = item {
                g.with("item", i);
            }
            d.debit(AccountRole::TaxPayable, seller, Some(oid), "tax refunded")
                .with("line_id", &rl.line_id);
            d.credit(
                AccountRole::MarketplaceReceivable,
                sub(add(rl.amount, &excl)?, &market)?,
                Some(oid),
                "refund paid out by marketplace",
            )
            .with("line_id", &rl.line_id)
            .with("restock", restock)
            .booked_at = booked.clone();
        }
        if let Some(s) = &refund.shipping {
            if s.currency != c || s.is_negative() || !s.is_rounded() {
                return Err(errors::invalid(format!(
                    "refund {} has an invalid shipping amount {s}",
                    refund.id
                )));
            }
            d.debit(ship_role, *s, Some(oid), "shipping refunded");
            d.credit(
                AccountRole::MarketplaceReceivable,
                *s,
                Some(oid),
                "shipping refund paid out by marketplace",
            )
            .booked_at = booked.clone();
        }
        self.finish(
            d,
            ctx,
            Header {
                channel: &order.channel,
                shop: &order.shop,
                date: business_date(refund.updated_at, tz),
                memo: format!(
                    "{} refund {} of order {}",
                    refund.channel, refund.id, order.id
                ),
                reference: format!("{}:refund:{}", refund.channel, refund.id),
            },
        )
    }

    /// Fee codes of a settlement that no fee rule knows (empty when all are known). The
    /// settlement itself is unchanged, so it can be replayed once a rule is added.
    pub fn unknown_fee_codes(&self, s: &Settlement) -> Result<Vec<String>, Error> {
        let mut out: Vec<String> = Vec::new();
        for line in &s.lines {
            if let SettlementLineKind::Fee { code } | SettlementLineKind::Unknown { code } =
                &line.kind
            {
                let ctx = SettlementFeeContext {
                    settlement: s,
                    line,
                    code,
                };
                if self.classify_fee(&ctx)?.is_none() && !out.contains(code) {
                    out.push(code.clone());
                }
            }
        }
        Ok(out)
    }

    fn classify_fee(&self, ctx: &SettlementFeeContext<'_>) -> Result<Option<FeeLine>, Error> {
        for rule in self.rulebook.fee_rules() {
            if let Some(f) = rule.settlement_fee(ctx)? {
                return Ok(Some(f));
            }
        }
        Ok(None)
    }

    /// The settlement's date in each period it touches: the settlement's end date when it lies
    /// in the period, else the period's last (or first) day.
    fn pieces(
        &self,
        s: &Settlement,
        tz: Tz,
    ) -> Result<BTreeMap<Period, (NaiveDate, Money)>, Error> {
        let last_instant = s
            .period_end
            .checked_sub_signed(chrono::Duration::nanoseconds(1))
            .ok_or_else(|| {
                errors::invalid(format!(
                    "settlement {} has an out-of-range period end",
                    s.id
                ))
                .with_reason(ReasonCode::InvalidTime)
            })?;
        let end = business_date(last_instant, tz);
        let mut out: BTreeMap<Period, (NaiveDate, Money)> = BTreeMap::new();
        for line in &s.lines {
            if line.amount.currency != s.currency || !line.amount.is_rounded() {
                return Err(errors::invalid(format!(
                    "settlement {} has an invalid amount {}",
                    s.id, line.amount
                ))
                .with_context("settlement", &s.id));
            }
            if line.kind == SettlementLineKind::Payout {
                continue;
            }
            let p = Period::of(business_date(line.posted_at, tz));
            let date = end.clamp(p.first_day(), p.last_day());
            let e = out.entry(p).or_insert((date, Money::zero(s.currency)));
            e.1 = add(e.1, &line.amount)?;
        }
        Ok(out)
    }

    /// The settlement journals, one per accounting period the settlement's lines fall in (by
    /// business date of `posted_at` in the entity's zone): Dr cash clearing for the period's net,
    /// Dr commission and each fee expense (by fee rule), Dr/Cr adjustments and reserve, Cr
    /// marketplace receivable per order for sales (Dr for refunds). Payout lines are left to
    /// [`Mapper::payout_journal`].
    ///
    /// A fee code no rule knows fails the whole settlement with `UnknownFeeCode` (context
    /// `fee_code`, and `unknown_fee_codes` listing all of them); nothing is posted to a catch-all.
    pub fn settlement_journals(
        &self,
        s: &Settlement,
        ctx: &Context,
    ) -> Result<Vec<JournalEntry>, Error> {
        self.settlement_journals_with_accruals(s, ctx, &[])
    }

    /// [`Mapper::settlement_journals`], given the accrual (and refund) journals of the settled
    /// orders. Under [`PostingCurrency::Functional`] the receivable of each order found in
    /// `accruals` is cleared at the rate it was booked at, and the difference to the settlement
    /// date's rate is posted as realized FX gain or loss; without them the receivable is cleared
    /// at the settlement date's rate. In document-currency posting `accruals` changes nothing.
    pub fn settlement_journals_with_accruals(
        &self,
        s: &Settlement,
        ctx: &Context,
        accruals: &[JournalEntry],
    ) -> Result<Vec<JournalEntry>, Error> {
        s.validate()?;
        let booked = booked_rates(accruals);
        let (_, tz) = self.settings(ctx)?;
        let unknown = self.unknown_fee_codes(s)?;
        if let Some(first) = unknown.first() {
            return Err(
                errors::unknown_fee_code(&s.channel, &s.shop, s.id.as_str(), first)
                    .with_context("unknown_fee_codes", unknown.join(",")),
            );
        }
        let pieces = self.pieces(s, tz)?;
        let mode = self.rulebook.marketplace_tax_mode(&s.channel);
        let c = s.currency;
        // (period, role, order, memo) → signed
        type Key = (Period, AccountRole, Option<String>, String, bool);
        let mut lines: BTreeMap<Key, Money> = BTreeMap::new();
        let mut post = |p: Period,
                        role: AccountRole,
                        order: Option<String>,
                        memo: String,
                        signed: Money|
         -> Result<(), Error> {
            let e = lines
                .entry((p, role, order, memo, signed.is_negative()))
                .or_insert(Money::zero(c));
            *e = add(*e, &signed)?;
            Ok(())
        };
        for line in &s.lines {
            if line.kind == SettlementLineKind::Payout {
                continue;
            }
            let p = Period::of(business_date(line.posted_at, tz));
            let order = line.order_id.as_ref().map(|o| o.as_str().to_owned());
            let signed = line.amount.neg();
            let (role, memo) = match &line.kind {
                SettlementLineKind::Sale => (
                    AccountRole::MarketplaceReceivable,
                    "sales settled".to_owned(),
                ),
                SettlementLineKind::Refund => (
                    AccountRole::MarketplaceReceivable,
                    "refunds settled".to_owned(),
                ),
                SettlementLineKind::Tax {
                    marketplace_collected: false,
                } => (
                    AccountRole::MarketplaceReceivable,
                    "seller tax settled".to_owned(),
                ),
                SettlementLineKind::Tax {
                    marketplace_collected: true,
                } => match mode {
                    MarketplaceTaxMode::Offset => (
                        AccountRole::MarketplaceTaxOffset,
                        "marketplace-collected tax".to_owned(),
                    ),
                    MarketplaceTaxMode::NotBooked => (
                        AccountRole::MarketplaceReceivable,
                        "marketplace-collected tax (net)".to_owned(),
                    ),
                },
                SettlementLineKind::Commission => {
                    (AccountRole::CommissionExpense, "commission".to_owned())
                }
                SettlementLineKind::Fee { code } | SettlementLineKind::Unknown { code } => {
                    let fctx = SettlementFeeContext {
                        settlement: s,
                        line,
                        code,
                    };
                    match self.classify_fee(&fctx)? {
                        Some(f) => (f.role, format!("fee {code}")),
                        None => {
                            return Err(errors::unknown_fee_code(
                                &s.channel,
                                &s.shop,
                                s.id.as_str(),
                                code,
                            ));
                        }
                    }
                }
                SettlementLineKind::Adjustment { code } => {
                    let known = match code {
                        Some(code) => self.classify_fee(&SettlementFeeContext {
                            settlement: s,
                            line,
                            code,
                        })?,
                        None => None,
                    };
                    match (known, code) {
                        (Some(f), Some(code)) => (f.role, format!("adjustment {code}")),
                        (_, Some(code)) => (AccountRole::Adjustment, format!("adjustment {code}")),
                        _ => (AccountRole::Adjustment, "adjustment".to_owned()),
                    }
                }
                SettlementLineKind::ReserveHold => {
                    (AccountRole::Reserve, "reserve held".to_owned())
                }
                SettlementLineKind::ReserveRelease => {
                    (AccountRole::Reserve, "reserve released".to_owned())
                }
                SettlementLineKind::Payout => continue,
            };
            post(p, role, order, memo, signed)?;
        }
        let mut out = Vec::new();
        for (p, (date, net)) in &pieces {
            let mut d = Drafts::new(c);
            d.debit(
                AccountRole::CashClearing,
                *net,
                None,
                "settled, awaiting payout",
            )
            .with("settlement", &s.id);
            for ((lp, role, order, memo, _), signed) in &lines {
                if lp != p {
                    continue;
                }
                let dl = d
                    .push(role.clone(), *signed, order.as_deref(), memo)
                    .with("settlement", &s.id);
                if *role == AccountRole::MarketplaceReceivable {
                    dl.booked_at = order.as_ref().and_then(|o| booked.get(o)).cloned();
                }
            }
            if d.lines.iter().all(|l| l.signed.is_zero()) {
                continue;
            }
            out.push(self.finish(
                d,
                ctx,
                Header {
                    channel: &s.channel,
                    shop: &s.shop,
                    date: *date,
                    memo: format!("{} settlement {} ({p})", s.channel, s.id),
                    reference: format!("{}:settlement:{}:{p}", s.channel, s.id),
                },
            )?);
        }
        Ok(out)
    }

    /// The payout journal: Dr bank for what reached the bank, Cr cash clearing. When the payout
    /// currency differs from the settlement currency (or journals post in the functional
    /// currency), both sides are valued in the functional currency — cash clearing at the rates
    /// the settlement journals used, the bank at the payout date's rate — and the difference is
    /// realized FX gain or loss.
    pub fn payout_journal(&self, s: &Settlement, ctx: &Context) -> Result<JournalEntry, Error> {
        s.validate()?;
        let Some(payout) = &s.payout else {
            return Err(
                errors::invalid(format!("settlement {} has no payout", s.id))
                    .with_context("settlement", &s.id),
            );
        };
        if !payout.amount.is_rounded() || payout.amount.is_negative() {
            return Err(errors::invalid(format!(
                "payout {} has an invalid amount {}",
                payout.id, payout.amount
            )));
        }
        let (settings, tz) = self.settings(ctx)?;
        let date = business_date(payout.paid_at, tz);
        let f = settings.functional_currency;
        let header = Header {
            channel: &s.channel,
            shop: &s.shop,
            date,
            memo: format!("{} payout {} of settlement {}", s.channel, payout.id, s.id),
            reference: format!("{}:payout:{}", s.channel, payout.id),
        };
        let functional = settings.posting_currency == PostingCurrency::Functional;
        if payout.amount.currency == s.currency && (!functional || s.currency == f) {
            let mut d = Drafts::new(s.currency);
            d.debit(AccountRole::Bank, payout.amount, None, "payout received")
                .with("payout", &payout.id);
            d.credit(
                AccountRole::CashClearing,
                payout.amount,
                None,
                "payout of settlement",
            )
            .with("settlement", &s.id);
            return self.finish_as_is(d, ctx, header);
        }
        // Value both sides in the functional currency.
        let r = self.rulebook.rounding;
        let mut lines = Vec::new();
        let mut clearing_f = Money::zero(f);
        let mut clearing_fx = None;
        for (_, (pdate, net)) in self.pieces(s, tz)? {
            let rate = self.fx.rate(s.currency, f, pdate)?;
            let (conv, fx) = convert(&net, &rate, r)?;
            clearing_f = add(clearing_f, &conv)?;
            clearing_fx.get_or_insert(fx);
        }
        let (bank_f, bank_fx) = if payout.amount.currency == f {
            (payout.amount, None)
        } else {
            let rate = self.fx.rate(payout.amount.currency, f, date)?;
            let (m, fx) = convert(&payout.amount, &rate, r)?;
            (m, Some(fx))
        };
        if let Some(mut bank) =
            self.line(ctx, s, AccountRole::Bank, bank_f, None, "payout received")?
        {
            bank.fx = bank_fx;
            bank.dimensions
                .extra
                .insert("payout".into(), payout.id.to_string());
            lines.push(bank);
        }
        if let Some(mut clearing) = self.line(
            ctx,
            s,
            AccountRole::CashClearing,
            clearing_f.neg(),
            None,
            "payout of settlement",
        )? {
            if s.currency != f {
                clearing.fx = clearing_fx.map(|mut fx| {
                    fx.original = s.net().map(|n| n.abs()).unwrap_or(fx.original);
                    fx
                });
            }
            clearing
                .dimensions
                .extra
                .insert("settlement".into(), s.id.to_string());
            lines.push(clearing);
        }
        let diff = sub(clearing_f, &bank_f)?;
        if let Some(fx_line) = self.line(
            ctx,
            s,
            AccountRole::FxGainLoss,
            diff,
            None,
            "realized FX on payout",
        )? {
            lines.push(fx_line);
        }
        self.entry(ctx, header, lines)
    }

    /// A journal line for a role with a signed amount (None when zero).
    fn line(
        &self,
        ctx: &Context,
        s: &Settlement,
        role: AccountRole,
        signed: Money,
        order: Option<&str>,
        memo: &str,
    ) -> Result<Option<JournalLine>, Error> {
        self.make_line(
            ctx,
            &s.channel,
            &s.shop,
            role,
            signed,
            order,
            memo,
            Vec::new(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn make_line(
        &self,
        ctx: &Context,
        channel: &Channel,
        shop: &ShopId,
        role: AccountRole,
        signed: Money,
        order: Option<&str>,
        memo: &str,
        extra: Vec<(String, String)>,
    ) -> Result<Option<JournalLine>, Error> {
        if signed.is_zero() {
            return Ok(None);
        }
        let account = self
            .rulebook
            .accounts
            .account(&ctx.entity, channel, &role)?;
        let mut dims = Dimensions {
            channel: Some(channel.clone()),
            shop: Some(shop.clone()),
            entity: Some(ctx.entity.clone()),
            order_id: order.map(str::to_owned),
            extra: BTreeMap::new(),
        };
        dims.extra.insert("role".into(), role.name());
        dims.extra.extend(extra);
        let side = if signed.is_negative() {
            Side::Credit
        } else {
            Side::Debit
        };
        Ok(Some(JournalLine {
            account,
            side,
            amount: signed.abs(),
            dimensions: dims,
            memo: Some(memo.to_owned()),
            fx: None,
            rulebook_version: Some(self.rulebook.version.clone()),
        }))
    }

    /// Posts drafts in the entity's posting currency.
    fn finish(&self, d: Drafts, ctx: &Context, h: Header<'_>) -> Result<JournalEntry, Error> {
        let (settings, _) = self.settings(ctx)?;
        let f = settings.functional_currency;
        if settings.posting_currency == PostingCurrency::Document || d.currency == f {
            return self.finish_as_is(d, ctx, h);
        }
        let rate = self.fx.rate(d.currency, f, h.date)?;
        let r = self.rulebook.rounding;
        let mut lines = Vec::with_capacity(d.lines.len() + 2);
        let mut at_today = Money::zero(f);
        let mut realized = Money::zero(f);
        for dl in d.lines {
            if dl.signed.is_zero() {
                continue;
            }
            let (now, fx_now) = convert(&dl.signed, &rate, r)?;
            at_today = add(at_today, &now)?;
            let (conv, fx) = match dl
                .booked_at
                .as_ref()
                .filter(|b| b.from == d.currency && b.to == f)
            {
                Some(b) => {
                    let (then, fx_then) = convert(&dl.signed, b, r)?;
                    realized = add(realized, &sub(now, &then)?)?;
                    (then, fx_then)
                }
                None => (now, fx_now),
            };
            let memo = dl.memo.as_deref().unwrap_or_default();
            if let Some(mut line) = self.make_line(
                ctx,
                h.channel,
                h.shop,
                dl.role,
                conv,
                dl.order_id.as_deref(),
                memo,
                dl.extra,
            )? {
                line.fx = Some(abs_fx(fx));
                lines.push(line);
            }
        }
        // Realized FX on balances booked at another rate, explicitly.
        if let Some(line) = self.make_line(
            ctx,
            h.channel,
            h.shop,
            AccountRole::FxGainLoss,
            realized,
            None,
            "realized FX on receivable",
            Vec::new(),
        )? {
            lines.push(line);
        }
        // The conversion's rounding residual, explicitly.
        if let Some(line) = self.make_line(
            ctx,
            h.channel,
            h.shop,
            AccountRole::Rounding,
            at_today.neg(),
            None,
            "FX conversion rounding",
            Vec::new(),
        )? {
            lines.push(line);
        }
        self.entry(ctx, h, lines)
    }

    fn finish_as_is(&self, d: Drafts, ctx: &Context, h: Header<'_>) -> Result<JournalEntry, Error> {
        let mut lines = Vec::with_capacity(d.lines.len());
        for dl in d.lines {
            if dl.signed.currency != d.currency {
                return Err(errors::invalid("mixed currencies in one document"));
            }
            let memo = dl.memo.as_deref().unwrap_or_default();
            if let Some(line) = self.make_line(
                ctx,
                h.channel,
                h.shop,
                dl.role,
                dl.signed,
                dl.order_id.as_deref(),
                memo,
                dl.extra,
            )? {
                lines.push(line);
            }
        }
        self.entry(ctx, h, lines)
    }

    fn entry(
        &self,
        ctx: &Context,
        h: Header<'_>,
        lines: Vec<JournalLine>,
    ) -> Result<JournalEntry, Error> {
        let entry = JournalEntry {
            entity: ctx.entity.clone(),
            date: h.date,
            memo: h.memo,
            lines,
            reference: Some(h.reference),
        };
        entry.validate().map_err(|e| {
            errors::unbalanced(entry.reference.as_deref().unwrap_or_default(), &e).with_source(e)
        })?;
        Ok(entry)
    }
}

/// The rates receivables were booked at, per order, from accrual journals' receivable lines.
fn booked_rates(entries: &[JournalEntry]) -> BTreeMap<String, FxRate> {
    let role = AccountRole::MarketplaceReceivable.name();
    let mut out = BTreeMap::new();
    for e in entries {
        for l in &e.lines {
            if let (Some(fx), Some(order)) = (&l.fx, &l.dimensions.order_id) {
                if l.dimensions.extra.get("role") == Some(&role) {
                    out.entry(order.clone()).or_insert_with(|| FxRate {
                        from: fx.original.currency,
                        to: l.amount.currency,
                        rate: fx.rate,
                        as_of: fx.as_of,
                        source: fx.source.clone(),
                    });
                }
            }
        }
    }
    out
}

/// Journal lines carry positive amounts; the conversion record keeps the positive original.
fn abs_fx(mut fx: FxConversion) -> FxConversion {
    fx.original = fx.original.abs();
    fx
}
