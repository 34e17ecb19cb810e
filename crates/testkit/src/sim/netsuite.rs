//! A NetSuite REST simulator: the record API (`/services/rest/record/v1`) and SuiteQL
//! (`/services/rest/query/v1/suiteql`) over loopback HTTP.
//!
//! What it enforces, as NetSuite does:
//! * **Token-Based Authentication** verified with its own OAuth 1.0a implementation: the base
//!   string from the method, the normalized URL (scheme and host lower case, non-default port,
//!   path), and the sorted, RFC 3986-encoded parameters (every `oauth_*` parameter except the
//!   signature, plus the decoded query parameters; `realm` excluded); HMAC-SHA256 under
//!   `enc(consumer secret)&enc(token secret)`. The realm must be the account id in upper case
//!   with `_`; timestamps must be within five minutes; a nonce cannot be used twice. A failure
//!   answers HTTP 401 with NetSuite's body (`o:errorCode: INVALID_LOGIN`, "Invalid login
//!   attempt…"), and the reason goes to a login audit trail ([`NetSuiteSim::login_audit_trail`]).
//! * **External-id uniqueness**: `PUT /record/v1/<type>/eid:<x>` creates or updates the one
//!   record with that external id; a transform with a taken external id is refused.
//! * **The account concurrency limit**: more requests in flight than the limit answer 429 with
//!   `SSS_REQUEST_LIMIT_EXCEEDED`.
//! * Records answer `204 No Content` with a `Location` header; unknown ids `404 NONEXISTENT_ID`;
//!   invalid references `400 INVALID_KEY_OR_REF` with `o:errorPath`; an unbalanced journal
//!   `400 USER_ERROR`.
//! * `!transform/itemFulfillment` ships every order line not listed (as NetSuite does); order
//!   lines are numbered 1, 4, 7… (not sequential). Sublists are links unless
//!   `expandSubResources=true`.
//! * SuiteQL needs `Prefer: transient`, pages with `limit`/`offset`, and answers every value as
//!   a string. It understands the subset of SuiteQL the adapter uses: `SELECT` of columns (with
//!   `AS` aliases) from `transaction`, `item`, `subsidiary` or `inventoryitemlocations` joined to
//!   `item`, with `WHERE` conditions `col = 'x'` and `col IN ('x', …)` joined by `AND`.
//!
//! Faults ([`SimFault`]): throttle or fail the next request, or commit the next write and then
//! drop the response.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::Sha256;

/// Simulator settings.
#[derive(Clone, Debug)]
pub struct NetSuiteSimConfig {
    /// Account id in realm form (`1234567_SB1`).
    pub realm: String,
    /// The integration's consumer key.
    pub consumer_key: String,
    /// The integration's consumer secret.
    pub consumer_secret: String,
    /// The access token id.
    pub token_id: String,
    /// The access token secret.
    pub token_secret: String,
    /// Requests the account runs at once; more answer 429.
    pub concurrency_limit: usize,
    /// Time each request holds its concurrency slot (to make overlap observable).
    pub latency: Duration,
    /// Allowed clock skew of `oauth_timestamp`, seconds.
    pub max_skew_secs: i64,
}

impl Default for NetSuiteSimConfig {
    fn default() -> Self {
        NetSuiteSimConfig {
            realm: "TSTDRV1234567".into(),
            consumer_key: "sim-consumer-key-0123456789abcdef".into(),
            consumer_secret: "sim-consumer-secret-fedcba9876543210".into(),
            token_id: "sim-token-id-0123456789abcdef".into(),
            token_secret: "sim-token-secret-fedcba9876543210".into(),
            concurrency_limit: 5,
            latency: Duration::ZERO,
            max_skew_secs: 300,
        }
    }
}

/// The seeded reference data (internal ids) the simulator knows.
pub mod seed {
    /// Customers.
    pub const CUSTOMERS: &[&str] = &["101", "102"];
    /// Subsidiaries.
    pub const SUBSIDIARIES: &[&str] = &["1", "3"];
    /// Currencies: (internal id, ISO code).
    pub const CURRENCIES: &[(&str, &str)] = &[("1", "USD"), ("2", "EUR"), ("5", "CNY")];
    /// GL accounts.
    pub const ACCOUNTS: &[&str] = &["110", "210", "220", "400", "500", "610", "620"];
    /// Departments.
    pub const DEPARTMENTS: &[&str] = &["12", "13"];
    /// Classes.
    pub const CLASSES: &[&str] = &["8", "9"];
    /// Locations.
    pub const LOCATIONS: &[&str] = &["1", "2"];
    /// Number of seeded items: `SKU-0001` … `SKU-0012`, internal ids 1001 … 1012.
    pub const ITEM_COUNT: u64 = 12;
    /// Items for shipping and discounts (non-inventory).
    pub const SERVICE_ITEMS: &[(&str, &str)] = &[("2001", "SHIPPING"), ("2002", "DISCOUNT")];

    /// The SKU of seeded item `n` (1-based).
    pub fn sku(n: u64) -> String {
        format!("SKU-{n:04}")
    }

    /// Stock of seeded item `n` at a location: (on hand, committed). Location 2 stocks even
    /// items only.
    pub fn stock(n: u64, location: &str) -> Option<(i64, i64)> {
        let n = i64::try_from(n).unwrap_or(0);
        match location {
            "1" => Some((10 * n, n % 3)),
            "2" if n % 2 == 0 => Some((5 * n, 1)),
            _ => None,
        }
    }
}

/// A record type the simulator stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    /// `salesOrder`.
    SalesOrder,
    /// `journalEntry`.
    JournalEntry,
    /// `itemFulfillment`.
    ItemFulfillment,
    /// `creditMemo`.
    CreditMemo,
    /// `customerRefund`.
    CustomerRefund,
}

impl RecordType {
    const ALL: [RecordType; 5] = [
        RecordType::SalesOrder,
        RecordType::JournalEntry,
        RecordType::ItemFulfillment,
        RecordType::CreditMemo,
        RecordType::CustomerRefund,
    ];

