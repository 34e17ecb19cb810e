//! Shopify Admin GraphQL simulator: `POST /admin/api/{version}/graphql.json` on loopback.
//!
//! What it implements, with its own code (none shared with the connector):
//!
//! * **Auth**: `X-Shopify-Access-Token` must match; otherwise HTTP 401 with Shopify's body
//!   `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`.
//!   A malformed version segment answers 404 `{"errors":"Not Found"}`.
//! * **Calculated query cost**: requested cost by Shopify's rules (scalar 0, object 1,
//!   connection `2 + first × node`, mutation 10), the single-query limit of 1000
//!   (`MAX_COST_EXCEEDED`), a leaky bucket (`maximumAvailable`, `restoreRate` per second,
//!   refunded down to the actual cost after execution), and `THROTTLED` answers (HTTP 200,
//!   `errors[0].extensions.code = "THROTTLED"`, `extensions.cost` with `actualQueryCost: null`)
//!   exactly as Shopify sends them. Every answer carries `extensions.cost`.
//! * **Pagination**: `first` (≤ 250) / `after` with opaque cursors, `pageInfo { hasNextPage
//!   endCursor }`, `sortKey: UPDATED_AT`, nested connections paged by their own `first`/`after`.
//! * **Search syntax**: `updated_at:>='…' updated_at:<'…'`, `id:…` joined by `OR`,
//!   `sku:"…"`, `issued_at`, `payments_transfer_id`.
//! * **Projection**: answers contain exactly the selected fields; a field the simulated
//!   schema lacks is a GraphQL error, as on Shopify.
//! * **Mutations**: `inventorySetQuantities` (version rules for `compareQuantity` /
//!   `changeFromQuantity`, the `@idempotent(key:)` directive from 2026-01: a repeated key
//!   replays the first answer, the same key with other input is
//!   `IDEMPOTENCY_KEY_PARAMETER_MISMATCH`) and `fulfillmentCreate` against fulfilment orders.
//! * **Faults** on demand ([`SimFault`]): throttle stating an exact wait, 5xx, a delayed
//!   answer (client timeout), a malformed record and a duplicated record in the next page.
//! * **Late records**: [`ShopifySim::publish_late_order`] (an order created inside the seeded
//!   window, updated later) and [`ShopifySim::publish_late_payout`] (a payout issued later
//!   for a charge made inside the window).

pub mod data;
pub mod gql;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use serde_json::{Map, Value, json};

use self::data::{SimOrder, SimPayout};
use self::gql::{Field, OpKind, Operation};

/// Shopify's 401 body for a wrong or revoked access token.
pub const INVALID_TOKEN_BODY: &str =
    r#"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}"#;

/// Shopify's single-query cost limit.
pub const MAX_QUERY_COST: u64 = 1000;

/// Simulator settings.
#[derive(Clone, Debug)]
pub struct ShopifySimConfig {
    /// The access token the shop accepts.
    pub access_token: String,
    /// Bucket size (points).
    pub maximum_available: f64,
    /// Points restored per second.
    pub restore_rate: f64,
    /// Start of the seeded update window.
    pub window_start: DateTime<Utc>,
    /// Orders seeded inside the window (besides one unknown-status order).
    pub order_count: usize,
}

impl Default for ShopifySimConfig {
    /// The Standard plan bucket (2000 points, 100/s), ten orders from 2024-03-18T00:00Z.
    fn default() -> Self {
        ShopifySimConfig {
            access_token: "shpat_simulator_token".into(),
            maximum_available: 2000.0,
            restore_rate: 100.0,
            window_start: Utc
                .with_ymd_and_hms(2024, 3, 18, 0, 0, 0)
                .single()
                .unwrap_or_else(Utc::now),
            order_count: 10,
        }
    }
}

/// A fault applied to upcoming requests.
#[derive(Clone, Debug, PartialEq)]
pub enum SimFault {
    /// Answer the next request `THROTTLED`, with a bucket state whose wait is exactly this.
    Throttle(Duration),
    /// Answer the next request with HTTP 503.
    ServerError,
    /// Hold the next answer this long (to make a client time out).
    Delay(Duration),
    /// Corrupt `totalPriceSet.shopMoney.amount` of the first order of the next orders page.
    MalformedRecord,
    /// Repeat the first order of the next orders page at its end.
    DuplicateRecord,
}

struct Bucket {
    available: f64,
    at: Instant,
}

struct SimState {
    config: ShopifySimConfig,
    orders: Vec<SimOrder>,
    payouts: Vec<SimPayout>,
    levels: BTreeMap<(String, String), i64>,
    idempotency: HashMap<String, (Value, Value)>,
    bucket: Bucket,
    request_faults: VecDeque<SimFault>,
    malformed: bool,
    duplicate: bool,
    next_id: u64,
    log: Vec<String>,
}

