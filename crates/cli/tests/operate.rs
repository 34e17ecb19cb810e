//! The operator CLI end to end, through the real binary, against the TOP, Shopify and NetSuite
//! simulators: `run --config` (once) with a SKU map that misses one SKU → `unknown_sku`
//! exceptions; the SKU added → `exceptions replay` posts them; `trace` shows an order's ERP
//! documents; `show`, `report`, `--log-format json`, and the refusal of secrets in the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{args, cli, env_of, temp_dir, text};
use marketsync_cli::simulate::SimOptions;
use marketsync_pipeline::Store;
use marketsync_pipeline::store::sqlite::SqliteStore;
use marketsync_testkit::sim::netsuite::RecordType;

const MISSING: &str =
    "[[alias]]\nchannel = \"tmall\"\nkind = \"seller_sku\"\nalias = \"SIM-00\"\nitem = \"1001\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_then_replay_after_a_rule_fix_then_trace() {
    let dir = temp_dir("operate");
    let sims = marketsync_cli::simulate::start(&SimOptions {
        out: dir.clone(),
        tmall_orders: 120,
        shopify_orders: 20,
        seed: 7,
    })
    .await
    .unwrap();
    let env = env_of(&sims);
    let config = sims.config.clone();

    // The SKU map misses SIM-00.
    let skus = dir.join("skus.toml");
    let full = std::fs::read_to_string(&skus).unwrap();
    assert!(full.contains(MISSING));
    std::fs::write(&skus, full.replace(MISSING, "")).unwrap();

    // 1. One pass.
    let out = cli(args(&["run", "--once"], &config), env.clone()).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("tmall sim-flagship: orders: 120 fetched"),
        "{stdout}"
    );
    assert!(stdout.contains("settlements: not supported"), "{stdout}");
    let posted_before = sims.netsuite.count(RecordType::SalesOrder);
    assert!(posted_before > 0);

    // 2. The unmapped SKU's orders are exceptions.
    let out = cli(
        args(&["exceptions", "list", "--reason", "unknown_sku"], &config),
        vec![],
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("unknown_sku"))
        .collect();
    assert!(!rows.is_empty(), "{stdout}");
    assert!(
        rows.iter()
            .all(|l| l.contains("SIM-00") && l.contains(" open "))
    );
    assert!(stdout.contains(&format!("{} exception(s)", rows.len())));
    // Date filters (UTC days): seen since yesterday, none before 2000.
    let today = (chrono::Utc::now() - chrono::Duration::days(1))
        .date_naive()
        .to_string();
    for (flag, day, expect) in [
        ("--since", today.as_str(), rows.len()),
        ("--until", "2000-01-01", 0),
    ] {
        let out = cli(
            args(
                &["exceptions", "list", "--reason", "unknown_sku", flag, day],
                &config,
            ),
            vec![],
        )
        .await;
        assert!(
            text(&out).0.contains(&format!("\n{expect} exception(s)")),
            "{flag} {day}: {:?}",
            text(&out)
        );
    }
    let first_id: i64 = rows[0].split_whitespace().next().unwrap().parse().unwrap();
    let first_order = rows[0].split_whitespace().nth(7).unwrap().to_owned();

    // `show`: the masked canonical record and where the raw payload is.
    let out = cli(
        args(&["exceptions", "show", &first_id.to_string()], &config),
        vec![],
    )
    .await;
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert!(stdout.contains("reason:      unknown_sku"), "{stdout}");
    assert!(
        stdout.contains("raw payload: sqlite archive, content hash sha256:"),
        "{stdout}"
    );
    assert!(stdout.contains("(kept)"), "{stdout}");
    assert!(
        stdout.contains("canonical record (personal data masked):"),
        "{stdout}"
    );
    assert!(stdout.contains("SIM-00"), "{stdout}");
    // The buyer's id is masked; receiver name and address (sealed on TOP) never appear.
    assert!(stdout.contains("\"platform_id\": \"AAH***"), "{stdout}");
    assert!(!stdout.contains("~AgAAAA"), "{stdout}");

    // Before the fix, the order has no ERP document.
    let out = cli(args(&["trace", &first_order], &config), vec![]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("ERP documents:\n    (none)"), "{stdout}");
    assert!(stdout.contains("unknown_sku"), "{stdout}");

    // A replay without the fix leaves them open.
    let out = cli(
        args(&["exceptions", "replay", &first_id.to_string()], &config),
        env.clone(),
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("0 replayed, 1 still open"), "{stdout}");
    assert_eq!(sims.netsuite.count(RecordType::SalesOrder), posted_before);

    // 3. Fix the rule (add the SKU) and replay every open unknown_sku exception.
    std::fs::write(&skus, &full).unwrap();
    let out = cli(
        args(
            &[
                "exceptions",
                "replay",
                "--reason",
                "unknown_sku",
                "--actor",
                "ops-anna",
            ],
            &config,
        ),
        env.clone(),
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("{} replayed, 0 still open", rows.len())),
        "{stdout}"
    );
    assert_eq!(
        sims.netsuite.count(RecordType::SalesOrder),
        posted_before + rows.len(),
        "one sales order per replayed order"
    );
    let out = cli(
        args(&["exceptions", "list", "--reason", "unknown_sku"], &config),
        vec![],
    )
    .await;
    assert!(text(&out).0.contains("0 exception(s)"));
    let out = cli(
        args(
            &[
                "exceptions",
                "list",
                "--status",
                "replayed",
                "--channel",
                "tmall",
            ],
            &config,
        ),
        vec![],
    )
    .await;
    assert!(
        text(&out)
            .0
            .contains(&format!("{} exception(s)", rows.len()))
    );

    // Replaying again does nothing (not open).
    let out = cli(
        args(&["exceptions", "replay", &first_id.to_string()], &config),
        env.clone(),
    )
    .await;
    assert!(
        text(&out).0.contains("not open (replayed)"),
        "{:?}",
        text(&out)
    );
    assert_eq!(
        sims.netsuite.count(RecordType::SalesOrder),
        posted_before + rows.len()
    );

    // 4. The order's lineage: its sales order and accrual journal, the rulebook version, the raw
    // payload it came from.
    let out = cli(args(&["trace", &first_order], &config), vec![]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("order {first_order} on tmall sim-flagship")));
    assert!(stdout.contains("sales_order      sales_order"), "{stdout}");
    assert!(
        stdout.contains("accrual          journal_entry"),
        "{stdout}"
    );
    assert!(stdout.contains("rulebook 2026.11-example"), "{stdout}");
    assert!(stdout.contains("content hash sha256:"), "{stdout}");
    assert!(stdout.contains("replayed  unknown_sku"), "{stdout}");
    // By channel and shop from a bare store file, too.
    let db = dir.join("marketsync.db");
    let out = cli(
        vec![
            "trace".into(),
            first_order.clone(),
            "--db".into(),
            db.display().to_string(),
            "--channel".into(),
            "tmall".into(),
            "--shop".into(),
            "sim-flagship".into(),
        ],
        vec![],
    )
    .await;
    assert!(text(&out).0.contains("sales_order      sales_order"));
    let out = cli(args(&["trace", "no-such-order"], &config), vec![]).await;
    assert!(!out.status.success());
    assert!(text(&out).1.contains("not in the store"));

    // The replays are in the audit trail, with their actor.
    {
        let store = SqliteStore::open(&db).await.unwrap();
        let audit = store.audit_log(0, 10_000).await.unwrap();
        let replays: Vec<_> = audit
            .iter()
            .filter(|a| a.action == "replay_exception")
            .collect();
        assert_eq!(replays.len(), rows.len() + 2, "{replays:?}");
        assert_eq!(
            replays.iter().filter(|a| a.actor == "ops-anna").count(),
            rows.len()
        );
    }

    // The HTML report from the store.
    let html = dir.join("report.html");
    let mut a = args(&["report", "--out"], &config);
    a.insert(2, html.display().to_string());
    let out = cli(a, vec![]).await;
    assert!(out.status.success(), "{:?}", text(&out));
    let page = std::fs::read_to_string(&html).unwrap();
    let row = format!(
        "<tr><td>tmall</td><td>unknown_sku</td><td class=\"num\">0</td><td class=\"num\">0</td><td class=\"num\">{}</td></tr>",
        rows.len()
    );
    assert!(page.contains(&row), "{page}");
    assert!(page.contains("Idempotency ledger"));
    assert!(
        page.contains("<td>ops-anna</td><td>replay_exception</td>"),
        "{page}"
    );

    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_refused_in_the_file_and_named_when_missing() {
    let dir = temp_dir("secrets");
    let sims = marketsync_cli::simulate::start(&SimOptions {
        out: dir.clone(),
        tmall_orders: 5,
        shopify_orders: 2,
        seed: 1,
    })
    .await
    .unwrap();
    let good = std::fs::read_to_string(&sims.config).unwrap();

    // A secret value in the file: refused before anything runs, the value never echoed.
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        good.replace(
            "app_key = \"12345678\"",
            "app_key = \"12345678\"\napp_secret = \"sup3r-s3cret-value\"",
        ),
    )
    .unwrap();
    let out = cli(args(&["run", "--once"], &bad), env_of(&sims)).await;
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("`connectors[0].app_secret` holds a secret value"),
        "{stderr}"
    );
    assert!(stderr.contains("secrets are never kept in the config file"));
    assert!(!stderr.contains("sup3r") && !stdout.contains("sup3r"));
    assert!(!dir.join("marketsync.db").exists(), "nothing ran");

    // So is a PostgreSQL connection string (it may hold a password).
    let pg = dir.join("pg.toml");
    std::fs::write(
        &pg,
        good.replace(
            "backend = \"sqlite\"",
            "backend = \"postgres\"\nconninfo = \"host=db password=hunter2\"",
        ),
    )
    .unwrap();
    let out = cli(args(&["run", "--once"], &pg), env_of(&sims)).await;
    assert!(
        text(&out)
            .1
            .contains("`store.conninfo` holds a secret value")
    );
    assert!(!text(&out).1.contains("hunter2"));

    // A secret whose variable is not set: the variable is named.
    let mut env = env_of(&sims);
    env.retain(|(k, _)| k != "TMALL_SESSION");
    let out = tokio::task::spawn_blocking({
        let config = sims.config.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_marketsync"))
                .args(["run", "--once", "--config"])
                .arg(&config)
                .envs(env)
                .env_remove("TMALL_SESSION")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("environment variable TMALL_SESSION is not set"),
        "{stderr}"
    );

    // A secret from a file works; a typo in a setting is refused.
    let secret_file = dir.join("session.secret");
    std::fs::write(&secret_file, format!("{}\n", sims.tmall.config().session)).unwrap();
    let from_file = dir.join("from-file.toml");
    std::fs::write(
        &from_file,
        good.replace(
            "session = { env = \"TMALL_SESSION\" }",
            "session = { file = \"session.secret\" }",
        ),
    )
    .unwrap();
    let mut env = env_of(&sims);
    env.retain(|(k, _)| k != "TMALL_SESSION");
    let out = cli(args(&["run", "--once"], &from_file), env.clone()).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("tmall sim-flagship: orders: 5 fetched"),
        "{stdout}"
    );

    let typo = dir.join("typo.toml");
    std::fs::write(&typo, good.replace("slice_minutes", "slice_minutess")).unwrap();
    let out = cli(args(&["run", "--once"], &typo), env_of(&sims)).await;
    assert!(
        text(&out).1.contains("unknown setting `slice_minutess`"),
        "{:?}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_follow_rust_log() {
    let dir = temp_dir("logs");
    let sims = marketsync_cli::simulate::start(&SimOptions {
        out: dir.clone(),
        tmall_orders: 5,
        shopify_orders: 20,
        seed: 3,
    })
    .await
    .unwrap();
    let config = sims.config.clone();
    let env = env_of(&sims);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_marketsync"))
            .args(["--log-format", "json", "run", "--once", "--config"])
            .arg(&config)
            .envs(env)
            .env("RUST_LOG", "marketsync_pipeline=debug")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty(), "{stderr}");
    assert!(lines.iter().all(|l| {
        l["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("marketsync_pipeline"))
    }));
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string())
    );

    // A malformed filter is an error, not silence.
    let out = Command::new(env!("CARGO_BIN_EXE_marketsync"))
        .args(["exceptions", "list", "--db", "/nonexistent.db"])
        .env("RUST_LOG", "marketsync=[")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("RUST_LOG"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `run` and `exceptions` on PostgreSQL (127.0.0.1:5432, database `test`; `MARKETSYNC_PG_URL`
/// points elsewhere, `MARKETSYNC_SKIP_PG=1` skips), the connection string read from a variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_on_postgres() {
    let schema = format!("ms_cli_{}", std::process::id());
    let Some((conninfo, pg)) = common::postgres(&schema).await else {
        return;
    };
    let dir = temp_dir("pg");
    let sims = marketsync_cli::simulate::start(&SimOptions {
        out: dir.clone(),
        tmall_orders: 20,
        shopify_orders: 20,
        seed: 5,
    })
    .await
    .unwrap();
    let text_cfg = std::fs::read_to_string(&sims.config).unwrap().replace(
        "backend = \"sqlite\"                  # or: backend = \"postgres\", conninfo = { env = \"MARKETSYNC_PG\" }, schema = \"marketsync\"\npath = \"marketsync.db\"",
        &format!("backend = \"postgres\"\nconninfo = {{ env = \"MARKETSYNC_PG\" }}\nschema = \"{schema}\""),
    );
    assert!(text_cfg.contains("backend = \"postgres\""));
    let config = dir.join("pg.toml");
    std::fs::write(&config, text_cfg).unwrap();
    let mut env = env_of(&sims);
    env.push(("MARKETSYNC_PG".into(), conninfo));
    let out = cli(args(&["run", "--once"], &config), env.clone()).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("store postgres"), "{stdout}");
    assert!(
        stdout.contains("tmall sim-flagship: orders: 20 fetched"),
        "{stdout}"
    );
    // The Shopify simulator's order with an unknown financial status.
    let out = cli(
        args(
            &["exceptions", "list", "--reason", "unknown_status"],
            &config,
        ),
        env.clone(),
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 exception(s)"), "{stdout}");
    let counts = pg.exception_counts().await.unwrap();
    assert!(
        counts
            .iter()
            .any(|(r, n)| r.as_str() == "unknown_status" && *n == 1),
        "{counts:?}"
    );
    pg.drop_schema().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without `--once`, `run` syncs pass after pass until SIGINT, then stops gracefully (exit 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_loops_until_ctrl_c() {
    let dir = temp_dir("loop");
    let sims = marketsync_cli::simulate::start(&SimOptions {
        out: dir.clone(),
        tmall_orders: 10,
        shopify_orders: 5,
        seed: 9,
    })
    .await
    .unwrap();
    let config = sims.config.clone();
    let env = env_of(&sims);
    let child = Command::new(env!("CARGO_BIN_EXE_marketsync"))
        .args(["run", "--config"])
        .arg(&config)
        .envs(env)
        .env("RUST_LOG", "marketsync_cli=info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    // Wait for the first pass of both connectors (the sales orders reach NetSuite).
    let mut waited = 0;
    while sims.netsuite.count(RecordType::SalesOrder) == 0 && waited < 300 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("syncing every 60 s"), "{stdout}");
    assert!(stdout.contains("stopped."), "{stdout}");
    assert!(stderr.contains("sync pass done"), "{stderr}");
    assert!(
        stderr.contains("stopping after the pages in hand"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `marketsync schema` writes the `run` configuration's JSON Schema beside the model's.
#[test]
fn schema_writes_the_config_schema() {
    let dir = temp_dir("schema");
    let out = Command::new(env!("CARGO_BIN_EXE_marketsync"))
        .args(["schema", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("MarketsyncConfig.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(schema["title"], "MarketsyncConfig");
    assert_eq!(
        schema["required"],
        serde_json::json!(["store", "engine", "mapping", "erp", "connectors"])
    );
    // The rulebook schema is the library's, listed in index.json with the model's.
    assert_eq!(
        std::fs::read_to_string(dir.join("Rulebook.schema.json")).unwrap(),
        marketsync_core::schema::to_pretty(&marketsync_mapping::rulebook_schema())
    );
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    assert!(
        index["schemas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "Rulebook")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
