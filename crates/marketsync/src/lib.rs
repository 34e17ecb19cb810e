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
