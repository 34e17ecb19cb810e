//! Webhook deliveries: size cap, HMAC verification, freshness and de-duplication, as a
//! function a user's HTTP server calls with the request headers and the **raw** body (before
//! any JSON parsing).
//!
//! In order, [`WebhookVerifier::verify`]:
//!
//! 1. refuses a body larger than [`WebhookPolicy::max_body_bytes`] (default 1 MiB; Shopify's
//!    largest documented payload limit is 1,000,000 bytes, for Amazon EventBridge deliveries)
//!    **before** computing the HMAC, so a 64 MiB body costs nothing but its length check
//!    (cap the request body in your HTTP server at the same size, too);
//! 2. checks `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(client secret, raw body)) in
//!    constant time. During a secret rotation both the current and the previous secret are
//!    accepted (Shopify may keep signing with the old one for up to an hour);
//! 3. requires `X-Shopify-Webhook-Id` and `X-Shopify-Triggered-At`, and refuses a delivery
//!    triggered more than [`WebhookPolicy::max_age`] ago (default 5 hours: Shopify retries a
//!    failed delivery 8 times over 4 hours, with the original payload and trigger time) or
//!    more than [`WebhookPolicy::max_future_skew`] in the future;
//! 4. answers [`WebhookOutcome::Duplicate`] for a delivery whose id was already
//!    [completed](WebhookVerifier::complete), **and** for a body already completed under the
//!    same topic with another delivery id (a captured body replayed under a new id), for
//!    [`WebhookPolicy::dedup_ttl`] (default 72 hours).
//!
//! Shopify signs the body only: the headers (id, topic, trigger time) can be changed by whoever
//! captured a delivery. The body digest is what stops a replay within the dedup window; past
//! it, a replayed body is an old revision the pipeline's idempotency ledger already holds.
//!
//! Processed deliveries are recorded in a [`DeliveryLog`]: in memory by default (bounded,
//! lost on restart); give the verifier the pipeline store's durable log
//! (`marketsync_pipeline::store::StoreDeliveryLog`) so they stay refused across restarts and
//! workers. A log that cannot answer (a poisoned lock, a database down) makes `verify` fail —
//! never "not seen". Ids are recorded only once you say the delivery was processed, so a
//! delivery whose processing failed is not lost when Shopify retries it.
//!
//! ```
//! use marketsync_shopify::webhook::{WebhookOutcome, WebhookVerifier, TRIGGERED_AT_HEADER};
//! use marketsync_shopify::auth::webhook_hmac;
//! use http::{HeaderMap, HeaderValue};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = WebhookVerifier::new("my_client_secret");
//! let body = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;
//! let mut headers = HeaderMap::new();
//! headers.insert("x-shopify-hmac-sha256", HeaderValue::from_str(&webhook_hmac(b"my_client_secret", body))?);
//! headers.insert("x-shopify-webhook-id", HeaderValue::from_static("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"));
//! headers.insert("x-shopify-topic", HeaderValue::from_static("orders/updated"));
//! headers.insert(TRIGGERED_AT_HEADER, HeaderValue::from_str(&chrono::Utc::now().to_rfc3339())?);
//! match verifier.verify(&headers, body).await? {
//!     WebhookOutcome::Accepted(delivery) => {
//!         // ... process, then:
//!         verifier.complete(&delivery).await?;
//!     }
//!     WebhookOutcome::Duplicate { .. } => {}
//! }
//! assert!(matches!(verifier.verify(&headers, body).await?, WebhookOutcome::Duplicate { .. }));
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use marketsync_core::{
    DeliveryLog, Error, ErrorKind, MemoryDeliveryLog, ReasonCode, Result, Secret,
};
use sha2::{Digest, Sha256};

use crate::auth::verify_webhook_hmac;
use crate::config::ShopifyConfig;

