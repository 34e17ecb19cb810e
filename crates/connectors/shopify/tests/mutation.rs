//! Hostile input never panics and never slips through: a deterministic mutation run over the
//! Shopify normalizers (orders, refunds, payouts) and the webhook verifier.
//!
//! Every mutated record either normalizes to a record that passes its own `validate()`, or is
//! refused with a data error (`Validation` / `Mapping`) and a reason code. 20,000 inputs per
//! target by default; `MARKETSYNC_MUTATION_INPUTS=200000` for the long run.

use http::{HeaderMap, HeaderName, HeaderValue};
use marketsync_core::{Error, ErrorKind, RawRecord, ShopId, TimeZoneId};
use marketsync_shopify::auth::webhook_hmac;
use marketsync_shopify::normalize::{self, NormalizeContext};
use marketsync_shopify::webhook::WebhookVerifier;
use marketsync_shopify::wire;
use marketsync_testkit::mutate::{self, Outcome, fixtures};
use serde_json::{Value, json};

const DEFAULT_INPUTS: usize = 20_000;

fn ctx() -> NormalizeContext {
    NormalizeContext::new(
        ShopId::new("mutation.myshopify.com"),
        TimeZoneId::new("America/New_York").unwrap_or_else(TimeZoneId::utc),
    )
}

fn rejected(e: &Error) -> Outcome {
    if matches!(e.kind(), ErrorKind::Validation | ErrorKind::Mapping) {
        Outcome::Rejected(e.reason().to_string())
    } else {
        Outcome::Invalid(format!("not a data error: {e}"))
    }
}

#[test]
fn orders_never_panic_or_slip_through() {
    let seeds = fixtures::shopify_orders();
    let report = mutate::run(
        "shopify order",
        &seeds,
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x5401,
        |bytes| {
            let raw = RawRecord::json(bytes.to_vec(), Some("orders"));
            let w: wire::Order = match serde_json::from_slice(bytes) {
                Ok(w) => w,
                Err(_) => return Outcome::Rejected("parse:malformed_payload".into()),
            };
            match normalize::order(&w, &ctx(), &raw) {
                Ok(o) => match o.validate() {
                    Ok(()) => Outcome::Valid,
                    Err(e) => Outcome::Invalid(e.to_string()),
                },
                Err(e) => rejected(&e),
            }
        },
    );
    report.assert_sound();
}

#[test]
fn refunds_never_panic_or_slip_through() {
    let seeds = fixtures::shopify_refunds();
    let report = mutate::run(
        "shopify refund",
        &seeds,
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x5402,
        |bytes| {
            let raw = RawRecord::json(bytes.to_vec(), Some("refunds"));
            let w: wire::OrderRefunds = match serde_json::from_slice(bytes) {
                Ok(w) => w,
                Err(_) => return Outcome::Rejected("parse:malformed_payload".into()),
            };
            // One input may carry several refunds: the worst outcome counts.
            let mut outcome = Outcome::Rejected("no_refunds".into());
            for r in &w.refunds {
                outcome = match normalize::refund(r, &w, &ctx(), &raw) {
                    Ok(refund) => match refund.validate() {
                        Ok(()) => Outcome::Valid,
                        Err(e) => return Outcome::Invalid(e.to_string()),
                    },
                    Err(e) => match rejected(&e) {
                        invalid @ Outcome::Invalid(_) => return invalid,
                        other => other,
                    },
                };
            }
            outcome
        },
    );
    report.assert_sound();
}

#[test]
fn payouts_never_panic_or_slip_through() {
    let seeds = fixtures::shopify_payouts();
    let report = mutate::run(
        "shopify payout settlement",
        &seeds,
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x5403,
        |bytes| {
            let raw = RawRecord::json(bytes.to_vec(), Some("payouts"));
            let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
                return Outcome::Rejected("parse:malformed_payload".into());
            };
            let payout = serde_json::from_value::<wire::Payout>(v["payout"].clone());
            let txns =
                serde_json::from_value::<Vec<wire::BalanceTransaction>>(v["transactions"].clone());
            let (Ok(p), Ok(t)) = (payout, txns) else {
                return Outcome::Rejected("parse:malformed_payload".into());
            };
            match normalize::settlement(&p, &t, &ctx(), &raw) {
                Ok(s) => match s.validate() {
                    Ok(()) => Outcome::Valid,
                    Err(e) => Outcome::Invalid(e.to_string()),
                },
                Err(e) => rejected(&e),
            }
        },
    );
    report.assert_sound();
}

