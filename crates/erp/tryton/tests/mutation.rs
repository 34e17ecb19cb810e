//! Hostile JSON-RPC answers never panic the Tryton adapter's readers: a deterministic mutation
//! run over the response envelope, the error table ([`wire::parse_error`]) and the value readers
//! (decimals, dates, stock quantities).
//!
//! Every mutated answer either reads into values that keep the readers' promises (exact
//! decimals, whole stock quantities within ±`MAX_STOCK_QUANTITY`, an error with a kind) or is
//! refused. 20,000 inputs by default; `MARKETSYNC_MUTATION_INPUTS=200000` for the long run.

use marketsync_testkit::mutate::{self, Outcome};
use marketsync_tryton::wire::{
    self, MAX_STOCK_QUANTITY, RpcResponse, parse_date, parse_decimal, parse_stock_quantity,
};
use serde_json::{Value, json};

const DEFAULT_INPUTS: usize = 20_000;

/// Answers shaped like trytond 8.2's: a search_read of products with stock, a move read with
/// Decimal and date objects, and the exception envelopes the error table knows.
fn seeds() -> Vec<Vec<u8>> {
    let answers = [
        json!({"id": 1, "result": [
            {"id": 12, "code": "SKU-0001", "quantity": 120.0, "forecast_quantity": 100.0},
            {"id": 13, "code": "SKU-0002", "quantity": 0.0, "forecast_quantity": -4.0}
        ]}),
        json!({"id": 2, "result": [{"id": 7, "number": "1", "state": "posted",
            "date": {"__class__": "date", "year": 2026, "month": 2, "day": 1},
            "debit": {"__class__": "Decimal", "decimal": "113.00"},
            "marketsync_key": "ms1-0f3c"}]}),
        json!({"id": 3, "error": ["UserError", ["Tryton has no open period", "duplicate_key ids=7,9", ""]]}),
        json!({"id": 4, "error": ["UserWarning", ["w", "The move is not balanced", ""]]}),
        json!({"id": 5, "error": ["ConcurrencyException", "Records were modified in the meanwhile"]}),
        json!({"id": 6, "error": ["LoginException", ["password", "Password", "password"]]}),
        json!({"id": 7, "error": ["Traceback (most recent call last): ...", "KeyError: 'x'"]}),
    ];
    answers
        .iter()
        .map(|a| serde_json::to_vec(a).unwrap_or_default())
        .collect()
}

fn check_values(v: &Value) -> Result<(), String> {
    match v {
        Value::Array(items) => items.iter().try_for_each(check_values),
        Value::Object(map) => {
            // The readers either refuse a value or give one that keeps their promises.
            if let Some(d) = parse_decimal(v) {
                let text = d.to_string();
                if text.len() > 40 {
                    return Err(format!("decimal {text}"));
                }
            }
            let _ = parse_date(v);
            for field in ["quantity", "forecast_quantity"] {
                if let Ok(q) = parse_stock_quantity(map.get(field), field) {
                    if q.checked_abs().is_none_or(|a| a > MAX_STOCK_QUANTITY) {
                        return Err(format!("{field} {q}"));
                    }
                }
            }
            map.values().try_for_each(check_values)
        }
        _ => Ok(()),
    }
}

#[test]
fn hostile_rpc_answers_never_panic() {
    let report = mutate::run(
        "tryton rpc answers",
        &seeds(),
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x7e01,
        |bytes| {
            let Ok(answer) = serde_json::from_slice::<RpcResponse>(bytes) else {
                return Outcome::Rejected("parse:malformed_payload".into());
            };
            if let Some(err) = answer.error.as_ref() {
                let e = wire::parse_error(200, Some(err), None, "model.account.move.read");
                return Outcome::Rejected(format!("rpc:{}", e.kind().name()));
            }
            match answer.result.as_ref().map(check_values) {
                Some(Err(broken)) => Outcome::Invalid(broken),
                Some(Ok(())) => Outcome::Valid,
                None => Outcome::Rejected("no_result".into()),
            }
        },
    );
    report.assert_sound();
}

#[test]
fn http_statuses_never_panic() {
    for status in 0..=u16::MAX {
        let e = wire::parse_error(status, None, None, "common.db.login");
        assert!(!e.kind().name().is_empty());
    }
}
