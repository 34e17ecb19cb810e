//! `marketsync run` end to end, through the real binary, against the TOP, Shopify and NetSuite
//! simulators (started in-process): the inventory push to both channels (`[inventory]`, with
//! per-connector allocations), `trace` from an order to the payout that paid it, exchange
//! rates (`[mapping.fx]`) booking in a functional currency, and order events through NATS
//! JetStream workers (`[queue]`; needs NATS with JetStream at 127.0.0.1:4222 —
//! `MARKETSYNC_NATS_URL` points elsewhere, `MARKETSYNC_SKIP_NATS=1` skips that test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{args, cli, env_of, on_postgres, postgres, temp_dir, text};
use marketsync_cli::simulate::{SimOptions, Simulators};
use marketsync_core::{Channel, EventKind, ShopId};
use marketsync_pipeline::store::sqlite::SqliteStore;
use marketsync_pipeline::{LineageQuery, RecordKey, Store};
use marketsync_testkit::sim::netsuite::{RecordType, seed};
use marketsync_testkit::sim::shopify::data::LOCATION;

const SHOP: &str = "marketsync-demo.myshopify.com";

async fn sims(dir: &std::path::Path, tmall: usize, shopify: usize, seed: u64) -> Simulators {
    marketsync_cli::simulate::start(&SimOptions {
        out: dir.to_path_buf(),
        tmall_orders: tmall,
        shopify_orders: shopify,
        seed,
    })
    .await
    .unwrap()
}

/// The (sent, applied, failed) of the `inventory:` line.
fn inventory_line(stdout: &str) -> (u64, u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("inventory: ") && l.contains("items read"))
        .unwrap_or_else(|| panic!("no inventory line:\n{stdout}"));
    let n: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|t| t.parse().ok())
        .collect();
    assert_eq!(n.len(), 4, "{line}");
    (n[1], n[2], n[3])
}