/// A running simulator. Dropping it stops the server.
pub struct ShopifySim {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    state: Arc<Mutex<SimState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ShopifySim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for ShopifySim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifySim")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Starts a simulator on `127.0.0.1:0` with the seeded data set.
pub async fn start(config: ShopifySimConfig) -> std::io::Result<ShopifySim> {
    let orders = data::seed_orders(config.window_start, config.order_count);
    let payouts = data::seed_payouts(config.window_start, &orders);
    let mut levels = BTreeMap::new();
    for (_, item) in data::SKUS {
        levels.insert(
            (
                format!("gid://shopify/InventoryItem/{item}"),
                data::LOCATION.to_owned(),
            ),
            10,
        );
    }
    let state = Arc::new(Mutex::new(SimState {
        bucket: Bucket {
            available: config.maximum_available,
            at: Instant::now(),
        },
        config,
        orders,
        payouts,
        levels,
        idempotency: HashMap::new(),
        request_faults: VecDeque::new(),
        malformed: false,
        duplicate: false,
        next_id: 80_000,
        log: Vec::new(),
    }));
    let app = Router::new()
        .route("/admin/api/{version}/graphql.json", post(graphql))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "shopify simulator stopped");
        }
    });
    Ok(ShopifySim {
        base_url: format!("http://{addr}"),
        state,
        task,
    })
}

impl ShopifySim {
    fn with<T>(&self, f: impl FnOnce(&mut SimState) -> T) -> Option<T> {
        self.state.lock().ok().map(|mut s| f(&mut s))
    }

    /// The seeded update window `[start, end)`.
    pub fn window(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        self.with(|s| {
            let start = s.config.window_start;
            (
                start,
                start + ChronoDuration::hours(s.config.order_count as i64),
            )
        })
        .unwrap_or_default()
    }

    /// GIDs of the orders whose `updatedAt` is inside [`ShopifySim::window`].
    pub fn expected_order_ids(&self) -> Vec<String> {
        let (start, end) = self.window();
        self.with(|s| {
            s.orders
                .iter()
                .filter(|o| o.updated_at >= start && o.updated_at < end)
                .map(|o| format!("gid://shopify/Order/{}", o.id))
                .collect()
        })
        .unwrap_or_default()
    }

    /// The seeded order whose financial status no client knows.
    pub fn unknown_status_order(&self) -> Option<String> {
        self.with(|s| {
            s.orders
                .iter()
                .find(|o| o.json["displayFinancialStatus"] == "PAID_IN_GOLD")
                .map(|o| format!("gid://shopify/Order/{}", o.id))
        })
        .flatten()
    }

    /// A seeded order object.
    pub fn order(&self, gid: &str) -> Option<Value> {
        self.with(|s| {
            s.orders
                .iter()
                .find(|o| o.json["id"] == gid)
                .map(|o| o.json.clone())
        })
        .flatten()
    }

    /// Appends `n` one-unit lines (1.00 each, with 8% sales tax unless the order's prices
    /// include tax) to a seeded order, keeping its totals consistent: a large order whose
    /// lines span several `lineItems` pages.
    pub fn add_line_items(&self, order_gid: &str, n: usize) {
        self.with(|s| {
            let Some(o) = s.orders.iter_mut().find(|o| o.json["id"] == order_gid) else {
                return;
            };
            let included = o.json["taxesIncluded"] == true;
            let tax = if included { 17 } else { 8 };
            let mut added = 0;
            for k in 0..n {
                let id = format!("gid://shopify/LineItem/{}", o.id * 1000 + 100 + k as u64);
                let line = json!({
                    "__typename": "LineItem", "id": id, "sku": format!("SKU-X{k}"),
                    "title": format!("Extra {k}"), "quantity": 1, "currentQuantity": 1,
                    "variant": null, "product": null,
                    "originalUnitPriceSet": data::bag(100, "USD", None),
                    "discountAllocations": [],
                    "taxLines": [{"__typename": "TaxLine", "title": "State Sales Tax", "rate": 0.08,
                        "ratePercentage": 8.0, "priceSet": data::bag(tax, "USD", None), "channelLiable": false}],
                });
                if let Some(lines) = o.json["lineItems"]["nodes"].as_array_mut() {
                    lines.push(line);
                    added += 100 + if included { 0 } else { tax };
                }
            }
            for side in ["shopMoney", "presentmentMoney"] {
                let amount = &mut o.json["totalPriceSet"][side]["amount"];
                let cents: i64 = amount
                    .as_str()
                    .and_then(|a| a.replace('.', "").parse().ok())
                    .unwrap_or(0);
                *amount = json!(data::cents(cents + added));
            }
        });
    }

