//! The end-to-end demo, small: simulators over loopback HTTP → engine on SQLite → NetSuite
//! simulator, twice, and the HTML report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use marketsync_cli::demo::{DemoOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_posts_once_and_writes_the_report() {
    let dir = std::env::temp_dir().join(format!("marketsync-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let opts = DemoOptions {
        db: dir.join("demo.db"),
        report: dir.join("report.html"),
        tmall_orders: 60,
        shopify_orders: 15,
        seed: 7,
        ..DemoOptions::default()
    };
    let summary = run(&opts).await.unwrap();

    let posted: u64 = summary.channels.iter().map(|c| c.orders_posted).sum();
    assert!(posted > 0, "nothing was posted: {summary:?}");
    assert_eq!(
        summary.documents_second_pass, 0,
        "the second pass doubled documents"
    );
    assert_eq!(
        summary.netsuite_sales_orders as u64, posted,
        "one sales order per posted order"
    );
    assert!(
        summary.netsuite_journals as u64 >= posted,
        "every posted order has its accrual"
    );
    for c in &summary.channels {
        // Each simulator seeds exactly one order with a status no connector knows.
        assert_eq!(c.exceptions.get("unknown_status"), Some(&1), "{c:?}");
        // The replay pass re-reads everything: each record is a duplicate or a known failure.
        let failed: u64 = c.exceptions.values().sum();
        assert!(
            c.duplicates_suppressed + failed >= c.orders_fetched,
            "{c:?}"
        );
    }
    // Tmall refunds post through the SKU map (refund documents carry the resolved items).
    let tmall = &summary.channels[0];
    assert_eq!(tmall.channel, "tmall");
    assert!(tmall.refunds_posted > 0, "{tmall:?}");
    assert_eq!(
        tmall.exceptions.keys().collect::<Vec<_>>(),
        vec!["unknown_status"],
        "{tmall:?}"
    );
    // Stock went out to both channels: 12 Tmall SKUs and 4 Shopify variants, all applied.
    assert_eq!(summary.inventory_updates, (16, 16));
    let html = std::fs::read_to_string(&opts.report).unwrap();
    assert!(
        html.contains("inventory update latency") && html.contains(" ms / "),
        "latency measured"
    );
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg") && html.contains("Channel P&amp;L") && html.contains("tmall"));
    assert!(
        !html.contains("<script"),
        "the report is self-contained and script-free"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
