//! Property tests of journal balance.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::NaiveDate;
use marketsync_core::{Currency, JournalEntry, JournalError, JournalLine, Money};
use proptest::prelude::*;
use proptest::sample::Index;
use rust_decimal::Decimal;

fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![
        Just(Currency::JPY),
        Just(Currency::CNY),
        Just(Currency::USD),
        Just(Currency::KWD),
    ]
}

/// Debit amounts (in minor units, at least 10 000 so every credit share stays positive after a
/// one-unit perturbation) and credit weights.
fn side() -> impl Strategy<Value = (Vec<i64>, Vec<u32>)> {
    (
        prop::collection::vec(10_000_i64..1_000_000_000, 1..6),
        prop::collection::vec(1_u32..=100, 1..8),
    )
}

/// Balanced lines in one currency: the debits, and their total allocated over the credits.
fn balanced_lines(currency: Currency, debits: &[i64], weights: &[u32]) -> Vec<JournalLine> {
    let total: i64 = debits.iter().sum();
    let credit_parts = Money::from_minor(total, currency)
        .allocate(
            &weights
                .iter()
                .map(|w| Decimal::from(*w))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    debits
        .iter()
        .enumerate()
        .map(|(i, d)| JournalLine::debit(format!("1{i:03}"), Money::from_minor(*d, currency)))
        .chain(
            credit_parts
                .into_iter()
                .enumerate()
                .map(|(i, m)| JournalLine::credit(format!("4{i:03}"), m)),
        )
        .collect()
}

fn entry(lines: Vec<JournalLine>) -> JournalEntry {
    JournalEntry {
        entity: "CN01".into(),
        date: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
        memo: "property test".into(),
        lines,
        reference: None,
    }
}

fn bump(line: &mut JournalLine, up: bool) {
    let unit = Money::from_minor(1, line.amount.currency);
    line.amount = if up {
        line.amount.checked_add(&unit).unwrap()
    } else {
        line.amount.checked_sub(&unit).unwrap()
    };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_balanced_journals_validate(c in currency(), (debits, weights) in side(), rot in 0_usize..16) {
        let mut lines = balanced_lines(c, &debits, &weights);
        let n = lines.len();
        lines.rotate_left(rot % n);
        let e = entry(lines);
        prop_assert_eq!(e.validate(), Ok(()));
        let totals = e.totals().unwrap();
        prop_assert_eq!(totals.len(), 1);
        let (dr, cr) = totals[&c];
        prop_assert_eq!(dr, cr);
        prop_assert_eq!(dr.to_minor().unwrap(), debits.iter().sum::<i64>());
    }

    #[test]
    fn one_minor_unit_anywhere_unbalances(
        c in currency(),
        (debits, weights) in side(),
        which in any::<Index>(),
        up in any::<bool>(),
    ) {
        let mut lines = balanced_lines(c, &debits, &weights);
        let i = which.index(lines.len());
        bump(&mut lines[i], up);
        let result = entry(lines).validate();
        prop_assert!(
            matches!(result, Err(JournalError::Unbalanced { currency, .. }) if currency == c),
            "{:?}", result
        );
    }

    #[test]
    fn multi_currency_entries_balance_per_currency(
        (a, b) in (currency(), currency()).prop_filter("two currencies", |(a, b)| a != b),
        (da, wa) in side(),
        (db, wb) in side(),
        which in any::<Index>(),
        up in any::<bool>(),
    ) {
        let first = balanced_lines(a, &da, &wa);
        let second = balanced_lines(b, &db, &wb);
        let mut lines: Vec<JournalLine> = first.into_iter().chain(second).collect();
        prop_assert_eq!(entry(lines.clone()).validate(), Ok(()));
        prop_assert_eq!(entry(lines.clone()).totals().unwrap().len(), 2);

        // Breaking one currency is reported in that currency.
        let i = which.index(lines.len());
        let broken = lines[i].amount.currency;
        bump(&mut lines[i], up);
        let result = entry(lines).validate();
        prop_assert!(
            matches!(result, Err(JournalError::Unbalanced { currency, .. }) if currency == broken),
            "{:?}", result
        );
    }

    #[test]
    fn equal_numbers_in_different_currencies_do_not_balance(
        (a, b) in (currency(), currency()).prop_filter("two currencies", |(a, b)| a != b),
        minor in 1_i64..1_000_000_000,
    ) {
        // The same number of minor units on each side, but in different currencies.
        let e = entry(vec![
            JournalLine::debit("1002", Money::from_minor(minor, a)),
            JournalLine::credit("4001", Money::from_minor(minor, b)),
        ]);
        prop_assert!(matches!(e.validate(), Err(JournalError::Unbalanced { .. })), "{:?}", e.validate());
    }
}
