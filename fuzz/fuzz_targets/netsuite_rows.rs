//! NetSuite SuiteQL result rows (`items`) → document refs, item ids, inventory positions.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use marketsync_netsuite::normalize::{document_from_rows, inventory_from_rows, items_from_rows};
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(rows) = serde_json::from_slice::<Vec<Map<String, Value>>>(data) else {
        return;
    };
    let _ = document_from_rows(rows.clone());
    let _ = items_from_rows(rows.clone());
    let as_of = chrono::DateTime::<chrono::Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default();
    let _ = inventory_from_rows(rows, as_of);
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    marketsync_fuzz::json_mutate(data, size, max_size, seed)
});
