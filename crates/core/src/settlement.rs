//! Settlements: what a marketplace paid out, line by line.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ReasonCode;
use crate::ids::{Channel, OrderId, PayoutId, Revision, SettlementId, ShopId};
use crate::money::{Currency, Money, MoneyError};
use crate::order::{is_plausible_amount, is_plausible_time, money_reason};
use crate::raw::RawPayloadRef;

/// What a settlement line is. Platform fee codes are kept verbatim in [`SettlementLineKind::Fee`]
/// and [`SettlementLineKind::Unknown`]; nothing unrecognised is dropped.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SettlementLineKind {
    /// Proceeds of a sale (positive).
    Sale,
    /// Marketplace commission / referral fee (negative).
    Commission,
    /// Another fee, by the platform's fee code (e.g. `FBAPerUnitFulfillmentFee`, Tmall
    /// technical service fee), usually negative.
    Fee {
        /// The platform's fee code, verbatim.
        code: String,
    },
    /// Tax collected or withheld.
    Tax {
        /// True when the marketplace collected and remits it.
        marketplace_collected: bool,
    },
    /// Money returned to a buyer (negative).
    Refund,
    /// A manual or platform adjustment (either sign).
    Adjustment {
        /// The platform's adjustment code, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
    /// Funds held back in reserve (negative).
    ReserveHold,
    /// Reserve released (positive).
    ReserveRelease,
    /// Transfer to the seller's bank (negative: it leaves the marketplace balance).
    Payout,
    /// A line type the connector does not recognise, kept with its code for a rule to handle.
    Unknown {
        /// The platform's code, verbatim.
        code: String,
    },
}

/// One line of a settlement. Amounts are signed from the seller's side: positive increases
/// what the marketplace owes the seller, negative decreases it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SettlementLine {
    /// What it is.
    pub kind: SettlementLineKind,
    /// Signed amount in the settlement currency.
    pub amount: Money,
    /// The order it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    /// The platform's own reference (transaction id, bill number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// When the platform booked it (UTC).
    pub posted_at: DateTime<Utc>,
    /// Free-text description as the platform gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A bank transfer closing a settlement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Payout {
    /// The platform's payout id.
    pub id: PayoutId,
    /// Amount deposited, in the payout (bank) currency, which may differ from the settlement
    /// currency.
    pub amount: Money,
    /// When it was (or will be) deposited.
    pub paid_at: DateTime<Utc>,
    /// The bank's reference, for bank reconciliation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_reference: Option<String>,
}

/// A settlement / statement / bill: a period of marketplace money movements.
///
/// Sales, fees (platform codes kept verbatim), refunds and adjustments, signed as the
/// marketplace moves the money; [`Settlement::net`] is what it owes the seller. Its JSON
/// form (the fields left out are optional):
///
/// ```
/// use marketsync_core::{Currency, Money, Settlement};
///
/// let s: Settlement = serde_json::from_str(r#"{
///     "channel": "tmall",
///     "shop": "flagship",
///     "id": "bill-2026-01",
///     "revision": { "kind": "version", "value": 1 },
///     "currency": "CNY",
///     "period_start": "2026-01-01T00:00:00Z",
///     "period_end": "2026-02-01T00:00:00Z",
///     "lines": [
///         { "kind": { "type": "sale" }, "order_id": "4012345",
///           "amount": { "amount": "178.00", "currency": "CNY" },
///           "posted_at": "2026-01-20T00:00:00Z" },
///         { "kind": { "type": "fee", "code": "commission" }, "order_id": "4012345",
///           "amount": { "amount": "-8.90", "currency": "CNY" },
///           "posted_at": "2026-01-20T00:00:00Z" }
///     ]
/// }"#)?;
/// assert_eq!(s.net()?, Money::parse("169.10", Currency::CNY)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    description = "A settlement / statement / bill: a period of marketplace money movements."
)]
pub struct Settlement {
    /// The marketplace.
    pub channel: Channel,
    /// The shop.
    pub shop: ShopId,
    /// The platform's settlement id.
    pub id: SettlementId,
    /// Source revision.
    pub revision: Revision,
    /// The settlement currency: every line is in it.
    pub currency: Currency,
    /// Period start (UTC, inclusive).
    pub period_start: DateTime<Utc>,
    /// Period end (UTC, exclusive).
    pub period_end: DateTime<Utc>,
    /// Lines.
    pub lines: Vec<SettlementLine>,
    /// The payout, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout: Option<Payout>,
    /// Raw payload reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawPayloadRef>,
}

