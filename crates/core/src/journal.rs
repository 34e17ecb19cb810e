//! Journal entries: what marketsync posts to the general ledger.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{AccountCode, Channel, LegalEntityId, ShopId};
use crate::money::{Currency, Money, MoneyError};

/// Debit or credit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Debit.
    Debit,
    /// Credit.
    Credit,
}

/// Analytical dimensions of a journal line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Dimensions {
    /// Sales channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Shop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<ShopId>,
    /// Legal entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<LegalEntityId>,
    /// Marketplace order id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Other dimensions (department, class, cost centre…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// The exchange rate used to produce a line's amount from another currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FxConversion {
    /// The amount before conversion.
    pub original: Money,
    /// Units of target currency per unit of the original currency.
    #[schemars(schema_with = "crate::money::decimal_string_schema")]
    pub rate: Decimal,
    /// The date the rate applies to.
    pub as_of: NaiveDate,
    /// Where the rate came from (`"ECB"`, `"PBOC"`, `"corporate"`).
    pub source: String,
}

/// One line of a journal entry. `amount` is positive; `side` says debit or credit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JournalLine {
    /// GL account.
    pub account: AccountCode,
    /// Debit or credit.
    pub side: Side,
    /// Positive amount, rounded to its currency's minor unit.
    pub amount: Money,
    /// Dimensions.
    #[serde(default)]
    pub dimensions: Dimensions,
    /// Line memo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
    /// The conversion that produced `amount`, when it came from another currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fx: Option<FxConversion>,
    /// Version of the rulebook that produced the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rulebook_version: Option<String>,
}

impl JournalLine {
    /// A debit line.
    pub fn debit(account: impl Into<AccountCode>, amount: Money) -> JournalLine {
        JournalLine::new(account.into(), Side::Debit, amount)
    }

    /// A credit line.
    pub fn credit(account: impl Into<AccountCode>, amount: Money) -> JournalLine {
        JournalLine::new(account.into(), Side::Credit, amount)
    }

    fn new(account: AccountCode, side: Side, amount: Money) -> JournalLine {
        JournalLine {
            account,
            side,
            amount,
            dimensions: Dimensions::default(),
            memo: None,
            fx: None,
            rulebook_version: None,
        }
    }

    /// Sets the memo.
    pub fn with_memo(mut self, memo: impl Into<String>) -> JournalLine {
        self.memo = Some(memo.into());
        self
    }

    /// Sets the dimensions.
    pub fn with_dimensions(mut self, dimensions: Dimensions) -> JournalLine {
        self.dimensions = dimensions;
        self
    }

    /// The amount signed: debit positive, credit negative.
    pub fn signed(&self) -> Money {
        match self.side {
            Side::Debit => self.amount,
            Side::Credit => self.amount.neg(),
        }
    }
}

