//! Currency: exchange rates and explicit, lossless conversion.
//!
//! Four amounts of one sale are distinct and never mixed:
//!
//! | amount | where it lives |
//! |---|---|
//! | presentment — what the buyer saw (EUR) | [`Order::presentment`](marketsync_core::Order) |
//! | shop / settlement currency (USD) | [`Order::currency`](marketsync_core::Order), [`Settlement::currency`](marketsync_core::Settlement) |
//! | payout currency — what reached the bank | [`Payout::amount`](marketsync_core::Payout) |
//! | functional currency of the legal entity (GBP) | [`EntitySettings::functional_currency`](crate::EntitySettings) |
//!
//! [`FxRates`] gives a rate with its as-of date and source; [`convert`] rounds explicitly to the
//! target currency's minor unit and returns the [`FxConversion`] that travels with the journal
//! line. [`convert_parts`] converts amounts that add up to a total so that the converted parts
//! add up to the converted total — conversion never creates or loses a minor unit.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;

use chrono::NaiveDate;
use marketsync_core::{Currency, Error, FxConversion, Money, MoneyError, ReasonCode, Rounding};
use rust_decimal::Decimal;

use crate::errors;

/// A rate: `1 from = rate to`, valid as of a date, from a named source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FxRate {
    /// Source currency.
    pub from: Currency,
    /// Target currency.
    pub to: Currency,
    /// Units of `to` per unit of `from`.
    pub rate: Decimal,
    /// The date the rate applies to.
    pub as_of: NaiveDate,
    /// Where it came from (`"ECB"`, `"PBOC"`, `"corporate"`).
    pub source: String,
}

impl FxRate {
    /// The identity rate (same currency), source `"identity"`.
    pub fn identity(currency: Currency, as_of: NaiveDate) -> FxRate {
        FxRate {
            from: currency,
            to: currency,
            rate: Decimal::ONE,
            as_of,
            source: "identity".into(),
        }
    }
}

/// A source of exchange rates. Object safe: pass `Arc<dyn FxRates>`.
pub trait FxRates: Send + Sync + fmt::Debug {
    /// The rate from `from` to `to` for `date`. Implementations decide which published rate
    /// applies (the in-memory table takes the latest on or before `date`); a missing rate is an
    /// error, never 1.
    fn rate(&self, from: Currency, to: Currency, date: NaiveDate) -> Result<FxRate, Error>;
}

/// An in-memory rate table. Same-currency lookups answer the identity rate; otherwise the rate
/// published on the latest date on or before the asked date is used. Inverse rates are not
/// derived (a rate is used only in the direction it was published).
#[derive(Clone, Debug, Default)]
pub struct InMemoryRates {
    table: BTreeMap<(Currency, Currency), BTreeMap<NaiveDate, (Decimal, String)>>,
}

impl InMemoryRates {
    /// An empty table.
    pub fn new() -> InMemoryRates {
        InMemoryRates::default()
    }

    /// Adds a rate. A non-positive rate is a configuration error.
    pub fn insert(
        &mut self,
        from: Currency,
        to: Currency,
        as_of: NaiveDate,
        rate: Decimal,
        source: impl Into<String>,
    ) -> Result<(), Error> {
        if rate <= Decimal::ZERO {
            return Err(errors::config(format!(
                "non-positive FX rate {from}->{to} {rate}"
            )));
        }
        self.table
            .entry((from, to))
            .or_default()
            .insert(as_of, (rate, source.into()));
        Ok(())
    }

    /// Builder form of [`InMemoryRates::insert`].
    pub fn with(
        mut self,
        from: Currency,
        to: Currency,
        as_of: NaiveDate,
        rate: Decimal,
        source: impl Into<String>,
    ) -> Result<InMemoryRates, Error> {
        self.insert(from, to, as_of, rate, source)?;
        Ok(self)
    }

    /// Loads CSV with the header `date,from,to,rate,source` (`date` as `YYYY-MM-DD`, `rate` a
    /// decimal string — never parsed through a float).
    pub fn from_csv_reader(reader: impl Read) -> Result<InMemoryRates, Error> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(reader);
        let mut out = InMemoryRates::new();
        for (i, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| {
                errors::config(format!("FX CSV record {}: {e}", i + 1)).with_source(e)
            })?;
            let field = |n: usize| rec.get(n).unwrap_or("");
            let bad =
                |what: &str| errors::config(format!("FX CSV record {}: invalid {what}", i + 1));
            let date = NaiveDate::parse_from_str(field(0), "%Y-%m-%d").map_err(|_| bad("date"))?;
            let from = Currency::new(field(1)).map_err(|_| bad("from currency"))?;
            let to = Currency::new(field(2)).map_err(|_| bad("to currency"))?;
            let rate = Decimal::from_str_exact(field(3)).map_err(|_| bad("rate"))?;
            let source = field(4);
            if source.is_empty() {
                return Err(bad("source (empty)"));
            }
            out.insert(from, to, date, rate, source)?;
        }
        Ok(out)
    }
}

impl FxRates for InMemoryRates {
    fn rate(&self, from: Currency, to: Currency, date: NaiveDate) -> Result<FxRate, Error> {
        if from == to {
            return Ok(FxRate::identity(from, date));
        }
        self.table
            .get(&(from, to))
            .and_then(|by_date| by_date.range(..=date).next_back())
            .map(|(as_of, (rate, source))| FxRate {
                from,
                to,
                rate: *rate,
                as_of: *as_of,
                source: source.clone(),
            })
            .ok_or_else(|| {
                Error::mapping(
                    ReasonCode::MissingFxRate,
                    format!("no {from}->{to} rate on or before {date}"),
                )
                .with_context("from", from)
                .with_context("to", to)
                .with_context("date", date)
            })
    }
}

