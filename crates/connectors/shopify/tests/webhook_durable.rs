//! Webhook de-duplication survives a restart when the verifier records deliveries in the
//! pipeline store (SQLite file here; the store conformance suite covers PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use marketsync_pipeline::store::StoreDeliveryLog;
use marketsync_pipeline::store::sqlite::SqliteStore;
use marketsync_shopify::auth::webhook_hmac;
use marketsync_shopify::webhook::{DuplicateOf, WebhookOutcome, WebhookVerifier};

const SECRET: &[u8] = b"app-secret";
const BODY: &[u8] = br#"{"id":5001,"admin_graphql_api_id":"gid://shopify/Order/5001","email":"buyer1@example.com"}"#;

fn headers(id: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "x-shopify-hmac-sha256",
        HeaderValue::from_str(&webhook_hmac(SECRET, BODY)).unwrap(),
    );
    h.insert("x-shopify-webhook-id", HeaderValue::from_str(id).unwrap());
    h.insert(
        "x-shopify-topic",
        HeaderValue::from_static("orders/updated"),
    );
    h.insert(
        "x-shopify-triggered-at",
        HeaderValue::from_str(&chrono::Utc::now().to_rfc3339()).unwrap(),
    );
    h
}

async fn verifier(db: &std::path::Path) -> WebhookVerifier {
    let store = SqliteStore::open(db).await.unwrap();
    WebhookVerifier::new(SECRET).with_delivery_log(Arc::new(StoreDeliveryLog::new(Arc::new(store))))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_stay_refused_after_a_restart() {
    let dir = std::env::temp_dir().join(format!("marketsync-webhook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("deliveries.db");
    let _ = std::fs::remove_file(&db);

    {
        let v = verifier(&db).await;
        let WebhookOutcome::Accepted(d) = v.verify(&headers("wh-1"), BODY).await.unwrap() else {
            panic!("a new delivery was not accepted");
        };
        v.complete(&d).await.unwrap();
    }
    // A new process: a fresh verifier over the same database.
    let v = verifier(&db).await;
    assert_eq!(
        v.verify(&headers("wh-1"), BODY).await.unwrap(),
        WebhookOutcome::Duplicate {
            webhook_id: "wh-1".into(),
            by: DuplicateOf::WebhookId
        },
        "Shopify's retry after a restart"
    );
    assert_eq!(
        v.verify(&headers("wh-replayed"), BODY).await.unwrap(),
        WebhookOutcome::Duplicate {
            webhook_id: "wh-replayed".into(),
            by: DuplicateOf::Body
        },
        "a captured body under a new id after a restart"
    );
    // The in-memory default forgets on restart: the same retry would be accepted there.
    let memory = WebhookVerifier::new(SECRET);
    assert!(matches!(
        memory.verify(&headers("wh-1"), BODY).await.unwrap(),
        WebhookOutcome::Accepted(_)
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
