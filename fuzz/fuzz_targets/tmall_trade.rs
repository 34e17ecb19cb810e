//! TOP `Trade` JSON → canonical `Order` (`taobao.trade.fullinfo.get` / increment lists).
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use marketsync_core::{Channel, RawRecord, ShopId};
use marketsync_tmall::normalize::{Context, trade_to_order};
use marketsync_tmall::wire::Trade;

fuzz_target!(|data: &[u8]| {
    let Ok(t) = serde_json::from_slice::<Trade>(data) else {
        return;
    };
    let ctx = Context {
        channel: Channel::Tmall,
        shop: ShopId::new("fuzz-shop"),
    };
    let raw = RawRecord::json(data.to_vec(), Some("taobao.trade.fullinfo.get"));
    if let Ok(order) = trade_to_order(&t, &ctx, &raw) {
        // What the normalizer accepts must be a valid canonical order.
        assert!(order.validate().is_ok(), "normalized order fails validate()");
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    marketsync_fuzz::json_mutate(data, size, max_size, seed)
});
