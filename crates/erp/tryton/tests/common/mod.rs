//! Shared helpers for the live Tryton tests: the environment, and a loopback TCP proxy that
//! injects faults between the adapter and the real server.
#![allow(dead_code, unreachable_pub, missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use marketsync_tryton::{TrytonAdapter, TrytonConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub mod up;

/// The adapter configuration from `MARKETSYNC_TRYTON_*`, with `DEFAULT_ENTITY` filled in when
/// the environment has none; `None` when `MARKETSYNC_SKIP_TRYTON=1`.
///
/// Without `MARKETSYNC_TRYTON_URL` the server is brought up through `scripts/tryton-up.sh`
/// (once per process and per `cargo test` run, see [`up`]) and its exported variables are used.
/// When that fails, the test fails saying why: a live test never passes silently without its
/// server. The first call also takes the cross-process lock of [`up::exclusive_server_use`].
pub fn live_config(default_entity: &str) -> Option<TrytonConfig> {
    if std::env::var("MARKETSYNC_SKIP_TRYTON").as_deref() == Ok("1") {
        eprintln!("MARKETSYNC_SKIP_TRYTON=1: skipping a live Tryton test");
        return None;
    }
    up::exclusive_server_use();
    let mut map: std::collections::BTreeMap<String, String> = std::env::vars()
        .filter_map(|(k, v)| {
            k.strip_prefix("MARKETSYNC_TRYTON_")
                .map(|k| (k.to_owned(), v))
        })
        .collect();
    if map.get("URL").is_none_or(|url| url.trim().is_empty()) {
        match up::started_server() {
            Ok(exported) => map.extend(exported.clone()),
            Err(why) => panic!(
                "the live Tryton tests need a server and MARKETSYNC_TRYTON_URL is not set, so \
                 they ran {}: {why}. Fix that (it needs python3 with venv, PostgreSQL at \
                 127.0.0.1:5432 with trust auth for `postgres`, and PyPI), or export \
                 MARKETSYNC_TRYTON_URL, _DB, _LOGIN and _PASSWORD_FILE for a running server, or \
                 set MARKETSYNC_SKIP_TRYTON=1 to skip them",
                up::script().display()
            ),
        }
    }
    map.entry("DEFAULT_ENTITY".into())
        .or_insert_with(|| default_entity.to_owned());
    match TrytonConfig::from_map(&map) {
        Ok(c) => Some(c),
        Err(e) => panic!("MARKETSYNC_TRYTON_* is incomplete: {e}"),
    }
}

/// The Universal Chart of Accounts codes the tests map our GL codes to.
pub fn with_test_accounts(config: TrytonConfig) -> TrytonConfig {
    [
        // Receivables (party required: the channel's party is booked on the line).
        ("1122.01", "1.2.3"),
        ("1210", "1.2.3"),
        ("1105", "1.2.3"),
        // Revenue, shipping income, returns.
        ("6001", "4.1.1"),
        ("4000", "4.1.1"),
        ("6051", "4.1.2"),
        ("4900", "4.3.3"),
        // Taxes.
        ("2221.01", "2.2.3"),
        ("2202", "2.2.3"),
        ("2290", "2.2.4"),
        // Fees and commissions.
        ("6601.01", "5.2.2"),
        ("6100", "5.2.2"),
        ("6601.02", "5.1.3"),
        ("6110", "5.1.3"),
        ("6120", "5.1.3"),
        ("7710", "5.1.3"),
        // Cash clearing and bank.
        ("1012.01", "1.1.3"),
        ("1150", "1.1.3"),
        ("1108", "1.1.3"),
        ("1002", "1.1.1"),
        ("1000", "1.1.1"),
        ("1200", "1.1.1"),
        // Rounding and FX.
        ("6603.01", "6.1.2"),
        ("7999", "6.1.2"),
        ("7800", "6.2.1"),
    ]
    .into_iter()
    .fold(config, |c, (ours, theirs)| c.with_account(ours, theirs))
    // Credit notes carry refunded taxes on the sales-tax / VAT account.
    .with_tax_account("2202")
}

pub fn adapter(config: TrytonConfig) -> Arc<TrytonAdapter> {
    Arc::new(TrytonAdapter::new(config).expect("adapter"))
}

