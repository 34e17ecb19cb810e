#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

// ---- the canonical model and the traits: one module each, one path per item ----------------

pub use marketsync_core::config;
pub use marketsync_core::connector;
pub use marketsync_core::envelope;
pub use marketsync_core::erp;
pub use marketsync_core::error;
pub use marketsync_core::ids;
pub use marketsync_core::inventory;
pub use marketsync_core::journal;
pub use marketsync_core::money;
pub use marketsync_core::order;
pub use marketsync_core::pii;
pub use marketsync_core::raw;
pub use marketsync_core::refund;
pub use marketsync_core::schema;
pub use marketsync_core::settlement;
pub use marketsync_core::shipment;

/// The attribute to put on an `impl MarketplaceConnector` / `impl ErpAdapter` block, so
/// implementors need not depend on `async-trait` themselves (also in the [`prelude`]).
pub use marketsync_core::async_trait;
/// Date and time (`chrono`), as the model uses it.
pub use marketsync_core::chrono;
/// Decimal amounts (`rust_decimal`), as [`money::Money`] uses them.
pub use marketsync_core::rust_decimal;

pub mod prelude;

// ---- optional parts, one feature each -------------------------------------------------------

/// The shared HTTP client (feature `http`).
#[cfg(feature = "http")]
pub use marketsync_http as http;

/// Mapping: SKU and status maps, FX, fee and tax rules, the rulebook, posting rules (feature
/// `mapping`, on by default).
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

/// What a connector or adapter must pass before it ships (feature `testing`, usually as a
/// dev-dependency): the conformance suites ([`testing::conformance`]), the in-memory
/// marketplace and ERP, the order generator and the platform simulators.
#[cfg(feature = "testing")]
pub use marketsync_testkit as testing;
