#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use marketsync_core as core;
pub use marketsync_core::*;

/// The shared HTTP client (feature `http`).
#[cfg(feature = "http")]
pub use marketsync_http as http;

/// Mapping: SKU and status maps, FX, fee and tax rules, posting rules (feature `mapping`).
#[cfg(feature = "mapping")]
pub use marketsync_mapping as mapping;

/// Taobao/Tmall Open Platform connector (feature `tmall`).
#[cfg(feature = "tmall")]
pub use marketsync_tmall as tmall;

/// Shopify Admin GraphQL connector (feature `shopify`).
#[cfg(feature = "shopify")]
pub use marketsync_shopify as shopify;

/// NetSuite REST adapter (feature `netsuite`).
#[cfg(feature = "netsuite")]
pub use marketsync_netsuite as netsuite;

/// Tryton JSON-RPC adapter (feature `tryton`).
#[cfg(feature = "tryton")]
pub use marketsync_tryton as tryton;

/// The sync engine, stores, work queues, ATP and reports (feature `pipeline`; `postgres` and
/// `nats` add the scale-out backends).
#[cfg(feature = "pipeline")]
pub use marketsync_pipeline as pipeline;