/// What NetSuite's seeded stock leaves to promise for item `n`: on hand − committed over both
/// locations − the safety buffer (2 in the example).
fn atp_of(n: u64) -> i64 {
    let (on_hand, committed) = ["1", "2"]
        .iter()
        .filter_map(|l| seed::stock(n, l))
        .fold((0, 0), |(a, b), (h, c)| (a + h, b + c));
    on_hand - committed - 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_pushes_inventory_and_trace_reaches_the_payout() {
    let dir = temp_dir("atp-trace");
    let sims = sims(&dir, 60, 20, 11).await;
    let env = env_of(&sims);
    let plain = std::fs::read_to_string(&sims.config).unwrap();

    // 1. Allocations: Shopify shows at most 5 units; Tmall shows zero at or below 1000.
    let allocated = dir.join("allocated.toml");
    let text_cfg = plain
        .replace(
            "location_id = \"gid://shopify/Location/1\"",
            "location_id = \"gid://shopify/Location/1\"\ninventory = { cap = 5 }",
        )
        .replace(
            "slice_minutes = 360",
            "slice_minutes = 360\ninventory = { zero_at_or_below = 1000 }",
        );
    assert_ne!(text_cfg, plain);
    std::fs::write(&allocated, text_cfg).unwrap();
    let out = cli(args(&["run", "--once"], &allocated), env.clone()).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("inventory: 12 items read"), "{stdout}");
    let (sent, applied, failed) = inventory_line(&stdout);
    // 12 Tmall SKUs and 4 Shopify variants, all applied.
    assert_eq!((sent, applied, failed), (16, 16, 0), "{stdout}");
    for item in 2001..=2004 {
        assert_eq!(
            sims.shopify
                .inventory_level(&format!("gid://shopify/InventoryItem/{item}"), LOCATION),
            Some(5),
            "variant {item}: capped at 5"
        );
    }
    for item in 0..4u64 {
        for sku in 0..3 {
            assert_eq!(
                sims.tmall
                    .stock(612_345_678_900 + item, &format!("SIM-{item}{sku}")),
                Some(0),
                "SIM-{item}{sku}: below the threshold"
            );
        }
    }

    // 2. Without allocations, in a new process: every channel shows the whole ATP. (Every
    // order is already handled, so no order reserves stock in this process: ATP is NetSuite's
    // on hand − committed − the buffer.)
    let out = cli(args(&["run", "--once"], &sims.config), env.clone()).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let (sent, applied, failed) = inventory_line(&stdout);
    assert_eq!((sent, applied, failed), (16, 16, 0), "{stdout}");
    // SKU-A0 … SKU-B are NetSuite items 1009 … 1012 (seeded items 9 … 12).
    for (variant, n) in (2001..=2004).zip(9..=12) {
        assert_eq!(
            sims.shopify
                .inventory_level(&format!("gid://shopify/InventoryItem/{variant}"), LOCATION),
            Some(atp_of(n)),
            "variant {variant}"
        );
    }
    // SIM-00 is item 1001, SIM-22 item 1009 (the same item as Shopify's SKU-A0).
    assert_eq!(
        sims.tmall.stock(612_345_678_900, "SIM-00"),
        u32::try_from(atp_of(1)).ok()
    );
    assert_eq!(
        sims.tmall.stock(612_345_678_902, "SIM-22"),
        u32::try_from(atp_of(9)).ok()
    );

    // 3. Shopify payouts were reconciled: find an order a payout paid, and trace it.
    let db = dir.join("marketsync.db");
    let store = SqliteStore::open(&db).await.unwrap();
    let shopify = (Channel::from_name("shopify").unwrap(), ShopId::new(SHOP));
    let mut settled = None;
    for id in sims.shopify.expected_order_ids() {
        let Ok(t) = marketsync_cli::inspect::trace(
            &store,
            EventKind::Order,
            &id,
            std::slice::from_ref(&shopify),
        )
        .await
        else {
            continue;
        };
        if t.contains("    payout ") {
            settled = Some(id);
            break;
        }
    }
    let order = settled.expect("an order paid by a reconciled payout");
    let out = cli(args(&["trace", &order], &sims.config), vec![]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // raw → canonical → ERP documents → settlement line → payout (bank deposit).
    let at = |needle: &str| {
        stdout
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing:\n{stdout}"))
    };
    let steps = [
        at(&format!("order {order} on shopify {SHOP}")),
        at("  raw:\n    sqlite archive, content hash sha256:"),
        at("  canonical:\n    revision "),
        at("  ERP documents:\n    sales_order      sales_order"),
        at("  settlement → payout:\n    settlement "),
        at("      line "),
        at("      settlement       journal_entry"),
        at("    payout "),
        at("      payout           journal_entry"),
    ];
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{stdout}");
    assert!(stdout.contains(" sale "), "{stdout}");
    assert!(stdout.contains(" deposited "), "{stdout}");
    // The settlement's journals are those the store records for the settlement.
    let sid = stdout[at("  settlement → payout:\n    settlement ")..]
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .to_owned();
    let journals = store
        .lineage(&LineageQuery::Record(RecordKey {
            channel: shopify.0.clone(),
            shop: shopify.1.clone(),
            kind: EventKind::Settlement,
            external_id: sid.clone(),
        }))
        .await
        .unwrap();
    assert!(!journals.is_empty(), "settlement {sid}");
    for j in &journals {
        assert!(stdout.contains(j.erp_document.as_str()), "{j:?}\n{stdout}");
    }

    // A Tmall order (its bills are not reconciled in the example) is not settled yet.
    let tmall = sims.tmall.trade_ids_modified_in(
        chrono::Utc::now() - chrono::Duration::days(30),
        chrono::Utc::now(),
    );
    let first = tmall.iter().next().unwrap();
    let out = cli(args(&["trace", first], &sims.config), vec![]).await;
    let (stdout, _) = text(&out);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("(not settled yet"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `[mapping.fx]`: US01 posts in its functional currency, EUR; Shopify orders are in USD. With
/// a USD→EUR rate dated before the orders, the accruals are booked in EUR at that rate (not at
/// the later one); with only a rate dated after them, they wait as `missing_fx_rate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fx_rates_book_in_the_functional_currency() {
    let dir = temp_dir("fx");
    let sims = sims(&dir, 5, 12, 13).await;
    let env = env_of(&sims);
    let rulebook = dir.join("rulebook.toml");
    let rb = std::fs::read_to_string(&rulebook).unwrap();
    let functional = rb.replace(
        "id = \"US01\"\ntime_zone = \"America/New_York\"\nfunctional_currency = \"USD\"",
        "id = \"US01\"\ntime_zone = \"America/New_York\"\nfunctional_currency = \"EUR\"\nposting_currency = \"functional\"",
    );
    assert_ne!(functional, rb);
    std::fs::write(&rulebook, functional).unwrap();
    std::fs::write(
        dir.join("rates.csv"),
        "date,from,to,rate,source\n2020-01-01,USD,EUR,0.9210,ECB\n2099-01-01,USD,EUR,5.0000,ECB\n",
    )
    .unwrap();
    let plain = std::fs::read_to_string(&sims.config).unwrap();
    let with_rates = plain.replace(
        "# [mapping.fx]\n# files = [\"rates.csv\"]",
        "[mapping.fx]\nfiles = [\"rates.csv\"]",
    );
    assert_ne!(with_rates, plain);
    let config = dir.join("fx.toml");
    std::fs::write(&config, &with_rates).unwrap();

    let out = cli(args(&["run", "--once"], &config), env.clone()).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let out = cli(
        args(
            &["exceptions", "list", "--reason", "missing_fx_rate"],
            &config,
        ),
        vec![],
    )
    .await;
    assert!(
        text(&out).0.contains("\n0 exception(s)"),
        "{:?}",
        text(&out)
    );

    // Every Shopify accrual NetSuite received is in EUR (currency 2 in the example), and its
    // lines carry the 2020 rate.
    let store = SqliteStore::open(&dir.join("marketsync.db")).await.unwrap();
    let shopify = Channel::from_name("shopify").unwrap();
    let mut checked = 0;
    for id in sims.shopify.expected_order_ids() {
        let links = store
            .lineage(&LineageQuery::Record(RecordKey {
                channel: shopify.clone(),
                shop: ShopId::new(SHOP),
                kind: EventKind::Order,
                external_id: id.clone(),
            }))
            .await
            .unwrap();
        // The accrual the engine booked: every line converted at the 2020 rate.
        if let Some(head) = store
            .head(&RecordKey {
                channel: shopify.clone(),
                shop: ShopId::new(SHOP),
                kind: EventKind::Order,
                external_id: id.clone(),
            })
            .await
            .unwrap()
        {
            if let Some(lines) = head.state["accrual"]["lines"].as_array() {
                // (The conversion's rounding residual line carries no rate.)
                let converted: Vec<_> = lines.iter().filter(|l| !l["fx"].is_null()).collect();
                assert!(!converted.is_empty(), "{lines:?}");
                for line in converted {
                    assert_eq!(line["fx"]["rate"], "0.9210", "{line}");
                    assert_eq!(line["fx"]["as_of"], "2020-01-01", "{line}");
                    assert_eq!(line["fx"]["source"], "ECB", "{line}");
                }
            }
        }
        for l in links.iter().filter(|l| l.role == "accrual") {
            let body = sims
                .netsuite
                .raw_body(RecordType::JournalEntry, l.document_key.as_str())
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["currency"]["id"], "2", "{body}");
            checked += 1;
        }
    }
    assert!(checked > 0, "no Shopify accrual checked");

    // Only a rate dated after the orders: none applies (a rate is used from its date on).
    std::fs::write(
        dir.join("late.csv"),
        "date,from,to,rate,source\n2099-01-01,USD,EUR,5.0000,ECB\n",
    )
    .unwrap();
    let late = dir.join("late.toml");
    std::fs::write(
        &late,
        with_rates
            .replace("files = [\"rates.csv\"]", "files = [\"late.csv\"]")
            .replace("path = \"marketsync.db\"", "path = \"late.db\""),
    )
    .unwrap();
    let out = cli(args(&["run", "--once"], &late), env.clone()).await;
    assert!(out.status.success(), "{:?}", text(&out));
    let out = cli(
        args(
            &["exceptions", "list", "--reason", "missing_fx_rate"],
            &late,
        ),
        vec![],
    )
    .await;
    let (stdout, _) = text(&out);
    let rows = stdout
        .lines()
        .filter(|l| l.contains("missing_fx_rate"))
        .count();
    // Every order that booked an accrual with the rate now waits for one (the count also takes
    // in the orders the mapper converts without booking an accrual), and none booked one.
    assert!(rows >= checked, "{stdout}");
    let late_store = SqliteStore::open(&dir.join("late.db")).await.unwrap();
    for id in sims.shopify.expected_order_ids() {
        let links = late_store
            .lineage(&LineageQuery::Record(RecordKey {
                channel: shopify.clone(),
                shop: ShopId::new(SHOP),
                kind: EventKind::Order,
                external_id: id.clone(),
            }))
            .await
            .unwrap();
        assert!(links.iter().all(|l| l.role != "accrual"), "{id}: {links:?}");
    }
    assert!(stdout.contains("no USD->EUR rate on or before"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `[queue]`: the order events of both connectors go through NATS JetStream to three workers
/// per entity; NetSuite ends up with exactly the documents of the direct run over the same
/// data, refunds and payouts follow, and a second pass posts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_nats_workers_matches_the_direct_run() {
    if std::env::var("MARKETSYNC_SKIP_NATS").is_ok_and(|v| v == "1") {
        eprintln!("MARKETSYNC_SKIP_NATS=1: skipping the NATS test");
        return;
    }
    let url =
        std::env::var("MARKETSYNC_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let tag = format!(
        "{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    let section = marketsync_cli::config::QueueSection {
        url: url.clone(),
        stream: format!("MSCLI_{tag}"),
        subject_prefix: format!("mscli.t{tag}"),
        workers: 3,
        partitions: 6,
        ack_wait_secs: 30,
    };
    // NATS must be there: a clear failure otherwise.
    if let Err(e) = marketsync_cli::work::connect(&section, "probe").await {
        panic!(
            "NATS JetStream at {url} is not reachable ({e}); start it, or set \
             MARKETSYNC_SKIP_NATS=1 to skip this test"
        );
    }

    let direct_dir = temp_dir("nats-direct");
    let direct = sims(&direct_dir, 80, 20, 17).await;
    let queued_dir = temp_dir("nats-queued");
    let queued = sims(&queued_dir, 80, 20, 17).await;

    let plain = std::fs::read_to_string(&queued.config).unwrap();
    let with_queue = plain.replace(
        "# [queue]\n# url = \"nats://127.0.0.1:4222\"\n# stream = \"MARKETSYNC\"\n# subject_prefix = \"marketsync.work\"\n# workers = 3                       # per entity, in this process\n# partitions = 16",
        &format!(
            "[queue]\nurl = \"{url}\"\nstream = \"{}\"\nsubject_prefix = \"{}\"\nworkers = 3\npartitions = 6",
            section.stream, section.subject_prefix
        ),
    );
    assert_ne!(with_queue, plain);
    let config = queued_dir.join("queued.toml");
    std::fs::write(&config, with_queue).unwrap();

    let out = cli(args(&["run", "--once"], &direct.config), env_of(&direct)).await;
    let (direct_out, stderr) = text(&out);
    assert!(out.status.success(), "{direct_out}\n{stderr}");
    let out = cli(args(&["run", "--once"], &config), env_of(&queued)).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("work queue: NATS JetStream"), "{stdout}");
    assert!(
        stdout.contains("tmall sim-flagship: orders: 80 published to NATS"),
        "{stdout}"
    );
    assert!(
        stdout.contains("workers CN01 (NATS, 3): 80 handled"),
        "{stdout}"
    );
    assert!(stdout.contains("workers US01 (NATS, 3): "), "{stdout}");

    for kind in [RecordType::SalesOrder, RecordType::JournalEntry] {
        assert_eq!(
            queued.netsuite.count(kind),
            direct.netsuite.count(kind),
            "{kind:?}: the queued run differs from the direct one\n{direct_out}\n{stdout}"
        );
    }
    assert!(queued.netsuite.count(RecordType::SalesOrder) > 0);
    // Refunds and payouts ran after the workers, as in the direct run.
    let settlements = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("shopify "))
            .and_then(|l| l.split("; ").last())
            .map(str::to_owned)
    };
    assert_eq!(settlements(&stdout), settlements(&direct_out), "{stdout}");
    assert!(
        settlements(&stdout).is_some_and(|s| !s.contains(" 0 reconciled")),
        "{stdout}"
    );

    // A second pass: whatever the look-back re-publishes is a duplicate.
    let before = (
        queued.netsuite.count(RecordType::SalesOrder),
        queued.netsuite.count(RecordType::JournalEntry),
    );
    let out = cli(args(&["run", "--once"], &config), env_of(&queued)).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("workers CN01 (NATS, 3): "), "{stdout}");
    for line in stdout.lines().filter(|l| l.starts_with("workers ")) {
        assert!(line.contains(", 0 posted,"), "{line}");
    }
    assert_eq!(
        (
            queued.netsuite.count(RecordType::SalesOrder),
            queued.netsuite.count(RecordType::JournalEntry),
        ),
        before
    );

    for entity in ["CN01", "US01", "probe"] {
        let q = marketsync_cli::work::connect(&section, entity)
            .await
            .unwrap();
        use marketsync_pipeline::nats::NatsQueue;
        let _ = NatsQueue::delete(&q).await;
    }
    let _ = std::fs::remove_dir_all(&direct_dir);
    let _ = std::fs::remove_dir_all(&queued_dir);
}

