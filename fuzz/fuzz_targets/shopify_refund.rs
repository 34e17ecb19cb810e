//! Shopify `Order { refunds }` → canonical `Refund`s.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use marketsync_core::{RawRecord, ShopId, TimeZoneId};
use marketsync_shopify::NormalizeContext;
use marketsync_shopify::normalize::refund;
use marketsync_shopify::wire::OrderRefunds;

fuzz_target!(|data: &[u8]| {
    let Ok(o) = serde_json::from_slice::<OrderRefunds>(data) else {
        return;
    };
    let ctx = NormalizeContext::new(ShopId::new("fuzz.myshopify.com"), TimeZoneId::new("Europe/Berlin").unwrap_or_else(TimeZoneId::utc));
    let raw = RawRecord::json(data.to_vec(), Some("order.refunds"));
    for r in &o.refunds {
        let _ = refund(r, &o, &ctx, &raw);
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    marketsync_fuzz::json_mutate(data, size, max_size, seed)
});
