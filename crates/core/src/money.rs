//! Money: an exact decimal amount in an ISO 4217 currency.
//!
//! Amounts are [`rust_decimal::Decimal`] (never `f64`) and serialize as JSON strings
//! (`{"amount":"12.30","currency":"CNY"}`). Arithmetic is checked: adding two amounts in
//! different currencies is an error, not a silent conversion. Rounding is always explicit:
//! [`Money::round`] rounds to the currency's minor unit with the [`Rounding`] strategy the
//! caller names, and [`Money::allocate`] splits an amount across weights without creating or
//! losing a minor unit (largest-remainder method).
//!
//! Parsing is exact: [`parse_decimal_exact`] and [`Money::parse`] refuse an amount they could
//! only store rounded (more than [`MAX_SIGNIFICANT_DIGITS`] significant digits), and
//! [`Money::parse_settled`] also refuses digits below the currency's minor unit.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Active ISO 4217 codes whose minor unit is not 2 decimal places.
const NON_TWO_DECIMAL: &[(&str, u32)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLF", 4),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("UYI", 0),
    ("UYW", 4),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

/// Active ISO 4217 codes with a 2-decimal minor unit.
const TWO_DECIMAL: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHE", "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT",
    "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK",
    "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR",
    "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "USN", "UYU",
    "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
];

/// An ISO 4217 currency, validated against the table of active codes.
///
/// `Copy`, three ASCII letters; serialized as the code (`"CNY"`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    minor_units: u8,
}

impl Currency {
    /// Chinese yuan renminbi.
    pub const CNY: Currency = Currency::known(*b"CNY", 2);
    /// US dollar.
    pub const USD: Currency = Currency::known(*b"USD", 2);
    /// Euro.
    pub const EUR: Currency = Currency::known(*b"EUR", 2);
    /// Pound sterling.
    pub const GBP: Currency = Currency::known(*b"GBP", 2);
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency::known(*b"JPY", 0);
    /// Hong Kong dollar.
    pub const HKD: Currency = Currency::known(*b"HKD", 2);
    /// Canadian dollar.
    pub const CAD: Currency = Currency::known(*b"CAD", 2);
    /// Kuwaiti dinar (three decimals).
    pub const KWD: Currency = Currency::known(*b"KWD", 3);

    const fn known(code: [u8; 3], minor_units: u8) -> Currency {
        Currency { code, minor_units }
    }

    /// Looks up an ISO 4217 code (case-insensitive). Unknown or malformed codes are an error.
    pub fn new(code: &str) -> Result<Currency, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        let bytes = upper.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(MoneyError::UnknownCurrency(code.to_owned()));
        }
        let minor = if let Some((_, m)) = NON_TWO_DECIMAL.iter().find(|(c, _)| *c == upper) {
            *m
        } else if TWO_DECIMAL.contains(&upper.as_str()) {
            2
        } else {
            return Err(MoneyError::UnknownCurrency(code.to_owned()));
        };
        let code = [bytes[0], bytes[1], bytes[2]];
        Ok(Currency {
            code,
            minor_units: minor as u8,
        })
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // The bytes were validated as ASCII uppercase letters on construction.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Number of decimal places of the currency's minor unit (CNY 2, JPY 0, KWD 3).
    pub fn minor_units(&self) -> u32 {
        u32::from(self.minor_units)
    }

    /// The smallest representable amount (0.01 for CNY, 1 for JPY).
    pub fn minor_unit(&self) -> Decimal {
        Decimal::new(1, self.minor_units())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::new(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Currency::new(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Currency {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Currency".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[A-Z]{3}$",
            "description": "ISO 4217 alphabetic currency code."
        })
    }
}

