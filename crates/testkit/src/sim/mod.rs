//! Platform simulators: real HTTP servers on loopback that implement each platform's documented
//! request signing, pagination, time-window limits, throttling responses and error bodies, over
//! a seeded data set, with faults injectable on demand. A connector cannot tell a simulator
//! from the platform on the paths it uses.
//!
//! Each simulator verifies signatures with its own implementation of the platform's algorithm
//! (not the connector's), so a shared mistake cannot pass unnoticed; both are tested against
//! the platform's published vectors.

pub mod netsuite;
pub mod shopify;
pub mod tmall;
