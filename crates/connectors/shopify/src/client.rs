//! The GraphQL transport: one POST to `/admin/api/{version}/graphql.json` per call, and the
//! **one** table that turns Shopify's answers into [`marketsync_core::Error`]s
//! ([`parse_error`]).
//!
//! Shopify throttles GraphQL by calculated query cost: a leaky bucket of
//! `maximumAvailable` points that refills at `restoreRate` points per second. A query that
//! needs more than `currentlyAvailable` is answered (HTTP 200) with an error whose
//! `extensions.code` is `THROTTLED`, and `extensions.cost` describes the bucket. The wait is
//! exactly `(requestedQueryCost − currentlyAvailable) / restoreRate` seconds; it is returned
//! as `RateLimited { retry_after }`. The connector never sleeps or retries.

use std::sync::Mutex;
use std::time::Duration;

use http::{Method, StatusCode};
use marketsync_core::{Cursor, Error, ErrorKind, ReasonCode, Result};
use marketsync_http::{HttpClient, HttpConfig, HttpRequest, classify_status};
use serde_json::{Value, json};
use url::Url;

use crate::auth::AccessTokenSigner;
use crate::config::ShopifyConfig;
use crate::wire::{PageInfo, QueryCost, ThrottleStatus};

// ---- paging bounds ----
//
// Shopify's `pageInfo` is the server's word: a `hasNextPage` that never turns false, or an
// `endCursor` that does not move, would page forever. The connector's cursors therefore carry
// how many pages the walk has read (`shp1:<pages>:<Shopify cursor>`), a walk stops with an
// error at the cap, and a cursor that does not advance is an error, not a loop.

/// The default cap on pages per window walk (10,000 pages: half a million orders at 50 a
/// page; narrow the window beyond that).
pub const DEFAULT_MAX_PAGES_PER_WINDOW: u32 = 10_000;

/// The cap on pages of a nested connection read inside one call (an order's line items, a
/// payout's balance transactions).
pub const MAX_NESTED_PAGES: u32 = 1_000;

const CURSOR_PREFIX: &str = "shp1:";

/// The error for a walk the page cap stops.
pub fn page_cap_exceeded(operation: &str, cap: u32) -> Error {
    Error::new(
        ErrorKind::Unexpected,
        format!("{operation}: more than {cap} pages; the walk is stopped at the cap"),
    )
    .with_reason(ReasonCode::Other("page_cap_exceeded".into()))
    .with_context("connector", "shopify")
    .with_context("operation", operation)
    .with_context("max_pages", cap)
}

fn cursor_stuck(operation: &str, why: &str) -> Error {
    Error::new(ErrorKind::Unexpected, format!("{operation}: {why}"))
        .with_reason(ReasonCode::Other("cursor_not_advancing".into()))
        .with_context("connector", "shopify")
        .with_context("operation", operation)
}

/// Splits a connector cursor into (pages read so far, Shopify's cursor). A cursor without the
/// `shp1:` prefix is a bare Shopify cursor from an earlier version (counted as one page).
fn decode_cursor(c: &Cursor) -> Result<(u32, String)> {
    match c.as_str().strip_prefix(CURSOR_PREFIX) {
        Some(rest) => {
            let (n, raw) = rest.split_once(':').ok_or_else(|| {
                Error::new(ErrorKind::ConfigInvalid, "not a Shopify connector cursor")
            })?;
            let n = n.parse::<u32>().map_err(|_| {
                Error::new(ErrorKind::ConfigInvalid, "not a Shopify connector cursor")
            })?;
            Ok((n, raw.to_owned()))
        }
        None => Ok((1, c.as_str().to_owned())),
    }
}

/// Shopify's `after` argument for a connector cursor (`None` for the first page).
pub fn after_cursor(cursor: Option<&Cursor>) -> Result<Option<String>> {
    cursor
        .map(|c| decode_cursor(c).map(|(_, raw)| raw))
        .transpose()
}