/// `[queue]` on PostgreSQL: three workers per entity share the store; every order is handled
/// once, refunds and payouts follow, and a second pass posts nothing. (Needs NATS and
/// PostgreSQL; `MARKETSYNC_SKIP_NATS=1` or `MARKETSYNC_SKIP_PG=1` skips it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_workers_on_postgres() {
    if std::env::var("MARKETSYNC_SKIP_NATS").is_ok_and(|v| v == "1") {
        eprintln!("MARKETSYNC_SKIP_NATS=1: skipping the NATS test");
        return;
    }
    let schema = format!("ms_cli_nats_{}", std::process::id());
    let Some((conninfo, pg)) = postgres(&schema).await else {
        return;
    };
    let url =
        std::env::var("MARKETSYNC_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let tag = format!(
        "{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    let section = marketsync_cli::config::QueueSection {
        url: url.clone(),
        stream: format!("MSPG_{tag}"),
        subject_prefix: format!("mspg.t{tag}"),
        workers: 3,
        partitions: 6,
        ack_wait_secs: 30,
    };
    let dir = temp_dir("nats-pg");
    let sims = sims(&dir, 40, 12, 19).await;
    let text_cfg = on_postgres(&std::fs::read_to_string(&sims.config).unwrap(), &schema)
        .replace(
            "# [queue]\n# url = \"nats://127.0.0.1:4222\"\n# stream = \"MARKETSYNC\"\n# subject_prefix = \"marketsync.work\"",
            &format!(
                "[queue]\nurl = \"{url}\"\nstream = \"{}\"\nsubject_prefix = \"{}\"\nworkers = 3\npartitions = 6",
                section.stream, section.subject_prefix
            ),
        );
    assert!(text_cfg.contains("[queue]"));
    let config = dir.join("pg-queue.toml");
    std::fs::write(&config, text_cfg).unwrap();
    let mut env = env_of(&sims);
    env.push(("MARKETSYNC_PG".into(), conninfo));

    let out = cli(args(&["run", "--once"], &config), env.clone()).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("store postgres"), "{stdout}");
    assert!(
        stdout.contains("tmall sim-flagship: orders: 40 published to NATS"),
        "{stdout}"
    );
    assert!(
        stdout.contains("workers CN01 (NATS, 3): 40 handled"),
        "{stdout}"
    );
    let posted = queued_posted(&stdout);
    assert!(posted > 0, "{stdout}");
    assert_eq!(
        sims.netsuite.count(RecordType::SalesOrder) as u64,
        posted,
        "one sales order per posted order event\n{stdout}"
    );
    let out = cli(args(&["run", "--once"], &config), env.clone()).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(queued_posted(&stdout), 0, "{stdout}");
    assert_eq!(sims.netsuite.count(RecordType::SalesOrder) as u64, posted);

    for entity in ["CN01", "US01"] {
        let q = marketsync_cli::work::connect(&section, entity)
            .await
            .unwrap();
        let _ = marketsync_pipeline::nats::NatsQueue::delete(&q).await;
    }
    pg.drop_schema().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The sum of `N posted` over the `workers` lines.
fn queued_posted(stdout: &str) -> u64 {
    stdout
        .lines()
        .filter(|l| l.starts_with("workers "))
        .filter_map(|l| {
            l.split(", ")
                .find(|p| p.ends_with(" posted"))
                .and_then(|p| p.trim_end_matches(" posted").parse::<u64>().ok())
        })
        .sum()
}
