//! TOP `Refund` JSON → canonical `Refund` (`taobao.refunds.receive.get`).
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use marketsync_core::{Channel, RawRecord, ShopId};
use marketsync_tmall::normalize::{Context, refund_to_canonical};
use marketsync_tmall::wire::Refund;

fuzz_target!(|data: &[u8]| {
    let Ok(r) = serde_json::from_slice::<Refund>(data) else {
        return;
    };
    let ctx = Context {
        channel: Channel::Tmall,
        shop: ShopId::new("fuzz-shop"),
    };
    let raw = RawRecord::json(data.to_vec(), Some("taobao.refunds.receive.get"));
    let _ = refund_to_canonical(&r, &ctx, &raw);
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    marketsync_fuzz::json_mutate(data, size, max_size, seed)
});