/// What the proxy does to upcoming requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyFault {
    /// Answer the next request with HTTP 503 without forwarding it.
    ServerError,
    /// Answer the next write with HTTP 503 without forwarding it (reads pass).
    ServerErrorOnWrite,
    /// Forward the next write (`model.*.create` or `model.*.marketsync_upsert`), let the server
    /// commit it, then close the connection without answering.
    DropResponseAfterCommit,
    /// Hold the next write this long before forwarding it (the client times out meanwhile;
    /// the write still reaches the server afterwards).
    HoldWrite(Duration),
}

/// A loopback TCP proxy in front of the Tryton server. Each request is forwarded on its own
/// upstream connection (`Connection: close`), so the proxy sees request and response whole.
pub struct FaultProxy {
    pub port: u16,
    fault: Arc<Mutex<Option<ProxyFault>>>,
    held: Arc<AtomicUsize>,
}

impl FaultProxy {
    pub async fn start(upstream: String) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let fault: Arc<Mutex<Option<ProxyFault>>> = Arc::new(Mutex::new(None));
        let held = Arc::new(AtomicUsize::new(0));
        let (f, h) = (fault.clone(), held.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (f, h) = (f.clone(), h.clone());
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _ = serve(client, upstream, f, h).await;
                });
            }
        });
        FaultProxy { port, fault, held }
    }

    /// Waits until no held write is still on its way to the server or back.
    pub async fn wait_for_held(&self) {
        while self.held.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn inject(&self, fault: ProxyFault) {
        *self.fault.lock().unwrap() = Some(fault);
    }

    pub fn url(&self) -> url::Url {
        format!("http://127.0.0.1:{}/", self.port).parse().unwrap()
    }
}

async fn read_request(client: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(buf))
}

/// Rewrites an HTTP message head to say `Connection: close`.
fn with_connection_close(request: &[u8]) -> Vec<u8> {
    let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
        return request.to_vec();
    };
    let head = String::from_utf8_lossy(&request[..end]);
    let mut out = String::new();
    for line in head.split("\r\n") {
        if line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&request[end + 4..]);
    bytes
}

async fn serve(
    mut client: TcpStream,
    upstream: String,
    fault: Arc<Mutex<Option<ProxyFault>>>,
    held: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    // One request per client connection: the upstream closes after its answer, and so do we.
    if let Some(request) = read_request(&mut client).await? {
        let is_write = {
            let text = String::from_utf8_lossy(&request);
            text.contains("\"method\":\"model.")
                && (text.contains(".create\"") || text.contains(".marketsync_upsert\""))
        };
        let action = {
            let mut f = fault.lock().unwrap();
            match *f {
                Some(ProxyFault::ServerError) => f.take(),
                Some(
                    ProxyFault::DropResponseAfterCommit
                    | ProxyFault::HoldWrite(_)
                    | ProxyFault::ServerErrorOnWrite,
                ) if is_write => f.take(),
                _ => None,
            }
        };
        if let Some(ProxyFault::HoldWrite(hold)) = action {
            // This task is ours, not the client's: the write reaches the server after the
            // hold even though the client has given up on it by then.
            held.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(hold).await;
            let result = forward(&request, &upstream).await;
            held.fetch_sub(1, Ordering::SeqCst);
            if let Ok(response) = result {
                let _ = client.write_all(&with_connection_close(&response)).await;
            }
            return Ok(());
        }
        if matches!(
            action,
            Some(ProxyFault::ServerError | ProxyFault::ServerErrorOnWrite)
        ) {
            client
                .write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await?;
            return Ok(());
        }
        let response = forward(&request, &upstream).await?;
        if action == Some(ProxyFault::DropResponseAfterCommit) {
            // The server has answered, so it committed: lose the answer.
            return Ok(());
        }
        // Tell the client this connection ends here, so it never reuses it.
        client.write_all(&with_connection_close(&response)).await?;
    }
    Ok(())
}

/// Sends one request upstream on its own connection and reads the whole answer.
async fn forward(request: &[u8], upstream: &str) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(&with_connection_close(request)).await?;
    let mut response = Vec::new();
    up.read_to_end(&mut response).await?;
    Ok(response)
}
