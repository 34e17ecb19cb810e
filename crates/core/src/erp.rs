//! The ERP side: [`ErpAdapter`] and its request types.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::connector::Health;
use crate::envelope::IdempotencyKey;
use crate::error::{Error, Result};
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
///
/// The trait's optional writes answer a typed [`ErrorKind::Unsupported`](crate::ErrorKind) by
/// default; declare here exactly the ones an adapter overrides.
///
/// ```
/// use marketsync_core::ErpCapabilities;
///
/// let caps = ErpCapabilities::none().with_journals(true).with_max_concurrency(4);
/// assert!(caps.journals && !caps.sales_orders);
/// assert_eq!(caps.max_concurrency, Some(4));
/// ```
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

    /// Nothing supported; enable what the adapter does with the `with_*` methods.
    pub fn none() -> ErpCapabilities {
        ErpCapabilities::default()
    }

    /// Declares whether `upsert_sales_order` works.
    pub fn with_sales_orders(mut self, on: bool) -> ErpCapabilities {
        self.sales_orders = on;
        self
    }

    /// Declares whether `post_journal` works.
    pub fn with_journals(mut self, on: bool) -> ErpCapabilities {
        self.journals = on;
        self
    }

    /// Declares whether `record_fulfilment` works.
    pub fn with_fulfilments(mut self, on: bool) -> ErpCapabilities {
        self.fulfilments = on;
        self
    }

    /// Declares whether `record_refund` works.
    pub fn with_refunds(mut self, on: bool) -> ErpCapabilities {
        self.refunds = on;
        self
    }

    /// Declares whether `inventory_positions` works.
    pub fn with_inventory(mut self, on: bool) -> ErpCapabilities {
        self.inventory = on;
        self
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
///
/// Object-safe (`Arc<dyn ErpAdapter>`). Only [`system`](Self::system),
/// [`capabilities`](Self::capabilities), [`health_check`](Self::health_check) and
/// [`find_by_idempotency_key`](Self::find_by_idempotency_key) are required; each write and
/// [`inventory_positions`](Self::inventory_positions) answers a typed
/// [`ErrorKind::Unsupported`](crate::ErrorKind) unless overridden (declare the ones you
/// override in [`ErpCapabilities`]).
///
/// ```
/// use std::sync::Mutex;
/// use marketsync_core::async_trait;
/// use marketsync_core::{
///     ErpAdapter, ErpCapabilities, ErpDocumentId, ErpDocumentKind, ErpDocumentRef, ErrorKind,
///     Health, IdempotencyKey, JournalRequest, Result,
/// };
///
/// /// A ledger that only takes journals, keyed by idempotency key.
/// #[derive(Default)]
/// struct Ledger(Mutex<Vec<IdempotencyKey>>);
///
/// impl Ledger {
///     fn doc(&self, i: usize, created: bool) -> ErpDocumentRef {
///         ErpDocumentRef {
///             id: ErpDocumentId::new(format!("JE-{i}")),
///             kind: ErpDocumentKind::JournalEntry,
///             number: None,
///             created,
///         }
///     }
/// }
///
/// #[async_trait]
/// impl ErpAdapter for Ledger {
///     fn system(&self) -> &str {
///         "ledger"
///     }
///     fn capabilities(&self) -> ErpCapabilities {
///         ErpCapabilities::none().with_journals(true)
///     }
///     async fn health_check(&self) -> Result<Health> {
///         Ok(Health::ok())
///     }
///     async fn post_journal(&self, request: &JournalRequest) -> Result<ErpDocumentRef> {
///         request.entry.validate()?;
///         let mut keys = self.0.lock().unwrap();
///         if let Some(i) = keys.iter().position(|k| *k == request.idempotency_key) {
///             return Ok(self.doc(i, false)); // a repeat: the same document
///         }
///         keys.push(request.idempotency_key.clone());
///         Ok(self.doc(keys.len() - 1, true))
///     }
///     async fn find_by_idempotency_key(
///         &self,
///         key: &IdempotencyKey,
///     ) -> Result<Option<ErpDocumentRef>> {
///         let keys = self.0.lock().unwrap();
///         Ok(keys.iter().position(|k| k == key).map(|i| self.doc(i, false)))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<()> {
/// let erp: Box<dyn ErpAdapter> = Box::new(Ledger::default());
/// let key = IdempotencyKey::parse("msk1-0123456789abcdef0123456789abcdef01234567").unwrap();
/// assert!(erp.find_by_idempotency_key(&key).await?.is_none());
/// // Not overridden: a typed `Unsupported`, as the capabilities said.
/// let err = erp.inventory_positions(&[]).await.unwrap_err();
/// assert_eq!(*err.kind(), ErrorKind::Unsupported);
/// assert!(!erp.capabilities().inventory);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait ErpAdapter: Send + Sync {
    /// The ERP's name (`"netsuite"`, `"tryton"`).
    fn system(&self) -> &str;

    /// What this adapter supports.
    fn capabilities(&self) -> ErpCapabilities;

    /// Checks that the ERP answers and accepts our credentials.
    async fn health_check(&self) -> Result<Health>;

    /// Creates or updates a sales order keyed by the request's idempotency key.
    ///
    /// Default: `Unsupported` (declare [`ErpCapabilities::sales_orders`] when overriding).
    async fn upsert_sales_order(&self, request: &SalesOrderRequest) -> Result<ErpDocumentRef> {
        let _ = request;
        Err(unsupported(self.system(), "upsert_sales_order"))
    }

    /// Posts a journal entry (refusing an unbalanced one before it reaches the ERP).
    ///
    /// Default: `Unsupported` (declare [`ErpCapabilities::journals`] when overriding).
    async fn post_journal(&self, request: &JournalRequest) -> Result<ErpDocumentRef> {
        let _ = request;
        Err(unsupported(self.system(), "post_journal"))
    }

    /// Records a fulfilment.
    ///
    /// Default: `Unsupported` (declare [`ErpCapabilities::fulfilments`] when overriding).
    async fn record_fulfilment(&self, request: &FulfilmentRequest) -> Result<ErpDocumentRef> {
        let _ = request;
        Err(unsupported(self.system(), "record_fulfilment"))
    }

    /// Records a refund.
    ///
    /// Default: `Unsupported` (declare [`ErpCapabilities::refunds`] when overriding).
    async fn record_refund(&self, request: &RefundRequest) -> Result<ErpDocumentRef> {
        let _ = request;
        Err(unsupported(self.system(), "record_refund"))
    }

    /// Stock positions for the given SKUs (ERP item codes).
    ///
    /// Default: `Unsupported` (declare [`ErpCapabilities::inventory`] when overriding).
    async fn inventory_positions(&self, skus: &[Sku]) -> Result<Vec<InventoryPosition>> {
        let _ = skus;
        Err(unsupported(self.system(), "inventory_positions"))
    }

    /// The document created under `key`, if any.
    async fn find_by_idempotency_key(&self, key: &IdempotencyKey)
    -> Result<Option<ErpDocumentRef>>;
}

