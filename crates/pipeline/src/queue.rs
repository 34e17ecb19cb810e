//! Work distribution: the [`WorkQueue`] trait, the in-process default ([`InProcessQueue`]),
//! and [`run_worker`], which feeds queued order events to an [`Engine`].
//!
//! Work is **partitioned by order key** ([`partition_of`]): every event of one order lands in
//! the same partition, and a partition hands out its next item only after the previous one is
//! acknowledged, so one order's events are processed in the order they were published — by
//! whichever worker owns the partition ([`assigned_partitions`]). Delivery is at-least-once;
//! the engine's idempotency ledger turns that into exactly-once ERP documents.
//!
//! With the `nats` feature, [`crate::nats::NatsQueue`] runs the same contract on NATS
//! JetStream so several processes share the work.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use marketsync_core::{
    Channel, Error, ErrorKind, EventKind, Order, RawRecord, ReasonCode, Result, ShopId,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::engine::{Engine, EventOutcome};
use crate::store::{NewException, StreamKey};

/// One unit of work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkItem {
    /// What keeps related work together and in order (for orders: [`order_key`]).
    pub partition_key: String,
    /// Identifies this publication, so a publisher retrying a publish makes no second item
    /// (JetStream's `Nats-Msg-Id`).
    pub dedup_id: String,
    /// The payload (for orders: a JSON [`QueuedOrder`]).
    pub payload: Vec<u8>,
}

/// A received item, to acknowledge or give back.
pub struct Delivery {
    /// The item.
    pub item: WorkItem,
    /// Its partition.
    pub partition: u32,
    /// How many times it was delivered before this one.
    pub redeliveries: u32,
    #[cfg_attr(not(feature = "nats"), allow(dead_code))]
    pub(crate) token: Box<dyn std::any::Any + Send + Sync>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("partition", &self.partition)
            .field("dedup_id", &self.item.dedup_id)
            .field("redeliveries", &self.redeliveries)
            .finish()
    }
}

/// Distributes work between workers, with back-pressure. Object-safe.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// The number of partitions.
    fn partitions(&self) -> u32;

    /// Publishes an item to the partition of its key. Waits while the queue is full.
    async fn publish(&self, item: &WorkItem) -> Result<()>;

    /// The next item from one of `partitions` whose previous item is acknowledged, waiting at
    /// most `wait`.
    async fn receive(&self, partitions: &[u32], wait: Duration) -> Result<Option<Delivery>>;

    /// Acknowledges an item: it will not be delivered again.
    async fn ack(&self, delivery: Delivery) -> Result<()>;

    /// Gives an item back to the head of its partition, to be delivered again after `delay`.
    async fn nack(&self, delivery: Delivery, delay: Duration) -> Result<()>;
}

/// The partition of a key: a stable hash (the same on every platform and release).
pub fn partition_of(key: &str, partitions: u32) -> u32 {
    // FNV-1a, 64 bit.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    u32::try_from(h % u64::from(partitions.max(1))).unwrap_or(0)
}

/// The partitions worker `index` of `workers` owns: every `workers`-th one.
pub fn assigned_partitions(index: u32, workers: u32, partitions: u32) -> Vec<u32> {
    (0..partitions)
        .filter(|p| p % workers.max(1) == index)
        .collect()
}

/// The partition key of an order: channel, shop and order id.
pub fn order_key(order: &Order) -> String {
    format!("{}:{}:{}", order.channel.name(), order.shop, order.id)
}

/// An order event on the queue.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueuedOrder {
    /// The canonical order.
    pub order: Order,
    /// The raw payload bytes, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Vec<u8>>,
    /// Where the raw payload came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_source: Option<String>,
}

impl QueuedOrder {
    /// The work item for an order event; `dedup_id` names this publication.
    pub fn item(
        order: Order,
        raw: Option<&RawRecord>,
        dedup_id: impl Into<String>,
    ) -> Result<WorkItem> {
        let partition_key = order_key(&order);
        let q = QueuedOrder {
            order,
            raw: raw.map(|r| r.bytes.clone()),
            raw_source: raw.and_then(|r| r.source.clone()),
        };
        Ok(WorkItem {
            partition_key,
            dedup_id: dedup_id.into(),
            payload: serde_json::to_vec(&q)
                .map_err(|e| Error::new(ErrorKind::Unexpected, e.to_string()))?,
        })
    }
}

#[derive(Default)]
struct Partition {
    items: VecDeque<(WorkItem, u32)>,
    in_flight: bool,
}

struct InProcessState {
    partitions: Vec<Partition>,
    len: usize,
}