    /// Makes a late order visible: a copy of the first paid order of the window under a new
    /// id, keeping its creation time, with `updatedAt` set to `updated_at`. Returns its GID.
    pub fn publish_late_order(&self, updated_at: DateTime<Utc>) -> Option<String> {
        let (start, end) = self.window();
        self.with(|s| {
            let template = s
                .orders
                .iter()
                .filter(|o| o.updated_at >= start && o.updated_at < end)
                .find(|o| o.json["displayFinancialStatus"] == "PAID")?
                .clone();
            s.next_id += 1;
            let id = s.next_id;
            let mut json = template.json;
            json["id"] = json!(format!("gid://shopify/Order/{id}"));
            json["legacyResourceId"] = json!(id.to_string());
            json["name"] = json!(format!("#L{id}"));
            json["updatedAt"] = json!(data::iso(updated_at));
            let gid = format!("gid://shopify/Order/{id}");
            s.orders.push(SimOrder {
                id,
                updated_at,
                json,
            });
            Some(gid)
        })
        .flatten()
    }

    /// Issues a late payout at `issued_at`, paying the charge of the first paid order of the
    /// window (dated when that order was paid). Returns the payout's GID.
    pub fn publish_late_payout(&self, issued_at: DateTime<Utc>) -> Option<String> {
        let (start, end) = self.window();
        self.with(|s| {
            let order = s
                .orders
                .iter()
                .filter(|o| o.updated_at >= start && o.updated_at < end)
                .find(|o| o.json["displayFinancialStatus"] == "PAID")?
                .clone();
            let legacy = 9_100 + s.payouts.len() as u64;
            let payout = data::late_payout(legacy, issued_at, &order);
            let gid = payout.json["id"].as_str().map(str::to_owned);
            s.payouts.push(payout);
            gid
        })
        .flatten()
    }

    /// Queues a fault.
    pub fn inject(&self, fault: SimFault) {
        self.with(|s| match fault {
            SimFault::MalformedRecord => s.malformed = true,
            SimFault::DuplicateRecord => s.duplicate = true,
            other => s.request_faults.push_back(other),
        });
    }

    /// Sets the points currently available in the bucket.
    pub fn set_available(&self, points: f64) {
        self.with(|s| {
            s.bucket.available = points;
            s.bucket.at = Instant::now();
        });
    }

    /// `available` at an inventory item and location.
    pub fn inventory_level(&self, item: &str, location: &str) -> Option<i64> {
        self.with(|s| {
            s.levels
                .get(&(item.to_owned(), location.to_owned()))
                .copied()
        })
        .flatten()
    }

    /// Root fields of every GraphQL request received, in order (`orders`, `inventorySetQuantities`…).
    pub fn requests(&self) -> Vec<String> {
        self.with(|s| s.log.clone()).unwrap_or_default()
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn gql_error(message: impl Into<String>) -> Value {
    json!({"errors": [{"message": message.into(), "locations": [{"line": 1, "column": 1}]}]})
}

fn version_tuple(v: &str) -> Option<(u16, u8)> {
    if v == "unstable" {
        return Some((9999, 12));
    }
    let (y, m) = v.split_once('-')?;
    let m: u8 = m.parse().ok()?;
    (y.len() == 4 && (1..=12).contains(&m)).then_some(())?;
    Some((y.parse().ok()?, m))
}

fn cost_extension(
    requested: u64,
    actual: Option<u64>,
    available: f64,
    config: &ShopifySimConfig,
) -> Value {
    json!({"cost": {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": {
            "maximumAvailable": config.maximum_available,
            "currentlyAvailable": available.floor() as i64,
            "restoreRate": config.restore_rate,
        }
    }})
}

async fn graphql(
    State(state): State<Arc<Mutex<SimState>>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(ver) = version_tuple(&version) else {
        return json_response(StatusCode::NOT_FOUND, json!({"errors": "Not Found"}));
    };
    let delay = {
        let Ok(mut st) = state.lock() else {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"errors": "Internal Server Error"}),
            );
        };
        let token_ok = headers
            .get("x-shopify-access-token")
            .and_then(|v| v.to_str().ok())
            == Some(st.config.access_token.as_str());
        if !token_ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                INVALID_TOKEN_BODY,
            )
                .into_response();
        }
        match st.request_faults.front() {
            Some(SimFault::Delay(d)) => {
                let d = *d;
                st.request_faults.pop_front();
                Some(d)
            }
            Some(SimFault::ServerError) => {
                st.request_faults.pop_front();
                return json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"errors": "Service Unavailable"}),
                );
            }
            _ => None,
        }
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let Ok(mut st) = state.lock() else {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"errors": "Internal Server Error"}),
        );
    };
    let (status, body) = execute(&mut st, ver, &body);
    let mut response = json_response(status, body);
    let request_id = format!("sim-{}", st.log.len());
    if let Ok(v) = request_id.parse() {
        response.headers_mut().insert("x-request-id", v);
    }
    if let Ok(v) = version.parse() {
        response.headers_mut().insert("x-shopify-api-version", v);
    }
    response
}

