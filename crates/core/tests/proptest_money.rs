//! Property tests of money arithmetic, allocation and rounding.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use marketsync_core::{Currency, Money, MoneyError, Rounding};
use proptest::prelude::*;
use rust_decimal::Decimal;

/// Currencies covering every minor unit the model meets: JPY (0), CNY/USD/EUR (2), KWD (3),
/// CLF (4).
fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![
        Just(Currency::JPY),
        Just(Currency::CNY),
        Just(Currency::USD),
        Just(Currency::EUR),
        Just(Currency::KWD),
        Just(Currency::new("CLF").unwrap()),
    ]
}

/// A rounded amount in a currency (±10^13 minor units).
fn money() -> impl Strategy<Value = Money> {
    (currency(), -10_000_000_000_000_i64..10_000_000_000_000)
        .prop_map(|(c, minor)| Money::from_minor(minor, c))
}

/// An unrounded amount: up to 10 decimal places.
fn raw_money() -> impl Strategy<Value = Money> {
    (
        currency(),
        -1_000_000_000_000_i64..1_000_000_000_000,
        0_u32..=10,
    )
        .prop_map(|(c, n, scale)| Money::new(Decimal::new(n, scale), c))
}

fn rounding() -> impl Strategy<Value = Rounding> {
    prop_oneof![
        Just(Rounding::HalfEven),
        Just(Rounding::HalfUp),
        Just(Rounding::HalfDown),
        Just(Rounding::TowardZero),
        Just(Rounding::AwayFromZero),
        Just(Rounding::Floor),
        Just(Rounding::Ceiling),
    ]
}

