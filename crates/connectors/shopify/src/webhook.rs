//! Webhook deliveries: HMAC verification and de-duplication, as a function a user's HTTP server
//! calls with the request headers and the **raw** body (before any JSON parsing).
//!
//! * `X-Shopify-Hmac-Sha256` must equal base64(HMAC-SHA256(client secret, raw body)); the
//!   comparison is constant-time. During a secret rotation both the current and the previous
//!   secret are accepted (Shopify may keep signing with the old one for up to an hour).
//! * `X-Shopify-Webhook-Id` identifies a delivery and stays the same on Shopify's retries: a
//!   delivery already [completed](WebhookVerifier::complete) answers
//!   [`WebhookOutcome::Duplicate`]. The id is only recorded once you say the delivery was
//!   processed, so a delivery whose processing failed is not lost when Shopify retries it.
//!   The in-memory window is bounded; durable de-duplication is the pipeline store's job.
//!
//! ```
//! use marketsync_shopify::webhook::{WebhookOutcome, WebhookVerifier};
//! use marketsync_shopify::auth::webhook_hmac;
//! use http::{HeaderMap, HeaderValue};
//!
//! let verifier = WebhookVerifier::new("my_client_secret");
//! let body = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;
//! let mut headers = HeaderMap::new();
//! headers.insert("x-shopify-hmac-sha256", HeaderValue::from_str(&webhook_hmac(b"my_client_secret", body))?);
//! headers.insert("x-shopify-webhook-id", HeaderValue::from_static("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"));
//! headers.insert("x-shopify-topic", HeaderValue::from_static("orders/updated"));
//! match verifier.verify(&headers, body)? {
//!     WebhookOutcome::Accepted(delivery) => {
//!         // ... process, then:
//!         verifier.complete(&delivery);
//!     }
//!     WebhookOutcome::Duplicate { .. } => {}
//! }
//! assert!(matches!(verifier.verify(&headers, body)?, WebhookOutcome::Duplicate { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::Mutex;

use http::HeaderMap;
use marketsync_core::{Error, ErrorKind, ReasonCode, Result, Secret};

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
/// `X-Shopify-Triggered-At`.
pub const TRIGGERED_AT_HEADER: &str = "x-shopify-triggered-at";

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
    /// When Shopify triggered it.
    pub triggered_at: Option<String>,
    /// The resource's GraphQL id (`admin_graphql_api_id` in the payload), if present: fetch
    /// the full record by this id (webhook payloads use the REST shape).
    pub resource_gid: Option<String>,
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
            .field("resource_gid", &self.resource_gid)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// What [`WebhookVerifier::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Authentic and not seen before: process it, then call [`WebhookVerifier::complete`].
    Accepted(WebhookDelivery),
    /// Authentic, already processed: answer 200 and skip it.
    Duplicate {
        /// The repeated delivery id.
        webhook_id: String,
    },
}

struct Seen {
    ids: HashSet<String>,
    order: VecDeque<String>,
    capacity: usize,
}

/// Verifies and de-duplicates webhook deliveries. Share one instance per app (it is `Sync`).
pub struct WebhookVerifier {
    secrets: Vec<Vec<u8>>,
    seen: Mutex<Seen>,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.secrets.len()),
            )
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

impl WebhookVerifier {
    /// A verifier for the app's client secret, remembering the last 10 000 delivery ids.
    pub fn new(secret: impl Into<Vec<u8>>) -> WebhookVerifier {
        WebhookVerifier {
            secrets: vec![secret.into()],
            seen: Mutex::new(Seen {
                ids: HashSet::new(),
                order: VecDeque::new(),
                capacity: 10_000,
            }),
        }
    }

    /// Also accepts the previous secret (during a rotation).
    pub fn with_previous_secret(mut self, secret: impl Into<Vec<u8>>) -> WebhookVerifier {
        self.secrets.push(secret.into());
        self
    }

