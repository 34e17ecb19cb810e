//! Taobao Open Platform (TOP) simulator: a real HTTP server on loopback that answers the TOP
//! router (`POST /router/rest`, form-encoded) the way the platform does.
//!
//! * **Signing**: every call is checked with the simulator's own implementation of TOP's rule
//!   ([`sign::expected_sign`], tested on the published vector) for `md5`, `hmac` and
//!   `hmac-sha256`; a wrong signature gets TOP's body
//!   `{"error_response":{"code":25,"msg":"Invalid signature",…}}`, a wrong session
//!   `code 27 "Invalid session"` / `invalid-sessionkey`. The timestamp must be GMT+8 and within
//!   10 minutes of the simulator's clock.
//! * **Incremental lists** (`taobao.trades.sold.increment.get`, `taobao.refunds.receive.get`):
//!   `start_modified`/`end_modified` inclusive, span ≤ 1 day, results sorted by `modified`
//!   descending, `page_no`/`page_size` (1–100, default 40), `total_results` or (with
//!   `use_has_next=true`) `has_next`. Only the requested `fields` are returned.
//! * **Shifting result set**: with [`TmallSim::set_shift_on_read`], after every page served the
//!   newest trade of the queried window is modified (its `modified` moves past the window), as
//!   a busy shop does while you page: a forward walker then misses orders, a backward walker
//!   does not.
//! * **Throttling**: an optional per-app call budget per second; over it TOP's
//!   `code 7 "App Call Limited"`, `sub_msg "This ban will last for N more seconds"`.
//! * **Faults** on demand ([`SimFault`]): throttle, `isp.*` remote error, HTTP 5xx, delayed
//!   response (client timeout), malformed record, duplicated record.
//! * **Late records**: [`TmallSim::publish_late_trade`] makes a trade visible whose `created`
//!   lies in the seeded range but whose `modified` is later (an old trade released or amended
//!   after its window was walked); [`TmallSim::publish_late_bill`] adds a bill debited inside
//!   the seeded range whose `gmt_create` / `gmt_modified` is later (TOP books it on its debit
//!   day, so the day's bills change after the day was read).
//! * Also: `taobao.trade.fullinfo.get`, `taobao.bill.bills.get`, `taobao.item.quantity.update`,
//!   `taobao.skus.quantity.update`, `taobao.logistics.offline.send`.

pub mod data;
pub mod sign;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use data::{DataSet, parse_top_time, top_time};

/// A fault applied to the next request (or, for record faults, the next list page).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimFault {
    /// Answer code 7 "App Call Limited", stating this many seconds.
    Throttle {
        /// The stated ban.
        seconds: u64,
    },
    /// Answer code 15 "Remote service error" with an `isp.*` sub code.
    IspError,
    /// Answer this HTTP status with a non-TOP body (a gateway error page).
    HttpStatus(u16),
    /// Wait this long before answering (longer than the client's timeout = a lost response).
    Delay(Duration),
    /// Corrupt `payment` of one record of the next list page.
    MalformedRecord,
    /// Send one record of the next list page twice.
    DuplicateRecord,
}

/// Simulator settings.
#[derive(Clone, Debug)]
pub struct TmallSimConfig {
    /// The AppKey it accepts.
    pub app_key: String,
    /// The AppSecret it verifies signatures with.
    pub app_secret: String,
    /// The session key it accepts.
    pub session: String,
    /// Seed of the data set.
    pub seed: u64,
    /// Number of trades.
    pub trades: usize,
    /// Earliest `modified` of the seeded trades.
    pub start: DateTime<Utc>,
    /// Span of the seeded `modified` times.
    pub span: chrono::Duration,
    /// Seed one trade with a status no connector knows.
    pub unknown_status: bool,
    /// Calls per second per app before code 7 (None = unlimited).
    pub calls_per_second: Option<u32>,
    /// Check the `timestamp` against the real clock (±10 minutes).
    pub check_timestamp: bool,
}

impl Default for TmallSimConfig {
    fn default() -> Self {
        TmallSimConfig {
            app_key: "12345678".into(),
            app_secret: "sim-app-secret-0123456789".into(),
            session: "6100sim-session-key".into(),
            seed: 7,
            trades: 60,
            // 2024-03-18 00:00:00 in Beijing.
            start: DateTime::<Utc>::from_timestamp(1_710_691_200, 0).unwrap_or_default(),
            span: chrono::Duration::hours(6),
            unknown_status: true,
            calls_per_second: None,
            check_timestamp: true,
        }
    }
}