const SECRET: &[u8] = b"mutation-webhook-secret";

/// Mutated deliveries (headers and body both; a quarter of the per-target count): the verifier
/// answers, never panics, and never accepts a wrong HMAC. Half the
/// inputs are re-signed after mutation so they get past the HMAC into the rest of the checks.
#[test]
fn webhook_verifier_never_panics() {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let seeds: Vec<Vec<u8>> = fixtures::shopify_orders()
        .into_iter()
        .take(6)
        .enumerate()
        .filter_map(|(i, body)| {
            let body = String::from_utf8(body).ok()?;
            serde_json::to_vec(&json!({
                "resign": i % 2 == 0,
                "headers": {
                    "x-shopify-hmac-sha256": webhook_hmac(SECRET, body.as_bytes()),
                    "x-shopify-webhook-id": format!("b54557e4-bdd9-4b37-8a5f-bf7d70bcd04{i}"),
                    "x-shopify-topic": "orders/updated",
                    "x-shopify-shop-domain": "mutation.myshopify.com",
                    "x-shopify-api-version": "2025-01",
                    "x-shopify-event-id": format!("98880550-7158-44d4-b7cd-2c97c8a091b{i}"),
                    "x-shopify-triggered-at": now,
                },
                "body": body,
            }))
            .ok()
        })
        .collect();
    let verifier = WebhookVerifier::new(SECRET.to_vec());
    // `verify` is async (its dedup log may be durable); one runtime drives every input.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let report = mutate::run(
        "shopify webhook verify",
        &seeds,
        // A verifier is one HMAC per secret: fewer inputs reach the same paths.
        mutate::inputs_per_target(DEFAULT_INPUTS) / 4,
        0x5404,
        |bytes| {
            let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
                // Not a delivery description: feed the bytes as a raw body with no headers.
                return match rt.block_on(verifier.verify(&HeaderMap::new(), bytes)) {
                    Ok(_) => Outcome::Invalid("accepted a delivery without an HMAC".into()),
                    Err(e) => Outcome::Rejected(e.kind().name().into()),
                };
            };
            let body = match &v["body"] {
                Value::String(s) => s.as_bytes().to_vec(),
                other => other.to_string().into_bytes(),
            };
            let mut headers = HeaderMap::new();
            if let Some(map) = v["headers"].as_object() {
                for (k, val) in map {
                    let text = match val {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    if let (Ok(name), Ok(value)) = (
                        HeaderName::from_bytes(k.as_bytes()),
                        HeaderValue::from_str(&text),
                    ) {
                        headers.insert(name, value);
                    }
                }
            }
            if v["resign"] == json!(true) {
                if let Ok(h) = HeaderValue::from_str(&webhook_hmac(SECRET, &body)) {
                    headers.insert("x-shopify-hmac-sha256", h);
                }
            }
            let signed = headers
                .get("x-shopify-hmac-sha256")
                .and_then(|h| h.to_str().ok())
                .is_some_and(|h| h == webhook_hmac(SECRET, &body));
            match rt.block_on(verifier.verify(&headers, &body)) {
                Ok(_) if !signed => Outcome::Invalid("accepted a wrong HMAC".into()),
                Ok(_) => Outcome::Valid,
                Err(e) => Outcome::Rejected(e.kind().name().into()),
            }
        },
    );
    println!("{report}");
    assert_eq!(report.panics, 0, "{report}");
    assert_eq!(report.invalid_total(), 0, "{report}");
    assert!(report.valid > 0, "{report}");
}
