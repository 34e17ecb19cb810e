#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The store conformance suite on the real PostgreSQL at 127.0.0.1:5432 (trust auth, database
//! `test`). Each run uses its own schema and drops it afterwards.
//!
//! PostgreSQL must be reachable: the test fails otherwise. Set `MARKETSYNC_SKIP_PG=1` to skip
//! it on a machine without PostgreSQL, or `MARKETSYNC_PG_URL` to point elsewhere.

mod pg;

use std::sync::Arc;

use marketsync_pipeline::store::{Claim, ClaimRequest, Store, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_postgres() {
    let Some(store) = pg::store("conf").await else {
        return;
    };
    let report = conformance::run(Arc::new(store.clone())).await;
    store.drop_schema().await.unwrap();
    assert_eq!(report.unwrap().passed.len(), 13);
}

/// 32 tasks on 32 separate connections race to claim one key: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_claims_on_separate_connections() {
    let Some(first) = pg::store("race").await else {
        return;
    };
    let mut stores = vec![first.clone()];
    for _ in 1..32 {
        stores.push(pg::attach(first.schema(), 1).await);
    }
    let key = marketsync_core::IdempotencyKey::derive(
        &marketsync_core::Channel::Tmall,
        &marketsync_core::ShopId::new("race"),
        &marketsync_core::EventKind::Order,
        "1",
        &marketsync_core::Revision::Version(1),
    );
    let barrier = Arc::new(tokio::sync::Barrier::new(stores.len()));
    let mut set = tokio::task::JoinSet::new();
    for (i, s) in stores.into_iter().enumerate() {
        let barrier = barrier.clone();
        let req = ClaimRequest {
            key: key.clone(),
            scope: "order_event".into(),
            owner: format!("w{i}"),
            now: chrono::Utc::now(),
            lease: std::time::Duration::from_secs(30),
        };
        set.spawn(async move {
            barrier.wait().await;
            matches!(s.claim(&req).await.unwrap(), Claim::Acquired(_))
        });
    }
    let mut wins = 0;
    let mut total = 0;
    while let Some(r) = set.join_next().await {
        total += 1;
        wins += usize::from(r.unwrap());
    }
    first.drop_schema().await.unwrap();
    assert_eq!((wins, total), (1, 32));
}

/// Two stores connecting to the same new schema at once migrate it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations() {
    let Some(first) = pg::store("mig").await else {
        return;
    };
    let schema = format!("{}_b", first.schema());
    let (a, b) = tokio::join!(pg::attach(&schema, 1), pg::attach(&schema, 1));
    assert_eq!(
        a.schema_version().await.unwrap(),
        b.schema_version().await.unwrap()
    );
    a.drop_schema().await.unwrap();
    first.drop_schema().await.unwrap();
}