struct TradeRow {
    tid: String,
    modified: DateTime<Utc>,
    json: Value,
}

struct RateWindow {
    second: i64,
    calls: u32,
}

struct Inner {
    trades: Vec<TradeRow>,
    refunds: Vec<Value>,
    bills: Vec<Value>,
    stock: BTreeMap<(u64, String), u32>,
    faults: VecDeque<SimFault>,
    shift_on_read: bool,
    /// The simulated "now" for modifications: after every seeded time, advancing per change.
    change_clock: DateTime<Utc>,
    rate: RateWindow,
    calls: BTreeMap<String, usize>,
    request_seq: u64,
    shipments: Vec<(String, String, String, Vec<String>)>,
}

struct Shared {
    config: TmallSimConfig,
    unknown_status_tid: Option<String>,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// A running simulator. Dropping it stops the server.
pub struct TmallSim {
    gateway: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TmallSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for TmallSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TmallSim")
            .field("gateway", &self.gateway)
            .finish()
    }
}

/// Starts a simulator on `127.0.0.1:0`.
pub async fn start(config: TmallSimConfig) -> std::io::Result<TmallSim> {
    let DataSet {
        trades,
        refunds,
        bills,
        stock,
        unknown_status_tid,
    } = data::generate(
        config.seed,
        config.trades,
        config.start,
        config.span,
        config.unknown_status,
    );
    let rows = trades
        .into_iter()
        .map(|json| TradeRow {
            tid: json["tid_str"].as_str().unwrap_or_default().to_owned(),
            modified: json["modified"]
                .as_str()
                .and_then(parse_top_time)
                .unwrap_or(config.start),
            json,
        })
        .collect();
    let change_clock = config.start + config.span + chrono::Duration::days(1);
    let shared = Arc::new(Shared {
        unknown_status_tid,
        inner: Mutex::new(Inner {
            trades: rows,
            refunds,
            bills,
            stock,
            faults: VecDeque::new(),
            shift_on_read: false,
            change_clock,
            rate: RateWindow {
                second: 0,
                calls: 0,
            },
            calls: BTreeMap::new(),
            request_seq: 0,
            shipments: Vec::new(),
        }),
        config,
    });
    let app = Router::new()
        .route("/router/rest", post(handle).get(handle))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "tmall simulator stopped");
        }
    });
    Ok(TmallSim {
        gateway: format!("http://{addr}/router/rest"),
        shared,
        task,
    })
}

impl TmallSim {
    /// The gateway URL (`http://127.0.0.1:<port>/router/rest`).
    pub fn gateway(&self) -> &str {
        &self.gateway
    }

    /// The settings it runs with.
    pub fn config(&self) -> &TmallSimConfig {
        &self.shared.config
    }

    /// Queues a fault.
    pub fn inject(&self, fault: SimFault) {
        self.shared.lock().faults.push_back(fault);
    }

    /// Turns the shifting result set on or off.
    pub fn set_shift_on_read(&self, on: bool) {
        self.shared.lock().shift_on_read = on;
    }

