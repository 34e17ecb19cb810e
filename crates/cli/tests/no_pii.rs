//! "No buyer PII in exception rows, logs or reports": the demo, small, with one SKU missing
//! from the map on each channel (so orders with buyers become `unknown_sku` exceptions). Every
//! buyer's name, e-mail, phone, street and postal code the platforms sent (read back from the
//! raw archive, the one place allowed to keep them) is then searched for in the exception
//! rows, the record snapshots, everything the run logged through `tracing` (all levels), and
//! the HTML report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use marketsync_cli::demo::{DemoOptions, run};
use serde_json::Value;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn strings_at(v: &Value, keys: &[&str], out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if keys.contains(&k.as_str()) {
                    if let Some(s) = x.as_str().filter(|s| s.chars().count() >= 3) {
                        out.insert(s.to_owned());
                    }
                }
                strings_at(x, keys, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|x| strings_at(x, keys, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_buyer_pii_in_exception_rows_logs_or_reports() {
    let logs = Captured::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish()
        .try_init()
        .unwrap();

    let dir = std::env::temp_dir().join(format!("marketsync-no-pii-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let opts = DemoOptions {
        db: dir.join("demo.db"),
        report: dir.join("report.html"),
        tmall_orders: 60,
        shopify_orders: 15,
        seed: 7,
        unmapped_skus: vec!["SKU-A1".into(), "SIM-01".into()],
    };
    let summary = run(&opts).await.unwrap();
    for c in &summary.channels {
        assert!(
            c.exceptions.get("unknown_sku").is_some_and(|n| *n > 0),
            "{} has no unmapped-SKU exception: {c:?}",
            c.channel
        );
    }

    let db = rusqlite::Connection::open(&opts.db).unwrap();
    // What the platforms sent, from the raw archive.
    let mut pii = BTreeSet::new();
    let mut stmt = db.prepare("SELECT bytes FROM ms_raw").unwrap();
    let raws: Vec<Vec<u8>> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for bytes in &raws {
        if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
            // Shopify (email, phone, shippingAddress.*), Tmall (buyer ids).
            strings_at(
                &v,
                &[
                    "email",
                    "phone",
                    "name",
                    "address1",
                    "address2",
                    "zip",
                    "buyer_nick",
                    "buyer_open_uid",
                ],
                &mut pii,
            );
        }
    }
    // Order names (`#1001`) and product names are not personal data.
    pii.retain(|s| !s.starts_with('#') && !s.starts_with("Standard") && !s.contains("模拟"));
    let emails = pii.iter().filter(|s| s.contains("@example.com")).count();
    let buyers = pii.iter().filter(|s| s.starts_with("Buyer ")).count();
    let tmall_ids = pii.iter().filter(|s| s.starts_with("AAH")).count();
    assert!(
        emails >= 15 && buyers >= 15 && tmall_ids >= 30,
        "the raw archive holds the buyers ({emails} e-mails, {buyers} names, {tmall_ids} Tmall ids)"
    );

    // Exception rows and snapshots.
    let mut stored = String::new();
    let mut masked_rows = 0;
    let mut stmt = db
        .prepare("SELECT COALESCE(canonical, ''), message, reason FROM ms_exception")
        .unwrap();
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (canonical, message, reason) in &rows {
        if reason == "unknown_sku" && canonical.contains(r#""state":"masked""#) {
            masked_rows += 1;
        }
        stored.push_str(canonical);
        stored.push_str(message);
    }
    let mut stmt = db.prepare("SELECT body FROM ms_snapshot").unwrap();
    for body in stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
    {
        stored.push_str(&body);
    }
    let mut stmt = db
        .prepare("SELECT detail || subject FROM ms_audit")
        .unwrap();
    for d in stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
    {
        stored.push_str(&d);
    }

    let log = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        !log.is_empty(),
        "the run logged nothing: the scan would be vacuous"
    );
    let html = std::fs::read_to_string(&opts.report).unwrap();
    for (place, text) in [
        ("exception rows, snapshots and audit", &stored),
        ("logs", &log),
        ("HTML report", &html),
    ] {
        let leaked: Vec<&String> = pii.iter().filter(|v| text.contains(v.as_str())).collect();
        assert!(
            leaked.is_empty(),
            "{} personal values in the {place}, e.g. {:?}",
            leaked.len(),
            leaked.iter().take(5).collect::<Vec<_>>()
        );
    }
    assert!(
        masked_rows >= 2,
        "the unmapped-SKU exceptions keep their (masked) buyers: {masked_rows}"
    );
    println!(
        "scanned {} personal values over {} exception rows, {} log bytes, {} report bytes",
        pii.len(),
        rows.len(),
        log.len(),
        html.len()
    );

    let _ = std::fs::remove_dir_all(&dir);
}
