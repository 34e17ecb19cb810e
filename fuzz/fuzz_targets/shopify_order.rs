//! Shopify Admin GraphQL `Order` node → canonical `Order`.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use marketsync_core::{RawRecord, ShopId, TimeZoneId};
use marketsync_shopify::NormalizeContext;
use marketsync_shopify::normalize::order;
use marketsync_shopify::wire::Order;

fuzz_target!(|data: &[u8]| {
    let Ok(w) = serde_json::from_slice::<Order>(data) else {
        return;
    };
    let ctx = NormalizeContext::new(ShopId::new("fuzz.myshopify.com"), TimeZoneId::new("America/New_York").unwrap_or_else(TimeZoneId::utc));
    let raw = RawRecord::json(data.to_vec(), Some("orders"));
    if let Ok(o) = order(&w, &ctx, &raw) {
        assert!(o.validate().is_ok(), "normalized order fails validate()");
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    marketsync_fuzz::json_mutate(data, size, max_size, seed)
});