/// The default answer of an operation an adapter does not override.
fn unsupported(system: &str, operation: &str) -> Error {
    Error::unsupported(operation).with_context("erp", system)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// Implements only what is required.
    struct Minimal;

    #[async_trait]
    impl ErpAdapter for Minimal {
        fn system(&self) -> &str {
            "minimal"
        }
        fn capabilities(&self) -> ErpCapabilities {
            ErpCapabilities::none()
        }
        async fn health_check(&self) -> Result<Health> {
            Ok(Health::ok())
        }
        async fn find_by_idempotency_key(
            &self,
            _key: &IdempotencyKey,
        ) -> Result<Option<ErpDocumentRef>> {
            Ok(None)
        }
    }

    #[tokio::test]
    async fn every_optional_operation_defaults_to_a_typed_unsupported() {
        let erp: &dyn ErpAdapter = &Minimal;
        let key = IdempotencyKey::parse("msk1-0123456789abcdef0123456789abcdef01234567").unwrap();
        let entry: JournalEntry = serde_json::from_value(serde_json::json!({
            "entity": "E1", "date": "2026-01-31", "memo": "", "lines": []
        }))
        .unwrap();
        let results = [
            (
                "post_journal",
                erp.post_journal(&JournalRequest::new(key.clone(), entry))
                    .await
                    .map(|_| ()),
            ),
            (
                "inventory_positions",
                erp.inventory_positions(&[]).await.map(|_| ()),
            ),
        ];
        for (op, r) in results {
            let e = r.unwrap_err();
            assert_eq!(*e.kind(), ErrorKind::Unsupported, "{op}");
            assert_eq!(e.context_value("operation"), Some(op));
            assert_eq!(e.context_value("erp"), Some("minimal"));
            assert_eq!(e.reason(), crate::ReasonCode::Unsupported);
        }
        let all = ErpCapabilities::none()
            .with_sales_orders(true)
            .with_journals(true)
            .with_fulfilments(true)
            .with_refunds(true)
            .with_inventory(true);
        assert_eq!(all, ErpCapabilities::all());
    }
}
