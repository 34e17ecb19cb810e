//! Shopify Payments payout + balance transactions → canonical `Settlement`.
#![no_main]
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use marketsync_core::{RawRecord, ShopId, TimeZoneId};
use marketsync_shopify::NormalizeContext;
use marketsync_shopify::normalize::settlement;
use marketsync_shopify::wire::{BalanceTransaction, Payout};

#[derive(serde::Deserialize)]
struct Input {
    payout: Payout,
    #[serde(default)]
    transactions: Vec<BalanceTransaction>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(i) = serde_json::from_slice::<Input>(data) else {
        return;
    };
    let ctx = NormalizeContext::new(ShopId::new("fuzz.myshopify.com"), TimeZoneId::utc());
    let raw = RawRecord::json(data.to_vec(), Some("shopifyPaymentsAccount.payouts"));
    let _ = settlement(&i.payout, &i.transactions, &ctx, &raw);
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    marketsync_fuzz::json_mutate(data, size, max_size, seed)
});