fn execute(st: &mut SimState, version: (u16, u8), body: &[u8]) -> (StatusCode, Value) {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return (
            StatusCode::BAD_REQUEST,
            json!({"errors": {"query": "Required parameter missing or invalid"}}),
        );
    };
    let Some(query) = request.get("query").and_then(Value::as_str) else {
        return (
            StatusCode::BAD_REQUEST,
            json!({"errors": {"query": "Required parameter missing or invalid"}}),
        );
    };
    let vars = request.get("variables").cloned().unwrap_or(Value::Null);
    let op = match gql::parse(query) {
        Ok(op) => op,
        Err(e) => return (StatusCode::OK, gql_error(e)),
    };
    st.log.extend(op.root_fields().map(|f| f.name.clone()));
    let requested = gql::requested_cost(&op, &vars);
    if requested > MAX_QUERY_COST {
        return (
            StatusCode::OK,
            json!({"errors": [{
                "message": format!("Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"),
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST}
            }]}),
        );
    }
    // Leaky bucket.
    let now = Instant::now();
    let elapsed = now.duration_since(st.bucket.at).as_secs_f64();
    st.bucket.available =
        (st.bucket.available + elapsed * st.config.restore_rate).min(st.config.maximum_available);
    st.bucket.at = now;
    let forced = match st.request_faults.front() {
        Some(SimFault::Throttle(wait)) => {
            let wait = *wait;
            st.request_faults.pop_front();
            Some((requested as f64 - st.config.restore_rate * wait.as_secs_f64()).max(0.0))
        }
        _ => None,
    };
    let requested_f = requested as f64;
    if forced.is_some() || requested_f > st.bucket.available {
        let available = forced.unwrap_or(st.bucket.available);
        return (
            StatusCode::OK,
            json!({
                "errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": cost_extension(requested, None, available, &st.config),
            }),
        );
    }
    st.bucket.available -= requested_f;
    let result = match op.kind {
        OpKind::Query => run_query(st, &op, &vars),
        OpKind::Mutation => run_mutation(st, &op, &vars, version),
    };
    match result {
        Ok(data) => {
            let actual = gql::actual_cost(&op.selection, &data, &vars).min(requested);
            let actual = if op.kind == OpKind::Mutation {
                requested
            } else {
                actual
            };
            st.bucket.available = (st.bucket.available + (requested - actual) as f64)
                .min(st.config.maximum_available);
            let ext = cost_extension(requested, Some(actual), st.bucket.available, &st.config);
            (StatusCode::OK, json!({"data": data, "extensions": ext}))
        }
        Err(message) => {
            st.bucket.available =
                (st.bucket.available + requested_f).min(st.config.maximum_available);
            let mut body = gql_error(message);
            body["extensions"] =
                cost_extension(requested, Some(0), st.bucket.available, &st.config);
            (StatusCode::OK, body)
        }
    }
}

/// One term of Shopify's search syntax: `field:>=value`.
#[derive(Clone, Debug, PartialEq)]
struct Term {
    field: String,
    op: String,
    value: String,
}