impl Settlement {
    /// Sum of all lines except payouts: the net the marketplace owes for the period.
    pub fn net(&self) -> Result<Money, MoneyError> {
        Money::sum(
            self.currency,
            self.lines
                .iter()
                .filter(|l| l.kind != SettlementLineKind::Payout)
                .map(|l| &l.amount),
        )
    }

    /// Checks the settlement: every line in the settlement currency and rounded to its minor
    /// unit, the payout rounded to its own currency's minor unit, every amount within
    /// ±[`MAX_AMOUNT_UNITS`](crate::order::MAX_AMOUNT_UNITS), every time plausible,
    /// `period_start ≤ period_end`, and [`Settlement::net`] computable without overflow.
    /// Line signs are not checked (platforms send reversals of every kind); a payout's sign is
    /// the connector's to check against the platform's direction field.
    pub fn validate(&self) -> Result<(), SettlementError> {
        for l in &self.lines {
            if l.amount.currency != self.currency {
                return Err(SettlementError::Money(MoneyError::CurrencyMismatch {
                    left: self.currency,
                    right: l.amount.currency,
                }));
            }
            l.amount.ensure_rounded().map_err(SettlementError::Money)?;
            if !is_plausible_amount(&l.amount) {
                return Err(SettlementError::Implausible(l.amount));
            }
        }
        if let Some(p) = &self.payout {
            p.amount.ensure_rounded().map_err(SettlementError::Money)?;
            if !is_plausible_amount(&p.amount) {
                return Err(SettlementError::Implausible(p.amount));
            }
        }
        let times = [self.period_start, self.period_end]
            .into_iter()
            .chain(self.lines.iter().map(|l| l.posted_at))
            .chain(self.payout.iter().map(|p| p.paid_at));
        for t in times {
            if !is_plausible_time(t) {
                return Err(SettlementError::ImplausibleTime(t));
            }
        }
        if self.period_start > self.period_end {
            return Err(SettlementError::PeriodOrder);
        }
        self.net().map_err(SettlementError::Money)?;
        Ok(())
    }

    /// Lines belonging to one order.
    pub fn lines_for<'a>(&'a self, order: &'a OrderId) -> impl Iterator<Item = &'a SettlementLine> {
        self.lines
            .iter()
            .filter(move |l| l.order_id.as_ref() == Some(order))
    }
}

/// Why a settlement failed [`Settlement::validate`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettlementError {
    /// Currency, rounding or overflow problem.
    #[error(transparent)]
    Money(MoneyError),
    /// An amount beyond ±[`MAX_AMOUNT_UNITS`](crate::order::MAX_AMOUNT_UNITS).
    #[error("implausible settlement amount {0}")]
    Implausible(Money),
    /// A time outside the plausible range.
    #[error("implausible time {0}")]
    ImplausibleTime(DateTime<Utc>),
    /// The period ends before it starts.
    #[error("settlement period ends before it starts")]
    PeriodOrder,
}

impl SettlementError {
    /// The exception-queue reason (`money_invalid`, `invalid_time`).
    pub fn reason(&self) -> ReasonCode {
        match self {
            SettlementError::Money(m) => money_reason(m),
            SettlementError::Implausible(_) => ReasonCode::AmountOutOfRange,
            SettlementError::ImplausibleTime(_) | SettlementError::PeriodOrder => {
                ReasonCode::InvalidTime
            }
        }
    }
}

impl From<SettlementError> for crate::Error {
    fn from(e: SettlementError) -> crate::Error {
        crate::Error::validation(e.reason(), e.to_string()).with_source(e)
    }
}
