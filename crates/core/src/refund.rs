//! Returns (goods coming back) and refunds (money going back).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ReasonCode;
use crate::ids::{Channel, OrderId, OrderLineId, RefundId, ReturnId, Revision, ShopId, Sku};
use crate::money::{Money, MoneyError};
use crate::order::{
    MAX_LINE_QUANTITY, TaxLine, is_fraction, is_plausible_amount, is_plausible_time, money_reason,
};
use crate::raw::RawPayloadRef;

/// Standardized refund status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Requested by the buyer, not yet decided.
    Requested,
    /// Accepted by the seller or platform, money not yet returned (may wait for goods).
    Approved,
    /// Money returned to the buyer. Only this status has an accounting effect.
    Completed,
    /// Refused by the seller or platform.
    Rejected,
    /// Withdrawn by the buyer or closed without a refund.
    Cancelled,
}

/// Why the buyer got money back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RefundReason {
    /// The platform's reason code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The reason text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Money refunded for one order line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RefundLine {
    /// The order line refunded.
    pub line_id: OrderLineId,
    /// Its SKU.
    pub sku: Sku,
    /// Units refunded (0 for a price-only adjustment).
    pub quantity: u32,
    /// Amount refunded for the line's goods (positive): including tax that is included in the
    /// price (China, EU), excluding tax added on top of the price (US sales tax), which is
    /// listed in `taxes` with `included_in_price: false` — the way Shopify and Amazon report a
    /// refund's principal and tax apart.
    pub amount: Money,
    /// Taxes reversed on this line (included ones are inside `amount`, the others come on top).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<TaxLine>,
    /// Whether the returned units go back to sellable stock.
    pub restock: bool,
}

/// One returned line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReturnLine {
    /// The order line.
    pub line_id: OrderLineId,
    /// Its SKU.
    pub sku: Sku,
    /// Units coming back.
    pub quantity: u32,
    /// Whether they go back to sellable stock.
    pub restock: bool,
}

/// A physical return of goods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Return {
    /// The platform's return id (may equal the refund id on platforms that merge them).
    pub id: ReturnId,
    /// Lines coming back.
    pub lines: Vec<ReturnLine>,
    /// Return carrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// Return tracking number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// When the seller received the goods back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<DateTime<Utc>>,
}

/// A refund, partial or full, per line, with the return it belongs to if goods come back.
///
/// Its JSON form (the fields left out are optional); [`Refund::is_consistent`] checks the
/// lines add up to the total:
///
/// ```
/// use marketsync_core::{Currency, Money, Refund, RefundStatus};
///
/// let refund: Refund = serde_json::from_str(r#"{
///     "channel": "shopify",
///     "shop": "eu-store",
///     "id": "r-77",
///     "order_id": "1001",
///     "revision": { "kind": "version", "value": 1 },
///     "status": "completed",
///     "raw_status": "SUCCESS",
///     "reason": { "code": "damaged", "text": null },
///     "created_at": "2026-01-09T08:00:00Z",
///     "updated_at": "2026-01-09T09:00:00Z",
///     "lines": [{
///         "line_id": "1", "sku": "TEA-250G", "quantity": 1, "restock": false,
///         "amount": { "amount": "12.50", "currency": "EUR" }
///     }],
///     "total": { "amount": "12.50", "currency": "EUR" }
/// }"#)?;
/// assert_eq!(refund.status, RefundStatus::Completed);
/// assert_eq!(refund.computed_total()?, Money::parse("12.50", Currency::EUR)?);
/// assert!(refund.is_consistent());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    description = "A refund, partial or full, per line, with the return it belongs to if goods come back."
)]
pub struct Refund {
    /// The marketplace.
    pub channel: Channel,
    /// The shop.
    pub shop: ShopId,
    /// The platform's refund id.
    pub id: RefundId,
    /// The order refunded.
    pub order_id: OrderId,
    /// Source revision.
    pub revision: Revision,
    /// Standardized status.
    pub status: RefundStatus,
    /// The platform's status string, verbatim.
    pub raw_status: String,
    /// Reason.
    pub reason: RefundReason,
    /// When it was requested (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
    /// Per-line amounts.
    pub lines: Vec<RefundLine>,
    /// Shipping refunded (positive), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping: Option<Money>,
    /// Total refunded to the buyer as the platform reports it (goods, taxes on top, shipping).
    pub total: Money,
    /// The goods return, when goods come back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_return: Option<Return>,
    /// Raw payload reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawPayloadRef>,
}

impl Refund {
    /// What the buyer gets back: line amounts, plus taxes added on top of prices, plus shipping.
    pub fn computed_total(&self) -> Result<Money, MoneyError> {
        let c = self.total.currency;
        let mut lines = Money::zero(c);
        for l in &self.lines {
            lines = lines.checked_add(&l.amount)?;
            for t in l.taxes.iter().filter(|t| !t.included_in_price) {
                lines = lines.checked_add(&t.amount)?;
            }
        }
        match &self.shipping {
            Some(s) => lines.checked_add(s),
            None => Ok(lines),
        }
    }

