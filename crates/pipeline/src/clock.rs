//! Injectable time: a [`Clock`] to read it and a [`Sleeper`] to wait, so retry, lease and
//! back-off logic runs in milliseconds under test with a [`ManualClock`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Reads the time.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// Waits.
#[async_trait]
pub trait Sleeper: Send + Sync {
    /// Waits for `d`.
    async fn sleep(&self, d: Duration);
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Sleeps on the Tokio timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// A clock that only moves when told to — or when something sleeps on it: sleeping advances
/// the clock by the duration at once (and yields to the scheduler). Also records the total
/// time slept, so tests can assert that a `retry-after` was honoured.
#[derive(Clone, Debug)]
pub struct ManualClock {
    inner: Arc<Mutex<(DateTime<Utc>, Duration)>>,
}

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            inner: Arc::new(Mutex::new((start, Duration::ZERO))),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        g.0 = chrono::Duration::from_std(d)
            .ok()
            .and_then(|c| g.0.checked_add_signed(c))
            .unwrap_or(g.0);
    }

    /// Total time slept on this clock.
    pub fn slept(&self) -> Duration {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).1
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).0
    }
}

#[async_trait]
impl Sleeper for ManualClock {
    async fn sleep(&self, d: Duration) {
        self.advance(d);
        {
            let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            g.1 = g.1.saturating_add(d);
        }
        tokio::task::yield_now().await;
    }
}
