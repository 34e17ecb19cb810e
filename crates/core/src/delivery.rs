//! Processed-delivery records for webhook de-duplication: [`DeliveryLog`].
//!
//! A webhook receiver (e.g. the Shopify connector's verifier) records each delivery it has
//! processed — by delivery id and by a digest of its signed body — for a time to live, and
//! refuses what it finds recorded. The log is a trait so the connector does not depend on a
//! storage backend: [`MemoryDeliveryLog`] is the embedded default (lost on restart, bounded);
//! the pipeline's store provides a durable one shared by every worker.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{Error, ErrorKind, Result};

/// Where processed deliveries are recorded. Object-safe (`Arc<dyn DeliveryLog>`).
///
/// Implementations must fail closed: when they cannot tell (a poisoned lock, an unreachable
/// database) they answer an error, never "not seen".
#[async_trait]
pub trait DeliveryLog: Send + Sync {
    /// Whether `key` is recorded and not expired at `now`.
    async fn contains(&self, key: &str, now: DateTime<Utc>) -> Result<bool>;

    /// Records `key` until `expires_at`. `true` when it was new (or its earlier record had
    /// expired), `false` when it was already recorded.
    async fn insert(
        &self,
        key: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool>;

    /// Forgets records expired at `now`; returns how many.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64>;
}

struct Entries {
    expiry: HashMap<String, DateTime<Utc>>,
    by_expiry: BTreeMap<(DateTime<Utc>, String), ()>,
}

/// An in-memory [`DeliveryLog`] for embedded use: records expire at their time to live, and at
/// most `capacity` are kept (the soonest to expire are dropped first). Lost on restart — use
/// the pipeline store's durable log when deliveries must stay refused across restarts.
pub struct MemoryDeliveryLog {
    entries: Mutex<Entries>,
    capacity: usize,
}

impl std::fmt::Debug for MemoryDeliveryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryDeliveryLog")
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Default for MemoryDeliveryLog {
    fn default() -> Self {
        MemoryDeliveryLog::new(100_000)
    }
}

fn poisoned() -> Error {
    Error::new(
        ErrorKind::Unavailable,
        "delivery log lock poisoned: refusing deliveries rather than risk processing one twice",
    )
    .with_context("component", "delivery_log")
}

impl MemoryDeliveryLog {
    /// A log keeping at most `capacity` records (at least 1).
    pub fn new(capacity: usize) -> MemoryDeliveryLog {
        MemoryDeliveryLog {
            entries: Mutex::new(Entries {
                expiry: HashMap::new(),
                by_expiry: BTreeMap::new(),
            }),
            capacity: capacity.max(1),
        }
    }
}

#[async_trait]
impl DeliveryLog for MemoryDeliveryLog {
    async fn contains(&self, key: &str, now: DateTime<Utc>) -> Result<bool> {
        let e = self.entries.lock().map_err(|_| poisoned())?;
        Ok(e.expiry.get(key).is_some_and(|exp| *exp > now))
    }

    async fn insert(
        &self,
        key: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut e = self.entries.lock().map_err(|_| poisoned())?;
        if let Some(exp) = e.expiry.get(key).copied() {
            if exp > now {
                return Ok(false);
            }
            e.by_expiry.remove(&(exp, key.to_owned()));
        }
        e.expiry.insert(key.to_owned(), expires_at);
        e.by_expiry.insert((expires_at, key.to_owned()), ());
        while e.expiry.len() > self.capacity {
            let Some(((_, oldest), ())) = e.by_expiry.pop_first() else {
                break;
            };
            e.expiry.remove(&oldest);
        }
        Ok(true)
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut e = self.entries.lock().map_err(|_| poisoned())?;
        let mut n = 0u64;
        while let Some(((exp, _), ())) = e.by_expiry.first_key_value() {
            if *exp > now {
                break;
            }
            let Some(((_, key), ())) = e.by_expiry.pop_first() else {
                break;
            };
            e.expiry.remove(&key);
            n = n.saturating_add(1);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_expire_and_capacity_bounds() {
        let log = MemoryDeliveryLog::new(2);
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let later = |s| t0 + chrono::Duration::seconds(s);
        assert!(log.insert("a", t0, later(10)).await.unwrap());
        assert!(!log.insert("a", later(5), later(15)).await.unwrap());
        assert!(log.contains("a", later(9)).await.unwrap());
        assert!(!log.contains("a", later(10)).await.unwrap());
        // Expired: recorded anew.
        assert!(log.insert("a", later(11), later(30)).await.unwrap());
        assert!(log.insert("b", t0, later(20)).await.unwrap());
        assert!(log.insert("c", t0, later(40)).await.unwrap());
        // Capacity 2: "b" (soonest to expire) was dropped.
        assert!(!log.contains("b", t0).await.unwrap());
        assert!(
            log.contains("a", later(12)).await.unwrap() && log.contains("c", t0).await.unwrap()
        );
        assert_eq!(log.purge_expired(later(35)).await.unwrap(), 1);
        assert!(log.contains("c", later(35)).await.unwrap());
    }

    #[tokio::test]
    async fn poisoned_lock_fails_closed() {
        let log = MemoryDeliveryLog::new(10);
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = log.entries.lock();
            std::panic::resume_unwind(Box::new("poisoning the delivery log on purpose"));
        }));
        assert!(log.entries.is_poisoned());
        let now = Utc::now();
        assert!(log.contains("a", now).await.is_err());
        assert!(log.insert("a", now, now).await.is_err());
    }
}