/// The in-process queue: bounded, partitioned, in memory. Cheap to clone (shared).
#[derive(Clone)]
pub struct InProcessQueue {
    state: Arc<Mutex<InProcessState>>,
    capacity: usize,
    changed: Arc<Notify>,
}

impl std::fmt::Debug for InProcessQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessQueue")
            .field("capacity", &self.capacity)
            .finish()
    }
}

struct InProcessToken;

impl InProcessQueue {
    /// A queue with `partitions` partitions holding at most `capacity` items (publishers wait
    /// when it is full: back-pressure).
    pub fn new(partitions: u32, capacity: usize) -> InProcessQueue {
        InProcessQueue {
            state: Arc::new(Mutex::new(InProcessState {
                partitions: (0..partitions.max(1))
                    .map(|_| Partition::default())
                    .collect(),
                len: 0,
            })),
            capacity: capacity.max(1),
            changed: Arc::new(Notify::new()),
        }
    }

    /// Items waiting or in flight.
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// True when nothing waits and nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InProcessState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl WorkQueue for InProcessQueue {
    fn partitions(&self) -> u32 {
        u32::try_from(self.lock().partitions.len()).unwrap_or(u32::MAX)
    }

    async fn publish(&self, item: &WorkItem) -> Result<()> {
        loop {
            let notified = self.changed.notified();
            {
                let mut s = self.lock();
                if s.len < self.capacity {
                    let n = u32::try_from(s.partitions.len()).unwrap_or(1);
                    let p = partition_of(&item.partition_key, n) as usize;
                    if let Some(part) = s.partitions.get_mut(p) {
                        part.items.push_back((item.clone(), 0));
                    }
                    s.len += 1;
                    drop(s);
                    self.changed.notify_waiters();
                    return Ok(());
                }
            }
            notified.await;
        }
    }

    async fn receive(&self, partitions: &[u32], wait: Duration) -> Result<Option<Delivery>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.changed.notified();
            {
                let mut s = self.lock();
                for &p in partitions {
                    let Some(part) = s.partitions.get_mut(p as usize) else {
                        continue;
                    };
                    if part.in_flight {
                        continue;
                    }
                    if let Some((item, redeliveries)) = part.items.front().cloned() {
                        part.in_flight = true;
                        return Ok(Some(Delivery {
                            item,
                            partition: p,
                            redeliveries,
                            token: Box::new(InProcessToken),
                        }));
                    }
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }

    async fn ack(&self, d: Delivery) -> Result<()> {
        {
            let mut s = self.lock();
            if let Some(part) = s.partitions.get_mut(d.partition as usize) {
                if part.in_flight {
                    part.items.pop_front();
                    part.in_flight = false;
                    s.len = s.len.saturating_sub(1);
                }
            }
        }
        self.changed.notify_waiters();
        Ok(())
    }

    async fn nack(&self, d: Delivery, delay: Duration) -> Result<()> {
        tokio::time::sleep(delay).await;
        {
            let mut s = self.lock();
            if let Some(part) = s.partitions.get_mut(d.partition as usize) {
                if let Some(front) = part.items.front_mut() {
                    front.1 = front.1.saturating_add(1);
                }
                part.in_flight = false;
            }
        }
        self.changed.notify_waiters();
        Ok(())
    }
}

/// What a worker did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Items acknowledged.
    pub acked: u64,
    /// Items given back after an infrastructure error.
    pub nacked: u64,
    /// Events that posted documents.
    pub posted: u64,
    /// Duplicates and stale revisions dropped.
    pub dropped: u64,
    /// Events sent to the exception queue.
    pub exceptions: u64,
}

/// How a worker waits for work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerOptions {
    /// How long one receive waits.
    pub poll: Duration,
    /// Stop after this many consecutive empty receives (`None`: run until shutdown).
    pub stop_after_idle_polls: Option<u32>,
    /// Delay before an item given back after an infrastructure error is delivered again.
    pub retry_delay: Duration,
}

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            poll: Duration::from_millis(500),
            stop_after_idle_polls: None,
            retry_delay: Duration::from_millis(200),
        }
    }
}

