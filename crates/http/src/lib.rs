#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use marketsync_core::{Error, ErrorKind, Result};
use tracing::Instrument;
use url::Url;

pub use http;
pub use url;

/// A request as it will go on the wire. Signers mutate it in place (add query parameters, an
/// `Authorization` header, or rewrite a form body) before it is sent.
#[derive(Clone)]
pub struct HttpRequest {
    /// HTTP method.
    pub method: Method,
    /// Full URL including query.
    pub url: Url,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes (empty for none).
    pub body: Vec<u8>,
    /// A short operation name for logs and errors (`"taobao.trades.sold.increment.get"`).
    pub operation: String,
}

impl fmt::Debug for HttpRequest {
    /// Prints method, URL path and operation only: query strings, headers and bodies can hold
    /// signatures, tokens and personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("host", &self.url.host_str())
            .field("path", &self.url.path())
            .field("operation", &self.operation)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpRequest {
    /// A request with no headers and an empty body.
    pub fn new(method: Method, url: Url) -> HttpRequest {
        HttpRequest {
            operation: url.path().to_owned(),
            method,
            url,
            headers: HeaderMap::new(),
            body: Vec::new(),
        }
    }

    /// Sets the operation name.
    pub fn with_operation(mut self, operation: impl Into<String>) -> HttpRequest {
        self.operation = operation.into();
        self
    }

    /// Sets a header; invalid names or values are a `ConfigInvalid` error.
    pub fn header(mut self, name: &str, value: &str) -> Result<HttpRequest> {
        let n = HeaderName::from_bytes(name.as_bytes()).map_err(|e| {
            Error::new(ErrorKind::ConfigInvalid, "invalid header name").with_source(e)
        })?;
        let v = HeaderValue::from_str(value).map_err(|e| {
            Error::new(ErrorKind::ConfigInvalid, "invalid header value").with_source(e)
        })?;
        self.headers.insert(n, v);
        Ok(self)
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json_body(mut self, body: Vec<u8>) -> HttpRequest {
        self.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.body = body;
        self
    }

    /// Sets a form body (`application/x-www-form-urlencoded`) from pairs.
    pub fn form_body(mut self, pairs: &[(String, String)]) -> HttpRequest {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded;charset=utf-8"),
        );
        self.body = body.into_bytes();
        self
    }

    /// The decoded query pairs, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// Replaces the query with `pairs` (percent-encoded as `application/x-www-form-urlencoded`).
    pub fn set_query_pairs(&mut self, pairs: &[(String, String)]) {
        if pairs.is_empty() {
            self.url.set_query(None);
        } else {
            self.url.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
}

/// Signs a request just before it is sent. Implement it once per platform (TOP sign, OAuth 1.0a
/// for NetSuite, an access-token header for Shopify).
pub trait RequestSigner: Send + Sync {
    /// Mutates the request so the platform accepts it.
    fn sign(&self, request: &mut HttpRequest) -> Result<()>;
}

/// A received response.
#[derive(Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// The platform's request id, from the first configured header present.
    pub request_id: Option<String>,
    /// Time from send to the full body.
    pub elapsed: Duration,
}

impl fmt::Debug for HttpResponse {
    /// Omits the body (it may hold personal data).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("request_id", &self.request_id)
            .field("body_len", &self.body.len())
            .field("elapsed", &self.elapsed)
            .finish()
    }
}

impl HttpResponse {
    /// `Retry-After`, if present (seconds or HTTP-date relative to `now`).
    pub fn retry_after(&self, now: DateTime<Utc>) -> Option<Duration> {
        parse_retry_after(&self.headers, now)
    }

