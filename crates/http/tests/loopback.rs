//! The client against a real HTTP server on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap as AxHeaders, StatusCode as AxStatus};
use axum::routing::{get, post};
use marketsync_core::ErrorKind;
use marketsync_http::http::Method;
use marketsync_http::{HttpClient, HttpConfig, HttpRequest, RequestSigner, classify_status};

struct HeaderSigner;

impl RequestSigner for HeaderSigner {
    fn sign(&self, request: &mut HttpRequest) -> marketsync_core::Result<()> {
        let sig = format!("{}:{}", request.method, request.body.len());
        request.headers.insert(
            "x-test-sign",
            sig.parse()
                .map_err(|_| marketsync_core::Error::new(ErrorKind::ConfigInvalid, "bad header"))?,
        );
        Ok(())
    }
}

async fn serve() -> String {
    let app = Router::new()
        .route(
            "/signed",
            post(|headers: AxHeaders, body: String| async move {
                let got = headers
                    .get("x-test-sign")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                if got == format!("POST:{}", body.len()) {
                    (AxStatus::OK, [("x-request-id", "req-123")], "ok")
                } else {
                    (
                        AxStatus::UNAUTHORIZED,
                        [("x-request-id", "req-bad")],
                        "bad sign",
                    )
                }
            }),
        )
        .route(
            "/throttled",
            get(|| async { (AxStatus::TOO_MANY_REQUESTS, [("retry-after", "3")], "slow") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signs_sends_and_classifies() {
    let base = serve().await;
    let client = HttpClient::new(HttpConfig {
        timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    })
    .unwrap();

    let req = HttpRequest::new(Method::POST, format!("{base}/signed").parse().unwrap())
        .json_body(b"{\"a\":1}".to_vec());
    let resp = client.send(req.clone(), Some(&HeaderSigner)).await.unwrap();
    assert_eq!(resp.status.as_u16(), 200);
    assert_eq!(resp.request_id.as_deref(), Some("req-123"));
    assert_eq!(&resp.body[..], b"ok");

    // Unsigned: the server refuses, the status table says Unauthorized.
    let resp = client.send(req, None).await.unwrap();
    let err = classify_status(resp.status, None, "refused").unwrap();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);

    let req = HttpRequest::new(Method::GET, format!("{base}/throttled").parse().unwrap());
    let resp = client.send(req, None).await.unwrap();
    let wait = resp.retry_after(chrono::Utc::now());
    assert_eq!(wait, Some(Duration::from_secs(3)));
    let err = classify_status(resp.status, wait, "throttled").unwrap();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));

    let req = HttpRequest::new(Method::GET, format!("{base}/slow").parse().unwrap());
    let err = client.send(req, None).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Timeout);
    assert!(err.is_temporary());

    // Nothing listens on port 9 of loopback: connection refused is Unavailable.
    let req = HttpRequest::new(Method::GET, "http://127.0.0.1:9/x".parse().unwrap());
    let err = client.send(req, None).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable);
}