    /// Ids of trades whose `modified` is in `[start, end)` now.
    pub fn trade_ids_modified_in(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> BTreeSet<String> {
        self.shared
            .lock()
            .trades
            .iter()
            .filter(|t| t.modified >= start && t.modified < end)
            .map(|t| t.tid.clone())
            .collect()
    }

    /// Ids of refunds whose `modified` is in `[start, end)`.
    pub fn refund_ids_modified_in(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> BTreeSet<String> {
        in_window(&self.shared.lock().refunds, "modified", start, end)
            .filter_map(|r| r["refund_id"].as_str().map(str::to_owned))
            .collect()
    }

    /// The trade seeded with an unknown status.
    pub fn unknown_status_tid(&self) -> Option<String> {
        self.shared.unknown_status_tid.clone()
    }

    /// A stocked (num_iid, outer_sku_id) pair.
    pub fn stocked_sku(&self) -> Option<(u64, String)> {
        self.shared.lock().stock.keys().next().cloned()
    }

    /// Current stock of a SKU.
    pub fn stock(&self, num_iid: u64, outer_sku_id: &str) -> Option<u32> {
        self.shared
            .lock()
            .stock
            .get(&(num_iid, outer_sku_id.to_owned()))
            .copied()
    }

    /// Recorded shipments: (tid, company_code, out_sid, sub-order ids).
    pub fn shipments(&self) -> Vec<(String, String, String, Vec<String>)> {
        self.shared.lock().shipments.clone()
    }

    /// A trade by id, as the simulator holds it.
    pub fn trade(&self, tid: &str) -> Option<Value> {
        self.shared
            .lock()
            .trades
            .iter()
            .find(|t| t.tid == tid)
            .map(|t| t.json.clone())
    }

    /// Makes a late trade visible: a copy of the earliest-modified seeded trade under a new
    /// `tid` (and sub-order ids), keeping its `created` and times of payment, with `modified`
    /// set to `modified`. Returns the new `tid`.
    pub fn publish_late_trade(&self, modified: DateTime<Utc>) -> Option<String> {
        let mut inner = self.shared.lock();
        let n = inner.trades.len() as u64 + 1;
        let template = inner
            .trades
            .iter()
            .min_by_key(|t| (t.modified, t.tid.clone()))?;
        let mut json = template.json.clone();
        let shift = 1_000_000_000_u64.checked_add(n)?;
        let tid = template.tid.parse::<u64>().ok()?.checked_add(shift)?;
        json["tid"] = json!(tid);
        json["tid_str"] = json!(tid.to_string());
        json["modified"] = json!(top_time(modified));
        if let Some(orders) = json["orders"]["order"].as_array_mut() {
            for o in orders.iter_mut() {
                let oid = o["oid"]
                    .as_u64()
                    .or_else(|| o["oid_str"].as_str().and_then(|v| v.parse().ok()))
                    .and_then(|v: u64| v.checked_add(shift))?;
                o["oid"] = json!(oid);
                o["oid_str"] = json!(oid.to_string());
            }
        }
        inner.trades.push(TradeRow {
            tid: tid.to_string(),
            modified,
            json,
        });
        Some(tid.to_string())
    }

    /// Adds a late bill: a copy of the bill with the earliest debit (`pay_time`) under a new
    /// `bid`, created and modified at `published`, debited on the same day as the original.
    /// Returns the new `bid`.
    pub fn publish_late_bill(&self, published: DateTime<Utc>) -> Option<u64> {
        let mut inner = self.shared.lock();
        let template = inner
            .bills
            .iter()
            .filter(|b| b["status"] == json!(1))
            .min_by_key(|b| {
                (
                    b["pay_time"].as_str().unwrap_or_default().to_owned(),
                    b["bid"].as_u64().unwrap_or(0),
                )
            })?
            .clone();
        let bid = inner
            .bills
            .iter()
            .filter_map(|b| b["bid"].as_u64())
            .max()?
            .checked_add(1)?;
        let mut bill = template;
        bill["bid"] = json!(bid);
        bill["gmt_create"] = json!(top_time(published));
        bill["gmt_modified"] = json!(top_time(published));
        bill["alipay_notice"] = json!("补扣技术服务费");
        inner.bills.push(bill);
        Some(bid)
    }

    /// How many calls a method received (all outcomes).
    pub fn calls(&self, method: &str) -> usize {
        self.shared.lock().calls.get(method).copied().unwrap_or(0)
    }
}

fn in_window<'a>(
    rows: &'a [Value],
    field: &'a str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> impl Iterator<Item = &'a Value> + 'a {
    rows.iter().filter(move |r| {
        r[field]
            .as_str()
            .and_then(parse_top_time)
            .is_some_and(|t| t >= start && t < end)
    })
}

/// TOP's error body.
fn err_body(
    code: i64,
    msg: &str,
    sub_code: Option<&str>,
    sub_msg: Option<&str>,
    request_id: &str,
) -> Value {
    let mut e = json!({"code": code, "msg": msg, "request_id": request_id});
    if let Some(s) = sub_code {
        e["sub_code"] = json!(s);
    }
    if let Some(s) = sub_msg {
        e["sub_msg"] = json!(s);
    }
    json!({ "error_response": e })
}

/// TOP's error response (HTTP 200 with `error_response`).
fn top_error(
    code: i64,
    msg: &str,
    sub_code: Option<&str>,
    sub_msg: Option<&str>,
    request_id: &str,
) -> Response {
    json_response(&err_body(code, msg, sub_code, sub_msg, request_id))
}

fn json_response(v: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        v.to_string(),
    )
        .into_response()
}

