//! `[queue]`: order events through NATS JetStream to N workers.
//!
//! Per pass, each connector's order stream is walked by its lane engine as usual — windows,
//! look-back, paging, retries and the saved cursor are the engine's — but through
//! [`Publishing`], which publishes every order of a page to the work queue of the connector's
//! legal entity ([`marketsync_pipeline::nats::NatsQueue`], partitioned by order key, the
//! event key as `Nats-Msg-Id`) and hands the engine only the records that failed to normalize
//! (they go to the exception queue as before). A page's cursor is saved only once all its
//! orders are acknowledged by JetStream. Then the entity's workers
//! ([`marketsync_pipeline::run_worker`], each with its own engine and worker id, sharing the
//! partitions) take the events until the queue stays idle; every ERP write still goes through
//! the idempotency ledger, so a redelivery or a second process posts nothing twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use marketsync_core::{
    ConnectorCapabilities, EventKind, FetchQuery, Health, IdempotencyKey, InventoryAck,
    InventoryUpdate, MarketplaceConnector, Order, Page, Refund, Result as MsResult, Settlement,
    Shipment, ShipmentAck,
};
use marketsync_pipeline::nats::{NatsConfig, NatsQueue};
use marketsync_pipeline::queue::assigned_partitions;
use marketsync_pipeline::{
    Engine, QueuedOrder, WorkQueue, WorkerOptions, WorkerReport, run_worker,
};

use crate::config::QueueSection;
use crate::ops::BoxError;

/// The work queue of one legal entity and the workers that take its events.
pub struct EntityQueue {
    /// The entity.
    pub entity: String,
    /// Its JetStream queue.
    pub queue: Arc<NatsQueue>,
    /// Its workers (one engine each).
    pub workers: Vec<Arc<Engine>>,
}

impl std::fmt::Debug for EntityQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityQueue")
            .field("entity", &self.entity)
            .field("workers", &self.workers.len())
            .finish()
    }
}

/// The stream and subject prefix of an entity's queue.
pub fn entity_queue_config(q: &QueueSection, entity: &str) -> NatsConfig {
    let mut c = NatsConfig::new(
        q.url.clone(),
        format!("{}_{entity}", q.stream),
        format!("{}.{entity}", q.subject_prefix),
    )
    .with_partitions(q.partitions);
    c.ack_wait = Duration::from_secs(q.ack_wait_secs.max(1));
    c
}

/// Connects to the entity's queue (creating its stream if missing).
pub async fn connect(q: &QueueSection, entity: &str) -> Result<Arc<NatsQueue>, BoxError> {
    let config = entity_queue_config(q, entity);
    NatsQueue::connect(config).await.map(Arc::new).map_err(|e| {
        format!(
            "NATS JetStream at {} (stream {}_{entity}): {e}",
            q.url, q.stream
        )
        .into()
    })
}

/// A connector whose order pages are published to a work queue: the engine walking it sees
/// only the records that failed to normalize. It declares the order stream only.
pub struct Publishing {
    inner: Arc<dyn MarketplaceConnector>,
    queue: Arc<NatsQueue>,
    published: AtomicU64,
}

impl Publishing {
    /// Publishes `inner`'s orders to `queue`.
    pub fn new(inner: Arc<dyn MarketplaceConnector>, queue: Arc<NatsQueue>) -> Publishing {
        Publishing {
            inner,
            queue,
            published: AtomicU64::new(0),
        }
    }

    /// Orders published so far.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl MarketplaceConnector for Publishing {
    fn channel(&self) -> marketsync_core::Channel {
        self.inner.channel()
    }
    fn shop(&self) -> marketsync_core::ShopId {
        self.inner.shop()
    }
    fn capabilities(&self) -> ConnectorCapabilities {
        let mut caps = self.inner.capabilities();
        caps.returns = false;
        caps.settlements = false;
        caps.inventory_push = false;
        caps
    }
    async fn health_check(&self) -> MsResult<Health> {
        self.inner.health_check().await
    }
    async fn fetch_orders(&self, query: &FetchQuery) -> MsResult<Page<Order>> {
        let mut page = self.inner.fetch_orders(query).await?;
        let items = std::mem::take(&mut page.items);
        for item in items {
            match &item.outcome {
                Ok(order) => {
                    let key = IdempotencyKey::derive(
                        &order.channel,
                        &order.shop,
                        &EventKind::Order,
                        order.id.as_str(),
                        &order.revision,
                    );
                    let work = QueuedOrder::item(order.clone(), Some(&item.raw), key.as_str())?;
                    // An error here fails the fetch: the engine retries it, and the cursor
                    // stays before the page (a re-publication is de-duplicated by JetStream
                    // and, past its window, by the ledger).
                    self.queue.publish(&work).await?;
                    self.published.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => page.items.push(item),
            }
        }
        Ok(page)
    }
    async fn fetch_returns(&self, query: &FetchQuery) -> MsResult<Page<Refund>> {
        self.inner.fetch_returns(query).await
    }
    async fn fetch_settlements(&self, query: &FetchQuery) -> MsResult<Page<Settlement>> {
        self.inner.fetch_settlements(query).await
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

/// What the workers of one pass did, per entity.
#[derive(Debug, Default)]
pub struct DrainReport {
    /// Entity → the sum of its workers' reports, and how many workers took part.
    pub entities: BTreeMap<String, (WorkerReport, usize)>,
    /// Workers that stopped on an infrastructure error (the queue or the store).
    pub failed: Vec<(String, marketsync_core::Error)>,
}

/// Runs every entity's workers until their partitions stay idle for `idle` polls.
pub async fn drain(queues: &[EntityQueue], poll: Duration, idle: u32) -> DrainReport {
    let mut set = tokio::task::JoinSet::new();
    for q in queues {
        let n = u32::try_from(q.workers.len()).unwrap_or(1);
        let partitions = q.queue.partitions();
        for (i, engine) in q.workers.iter().enumerate() {
            let engine = engine.clone();
            let queue = q.queue.clone();
            let entity = q.entity.clone();
            let mine = assigned_partitions(u32::try_from(i).unwrap_or(0), n, partitions);
            set.spawn(async move {
                let r = run_worker(
                    &engine,
                    queue.as_ref(),
                    &mine,
                    WorkerOptions {
                        poll,
                        stop_after_idle_polls: Some(idle),
                        retry_delay: Duration::from_millis(200),
                    },
                )
                .await;
                (entity, r)
            });
        }
    }
    let mut report = DrainReport::default();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((entity, Ok(r))) => {
                let slot = report.entities.entry(entity).or_default();
                slot.0.acked += r.acked;
                slot.0.nacked += r.nacked;
                slot.0.posted += r.posted;
                slot.0.dropped += r.dropped;
                slot.0.exceptions += r.exceptions;
                slot.1 += 1;
            }
            Ok((entity, Err(e))) => report.failed.push((entity, e)),
            Err(e) => report.failed.push((
                "?".into(),
                marketsync_core::Error::new(
                    marketsync_core::ErrorKind::Unexpected,
                    format!("worker task: {e}"),
                ),
            )),
        }
    }
    report
}