/// Feeds queued order events from `partitions` to `engine` until the engine's shutdown handle
/// fires (or the queue stays idle, per `options`). An item is acknowledged once the engine has
/// durably handled it (posted, dropped as duplicate or stale, or queued as an exception); an
/// infrastructure error gives it back. An undecodable item goes to the exception queue with
/// its bytes.
pub async fn run_worker(
    engine: &Engine,
    queue: &dyn WorkQueue,
    partitions: &[u32],
    options: WorkerOptions,
) -> Result<WorkerReport> {
    let shutdown = engine.shutdown_handle();
    let mut report = WorkerReport::default();
    let mut idle = 0;
    while !shutdown.is_shutdown() {
        let Some(d) = queue.receive(partitions, options.poll).await? else {
            idle += 1;
            if options.stop_after_idle_polls.is_some_and(|n| idle >= n) {
                break;
            }
            continue;
        };
        idle = 0;
        match serde_json::from_slice::<QueuedOrder>(&d.item.payload) {
            Ok(q) => {
                let stream =
                    StreamKey::new(q.order.channel.clone(), q.order.shop.clone(), "orders");
                let raw = q
                    .raw
                    .map(|bytes| RawRecord::json(bytes, q.raw_source.as_deref()));
                match engine.process_order(&stream, q.order, raw.as_ref()).await {
                    Ok(EventOutcome::InFlight) => {
                        // Held by a stopped worker: try again after a while.
                        queue.nack(d, options.retry_delay).await?;
                        report.nacked += 1;
                    }
                    Ok(outcome) => {
                        match outcome {
                            EventOutcome::Posted { .. } => report.posted += 1,
                            EventOutcome::Exception(_) => report.exceptions += 1,
                            _ => report.dropped += 1,
                        }
                        queue.ack(d).await?;
                        report.acked += 1;
                    }
                    Err(e) => {
                        tracing::warn!(
                            kind = e.kind().name(),
                            partition = d.partition,
                            "work item failed on infrastructure; giving it back"
                        );
                        queue.nack(d, options.retry_delay).await?;
                        report.nacked += 1;
                    }
                }
            }
            Err(e) => {
                let raw = RawRecord::json(d.item.payload.clone(), Some("work_queue"));
                engine
                    .store()
                    .record_exception(&NewException {
                        stream: StreamKey::new(
                            Channel::Custom("queue".into()),
                            ShopId::new("queue"),
                            "orders",
                        ),
                        kind: EventKind::Order,
                        external_id: None,
                        event_key: None,
                        reason: ReasonCode::MalformedPayload,
                        message: format!("undecodable work item: {e}"),
                        raw: Some(raw),
                        canonical: None,
                        window: None,
                        now: engine.now(),
                    })
                    .await?;
                queue.ack(d).await?;
                report.acked += 1;
                report.exceptions += 1;
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, n: u32) -> WorkItem {
        WorkItem {
            partition_key: key.into(),
            dedup_id: format!("{key}-{n}"),
            payload: n.to_be_bytes().to_vec(),
        }
    }

    #[test]
    fn partitions_are_stable_and_cover_workers() {
        assert_eq!(partition_of("tmall:s:1", 12), partition_of("tmall:s:1", 12));
        let all: Vec<u32> = (0..3).flat_map(|w| assigned_partitions(w, 3, 12)).collect();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..12).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn one_key_stays_in_order_and_waits_for_its_ack() {
        let q = InProcessQueue::new(4, 100);
        for n in 0..3 {
            q.publish(&item("a", n)).await.unwrap();
        }
        let all = [0, 1, 2, 3];
        let first = q.receive(&all, Duration::ZERO).await.unwrap().unwrap();
        assert_eq!(first.item.dedup_id, "a-0");
        // The partition is blocked until the ack.
        assert!(q.receive(&all, Duration::ZERO).await.unwrap().is_none());
        q.nack(first, Duration::ZERO).await.unwrap();
        let again = q.receive(&all, Duration::ZERO).await.unwrap().unwrap();
        assert_eq!(
            (again.item.dedup_id.as_str(), again.redeliveries),
            ("a-0", 1)
        );
        q.ack(again).await.unwrap();
        let next = q.receive(&all, Duration::ZERO).await.unwrap().unwrap();
        assert_eq!(next.item.dedup_id, "a-1");
        q.ack(next).await.unwrap();
        assert_eq!(q.len(), 1);
    }

    #[tokio::test]
    async fn publishing_waits_when_full() {
        let q = InProcessQueue::new(1, 1);
        q.publish(&item("a", 0)).await.unwrap();
        let blocked =
            tokio::time::timeout(Duration::from_millis(20), q.publish(&item("a", 1))).await;
        assert!(blocked.is_err(), "a full queue must push back");
        let d = q.receive(&[0], Duration::ZERO).await.unwrap().unwrap();
        q.ack(d).await.unwrap();
        q.publish(&item("a", 1)).await.unwrap();
    }
}