/// How to round to a currency's minor unit. Always named by the rule that rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Half to even (banker's rounding).
    HalfEven,
    /// Half away from zero (commercial rounding, the usual choice in China and the EU).
    HalfUp,
    /// Half toward zero.
    HalfDown,
    /// Toward zero (truncate).
    TowardZero,
    /// Away from zero.
    AwayFromZero,
    /// Toward negative infinity.
    Floor,
    /// Toward positive infinity.
    Ceiling,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfDown => RoundingStrategy::MidpointTowardZero,
            Rounding::TowardZero => RoundingStrategy::ToZero,
            Rounding::AwayFromZero => RoundingStrategy::AwayFromZero,
            Rounding::Floor => RoundingStrategy::ToNegativeInfinity,
            Rounding::Ceiling => RoundingStrategy::ToPositiveInfinity,
        }
    }
}

/// Errors of money arithmetic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// Two amounts in different currencies were combined.
    #[error("currency mismatch: {left} vs {right}")]
    CurrencyMismatch {
        /// Currency of the left operand.
        left: Currency,
        /// Currency of the right operand.
        right: Currency,
    },
    /// The result does not fit a `Decimal`.
    #[error("decimal overflow")]
    Overflow,
    /// Not an active ISO 4217 code.
    #[error("unknown currency code {0:?}")]
    UnknownCurrency(String),
    /// An allocation was asked with no weights, negative weights or weights summing to zero.
    #[error("invalid allocation weights: {0}")]
    InvalidWeights(&'static str),
    /// An amount has more decimal places than the currency's minor unit allows.
    #[error("{0} is not rounded to the minor unit of its currency")]
    NotRounded(Money),
    /// A string could not be parsed as a decimal amount.
    #[error("invalid amount {0:?}")]
    InvalidAmount(String),
    /// A well-formed decimal with more digits than a `Decimal` holds exactly (more than
    /// [`MAX_SIGNIFICANT_DIGITS`] significant digits or 28 decimals): refused, not rounded.
    #[error("amount {0:?} has more digits than can be represented exactly")]
    Unrepresentable(String),
}

/// The JSON Schema of a [`Decimal`] as marketsync writes it: a string of digits with an optional
/// sign and fraction, never a JSON number (which would lose digits in many JSON parsers).
pub(crate) fn decimal_string_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": DECIMAL_PATTERN,
        "description": "A decimal number written as a JSON string, e.g. \"12.30\"."
    })
}

/// [`decimal_string_schema`] or `null`, for `Option<Decimal>` fields.
pub(crate) fn optional_decimal_string_schema(
    _: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    schemars::json_schema!({
        "type": ["string", "null"],
        "pattern": DECIMAL_PATTERN,
        "description": "A decimal number written as a JSON string, e.g. \"0.13\", or null."
    })
}

/// The shape of a serialized [`Decimal`] (rust_decimal never writes an exponent).
const DECIMAL_PATTERN: &str = "^-?[0-9]+(\\.[0-9]+)?$";

/// The most significant digits an exactly parsed amount may have. A `Decimal` holds 28 digits
/// exactly (a 96-bit mantissa holds every 28-digit integer but not every 29-digit one); a longer
/// amount could only be stored rounded, so it is refused.
pub const MAX_SIGNIFICANT_DIGITS: usize = 28;