    /// The REST record type name.
    pub fn name(self) -> &'static str {
        match self {
            RecordType::SalesOrder => "salesOrder",
            RecordType::JournalEntry => "journalEntry",
            RecordType::ItemFulfillment => "itemFulfillment",
            RecordType::CreditMemo => "creditMemo",
            RecordType::CustomerRefund => "customerRefund",
        }
    }

    /// The SuiteQL `transaction.type` id.
    pub fn type_id(self) -> &'static str {
        match self {
            RecordType::SalesOrder => "SalesOrd",
            RecordType::JournalEntry => "Journal",
            RecordType::ItemFulfillment => "ItemShip",
            RecordType::CreditMemo => "CustCred",
            RecordType::CustomerRefund => "CustRfnd",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            RecordType::SalesOrder => "SO",
            RecordType::JournalEntry => "JE",
            RecordType::ItemFulfillment => "IF",
            RecordType::CreditMemo => "CM",
            RecordType::CustomerRefund => "CR",
        }
    }

    /// Record type names are case-insensitive in REST URLs.
    fn parse(s: &str) -> Option<RecordType> {
        RecordType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
    }
}

/// A fault applied to upcoming requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimFault {
    /// Answer the next request with 429 `SSS_REQUEST_LIMIT_EXCEEDED`.
    Throttle,
    /// Answer the next request with 500 `UNEXPECTED_ERROR`, doing nothing.
    ServerError,
    /// Commit the next write, then break the connection instead of answering.
    CommitThenDropResponse,
    /// Hold the next write this long before carrying it out (the client may time out and retry
    /// meanwhile; the held write still lands afterwards).
    HoldWrite(Duration),
}

#[derive(Clone, Debug)]
struct SoLine {
    line: u32,
    item: String,
    quantity: i64,
    fulfilled: i64,
}

#[derive(Clone, Debug)]
struct Record {
    id: u64,
    kind: RecordType,
    external_id: Option<String>,
    tran_id: String,
    other_ref_num: Option<String>,
    raw: Vec<u8>,
    body: Value,
    lines: Vec<SoLine>,
}

#[derive(Default)]
struct Store {
    records: Vec<Record>,
}

struct Shared {
    config: NetSuiteSimConfig,
    base_url: String,
    store: Mutex<Store>,
    next_id: AtomicU64,
    faults: Mutex<VecDeque<SimFault>>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    throttled: AtomicUsize,
    limit: AtomicUsize,
    latency_ms: AtomicU64,
    nonces: Mutex<HashSet<(String, String)>>,
    audit: Mutex<Vec<String>>,
    held: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running simulator. Dropping it stops the server.
pub struct NetSuiteSim {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for NetSuiteSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetSuiteSim")
            .field("base_url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for NetSuiteSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a simulator on `127.0.0.1:0`.
pub async fn start(config: NetSuiteSimConfig) -> std::io::Result<NetSuiteSim> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        base_url: format!("http://{addr}"),
        limit: AtomicUsize::new(config.concurrency_limit),
        latency_ms: AtomicU64::new(u64::try_from(config.latency.as_millis()).unwrap_or(u64::MAX)),
        config,
        store: Mutex::new(Store::default()),
        next_id: AtomicU64::new(500),
        faults: Mutex::new(VecDeque::new()),
        in_flight: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
        throttled: AtomicUsize::new(0),
        nonces: Mutex::new(HashSet::new()),
        audit: Mutex::new(Vec::new()),
        held: AtomicUsize::new(0),
    });
    let app = Router::new().fallback(dispatch).with_state(shared.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "netsuite simulator stopped");
        }
    });
    Ok(NetSuiteSim { shared, task })
}

impl NetSuiteSim {
    /// `http://127.0.0.1:<port>` (the REST API is under `/services/rest/`).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The configuration (credentials included, for building adapters).
    pub fn config(&self) -> &NetSuiteSimConfig {
        &self.shared.config
    }

    /// Queues a fault.
    pub fn inject(&self, fault: SimFault) {
        lock(&self.shared.faults).push_back(fault);
    }

    /// Records of a type.
    pub fn count(&self, kind: RecordType) -> usize {
        lock(&self.shared.store)
            .records
            .iter()
            .filter(|r| r.kind == kind)
            .count()
    }

    /// The exact request body last stored for a record, by external id.
    pub fn raw_body(&self, kind: RecordType, external_id: &str) -> Option<Vec<u8>> {
        lock(&self.shared.store)
            .records
            .iter()
            .find(|r| r.kind == kind && r.external_id.as_deref() == Some(external_id))
            .map(|r| r.raw.clone())
    }

    /// Units fulfilled per sales order line (`line` → units) of a sales order.
    pub fn fulfilled(&self, sales_order_id: &str) -> BTreeMap<u32, i64> {
        lock(&self.shared.store)
            .records
            .iter()
            .find(|r| r.kind == RecordType::SalesOrder && r.id.to_string() == sales_order_id)
            .map(|r| r.lines.iter().map(|l| (l.line, l.fulfilled)).collect())
            .unwrap_or_default()
    }

    /// Changes the account concurrency limit.
    pub fn set_concurrency_limit(&self, n: usize) {
        self.shared.limit.store(n, Ordering::SeqCst);
    }

