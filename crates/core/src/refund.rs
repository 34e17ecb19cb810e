//! Returns (goods coming back) and refunds (money going back).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{Channel, OrderId, OrderLineId, RefundId, ReturnId, Revision, ShopId, Sku};
use crate::money::{Money, MoneyError};
use crate::order::TaxLine;
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
}
