//! [`WorkQueue`] on NATS JetStream (feature `nats`), for several worker processes.
//!
//! One stream holds subjects `<prefix>.<partition>`; each partition has one durable pull
//! consumer with `max_ack_pending = 1`, so a partition delivers its next message only after
//! the previous one is acknowledged — one order's events stay in order even across
//! redeliveries and worker restarts. Publications carry `Nats-Msg-Id` (the item's dedup id),
//! so a retried publish inside the stream's duplicate window makes no second message. The
//! stream's `max_messages` with the `New` discard policy is the back-pressure: a full stream
//! refuses publications and [`NatsQueue::publish`] waits and retries.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, AckKind, stream};
use async_trait::async_trait;
use futures_util::StreamExt;
use marketsync_core::{Error, ErrorKind, Result};

use crate::queue::{Delivery, WorkItem, WorkQueue, partition_of};

fn nats_err(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::Unavailable, format!("nats: {what} failed"))
        .with_context("queue", "nats")
        .with_source(e)
}

/// Where the queue lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsConfig {
    /// Server URL (`nats://127.0.0.1:4222`).
    pub url: String,
    /// Stream name (letters, digits, `_`, `-`).
    pub stream: String,
    /// Subject prefix (`marketsync.work`).
    pub subject_prefix: String,
    /// Partitions.
    pub partitions: u32,
    /// The most messages the stream holds before publishers wait.
    pub max_messages: i64,
    /// How long the server waits for an acknowledgement before redelivering.
    pub ack_wait: Duration,
}

impl NatsConfig {
    /// A config with 16 partitions, 100,000 messages and a 30-second ack wait.
    pub fn new(
        url: impl Into<String>,
        stream: impl Into<String>,
        subject_prefix: impl Into<String>,
    ) -> NatsConfig {
        NatsConfig {
            url: url.into(),
            stream: stream.into(),
            subject_prefix: subject_prefix.into(),
            partitions: 16,
            max_messages: 100_000,
            ack_wait: Duration::from_secs(30),
        }
    }

    /// Sets the number of partitions.
    pub fn with_partitions(mut self, n: u32) -> NatsConfig {
        self.partitions = n.max(1);
        self
    }
}

/// The JetStream work queue. Cheap to share behind an `Arc`.
pub struct NatsQueue {
    js: jetstream::Context,
    stream: stream::Stream,
    config: NatsConfig,
    consumers: Mutex<HashMap<u32, PullConsumer>>,
}

impl std::fmt::Debug for NatsQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsQueue")
            .field("stream", &self.config.stream)
            .field("partitions", &self.config.partitions)
            .finish()
    }
}

impl NatsQueue {
    /// Connects and creates the stream if missing.
    pub async fn connect(config: NatsConfig) -> Result<NatsQueue> {
        let client = async_nats::connect(config.url.as_str())
            .await
            .map_err(|e| nats_err("connect", e))?;
        let js = jetstream::new(client);
        let stream = js
            .get_or_create_stream(stream::Config {
                name: config.stream.clone(),
                subjects: vec![format!("{}.*", config.subject_prefix)],
                max_messages: config.max_messages,
                discard: stream::DiscardPolicy::New,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| nats_err("create stream", e))?;
        Ok(NatsQueue {
            js,
            stream,
            config,
            consumers: Mutex::new(HashMap::new()),
        })
    }

    /// Deletes the stream and its consumers (tests, tear-down).
    pub async fn delete(&self) -> Result<()> {
        self.js
            .delete_stream(&self.config.stream)
            .await
            .map_err(|e| nats_err("delete stream", e))?;
        Ok(())
    }

    fn subject(&self, partition: u32) -> String {
        format!("{}.{partition}", self.config.subject_prefix)
    }

    async fn consumer(&self, partition: u32) -> Result<PullConsumer> {
        if let Some(c) = self
            .consumers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&partition)
        {
            return Ok(c.clone());
        }
        let name = format!("{}-p{partition}", self.config.stream);
        let c: PullConsumer = self
            .stream
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: self.subject(partition),
                    ack_policy: AckPolicy::Explicit,
                    max_ack_pending: 1,
                    ack_wait: self.config.ack_wait,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| nats_err("create consumer", e))?;
        self.consumers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(partition, c.clone());
        Ok(c)
    }
}

#[async_trait]
impl WorkQueue for NatsQueue {
    fn partitions(&self) -> u32 {
        self.config.partitions
    }

    async fn publish(&self, item: &WorkItem) -> Result<()> {
        let subject = self.subject(partition_of(&item.partition_key, self.config.partitions));
        let mut wait = Duration::from_millis(10);
        loop {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", item.dedup_id.as_str());
            let sent = self
                .js
                .publish_with_headers(subject.clone(), headers, item.payload.clone().into())
                .await;
            let acked = match sent {
                Ok(ack) => ack
                    .await
                    .map(|_| ())
                    .map_err(|e| nats_err("publish ack", e)),
                Err(e) => Err(nats_err("publish", e)),
            };
            match acked {
                Ok(()) => return Ok(()),
                // A full stream (discard = new) refuses: wait for consumers, then retry.
                Err(e) if wait < Duration::from_secs(5) => {
                    tracing::debug!(error = %e, "publish refused; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn receive(&self, partitions: &[u32], wait: Duration) -> Result<Option<Delivery>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            for &p in partitions {
                let consumer = self.consumer(p).await?;
                let mut batch = consumer
                    .fetch()
                    .max_messages(1)
                    .messages()
                    .await
                    .map_err(|e| nats_err("fetch", e))?;
                if let Some(msg) = batch.next().await {
                    let msg = msg.map_err(|e| nats_err_boxed("receive", e))?;
                    let redeliveries = msg
                        .info()
                        .map(|i| u32::try_from(i.delivered.saturating_sub(1)).unwrap_or(0))
                        .unwrap_or(0);
                    let item = WorkItem {
                        partition_key: String::new(),
                        dedup_id: msg
                            .headers
                            .as_ref()
                            .and_then(|h| h.get("Nats-Msg-Id"))
                            .map(|v| v.as_str().to_owned())
                            .unwrap_or_default(),
                        payload: msg.payload.to_vec(),
                    };
                    return Ok(Some(Delivery {
                        item,
                        partition: p,
                        redeliveries,
                        token: Box::new(msg),
                    }));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn ack(&self, d: Delivery) -> Result<()> {
        let msg = d
            .token
            .downcast::<jetstream::Message>()
            .map_err(|_| Error::new(ErrorKind::Unexpected, "not a NATS delivery"))?;
        msg.double_ack().await.map_err(|e| nats_err_boxed("ack", e))
    }

    async fn nack(&self, d: Delivery, delay: Duration) -> Result<()> {
        let msg = d
            .token
            .downcast::<jetstream::Message>()
            .map_err(|_| Error::new(ErrorKind::Unexpected, "not a NATS delivery"))?;
        msg.ack_with(AckKind::Nak(Some(delay)))
            .await
            .map_err(|e| nats_err_boxed("nak", e))
    }
}

fn nats_err_boxed(what: &str, e: async_nats::Error) -> Error {
    Error::new(ErrorKind::Unavailable, format!("nats: {what} failed"))
        .with_context("queue", "nats")
        .with_source(e)
}