    /// Changes the per-request latency.
    pub fn set_latency(&self, d: Duration) {
        self.shared.latency_ms.store(
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// The most requests seen in flight at once (admitted or not).
    pub fn peak_concurrency(&self) -> usize {
        self.shared.peak.load(Ordering::SeqCst)
    }

    /// Resets the peak.
    pub fn reset_peak(&self) {
        self.shared.peak.store(0, Ordering::SeqCst);
    }

    /// Writes held by [`SimFault::HoldWrite`] that have not been carried out yet.
    pub fn held_writes(&self) -> usize {
        self.shared.held.load(Ordering::SeqCst)
    }

    /// Requests refused by the concurrency limit or a throttle fault.
    pub fn throttled(&self) -> usize {
        self.shared.throttled.load(Ordering::SeqCst)
    }

    /// Why logins failed, most recent last (NetSuite's Login Audit Trail, in short).
    pub fn login_audit_trail(&self) -> Vec<String> {
        lock(&self.shared.audit).clone()
    }
}

// ---------------------------------------------------------------------------------------------
// OAuth 1.0a verification (independent of any connector code).

/// RFC 3986 unreserved-set percent-encoding.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Percent-decoding (`+` stays `+`), for header parameter values.
fn pct_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses `OAuth k="v", k="v"` into decoded pairs.
fn parse_oauth_header(value: &str) -> Option<Vec<(String, String)>> {
    let rest = value.trim().strip_prefix("OAuth ")?;
    let mut out = Vec::new();
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=')?;
        let v = v.trim().strip_prefix('"')?.strip_suffix('"')?;
        out.push((k.trim().to_owned(), pct_decode(v)?));
    }
    Some(out)
}

/// The base string as NetSuite builds it from what arrived.
fn base_string(
    method: &str,
    scheme: &str,
    host: &str,
    path: &str,
    raw_query: Option<&str>,
    oauth: &[(String, String)],
    form: &[(String, String)],
) -> String {
    let host = host.to_ascii_lowercase();
    let host = match (scheme, host.rsplit_once(':')) {
        ("http", Some((h, "80"))) | ("https", Some((h, "443"))) => h.to_owned(),
        _ => host,
    };
    let mut params: Vec<(String, String)> = oauth
        .iter()
        .filter(|(k, _)| k != "realm" && k != "oauth_signature")
        .map(|(k, v)| (enc(k), enc(v)))
        .collect();
    if let Some(q) = raw_query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            params.push((enc(&k), enc(&v)));
        }
    }
    for (k, v) in form {
        params.push((enc(k), enc(v)));
    }
    params.sort();
    let joined: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        enc(&format!("{scheme}://{host}{path}")),
        enc(&joined.join("&"))
    )
}

fn hmac_sha256_b64(key: &str, msg: &str) -> Option<String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).ok()?;
    mac.update(msg.as_bytes());
    Some(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// The parameters of an `application/x-www-form-urlencoded` body, which RFC 5849 §3.4.1.3.1
/// signs (any other body is not signed).
fn form_params(headers: &HeaderMap, body: &[u8]) -> Vec<(String, String)> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Vec::new();
    }
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn verify(
    shared: &Shared,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    let cfg = &shared.config;
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("no Authorization header")?;
    let params = parse_oauth_header(value).ok_or("Authorization is not an OAuth header")?;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let realm = get("realm").ok_or("no realm")?;
    if realm != cfg.realm {
        return Err(format!("wrong realm {realm:?}"));
    }
    if get("oauth_signature_method") != Some("HMAC-SHA256") {
        return Err("signature method must be HMAC-SHA256".into());
    }
    if let Some(v) = get("oauth_version") {
        if v != "1.0" {
            return Err("oauth_version must be 1.0".into());
        }
    }
    if get("oauth_consumer_key") != Some(cfg.consumer_key.as_str()) {
        return Err("unknown consumer key".into());
    }
    if get("oauth_token") != Some(cfg.token_id.as_str()) {
        return Err("unknown token".into());
    }
    let nonce = get("oauth_nonce").ok_or("no nonce")?;
    if !(6..=64).contains(&nonce.len()) || !nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("nonce must be 6 to 64 letters or digits".into());
    }
    let ts = get("oauth_timestamp").ok_or("no timestamp")?;
    let t: i64 = ts.parse().map_err(|_| "timestamp is not a number")?;
    // Checked: a hostile timestamp near i64::MIN must not overflow (and panic) here.
    let skew = t
        .checked_sub(chrono::Utc::now().timestamp())
        .and_then(i64::checked_abs);
    if skew.is_none_or(|s| s > cfg.max_skew_secs) {
        return Err("timestamp outside the allowed skew".into());
    }
    let signature = get("oauth_signature").ok_or("no signature")?;
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or("no Host header")?;
    let base = base_string(
        method.as_str(),
        "http",
        host,
        uri.path(),
        uri.query(),
        &params,
        &form_params(headers, body),
    );
    let key = format!("{}&{}", enc(&cfg.consumer_secret), enc(&cfg.token_secret));
    let expected = hmac_sha256_b64(&key, &base).ok_or("bad key")?;
    if expected != signature {
        return Err("invalid signature".into());
    }
    if !lock(&shared.nonces).insert((nonce.to_owned(), ts.to_owned())) {
        return Err("nonce already used".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Responses.

fn error(status: StatusCode, code: &str, detail: &str, path: Option<&str>) -> Response {
    let (kind, title) = match status.as_u16() {
        400 => (
            "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
            "Bad Request",
        ),
        401 => (
            "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
            "Unauthorized",
        ),
        404 => (
            "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.5",
            "Not Found",
        ),
        429 => (
            "https://www.rfc-editor.org/rfc/rfc6585.html#section-4",
            "Too Many Requests",
        ),
        _ => (
            "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.1",
            "Internal Server Error",
        ),
    };
    let mut d = json!({"detail": detail, "o:errorCode": code});
    if let Some(p) = path {
        d["o:errorPath"] = Value::String(p.to_owned());
    }
    let body =
        json!({"type": kind, "title": title, "status": status.as_u16(), "o:errorDetails": [d]});
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.oracle.resource+json; type=error"),
    );
    r
}

fn invalid_login() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "INVALID_LOGIN",
        "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.",
        None,
    )
}

fn throttled() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "SSS_REQUEST_LIMIT_EXCEEDED",
        "Concurrent request limit exceeded. Request blocked.",
        None,
    )
}

fn bad_ref(field: &str, value: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "INVALID_KEY_OR_REF",
        &format!("Invalid Field Value {value} for the following field: {field}"),
        Some(field),
    )
}

fn user_error(detail: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "USER_ERROR", detail, None)
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NONEXISTENT_ID",
        "The record instance does not exist. Provide a valid record instance ID.",
        None,
    )
}

