#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use marketsync_core as core;
pub use marketsync_core::*;

/// The shared HTTP client (feature `http`).
#[cfg(feature = "http")]
pub use marketsync_http as http;