/// `X-Shopify-Hmac-Sha256`.
pub const HMAC_HEADER: &str = "x-shopify-hmac-sha256";
/// `X-Shopify-Webhook-Id`: the delivery id, stable across retries (the dedup key).
pub const WEBHOOK_ID_HEADER: &str = "x-shopify-webhook-id";
/// `X-Shopify-Event-Id`: the event id (one event may fan out to several subscriptions).
pub const EVENT_ID_HEADER: &str = "x-shopify-event-id";
/// `X-Shopify-Topic`, e.g. `orders/updated`.
pub const TOPIC_HEADER: &str = "x-shopify-topic";
/// `X-Shopify-Shop-Domain`.
pub const SHOP_DOMAIN_HEADER: &str = "x-shopify-shop-domain";
/// `X-Shopify-API-Version`: the version the payload is shaped for.
pub const API_VERSION_HEADER: &str = "x-shopify-api-version";
/// `X-Shopify-Triggered-At`: when the event was triggered (RFC 3339), unchanged on retries.
pub const TRIGGERED_AT_HEADER: &str = "x-shopify-triggered-at";

/// The default body cap: 1 MiB (Shopify documents payloads of up to 1,000,000 bytes).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the verifier accepts. [`Default`] is the documented default of each field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookPolicy {
    /// Largest body accepted, checked before the HMAC (default 1 MiB).
    pub max_body_bytes: usize,
    /// Oldest `X-Shopify-Triggered-At` accepted (default 5 hours: Shopify's retries span 4).
    pub max_age: Duration,
    /// How far in the future `X-Shopify-Triggered-At` may be (clock skew; default 5 minutes).
    pub max_future_skew: Duration,
    /// How long a processed delivery id and body digest are remembered (default 72 hours;
    /// keep it at least `max_age + max_future_skew`).
    pub dedup_ttl: Duration,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        WebhookPolicy {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_age: Duration::from_secs(5 * 3600),
            max_future_skew: Duration::from_secs(300),
            dedup_ttl: Duration::from_secs(72 * 3600),
        }
    }
}

/// A verified delivery. `Debug` omits the body (it holds personal data).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// The topic, e.g. `orders/updated`.
    pub topic: Option<String>,
    /// The shop that sent it.
    pub shop_domain: Option<String>,
    /// The delivery id (dedup key).
    pub webhook_id: String,
    /// The event id, if sent.
    pub event_id: Option<String>,
    /// The API version of the payload.
    pub api_version: Option<String>,
    /// When Shopify triggered it, as sent.
    pub triggered_at: Option<String>,
    /// The resource's GraphQL id (`admin_graphql_api_id` in the payload), if present: fetch
    /// the full record by this id (webhook payloads use the REST shape).
    pub resource_gid: Option<String>,
    /// Hex SHA-256 of the raw body (the replay dedup key, with the topic).
    pub body_digest: String,
    /// The raw body.
    pub body: Vec<u8>,
}

impl fmt::Debug for WebhookDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookDelivery")
            .field("topic", &self.topic)
            .field("shop_domain", &self.shop_domain)
            .field("webhook_id", &self.webhook_id)
            .field("event_id", &self.event_id)
            .field("api_version", &self.api_version)
            .field("triggered_at", &self.triggered_at)
            .field("resource_gid", &self.resource_gid)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Why a delivery is a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateOf {
    /// Its delivery id was processed (Shopify's own retry).
    WebhookId,
    /// The same body under the same topic was processed with another delivery id (a replay
    /// of a captured body, or a fan-out of one event to several subscriptions).
    Body,
}

/// What [`WebhookVerifier::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Authentic, fresh and not seen before: process it, then call
    /// [`WebhookVerifier::complete`].
    Accepted(WebhookDelivery),
    /// Authentic, already processed: answer 200 and skip it.
    Duplicate {
        /// The delivery id it came with.
        webhook_id: String,
        /// What matched.
        by: DuplicateOf,
    },
}

/// A clock, injectable for tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Verifies and de-duplicates webhook deliveries. Share one instance per app (it is `Sync`).
pub struct WebhookVerifier {
    secrets: Vec<Vec<u8>>,
    policy: WebhookPolicy,
    log: Arc<dyn DeliveryLog>,
    clock: Clock,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.secrets.len()),
            )
            .field("policy", &self.policy)
            .finish()
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn refused(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message).with_context("connector", "shopify")
}

