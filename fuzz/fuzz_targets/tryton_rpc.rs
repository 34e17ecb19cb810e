//! Tryton JSON-RPC answers → the error table and the value readers (exact decimals, dates,
//! whole bounded stock quantities); and refunds → credit notes (a refund either makes a credit
//! note whose total is exactly minus the refund's, all lines and taxes credits, or is refused).
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use marketsync_core::Refund;
use marketsync_tryton::lifecycle::credit_note;
use marketsync_tryton::wire::{
    self, MAX_STOCK_QUANTITY, RpcResponse, parse_date, parse_decimal, parse_stock_quantity,
};
use serde_json::Value;

fn walk(v: &Value) {
    match v {
        Value::Array(items) => items.iter().for_each(walk),
        Value::Object(map) => {
            let _ = parse_decimal(v);
            let _ = parse_date(v);
            for field in ["quantity", "forecast_quantity"] {
                if let Ok(q) = parse_stock_quantity(map.get(field), field) {
                    assert!(q.checked_abs().is_some_and(|a| a <= MAX_STOCK_QUANTITY));
                }
            }
            map.values().for_each(walk);
        }
        _ => {
            let _ = parse_decimal(v);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(refund) = serde_json::from_slice::<Refund>(data) {
        let products = vec![Some(1); refund.lines.len()];
        if let Ok(note) = credit_note(&refund, &products) {
            assert_eq!(note.total(), Some(-refund.total.amount));
            assert!(note.lines.iter().all(|l| l.quantity < 0));
            assert!(
                note.taxes
                    .iter()
                    .all(|t| t.amount.is_sign_negative() || t.amount.is_zero())
            );
        }
    }
    let Ok(answer) = serde_json::from_slice::<RpcResponse>(data) else {
        return;
    };
    if let Some(err) = answer.error.as_ref() {
        let _ = wire::parse_error(200, Some(err), None, "model.account.move.read");
    }
    if let Some(result) = answer.result.as_ref() {
        walk(result);
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    marketsync_fuzz::json_mutate(data, size, max_size, seed)
});
