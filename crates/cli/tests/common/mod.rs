//! Helpers the CLI tests share: a scratch folder, the binary run off the runtime's threads,
//! its output, and the simulators' credentials as environment variables.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use marketsync_cli::simulate::Simulators;

/// A fresh scratch folder named after the test and the process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("marketsync-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary off the runtime's threads (the simulators live on them).
pub async fn cli(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_marketsync"))
            .args(&args)
            .envs(env)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// The arguments, then `--config FILE`.
pub fn args(list: &[&str], config: &Path) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    v.push("--config".into());
    v.push(config.display().to_string());
    v
}

/// (stdout, stderr).
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The simulators' credentials, as the variables the configuration names.
pub fn env_of(sims: &Simulators) -> Vec<(String, String)> {
    sims.env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// PostgreSQL at 127.0.0.1:5432 (database `test`; `MARKETSYNC_PG_URL` points elsewhere): the
/// connection string and a store on `schema`. `None` (with a message) when
/// `MARKETSYNC_SKIP_PG=1`; a panic naming the fix when it is not reachable.
pub async fn postgres(
    schema: &str,
) -> Option<(String, marketsync_pipeline::store::postgres::PgStore)> {
    use marketsync_pipeline::store::postgres::{PgConfig, PgStore};
    if std::env::var("MARKETSYNC_SKIP_PG").is_ok_and(|v| v == "1") {
        eprintln!("MARKETSYNC_SKIP_PG=1: skipping the PostgreSQL test");
        return None;
    }
    let candidates = match std::env::var("MARKETSYNC_PG_URL") {
        Ok(url) => vec![url],
        Err(_) => vec![
            "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned(),
            "host=127.0.0.1 port=5432 user=root dbname=test".to_owned(),
        ],
    };
    for c in candidates {
        if let Ok(s) = PgStore::connect(PgConfig::new(c.clone(), schema.to_owned())).await {
            return Some((c, s));
        }
    }
    panic!("PostgreSQL at 127.0.0.1:5432 is not reachable; start it, or set MARKETSYNC_SKIP_PG=1")
}

/// The configuration text with the example's SQLite store replaced by PostgreSQL (the
/// connection string from `MARKETSYNC_PG`).
pub fn on_postgres(config: &str, schema: &str) -> String {
    let out = config.replace(
        "backend = \"sqlite\"                  # or: backend = \"postgres\", conninfo = { env = \"MARKETSYNC_PG\" }, schema = \"marketsync\"\npath = \"marketsync.db\"",
        &format!("backend = \"postgres\"\nconninfo = {{ env = \"MARKETSYNC_PG\" }}\nschema = \"{schema}\""),
    );
    assert!(out.contains("backend = \"postgres\""));
    out
}
