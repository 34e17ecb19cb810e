//! Hostile JSON-RPC answers never panic the Tryton adapter's readers: a deterministic mutation
//! run over the response envelope, the error table ([`wire::parse_error`]) and the value readers
//! (decimals, dates, stock quantities).
//!
//! Every mutated answer either reads into values that keep the readers' promises (exact
//! decimals, whole stock quantities within ±`MAX_STOCK_QUANTITY`, an error with a kind) or is
//! refused. 20,000 inputs by default; `MARKETSYNC_MUTATION_INPUTS=200000` for the long run.
//!
//! Hostile refunds never make a wrong credit note: a mutated refund either builds one whose
//! total is exactly minus the refund's, with negative lines and taxes, or is refused.

use marketsync_core::Refund;
use marketsync_testkit::mutate::{self, Outcome};
use marketsync_tryton::lifecycle::credit_note;
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
        json!({"id": 8, "error": ["UserError", ["marketsync: sale 3 has nothing left to ship", "nothing_to_ship sale=3", null]]}),
        json!({"id": 9, "error": ["UserError", ["marketsync: shipment 4 of sale 3 holds no SKU-9", "unknown_sku code=SKU-9", null]]}),
        json!({"id": 10, "result": {"id": 4, "number": null, "state": "validated", "created": true}}),
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

/// Refunds shaped like the platforms' (US sales tax on top, VAT included, shipping, a
/// price-only line, an order-level remainder).
fn refund_seeds() -> Vec<Vec<u8>> {
    let refunds = [
        json!({"channel": "amazon", "shop": "main", "id": "r-1", "order_id": "113-1",
            "revision": {"kind": "version", "value": 1}, "status": "completed", "raw_status": "x",
            "reason": {}, "created_at": "2026-03-09T08:00:00Z", "updated_at": "2026-03-09T09:00:00Z",
            "lines": [{"line_id": "1", "sku": "SKU-0001", "quantity": 3, "restock": true,
                "amount": {"amount": "30.00", "currency": "USD"},
                "taxes": [{"kind": "sales_tax", "rate": "0.0825", "jurisdiction": "CA",
                    "amount": {"amount": "2.48", "currency": "USD"}, "included_in_price": false,
                    "collected_by": "marketplace"}]}],
            "shipping": {"amount": "4.99", "currency": "USD"},
            "total": {"amount": "37.47", "currency": "USD"}}),
        json!({"channel": "tmall", "shop": "main", "id": "r-2", "order_id": "2",
            "revision": {"kind": "version", "value": 1}, "status": "completed", "raw_status": "x",
            "reason": {}, "created_at": "2026-03-09T08:00:00Z", "updated_at": "2026-03-09T09:00:00Z",
            "lines": [{"line_id": "1", "sku": "A", "quantity": 3, "restock": false,
                "amount": {"amount": "100.01", "currency": "CNY"},
                "taxes": [{"kind": "vat", "rate": "0.13",
                    "amount": {"amount": "11.51", "currency": "CNY"}, "included_in_price": true,
                    "collected_by": "seller"}]},
                {"line_id": "2", "sku": "B", "quantity": 0, "restock": false,
                "amount": {"amount": "5.00", "currency": "CNY"}}],
            "total": {"amount": "110.00", "currency": "CNY"}}),
    ];
    refunds
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap_or_default())
        .collect()
}

#[test]
fn hostile_refunds_never_make_a_wrong_credit_note() {
    let report = mutate::run(
        "tryton credit notes",
        &refund_seeds(),
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x7e02,
        |bytes| {
            let Ok(refund) = serde_json::from_slice::<Refund>(bytes) else {
                return Outcome::Rejected("parse:malformed_payload".into());
            };
            let products = vec![Some(1); refund.lines.len()];
            match credit_note(&refund, &products) {
                Err(e) => Outcome::Rejected(format!("credit_note:{}", e.reason().as_str())),
                Ok(note) if note.total() != Some(-refund.total.amount) => {
                    Outcome::Invalid(format!("total {:?} for {}", note.total(), refund.total))
                }
                Ok(note) if note.lines.iter().any(|l| l.quantity >= 0) => {
                    Outcome::Invalid(format!("a line that is not a credit: {note:?}"))
                }
                Ok(note)
                    if note
                        .taxes
                        .iter()
                        .any(|t| t.amount.is_sign_positive() && !t.amount.is_zero()) =>
                {
                    Outcome::Invalid(format!("a tax that is not a credit: {note:?}"))
                }
                Ok(_) => Outcome::Valid,
            }
        },
    );
    report.assert_sound();
}
