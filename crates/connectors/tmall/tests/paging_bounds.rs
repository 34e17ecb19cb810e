#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The backward walk never trusts the server's `total_results` blindly: a count that needs
//! more pages than the cap per slice is an error with a reason, and so is a cursor pointing
//! past the cap.

use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use marketsync_core::{Cursor, TimeWindow};
use marketsync_tmall::TmallConfig;
use marketsync_tmall::client::{ListApi, ListCursor, TopClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const API: ListApi = ListApi {
    method: "taobao.trades.sold.increment.get",
    fields: "tid",
    outer: "trades",
    inner: "trade",
};

/// A fake TOP gateway answering every call with `total_results = total` and one trade.
/// Counts the calls.
async fn gateway(total: u64) -> (String, Arc<Mutex<u32>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(Mutex::new(0u32));
    let c = calls.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let c = c.clone();
            tokio::spawn(async move {
                // Read the request head and its form body.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                *c.lock().unwrap() += 1;
                let body = format!(
                    r#"{{"trades_sold_increment_get_response":{{"total_results":{total},"trades":{{"trade":[{{"tid":1}}]}},"request_id":"r"}}}}"#
                );
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}/router/rest"), calls)
}

fn client(gateway: &str) -> TopClient {
    let mut config = TmallConfig::new("12345678", "app-secret-0123456789", "session", "shop");
    config.gateway = gateway.to_owned();
    TopClient::new(&config).unwrap()
}

fn window() -> TimeWindow {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    TimeWindow::new(start, start + chrono::Duration::minutes(30)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_server_count_is_refused_not_walked() {
    // u32::MAX pages' worth of trades in one slice.
    let (gw, calls) = gateway(u64::from(u32::MAX) * 100).await;
    let err = client(&gw)
        .list_page(API, window(), chrono::Duration::minutes(30), None, 100)
        .await
        .unwrap_err();
    assert_eq!(err.reason().as_str(), "page_cap_exceeded", "{err:?}");
    assert_eq!(*calls.lock().unwrap(), 1, "only the probe was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_is_exact_and_applies_to_cursors() {
    // 300 trades at 100 a page: 3 pages, within a cap of 3.
    let (gw, _) = gateway(300).await;
    let page = client(&gw)
        .with_max_pages_per_slice(3)
        .list_page(API, window(), chrono::Duration::minutes(30), None, 100)
        .await
        .unwrap();
    assert_eq!(page.next.and_then(|c| c.page), Some(3));
    // 301 trades: 4 pages, over the cap.
    let (gw, _) = gateway(301).await;
    let err = client(&gw)
        .with_max_pages_per_slice(3)
        .list_page(API, window(), chrono::Duration::minutes(30), None, 100)
        .await
        .unwrap_err();
    assert_eq!(err.reason().as_str(), "page_cap_exceeded");
    // A cursor pointing at page 1,000,000 of the slice is refused without a call.
    let (gw, calls) = gateway(300).await;
    let forged: Cursor = ListCursor {
        slice: window(),
        page: Some(1_000_000),
    }
    .encode();
    let err = client(&gw)
        .list_page(
            API,
            window(),
            chrono::Duration::minutes(30),
            Some(&forged),
            100,
        )
        .await
        .unwrap_err();
    assert_eq!(err.reason().as_str(), "page_cap_exceeded");
    assert_eq!(*calls.lock().unwrap(), 0);
}
