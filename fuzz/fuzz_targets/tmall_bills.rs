//! TOP bills of one period (`taobao.bill.bills.get`) → canonical `Settlement`.
#![no_main]
use chrono::{DateTime, Utc};
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use marketsync_core::{Channel, RawRecord, ShopId};
use marketsync_tmall::normalize::{Context, bills_to_settlement};
use marketsync_tmall::wire::Bill;

fuzz_target!(|data: &[u8]| {
    let Ok(bills) = serde_json::from_slice::<Vec<Bill>>(data) else {
        return;
    };
    let ctx = Context {
        channel: Channel::Tmall,
        shop: ShopId::new("fuzz-shop"),
    };
    let start = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default();
    let end = start + chrono::Duration::days(1);
    let raw = RawRecord::json(data.to_vec(), Some("taobao.bill.bills.get"));
    let _ = bills_to_settlement(&bills, start, end, &ctx, &raw);
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    marketsync_fuzz::json_mutate(data, size, max_size, seed)
});