/// Converts an amount with a rate, rounding to the target's minor unit with `rounding`.
/// Returns the converted amount and the [`FxConversion`] to attach to the journal line.
pub fn convert(
    amount: &Money,
    rate: &FxRate,
    rounding: Rounding,
) -> Result<(Money, FxConversion), Error> {
    if amount.currency != rate.from {
        return Err(errors::invalid(format!(
            "cannot convert {amount} with a {}->{} rate",
            rate.from, rate.to
        )));
    }
    let raw = amount
        .amount
        .checked_mul(rate.rate)
        .ok_or_else(|| errors::invalid("FX overflow"))?;
    let converted = Money::new(raw, rate.to).round(rounding);
    Ok((
        converted,
        FxConversion {
            original: *amount,
            rate: rate.rate,
            as_of: rate.as_of,
            source: rate.source.clone(),
        },
    ))
}

/// Converts parts of a total so that the converted parts add up exactly to the converted total:
/// the total is converted and rounded once, then allocated over the parts by their (absolute)
/// original amounts with the largest-remainder method. Parts keep their sign. All parts must be
/// in `rate.from` and rounded.
pub fn convert_parts(
    parts: &[Money],
    rate: &FxRate,
    rounding: Rounding,
) -> Result<Vec<Money>, Error> {
    let total = Money::sum(rate.from, parts).map_err(errors::money)?;
    let (converted_total, _) = convert(&total, rate, rounding)?;
    if parts.iter().all(Money::is_zero) {
        return Ok(parts.iter().map(|_| Money::zero(rate.to)).collect());
    }
    // Positive and negative parts are allocated separately so each keeps its sign.
    let pos: Vec<Decimal> = parts.iter().map(|p| p.amount.max(Decimal::ZERO)).collect();
    let neg: Vec<Decimal> = parts
        .iter()
        .map(|p| (-p.amount).max(Decimal::ZERO))
        .collect();
    let checked_sum = |v: &[Decimal]| {
        v.iter()
            .try_fold(Decimal::ZERO, |acc, d| acc.checked_add(*d))
            .ok_or(MoneyError::Overflow)
            .map_err(errors::money)
    };
    let pos_total = checked_sum(&pos)?;
    let neg_total = checked_sum(&neg)?;
    let conv = |d: Decimal| -> Result<Money, Error> {
        Ok(convert(&Money::new(d, rate.from), rate, rounding)?.0)
    };
    // Convert the larger side by rounding and derive the smaller so the sum is exact.
    let (pos_conv, neg_conv) = if pos_total >= neg_total {
        let n = conv(neg_total)?;
        (converted_total.checked_add(&n).map_err(errors::money)?, n)
    } else {
        let p = conv(pos_total)?;
        (p, p.checked_sub(&converted_total).map_err(errors::money)?)
    };
    let alloc = |m: Money, w: &[Decimal]| -> Result<Vec<Money>, Error> {
        if w.iter().all(Decimal::is_zero) {
            Ok(w.iter().map(|_| Money::zero(rate.to)).collect())
        } else {
            m.allocate(w).map_err(errors::money)
        }
    };
    let p = alloc(pos_conv, &pos)?;
    let n = alloc(neg_conv, &neg)?;
    p.into_iter()
        .zip(n)
        .map(|(a, b)| a.checked_sub(&b).map_err(errors::money))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn csv_rates_latest_on_or_before() -> Result<(), Error> {
        let csv = "date,from,to,rate,source\n2026-01-30,USD,GBP,0.7900,ECB\n2026-02-02,USD,GBP,0.7950,ECB\n";
        let rates = InMemoryRates::from_csv_reader(csv.as_bytes())?;
        let r = rates.rate(Currency::USD, Currency::GBP, d(2026, 2, 1))?;
        assert_eq!(
            (r.rate, r.as_of, r.source.as_str()),
            (dec!(0.7900), d(2026, 1, 30), "ECB")
        );
        assert!(
            rates
                .rate(Currency::USD, Currency::GBP, d(2026, 1, 1))
                .is_err()
        );
        assert!(
            rates
                .rate(Currency::GBP, Currency::USD, d(2026, 2, 5))
                .is_err()
        );
        assert_eq!(
            rates
                .rate(Currency::CNY, Currency::CNY, d(2026, 1, 1))?
                .rate,
            Decimal::ONE
        );
        Ok(())
    }

    #[test]
    fn conversion_rounds_to_target_minor_unit() -> Result<(), Error> {
        let rate = FxRate {
            from: Currency::USD,
            to: Currency::JPY,
            rate: dec!(151.237),
            as_of: d(2026, 2, 1),
            source: "test".into(),
        };
        let (m, fx) = convert(
            &Money::new(dec!(10.01), Currency::USD),
            &rate,
            Rounding::HalfUp,
        )?;
        assert_eq!(m, Money::new(dec!(1514), Currency::JPY));
        assert_eq!(fx.original.amount, dec!(10.01));
        let parts = [
            Money::new(dec!(0.01), Currency::USD),
            Money::new(dec!(0.01), Currency::USD),
            Money::new(dec!(-0.01), Currency::USD),
        ];
        let conv = convert_parts(&parts, &rate, Rounding::HalfEven)?;
        let sum = Money::sum(Currency::JPY, &conv)?;
        assert_eq!(
            sum,
            convert(
                &Money::new(dec!(0.01), Currency::USD),
                &rate,
                Rounding::HalfEven
            )?
            .0
        );
        Ok(())
    }
}