fn invalid_arg(field: &str, why: &str, rid: &str) -> Value {
    err_body(
        41,
        "Invalid Arguments",
        Some(&format!("isv.invalid-parameter:{field}")),
        Some(why),
        rid,
    )
}

const KNOWN_METHODS: &[&str] = &[
    "taobao.trades.sold.increment.get",
    "taobao.trade.fullinfo.get",
    "taobao.refunds.receive.get",
    "taobao.bill.bills.get",
    "taobao.item.quantity.update",
    "taobao.skus.quantity.update",
    "taobao.logistics.offline.send",
];

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    let mut params: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    params
        .extend(url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())));
    let p: BTreeMap<String, String> = params.iter().cloned().collect();
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());

    // A delay fault happens before anything else (the client sees no answer in time).
    let delay = {
        let mut inner = shared.lock();
        match inner.faults.front() {
            Some(SimFault::Delay(d)) => {
                let d = *d;
                inner.faults.pop_front();
                Some(d)
            }
            _ => None,
        }
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }

    let mut inner = shared.lock();
    inner.request_seq += 1;
    let rid = format!("sim{:x}", 0x1000 + inner.request_seq);
    let method = get("method").unwrap_or("").to_owned();
    *inner.calls.entry(method.clone()).or_default() += 1;
    let cfg = &shared.config;

    // System parameters, in the order TOP checks them.
    let Some(app_key) = get("app_key") else {
        return top_error(28, "Missing App Key", None, None, &rid);
    };
    if app_key != cfg.app_key {
        return top_error(29, "Invalid App Key", None, None, &rid);
    }
    if method.is_empty() {
        return top_error(21, "Missing Method", None, None, &rid);
    }
    if !KNOWN_METHODS.contains(&method.as_str()) {
        return top_error(22, "Invalid Method", None, None, &rid);
    }
    let Some(sign) = get("sign") else {
        return top_error(24, "Missing signature", None, None, &rid);
    };
    let sign_method = get("sign_method").unwrap_or("md5");
    match sign::expected_sign(&params, &cfg.app_secret, sign_method) {
        Some(expected) if expected == sign => {}
        Some(_) => return top_error(25, "Invalid signature", None, None, &rid),
        None => {
            return top_error(
                41,
                "Invalid Arguments",
                Some("isv.invalid-parameter:sign_method"),
                None,
                &rid,
            );
        }
    }
    let Some(ts) = get("timestamp") else {
        return top_error(30, "Missing Timestamp", None, None, &rid);
    };
    match parse_top_time(ts) {
        None => return top_error(31, "Invalid Timestamp", None, Some("时间戳格式错误"), &rid),
        Some(t) if cfg.check_timestamp && (Utc::now() - t).num_seconds().abs() > 600 => {
            return top_error(
                31,
                "Invalid Timestamp",
                None,
                Some("时间戳超出允许范围"),
                &rid,
            );
        }
        Some(_) => {}
    }
    if get("v") != Some("2.0") {
        return top_error(32, "Missing Version", None, None, &rid);
    }
    match get("session") {
        None => return top_error(26, "Missing Session", None, None, &rid),
        Some(s) if s != cfg.session => {
            return top_error(
                27,
                "Invalid session",
                Some("invalid-sessionkey"),
                Some("SessionKey非法"),
                &rid,
            );
        }
        Some(_) => {}
    }

    // Rate limit, then request-level faults.
    if let Some(limit) = cfg.calls_per_second {
        let now = Utc::now().timestamp();
        if inner.rate.second != now {
            inner.rate = RateWindow {
                second: now,
                calls: 0,
            };
        }
        inner.rate.calls += 1;
        if inner.rate.calls > limit {
            return top_error(
                7,
                "App Call Limited",
                Some("accesscontrol.limited-by-app-api-access-count"),
                Some("This ban will last for 1 more seconds"),
                &rid,
            );
        }
    }
    let fault = match inner.faults.front() {
        Some(SimFault::Throttle { .. } | SimFault::IspError | SimFault::HttpStatus(_)) => {
            inner.faults.pop_front()
        }
        _ => None,
    };
    match fault {
        Some(SimFault::Throttle { seconds }) => {
            return top_error(
                7,
                "App Call Limited",
                Some("accesscontrol.limited-by-app-api-access-count"),
                Some(&format!("This ban will last for {seconds} more seconds")),
                &rid,
            );
        }
        Some(SimFault::IspError) => {
            return top_error(
                15,
                "Remote service error",
                Some("isp.top-remote-connection-timeout"),
                Some("调用后端服务超时"),
                &rid,
            );
        }
        Some(SimFault::HttpStatus(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            return (status, "<html><body>502 Bad Gateway</body></html>").into_response();
        }
        _ => {}
    }

    let result = match method.as_str() {
        "taobao.trades.sold.increment.get" => trades_increment(&mut inner, &p, &rid),
        "taobao.trade.fullinfo.get" => fullinfo(&inner, &p, &rid),
        "taobao.refunds.receive.get" => refunds(&mut inner, &p, &rid),
        "taobao.bill.bills.get" => bills(&inner, &p, &rid),
        "taobao.item.quantity.update" => item_quantity(&mut inner, &p, &rid),
        "taobao.skus.quantity.update" => skus_quantity(&mut inner, &p, &rid),
        "taobao.logistics.offline.send" => offline_send(&mut inner, &p, &rid),
        _ => Err(err_body(22, "Invalid Method", None, None, &rid)),
    };
    match result {
        Ok(v) | Err(v) => json_response(&v),
    }
}

