//! `marketsync purge-raw --older-than DAYS --db PATH`: applies the raw archive's retention.
//!
//! The raw archive is the one table that keeps payloads as the platforms sent them, personal
//! data included. This deletes those first seen more than `DAYS` days ago, except payloads an
//! open exception points at (its replay re-reads them); resolve or replay those first.

use std::path::Path;

use chrono::{DateTime, Utc};
use marketsync_pipeline::Store;
use marketsync_pipeline::store::RawRetention;
use marketsync_pipeline::store::sqlite::SqliteStore;

/// Purges raw payloads first seen before `now − older_than_days` from the SQLite store at `db`.
/// Returns how many were deleted. A missing database file is an error (nothing is created).
pub async fn purge_raw(
    db: &Path,
    older_than_days: u32,
    now: DateTime<Utc>,
) -> Result<u64, Box<dyn std::error::Error>> {
    if !db.is_file() {
        return Err(format!("no database at {}", db.display()).into());
    }
    let store = SqliteStore::open(db).await?;
    let cutoff = RawRetention::days(older_than_days).cutoff(now);
    Ok(store.purge_raw(cutoff).await?)
}