fn invalid(message: impl Into<String>) -> Error {
    Error::validation(ReasonCode::MalformedPayload, message).with_context("connector", "shopify")
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn digest_hex(body: &[u8]) -> String {
    let d = Sha256::digest(body);
    let mut s = String::with_capacity(64);
    for b in d.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn id_key(webhook_id: &str) -> String {
    format!("shopify:webhook-id:{webhook_id}")
}

fn body_key(topic: Option<&str>, digest: &str) -> String {
    format!("shopify:webhook-body:{}:{digest}", topic.unwrap_or(""))
}

impl WebhookVerifier {
    /// A verifier for the app's client secret with the default [`WebhookPolicy`] and an
    /// in-memory [`DeliveryLog`] (100,000 deliveries).
    pub fn new(secret: impl Into<Vec<u8>>) -> WebhookVerifier {
        WebhookVerifier {
            secrets: vec![secret.into()],
            policy: WebhookPolicy::default(),
            log: Arc::new(MemoryDeliveryLog::default()),
            clock: Arc::new(Utc::now),
        }
    }

    /// Also accepts the previous secret (during a rotation).
    pub fn with_previous_secret(mut self, secret: impl Into<Vec<u8>>) -> WebhookVerifier {
        self.secrets.push(secret.into());
        self
    }

    /// Sets the policy.
    pub fn with_policy(mut self, policy: WebhookPolicy) -> WebhookVerifier {
        self.policy = policy;
        self
    }

    /// Records processed deliveries in `log` (e.g. the pipeline store's durable log).
    pub fn with_delivery_log(mut self, log: Arc<dyn DeliveryLog>) -> WebhookVerifier {
        self.log = log;
        self
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> WebhookVerifier {
        self.clock = clock;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &WebhookPolicy {
        &self.policy
    }

    /// From the connector configuration (`webhook_secret`, `previous_webhook_secret`).
    pub fn from_config(config: &ShopifyConfig) -> Result<WebhookVerifier> {
        let secret = config
            .webhook_secret
            .as_ref()
            .map(Secret::expose)
            .ok_or_else(|| {
                Error::new(ErrorKind::ConfigInvalid, "webhook_secret is not configured")
            })?;
        let mut v = WebhookVerifier::new(secret.as_bytes());
        if let Some(old) = &config.previous_webhook_secret {
            v = v.with_previous_secret(old.expose().as_bytes());
        }
        Ok(v)
    }

    /// Checks size, HMAC, required headers and freshness — everything but de-duplication —
    /// and returns the delivery. Synchronous; [`WebhookVerifier::verify`] adds the dedup.
    ///
    /// Errors: a body over the cap is `Validation` (answer 413); a missing or wrong HMAC is
    /// `Unauthorized` (answer 401); a delivery without `X-Shopify-Webhook-Id` or
    /// `X-Shopify-Triggered-At`, or triggered outside the freshness window, is `Validation`
    /// (answer 400).
    pub fn authenticate(&self, headers: &HeaderMap, body: &[u8]) -> Result<WebhookDelivery> {
        if body.len() > self.policy.max_body_bytes {
            return Err(invalid(format!(
                "webhook body of {} bytes exceeds the {}-byte cap",
                body.len(),
                self.policy.max_body_bytes
            ))
            .with_context("max_body_bytes", self.policy.max_body_bytes));
        }
        let hmac = header(headers, HMAC_HEADER).ok_or_else(|| {
            refused(
                ErrorKind::Unauthorized,
                "webhook without X-Shopify-Hmac-Sha256",
            )
        })?;
        if !self
            .secrets
            .iter()
            .any(|s| verify_webhook_hmac(s, body, hmac))
        {
            return Err(refused(
                ErrorKind::Unauthorized,
                "webhook HMAC does not match",
            ));
        }
        let webhook_id = header(headers, WEBHOOK_ID_HEADER)
            .ok_or_else(|| invalid("webhook without X-Shopify-Webhook-Id"))?
            .to_owned();
        let triggered_raw = header(headers, TRIGGERED_AT_HEADER)
            .ok_or_else(|| invalid("webhook without X-Shopify-Triggered-At"))?;
        let triggered = DateTime::parse_from_rfc3339(triggered_raw)
            .map_err(|e| invalid("X-Shopify-Triggered-At is not an RFC 3339 time").with_source(e))?
            .with_timezone(&Utc);
        let now = (self.clock)();
        if now.signed_duration_since(triggered) > chrono_of(self.policy.max_age) {
            return Err(
                invalid("stale webhook: triggered before the freshness window")
                    .with_context("triggered_at", triggered.to_rfc3339()),
            );
        }
        if triggered.signed_duration_since(now) > chrono_of(self.policy.max_future_skew) {
            return Err(
                invalid("webhook triggered in the future beyond the allowed skew")
                    .with_context("triggered_at", triggered.to_rfc3339()),
            );
        }
        let resource_gid = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("admin_graphql_api_id")
                    .and_then(|g| g.as_str())
                    .map(str::to_owned)
            });
        Ok(WebhookDelivery {
            topic: header(headers, TOPIC_HEADER).map(str::to_owned),
            shop_domain: header(headers, SHOP_DOMAIN_HEADER).map(str::to_owned),
            webhook_id,
            event_id: header(headers, EVENT_ID_HEADER).map(str::to_owned),
            api_version: header(headers, API_VERSION_HEADER).map(str::to_owned),
            triggered_at: Some(triggered_raw.to_owned()),
            resource_gid,
            body_digest: digest_hex(body),
            body: body.to_vec(),
        })
    }

    /// [Authenticates](WebhookVerifier::authenticate) the delivery, then checks its id and
    /// its body (under its topic) against processed deliveries. A delivery log that cannot
    /// answer is an error (fail closed).
    pub async fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<WebhookOutcome> {
        let delivery = self.authenticate(headers, body)?;
        let now = (self.clock)();
        if self
            .log
            .contains(&id_key(&delivery.webhook_id), now)
            .await?
        {
            return Ok(WebhookOutcome::Duplicate {
                webhook_id: delivery.webhook_id,
                by: DuplicateOf::WebhookId,
            });
        }
        let bk = body_key(delivery.topic.as_deref(), &delivery.body_digest);
        if self.log.contains(&bk, now).await? {
            return Ok(WebhookOutcome::Duplicate {
                webhook_id: delivery.webhook_id,
                by: DuplicateOf::Body,
            });
        }
        Ok(WebhookOutcome::Accepted(delivery))
    }

    /// Records a delivery as processed: later deliveries with its id, or with its body under
    /// its topic, are duplicates for [`WebhookPolicy::dedup_ttl`].
    pub async fn complete(&self, delivery: &WebhookDelivery) -> Result<()> {
        let now = (self.clock)();
        let until = now
            .checked_add_signed(chrono_of(self.policy.dedup_ttl))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.log
            .insert(&id_key(&delivery.webhook_id), now, until)
            .await?;
        self.log
            .insert(
                &body_key(delivery.topic.as_deref(), &delivery.body_digest),
                now,
                until,
            )
            .await?;
        Ok(())
    }

    /// Forgets delivery records past their time to live (run it now and then; the durable log
    /// keeps them until then). Returns how many.
    pub async fn purge_expired(&self) -> Result<u64> {
        self.log.purge_expired((self.clock)()).await
    }

    /// True when a delivery id was processed (and is still remembered).
    pub async fn is_processed(&self, webhook_id: &str) -> Result<bool> {
        self.log.contains(&id_key(webhook_id), (self.clock)()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::webhook_hmac;
    use http::HeaderValue;
    use std::sync::Mutex;

    const BODY: &[u8] =
        br#"{"id":450789469,"admin_graphql_api_id":"gid://shopify/Order/450789469"}"#;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-05T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn headers_at(hmac: &str, id: &str, triggered: DateTime<Utc>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "X-Shopify-Hmac-Sha256",
            HeaderValue::from_str(hmac).unwrap(),
        );
        h.insert("X-Shopify-Webhook-Id", HeaderValue::from_str(id).unwrap());
        h.insert(
            "X-Shopify-Topic",
            HeaderValue::from_static("orders/updated"),
        );
        h.insert(
            "X-Shopify-Shop-Domain",
            HeaderValue::from_static("demo.myshopify.com"),
        );
        h.insert(
            "X-Shopify-Triggered-At",
            HeaderValue::from_str(&triggered.to_rfc3339()).unwrap(),
        );
        h
    }

    fn headers(hmac: &str, id: &str) -> HeaderMap {
        headers_at(hmac, id, t0())
    }

    /// A verifier whose clock the test moves.
    fn verifier(secret: &str) -> (WebhookVerifier, Arc<Mutex<DateTime<Utc>>>) {
        let now = Arc::new(Mutex::new(t0()));
        let n = now.clone();
        let v = WebhookVerifier::new(secret.to_owned())
            .with_clock(Arc::new(move || *n.lock().unwrap()));
        (v, now)
    }

    fn signed(id: &str) -> HeaderMap {
        headers(&webhook_hmac(b"hush", BODY), id)
    }

    #[tokio::test]
    async fn accepts_known_vector_and_dedups_after_completion() {
        // Independent vector (Python hmac): secret "hush" over BODY.
        let h = headers("ltMqxljf5LPMmiuOx1+ojDQbxCXEZomBLfVyEx1meiM=", "wh-1");
        let (v, _) = verifier("hush");
        let WebhookOutcome::Accepted(d) = v.verify(&h, BODY).await.unwrap() else {
            panic!("expected accepted");
        };
        assert_eq!(d.topic.as_deref(), Some("orders/updated"));
        assert_eq!(
            d.resource_gid.as_deref(),
            Some("gid://shopify/Order/450789469")
        );
        assert!(format!("{d:?}").contains("body_len"));
        // Not completed yet: a retry is still accepted (processing may have failed).
        assert!(matches!(
            v.verify(&h, BODY).await.unwrap(),
            WebhookOutcome::Accepted(_)
        ));
        v.complete(&d).await.unwrap();
        assert_eq!(
            v.verify(&h, BODY).await.unwrap(),
            WebhookOutcome::Duplicate {
                webhook_id: "wh-1".into(),
                by: DuplicateOf::WebhookId,
            }
        );
        assert!(v.is_processed("wh-1").await.unwrap());
    }

    #[tokio::test]
    async fn records_expire_after_the_dedup_ttl() {
        let (v, now) = verifier("hush");
        let WebhookOutcome::Accepted(d) = v.verify(&signed("wh-ttl"), BODY).await.unwrap() else {
            panic!("expected accepted");
        };
        v.complete(&d).await.unwrap();
        // Within the TTL: a duplicate. The TTL (72 h) outlives the freshness window (5 h), so
        // the same delivery is refused as stale long before it could be accepted again.
        *now.lock().unwrap() = t0() + chrono::Duration::hours(71);
        assert!(v.is_processed("wh-ttl").await.unwrap());
        assert_eq!(v.purge_expired().await.unwrap(), 0);
        *now.lock().unwrap() = t0() + chrono::Duration::hours(73);
        assert!(!v.is_processed("wh-ttl").await.unwrap());
        assert_eq!(
            v.purge_expired().await.unwrap(),
            2,
            "the id and the body digest"
        );
        assert!(v.verify(&signed("wh-ttl"), BODY).await.is_err(), "stale");
    }

    #[tokio::test]
    async fn rejects_wrong_or_missing_hmac_and_headers() {
        let (v, _) = verifier("hush");
        let bad = headers(&webhook_hmac(b"not-the-secret", BODY), "wh-2");
        let err = v.verify(&bad, BODY).await.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Unauthorized);
        let mut none = headers("x", "wh-3");
        none.remove(HMAC_HEADER);
        assert_eq!(
            v.verify(&none, BODY).await.unwrap_err().kind(),
            &ErrorKind::Unauthorized
        );
        let mut no_id = signed("x");
        no_id.remove(WEBHOOK_ID_HEADER);
        assert_eq!(
            v.verify(&no_id, BODY).await.unwrap_err().kind(),
            &ErrorKind::Validation
        );
        let mut no_time = signed("wh-4");
        no_time.remove(TRIGGERED_AT_HEADER);
        assert_eq!(
            v.verify(&no_time, BODY).await.unwrap_err().kind(),
            &ErrorKind::Validation
        );
    }

    #[tokio::test]
    async fn oversized_body_is_refused_before_the_hmac() {
        let (v, _) = verifier("hush");
        let v = v.with_policy(WebhookPolicy {
            max_body_bytes: 1024,
            ..WebhookPolicy::default()
        });
        // A correctly signed body one byte over the cap: refused for its size, not its HMAC.
        let big = vec![b' '; 1025];
        let h = headers(&webhook_hmac(b"hush", &big), "wh-big");
        let err = v.verify(&h, &big).await.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Validation);
        assert!(err.to_string().contains("cap"), "{err}");
        // And an unsigned 64 MiB body is refused the same way (no HMAC computed over it).
        let huge = vec![0u8; 64 * 1024 * 1024];
        let err = v
            .verify(&headers("AAAA", "wh-huge"), &huge)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Validation);
        // At the cap: accepted.
        let ok = vec![b' '; 1024];
        let h = headers(&webhook_hmac(b"hush", &ok), "wh-ok");
        assert!(matches!(
            v.verify(&h, &ok).await.unwrap(),
            WebhookOutcome::Accepted(_)
        ));
        assert_eq!(WebhookPolicy::default().max_body_bytes, 1024 * 1024);
    }

    #[tokio::test]
    async fn stale_and_future_deliveries_are_refused() {
        let (v, now) = verifier("hush");
        let sig = webhook_hmac(b"hush", BODY);
        // Shopify's last retry (4 hours after the trigger) is still fresh.
        *now.lock().unwrap() = t0() + chrono::Duration::hours(4);
        assert!(matches!(
            v.verify(&headers(&sig, "a"), BODY).await.unwrap(),
            WebhookOutcome::Accepted(_)
        ));
        // Past the 5-hour window: stale.
        *now.lock().unwrap() = t0() + chrono::Duration::hours(5) + chrono::Duration::seconds(1);
        let err = v.verify(&headers(&sig, "b"), BODY).await.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Validation);
        assert!(err.to_string().contains("stale"), "{err}");
        // Triggered 10 minutes in the future: beyond the 5-minute skew.
        *now.lock().unwrap() = t0() - chrono::Duration::minutes(10);
        let err = v.verify(&headers(&sig, "c"), BODY).await.unwrap_err();
        assert!(err.to_string().contains("future"), "{err}");
        // 2 minutes ahead is within the skew.
        *now.lock().unwrap() = t0() - chrono::Duration::minutes(2);
        assert!(v.verify(&headers(&sig, "d"), BODY).await.is_ok());
        // Garbage time.
        let mut h = headers(&sig, "e");
        h.insert(TRIGGERED_AT_HEADER, HeaderValue::from_static("yesterday"));
        assert!(v.verify(&h, BODY).await.is_err());
    }

    #[tokio::test]
    async fn a_body_replayed_under_a_new_id_is_a_duplicate() {
        let (v, now) = verifier("hush");
        let WebhookOutcome::Accepted(d) = v.verify(&signed("orig"), BODY).await.unwrap() else {
            panic!("expected accepted");
        };
        v.complete(&d).await.unwrap();
        *now.lock().unwrap() = t0() + chrono::Duration::minutes(30);
        assert_eq!(
            v.verify(&signed("forged-new-id"), BODY).await.unwrap(),
            WebhookOutcome::Duplicate {
                webhook_id: "forged-new-id".into(),
                by: DuplicateOf::Body,
            }
        );
        // Another body under a new id is new.
        let other = br#"{"id":450789470}"#;
        let h = headers(&webhook_hmac(b"hush", other), "another");
        assert!(matches!(
            v.verify(&h, other).await.unwrap(),
            WebhookOutcome::Accepted(_)
        ));
    }

    /// A log that cannot answer.
    struct BrokenLog;

    #[async_trait::async_trait]
    impl DeliveryLog for BrokenLog {
        async fn contains(&self, _: &str, _: DateTime<Utc>) -> Result<bool> {
            Err(Error::new(ErrorKind::Unavailable, "log down"))
        }
        async fn insert(&self, _: &str, _: DateTime<Utc>, _: DateTime<Utc>) -> Result<bool> {
            Err(Error::new(ErrorKind::Unavailable, "log down"))
        }
        async fn purge_expired(&self, _: DateTime<Utc>) -> Result<u64> {
            Err(Error::new(ErrorKind::Unavailable, "log down"))
        }
    }

    #[tokio::test]
    async fn a_log_that_cannot_answer_fails_closed() {
        let (v, _) = verifier("hush");
        let v = v.with_delivery_log(Arc::new(BrokenLog));
        let err = v.verify(&signed("x"), BODY).await.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Unavailable);
    }

    #[tokio::test]
    async fn previous_secret_accepted_and_secrets_hidden() {
        let (v, _) = verifier("new");
        let v = v.with_previous_secret("old");
        let h = headers(&webhook_hmac(b"old", BODY), "a");
        assert!(matches!(
            v.verify(&h, BODY).await.unwrap(),
            WebhookOutcome::Accepted(_)
        ));
        assert!(!format!("{v:?}").contains("old"));
    }
}