/// Non-negative weights, at least one positive, up to three decimals.
fn weights() -> impl Strategy<Value = Vec<Decimal>> {
    prop::collection::vec((0_i64..1_000_000, 0_u32..=3), 1..12)
        .prop_map(|ws| {
            ws.into_iter()
                .map(|(n, s)| Decimal::new(n, s))
                .collect::<Vec<_>>()
        })
        .prop_filter("weights must not all be zero", |ws| {
            ws.iter().any(|w| !w.is_zero())
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mixed_currencies_always_error(a in money(), b in money()) {
        prop_assume!(a.currency != b.currency);
        let mismatch = |r: Result<_, MoneyError>| matches!(r, Err(MoneyError::CurrencyMismatch { .. }));
        prop_assert!(mismatch(a.checked_add(&b).map(|_| ())));
        prop_assert!(mismatch(a.checked_sub(&b).map(|_| ())));
        prop_assert!(mismatch(a.checked_cmp(&b).map(|_| ())));
        prop_assert!(mismatch(Money::sum(a.currency, [&a, &b]).map(|_| ())));
    }

    #[test]
    fn add_then_sub_returns_the_original(a in money(), minor in -10_000_000_000_000_i64..10_000_000_000_000) {
        let b = Money::from_minor(minor, a.currency);
        let sum = a.checked_add(&b).unwrap();
        prop_assert_eq!(sum.checked_sub(&b).unwrap(), a);
        prop_assert_eq!(sum.checked_sub(&a).unwrap(), b);
        prop_assert_eq!(a.checked_add(&b).unwrap(), b.checked_add(&a).unwrap());
        prop_assert_eq!(a.checked_sub(&a).unwrap(), Money::zero(a.currency));
        prop_assert_eq!(a.neg().neg(), a);
        prop_assert_eq!(a.checked_cmp(&sum).unwrap(), Decimal::ZERO.cmp(&b.amount));
    }

    #[test]
    fn allocation_sums_exactly_and_stays_within_one_minor_unit(total in money(), ws in weights()) {
        let parts = total.allocate(&ws).unwrap();
        prop_assert_eq!(parts.len(), ws.len());
        prop_assert_eq!(Money::sum(total.currency, &parts).unwrap(), total);
        let weight_sum: Decimal = ws.iter().sum();
        let unit = total.currency.minor_unit();
        for (part, w) in parts.iter().zip(&ws) {
            prop_assert_eq!(part.currency, total.currency);
            prop_assert!(part.is_rounded(), "{} not rounded", part);
            let exact = total.amount * *w / weight_sum;
            prop_assert!((part.amount - exact).abs() <= unit,
                "part {} is more than one minor unit from its exact share {}", part, exact);
            // Parts carry the sign of the total; a zero weight gets nothing.
            if total.is_negative() {
                prop_assert!(!part.amount.is_sign_positive() || part.is_zero());
            } else {
                prop_assert!(!part.is_negative());
            }
            if w.is_zero() {
                prop_assert!(part.is_zero());
            }
        }
    }

    #[test]
    fn allocation_is_deterministic_and_symmetric_under_negation(total in money(), ws in weights()) {
        let a = total.allocate(&ws).unwrap();
        prop_assert_eq!(&a, &total.allocate(&ws).unwrap());
        let neg: Vec<Money> = total.neg().allocate(&ws).unwrap();
        let back: Vec<Money> = neg.iter().map(Money::neg).collect();
        prop_assert_eq!(a, back);
    }

    #[test]
    fn allocation_refuses_unrounded_totals_and_bad_weights(m in raw_money()) {
        if !m.is_rounded() {
            prop_assert!(matches!(m.allocate(&[Decimal::ONE]), Err(MoneyError::NotRounded(_))));
        }
        let r = m.round(Rounding::HalfEven);
        prop_assert!(matches!(r.allocate(&[]), Err(MoneyError::InvalidWeights(_))));
        prop_assert!(matches!(r.allocate(&[Decimal::ZERO]), Err(MoneyError::InvalidWeights(_))));
        prop_assert!(matches!(r.allocate(&[Decimal::ONE, -Decimal::ONE]), Err(MoneyError::InvalidWeights(_))));
    }

    #[test]
    fn rounding_is_bounded_and_directed(m in raw_money(), r in rounding()) {
        let rounded = m.round(r);
        let unit = m.currency.minor_unit();
        let diff = rounded.amount - m.amount;
        prop_assert!(rounded.is_rounded());
        prop_assert_eq!(rounded.currency, m.currency);
        prop_assert_eq!(rounded.round(r), rounded, "rounding is idempotent");
        match r {
            Rounding::HalfEven | Rounding::HalfUp | Rounding::HalfDown => {
                prop_assert!(diff.abs() * Decimal::TWO <= unit, "{} → {} off by more than half a unit", m, rounded);
            }
            _ => prop_assert!(diff.abs() < unit, "{} → {} off by a whole unit", m, rounded),
        }
        match r {
            Rounding::Floor => prop_assert!(rounded.amount <= m.amount),
            Rounding::Ceiling => prop_assert!(rounded.amount >= m.amount),
            Rounding::TowardZero => prop_assert!(rounded.amount.abs() <= m.amount.abs()),
            Rounding::AwayFromZero => prop_assert!(rounded.amount.abs() >= m.amount.abs()),
            _ => {}
        }
        if m.is_rounded() {
            prop_assert_eq!(rounded, m, "a rounded amount is unchanged");
        }
    }

    #[test]
    fn half_strategies_differ_only_on_exact_midpoints(c in currency(), n in -1_000_000_i64..1_000_000) {
        // n + 0.5 minor units: a midpoint.
        let unit = c.minor_unit();
        let m = Money::new(Decimal::from(n) * unit + unit / Decimal::TWO, c);
        let up = m.round(Rounding::HalfUp).amount;
        let down = m.round(Rounding::HalfDown).amount;
        let even = m.round(Rounding::HalfEven).amount;
        prop_assert_eq!((up - down).abs(), unit);
        prop_assert!(up.abs() > down.abs());
        prop_assert!(even == up || even == down);
        prop_assert_eq!((even / unit) % Decimal::TWO, Decimal::ZERO);
    }

    #[test]
    fn minor_units_round_trip(c in currency(), minor in any::<i64>()) {
        let m = Money::from_minor(minor, c);
        prop_assert!(m.is_rounded());
        prop_assert_eq!(m.to_minor().unwrap(), minor);
    }

    #[test]
    fn to_minor_then_from_minor_round_trips(m in money()) {
        let minor = m.to_minor().unwrap();
        prop_assert_eq!(Money::from_minor(minor, m.currency), m);
        // Trailing zeros do not matter: 1.50 and 1.5000 are the same amount of minor units.
        let padded = Money::new(m.amount * Decimal::new(100, 2), m.currency);
        prop_assert_eq!(padded.to_minor().unwrap(), minor);
    }

    #[test]
    fn unrounded_amounts_have_no_minor_form(m in raw_money()) {
        prop_assert_eq!(m.to_minor().is_ok(), m.is_rounded());
    }

    #[test]
    fn json_and_parse_round_trip(m in raw_money()) {
        let json = serde_json::to_value(m).unwrap();
        prop_assert!(json["amount"].is_string());
        let back: Money = serde_json::from_value(json).unwrap();
        prop_assert_eq!(back, m);
        prop_assert_eq!(back.amount.scale(), m.amount.scale());
        prop_assert_eq!(Money::parse(&m.amount.to_string(), m.currency).unwrap(), m);
    }
}

#[test]
fn allocation_examples_in_each_minor_unit() {
    let thirds = [Decimal::ONE, Decimal::ONE, Decimal::ONE];
    let parts = Money::from_minor(100, Currency::JPY)
        .allocate(&thirds)
        .unwrap();
    let minors: Vec<i64> = parts.iter().map(|m| m.to_minor().unwrap()).collect();
    assert_eq!(minors, vec![34, 33, 33]);
    let parts = Money::from_minor(-1000, Currency::KWD)
        .allocate(&thirds)
        .unwrap();
    let minors: Vec<i64> = parts.iter().map(|m| m.to_minor().unwrap()).collect();
    assert_eq!(minors, vec![-334, -333, -333]);
}
