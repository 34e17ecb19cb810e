//! `marketsync purge-raw`: the raw archive's retention, through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use chrono::{Duration, Utc};
use marketsync_core::{Channel, EventKind, RawRecord, ReasonCode, ShopId};
use marketsync_pipeline::Store;
use marketsync_pipeline::store::sqlite::SqliteStore;
use marketsync_pipeline::store::{NewException, StreamKey};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_raw_deletes_old_payloads_but_keeps_what_open_exceptions_need() {
    let dir = std::env::temp_dir().join(format!("marketsync-purge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("store.db");
    let now = Utc::now();
    let old = RawRecord::json(r#"{"tid":1,"receiver_name":"张三"}"#, Some("tmall"));
    let held = RawRecord::json(r#"{"tid":2,"receiver_name":"李四"}"#, Some("tmall"));
    let fresh = RawRecord::json(r#"{"tid":3}"#, Some("tmall"));
    {
        let store = SqliteStore::open(&db).await.unwrap();
        store
            .archive_raw(std::slice::from_ref(&old), now - Duration::days(40))
            .await
            .unwrap();
        store
            .archive_raw(std::slice::from_ref(&fresh), now - Duration::days(1))
            .await
            .unwrap();
        store
            .record_exception(&NewException {
                stream: StreamKey::new(Channel::Tmall, ShopId::new("s"), "orders"),
                kind: EventKind::Order,
                external_id: Some("2".into()),
                event_key: None,
                reason: ReasonCode::MalformedPayload,
                message: "malformed".into(),
                raw: Some(held.clone()),
                canonical: None,
                window: None,
                now: now - Duration::days(40),
            })
            .await
            .unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_marketsync"))
        .args(["purge-raw", "--older-than", "30", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("purged 1 raw payloads"), "{stdout}");

    let store = SqliteStore::open(&db).await.unwrap();
    assert!(store.raw(&old.content_hash).await.unwrap().is_none());
    assert!(store.raw(&held.content_hash).await.unwrap().is_some());
    assert!(store.raw(&fresh.content_hash).await.unwrap().is_some());

    // No database there: an error, and nothing is created.
    let missing = dir.join("missing.db");
    let out = Command::new(env!("CARGO_BIN_EXE_marketsync"))
        .args(["purge-raw", "--older-than", "30", "--db"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!missing.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
