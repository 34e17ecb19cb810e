//! Writes the seed corpus of every fuzz target: the payload fixtures of the deterministic
//! mutation tests (`marketsync_testkit::mutate::fixtures`, built from the simulators' own data
//! generators) plus documented error bodies and signing inputs, so fuzzing starts from payloads
//! shaped like the platforms' documented ones.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus` (writes `fuzz/corpus/`).

use std::fs;
use std::path::{Path, PathBuf};

use marketsync_testkit::mutate;
use serde_json::json;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let d = dir.join(target);
    fs::create_dir_all(&d)?;
    fs::write(d.join(name), bytes)
}

fn main() -> std::io::Result<()> {
    let dir: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"));

    // The payload seeds are the hostile-input tests' own fixtures (the simulators' records).
    let seeds = mutate::fixtures::all();
    let map = [
        ("tmall_trades", "tmall_trade"),
        ("tmall_refunds", "tmall_refund"),
        ("tmall_bills", "tmall_bills"),
        ("shopify_orders", "shopify_order"),
        ("shopify_refunds", "shopify_refund"),
        ("shopify_payouts", "shopify_payout"),
        ("netsuite_transaction_rows", "netsuite_rows"),
        ("netsuite_item_rows", "netsuite_rows"),
        ("netsuite_inventory_rows", "netsuite_rows"),
    ];
    for (set, target) in map {
        for (i, bytes) in seeds.get(set).into_iter().flatten().enumerate() {
            write(&dir, target, &format!("{set}-{i}.json"), bytes)?;
        }
    }
    let errors = [
        (200u8, json!({"code": 7, "msg": "App Call Limited", "sub_code": "accesscontrol.limited-by-app-access-count", "sub_msg": "This ban will last for 3 more seconds"})),
        (0, json!({"code": 27, "msg": "Invalid session", "sub_code": "invalid-sessionkey"})),
        (0, json!({"code": 15, "msg": "Remote service error", "sub_code": "isp.top-remote-connection-timeout"})),
        (0, json!({"code": 25, "msg": "Invalid signature"})),
    ];
    for (i, (s, e)) in errors.iter().enumerate() {
        let mut b = vec![*s, b'\n'];
        b.extend(serde_json::to_vec(e).unwrap_or_default());
        write(&dir, "tmall_error", &format!("error-{i}"), &b)?;
    }
    write(
        &dir,
        "top_sign",
        "params",
        b"helloworld\0method=taobao.trade.fullinfo.get\napp_key=12345678\nsession=test\ntimestamp=2016-01-01 12:00:00\nformat=json\nv=2.0\nsign_method=md5\nfields=tid,type,status,payment,orders\ntid=11223344\nblank= ",
    )?;

    let gql_errors = [
        json!({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}], "extensions": {"cost": {"requestedQueryCost": 752, "actualQueryCost": null, "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 12, "restoreRate": 100.0}}}}),
        json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
        json!({"errors": [{"message": "Internal error. Looks like something went wrong on our end."}]}),
    ];
    for (i, e) in gql_errors.iter().enumerate() {
        let mut b = vec![0u8, b'\n'];
        b.extend(serde_json::to_vec(e).unwrap_or_default());
        write(&dir, "shopify_error", &format!("error-{i}"), &b)?;
    }
    if let Some(o) = seeds.get("shopify_orders").and_then(|s| s.first()) {
        let mut b = b"\x00x-shopify-topic=orders/updated\nx-shopify-webhook-id=b54557e4-bdd9-4b37-8a5f-bf7d70bcd043\nx-shopify-triggered-at=2026-01-01T00:00:00.000Z\nx-shopify-shop-domain=fuzz.myshopify.com\nx-shopify-api-version=2026-01".to_vec();
        b.push(0);
        b.extend_from_slice(o);
        write(&dir, "shopify_webhook", "orders-updated", &b)?;
    }

    let ns_errors = [
        (0u8, json!({"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1", "title": "Bad Request", "status": 400, "o:errorDetails": [{"detail": "Invalid field value 99 for the following field: item.", "o:errorPath": "item.items[0].item", "o:errorCode": "INVALID_FLD_VALUE"}]})),
        (114, json!({"type": "https://www.rfc-editor.org/rfc/rfc6585.html#section-4", "title": "Too Many Requests", "status": 429, "o:errorDetails": [{"detail": "Request limit exceeded.", "o:errorCode": "SSS_REQUEST_LIMIT_EXCEEDED"}]})),
    ];
    for (i, (s, e)) in ns_errors.iter().enumerate() {
        let mut b = vec![*s, b'\n'];
        b.extend(serde_json::to_vec(e).unwrap_or_default());
        write(&dir, "netsuite_error", &format!("error-{i}"), &b)?;
    }
    write(
        &dir,
        "netsuite_tba",
        "restlet-form",
        b"https://1234567-sb1.restlets.api.netsuite.com/app/site/hosting/restlet.nl?script=12&deploy=1\0oauth_consumer_key=ck\noauth_token=tk\noauth_nonce=abc\noauth_timestamp=1700000000\noauth_signature_method=HMAC-SHA256\noauth_version=1.0\0c2=\na3=2 q",
    )?;
    let tryton = [
        json!({"id": 1, "result": [{"id": 12, "code": "SKU-0001", "quantity": 120.0, "forecast_quantity": 100.0}]}),
        json!({"id": 2, "result": [{"id": 7, "state": "posted", "date": {"__class__": "date", "year": 2026, "month": 2, "day": 1}, "debit": {"__class__": "Decimal", "decimal": "113.00"}}]}),
        json!({"id": 3, "error": ["UserError", ["Tryton has no open period", "duplicate_key ids=7,9", ""]]}),
        json!({"id": 4, "error": ["ConcurrencyException", "Records were modified in the meanwhile"]}),
    ];
    for (i, a) in tryton.iter().enumerate() {
        write(&dir, "tryton_rpc", &format!("answer-{i}.json"), &serde_json::to_vec(a).unwrap_or_default())?;
    }
    println!("seed corpus written to {}", dir.display());
    Ok(())
}
