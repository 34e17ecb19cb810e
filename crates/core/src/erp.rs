//! The ERP side: [`ErpAdapter`] and its request types.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::connector::Health;
use crate::envelope::IdempotencyKey;
use crate::error::Result;
use crate::ids::{ErpDocumentId, ErpItemId, LegalEntityId, OrderLineId, Sku};
use crate::inventory::InventoryPosition;
use crate::journal::JournalEntry;
use crate::order::Order;
use crate::refund::Refund;
use crate::shipment::Shipment;

/// The kind of an ERP document.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErpDocumentKind {
    /// A sales order.
    SalesOrder,
    /// A journal entry / accounting document.
    JournalEntry,
    /// An item fulfilment / delivery.
    Fulfilment,
    /// A credit memo / refund document.
    Refund,
    /// Another document type, by ERP name.
    Other(String),
}

/// A document the ERP holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErpDocumentRef {
    /// The ERP's internal id.
    pub id: ErpDocumentId,
    /// What it is.
    pub kind: ErpDocumentKind,
    /// The human-facing document number, if different from the id.
    pub number: Option<String>,
    /// True when this call created it; false when it already existed under the same key.
    pub created: bool,
}

/// Upsert a sales order.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SalesOrderRequest {
    /// One key per business event; repeats make no second document.
    pub idempotency_key: IdempotencyKey,
    /// The canonical order.
    pub order: Order,
    /// ERP items resolved by the mapping layer, per order line. A line without an entry is
    /// sent with its SKU as the item code.
    pub items: BTreeMap<OrderLineId, ErpItemId>,
    /// The legal entity to book it in, if the adapter serves several.
    pub entity: Option<LegalEntityId>,
}

impl SalesOrderRequest {
    /// A request with no resolved items.
    pub fn new(idempotency_key: IdempotencyKey, order: Order) -> SalesOrderRequest {
        SalesOrderRequest {
            idempotency_key,
            order,
            items: BTreeMap::new(),
            entity: None,
        }
    }

    /// Sets resolved items.
    pub fn with_items(mut self, items: BTreeMap<OrderLineId, ErpItemId>) -> SalesOrderRequest {
        self.items = items;
        self
    }
}

/// Post a journal entry.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct JournalRequest {
    /// One key per entry.
    pub idempotency_key: IdempotencyKey,
    /// The entry; adapters call [`JournalEntry::validate`] before sending.
    pub entry: JournalEntry,
}

impl JournalRequest {
    /// A request.
    pub fn new(idempotency_key: IdempotencyKey, entry: JournalEntry) -> JournalRequest {
        JournalRequest {
            idempotency_key,
            entry,
        }
    }
}

/// Record a fulfilment (shipment) against a sales order.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FulfilmentRequest {
    /// One key per shipment event.
    pub idempotency_key: IdempotencyKey,
    /// The shipment.
    pub shipment: Shipment,
    /// The ERP sales order it fulfils, if known.
    pub sales_order: Option<ErpDocumentId>,
}

impl FulfilmentRequest {
    /// A request.
    pub fn new(idempotency_key: IdempotencyKey, shipment: Shipment) -> FulfilmentRequest {
        FulfilmentRequest {
            idempotency_key,
            shipment,
            sales_order: None,
        }
    }
}

/// Record a refund (credit memo / customer refund).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RefundRequest {
    /// One key per refund event.
    pub idempotency_key: IdempotencyKey,
    /// The refund.
    pub refund: Refund,
    /// The ERP sales order refunded, if known.
    pub sales_order: Option<ErpDocumentId>,
    /// ERP items per refunded order line, as the sales order was booked with
    /// ([`SalesOrderRequest::items`]). A line without an entry is sent with its SKU.
    pub items: BTreeMap<OrderLineId, ErpItemId>,
}

impl RefundRequest {
    /// A request.
    pub fn new(idempotency_key: IdempotencyKey, refund: Refund) -> RefundRequest {
        RefundRequest {
            idempotency_key,
            refund,
            sales_order: None,
            items: BTreeMap::new(),
        }
    }

    /// Sets resolved items.
    pub fn with_items(mut self, items: BTreeMap<OrderLineId, ErpItemId>) -> RefundRequest {
        self.items = items;
        self
    }
}

/// What an adapter supports (`Copy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErpCapabilities {
    /// `upsert_sales_order` works.
    pub sales_orders: bool,
    /// `post_journal` works.
    pub journals: bool,
    /// `record_fulfilment` works.
    pub fulfilments: bool,
    /// `record_refund` works.
    pub refunds: bool,
    /// `inventory_positions` works.
    pub inventory: bool,
    /// The largest number of concurrent requests the ERP account allows, if limited.
    pub max_concurrency: Option<u32>,
}

impl ErpCapabilities {
    /// Everything supported, no concurrency limit.
    pub fn all() -> ErpCapabilities {
        ErpCapabilities {
            sales_orders: true,
            journals: true,
            fulfilments: true,
            refunds: true,
            inventory: true,
            max_concurrency: None,
        }
    }

    /// Nothing supported.
    pub fn none() -> ErpCapabilities {
        ErpCapabilities::default()
    }

    /// Declares a concurrency limit.
    pub fn with_max_concurrency(mut self, n: u32) -> ErpCapabilities {
        self.max_concurrency = Some(n);
        self
    }
}

/// An ERP adapter. Every write takes an [`IdempotencyKey`] and must be idempotent: the same key
/// twice makes one document (the second call answers the first document with `created: false`).
///
/// [`ErpAdapter::find_by_idempotency_key`] lets the pipeline find a document whose create timed
/// out after the ERP committed it, instead of creating it again.
#[async_trait]
pub trait ErpAdapter: Send + Sync {
    /// The ERP's name (`"netsuite"`, `"tryton"`).
    fn system(&self) -> &str;

    /// What this adapter supports.
    fn capabilities(&self) -> ErpCapabilities;

    /// Checks that the ERP answers and accepts our credentials.
    async fn health_check(&self) -> Result<Health>;

    /// Creates or updates a sales order keyed by the request's idempotency key.
    async fn upsert_sales_order(&self, request: &SalesOrderRequest) -> Result<ErpDocumentRef>;

    /// Posts a journal entry (refusing an unbalanced one before it reaches the ERP).
    async fn post_journal(&self, request: &JournalRequest) -> Result<ErpDocumentRef>;

    /// Records a fulfilment.
    async fn record_fulfilment(&self, request: &FulfilmentRequest) -> Result<ErpDocumentRef>;

    /// Records a refund.
    async fn record_refund(&self, request: &RefundRequest) -> Result<ErpDocumentRef>;

    /// Stock positions for the given SKUs (ERP item codes).
    async fn inventory_positions(&self, skus: &[Sku]) -> Result<Vec<InventoryPosition>>;

    /// The document created under `key`, if any.
    async fn find_by_idempotency_key(&self, key: &IdempotencyKey)
    -> Result<Option<ErpDocumentRef>>;
}