/// A balanced set of journal lines posted on one date for one legal entity.
///
/// Adapters call [`JournalEntry::validate`] before anything reaches the ERP:
///
/// ```
/// use marketsync_core::chrono::NaiveDate;
/// use marketsync_core::{Currency, JournalEntry, JournalError, JournalLine, Money};
///
/// let cny = |s: &str| Money::parse(s, Currency::CNY);
/// let mut entry = JournalEntry {
///     entity: "CN01".into(),
///     date: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
///     memo: "Tmall order 4012345".into(),
///     lines: vec![
///         JournalLine::debit("1122.01", cny("178.00")?),   // marketplace receivable
///         JournalLine::credit("6001", cny("157.52")?),     // revenue
///         JournalLine::credit("2221.01", cny("20.48")?),   // VAT payable
///     ],
///     reference: Some("tmall:order:4012345".into()),
/// };
/// assert!(entry.validate().is_ok() && entry.is_balanced());
///
/// entry.lines.pop(); // now it does not balance: refused before any ERP call
/// assert!(matches!(entry.validate(), Err(JournalError::Unbalanced { .. })));
/// # Ok::<(), marketsync_core::MoneyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    description = "A balanced set of journal lines posted on one date for one legal entity."
)]
pub struct JournalEntry {
    /// The legal entity (company) it is booked in.
    pub entity: LegalEntityId,
    /// The accounting (business) date in the entity's time zone.
    pub date: NaiveDate,
    /// Header memo.
    pub memo: String,
    /// Lines; they balance per currency.
    pub lines: Vec<JournalLine>,
    /// A reference to the business event (e.g. `"tmall:order:4012345"`), shown in the ERP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// Why a journal entry is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// Fewer than two lines.
    #[error("a journal entry needs at least two lines")]
    TooFewLines,
    /// A line amount is zero or negative.
    #[error("line {index} has a non-positive amount {amount}")]
    NonPositive {
        /// Line index.
        index: usize,
        /// The amount.
        amount: Money,
    },
    /// A line amount has digits below its currency's minor unit.
    #[error("line {index} amount {amount} is not rounded to the currency's minor unit")]
    NotRounded {
        /// Line index.
        index: usize,
        /// The amount.
        amount: Money,
    },
    /// Debits and credits differ in a currency.
    #[error("unbalanced in {currency}: debits {debits} ≠ credits {credits}")]
    Unbalanced {
        /// The currency.
        currency: Currency,
        /// Total debits.
        debits: Decimal,
        /// Total credits.
        credits: Decimal,
    },
    /// Arithmetic overflow.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl JournalEntry {
    /// Debit and credit totals per currency.
    pub fn totals(&self) -> Result<BTreeMap<Currency, (Money, Money)>, JournalError> {
        let mut totals: BTreeMap<Currency, (Money, Money)> = BTreeMap::new();
        for line in &self.lines {
            let c = line.amount.currency;
            let entry = totals.entry(c).or_insert((Money::zero(c), Money::zero(c)));
            match line.side {
                Side::Debit => entry.0 = entry.0.checked_add(&line.amount)?,
                Side::Credit => entry.1 = entry.1.checked_add(&line.amount)?,
            }
        }
        Ok(totals)
    }

    /// Proves the entry can be posted: at least two lines, every amount positive and rounded to
    /// its currency's minor unit, and debits equal credits in every currency.
    pub fn validate(&self) -> Result<(), JournalError> {
        if self.lines.len() < 2 {
            return Err(JournalError::TooFewLines);
        }
        for (index, line) in self.lines.iter().enumerate() {
            if line.amount.is_zero() || line.amount.is_negative() {
                return Err(JournalError::NonPositive {
                    index,
                    amount: line.amount,
                });
            }
            if !line.amount.is_rounded() {
                return Err(JournalError::NotRounded {
                    index,
                    amount: line.amount,
                });
            }
        }
        for (currency, (debits, credits)) in self.totals()? {
            if debits != credits {
                return Err(JournalError::Unbalanced {
                    currency,
                    debits: debits.amount,
                    credits: credits.amount,
                });
            }
        }
        Ok(())
    }

    /// True when [`JournalEntry::validate`] passes.
    pub fn is_balanced(&self) -> bool {
        self.validate().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn entry(lines: Vec<JournalLine>) -> JournalEntry {
        JournalEntry {
            entity: "CN01".into(),
            date: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
            memo: "test".into(),
            lines,
            reference: None,
        }
    }

    #[test]
    fn balanced_entry_validates() {
        let e = entry(vec![
            JournalLine::debit("1200", Money::new(dec!(113.00), Currency::CNY)),
            JournalLine::credit("4000", Money::new(dec!(100.00), Currency::CNY)),
            JournalLine::credit("2221", Money::new(dec!(13.00), Currency::CNY)),
        ]);
        assert_eq!(e.validate(), Ok(()));
    }

    #[test]
    fn unbalanced_and_unrounded_are_refused() {
        let e = entry(vec![
            JournalLine::debit("1200", Money::new(dec!(113.00), Currency::CNY)),
            JournalLine::credit("4000", Money::new(dec!(112.99), Currency::CNY)),
        ]);
        assert!(matches!(e.validate(), Err(JournalError::Unbalanced { .. })));
        let e = entry(vec![
            JournalLine::debit("1200", Money::new(dec!(1.005), Currency::USD)),
            JournalLine::credit("4000", Money::new(dec!(1.005), Currency::USD)),
        ]);
        assert!(matches!(e.validate(), Err(JournalError::NotRounded { .. })));
        // Balanced in total but not per currency.
        let e = entry(vec![
            JournalLine::debit("1200", Money::new(dec!(1), Currency::USD)),
            JournalLine::credit("4000", Money::new(dec!(1), Currency::EUR)),
        ]);
        assert!(matches!(e.validate(), Err(JournalError::Unbalanced { .. })));
    }
}
