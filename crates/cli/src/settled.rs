//! The order → settlement line → payout index `trace` reads.
//!
//! The engine records a settlement's journals under the settlement (its lineage), and matches
//! its lines to orders without keeping, per order, which settlement paid it. So after each
//! settlement pass `run` (and `demo`) saves, for every order a reconciled settlement names, a
//! snapshot of kind [`LINK_KIND`] whose parent is the order: the settlement's id, period and
//! currency, the order's lines in it and the payout (the bank deposit) with its date. No
//! personal data: ids, amounts and dates. `trace ORDER` reads these children of the order,
//! then the settlement's own lineage (its settlement and payout journals).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use marketsync_core::{
    ConnectorCapabilities, EventKind, FetchQuery, Health, IdempotencyKey, InventoryAck,
    InventoryUpdate, MarketplaceConnector, Order, Page, Refund, Result as MsResult, Settlement,
    Shipment, ShipmentAck,
};
use marketsync_pipeline::Store;
use marketsync_pipeline::store::{RecordKey, Snapshot};
use serde_json::json;

/// The snapshot kind of an order's settlement link.
pub const LINK_KIND: &str = "settlement_order";

/// Wraps a connector and keeps the settlements it returns (to index them once reconciled),
/// without changing what it does.
pub struct Recording {
    inner: Arc<dyn MarketplaceConnector>,
    settlements: Mutex<Vec<Settlement>>,
}

impl Recording {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn MarketplaceConnector>) -> Recording {
        Recording {
            inner,
            settlements: Mutex::new(Vec::new()),
        }
    }

    /// The settlements returned since the last call.
    pub fn take_settlements(&self) -> Vec<Settlement> {
        std::mem::take(
            &mut *self
                .settlements
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

#[async_trait]
impl MarketplaceConnector for Recording {
    fn channel(&self) -> marketsync_core::Channel {
        self.inner.channel()
    }
    fn shop(&self) -> marketsync_core::ShopId {
        self.inner.shop()
    }
    fn capabilities(&self) -> ConnectorCapabilities {
        self.inner.capabilities()
    }
    async fn health_check(&self) -> MsResult<Health> {
        self.inner.health_check().await
    }
    async fn fetch_orders(&self, query: &FetchQuery) -> MsResult<Page<Order>> {
        self.inner.fetch_orders(query).await
    }
    async fn fetch_returns(&self, query: &FetchQuery) -> MsResult<Page<Refund>> {
        self.inner.fetch_returns(query).await
    }
    async fn fetch_settlements(&self, query: &FetchQuery) -> MsResult<Page<Settlement>> {
        let page = self.inner.fetch_settlements(query).await?;
        self.settlements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(page.ok_items().cloned());
        Ok(page)
    }
    async fn push_inventory(&self, updates: &[InventoryUpdate]) -> MsResult<Vec<InventoryAck>> {
        self.inner.push_inventory(updates).await
    }
    async fn confirm_shipment(
        &self,
        shipment: &Shipment,
        key: &IdempotencyKey,
    ) -> MsResult<ShipmentAck> {
        self.inner.confirm_shipment(shipment, key).await
    }
}

/// The record key of an order.
pub fn order_record(s: &Settlement, order: &str) -> RecordKey {
    RecordKey {
        channel: s.channel.clone(),
        shop: s.shop.clone(),
        kind: EventKind::Order,
        external_id: order.to_owned(),
    }
}

/// The record key of a settlement.
pub fn settlement_record(s: &Settlement) -> RecordKey {
    RecordKey {
        channel: s.channel.clone(),
        shop: s.shop.clone(),
        kind: EventKind::Settlement,
        external_id: s.id.to_string(),
    }
}

/// Saves the order links of every settlement whose revision the store shows reconciled (its
/// head is at that revision). Returns how many links were saved.
pub async fn index(
    store: &dyn Store,
    settlements: &[Settlement],
    now: DateTime<Utc>,
) -> marketsync_core::Result<usize> {
    let mut saved = 0;
    for s in settlements {
        let reconciled = store
            .head(&settlement_record(s))
            .await?
            .is_some_and(|h| h.revision == s.revision);
        if !reconciled {
            continue;
        }
        let mut by_order: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        for (i, l) in s.lines.iter().enumerate() {
            let Some(order) = &l.order_id else { continue };
            by_order.entry(order.to_string()).or_default().push(json!({
                "line": i + 1,
                "kind": l.kind,
                "amount": l.amount,
                "reference": l.reference,
                "posted_at": l.posted_at,
            }));
        }
        for (order, lines) in by_order {
            let body = json!({
                "settlement_id": s.id.to_string(),
                "currency": s.currency,
                "period_start": s.period_start,
                "period_end": s.period_end,
                "lines": lines,
                "payout": s.payout,
            });
            store
                .save_snapshot(&Snapshot {
                    record: RecordKey {
                        channel: s.channel.clone(),
                        shop: s.shop.clone(),
                        kind: EventKind::Other(LINK_KIND.into()),
                        external_id: format!("{}/{order}", s.id),
                    },
                    revision: s.revision.clone(),
                    parent: Some(order_record(s, &order)),
                    body,
                    updated_at: now,
                })
                .await?;
            saved += 1;
        }
    }
    Ok(saved)
}
