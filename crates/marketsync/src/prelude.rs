//! The types a connector author and an engine user reach for, in one import:
//!
//! ```
//! use marketsync::prelude::*;
//!
//! let price = Money::parse("19.90", Currency::EUR)?;
//! assert_eq!(price.to_string(), "19.90 EUR");
//! # Ok::<(), marketsync::money::MoneyError>(())
//! ```
//!
//! Everything else has one path, by module: `marketsync::order::Buyer`,
//! `marketsync::settlement::Payout`, `marketsync::mapping::Rulebook`…

pub use marketsync_core::async_trait;

// The model.
pub use marketsync_core::envelope::{Envelope, EventKind, IdempotencyKey};
pub use marketsync_core::ids::{
    Channel, Cursor, ErpDocumentId, ErpItemId, LegalEntityId, OrderId, OrderLineId, Revision,
    ShopId, Sku,
};
pub use marketsync_core::inventory::{InventoryAck, InventoryUpdate};
pub use marketsync_core::journal::{JournalEntry, JournalLine, Side};
pub use marketsync_core::money::{Currency, Money};
pub use marketsync_core::order::{Order, OrderLine, OrderStatus};
pub use marketsync_core::raw::RawRecord;
pub use marketsync_core::refund::Refund;
pub use marketsync_core::settlement::Settlement;
pub use marketsync_core::shipment::Shipment;

// Writing a connector.
pub use marketsync_core::connector::{
    ConnectorCapabilities, FetchQuery, Fetched, Health, MarketplaceConnector, Page, ShipmentAck,
    TimeWindow,
};

// Writing an ERP adapter.
pub use marketsync_core::erp::{
    ErpAdapter, ErpCapabilities, ErpDocumentKind, ErpDocumentRef, FulfilmentRequest,
    JournalRequest, RefundRequest, SalesOrderRequest,
};

// Errors.
pub use marketsync_core::error::{Error, ErrorKind, ReasonCode, Result, Retry};

// Running the engine.
#[cfg(feature = "mapping")]
pub use marketsync_mapping::{Mapper, Rulebook};
#[cfg(feature = "pipeline")]
pub use marketsync_pipeline::{Engine, EngineConfig, Store, SyncReport};