/// The connector cursor for the page after `page`, read with `previous` (`None` for the first
/// page): `None` when the walk is done. Errors: `hasNextPage` without an `endCursor`, an
/// `endCursor` equal to the one just sent (`cursor_not_advancing`), or a next page beyond
/// `max_pages` (`page_cap_exceeded`).
pub fn next_page_cursor(
    operation: &str,
    previous: Option<&Cursor>,
    page: &PageInfo,
    max_pages: u32,
) -> Result<Option<Cursor>> {
    if !page.has_next_page {
        return Ok(None);
    }
    let end = page
        .end_cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| cursor_stuck(operation, "hasNextPage without an endCursor"))?;
    let (read_before, sent) = match previous {
        Some(c) => {
            let (n, raw) = decode_cursor(c)?;
            (n, Some(raw))
        }
        None => (0, None),
    };
    if sent.as_deref() == Some(end) {
        return Err(cursor_stuck(operation, "the endCursor does not advance"));
    }
    let read = read_before.saturating_add(1);
    if read >= max_pages {
        return Err(page_cap_exceeded(operation, max_pages));
    }
    Ok(Some(Cursor::new(format!("{CURSOR_PREFIX}{read}:{end}"))))
}

/// Guards a nested connection read in a loop inside one call: at most [`MAX_NESTED_PAGES`]
/// pages, and each `endCursor` must differ from the previous one.
#[derive(Debug)]
pub struct NestedPages {
    operation: &'static str,
    pages: u32,
    max: u32,
    last: Option<String>,
}

impl NestedPages {
    /// A guard for `operation`, capped at [`MAX_NESTED_PAGES`].
    pub fn new(operation: &'static str) -> NestedPages {
        NestedPages::with_cap(operation, MAX_NESTED_PAGES)
    }

    /// A guard with another cap (at least 1).
    pub fn with_cap(operation: &'static str, max: u32) -> NestedPages {
        NestedPages {
            operation,
            pages: 1,
            max: max.max(1),
            last: None,
        }
    }

    /// Shopify's `after` for the page following `page`, or `None` when it was the last.
    pub fn advance(&mut self, page: &PageInfo) -> Result<Option<String>> {
        if !page.has_next_page {
            return Ok(None);
        }
        let end = page
            .end_cursor
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| cursor_stuck(self.operation, "hasNextPage without an endCursor"))?;
        if self.last.as_deref() == Some(end.as_str()) {
            return Err(cursor_stuck(
                self.operation,
                "the endCursor does not advance",
            ));
        }
        if self.pages >= self.max {
            return Err(page_cap_exceeded(self.operation, self.max));
        }
        self.pages = self.pages.saturating_add(1);
        self.last = Some(end.clone());
        Ok(Some(end))
    }
}

/// A successful GraphQL answer.
#[derive(Debug)]
pub struct GraphQlResponse {
    /// The `data` object.
    pub data: Value,
    /// `extensions.cost`, when present.
    pub cost: Option<QueryCost>,
    /// Shopify's `X-Request-Id`.
    pub request_id: Option<String>,
}

/// The exact wait the bucket needs before a query of `requested` points can run.
pub fn throttle_wait(requested: f64, status: &ThrottleStatus) -> Option<Duration> {
    if !(status.restore_rate.is_finite() && status.restore_rate > 0.0 && requested.is_finite()) {
        return None;
    }
    let missing = (requested - status.currently_available).max(0.0);
    // Round up to the millisecond so that waiting the returned time is always enough.
    let millis = (missing * 1000.0 / status.restore_rate).ceil();
    if !(0.0..=86_400_000.0).contains(&millis) {
        return None;
    }
    Some(Duration::from_millis(millis as u64))
}

fn cost_of(body: &Value) -> Option<QueryCost> {
    serde_json::from_value(body.get("extensions")?.get("cost")?.clone()).ok()
}