    /// True when [`Refund::computed_total`] equals the reported total.
    pub fn is_consistent(&self) -> bool {
        self.computed_total().is_ok_and(|t| t == self.total)
    }

    /// Checks the refund the way [`Order::validate`](crate::Order::validate) checks an order:
    /// every amount (lines, their taxes, shipping, total) in the total's currency, rounded to
    /// its minor unit, not negative and within ±[`MAX_AMOUNT_UNITS`](crate::order::MAX_AMOUNT_UNITS); quantities (refund and return lines) at most
    /// [`MAX_LINE_QUANTITY`] (0 is allowed: a price-only refund); tax rates in `0..=1`; times
    /// plausible and `created_at ≤ updated_at`. Whether the parts add up to the
    /// total is [`Refund::is_consistent`], reported apart: platforms refund order-level
    /// adjustments that have no line.
    pub fn validate(&self) -> Result<(), RefundError> {
        let c = self.total.currency;
        let amounts = self
            .lines
            .iter()
            .flat_map(|l| std::iter::once(&l.amount).chain(l.taxes.iter().map(|t| &t.amount)))
            .chain(self.shipping.iter())
            .chain(std::iter::once(&self.total));
        for m in amounts {
            if m.currency != c {
                return Err(RefundError::Money(MoneyError::CurrencyMismatch {
                    left: c,
                    right: m.currency,
                }));
            }
            m.ensure_rounded().map_err(RefundError::Money)?;
            if m.is_negative() {
                return Err(RefundError::Negative(*m));
            }
            if !is_plausible_amount(m) {
                return Err(RefundError::Implausible(*m));
            }
        }
        let quantities = self.lines.iter().map(|l| (&l.line_id, l.quantity)).chain(
            self.goods_return
                .iter()
                .flat_map(|r| r.lines.iter().map(|l| (&l.line_id, l.quantity))),
        );
        for (line, quantity) in quantities {
            if quantity > MAX_LINE_QUANTITY {
                return Err(RefundError::InvalidQuantity {
                    line: line.clone(),
                    quantity,
                });
            }
        }
        if let Some(rate) = self
            .lines
            .iter()
            .flat_map(|l| l.taxes.iter())
            .filter_map(|t| t.rate)
            .find(|r| !is_fraction(*r))
        {
            return Err(RefundError::RateOutOfRange(rate));
        }
        let times = [Some(self.created_at), Some(self.updated_at)]
            .into_iter()
            .chain(std::iter::once(
                self.goods_return.as_ref().and_then(|r| r.received_at),
            ))
            .flatten();
        for t in times {
            if !is_plausible_time(t) {
                return Err(RefundError::ImplausibleTime(t));
            }
        }
        if self.created_at > self.updated_at {
            return Err(RefundError::TimeOrder);
        }
        self.computed_total().map_err(RefundError::Money)?;
        Ok(())
    }
}

/// Why a refund failed [`Refund::validate`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefundError {
    /// A negative line amount, tax, shipping or total.
    #[error("negative refund amount {0}")]
    Negative(Money),
    /// Currency, rounding or overflow problem.
    #[error(transparent)]
    Money(MoneyError),
    /// An amount beyond ±[`MAX_AMOUNT_UNITS`](crate::order::MAX_AMOUNT_UNITS).
    #[error("implausible refund amount {0}")]
    Implausible(Money),
    /// A quantity above [`MAX_LINE_QUANTITY`].
    #[error("refund line {line} has quantity {quantity} (at most {MAX_LINE_QUANTITY})")]
    InvalidQuantity {
        /// The order line.
        line: OrderLineId,
        /// Its quantity.
        quantity: u32,
    },
    /// A tax rate outside `0..=1`.
    #[error("tax rate {0} is outside 0..=1")]
    RateOutOfRange(Decimal),
    /// A time outside the plausible range.
    #[error("implausible time {0}")]
    ImplausibleTime(DateTime<Utc>),
    /// `created_at` after `updated_at`.
    #[error("refund created_at is after updated_at")]
    TimeOrder,
}

impl RefundError {
    /// The exception-queue reason (`amount_out_of_range`, `money_invalid`,
    /// `invalid_quantity`, `rate_out_of_range`, `invalid_time`).
    pub fn reason(&self) -> ReasonCode {
        match self {
            RefundError::Negative(_) | RefundError::Implausible(_) => ReasonCode::AmountOutOfRange,
            RefundError::Money(m) => money_reason(m),
            RefundError::InvalidQuantity { .. } => ReasonCode::InvalidQuantity,
            RefundError::RateOutOfRange(_) => ReasonCode::RateOutOfRange,
            RefundError::ImplausibleTime(_) | RefundError::TimeOrder => ReasonCode::InvalidTime,
        }
    }
}

impl From<RefundError> for crate::Error {
    fn from(e: RefundError) -> crate::Error {
        crate::Error::validation(e.reason(), e.to_string()).with_source(e)
    }
}