/// Parses a plain decimal string exactly: optional surrounding whitespace, an optional leading
/// `-`, ASCII digits, optionally `.` and at least one more digit. No `+`, exponent, `_`
/// separators, inner spaces or empty parts. More than [`MAX_SIGNIFICANT_DIGITS`] significant
/// digits (leading zeros do not count; trailing fraction zeros do) or more than 28 decimals is
/// [`MoneyError::Unrepresentable`]: the value would have to be rounded to fit a `Decimal`.
/// Anything else that is not such a decimal is [`MoneyError::InvalidAmount`].
///
/// ```
/// use marketsync_core::money::parse_decimal_exact;
/// assert_eq!(parse_decimal_exact(" 12.30 ").unwrap().to_string(), "12.30");
/// assert!(parse_decimal_exact("1e3").is_err());
/// assert!(parse_decimal_exact("1_000").is_err());
/// assert!(parse_decimal_exact("1234567890.1234567890123456789").is_err()); // 29 digits
/// ```
pub fn parse_decimal_exact(s: &str) -> Result<Decimal, MoneyError> {
    let invalid = || MoneyError::InvalidAmount(s.chars().take(64).collect());
    let t = s.trim();
    let unsigned = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid());
    }
    let frac = frac.unwrap_or("");
    let too_long = || MoneyError::Unrepresentable(s.chars().take(64).collect());
    if frac.len() > 28 {
        return Err(too_long());
    }
    let int_significant = int.trim_start_matches('0');
    let significant = if int_significant.is_empty() {
        frac.trim_start_matches('0').len()
    } else {
        int_significant.len().saturating_add(frac.len())
    };
    if significant > MAX_SIGNIFICANT_DIGITS {
        return Err(too_long());
    }
    // Parse a canonical spelling (no leading zeros) so a payload of a million zeros costs
    // nothing more than its scan.
    let mut canonical = String::with_capacity(significant.saturating_add(3));
    if t.starts_with('-') {
        canonical.push('-');
    }
    canonical.push_str(if int_significant.is_empty() {
        "0"
    } else {
        int_significant
    });
    if !frac.is_empty() {
        canonical.push('.');
        canonical.push_str(frac);
    }
    Decimal::from_str_exact(&canonical).map_err(|_| invalid())
}

/// Deserializes a [`Decimal`] exactly: a string through [`parse_decimal_exact`], an integer as
/// is, a float through its shortest round-trip text (so `1e30` is refused, not rounded).
fn deserialize_exact<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    struct Exact;
    impl serde::de::Visitor<'_> for Exact {
        type Value = Decimal;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal amount as a string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Decimal, E> {
            parse_decimal_exact(v).map_err(E::custom)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Decimal, E> {
            parse_decimal_exact(&v.to_string()).map_err(E::custom)
        }
    }
    d.deserialize_any(Exact)
}

/// An exact amount in one currency.
///
/// A decimal, never a float; arithmetic is checked (mixed currencies and overflow are errors,
/// not panics), and rounding to the currency's minor unit is always by a named rule:
///
/// ```
/// use marketsync_core::{Currency, Money, MoneyError, Rounding};
///
/// let price = Money::parse("19.99", Currency::EUR)?;
/// let two = price.checked_add(&price)?;
/// assert_eq!(two.to_string(), "39.98 EUR");
/// assert_eq!(two.to_minor()?, 3998);
///
/// // Mixing currencies is an error, not a silent sum.
/// let yen = Money::from_minor(500, Currency::JPY);
/// assert!(matches!(price.checked_add(&yen), Err(MoneyError::CurrencyMismatch { .. })));
///
/// // A third of it, rounded by an explicit rule.
/// let third = price.checked_mul("0.3333".parse().unwrap())?.round(Rounding::HalfEven);
/// assert_eq!(third, Money::parse("6.66", Currency::EUR)?);
/// # Ok::<(), MoneyError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[schemars(description = "An exact amount in one currency.")]
pub struct Money {
    /// The amount, serialized as a JSON string to keep every digit.
    // Read back exactly (`parse_decimal_exact`): an amount that could only be stored rounded is
    // refused. (A plain comment: a doc comment here would change the exported schema.)
    #[schemars(schema_with = "decimal_string_schema")]
    #[serde(deserialize_with = "deserialize_exact")]
    pub amount: Decimal,
    /// ISO 4217 currency.
    pub currency: Currency,
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

impl Money {
    /// An amount in a currency. The amount is kept exactly as given; call [`Money::round`]
    /// or [`Money::ensure_rounded`] where the minor unit matters.
    pub fn new(amount: Decimal, currency: Currency) -> Money {
        Money { amount, currency }
    }

    /// Zero in a currency.
    pub fn zero(currency: Currency) -> Money {
        Money::new(Decimal::ZERO, currency)
    }