    /// Sets how many delivery ids are remembered (oldest forgotten first).
    pub fn with_capacity(self, capacity: usize) -> WebhookVerifier {
        if let Ok(mut seen) = self.seen.lock() {
            seen.capacity = capacity.max(1);
        }
        self
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

    /// Verifies the HMAC over the raw body and checks the delivery id against processed ones.
    ///
    /// A missing or wrong HMAC is `Unauthorized` (answer 401); a delivery without
    /// `X-Shopify-Webhook-Id` is `Validation` (it cannot be de-duplicated).
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<WebhookOutcome> {
        let hmac = header(headers, HMAC_HEADER).ok_or_else(|| {
            Error::new(
                ErrorKind::Unauthorized,
                "webhook without X-Shopify-Hmac-Sha256",
            )
            .with_context("connector", "shopify")
        })?;
        if !self
            .secrets
            .iter()
            .any(|s| verify_webhook_hmac(s, body, hmac))
        {
            return Err(
                Error::new(ErrorKind::Unauthorized, "webhook HMAC does not match")
                    .with_context("connector", "shopify"),
            );
        }
        let webhook_id = header(headers, WEBHOOK_ID_HEADER)
            .ok_or_else(|| {
                Error::validation(
                    ReasonCode::MalformedPayload,
                    "webhook without X-Shopify-Webhook-Id",
                )
            })?
            .to_owned();
        if self.is_processed(&webhook_id) {
            return Ok(WebhookOutcome::Duplicate { webhook_id });
        }
        let resource_gid = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("admin_graphql_api_id")
                    .and_then(|g| g.as_str())
                    .map(str::to_owned)
            });
        Ok(WebhookOutcome::Accepted(WebhookDelivery {
            topic: header(headers, TOPIC_HEADER).map(str::to_owned),
            shop_domain: header(headers, SHOP_DOMAIN_HEADER).map(str::to_owned),
            webhook_id,
            event_id: header(headers, EVENT_ID_HEADER).map(str::to_owned),
            api_version: header(headers, API_VERSION_HEADER).map(str::to_owned),
            triggered_at: header(headers, TRIGGERED_AT_HEADER).map(str::to_owned),
            resource_gid,
            body: body.to_vec(),
        }))
    }

    /// Records a delivery as processed: later deliveries with its id are duplicates.
    pub fn complete(&self, delivery: &WebhookDelivery) {
        self.mark_processed(&delivery.webhook_id);
    }

    /// Records a delivery id as processed.
    pub fn mark_processed(&self, webhook_id: &str) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.ids.insert(webhook_id.to_owned()) {
            seen.order.push_back(webhook_id.to_owned());
            while seen.order.len() > seen.capacity {
                if let Some(old) = seen.order.pop_front() {
                    seen.ids.remove(&old);
                }
            }
        }
    }

    /// True when the id was processed (and is still remembered).
    pub fn is_processed(&self, webhook_id: &str) -> bool {
        self.seen
            .lock()
            .map(|s| s.ids.contains(webhook_id))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::webhook_hmac;
    use http::HeaderValue;

    const BODY: &[u8] =
        br#"{"id":450789469,"admin_graphql_api_id":"gid://shopify/Order/450789469"}"#;

    fn headers(hmac: &str, id: &str) -> HeaderMap {
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
        h
    }

    #[test]
    fn accepts_known_vector_and_dedups_after_completion() {
        // Independent vector (Python hmac): secret "hush" over BODY.
        let h = headers("ltMqxljf5LPMmiuOx1+ojDQbxCXEZomBLfVyEx1meiM=", "wh-1");
        let v = WebhookVerifier::new("hush");
        let WebhookOutcome::Accepted(d) = v.verify(&h, BODY).unwrap() else {
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
            v.verify(&h, BODY).unwrap(),
            WebhookOutcome::Accepted(_)
        ));
        v.complete(&d);
        assert_eq!(
            v.verify(&h, BODY).unwrap(),
            WebhookOutcome::Duplicate {
                webhook_id: "wh-1".into()
            }
        );
    }

    #[test]
    fn rejects_wrong_or_missing_hmac() {
        let v = WebhookVerifier::new("hush");
        let bad = headers(&webhook_hmac(b"not-the-secret", BODY), "wh-2");
        let err = v.verify(&bad, BODY).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Unauthorized);
        let mut none = headers("x", "wh-3");
        none.remove(HMAC_HEADER);
        assert_eq!(
            v.verify(&none, BODY).unwrap_err().kind(),
            &ErrorKind::Unauthorized
        );
        let mut no_id = headers(&webhook_hmac(b"hush", BODY), "x");
        no_id.remove(WEBHOOK_ID_HEADER);
        assert_eq!(
            v.verify(&no_id, BODY).unwrap_err().kind(),
            &ErrorKind::Validation
        );
    }

    #[test]
    fn previous_secret_accepted_and_window_bounded() {
        let v = WebhookVerifier::new("new")
            .with_previous_secret("old")
            .with_capacity(2);
        let h = headers(&webhook_hmac(b"old", BODY), "a");
        assert!(matches!(
            v.verify(&h, BODY).unwrap(),
            WebhookOutcome::Accepted(_)
        ));
        for id in ["a", "b", "c"] {
            v.mark_processed(id);
        }
        assert!(!v.is_processed("a"));
        assert!(v.is_processed("b") && v.is_processed("c"));
        assert!(!format!("{v:?}").contains("old"));
    }
}
