//! Hostile SuiteQL responses never panic: a deterministic mutation run over the NetSuite
//! response parsers (`document_from_rows`, `items_from_rows`, `inventory_from_rows`).
//!
//! Every mutated row set either parses into values that respect the parser's promises (positive
//! ids, non-empty SKUs and locations, quantities within ±`MAX_STOCK_QUANTITY`) or is refused
//! with a `Validation` error and a reason code. 20,000 inputs per target by default;
//! `MARKETSYNC_MUTATION_INPUTS=200000` for the long run.

use chrono::{TimeZone, Utc};
use marketsync_core::{Error, ErrorKind};
use marketsync_netsuite::normalize::{
    MAX_STOCK_QUANTITY, document_from_rows, inventory_from_rows, items_from_rows,
};
use marketsync_testkit::mutate::{self, MutationReport, Outcome, fixtures, json_rows};

const DEFAULT_INPUTS: usize = 20_000;

fn rejected(e: &Error) -> Outcome {
    if e.kind() == &ErrorKind::Validation {
        Outcome::Rejected(e.reason().to_string())
    } else {
        Outcome::Invalid(format!("not a validation error: {e}"))
    }
}

fn check(report: &MutationReport) {
    println!("{report}");
    assert_eq!(report.panics, 0, "{report}");
    assert_eq!(report.invalid_total(), 0, "{report}");
    assert!(report.valid > 0, "{report}");
    assert!(report.rejected_total() > 0, "{report}");
}

#[test]
fn transaction_rows_never_panic() {
    let report = mutate::run(
        "netsuite document_from_rows",
        &fixtures::netsuite_transaction_rows(),
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x4e01,
        |bytes| {
            let Some(rows) = json_rows(bytes) else {
                return Outcome::Rejected("parse:malformed_payload".into());
            };
            match document_from_rows(rows) {
                Ok(Some(doc)) if doc.id.as_str().parse::<i64>().is_ok_and(|id| id > 0) => {
                    Outcome::Valid
                }
                Ok(Some(doc)) => Outcome::Invalid(format!("document id {:?}", doc.id.as_str())),
                Ok(None) => Outcome::Valid,
                Err(e) => rejected(&e),
            }
        },
    );
    check(&report);
}

#[test]
fn item_rows_never_panic() {
    let report = mutate::run(
        "netsuite items_from_rows",
        &fixtures::netsuite_item_rows(),
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x4e02,
        |bytes| {
            let Some(rows) = json_rows(bytes) else {
                return Outcome::Rejected("parse:malformed_payload".into());
            };
            match items_from_rows(rows) {
                Ok(items) => {
                    let bad = items.iter().find(|(sku, id)| {
                        sku.as_str().trim().is_empty() || !id.parse::<i64>().is_ok_and(|id| id > 0)
                    });
                    match bad {
                        None => Outcome::Valid,
                        Some((sku, id)) => Outcome::Invalid(format!("item {sku:?} → {id:?}")),
                    }
                }
                Err(e) => rejected(&e),
            }
        },
    );
    check(&report);
}

#[test]
fn inventory_rows_never_panic() {
    let as_of = Utc
        .with_ymd_and_hms(2024, 3, 18, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let report = mutate::run(
        "netsuite inventory_from_rows",
        &fixtures::netsuite_inventory_rows(),
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x4e03,
        |bytes| {
            let Some(rows) = json_rows(bytes) else {
                return Outcome::Rejected("parse:malformed_payload".into());
            };
            match inventory_from_rows(rows, as_of) {
                Ok(positions) => {
                    let in_range =
                        |q: i64| q.checked_abs().is_some_and(|a| a <= MAX_STOCK_QUANTITY);
                    let bad = positions.iter().find(|p| {
                        p.sku.as_str().trim().is_empty()
                            || p.location.as_str().is_empty()
                            || !in_range(p.on_hand)
                            || !in_range(p.reserved)
                    });
                    match bad {
                        None => Outcome::Valid,
                        Some(p) => Outcome::Invalid(format!("position {p:?}")),
                    }
                }
                Err(e) => rejected(&e),
            }
        },
    );
    check(&report);
}