type Handled = Result<Value, Value>;

struct Paging {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    page_no: usize,
    page_size: usize,
    use_has_next: bool,
}

fn paging(
    p: &BTreeMap<String, String>,
    start_key: &str,
    end_key: &str,
    default_size: usize,
    size_range: (usize, usize),
    rid: &str,
) -> Result<Paging, Value> {
    let missing = |k: &str| {
        err_body(
            40,
            "Missing Required Arguments",
            Some(&format!("isv.missing-parameter:{k}")),
            None,
            rid,
        )
    };
    let start = p.get(start_key).ok_or_else(|| missing(start_key))?;
    let end = p.get(end_key).ok_or_else(|| missing(end_key))?;
    let start = parse_top_time(start)
        .ok_or_else(|| invalid_arg(start_key, "格式:yyyy-MM-dd HH:mm:ss", rid))?;
    let end =
        parse_top_time(end).ok_or_else(|| invalid_arg(end_key, "格式:yyyy-MM-dd HH:mm:ss", rid))?;
    if end < start {
        return Err(invalid_arg(end_key, "结束时间必须大于开始时间", rid));
    }
    if end - start > chrono::Duration::days(1) {
        return Err(invalid_arg(end_key, "时间跨度不能大于一天", rid));
    }
    let num = |k: &str, default: usize| -> Result<usize, Value> {
        match p.get(k) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| invalid_arg(k, "不是整数", rid)),
        }
    };
    let page_no = num("page_no", 1)?;
    let page_size = num("page_size", default_size)?;
    if page_no < 1 {
        return Err(invalid_arg("page_no", "页码必须大于零", rid));
    }
    if page_size < size_range.0 || page_size > size_range.1 {
        return Err(invalid_arg("page_size", "每页条数超出范围", rid));
    }
    Ok(Paging {
        start,
        end,
        page_no,
        page_size,
        use_has_next: p.get("use_has_next").is_some_and(|v| v == "true"),
    })
}

