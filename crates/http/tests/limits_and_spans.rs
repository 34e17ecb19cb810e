//! Response body limits and tracing spans, against real servers on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use marketsync_core::ErrorKind;
use marketsync_http::http::Method;
use marketsync_http::{HttpClient, HttpConfig, HttpRequest, is_response_too_large};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::Instrument;

/// The tests of this binary run one at a time (see `spans_do_not_leak_across_awaits`).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A server that answers every connection with `head` and then `chunks` chunks of 64 KiB
/// (chunked encoding), after `delay`. Counts the body bytes it managed to write.
async fn raw_server(
    head: &'static str,
    chunks: usize,
    delay: Duration,
    status_line: &'static str,
) -> (String, Arc<Mutex<u64>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let written = Arc::new(Mutex::new(0u64));
    let w = written.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let w = w.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = sock.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let mut out = format!("{status_line}\r\n{head}\r\n").into_bytes();
                if chunks == 0 {
                    out.extend_from_slice(b"ok");
                    let _ = sock.write_all(&out).await;
                    return;
                }
                if sock.write_all(&out).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                for _ in 0..chunks {
                    let mut frame = Vec::new();
                    write!(frame, "{:x}\r\n", chunk.len()).unwrap();
                    frame.extend_from_slice(&chunk);
                    frame.extend_from_slice(b"\r\n");
                    if sock.write_all(&frame).await.is_err() {
                        return;
                    }
                    *w.lock().unwrap() += chunk.len() as u64;
                }
                let _ = sock.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    (format!("http://{addr}"), written)
}

fn client(limit: u64) -> HttpClient {
    HttpClient::new(HttpConfig {
        timeout: Duration::from_secs(10),
        max_response_bytes: limit,
        ..HttpConfig::default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_while_streaming() {
    let _serial = SERIAL.lock().await;
    // 64 MiB announced by Content-Length: refused before a byte of the body is read.
    let (announced, _) = raw_server(
        "content-length: 67108864\r\nconnection: close\r\n",
        0,
        Duration::ZERO,
        "HTTP/1.1 200 OK",
    )
    .await;
    let err = client(1024 * 1024)
        .send(
            HttpRequest::new(Method::GET, format!("{announced}/big").parse().unwrap()),
            None,
        )
        .await
        .unwrap_err();
    assert!(is_response_too_large(&err), "{err:?}");
    assert_eq!(err.kind(), &ErrorKind::Unexpected);
    assert!(!err.is_temporary());

    // 64 MiB chunked, no length: the read stops just past the 1 MiB limit.
    let (chunked, written) = raw_server(
        "transfer-encoding: chunked\r\nconnection: close\r\n",
        1024,
        Duration::ZERO,
        "HTTP/1.1 200 OK",
    )
    .await;
    let err = client(1024 * 1024)
        .send(
            HttpRequest::new(Method::GET, format!("{chunked}/stream").parse().unwrap()),
            None,
        )
        .await
        .unwrap_err();
    assert!(is_response_too_large(&err), "{err:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = *written.lock().unwrap();
    assert!(
        sent < 16 * 1024 * 1024,
        "the client kept reading after the limit: the server wrote {sent} bytes"
    );

    // Within the limit: read whole.
    let (small, _) = raw_server(
        "transfer-encoding: chunked\r\nconnection: close\r\n",
        4,
        Duration::ZERO,
        "HTTP/1.1 200 OK",
    )
    .await;
    let resp = client(1024 * 1024)
        .send(
            HttpRequest::new(Method::GET, format!("{small}/ok").parse().unwrap()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(resp.body.len(), 4 * 64 * 1024);
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Two calls on two clients, interleaved on one thread (the slow one starts first): each
/// response is logged under its own caller's span and its own `http` span only.
#[tokio::test(flavor = "current_thread")]
async fn spans_do_not_leak_across_awaits() {
    // tracing keeps callsite interest and the max level process-wide: a test hitting the
    // `http` span on another thread with no subscriber while this one installs its own can make
    // the span disabled here. The tests of this binary take turns, so this one checks span
    // propagation only.
    let _serial = SERIAL.lock().await;
    let (slow, _) = raw_server(
        "content-length: 2\r\nconnection: close\r\n",
        0,
        Duration::from_millis(150),
        "HTTP/1.1 201 Created",
    )
    .await;
    let (fast, _) = raw_server(
        "content-length: 2\r\nconnection: close\r\n",
        0,
        Duration::from_millis(10),
        "HTTP/1.1 202 Accepted",
    )
    .await;
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let (tmall, netsuite) = (client(1024), client(1024));
    let a = async {
        tmall
            .send(
                HttpRequest::new(Method::GET, format!("{slow}/a").parse().unwrap())
                    .with_operation("taobao.trades.sold.increment.get"),
                None,
            )
            .await
    }
    .instrument(tracing::info_span!("connector", name = "tmall"));
    let b = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        netsuite
            .send(
                HttpRequest::new(Method::GET, format!("{fast}/b").parse().unwrap())
                    .with_operation("netsuite.salesorder.create"),
                None,
            )
            .await
    }
    .instrument(tracing::info_span!("connector", name = "netsuite"));
    let (ra, rb) = tokio::join!(a, b);
    assert_eq!(ra.unwrap().status.as_u16(), 201);
    assert_eq!(rb.unwrap().status.as_u16(), 202);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = |status: &str| {
        text.lines()
            .find(|l| l.contains("response") && l.contains(status))
            .unwrap_or_else(|| panic!("no response line for {status} in:\n{text}"))
            .to_owned()
    };
    let tmall_line = line("status=201");
    let ns_line = line("status=202");
    assert!(
        tmall_line.contains("name=\"tmall\"")
            && tmall_line.contains("taobao.trades.sold.increment.get")
            && !tmall_line.contains("netsuite"),
        "{tmall_line}"
    );
    assert!(
        ns_line.contains("name=\"netsuite\"")
            && ns_line.contains("netsuite.salesorder.create")
            && !ns_line.contains("tmall")
            && !ns_line.contains("taobao"),
        "{ns_line}"
    );
}
