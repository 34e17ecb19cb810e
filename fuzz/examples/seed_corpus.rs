//! Writes the seed corpus of every fuzz target from the simulators' own data generators (the
//! same records the simulators serve and the conformance suites read), so fuzzing starts from
//! payloads shaped like the platforms' documented ones.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus` (writes `fuzz/corpus/`).

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use marketsync_testkit::sim::{shopify, tmall};
use serde_json::{Value, json};

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let d = dir.join(target);
    fs::create_dir_all(&d)?;
    fs::write(d.join(name), bytes)
}

fn json_seed(dir: &Path, target: &str, name: &str, v: &Value) -> std::io::Result<()> {
    write(dir, target, name, serde_json::to_vec_pretty(v).unwrap_or_default().as_slice())
}

fn main() -> std::io::Result<()> {
    let dir: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let start = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default();

    let ds = tmall::data::generate(7, 40, start, Duration::days(2), true);
    for (i, t) in ds.trades.iter().enumerate().take(24) {
        json_seed(&dir, "tmall_trade", &format!("trade-{i}.json"), t)?;
    }
    for (i, r) in ds.refunds.iter().enumerate().take(12) {
        json_seed(&dir, "tmall_refund", &format!("refund-{i}.json"), r)?;
    }
    for (i, chunk) in ds.bills.chunks(4).enumerate().take(8) {
        json_seed(&dir, "tmall_bills", &format!("bills-{i}.json"), &Value::from(chunk.to_vec()))?;
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

    let orders = shopify::data::seed_orders(start, 24);
    for (i, o) in orders.iter().enumerate() {
        json_seed(&dir, "shopify_order", &format!("order-{i}.json"), &o.json)?;
        if o.json.get("refunds").is_some_and(|r| r.as_array().is_some_and(|a| !a.is_empty())) {
            json_seed(&dir, "shopify_refund", &format!("order-{i}.json"), &o.json)?;
        }
    }
    for (i, p) in shopify::data::seed_payouts(start, &orders).iter().enumerate() {
        let v = json!({"payout": p.json, "transactions": p.transactions});
        json_seed(&dir, "shopify_payout", &format!("payout-{i}.json"), &v)?;
    }
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
    if let Some(o) = orders.first() {
        let mut b = b"\x00x-shopify-topic=orders/updated\nx-shopify-webhook-id=b54557e4-bdd9-4b37-8a5f-bf7d70bcd043\nx-shopify-triggered-at=2026-01-01T00:00:00.000Z\nx-shopify-shop-domain=fuzz.myshopify.com\nx-shopify-api-version=2026-01".to_vec();
        b.push(0);
        b.extend(serde_json::to_vec(&o.json).unwrap_or_default());
        write(&dir, "shopify_webhook", "orders-updated", &b)?;
    }

    let rows = [
        json!([{"id": "1201", "type": "SalesOrd", "tranid": "SO1201", "externalid": "ms-1f2e"}]),
        json!([{"id": "77", "itemid": "SKU-0001"}, {"id": "78", "itemid": "SKU-0002"}]),
        json!([{"item": "77", "itemid": "SKU-0001", "location": "1", "quantityonhand": "120", "quantityavailable": "100", "quantitycommitted": "20"}]),
    ];
    for (i, r) in rows.iter().enumerate() {
        json_seed(&dir, "netsuite_rows", &format!("rows-{i}.json"), r)?;
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
    println!("seed corpus written to {}", dir.display());
    Ok(())
}
