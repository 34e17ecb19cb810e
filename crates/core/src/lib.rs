#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod config;
pub mod connector;
pub mod delivery;
pub mod envelope;
pub mod erp;
pub mod error;
pub mod ids;
pub mod inventory;
pub mod journal;
pub mod money;
pub mod order;
pub mod pii;
pub mod raw;
pub mod refund;
pub mod schema;
pub mod settlement;
pub mod shipment;
pub mod text;

pub use config::{ConfigMap, Secret};
pub use connector::{
    ConnectorCapabilities, FetchQuery, Fetched, Health, MarketplaceConnector, Page, ShipmentAck,
    TimeWindow,
};
pub use delivery::{DeliveryLog, MemoryDeliveryLog};
pub use envelope::{Envelope, EnvelopeMeta, EventKind, IdempotencyKey, InvalidKey};
pub use erp::{
    ErpAdapter, ErpCapabilities, ErpDocumentKind, ErpDocumentRef, FulfilmentRequest,
    JournalRequest, RefundRequest, SalesOrderRequest,
};
pub use error::{Error, ErrorKind, ReasonCode, Report, Result, Retry};
pub use ids::{
    AccountCode, Channel, Cursor, ErpDocumentId, ErpItemId, LegalEntityId, ListingId, LocationId,
    OrderId, OrderLineId, PayoutId, RefundId, ReturnId, Revision, SettlementId, ShipmentId, ShopId,
    Sku, TimeZoneId,
};
pub use inventory::{InventoryAck, InventoryPosition, InventoryUpdate};
pub use journal::{Dimensions, FxConversion, JournalEntry, JournalError, JournalLine, Side};
pub use money::{Currency, Money, MoneyError, Rounding};
pub use order::{
    Address, Attribution, Buyer, Discount, DiscountFunder, FulfilmentChannel, Order, OrderError,
    OrderLine, OrderStatus, OrderTotals, Payment, Presentment, ShippingCharge, TaxCollector,
    TaxKind, TaxLine,
};
pub use pii::{Mask, Pii, PiiState, Region, TokenKey};
pub use raw::{ContentHash, RawPayloadRef, RawRecord};
pub use refund::{Refund, RefundLine, RefundReason, RefundStatus, Return, ReturnLine};
pub use settlement::{Payout, Settlement, SettlementLine, SettlementLineKind};
pub use shipment::{Shipment, ShipmentLine};

/// The attribute the connector and adapter traits are written with: put `#[async_trait]` on
/// an `impl MarketplaceConnector` / `impl ErpAdapter` block (re-exported so implementors need
/// not depend on `async-trait` directly).
pub use async_trait::async_trait;
/// Re-exported so users need not depend on `rust_decimal` and `chrono` directly.
pub use chrono;
/// Re-exported decimal type.
pub use rust_decimal;