fn json_response(v: &Value) -> Response {
    let mut r = (StatusCode::OK, v.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.oracle.resource+json; type=singular-resource"),
    );
    r
}

/// A body that fails at once: the server breaks the connection instead of answering.
struct BrokenBody;

impl http_body::Body for BrokenBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "simulated lost response",
        ))))
    }
}

fn dropped() -> Response {
    Response::new(Body::new(BrokenBody))
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch.

async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(&shared.in_flight);
    shared.peak.fetch_max(now, Ordering::SeqCst);
    if now > shared.limit.load(Ordering::SeqCst) {
        shared.throttled.fetch_add(1, Ordering::SeqCst);
        return throttled();
    }
    let latency = shared.latency_ms.load(Ordering::SeqCst);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, 104 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return user_error("The request body could not be read."),
    };
    if let Err(why) = verify(&shared, &parts.method, &parts.uri, &parts.headers, &body) {
        lock(&shared.audit).push(why);
        return invalid_login();
    }
    let path = parts.uri.path().to_owned();
    let is_write = parts.method != Method::GET && !path.ends_with("/query/v1/suiteql");
    let fault = {
        let mut q = lock(&shared.faults);
        match q.front() {
            Some(SimFault::CommitThenDropResponse | SimFault::HoldWrite(_)) if !is_write => None,
            Some(_) => q.pop_front(),
            None => None,
        }
    };
    match fault {
        Some(SimFault::Throttle) => {
            shared.throttled.fetch_add(1, Ordering::SeqCst);
            return throttled();
        }
        Some(SimFault::ServerError) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNEXPECTED_ERROR",
                "An unexpected error occurred. Error ID: sim0000000000",
                None,
            );
        }
        _ => {}
    }
    if let Some(SimFault::HoldWrite(hold)) = fault {
        // The write runs on its own task: it commits after the hold even though the client
        // has given up (and dropped this handler) by then.
        shared.held.fetch_add(1, Ordering::SeqCst);
        let task_shared = shared.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(hold).await;
            let response = route(
                &task_shared,
                &parts.method,
                &path,
                parts.uri.query(),
                &parts.headers,
                &body,
            );
            task_shared.held.fetch_sub(1, Ordering::SeqCst);
            response
        });
        return task.await.unwrap_or_else(|_| dropped());
    }
    let drop_response = fault == Some(SimFault::CommitThenDropResponse);
    let response = route(
        &shared,
        &parts.method,
        &path,
        parts.uri.query(),
        &parts.headers,
        &body,
    );
    if drop_response && response.status().is_success() {
        return dropped();
    }
    response
}

fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if path == "/services/rest/query/v1/suiteql" && method == Method::POST {
        return suiteql(shared, query, headers, body);
    }
    let Some(rest) = path.strip_prefix("/services/rest/record/v1/") else {
        return not_found();
    };
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let Some(kind) = segs.first().and_then(|s| RecordType::parse(s)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_RCRD_TYPE",
            "Record type does not exist.",
            None,
        );
    };
    let expand = query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .any(|(k, v)| k == "expandSubResources" && v == "true")
    });
    match (method, segs.as_slice()) {
        (&Method::GET, [_, id]) => get_record(shared, kind, id, expand),
        (&Method::PUT, [_, id]) => match id.strip_prefix("eid:") {
            Some(eid) => upsert(shared, kind, eid, body),
            None => user_error("Updating by internal id is not simulated; use eid: upsert."),
        },
        (&Method::POST, [_, id, "!transform", target])
            if kind == RecordType::SalesOrder && target.eq_ignore_ascii_case("itemFulfillment") =>
        {
            transform(shared, id, body)
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "The request is not supported by this simulator.",
            None,
        ),
    }
}

fn find<'a>(store: &'a Store, kind: RecordType, id: &str) -> Option<&'a Record> {
    match id.strip_prefix("eid:") {
        Some(eid) => store
            .records
            .iter()
            .find(|r| r.kind == kind && r.external_id.as_deref() == Some(eid)),
        None => store
            .records
            .iter()
            .find(|r| r.kind == kind && r.id.to_string() == id),
    }
}

fn get_record(shared: &Shared, kind: RecordType, id: &str, expand: bool) -> Response {
    let store = lock(&shared.store);
    let Some(r) = find(&store, kind, id) else {
        return not_found();
    };
    let self_href = format!(
        "{}/services/rest/record/v1/{}/{}",
        shared.base_url,
        kind.name(),
        r.id
    );
    let mut v = r.body.clone();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("links".into(), json!([{"rel": "self", "href": self_href}]));
        obj.insert("id".into(), json!(r.id.to_string()));
        obj.insert("tranId".into(), json!(r.tran_id));
        if let Some(e) = &r.external_id {
            obj.insert("externalId".into(), json!(e));
        }
        // Sublists are links unless expanded.
        let href = self_href.clone();
        for (name, value) in obj.iter_mut() {
            if value.get("items").is_some() {
                *value = json!({"links": [{"rel": "self", "href": format!("{href}/{name}")}]});
            }
        }
        if kind == RecordType::SalesOrder {
            let item = if expand {
                let items: Vec<Value> = r
                    .lines
                    .iter()
                    .map(|l| {
                        json!({"links": [], "line": l.line, "item": {"id": l.item, "refName": l.item},
                               "quantity": l.quantity, "quantityFulfilled": l.fulfilled})
                    })
                    .collect();
                json!({"links": [], "items": items, "totalResults": r.lines.len()})
            } else {
                json!({"links": [{"rel": "self", "href": format!("{self_href}/item")}]})
            };
            obj.insert("item".into(), item);
        }
    }
    json_response(&v)
}

fn created(shared: &Shared, kind: RecordType, id: u64) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let loc = format!(
        "{}/services/rest/record/v1/{}/{id}",
        shared.base_url,
        kind.name()
    );
    if let Ok(v) = HeaderValue::from_str(&loc) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn ref_id<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field)?.get("id")?.as_str()
}

