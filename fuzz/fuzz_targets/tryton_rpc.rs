//! Tryton JSON-RPC answers → the error table and the value readers (exact decimals, dates,
//! whole bounded stock quantities).
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
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
