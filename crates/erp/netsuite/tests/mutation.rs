//! Hostile SuiteQL responses never panic: a deterministic mutation run over the NetSuite
//! response parsers (`document_from_rows`, `items_from_rows`, `inventory_from_rows`).
//!
//! Every mutated row set either parses into values that respect the parser's promises (positive
//! ids, non-empty SKUs and locations, quantities within ±`MAX_STOCK_QUANTITY`) or is refused
//! with a `Validation` error and a reason code. 20,000 inputs per target by default;
//! `MARKETSYNC_MUTATION_INPUTS=200000` for the long run.

use chrono::{TimeZone, Utc};
use marketsync_core::{Error, ErrorKind};
use marketsync_netsuite::normalize::{
    MAX_STOCK_QUANTITY, document_from_rows, inventory_from_rows, items_from_rows,
};
use marketsync_testkit::mutate::{self, Outcome, fixtures, json_rows};

const DEFAULT_INPUTS: usize = 20_000;

fn rejected(e: &Error) -> Outcome {
    if e.kind() == &ErrorKind::Validation {
        Outcome::Rejected(e.reason().to_string())
    } else {
        Outcome::Invalid(format!("not a validation error: {e}"))
    }
}

#[test]
fn transaction_rows_never_panic() {
    let report = mutate::run(
        "netsuite document_from_rows",
        &fixtures::netsuite_transaction_rows(),
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x4e01,
        |bytes| {
            let Some(rows) = json_rows(bytes) else {
                return Outcome::Rejected("parse:malformed_payload".into());
            };
            match document_from_rows(rows) {
                Ok(Some(doc)) if doc.id.as_str().parse::<i64>().is_ok_and(|id| id > 0) => {
                    Outcome::Valid
                }
                Ok(Some(doc)) => Outcome::Invalid(format!("document id {:?}", doc.id.as_str())),
                Ok(None) => Outcome::Valid,
                Err(e) => rejected(&e),
            }
        },
    );
    report.assert_sound();
}

#[test]
fn item_rows_never_panic() {
    let report = mutate::run(
        "netsuite items_from_rows",
        &fixtures::netsuite_item_rows(),
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x4e02,
        |bytes| {
            let Some(rows) = json_rows(bytes) else {
                return Outcome::Rejected("parse:malformed_payload".into());
            };
            match items_from_rows(rows) {
                Ok(items) => {
                    let bad = items.iter().find(|(sku, id)| {
                        sku.as_str().trim().is_empty() || !id.parse::<i64>().is_ok_and(|id| id > 0)
                    });
                    match bad {
                        None => Outcome::Valid,
                        Some((sku, id)) => Outcome::Invalid(format!("item {sku:?} → {id:?}")),
                    }
                }
                Err(e) => rejected(&e),
            }
        },
    );
    report.assert_sound();
}