// The error is the finished HTTP answer; these run once per request.
#[allow(clippy::result_large_err)]
fn check_ref(v: &Value, field: &str, known: &[&str], required: bool) -> Result<(), Response> {
    match v.get(field) {
        None if !required => Ok(()),
        None => Err(user_error(&format!("Please enter value(s) for: {field}"))),
        Some(_) => match ref_id(v, field) {
            Some(id) if known.contains(&id) => Ok(()),
            Some(id) => Err(bad_ref(field, id)),
            None => Err(bad_ref(field, "(not a reference)")),
        },
    }
}

/// A JSON number as an exact decimal (via its shortest text form).
fn number(v: Option<&Value>) -> Option<Decimal> {
    match v? {
        Value::Number(n) => Decimal::from_str(&n.to_string())
            .ok()
            .or_else(|| Decimal::from_scientific(&n.to_string()).ok()),
        _ => None,
    }
}

fn item_ids() -> Vec<String> {
    (1..=seed::ITEM_COUNT)
        .map(|n| (1000 + n).to_string())
        .chain(seed::SERVICE_ITEMS.iter().map(|(id, _)| (*id).to_owned()))
        .collect()
}

fn currency_ids() -> Vec<&'static str> {
    seed::CURRENCIES.iter().map(|(id, _)| *id).collect()
}

fn valid_date(v: &Value) -> bool {
    v.get("tranDate")
        .and_then(Value::as_str)
        .is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
}

/// Validates a body for its record type; returns the sales order lines.
// The error is the finished HTTP answer; these run once per request.
#[allow(clippy::result_large_err)]
fn validate(store: &Store, kind: RecordType, v: &Value) -> Result<Vec<SoLine>, Response> {
    if !v.is_object() {
        return Err(user_error("The request body must be a JSON object."));
    }
    if v.get("tranDate").is_some() && !valid_date(v) {
        return Err(bad_ref("tranDate", "(not YYYY-MM-DD)"));
    }
    let items = item_ids();
    let items: Vec<&str> = items.iter().map(String::as_str).collect();
    match kind {
        RecordType::SalesOrder | RecordType::CreditMemo => {
            check_ref(v, "entity", seed::CUSTOMERS, true)?;
            check_ref(v, "currency", &currency_ids(), false)?;
            check_ref(v, "subsidiary", seed::SUBSIDIARIES, false)?;
            let lines = v
                .get("item")
                .and_then(|i| i.get("items"))
                .and_then(Value::as_array)
                .filter(|l| !l.is_empty())
                .ok_or_else(|| {
                    user_error("You must enter at least one line item for this transaction.")
                })?;
            let mut out = Vec::new();
            for (i, l) in lines.iter().enumerate() {
                let path = format!("item.items[{i}].item");
                match ref_id(l, "item") {
                    Some(id) if items.contains(&id) => {}
                    Some(id) => return Err(bad_ref(&path, id)),
                    None => return Err(bad_ref(&path, "(missing)")),
                }
                let q = l
                    .get("quantity")
                    .and_then(Value::as_i64)
                    .filter(|q| *q >= 0);
                let Some(q) = q else {
                    return Err(bad_ref(
                        &format!("item.items[{i}].quantity"),
                        "(not a whole number)",
                    ));
                };
                for f in ["rate", "amount"] {
                    if l.get(f).is_some() && number(l.get(f)).is_none() {
                        return Err(bad_ref(&format!("item.items[{i}].{f}"), "(not a number)"));
                    }
                }
                out.push(SoLine {
                    line: u32::try_from(1 + 3 * i).unwrap_or(u32::MAX),
                    item: ref_id(l, "item").unwrap_or_default().to_owned(),
                    quantity: q,
                    fulfilled: 0,
                });
            }
            Ok(out)
        }
        RecordType::JournalEntry => {
            check_ref(v, "subsidiary", seed::SUBSIDIARIES, true)?;
            check_ref(v, "currency", &currency_ids(), false)?;
            let lines = v
                .get("line")
                .and_then(|i| i.get("items"))
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    user_error("You must enter at least one line item for this transaction.")
                })?;
            let (mut debits, mut credits) = (Decimal::ZERO, Decimal::ZERO);
            for (i, l) in lines.iter().enumerate() {
                match ref_id(l, "account") {
                    Some(id) if seed::ACCOUNTS.contains(&id) => {}
                    Some(id) => return Err(bad_ref(&format!("line.items[{i}].account"), id)),
                    None => return Err(bad_ref(&format!("line.items[{i}].account"), "(missing)")),
                }
                for (field, known) in [
                    ("department", seed::DEPARTMENTS),
                    ("class", seed::CLASSES),
                    ("location", seed::LOCATIONS),
                    ("subsidiary", seed::SUBSIDIARIES),
                ] {
                    if l.get(field).is_some() {
                        check_ref(l, field, known, false).map_err(|_| {
                            bad_ref(
                                &format!("line.items[{i}].{field}"),
                                ref_id(l, field).unwrap_or("?"),
                            )
                        })?;
                    }
                }
                match (number(l.get("debit")), number(l.get("credit"))) {
                    (Some(d), None) if d > Decimal::ZERO => debits += d,
                    (None, Some(c)) if c > Decimal::ZERO => credits += c,
                    _ => {
                        return Err(bad_ref(
                            &format!("line.items[{i}]"),
                            "(exactly one positive debit or credit)",
                        ));
                    }
                }
            }
            if lines.len() < 2 || debits != credits {
                return Err(user_error("This transaction is not in balance."));
            }
            Ok(Vec::new())
        }
        RecordType::CustomerRefund => {
            check_ref(v, "customer", seed::CUSTOMERS, true)?;
            check_ref(v, "account", seed::ACCOUNTS, true)?;
            let applies = v
                .get("apply")
                .and_then(|a| a.get("items"))
                .and_then(Value::as_array)
                .ok_or_else(|| user_error("You must apply at least one credit."))?;
            for (i, a) in applies.iter().enumerate() {
                let doc = ref_id(a, "doc").unwrap_or_default();
                let Some(cm) = find(store, RecordType::CreditMemo, doc) else {
                    return Err(bad_ref(&format!("apply.items[{i}].doc"), doc));
                };
                let credit: Decimal = cm
                    .body
                    .get("item")
                    .and_then(|i| i.get("items"))
                    .and_then(Value::as_array)
                    .map(|ls| ls.iter().filter_map(|l| number(l.get("amount"))).sum())
                    .unwrap_or_default();
                match number(a.get("amount")) {
                    Some(amt) if amt > Decimal::ZERO && amt <= credit => {}
                    _ => {
                        return Err(user_error(
                            "The amount applied exceeds the amount remaining on the credit.",
                        ));
                    }
                }
            }
            Ok(Vec::new())
        }
        RecordType::ItemFulfillment => Ok(Vec::new()),
    }
}