    /// A header as a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// `User-Agent`.
    pub user_agent: String,
    /// Headers that carry the platform's request id, tried in order.
    pub request_id_headers: Vec<String>,
    /// The largest response body accepted, in bytes (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]). Checked against `Content-Length` before reading and
    /// again while the body streams in, so an oversized answer is never buffered whole; it is
    /// a [`ResponseTooLarge`] error.
    pub max_response_bytes: u64,
}

/// The default response body limit: 16 MiB. The largest answers marketsync reads are list
/// pages (TOP: 100 trades with every field; Shopify GraphQL: one cost-bounded page) and
/// NetSuite SuiteQL pages of 1,000 rows, all far below it.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// The typed cause of a response refused for its size (the `source` of the [`Error`], kind
/// `Unexpected`, permanent: asking again brings the same answer). Test for it with
/// [`is_response_too_large`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseTooLarge {
    /// The configured limit.
    pub limit: u64,
    /// The size that crossed it: the announced `Content-Length`, or the bytes read when the
    /// stream crossed the limit.
    pub seen: u64,
}

impl fmt::Display for ResponseTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "response body of at least {} bytes exceeds the {}-byte limit",
            self.seen, self.limit
        )
    }
}

impl std::error::Error for ResponseTooLarge {}

/// True when `e` (or a cause of it) is a [`ResponseTooLarge`].
pub fn is_response_too_large(e: &Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        if c.is::<ResponseTooLarge>() {
            return true;
        }
        cause = c.source();
    }
    false
}

fn too_large(limit: u64, seen: u64, operation: &str) -> Error {
    Error::new(
        ErrorKind::Unexpected,
        format!("the response to {operation} exceeds the {limit}-byte body limit"),
    )
    .with_context("operation", operation)
    .with_context("max_response_bytes", limit)
    .with_source(ResponseTooLarge { limit, seen })
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("marketsync/", env!("CARGO_PKG_VERSION")).into(),
            request_id_headers: vec![
                "x-request-id".into(),
                "x-amzn-requestid".into(),
                "x-shopify-request-id".into(),
                "x-netsuite-jsonapi-requestid".into(),
                "x-n-operationid".into(),
            ],
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// The shared client. Cheap to clone (connection pool is shared).
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
    config: HttpConfig,
}

impl HttpClient {
    /// Builds a client with rustls.
    pub fn new(config: HttpConfig) -> Result<HttpClient> {
        let inner = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::ConfigInvalid, "cannot build HTTP client").with_source(e)
            })?;
        Ok(HttpClient { inner, config })
    }

    /// The settings.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Signs (if a signer is given) and sends the request. Transport failures are classified
    /// (`Timeout` when the request may have reached the server, `Unavailable` when it could not
    /// connect); any HTTP status is returned as a response for the caller's own error table. A
    /// body larger than [`HttpConfig::max_response_bytes`] is a [`ResponseTooLarge`] error.
    ///
    /// The call runs inside an `http` span (operation, host) attached with
    /// [`tracing::Instrument`], so it nests under the caller's span and never leaks into
    /// another call interleaved on the same thread.
    pub async fn send(
        &self,
        mut request: HttpRequest,
        signer: Option<&dyn RequestSigner>,
    ) -> Result<HttpResponse> {
        if let Some(s) = signer {
            s.sign(&mut request)?;
        }
        let span = tracing::debug_span!(
            "http",
            operation = %request.operation,
            host = ?request.url.host_str()
        );
        self.send_signed(request).instrument(span).await
    }

    async fn send_signed(&self, request: HttpRequest) -> Result<HttpResponse> {
        let operation = request.operation;
        let started = Instant::now();
        let builder = self
            .inner
            .request(request.method, request.url)
            .headers(request.headers)
            .body(request.body);
        let mut response = match builder.send().await {
            Ok(r) => r,
            Err(e) => return Err(classify_transport(&e, &operation).with_source(e)),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let limit = self.config.max_response_bytes;
        if let Some(announced) = response.content_length() {
            if announced > limit {
                return Err(too_large(limit, announced, &operation));
            }
        }
        let mut body: Vec<u8> = Vec::new();
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|e| classify_transport(&e, &operation).with_source(e))?;
            let Some(chunk) = chunk else { break };
            let seen = u64::try_from(body.len())
                .unwrap_or(u64::MAX)
                .saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
            if seen > limit {
                return Err(too_large(limit, seen, &operation));
            }
            body.extend_from_slice(&chunk);
        }
        let request_id = self
            .config
            .request_id_headers
            .iter()
            .find_map(|h| headers.get(h.as_str()).and_then(|v| v.to_str().ok()))
            .map(str::to_owned);
        let elapsed = started.elapsed();
        tracing::debug!(
            status = status.as_u16(),
            request_id = ?request_id,
            elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            "response"
        );
        Ok(HttpResponse {
            status,
            headers,
            body: Bytes::from(body),
            request_id,
            elapsed,
        })
    }
}