#[test]
fn inventory_rows_never_panic() {
    let as_of = Utc
        .with_ymd_and_hms(2024, 3, 18, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let report = mutate::run(
        "netsuite inventory_from_rows",
        &fixtures::netsuite_inventory_rows(),
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x4e03,
        |bytes| {
            let Some(rows) = json_rows(bytes) else {
                return Outcome::Rejected("parse:malformed_payload".into());
            };
            match inventory_from_rows(rows, as_of) {
                Ok(positions) => {
                    let in_range =
                        |q: i64| q.checked_abs().is_some_and(|a| a <= MAX_STOCK_QUANTITY);
                    let bad = positions.iter().find(|p| {
                        p.sku.as_str().trim().is_empty()
                            || p.location.as_str().is_empty()
                            || !in_range(p.on_hand)
                            || !in_range(p.reserved)
                    });
                    match bad {
                        None => Outcome::Valid,
                        Some(p) => Outcome::Invalid(format!("position {p:?}")),
                    }
                }
                Err(e) => rejected(&e),
            }
        },
    );
    report.assert_sound();
}

/// The NetSuite simulator's TBA check (the verifier every NetSuite test relies on) answers every
/// hostile `Authorization` header with an HTTP response, never a dropped connection (which is
/// what a panicking handler gives). Requests go over raw loopback TCP so nothing in between
/// cleans them up. A tenth of the per-target count: each input is a round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_signature_check_never_panics() {
    use std::io::{Read, Write};
    use std::time::Duration;

    use marketsync_testkit::sim::netsuite::{NetSuiteSimConfig, start};
    use serde_json::{Value, json};

    let config = NetSuiteSimConfig::default();
    let sim = start(config.clone()).await.expect("simulator starts");
    let authority = sim
        .base_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let host = authority.split('/').next().unwrap_or_default().to_owned();
    let now = Utc::now().timestamp();
    let seeds: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            serde_json::to_vec(&json!({
                "path": "/services/rest/record/v1/salesOrder/42",
                "query": if i % 2 == 0 { "expandSubResources=true" } else { "" },
                "oauth": {
                    "realm": config.realm,
                    "oauth_consumer_key": config.consumer_key,
                    "oauth_token": config.token_id,
                    "oauth_nonce": format!("n0nce{i}abcdef"),
                    "oauth_timestamp": (now + i).to_string(),
                    "oauth_signature_method": "HMAC-SHA256",
                    "oauth_version": "1.0",
                    "oauth_signature": "c2lnbmF0dXJl"
                }
            }))
            .unwrap_or_default()
        })
        .collect();
    let inputs = mutate::inputs_per_target(DEFAULT_INPUTS) / 10;
    let report = tokio::task::spawn_blocking(move || {
        mutate::run("netsuite simulator TBA check", &seeds, inputs, 0x4e04, |bytes| {
            let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
                return Outcome::Rejected("parse:malformed_payload".into());
            };
            let text = |x: &Value| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let mut header = String::from("OAuth ");
            if let Some(map) = v["oauth"].as_object() {
                let parts: Vec<String> = map
                    .iter()
                    .map(|(k, x)| {
                        let encoded: String = text(x)
                            .bytes()
                            .map(|b| match b {
                                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_'
                                | b'~' => char::from(b).to_string(),
                                _ => format!("%{b:02X}"),
                            })
                            .collect();
                        format!("{k}=\"{encoded}\"")
                    })
                    .collect();
                header.push_str(&parts.join(", "));
            } else {
                header.push_str(&text(&v["oauth"]));
            }
            // Header values cannot carry CR/LF on the wire; everything else goes as is.
            let header = header.replace(['\r', '\n'], " ");
            let path = text(&v["path"]).replace(|c: char| c.is_whitespace() || c.is_control(), "");
            let query = text(&v["query"]).replace(|c: char| c.is_whitespace() || c.is_control(), "");
            let target = if query.is_empty() {
                path
            } else {
                format!("{path}?{query}")
            };
            let request = format!(
                "GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {header}\r\nConnection: close\r\n\r\n"
            );
            let Ok(mut stream) = std::net::TcpStream::connect(&host) else {
                return Outcome::Invalid("simulator unreachable".into());
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            if stream.write_all(request.as_bytes()).is_err() {
                return Outcome::Invalid("write failed".into());
            }
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
            let status = String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned();
            match status.strip_prefix("HTTP/1.1 ") {
                Some(code) if code.starts_with('2') => Outcome::Valid,
                Some(code) => Outcome::Rejected(format!("http_{}", code.trim())),
                None => Outcome::Invalid(format!(
                    "no HTTP answer (a panicking handler drops the connection): {header:.200}"
                )),
            }
        })
    })
    .await
    .expect("mutation run");
    println!("{report}");
    assert_eq!(report.panics, 0, "{report}");
    assert_eq!(report.invalid_total(), 0, "{report}");
    assert!(report.rejected_total() > 0, "{report}");
}