fn upsert(shared: &Shared, kind: RecordType, eid: &str, body: &[u8]) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return user_error("The request body is not valid JSON.");
    };
    let mut store = lock(&shared.store);
    let lines = match validate(&store, kind, &v) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let other_ref = v
        .get("otherRefNum")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(r) = store
        .records
        .iter_mut()
        .find(|r| r.kind == kind && r.external_id.as_deref() == Some(eid))
    {
        if r.lines.iter().any(|l| l.fulfilled > 0) {
            let same = r.lines.len() == lines.len()
                && r.lines
                    .iter()
                    .zip(&lines)
                    .all(|(a, b)| a.item == b.item && a.quantity == b.quantity);
            if !same {
                return user_error("You cannot change the lines of a fulfilled order.");
            }
        } else {
            r.lines = lines;
        }
        r.raw = body.to_vec();
        r.body = v;
        r.other_ref_num = other_ref;
        let id = r.id;
        return created(shared, kind, id);
    }
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    store.records.push(Record {
        id,
        kind,
        external_id: Some(eid.to_owned()),
        tran_id: format!("{}{id}", kind.prefix()),
        other_ref_num: other_ref,
        raw: body.to_vec(),
        body: v,
        lines,
    });
    created(shared, kind, id)
}

fn transform(shared: &Shared, so_id: &str, body: &[u8]) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return user_error("The request body is not valid JSON.");
    };
    let mut store = lock(&shared.store);
    let eid = v
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(e) = &eid {
        if find(&store, RecordType::ItemFulfillment, &format!("eid:{e}")).is_some() {
            return error(
                StatusCode::BAD_REQUEST,
                "DUP_RCRD",
                "This record already exists.",
                Some("externalId"),
            );
        }
    }
    let Some(so) = store
        .records
        .iter_mut()
        .find(|r| r.kind == RecordType::SalesOrder && r.id.to_string() == so_id)
    else {
        return not_found();
    };
    // Every open line ships unless listed with itemReceive false or a smaller quantity.
    let mut ship: BTreeMap<u32, i64> = so
        .lines
        .iter()
        .filter(|l| l.quantity > l.fulfilled)
        .map(|l| (l.line, l.quantity - l.fulfilled))
        .collect();
    let listed = v
        .get("item")
        .and_then(|i| i.get("items"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, l) in listed.iter().enumerate() {
        let Some(line) = l
            .get("orderLine")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
        else {
            return bad_ref(&format!("item.items[{i}].orderLine"), "(missing)");
        };
        let Some(so_line) = so.lines.iter().find(|x| x.line == line) else {
            return bad_ref(&format!("item.items[{i}].orderLine"), &line.to_string());
        };
        let open = so_line.quantity - so_line.fulfilled;
        if l.get("itemReceive").and_then(Value::as_bool) == Some(false) {
            ship.remove(&line);
            continue;
        }
        let q = match l.get("quantity") {
            None => open,
            Some(q) => match q.as_i64() {
                Some(q) if q > 0 && q <= open => q,
                _ => {
                    return user_error(&format!(
                        "You can not fulfill more than the remaining quantity on line {line}."
                    ));
                }
            },
        };
        ship.insert(line, q);
    }
    ship.retain(|_, q| *q > 0);
    if ship.is_empty() {
        return user_error("You must enter at least one line item for this transaction.");
    }
    for l in &mut so.lines {
        if let Some(q) = ship.get(&l.line) {
            l.fulfilled += q;
        }
    }
    let other_ref = so.other_ref_num.clone();
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    let mut stored = v.clone();
    if let Some(o) = stored.as_object_mut() {
        o.insert("createdFrom".into(), json!({"id": so_id}));
    }
    store.records.push(Record {
        id,
        kind: RecordType::ItemFulfillment,
        external_id: eid,
        tran_id: format!("IF{id}"),
        other_ref_num: other_ref,
        raw: body.to_vec(),
        body: stored,
        lines: Vec::new(),
    });
    created(shared, RecordType::ItemFulfillment, id)
}

// ---------------------------------------------------------------------------------------------
// SuiteQL (the subset the adapter uses).

/// Reads `'x'` (quotes doubled inside) at the start of `s`; returns the value and the rest.
fn sql_string(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start().strip_prefix('\'')?;
    let mut out = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if let Some((_, '\'')) = chars.peek() {
                out.push('\'');
                chars.next();
            } else {
                return Some((out, &s[i + 1..]));
            }
        } else {
            out.push(c);
        }
    }
    None
}

#[derive(Debug, PartialEq)]
enum Cond {
    Eq(String, String),
    In(String, Vec<String>),
}

fn column_name(expr: &str) -> String {
    expr.trim()
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Splits at the first case-insensitive occurrence of `word` (surrounded by spaces).
fn split_kw<'a>(s: &'a str, word: &str) -> Option<(&'a str, &'a str)> {
    let pat = format!(" {} ", word.to_ascii_lowercase());
    let lower = s.to_ascii_lowercase();
    let i = lower.find(&pat)?;
    Some((&s[..i], &s[i + pat.len()..]))
}