/// Keeps only the requested fields (`orders.x` selects sub-order fields).
fn project(trade: &Value, fields: &str) -> Value {
    let wanted: BTreeSet<&str> = fields
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    let order_fields: BTreeSet<&str> = wanted
        .iter()
        .filter_map(|f| f.strip_prefix("orders."))
        .collect();
    let mut out = serde_json::Map::new();
    if let Some(obj) = trade.as_object() {
        for (k, v) in obj {
            if k == "orders" {
                if order_fields.is_empty() && !wanted.contains("orders") {
                    continue;
                }
                let orders: Vec<Value> = v["order"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|o| {
                                let m: serde_json::Map<String, Value> = o
                                    .as_object()
                                    .map(|om| {
                                        om.iter()
                                            .filter(|(ok, _)| {
                                                wanted.contains("orders")
                                                    || order_fields.contains(ok.as_str())
                                            })
                                            .map(|(ok, ov)| (ok.clone(), ov.clone()))
                                            .collect()
                                    })
                                    .unwrap_or_default();
                                Value::Object(m)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert("orders".into(), json!({ "order": orders }));
            } else if wanted.contains(k.as_str()) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn page_of<T: Clone>(rows: &[T], paging: &Paging) -> (Vec<T>, bool) {
    let from = (paging.page_no - 1).saturating_mul(paging.page_size);
    let page: Vec<T> = rows
        .iter()
        .skip(from)
        .take(paging.page_size)
        .cloned()
        .collect();
    let has_next = from + page.len() < rows.len();
    (page, has_next)
}

fn apply_record_faults(inner: &mut Inner, page: &mut Vec<Value>) {
    if page.is_empty() {
        return;
    }
    match inner.faults.front() {
        Some(SimFault::MalformedRecord) => {
            inner.faults.pop_front();
            let idx = page.len() / 2;
            page[idx]["payment"] = json!("12.3x");
            page[idx]["refund_fee"] = json!("12.3x");
        }
        Some(SimFault::DuplicateRecord) => {
            inner.faults.pop_front();
            let first = page[0].clone();
            page.push(first);
        }
        _ => {}
    }
}

fn list_body(
    (key, outer, inner_key): (&str, &str, &str),
    page: Vec<Value>,
    total: usize,
    has_next: bool,
    paging: &Paging,
    rid: &str,
) -> Value {
    let mut body = json!({ "request_id": rid });
    if paging.use_has_next {
        body["has_next"] = json!(has_next);
    } else {
        body["total_results"] = json!(total);
    }
    if !page.is_empty() {
        body[outer] = json!({ inner_key: page });
    }
    json!({ key: body })
}

fn trades_increment(inner: &mut Inner, p: &BTreeMap<String, String>, rid: &str) -> Handled {
    let fields = p
        .get("fields")
        .ok_or_else(|| {
            err_body(
                40,
                "Missing Required Arguments",
                Some("isv.missing-parameter:fields"),
                None,
                rid,
            )
        })?
        .clone();
    let paging = paging(p, "start_modified", "end_modified", 40, (1, 100), rid)?;
    let mut rows: Vec<(DateTime<Utc>, String, Value)> = inner
        .trades
        .iter()
        .filter(|t| t.modified >= paging.start && t.modified <= paging.end)
        .map(|t| (t.modified, t.tid.clone(), t.json.clone()))
        .collect();
    // Newest first (TOP sorts by modified, descending).
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    let total = rows.len();
    let (page, has_next) = page_of(&rows, &paging);
    let mut page: Vec<Value> = page
        .into_iter()
        .map(|(_, _, v)| project(&v, &fields))
        .collect();
    apply_record_faults(inner, &mut page);

    // A busy shop: the newest trade of the window changes while the caller pages.
    if inner.shift_on_read {
        if let Some(tid) = rows.first().map(|r| r.1.clone()) {
            modify_trade(inner, &tid);
        }
    }
    Ok(list_body(
        ("trades_sold_increment_get_response", "trades", "trade"),
        page,
        total,
        has_next,
        &paging,
        rid,
    ))
}

fn modify_trade(inner: &mut Inner, tid: &str) {
    inner.change_clock += chrono::Duration::seconds(1);
    let at = inner.change_clock;
    if let Some(t) = inner.trades.iter_mut().find(|t| t.tid == tid) {
        t.modified = at;
        t.json["modified"] = json!(top_time(at));
    }
}

fn fullinfo(inner: &Inner, p: &BTreeMap<String, String>, rid: &str) -> Handled {
    let fields = p.get("fields").cloned().unwrap_or_default();
    let tid = p.get("tid").ok_or_else(|| {
        err_body(
            40,
            "Missing Required Arguments",
            Some("isv.missing-parameter:tid"),
            None,
            rid,
        )
    })?;
    let t = inner.trades.iter().find(|t| &t.tid == tid).ok_or_else(|| {
        err_body(
            15,
            "Remote service error",
            Some("isv.trade-not-exist"),
            Some("交易不存在"),
            rid,
        )
    })?;
    Ok(
        json!({"trade_fullinfo_get_response": {"trade": project(&t.json, &fields), "request_id": rid}}),
    )
}

fn refunds(inner: &mut Inner, p: &BTreeMap<String, String>, rid: &str) -> Handled {
    let paging = paging(p, "start_modified", "end_modified", 40, (1, 100), rid)?;
    let mut rows: Vec<Value> = inner
        .refunds
        .iter()
        .filter(|r| {
            r["modified"]
                .as_str()
                .and_then(parse_top_time)
                .is_some_and(|t| t >= paging.start && t <= paging.end)
        })
        .cloned()
        .collect();
    rows.sort_by(|a, b| {
        let k = |v: &Value| {
            (
                v["modified"].as_str().unwrap_or("").to_owned(),
                v["refund_id"].as_str().unwrap_or("").to_owned(),
            )
        };
        k(b).cmp(&k(a))
    });
    let total = rows.len();
    let (mut page, has_next) = page_of(&rows, &paging);
    apply_record_faults(inner, &mut page);
    Ok(list_body(
        ("refunds_receive_get_response", "refunds", "refund"),
        page,
        total,
        has_next,
        &paging,
        rid,
    ))
}

fn bills(inner: &Inner, p: &BTreeMap<String, String>, rid: &str) -> Handled {
    let paging = paging(p, "start_time", "end_time", 40, (40, 100), rid)?;
    let time_field = if p.get("time_type").map(String::as_str) == Some("1") {
        "biz_time"
    } else {
        "pay_time"
    };
    let mut rows: Vec<Value> = inner
        .bills
        .iter()
        .filter(|b| {
            b[time_field]
                .as_str()
                .and_then(parse_top_time)
                .is_some_and(|t| t >= paging.start && t <= paging.end)
        })
        .cloned()
        .collect();
    rows.sort_by(|a, b| {
        let k = |v: &Value| {
            (
                v[time_field].as_str().unwrap_or("").to_owned(),
                v["bid"].as_u64().unwrap_or(0),
            )
        };
        k(b).cmp(&k(a))
    });
    let total = rows.len();
    let (page, has_next) = page_of(&rows, &paging);
    Ok(list_body(
        ("bill_bills_get_response", "bills", "bill"),
        page,
        total,
        has_next,
        &paging,
        rid,
    ))
}

fn parse_num<T: std::str::FromStr>(
    p: &BTreeMap<String, String>,
    k: &str,
    rid: &str,
) -> Result<T, Value> {
    p.get(k)
        .ok_or_else(|| {
            err_body(
                40,
                "Missing Required Arguments",
                Some(&format!("isv.missing-parameter:{k}")),
                None,
                rid,
            )
        })?
        .parse()
        .map_err(|_| invalid_arg(k, "不是整数", rid))
}

fn item_quantity(inner: &mut Inner, p: &BTreeMap<String, String>, rid: &str) -> Handled {
    let num_iid: u64 = parse_num(p, "num_iid", rid)?;
    let quantity: u32 = parse_num(p, "quantity", rid)?;
    if p.get("type").is_some_and(|t| t != "1") {
        return Err(invalid_arg("type", "模拟器只支持全量更新", rid));
    }
    let keys: Vec<(u64, String)> = match p.get("outer_id") {
        Some(outer) => vec![(num_iid, outer.clone())],
        None => inner
            .stock
            .keys()
            .filter(|(i, _)| *i == num_iid)
            .cloned()
            .collect(),
    };
    if keys.is_empty() || keys.iter().any(|k| !inner.stock.contains_key(k)) {
        return Err(err_body(
            15,
            "Remote service error",
            Some("isv.item-not-exist"),
            Some("商品或SKU不存在"),
            rid,
        ));
    }
    for k in keys {
        inner.stock.insert(k, quantity);
    }
    let now = top_time(Utc::now());
    Ok(
        json!({"item_quantity_update_response": {"item": {"num_iid": num_iid, "num": quantity, "modified": now}, "request_id": rid}}),
    )
}

fn skus_quantity(inner: &mut Inner, p: &BTreeMap<String, String>, rid: &str) -> Handled {
    let num_iid: u64 = parse_num(p, "num_iid", rid)?;
    let list = p.get("outerid_quantities").ok_or_else(|| {
        err_body(
            40,
            "Missing Required Arguments",
            Some("isv.missing-parameter:outerid_quantities"),
            None,
            rid,
        )
    })?;
    let mut updates = Vec::new();
    for pair in list.split(';').filter(|s| !s.is_empty()) {
        let (outer, qty) = pair
            .rsplit_once(':')
            .ok_or_else(|| invalid_arg("outerid_quantities", "格式:outerId:数量;…", rid))?;
        let qty: u32 = qty
            .parse()
            .map_err(|_| invalid_arg("outerid_quantities", "数量不是整数", rid))?;
        updates.push(((num_iid, outer.to_owned()), qty));
    }
    if updates.is_empty() || updates.len() > 20 {
        return Err(invalid_arg("outerid_quantities", "一次最多20个SKU", rid));
    }
    if updates.iter().any(|(k, _)| !inner.stock.contains_key(k)) {
        return Err(err_body(
            15,
            "Remote service error",
            Some("isv.item-not-exist"),
            Some("商品或SKU不存在"),
            rid,
        ));
    }
    for (k, q) in updates {
        inner.stock.insert(k, q);
    }
    let now = top_time(Utc::now());
    Ok(
        json!({"skus_quantity_update_response": {"item": {"num_iid": num_iid, "modified": now}, "request_id": rid}}),
    )
}

fn offline_send(inner: &mut Inner, p: &BTreeMap<String, String>, rid: &str) -> Handled {
    let need = |k: &str| {
        p.get(k).filter(|v| !v.is_empty()).cloned().ok_or_else(|| {
            err_body(
                40,
                "Missing Required Arguments",
                Some(&format!("isv.missing-parameter:{k}")),
                None,
                rid,
            )
        })
    };
    let (tid, out_sid, company) = (need("tid")?, need("out_sid")?, need("company_code")?);
    let split = p.get("is_split").is_some_and(|v| v == "1");
    let sub: Vec<String> = if split {
        need("sub_tid")?
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    } else {
        Vec::new()
    };
    inner.change_clock += chrono::Duration::seconds(1);
    let at = inner.change_clock;
    let refused = |why: &str| {
        err_body(
            15,
            "Remote service error",
            Some("isv.logistics-offline-service-error:B04"),
            Some(why),
            rid,
        )
    };
    let Some(row) = inner.trades.iter_mut().find(|t| t.tid == tid) else {
        return Err(err_body(
            15,
            "Remote service error",
            Some("isv.trade-not-exist"),
            Some("交易不存在"),
            rid,
        ));
    };
    let orders = row.json["orders"]["order"].as_array_mut();
    let Some(orders) = orders else {
        return Err(refused("交易没有子订单"));
    };
    let targets: Vec<usize> = orders
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            sub.is_empty()
                || o["oid_str"]
                    .as_str()
                    .is_some_and(|id| sub.iter().any(|s| s == id))
        })
        .map(|(i, _)| i)
        .collect();
    if targets.is_empty() || (!sub.is_empty() && targets.len() != sub.len()) {
        return Err(refused("子订单不属于该交易"));
    }
    for &i in &targets {
        let st = orders[i]["status"].as_str().unwrap_or("");
        if st != "WAIT_SELLER_SEND_GOODS" {
            return Err(refused("订单状态不允许发货（已发货或未付款）"));
        }
    }
    for &i in &targets {
        orders[i]["status"] = json!("WAIT_BUYER_CONFIRM_GOODS");
        orders[i]["consign_time"] = json!(top_time(at));
        orders[i]["invoice_no"] = json!(out_sid);
        orders[i]["logistics_company"] = json!(company);
    }
    let all_shipped = orders
        .iter()
        .all(|o| o["status"] != json!("WAIT_SELLER_SEND_GOODS"));
    row.json["status"] = json!(if all_shipped {
        "WAIT_BUYER_CONFIRM_GOODS"
    } else {
        "SELLER_CONSIGNED_PART"
    });
    if !all_shipped {
        row.json["is_part_consign"] = json!(true);
    }
    row.json["consign_time"] = json!(top_time(at));
    row.json["modified"] = json!(top_time(at));
    row.modified = at;
    let oids: Vec<String> = targets
        .iter()
        .filter_map(|&i| {
            row.json["orders"]["order"][i]["oid_str"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    inner.shipments.push((tid, company, out_sid, oids));
    Ok(
        json!({"logistics_offline_send_response": {"shipping": {"is_success": true}, "request_id": rid}}),
    )
}