    /// Parses a decimal string such as a platform's `"113.50"` yuan field, exactly.
    ///
    /// See [`parse_decimal_exact`]: a plain decimal (optional `-`, digits, optional fraction) of
    /// at most [`MAX_SIGNIFICANT_DIGITS`] significant digits; anything that could only be read
    /// by rounding is refused, never silently rounded. The amount may have more decimals than
    /// the currency's minor unit (a unit price or a rate-derived figure); use
    /// [`Money::parse_settled`] for amounts that have actually moved.
    pub fn parse(amount: &str, currency: Currency) -> Result<Money, MoneyError> {
        parse_decimal_exact(amount).map(|d| Money::new(d, currency))
    }

    /// Parses an amount that has actually been paid or booked (a total, a refund, a fee, a
    /// payout): exact as [`Money::parse`], and refused with [`MoneyError::NotRounded`] when it
    /// has digits below the currency's minor unit (`"10.005"` USD, `"100.5"` JPY). Trailing
    /// zeros are fine (`"10.500"` USD is 10.50).
    pub fn parse_settled(amount: &str, currency: Currency) -> Result<Money, MoneyError> {
        let m = Money::parse(amount, currency)?;
        m.ensure_rounded()?;
        Ok(m)
    }

    /// Builds from an integer count of minor units (fen, cents): `from_minor(1999, CNY)` is 19.99.
    pub fn from_minor(minor: i64, currency: Currency) -> Money {
        Money::new(Decimal::new(minor, currency.minor_units()), currency)
    }

    /// The amount as an integer count of minor units. Fails if it is not rounded or overflows.
    pub fn to_minor(&self) -> Result<i64, MoneyError> {
        self.ensure_rounded()?;
        let scaled = self
            .amount
            .checked_mul(Decimal::from(10_i64.pow(self.currency.minor_units())))
            .ok_or(MoneyError::Overflow)?;
        i64::try_from(scaled.trunc()).map_err(|_| MoneyError::Overflow)
    }