fn parse_where(mut s: &str) -> Option<Vec<Cond>> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        let end = s.find(|c: char| c.is_whitespace() || c == '=')?;
        let col = column_name(&s[..end]);
        let rest = s[end..].trim_start();
        if let Some(r) = rest.strip_prefix('=') {
            let (v, r) = sql_string(r)?;
            out.push(Cond::Eq(col, v));
            s = r;
        } else if rest.len() >= 2 && rest[..2].eq_ignore_ascii_case("in") {
            let mut r = rest[2..].trim_start().strip_prefix('(')?;
            let mut vals = Vec::new();
            loop {
                let (v, r2) = sql_string(r)?;
                vals.push(v);
                let r2 = r2.trim_start();
                if let Some(r3) = r2.strip_prefix(',') {
                    r = r3;
                } else {
                    r = r2.strip_prefix(')')?;
                    break;
                }
            }
            out.push(Cond::In(col, vals));
            s = r;
        } else {
            return None;
        }
        let t = s.trim_start();
        if t.is_empty() {
            return Some(out);
        }
        if t.len() >= 4 && t[..4].eq_ignore_ascii_case("and ") {
            s = &t[4..];
        } else {
            return None;
        }
    }
}

fn matches(row: &BTreeMap<String, String>, conds: &[Cond]) -> bool {
    conds.iter().all(|c| match c {
        Cond::Eq(col, v) => row.get(col).is_some_and(|x| x == v),
        Cond::In(col, vs) => row.get(col).is_some_and(|x| vs.contains(x)),
    })
}

fn table_rows(store: &Store, table: &str) -> Option<Vec<BTreeMap<String, String>>> {
    let row = |pairs: &[(&str, String)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    };
    Some(match table {
        "transaction" => store
            .records
            .iter()
            .map(|r| {
                let mut m = row(&[
                    ("id", r.id.to_string()),
                    ("type", r.kind.type_id().to_owned()),
                    ("tranid", r.tran_id.clone()),
                ]);
                if let Some(e) = &r.external_id {
                    m.insert("externalid".into(), e.clone());
                }
                if let Some(o) = &r.other_ref_num {
                    m.insert("otherrefnum".into(), o.clone());
                }
                m
            })
            .collect(),
        "subsidiary" => seed::SUBSIDIARIES
            .iter()
            .map(|s| row(&[("id", (*s).to_owned())]))
            .collect(),
        "item" => {
            (1..=seed::ITEM_COUNT)
                .map(|n| row(&[("id", (1000 + n).to_string()), ("itemid", seed::sku(n))]))
                .chain(seed::SERVICE_ITEMS.iter().map(|(id, name)| {
                    row(&[("id", (*id).to_owned()), ("itemid", (*name).to_owned())])
                }))
                .collect()
        }
        "inventoryitemlocations" => {
            let mut rows = Vec::new();
            for n in 1..=seed::ITEM_COUNT {
                for loc in seed::LOCATIONS {
                    if let Some((on_hand, committed)) = seed::stock(n, loc) {
                        let mut m = row(&[
                            ("itemid", seed::sku(n)),
                            ("item", (1000 + n).to_string()),
                            ("location", (*loc).to_owned()),
                            ("quantityonhand", on_hand.to_string()),
                            ("quantityavailable", (on_hand - committed).to_string()),
                        ]);
                        // NetSuite leaves zero quantities empty.
                        if committed != 0 {
                            m.insert("quantitycommitted".into(), committed.to_string());
                        }
                        rows.push(m);
                    }
                }
            }
            rows
        }
        _ => return None,
    })
}

fn run_query(store: &Store, q: &str) -> Option<Vec<Value>> {
    let q = q.split_whitespace().collect::<Vec<_>>().join(" ");
    let rest = q
        .strip_prefix("SELECT ")
        .or_else(|| q.strip_prefix("select "))?;
    let (select, rest) =
        split_kw(&format!(" {rest}"), "from").map(|(a, b)| (a.trim().to_owned(), b.to_owned()))?;
    let (from, conds) = match split_kw(&format!(" {rest} "), "where") {
        Some((f, w)) => (f.trim().to_owned(), parse_where(w.trim())?),
        None => (rest.trim().to_owned(), Vec::new()),
    };
    let table = from.split_whitespace().next()?.to_ascii_lowercase();
    if table == "inventoryitemlocations" {
        // Only the join to item on the item's internal id is simulated.
        let lower = from.to_ascii_lowercase();
        if lower.contains(" join ") && !lower.contains(" join item ") {
            return None;
        }
    } else if from.to_ascii_lowercase().contains(" join ") {
        return None;
    }
    let mut cols = Vec::new();
    for c in select.split(',') {
        let (expr, alias) = match split_kw(&format!(" {} ", c.trim()), "as") {
            Some((e, a)) => (e.trim().to_owned(), a.trim().to_ascii_lowercase()),
            None => (c.trim().to_owned(), column_name(c)),
        };
        cols.push((column_name(&expr), alias));
    }
    let rows = table_rows(store, &table)?;
    let known: BTreeSet<&str> = [
        "id",
        "type",
        "tranid",
        "externalid",
        "otherrefnum",
        "itemid",
        "item",
        "location",
        "quantityonhand",
        "quantityavailable",
        "quantitycommitted",
    ]
    .into_iter()
    .collect();
    if cols.iter().any(|(c, _)| !known.contains(c.as_str())) {
        return None;
    }
    Some(
        rows.iter()
            .filter(|r| matches(r, &conds))
            .map(|r| {
                let mut o = serde_json::Map::new();
                o.insert("links".into(), json!([]));
                for (c, alias) in &cols {
                    if let Some(v) = r.get(c) {
                        o.insert(alias.clone(), Value::String(v.clone()));
                    }
                }
                Value::Object(o)
            })
            .collect(),
    )
}