fn classify_transport(e: &reqwest::Error, operation: &str) -> Error {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_connect() {
        ErrorKind::Unavailable
    } else if e.is_body() || e.is_decode() || e.is_request() {
        // The connection broke mid-exchange: the server may have acted on it.
        ErrorKind::Timeout
    } else if e.is_builder() {
        ErrorKind::ConfigInvalid
    } else {
        ErrorKind::Unavailable
    };
    Error::new(kind, format!("transport error during {operation}"))
        .with_context("operation", operation)
}

/// Parses `Retry-After`: delta-seconds (`"2"`, also fractional `"1.5"` as some APIs send) or an
/// HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`) relative to `now`. A date in the past is zero.
pub fn parse_retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let raw = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Some(d) = parse_decimal_seconds(raw) {
        return Some(d);
    }
    let at = DateTime::parse_from_rfc2822(raw).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Parses a non-negative decimal number of seconds (`"1.5"`) into a duration, exactly.
pub fn parse_decimal_seconds(raw: &str) -> Option<Duration> {
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos: u32 = 0;
    let mut scale = 100_000_000u32;
    for b in frac.bytes().take(9) {
        nanos += u32::from(b - b'0') * scale;
        scale /= 10;
    }
    Some(Duration::new(secs, nanos))
}

/// Maps an HTTP status to an error, or `None` for 2xx/3xx. Platform-specific codes inside
/// 200 bodies (TOP, JOS) are the connector's own table; this covers the transport level.
pub fn classify_status(
    status: StatusCode,
    retry_after: Option<Duration>,
    message: impl Into<String>,
) -> Option<Error> {
    if status.is_success() || status.is_redirection() || status.is_informational() {
        return None;
    }
    let kind = match status.as_u16() {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::PermissionDenied,
        404 | 410 => ErrorKind::NotFound,
        409 | 412 => ErrorKind::Conflict,
        429 => ErrorKind::RateLimited { retry_after },
        408 | 504 => ErrorKind::Timeout,
        502 | 503 => ErrorKind::Unavailable,
        500..=599 => ErrorKind::Unavailable,
        400 | 422 => ErrorKind::Validation,
        _ => ErrorKind::Unexpected,
    };
    let mut err = Error::new(kind, message).with_context("http_status", status.as_u16());
    if status.as_u16() == 503 && retry_after.is_some() {
        err = Error::new(
            ErrorKind::RateLimited { retry_after },
            err.message().to_owned(),
        )
        .with_context("http_status", 503);
    }
    Some(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:58Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("120"));
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(120)));
        h.insert("retry-after", HeaderValue::from_static("1.25"));
        assert_eq!(
            parse_retry_after(&h, now),
            Some(Duration::from_millis(1250))
        );
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(2)));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h, now), None);
    }

    #[test]
    fn status_table() {
        assert!(classify_status(StatusCode::OK, None, "").is_none());
        let e = classify_status(StatusCode::UNAUTHORIZED, None, "x").unwrap();
        assert_eq!(e.kind(), &ErrorKind::Unauthorized);
        assert!(!e.is_temporary());
        let e = classify_status(StatusCode::BAD_GATEWAY, None, "x").unwrap();
        assert!(e.is_temporary());
        let e = classify_status(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(Duration::from_secs(3)),
            "x",
        )
        .unwrap();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn debug_hides_query_and_body() {
        let req = HttpRequest::new(
            Method::POST,
            "https://gw.example/router?session=SECRET&sign=ABC"
                .parse()
                .unwrap(),
        )
        .json_body(b"{\"receiver_name\":\"x\"}".to_vec());
        let dbg = format!("{req:?}");
        assert!(
            !dbg.contains("SECRET") && !dbg.contains("receiver_name"),
            "{dbg}"
        );
    }
}
