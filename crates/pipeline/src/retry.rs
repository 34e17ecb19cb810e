//! The retry policy: jittered exponential back-off, capped attempts and elapsed time, and the
//! platform's `retry-after` honoured.
//!
//! Only errors whose [`marketsync_core::Retry`] is `Temporary` are retried; `Permanent` ones go
//! straight to the exception queue. When the policy gives up, the error is marked
//! [`marketsync_core::Retry::Persistent`] (reason `RetriesExhausted`).

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use marketsync_core::Error;

/// When and how often to retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The first back-off.
    pub initial_backoff: Duration,
    /// The longest back-off.
    pub max_backoff: Duration,
    /// Give up once this much time has passed since the first attempt (a `retry-after` that
    /// would end past it also gives up at once).
    pub max_elapsed: Duration,
    /// Seed of the jitter (deterministic per seed).
    pub jitter_seed: u64,
}

impl Default for RetryPolicy {
    /// 8 attempts, 200 ms doubling to 30 s, at most 5 minutes.
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(300),
            jitter_seed: 0x5eed,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Stop: the error is permanent or the policy is exhausted.
    GiveUp,
}

/// The retry state of one operation.
#[derive(Debug)]
pub struct Attempts<'a> {
    policy: &'a RetryPolicy,
    started: DateTime<Utc>,
    attempt: u32,
    rng: &'a Mutex<u64>,
}

impl RetryPolicy {
    /// A policy with `max_attempts` attempts and the other defaults.
    pub fn with_max_attempts(mut self, n: u32) -> RetryPolicy {
        self.max_attempts = n.max(1);
        self
    }

    /// The back-off before attempt `attempt + 1` (1-based `attempt`), before jitter:
    /// `initial × 2^(attempt−1)`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(30);
        self.initial_backoff
            .saturating_mul(1_u32 << shift)
            .min(self.max_backoff)
    }

    /// Starts counting attempts of one operation.
    pub fn start<'a>(&'a self, now: DateTime<Utc>, rng: &'a Mutex<u64>) -> Attempts<'a> {
        Attempts {
            policy: self,
            started: now,
            attempt: 0,
            rng,
        }
    }
}

fn next_random(state: &Mutex<u64>) -> u64 {
    let mut s = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// "Equal jitter": half the back-off fixed, half random, so retries spread out but never
/// collapse to zero.
fn jitter(d: Duration, r: u64) -> Duration {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let half = ms / 2;
    Duration::from_millis(half + if half == 0 { 0 } else { r % (half + 1) })
}

impl Attempts<'_> {
    /// Records an attempt that failed with `error` at `now`, and decides.
    pub fn failed(&mut self, error: &Error, now: DateTime<Utc>) -> Decision {
        self.attempt += 1;
        if !error.is_temporary() || self.attempt >= self.policy.max_attempts {
            return Decision::GiveUp;
        }
        let backoff = jitter(self.policy.backoff(self.attempt), next_random(self.rng));
        let wait = match error.retry_after() {
            // Honour the platform's wait, plus a little jitter so workers do not return in step.
            Some(ra) => ra.saturating_add(jitter(ra / 10, next_random(self.rng))),
            None => backoff,
        };
        let elapsed = (now - self.started).to_std().unwrap_or(Duration::ZERO);
        if elapsed.saturating_add(wait) > self.policy.max_elapsed {
            return Decision::GiveUp;
        }
        Decision::RetryAfter(wait)
    }

    /// Attempts made so far.
    pub fn count(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketsync_core::ErrorKind;

    #[test]
    fn backs_off_exponentially_with_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_millis(200));
        assert_eq!(p.backoff(2), Duration::from_millis(400));
        assert_eq!(p.backoff(20), Duration::from_secs(30));
        let rng = Mutex::new(1);
        let t0 = DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default();
        let mut a = p.start(t0, &rng);
        let e = Error::new(ErrorKind::Unavailable, "503");
        for i in 1..8 {
            match a.failed(&e, t0) {
                Decision::RetryAfter(d) => {
                    let b = p.backoff(i);
                    assert!(d >= b / 2 && d <= b, "attempt {i}: {d:?} vs {b:?}");
                }
                Decision::GiveUp => panic!("gave up at {i}"),
            }
        }
        assert_eq!(a.failed(&e, t0), Decision::GiveUp);
    }

    #[test]
    fn honours_retry_after_and_elapsed_cap_and_permanent() {
        let p = RetryPolicy::default();
        let rng = Mutex::new(1);
        let t0 = DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default();
        let mut a = p.start(t0, &rng);
        let throttled = Error::rate_limited(Some(Duration::from_secs(7)), "429");
        match a.failed(&throttled, t0) {
            Decision::RetryAfter(d) => assert!(d >= Duration::from_secs(7)),
            Decision::GiveUp => panic!("gave up on a 429"),
        }
        // Waiting past the elapsed cap gives up at once.
        let late = t0 + chrono::Duration::seconds(299);
        assert_eq!(a.failed(&throttled, late), Decision::GiveUp);
        let mut b = p.start(t0, &rng);
        let bad = Error::new(ErrorKind::Validation, "bad");
        assert_eq!(b.failed(&bad, t0), Decision::GiveUp);
    }
}