fn suiteql(shared: &Shared, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Response {
    let transient = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("transient"));
    if !transient {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_HEADER",
            "SuiteQL requests need the header Prefer: transient.",
            None,
        );
    }
    let (mut limit, mut offset) = (1000usize, 0usize);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "limit" => limit = v.parse().unwrap_or(1000).clamp(1, 1000),
            "offset" => offset = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    let Some(q) = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("q").and_then(Value::as_str).map(str::to_owned))
    else {
        return user_error("The request body must be {\"q\": \"<SuiteQL>\"}.");
    };
    let rows = {
        let store = lock(&shared.store);
        run_query(&store, &q)
    };
    let Some(rows) = rows else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
            "Invalid search query. Detailed unprocessed description follows. Search error occurred: the query is outside the simulated subset.",
            None,
        );
    };
    let total = rows.len();
    let page: Vec<Value> = rows.into_iter().skip(offset).take(limit).collect();
    let count = page.len();
    json_response(&json!({
        "links": [{"rel": "self", "href": format!("{}/services/rest/query/v1/suiteql?limit={limit}&offset={offset}", shared.base_url)}],
        "count": count,
        "hasMore": offset + count < total,
        "items": page,
        "offset": offset,
        "totalResults": total,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The simulator's own verifier reproduces Oracle's published REST header example.
    #[test]
    fn verifier_reproduces_oracle_vector() {
        let header = "OAuth realm=\"123456\", oauth_token=\"2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc\", oauth_consumer_key=\"ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4\", oauth_nonce=\"fjaLirsIcCGVZWzBX0pg\", oauth_timestamp=\"1508242306\", oauth_signature_method=\"HMAC-SHA256\", oauth_version=\"1.0\", oauth_signature=\"B5OIWznZ2YP0OB7VrJrGkYsTh%2B8H%2B5T9Hag%2Bo92q0zY%3D\"";
        let params = parse_oauth_header(header).unwrap();
        let base = base_string(
            "GET",
            "https",
            "123456.suitetalk.api.netsuite.com",
            "/services/rest/record/v1/employee/40",
            None,
            &params,
            &[],
        );
        assert_eq!(
            base,
            "GET&https%3A%2F%2F123456.suitetalk.api.netsuite.com%2Fservices%2Frest%2Frecord%2Fv1%2Femployee%2F40&oauth_consumer_key%3Def40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4%26oauth_nonce%3DfjaLirsIcCGVZWzBX0pg%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1508242306%26oauth_token%3D2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc%26oauth_version%3D1.0"
        );
        let key = "d26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9e8b5&c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295";
        let sig = params
            .iter()
            .find(|(k, _)| k == "oauth_signature")
            .unwrap()
            .1
            .clone();
        assert_eq!(hmac_sha256_b64(key, &base).unwrap(), sig);
    }

    /// RESTlet example: query parameters are signed, realm is not.
    #[test]
    fn verifier_reproduces_restlet_vector() {
        let oauth: Vec<(String, String)> = vec![
            ("realm".into(), "123456".into()),
            (
                "oauth_consumer_key".into(),
                "ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4".into(),
            ),
            (
                "oauth_token".into(),
                "2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc".into(),
            ),
            ("oauth_nonce".into(), "fjaLirsIcCGVZWzBX0pg".into()),
            ("oauth_timestamp".into(), "1508242306".into()),
            ("oauth_signature_method".into(), "HMAC-SHA256".into()),
            ("oauth_version".into(), "1.0".into()),
        ];
        let base = base_string(
            "POST",
            "https",
            "123456.restlets.api.netsuite.com:443",
            "/app/site/hosting/restlet.nl",
            Some("script=6&deploy=1&customParam=someValue&testParam=someOtherValue"),
            &oauth,
            &[],
        );
        let key = "d26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9e8b5&c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295";
        assert_eq!(
            hmac_sha256_b64(key, &base).unwrap(),
            "+KK4SKNgz4ZiILGLwOMtfYlgcXSy1eis8ldE9X90azQ="
        );
    }

    #[test]
    fn suiteql_subset() {
        let mut store = Store::default();
        store.records.push(Record {
            id: 7,
            kind: RecordType::JournalEntry,
            external_id: Some("msk1-o'k".into()),
            tran_id: "JE7".into(),
            other_ref_num: None,
            raw: vec![],
            body: json!({}),
            lines: vec![],
        });
        let rows = run_query(
            &store,
            "SELECT id, type, tranid, externalid FROM transaction WHERE externalid = 'msk1-o''k'",
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["type"], "Journal");
        assert_eq!(rows[0]["id"], "7");
        let rows = run_query(
            &store,
            "SELECT id, itemid FROM item WHERE itemid IN ('SKU-0001', 'SKU-0003', 'NOPE')",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        let rows = run_query(&store, "SELECT i.itemid AS itemid, iil.location AS location, iil.quantityonhand AS quantityonhand FROM inventoryitemlocations iil JOIN item i ON i.id = iil.item WHERE i.itemid IN ('SKU-0002')").unwrap();
        assert_eq!(rows.len(), 2);
        assert!(run_query(&store, "SELECT secret FROM employee").is_none());
        assert!(
            run_query(
                &store,
                "SELECT id FROM transaction WHERE externalid LIKE 'x'"
            )
            .is_none()
        );
    }

    /// RFC 5849 §3.4.1.1: the form body `c2&a3=2+q` is part of the base string the simulator
    /// verifies, exactly as the RFC prints it.
    #[test]
    fn verifier_signs_form_body_parameters_like_rfc5849() {
        let oauth: Vec<(String, String)> = [
            ("realm", "Example"),
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
            ("oauth_signature", "bYT5CMsGcbgUdFHObYMEfcx6bsw="),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let form = form_params(&headers, b"c2&a3=2+q");
        let base = base_string(
            "POST",
            "http",
            "example.com",
            "/request",
            Some("b5=%3D%253D&a3=a&c%40=&a2=r%20b"),
            &oauth,
            &form,
        );
        assert_eq!(
            base,
            concat!(
                "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q",
                "%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_",
                "key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m",
                "ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk",
                "9d7dh3k39sjv7"
            )
        );
        // A JSON body is not signed.
        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(form_params(&json, b"c2&a3=2+q").is_empty());
    }
}
