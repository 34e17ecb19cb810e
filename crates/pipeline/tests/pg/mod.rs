//! Shared PostgreSQL test setup.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use marketsync_pipeline::store::postgres::{PgConfig, PgStore};

/// `None` only when `MARKETSYNC_SKIP_PG=1`; otherwise PostgreSQL must be reachable.
pub(crate) async fn store(tag: &str) -> Option<PgStore> {
    if std::env::var("MARKETSYNC_SKIP_PG").is_ok_and(|v| v == "1") {
        eprintln!("MARKETSYNC_SKIP_PG=1: skipping the PostgreSQL test");
        return None;
    }
    let schema = format!(
        "ms_test_{tag}_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default() % 1_000_000_000_000
    );
    Some(attach(&schema, 8).await)
}

/// Connects to `schema` (creating it), trying the configured URL, then users postgres and root.
pub(crate) async fn attach(schema: &str, pool: usize) -> PgStore {
    let candidates = match std::env::var("MARKETSYNC_PG_URL") {
        Ok(url) => vec![url],
        Err(_) => vec![
            "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned(),
            "host=127.0.0.1 port=5432 user=root dbname=test".to_owned(),
        ],
    };
    let mut errors = Vec::new();
    for conninfo in candidates {
        match PgStore::connect(PgConfig::new(conninfo, schema).with_pool_size(pool)).await {
            Ok(s) => return s,
            Err(e) => errors.push(e.to_string()),
        }
    }
    panic!(
        "PostgreSQL at 127.0.0.1:5432 is not reachable ({errors:?}); start it, or set \
         MARKETSYNC_SKIP_PG=1 to skip the PostgreSQL tests"
    );
}