/// Parses `a:>='x' b:<"y" OR id:3` into OR-groups of AND-terms.
fn parse_search(q: &str) -> Vec<Vec<Term>> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = q.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(qc), c) if c == qc => quote = None,
            (Some(_), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    let mut groups = vec![Vec::new()];
    for t in tokens {
        if t == "OR" {
            groups.push(Vec::new());
            continue;
        }
        if t == "AND" {
            continue;
        }
        let Some((field, rest)) = t.split_once(':') else {
            continue;
        };
        let (op, value) = [">=", "<=", ">", "<"]
            .iter()
            .find_map(|op| {
                rest.strip_prefix(op)
                    .map(|v| ((*op).to_owned(), v.to_owned()))
            })
            .unwrap_or_else(|| ("=".to_owned(), rest.to_owned()));
        if let Some(g) = groups.last_mut() {
            g.push(Term {
                field: field.to_owned(),
                op,
                value,
            });
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

fn cmp_time(actual: DateTime<Utc>, term: &Term) -> bool {
    let Ok(v) = DateTime::parse_from_rfc3339(&term.value) else {
        return false;
    };
    let v = v.with_timezone(&Utc);
    match term.op.as_str() {
        ">=" => actual >= v,
        ">" => actual > v,
        "<=" => actual <= v,
        "<" => actual < v,
        _ => actual == v,
    }
}

fn matches_search(groups: &[Vec<Term>], pred: impl Fn(&Term) -> Option<bool>) -> bool {
    groups.is_empty()
        || groups
            .iter()
            .any(|g| g.iter().all(|t| pred(t).unwrap_or(true)))
}

fn first_of(f: &Field, vars: &Value) -> Result<usize, String> {
    match f.arg("first", vars).as_u64() {
        Some(n) if (1..=250).contains(&n) => Ok(n as usize),
        Some(_) => Err(format!(
            "The '{}' field's first argument must be between 1 and 250",
            f.name
        )),
        None => Err("you must provide one of first or last".into()),
    }
}

fn paged(nodes: Vec<Value>, has_next: bool, end_cursor: Option<String>) -> Value {
    json!({"__paged": true, "nodes": nodes, "edges": [],
        "pageInfo": {"hasNextPage": has_next, "endCursor": end_cursor}})
}

fn order_cursor(o: &SimOrder) -> String {
    STANDARD.encode(json!({"last_id": o.id, "last_value": data::iso(o.updated_at)}).to_string())
}

fn parse_order_cursor(c: &str) -> Option<(DateTime<Utc>, u64)> {
    let v: Value = serde_json::from_slice(&STANDARD.decode(c).ok()?).ok()?;
    let t = DateTime::parse_from_rfc3339(v.get("last_value")?.as_str()?).ok()?;
    Some((t.with_timezone(&Utc), v.get("last_id")?.as_u64()?))
}

fn resolve_orders(st: &mut SimState, f: &Field, vars: &Value) -> Result<Value, String> {
    let first = first_of(f, vars)?;
    let groups = parse_search(f.arg("query", vars).as_str().unwrap_or(""));
    let by_updated = f.arg("sortKey", vars).as_str() == Some("UPDATED_AT");
    let mut list: Vec<&SimOrder> = st
        .orders
        .iter()
        .filter(|o| {
            matches_search(&groups, |t| match t.field.as_str() {
                "updated_at" => Some(cmp_time(o.updated_at, t)),
                "id" => Some(t.value == o.id.to_string()),
                _ => None,
            })
        })
        .collect();
    list.sort_by_key(|o| {
        if by_updated {
            (o.updated_at, o.id)
        } else {
            (DateTime::<Utc>::MIN_UTC, o.id)
        }
    });
    let after = match f.arg("after", vars).as_str() {
        Some(c) => Some(parse_order_cursor(c).ok_or("Invalid cursor")?),
        None => None,
    };
    let start = match after {
        Some((t, id)) => list
            .iter()
            .position(|o| {
                if by_updated {
                    (o.updated_at, o.id) > (t, id)
                } else {
                    o.id > id
                }
            })
            .unwrap_or(list.len()),
        None => 0,
    };
    let end = (start + first).min(list.len());
    let page: Vec<&SimOrder> = list
        .get(start..end)
        .map(<[&SimOrder]>::to_vec)
        .unwrap_or_default();
    let end_cursor = page.last().map(|o| order_cursor(o));
    let mut nodes: Vec<Value> = page.iter().map(|o| o.json.clone()).collect();
    let has_next = end < list.len();
    if st.malformed && !nodes.is_empty() {
        st.malformed = false;
        nodes[0]["totalPriceSet"]["shopMoney"]["amount"] = json!("N/A");
    }
    if st.duplicate && !nodes.is_empty() {
        st.duplicate = false;
        let dup = nodes[0].clone();
        nodes.push(dup);
    }
    Ok(paged(nodes, has_next, end_cursor))
}

fn resolve_variants(st: &SimState, f: &Field, vars: &Value) -> Result<Value, String> {
    let first = first_of(f, vars)?;
    let groups = parse_search(f.arg("query", vars).as_str().unwrap_or(""));
    let nodes: Vec<Value> = data::SKUS
        .iter()
        .filter(|(sku, _)| {
            matches_search(&groups, |t| match t.field.as_str() {
                "sku" => Some(t.value == *sku),
                _ => None,
            })
        })
        .take(first)
        .map(|(sku, item)| {
            json!({"__typename": "ProductVariant", "id": format!("gid://shopify/ProductVariant/{}", item + 1000),
                "sku": sku, "inventoryItem": {"__typename": "InventoryItem", "id": format!("gid://shopify/InventoryItem/{item}")}})
        })
        .collect();
    let _ = st;
    Ok(paged(nodes, false, None))
}

fn index_page(all: Vec<Value>, f: &Field, vars: &Value) -> Result<Value, String> {
    let first = first_of(f, vars)?;
    let start = match f.arg("after", vars).as_str() {
        Some(c) => {
            let v: Value = STANDARD
                .decode(c)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or("Invalid cursor")?;
            v.get("offset")
                .and_then(Value::as_u64)
                .ok_or("Invalid cursor")? as usize
                + 1
        }
        None => 0,
    };
    let end = (start + first).min(all.len());
    let nodes = all
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let cursor = (end > start).then(|| STANDARD.encode(json!({"offset": end - 1}).to_string()));
    Ok(paged(nodes, end < all.len(), cursor))
}

fn resolve_payments_account(st: &SimState, f: &Field, vars: &Value) -> Result<Value, String> {
    let mut obj = Map::new();
    obj.insert("__typename".into(), json!("ShopifyPaymentsAccount"));
    obj.insert("id".into(), json!("gid://shopify/ShopifyPaymentsAccount/1"));
    for s in &f.selection {
        let gql::Selection::Field(child) = s else {
            continue;
        };
        match child.name.as_str() {
            "payouts" => {
                let groups = parse_search(child.arg("query", vars).as_str().unwrap_or(""));
                let mut list: Vec<&SimPayout> = st
                    .payouts
                    .iter()
                    .filter(|p| {
                        matches_search(&groups, |t| match t.field.as_str() {
                            "issued_at" => Some(cmp_time(p.issued_at, t)),
                            _ => None,
                        })
                    })
                    .collect();
                list.sort_by_key(|p| p.issued_at);
                let all = list.iter().map(|p| p.json.clone()).collect();
                obj.insert("payouts".into(), index_page(all, child, vars)?);
            }
            "balanceTransactions" => {
                let groups = parse_search(child.arg("query", vars).as_str().unwrap_or(""));
                let all: Vec<Value> = st
                    .payouts
                    .iter()
                    .filter(|p| {
                        matches_search(&groups, |t| match t.field.as_str() {
                            "payments_transfer_id" => Some(t.value == p.legacy_id.to_string()),
                            _ => None,
                        })
                    })
                    .flat_map(|p| p.transactions.iter().cloned())
                    .collect();
                obj.insert("balanceTransactions".into(), index_page(all, child, vars)?);
            }
            _ => {}
        }
    }
    Ok(Value::Object(obj))
}

fn run_query(st: &mut SimState, op: &Operation, vars: &Value) -> Result<Value, String> {
    let mut data = Map::new();
    for f in op.root_fields() {
        let value = match f.name.as_str() {
            "shop" => {
                json!({"__typename": "Shop", "name": "marketsync demo", "currencyCode": "USD",
                "ianaTimezone": "America/New_York", "myshopifyDomain": "marketsync-demo.myshopify.com"})
            }
            "orders" => resolve_orders(st, f, vars)?,
            "order" => {
                let id = f.arg("id", vars);
                st.orders
                    .iter()
                    .find(|o| o.json["id"] == id)
                    .map_or(Value::Null, |o| o.json.clone())
            }
            "productVariants" => resolve_variants(st, f, vars)?,
            "shopifyPaymentsAccount" => resolve_payments_account(st, f, vars)?,
            other => return Err(format!("Field '{other}' doesn't exist on type 'QueryRoot'")),
        };
        let projected = match value {
            Value::Object(ref o) if o.contains_key("__paged") => {
                gql::project(&value, &f.selection, vars)?
            }
            Value::Object(_) => {
                // Wrap so nested connections are paged by their own arguments.
                gql::project(&value, &f.selection, vars)?
            }
            other => gql::project(&other, &f.selection, vars)?,
        };
        data.insert(f.key().to_owned(), projected);
    }
    Ok(Value::Object(data))
}

fn user_error(code: &str, field: &[&str], message: &str) -> Value {
    json!({"__typename": "UserError", "code": code, "field": field, "message": message})
}

fn set_quantities(
    st: &mut SimState,
    f: &Field,
    vars: &Value,
    version: (u16, u8),
) -> Result<Value, String> {
    let input = f.arg("input", vars);
    let idem = f.directive("idempotent");
    if idem.is_some() && version < (2026, 1) {
        return Err("Directive 'idempotent' is not defined".into());
    }
    if idem.is_none() && version >= (2026, 4) {
        return Err("The @idempotent directive is required for this mutation.".into());
    }
    let key = idem
        .and_then(|d| d.args.iter().find(|(k, _)| k == "key"))
        .map(|(_, v)| v.resolve(vars))
        .and_then(|v| v.as_str().map(str::to_owned));
    if let Some(k) = &key {
        if let Some((seen_input, payload)) = st.idempotency.get(k) {
            if *seen_input == input {
                return Ok(payload.clone());
            }
            return Ok(
                json!({"inventoryAdjustmentGroup": null, "userErrors": [user_error(
                "IDEMPOTENCY_KEY_PARAMETER_MISMATCH", &["input"],
                "The same idempotency key cannot be used with different operation parameters.")]}),
            );
        }
    }
    let mut errors = Vec::new();
    if !matches!(
        input.get("name").and_then(Value::as_str),
        Some("available" | "on_hand")
    ) {
        errors.push(user_error(
            "INVALID_NAME",
            &["input", "name"],
            "The quantity name must be available or on_hand.",
        ));
    }
    if input.get("reason").and_then(Value::as_str).is_none() {
        errors.push(user_error(
            "INVALID_REASON",
            &["input", "reason"],
            "The reason is required.",
        ));
    }
    let quantities = input
        .get("quantities")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if quantities.is_empty() || quantities.len() > 250 {
        errors.push(user_error(
            "INVALID_QUANTITY",
            &["input", "quantities"],
            "Between 1 and 250 quantities are required.",
        ));
    }
    let ignore = input.get("ignoreCompareQuantity").and_then(Value::as_bool) == Some(true);
    let mut changes = Vec::new();
    for (i, q) in quantities.iter().enumerate() {
        let idx = i.to_string();
        let item = q
            .get("inventoryItemId")
            .and_then(Value::as_str)
            .unwrap_or("");
        let loc = q.get("locationId").and_then(Value::as_str).unwrap_or("");
        let Some(qty) = q.get("quantity").and_then(Value::as_i64) else {
            errors.push(user_error(
                "INVALID_QUANTITY",
                &["input", "quantities", &idx, "quantity"],
                "Quantity is required.",
            ));
            continue;
        };
        let level = st.levels.get(&(item.to_owned(), loc.to_owned())).copied();
        if !st.levels.keys().any(|(it, _)| it == item) {
            errors.push(user_error(
                "INVALID_INVENTORY_ITEM",
                &["input", "quantities", &idx, "inventoryItemId"],
                "The specified inventory item could not be found.",
            ));
            continue;
        }
        if level.is_none() {
            errors.push(user_error(
                "INVALID_LOCATION",
                &["input", "quantities", &idx, "locationId"],
                "The specified location could not be found.",
            ));
            continue;
        }
        if version >= (2026, 4) {
            match q.get("changeFromQuantity") {
                None => errors.push(user_error(
                    "CHANGE_FROM_QUANTITY_REQUIRED",
                    &["input", "quantities", &idx, "changeFromQuantity"],
                    "changeFromQuantity is required; pass null to opt out of the check.",
                )),
                Some(Value::Null) => {}
                Some(v) if v.as_i64() != level => errors.push(user_error(
                    "CHANGE_FROM_QUANTITY_STALE",
                    &["input", "quantities", &idx, "changeFromQuantity"],
                    "The changeFromQuantity does not match the persisted value.",
                )),
                Some(_) => {}
            }
        } else if !ignore {
            match q.get("compareQuantity").and_then(Value::as_i64) {
                None => errors.push(user_error("COMPARE_QUANTITY_REQUIRED", &["input", "quantities", &idx, "compareQuantity"], "The compareQuantity argument must be given to each quantity or ignored using ignoreCompareQuantity.")),
                Some(c) if Some(c) != level => errors.push(user_error("COMPARE_QUANTITY_STALE", &["input", "quantities", &idx, "compareQuantity"], "The compareQuantity value does not match persisted value.")),
                Some(_) => {}
            }
        }
        changes.push((item.to_owned(), loc.to_owned(), qty, level.unwrap_or(0)));
    }
    let payload = if errors.is_empty() {
        st.next_id += 1;
        let group_id = format!("gid://shopify/InventoryAdjustmentGroup/{}", st.next_id);
        let mut change_json = Vec::new();
        for (item, loc, qty, before) in changes {
            st.levels.insert((item.clone(), loc.clone()), qty);
            change_json.push(
                json!({"name": "available", "delta": qty - before, "quantityAfterChange": qty,
                "item": {"id": item}, "location": {"id": loc}}),
            );
        }
        json!({"inventoryAdjustmentGroup": {"__typename": "InventoryAdjustmentGroup", "id": group_id,
            "reason": input.get("reason").cloned().unwrap_or(Value::Null),
            "referenceDocumentUri": input.get("referenceDocumentUri").cloned().unwrap_or(Value::Null),
            "changes": change_json}, "userErrors": []})
    } else {
        json!({"inventoryAdjustmentGroup": null, "userErrors": errors})
    };
    if let Some(k) = key {
        st.idempotency.insert(k, (input, payload.clone()));
    }
    Ok(payload)
}

fn fulfillment_create(st: &mut SimState, f: &Field, vars: &Value) -> Result<Value, String> {
    let input = f.arg("fulfillment", vars);
    let groups = input
        .get("lineItemsByFulfillmentOrder")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let fail = |msg: &str| {
        Ok(json!({"fulfillment": null, "userErrors": [{"field": ["fulfillment"], "message": msg}]}))
    };
    let Some(first_fo) = groups
        .first()
        .and_then(|g| g.get("fulfillmentOrderId"))
        .and_then(Value::as_str)
    else {
        return fail("lineItemsByFulfillmentOrder is required.");
    };
    let Some(oi) = st.orders.iter().position(|o| {
        o.json["fulfillmentOrders"]["nodes"]
            .as_array()
            .is_some_and(|fos| fos.iter().any(|fo| fo["id"] == first_fo))
    }) else {
        return fail("Fulfillment order does not exist.");
    };
    let mut order = st.orders[oi].json.clone();
    let mut shipped: Vec<(String, i64)> = Vec::new();
    for g in &groups {
        let fo_id = g
            .get("fulfillmentOrderId")
            .and_then(Value::as_str)
            .unwrap_or("");
        let Some(fo) = order["fulfillmentOrders"]["nodes"]
            .as_array_mut()
            .and_then(|fos| fos.iter_mut().find(|fo| fo["id"] == fo_id))
        else {
            return fail("All fulfillment orders must belong to the same order.");
        };
        if !matches!(fo["status"].as_str(), Some("OPEN" | "IN_PROGRESS")) {
            return fail(&format!(
                "Fulfillment order {fo_id} has an unfulfillable status= {}.",
                fo["status"].as_str().unwrap_or("").to_lowercase()
            ));
        }
        let wanted: Option<Vec<(String, i64)>> = g
            .get("fulfillmentOrderLineItems")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|i| {
                        (
                            i["id"].as_str().unwrap_or("").to_owned(),
                            i["quantity"].as_i64().unwrap_or(0),
                        )
                    })
                    .collect()
            });
        let Some(lines) = fo["lineItems"]["nodes"].as_array_mut() else {
            return fail("Fulfillment order has no line items.");
        };
        let requests: Vec<(String, i64)> = match wanted {
            Some(w) => w,
            None => lines
                .iter()
                .map(|l| {
                    (
                        l["id"].as_str().unwrap_or("").to_owned(),
                        l["remainingQuantity"].as_i64().unwrap_or(0),
                    )
                })
                .collect(),
        };
        for (id, q) in requests {
            let Some(line) = lines.iter_mut().find(|l| l["id"] == id.as_str()) else {
                return fail("Invalid fulfillment order line item id.");
            };
            let left = line["remainingQuantity"].as_i64().unwrap_or(0);
            if q <= 0 || q > left {
                return fail("Invalid fulfillment order line item quantity requested.");
            }
            line["remainingQuantity"] = json!(left - q);
            if let Some(lid) = line["lineItem"]["id"].as_str() {
                shipped.push((lid.to_owned(), q));
            }
        }
        let done = lines
            .iter()
            .all(|l| l["remainingQuantity"].as_i64() == Some(0));
        fo["status"] = json!(if done { "CLOSED" } else { "IN_PROGRESS" });
    }
    st.next_id += 1;
    let tracking = input.get("trackingInfo").cloned().unwrap_or(Value::Null);
    let fulfillment = data::fulfillment_json(
        st.next_id,
        &shipped,
        tracking
            .get("company")
            .and_then(Value::as_str)
            .unwrap_or(""),
        tracking.get("number").and_then(Value::as_str).unwrap_or(""),
        st.orders[oi].updated_at,
    );
    let all_done = order["fulfillmentOrders"]["nodes"]
        .as_array()
        .is_some_and(|fos| fos.iter().all(|fo| fo["status"] == "CLOSED"));
    order["displayFulfillmentStatus"] = json!(if all_done {
        "FULFILLED"
    } else {
        "PARTIALLY_FULFILLED"
    });
    if let Some(list) = order["fulfillments"].as_array_mut() {
        list.push(fulfillment.clone());
    }
    st.orders[oi].json = order;
    Ok(json!({"fulfillment": fulfillment, "userErrors": []}))
}

fn run_mutation(
    st: &mut SimState,
    op: &Operation,
    vars: &Value,
    version: (u16, u8),
) -> Result<Value, String> {
    let mut data = Map::new();
    for f in op.root_fields() {
        let payload = match f.name.as_str() {
            "inventorySetQuantities" => set_quantities(st, f, vars, version)?,
            "fulfillmentCreate" => fulfillment_create(st, f, vars)?,
            other => return Err(format!("Field '{other}' doesn't exist on type 'Mutation'")),
        };
        data.insert(
            f.key().to_owned(),
            gql::project(&payload, &f.selection, vars)?,
        );
    }
    Ok(Value::Object(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_syntax() {
        let g =
            parse_search("updated_at:>='2024-01-01T00:00:00Z' updated_at:<'2024-01-02T00:00:00Z'");
        assert_eq!(g.len(), 1);
        assert_eq!(g[0][0].op, ">=");
        assert_eq!(g[0][1].value, "2024-01-02T00:00:00Z");
        let g = parse_search("id:1 OR id:2");
        assert_eq!(g.len(), 2);
        let g = parse_search(r#"sku:"A \"B\"""#);
        assert_eq!(g[0][0].value, "A \"B\"");
    }
}