    /// True when the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// True when the amount is below zero.
    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`; refuses mixed currencies.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// `self - other`; refuses mixed currencies.
    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// `self × factor` (a quantity or a rate). The result is not rounded.
    pub fn checked_mul(&self, factor: Decimal) -> Result<Money, MoneyError> {
        let amount = self
            .amount
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// Builds from a count of minor units, refusing `i64::MIN` (whose negation overflows
    /// `i64`); use it where the count comes from a payload and may later be negated.
    pub fn from_minor_checked(minor: i64, currency: Currency) -> Result<Money, MoneyError> {
        if minor == i64::MIN {
            return Err(MoneyError::Overflow);
        }
        Ok(Money::from_minor(minor, currency))
    }

    /// The negated amount (a `Decimal` negation never overflows: it flips the sign bit).
    pub fn neg(&self) -> Money {
        Money::new(-self.amount, self.currency)
    }

    /// The absolute amount.
    pub fn abs(&self) -> Money {
        Money::new(self.amount.abs(), self.currency)
    }

    /// Compares two amounts of the same currency.
    pub fn checked_cmp(&self, other: &Money) -> Result<Ordering, MoneyError> {
        self.same_currency(other)?;
        Ok(self.amount.cmp(&other.amount))
    }

    /// Sums amounts that must all be in `currency`. An empty iterator sums to zero.
    pub fn sum<'a, I>(currency: Currency, items: I) -> Result<Money, MoneyError>
    where
        I: IntoIterator<Item = &'a Money>,
    {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(m))
    }

    /// Rounds to the currency's minor unit with the given strategy.
    pub fn round(&self, rounding: Rounding) -> Money {
        Money::new(
            self.amount
                .round_dp_with_strategy(self.currency.minor_units(), rounding.strategy()),
            self.currency,
        )
    }

    /// True when the amount has no digits below the currency's minor unit.
    pub fn is_rounded(&self) -> bool {
        self.amount.normalize().scale() <= self.currency.minor_units()
    }

    /// Errors with [`MoneyError::NotRounded`] if the amount has digits below the minor unit.
    pub fn ensure_rounded(&self) -> Result<(), MoneyError> {
        if self.is_rounded() {
            Ok(())
        } else {
            Err(MoneyError::NotRounded(*self))
        }
    }

    /// Splits this amount across `weights` by the largest-remainder method, at the currency's
    /// minor unit. The parts always sum exactly to `self` (which must be rounded); each part is
    /// within one minor unit of its exact proportional share; ties go to the earliest weight.
    ///
    /// Typical use: spreading an order-level discount or a settlement fee across order lines.
    pub fn allocate(&self, weights: &[Decimal]) -> Result<Vec<Money>, MoneyError> {
        self.ensure_rounded()?;
        if weights.is_empty() {
            return Err(MoneyError::InvalidWeights("no weights"));
        }
        if weights.iter().any(|w| w.is_sign_negative() && !w.is_zero()) {
            return Err(MoneyError::InvalidWeights("negative weight"));
        }
        let total_weight = weights
            .iter()
            .try_fold(Decimal::ZERO, |acc, w| acc.checked_add(*w))
            .ok_or(MoneyError::Overflow)?;
        if total_weight.is_zero() {
            return Err(MoneyError::InvalidWeights("weights sum to zero"));
        }
        let total_minor = self.to_minor()?;
        let sign = if total_minor < 0 { -1_i64 } else { 1 };
        let magnitude = Decimal::from(total_minor.unsigned_abs());
        let mut parts: Vec<i64> = Vec::with_capacity(weights.len());
        let mut remainders: Vec<(usize, Decimal)> = Vec::with_capacity(weights.len());
        let mut assigned: i64 = 0;
        for (i, w) in weights.iter().enumerate() {
            let exact = magnitude
                .checked_mul(*w)
                .and_then(|v| v.checked_div(total_weight))
                .ok_or(MoneyError::Overflow)?;
            let floor = exact.floor();
            let floor_i = i64::try_from(floor).map_err(|_| MoneyError::Overflow)?;
            parts.push(floor_i);
            assigned += floor_i;
            remainders.push((i, exact - floor));
        }
        let magnitude_i = i64::try_from(magnitude).map_err(|_| MoneyError::Overflow)?;
        let mut leftover = magnitude_i - assigned;
        // Largest remainder first; ties to the earliest index for determinism.
        remainders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for (i, _) in remainders.iter().cycle() {
            if leftover <= 0 {
                break;
            }
            parts[*i] += 1;
            leftover -= 1;
        }
        Ok(parts
            .into_iter()
            .map(|p| Money::from_minor(sign * p, self.currency))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(Currency::new("CNY").unwrap().minor_units(), 2);
        assert_eq!(Currency::new("jpy").unwrap().minor_units(), 0);
        assert_eq!(Currency::new("KWD").unwrap().minor_units(), 3);
        assert_eq!(Currency::new("CLF").unwrap().minor_units(), 4);
        assert!(Currency::new("ABC").is_err());
        assert!(Currency::new("US").is_err());
    }

    #[test]
    fn serializes_amount_as_string() {
        let m = Money::new(dec!(12.30), Currency::CNY);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount":"12.30","currency":"CNY"}"#);
        let back: Money = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1","currency":"ZZZ"}"#).is_err());
        // Read back exactly: 29 significant digits are refused, not rounded.
        assert!(
            serde_json::from_str::<Money>(
                r#"{"amount":"1.0000000000000000000000000001","currency":"USD"}"#
            )
            .is_err()
        );
        assert!(serde_json::from_str::<Money>(r#"{"amount":1e30,"currency":"USD"}"#).is_err());
        let n: Money = serde_json::from_str(r#"{"amount":12,"currency":"USD"}"#).unwrap();
        assert_eq!(n.amount, dec!(12));
    }

    #[test]
    fn refuses_mixed_currencies() {
        let a = Money::new(dec!(1), Currency::CNY);
        let b = Money::new(dec!(1), Currency::USD);
        assert!(matches!(
            a.checked_add(&b),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn rounds_per_currency() {
        let yen = Money::new(dec!(100.5), Currency::JPY);
        assert_eq!(yen.round(Rounding::HalfEven).amount, dec!(100));
        assert_eq!(yen.round(Rounding::HalfUp).amount, dec!(101));
        let dinar = Money::new(dec!(1.23456), Currency::KWD);
        assert_eq!(dinar.round(Rounding::HalfUp).amount, dec!(1.235));
    }

    #[test]
    fn allocates_without_losing_a_cent() {
        let total = Money::new(dec!(100.00), Currency::CNY);
        let parts = total.allocate(&[dec!(1), dec!(1), dec!(1)]).unwrap();
        let amounts: Vec<_> = parts.iter().map(|m| m.amount).collect();
        assert_eq!(amounts, vec![dec!(33.34), dec!(33.33), dec!(33.33)]);
        let neg = Money::new(dec!(-0.05), Currency::USD)
            .allocate(&[dec!(2), dec!(1)])
            .unwrap();
        assert_eq!(neg[0].amount + neg[1].amount, dec!(-0.05));
    }

    #[test]
    fn parses_exactly_or_refuses() {
        let ok = |s: &str| parse_decimal_exact(s).unwrap();
        assert_eq!(ok("12.30"), dec!(12.30));
        assert_eq!(ok(" -0.5 "), dec!(-0.5));
        assert_eq!(ok("000012"), dec!(12));
        assert_eq!(
            ok("0.0000000000000000000000000001"),
            dec!(0.0000000000000000000000000001)
        );
        // 28 significant digits: the most a Decimal holds exactly.
        assert_eq!(
            ok("9999999999999999999999999999").to_string(),
            "9999999999999999999999999999"
        );
        assert_eq!(
            ok("12345678901234.56789012345678").to_string(),
            "12345678901234.56789012345678"
        );
        for bad in [
            "",
            "-",
            ".5",
            "5.",
            "+1",
            "1e3",
            "1_000",
            "1 000",
            "--1",
            "0x10",
            "NaN",
            "1.2.3",
            // 29 significant digits: would be rounded.
            "79228162514264337593543950335",
            "1234567890.1234567890123456789",
            "0.12345678901234567890123456789",
            // more than 28 decimals
            "0.00000000000000000000000000001",
            "1e30",
        ] {
            assert!(parse_decimal_exact(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(matches!(
            Money::parse("99999999999999999999999999999.9", Currency::USD),
            Err(MoneyError::Unrepresentable(_))
        ));
        assert!(matches!(
            Money::parse("1e3", Currency::USD),
            Err(MoneyError::InvalidAmount(_))
        ));
    }

    #[test]
    fn settled_amounts_fit_the_minor_unit() {
        assert_eq!(
            Money::parse_settled("10.50", Currency::USD).unwrap().amount,
            dec!(10.50)
        );
        assert_eq!(
            Money::parse_settled("10.500", Currency::USD)
                .unwrap()
                .amount,
            dec!(10.500)
        );
        assert!(matches!(
            Money::parse_settled("10.005", Currency::USD),
            Err(MoneyError::NotRounded(_))
        ));
        assert!(matches!(
            Money::parse_settled("100.5", Currency::JPY),
            Err(MoneyError::NotRounded(_))
        ));
        assert_eq!(
            Money::parse_settled("1.234", Currency::KWD).unwrap().amount,
            dec!(1.234)
        );
        // Unit prices may carry more decimals.
        assert!(Money::parse("10.005", Currency::USD).is_ok());
    }

    #[test]
    fn from_minor_checked_refuses_the_unnegatable() {
        assert!(Money::from_minor_checked(i64::MIN, Currency::CNY).is_err());
        assert_eq!(
            Money::from_minor_checked(i64::MAX, Currency::CNY)
                .unwrap()
                .neg()
                .amount,
            -Decimal::new(i64::MAX, 2)
        );
    }

    #[test]
    fn minor_unit_conversion() {
        assert_eq!(Money::from_minor(1999, Currency::CNY).amount, dec!(19.99));
        assert_eq!(
            Money::new(dec!(19.99), Currency::CNY).to_minor().unwrap(),
            1999
        );
        assert!(Money::new(dec!(1.5), Currency::JPY).to_minor().is_err());
    }
}