fn message_of(errors: &Value) -> String {
    match errors {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|e| e.get("message").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("; "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// Shopify's error table: HTTP status, GraphQL `errors[].extensions.code`, `Retry-After` and
/// `extensions.cost` → an [`Error`]. `None` when the answer is a success.
///
/// | answer | kind | retry |
/// |---|---|---|
/// | 200 + `THROTTLED` | `RateLimited { (requested − available) / restoreRate }` | Temporary |
/// | 200 + `ACCESS_DENIED`, `SHOP_INACTIVE` | `PermissionDenied` | Permanent |
/// | 200 + `MAX_COST_EXCEEDED` | `Unexpected` (the query is too expensive: a bug here) | Permanent |
/// | 200 + `INTERNAL_SERVER_ERROR`, `SERVICE_UNAVAILABLE` | `Unavailable` | Temporary |
/// | 200 + any other error (syntax, unknown field after a version change) | `Unexpected` | Permanent |
/// | 401 (`[API] Invalid API key or access token …`) | `Unauthorized` | Permanent |
/// | 402 (shop frozen / plan), 403, 423 (shop locked) | `PermissionDenied` | Permanent |
/// | 404 | `NotFound` | Permanent |
/// | 429 | `RateLimited { Retry-After }` | Temporary |
/// | 400, 422 | `Validation` | Permanent |
/// | 5xx | `Unavailable` (`RateLimited` with a `Retry-After` on 503) | Temporary |
pub fn parse_error(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Option<Error> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let errors = parsed
        .as_ref()
        .and_then(|v| v.get("errors"))
        .filter(|e| !e.is_null());
    if status.is_success() {
        let Some(errors) = errors else {
            return match &parsed {
                Some(v) if v.get("data").is_some_and(|d| !d.is_null()) => None,
                _ => Some(
                    Error::new(ErrorKind::Unexpected, "GraphQL answer without data")
                        .with_context("http_status", status.as_u16()),
                ),
            };
        };
        let message = message_of(errors);
        let code = errors
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find_map(|e| e.get("extensions")?.get("code")?.as_str())
            })
            .unwrap_or("");
        let err = match code {
            "THROTTLED" => {
                let wait = parsed
                    .as_ref()
                    .and_then(cost_of)
                    .and_then(|c| throttle_wait(c.requested_query_cost, &c.throttle_status))
                    .or(retry_after);
                Error::rate_limited(wait, format!("Shopify throttled the query: {message}"))
            }
            "ACCESS_DENIED" | "SHOP_INACTIVE" => Error::new(ErrorKind::PermissionDenied, message),
            "INTERNAL_SERVER_ERROR" | "SERVICE_UNAVAILABLE" => {
                Error::new(ErrorKind::Unavailable, message)
            }
            "MAX_COST_EXCEEDED" => Error::new(
                ErrorKind::Unexpected,
                format!("query cost exceeds Shopify's single-query limit: {message}"),
            ),
            _ => Error::new(ErrorKind::Unexpected, format!("GraphQL error: {message}")),
        };
        let err = if code.is_empty() {
            err
        } else {
            err.with_context("shopify_code", code)
        };
        return Some(err.with_context("http_status", status.as_u16()));
    }
    let message = errors.map_or_else(|| format!("HTTP {}", status.as_u16()), message_of);
    let err = match status.as_u16() {
        402 | 423 => Error::new(ErrorKind::PermissionDenied, message)
            .with_context("http_status", status.as_u16()),
        _ => classify_status(status, retry_after, message)?,
    };
    Some(err)
}

/// Posts GraphQL documents for one shop.
pub struct GraphQlClient {
    http: HttpClient,
    url: Url,
    signer: AccessTokenSigner,
    last_throttle: Mutex<Option<ThrottleStatus>>,
    max_pages: u32,
}

impl std::fmt::Debug for GraphQlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphQlClient")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl GraphQlClient {
    /// A client for the configured shop and version.
    pub fn new(config: &ShopifyConfig) -> Result<GraphQlClient> {
        let http = HttpClient::new(HttpConfig {
            timeout: config.timeout(),
            ..HttpConfig::default()
        })?;
        Ok(GraphQlClient {
            http,
            url: config.graphql_url()?,
            signer: AccessTokenSigner::new(config.access_token.expose().to_owned()),
            last_throttle: Mutex::new(None),
            max_pages: DEFAULT_MAX_PAGES_PER_WINDOW,
        })
    }

    /// Sets the cap on pages per window walk (at least 1; default
    /// [`DEFAULT_MAX_PAGES_PER_WINDOW`]).
    pub fn with_max_pages_per_window(mut self, cap: u32) -> GraphQlClient {
        self.max_pages = cap.max(1);
        self
    }

    /// The cap on pages per window walk.
    pub fn max_pages_per_window(&self) -> u32 {
        self.max_pages
    }

    /// The cursor for the page after `page` of a window walk that was called with `previous`
    /// (see [`next_page_cursor`]), under this client's page cap.
    pub fn next_cursor(
        &self,
        operation: &str,
        previous: Option<&Cursor>,
        page: &PageInfo,
    ) -> Result<Option<Cursor>> {
        next_page_cursor(operation, previous, page, self.max_pages)
    }

    /// The bucket as of the last answer (for callers pacing themselves).
    pub fn last_throttle_status(&self) -> Option<ThrottleStatus> {
        self.last_throttle.lock().ok().and_then(|g| g.clone())
    }

    /// Runs one query or mutation. `operation` names it in logs and errors.
    pub async fn execute(
        &self,
        operation: &'static str,
        query: &str,
        variables: Value,
    ) -> Result<GraphQlResponse> {
        let body =
            serde_json::to_vec(&json!({"query": query, "variables": variables})).map_err(|e| {
                Error::new(ErrorKind::Unexpected, "cannot encode the query").with_source(e)
            })?;
        let request = HttpRequest::new(Method::POST, self.url.clone())
            .with_operation(operation)
            .json_body(body);
        let response = self
            .http
            .send(request, Some(&self.signer))
            .await
            .map_err(|e| e.with_context("connector", "shopify"))?;
        let retry_after = response.retry_after(chrono::Utc::now());
        let with_ctx = |e: Error| {
            let e = e
                .with_context("connector", "shopify")
                .with_context("operation", operation);
            match &response.request_id {
                Some(id) => e.with_context("request_id", id),
                None => e,
            }
        };
        let parsed: Option<Value> = serde_json::from_slice(&response.body).ok();
        if let Some(cost) = parsed.as_ref().and_then(cost_of) {
            tracing::debug!(
                operation,
                requested = cost.requested_query_cost,
                actual = ?cost.actual_query_cost,
                available = cost.throttle_status.currently_available,
                "shopify query cost"
            );
            if let Ok(mut g) = self.last_throttle.lock() {
                *g = Some(cost.throttle_status.clone());
            }
        }
        if let Some(err) = parse_error(response.status, retry_after, &response.body) {
            return Err(with_ctx(err));
        }
        let mut value = parsed
            .ok_or_else(|| with_ctx(Error::new(ErrorKind::Unexpected, "the answer is not JSON")))?;
        let cost = cost_of(&value);
        let data = value
            .get_mut("data")
            .map(Value::take)
            .unwrap_or(Value::Null);
        Ok(GraphQlResponse {
            data,
            cost,
            request_id: response.request_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttled(requested: f64, available: f64, rate: f64) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
            "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": null,
                "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": available,
                    "restoreRate": rate}}}
        }))
        .unwrap()
    }

    #[test]
    fn error_table() {
        let ok = br#"{"data":{"shop":{"name":"x"}},"extensions":{"cost":{"requestedQueryCost":1,"actualQueryCost":1,"throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":1999,"restoreRate":100.0}}}}"#;
        assert!(parse_error(StatusCode::OK, None, ok).is_none());

        // (status, body, expected kind, temporary)
        let unauthorized =
            br#"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}"#;
        let cases: Vec<(u16, Vec<u8>, ErrorKind, bool)> = vec![
            (401, unauthorized.to_vec(), ErrorKind::Unauthorized, false),
            (402, br#"{"errors":"Unavailable Shop"}"#.to_vec(), ErrorKind::PermissionDenied, false),
            (403, br#"{"errors":"User does not have access"}"#.to_vec(), ErrorKind::PermissionDenied, false),
            (404, br#"{"errors":"Not Found"}"#.to_vec(), ErrorKind::NotFound, false),
            (423, br#"{"errors":"Locked"}"#.to_vec(), ErrorKind::PermissionDenied, false),
            (429, br#"{"errors":"Exceeded 2 calls per second for api client."}"#.to_vec(),
                ErrorKind::RateLimited { retry_after: Some(Duration::from_millis(1500)) }, true),
            (400, br#"{"errors":{"query":["Required parameter missing"]}}"#.to_vec(), ErrorKind::Validation, false),
            (500, br#"{"errors":"Internal Server Error"}"#.to_vec(), ErrorKind::Unavailable, true),
            (502, b"<html>bad gateway</html>".to_vec(), ErrorKind::Unavailable, true),
            (503, Vec::new(), ErrorKind::Unavailable, true),
            (200, throttled(752.0, 552.0, 100.0), ErrorKind::RateLimited { retry_after: Some(Duration::from_secs(2)) }, true),
            (200, br#"{"errors":[{"message":"Access denied for email field.","extensions":{"code":"ACCESS_DENIED"}}],"data":{"orders":null}}"#.to_vec(), ErrorKind::PermissionDenied, false),
            (200, br#"{"errors":[{"message":"Query cost is 1302, which exceeds the single query max cost limit (1000).","extensions":{"code":"MAX_COST_EXCEEDED","cost":1302,"maxCost":1000}}]}"#.to_vec(), ErrorKind::Unexpected, false),
            (200, br#"{"errors":[{"message":"Internal error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#.to_vec(), ErrorKind::Unavailable, true),
            (200, br#"{"errors":[{"message":"Field 'nope' doesn't exist on type 'Order'","locations":[{"line":1,"column":9}]}]}"#.to_vec(), ErrorKind::Unexpected, false),
            (200, br#"{"data":null}"#.to_vec(), ErrorKind::Unexpected, false),
        ];
        for (status, body, kind, temporary) in cases {
            let retry_after = (status == 429).then(|| Duration::from_millis(1500));
            let err = parse_error(StatusCode::from_u16(status).unwrap(), retry_after, &body)
                .unwrap_or_else(|| panic!("{status}: no error"));
            assert_eq!(
                err.kind(),
                &kind,
                "{status} {}",
                String::from_utf8_lossy(&body)
            );
            assert_eq!(err.is_temporary(), temporary, "{status}");
        }
        let err = parse_error(StatusCode::UNAUTHORIZED, None, unauthorized).unwrap();
        assert!(err.message().contains("Invalid API key"));
    }

    #[test]
    fn throttle_wait_is_exact() {
        let s = ThrottleStatus {
            maximum_available: 2000.0,
            currently_available: 0.0,
            restore_rate: 100.0,
        };
        assert_eq!(throttle_wait(250.0, &s), Some(Duration::from_millis(2500)));
        let s = ThrottleStatus {
            currently_available: 251.0,
            ..s
        };
        assert_eq!(throttle_wait(250.0, &s), Some(Duration::ZERO));
        let s = ThrottleStatus {
            currently_available: 10.0,
            restore_rate: 50.0,
            maximum_available: 1000.0,
        };
        // 3 points at 50/s = 60 ms; 1 point at 3/s = 333.33… ms rounds up.
        assert_eq!(throttle_wait(13.0, &s), Some(Duration::from_millis(60)));
        let s = ThrottleStatus {
            restore_rate: 3.0,
            ..s
        };
        assert_eq!(throttle_wait(11.0, &s), Some(Duration::from_millis(334)));
        let s = ThrottleStatus {
            restore_rate: 0.0,
            ..s
        };
        assert_eq!(throttle_wait(11.0, &s), None);
    }
}
