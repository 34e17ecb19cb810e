//! The TOP client: builds and signs calls, classifies errors in one table, and walks the
//! incremental list APIs the way TOP requires.
//!
//! **Paging rule.** `taobao.trades.sold.increment.get` returns trades sorted by `modified`
//! *descending*, and its documentation says: "必须采用倒序的分页方式（从最后一页往回取）才能避免
//! 漏单问题" — walk pages from the last one back to the first, or you miss orders. While you
//! page, a trade of the window that gets modified leaves the window; everything older moves
//! up one place. Walking forward, the record at the top of the next page slides onto the page
//! you already read and is never seen. Walking backward, it slides onto a page you have not
//! read yet (at worst you see a record twice). So [`TopClient::list_page`] is driven by a
//! [`ListCursor`] that:
//!
//! 1. splits the query window into slices (≤ 1 day, default 30 minutes);
//! 2. for a new slice, asks page 1 without `use_has_next` to learn `total_results` (and returns
//!    that page); if the slice fits one page, done; otherwise
//! 3. fetches the last page, then each earlier page down to page 1 (page 1 is read twice: a
//!    record that slid onto it during the walk is still seen; duplicates are harmless, the
//!    pipeline de-duplicates by idempotency key);
//! 4. moves to the next slice (skipping empty ones within the same call).
//!
//! The cursor string encodes the slice and the next page (`top1:<start>:<end>:<page>`), so a
//! fresh instance resumes exactly there. The walk is only as safe as the window: keep the
//! window's end a little in the past, so no trade is *inserted* into it while it is walked.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use marketsync_core::{Cursor, Error, ErrorKind, Result, TimeWindow};
use marketsync_http::http::{Method, StatusCode};
use marketsync_http::url::Url;
use marketsync_http::{HttpClient, HttpConfig, HttpRequest, classify_status};

use crate::config::TmallConfig;
use crate::normalize::format_top_time;
use crate::sign::TopSigner;
use crate::wire::{ErrorResponse, ListPage};

/// A clock, injectable for tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The largest page TOP serves.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The default cap on pages per slice (50,000 trades at 100 a page). A slice whose
/// `total_results` needs more pages is an error (`page_cap_exceeded`): the server's count is
/// never trusted to drive an unbounded walk. Narrow the slice instead.
pub const DEFAULT_MAX_PAGES_PER_SLICE: u32 = 500;

/// The error for a walk the page cap stops.
pub fn page_cap_exceeded(operation: &str, pages: u64, cap: u32) -> Error {
    Error::new(
        ErrorKind::Unexpected,
        format!(
            "{operation}: the server's count needs {pages} pages, more than the cap of {cap} per slice"
        ),
    )
    .with_reason(marketsync_core::ReasonCode::Other("page_cap_exceeded".into()))
    .with_context("operation", operation)
    .with_context("max_pages", cap)
}

/// A successful TOP answer.
#[derive(Clone, Debug)]
pub struct TopResponse {
    /// The object under `<method_with_underscores>_response`.
    pub body: serde_json::Value,
    /// TOP's request id.
    pub request_id: Option<String>,
}

/// Signs and sends TOP calls.
#[derive(Clone)]
pub struct TopClient {
    http: HttpClient,
    signer: TopSigner,
    gateway: Url,
    app_key: String,
    session: marketsync_core::Secret,
    clock: Clock,
    max_pages: u32,
}

impl std::fmt::Debug for TopClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopClient")
            .field("gateway", &self.gateway.as_str())
            .field("app_key", &self.app_key)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl TopClient {
    /// A client for a configuration.
    pub fn new(config: &TmallConfig) -> Result<TopClient> {
        config.validate()?;
        let gateway = Url::parse(&config.gateway).map_err(|e| {
            Error::new(ErrorKind::ConfigInvalid, "gateway is not a URL").with_source(e)
        })?;
        let http = HttpClient::new(HttpConfig {
            timeout: Duration::from_millis(config.timeout_ms),
            ..HttpConfig::default()
        })?;
        Ok(TopClient {
            http,
            signer: TopSigner::new(config.app_secret.expose().to_owned(), config.sign_method),
            gateway,
            app_key: config.app_key.clone(),
            session: config.session.clone(),
            clock: Arc::new(Utc::now),
            max_pages: DEFAULT_MAX_PAGES_PER_SLICE,
        })
    }

    /// Sets the cap on pages per slice (at least 1; default [`DEFAULT_MAX_PAGES_PER_SLICE`]).
    pub fn with_max_pages_per_slice(mut self, cap: u32) -> TopClient {
        self.max_pages = cap.max(1);
        self
    }

    /// Replaces the clock used for the `timestamp` parameter.
    pub fn with_clock(mut self, clock: Clock) -> TopClient {
        self.clock = clock;
        self
    }

    /// The current time by this client's clock.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Calls a TOP method with business parameters. Returns the `<method>_response` object, or
    /// the error classified by [`parse_error`].
    pub async fn call(&self, method: &str, params: &[(&str, String)]) -> Result<TopResponse> {
        let mut pairs: Vec<(String, String)> = vec![
            ("method".into(), method.into()),
            ("app_key".into(), self.app_key.clone()),
            ("session".into(), self.session.expose().to_owned()),
            ("timestamp".into(), format_top_time(self.now())),
            ("format".into(), "json".into()),
            ("v".into(), "2.0".into()),
            ("sign_method".into(), self.signer.method().as_str().into()),
        ];
        pairs.extend(
            params
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| ((*k).to_owned(), v.clone())),
        );
        let request = HttpRequest::new(Method::POST, self.gateway.clone())
            .with_operation(method)
            .form_body(&pairs);
        let response = self
            .http
            .send(request, Some(&self.signer))
            .await
            .map_err(|e| e.with_context("connector", "tmall"))?;
        let retry_after = response.retry_after(self.now());
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&response.body).ok();
        let error_body = parsed
            .as_ref()
            .and_then(|v| v.get("error_response"))
            .and_then(|e| serde_json::from_value::<ErrorResponse>(e.clone()).ok());
        if let Some(err) = parse_error(response.status, error_body.as_ref(), retry_after) {
            return Err(err
                .with_context("connector", "tmall")
                .with_context("operation", method));
        }
        let key = format!(
            "{}_response",
            method.trim_start_matches("taobao.").replace('.', "_")
        );
        let body = parsed
            .and_then(|mut v| v.get_mut(&key).map(serde_json::Value::take))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("TOP answered {method} without {key}"),
                )
                .with_context("connector", "tmall")
                .with_context("operation", method)
            })?;
        let request_id = body
            .get("request_id")
            .and_then(|r| r.as_str())
            .map(str::to_owned)
            .or(response.request_id);
        tracing::debug!(operation = method, request_id = ?request_id, "top call ok");
        Ok(TopResponse { body, request_id })
    }
}

/// Reads `N` from "This ban will last for N more seconds".
pub fn ban_seconds(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let rest = &lower[lower.find("last for")? + "last for".len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// THE error table: HTTP status + TOP `code` / `sub_code` + Retry-After → [`Error`].
/// `None` when the call succeeded.
///
/// | TOP | kind | retry |
/// |---|---|---|
/// | 7 App Call Limited (wait from "This ban will last for N more seconds" in `sub_msg`/`msg`) | `RateLimited { N s }` | Temporary |
/// | `sub_code` `isp.*` (platform side), 10 Service Currently Unavailable, 15 Remote service error with `isp.*` | `Unavailable` | Temporary |
/// | 24, 25 signature; 26, 27 session (`invalid-sessionkey`); 28, 29 app key; 44 token | `Unauthorized` | Permanent |
/// | 11, 12, 13, 42, 53 permissions / security level | `PermissionDenied` | Permanent |
/// | 9, 21, 22, 23, 30–34, 47 request shape, method, timestamp, version, encoding | `ConfigInvalid` | Permanent |
/// | `sub_code` containing `not-exist` | `NotFound` | Permanent |
/// | 3, 15 (`isv.*`), 40, 41, 43, 50 arguments and business rules | `Validation` | Permanent |
/// | anything else | `Unexpected` | Permanent |
/// | no TOP body: HTTP status via `marketsync_http::classify_status` (429, 5xx…) | | |
pub fn parse_error(
    status: StatusCode,
    body: Option<&ErrorResponse>,
    retry_after: Option<Duration>,
) -> Option<Error> {
    let Some(e) = body else {
        return classify_status(status, retry_after, format!("TOP answered HTTP {status}"));
    };
    let sub = e.sub_code.as_deref().unwrap_or("");
    let message = format!(
        "TOP error {} {}{}{}",
        e.code,
        e.msg.as_deref().unwrap_or(""),
        if sub.is_empty() {
            String::new()
        } else {
            format!(" / {sub}")
        },
        e.sub_msg
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    );
    let kind = if e.code == 7 {
        let wait = e
            .sub_msg
            .as_deref()
            .and_then(ban_seconds)
            .or_else(|| e.msg.as_deref().and_then(ban_seconds))
            .map(Duration::from_secs)
            .or(retry_after);
        ErrorKind::RateLimited { retry_after: wait }
    } else if sub.starts_with("isp.") || e.code == 10 {
        ErrorKind::Unavailable
    } else {
        match e.code {
            24 | 25 | 26 | 27 | 28 | 29 | 44 => ErrorKind::Unauthorized,
            _ if sub.contains("invalid-sessionkey") || sub.contains("session-expired") => {
                ErrorKind::Unauthorized
            }
            11 | 12 | 13 | 42 | 53 => ErrorKind::PermissionDenied,
            9 | 21 | 22 | 23 | 30 | 31 | 32 | 33 | 34 | 47 => ErrorKind::ConfigInvalid,
            _ if sub.contains("not-exist") || sub.contains("not_exist") => ErrorKind::NotFound,
            3 | 15 | 40 | 41 | 43 | 50 => ErrorKind::Validation,
            _ => ErrorKind::Unexpected,
        }
    };
    let mut err = Error::new(kind, message)
        .with_context("top_code", e.code)
        .with_context("http_status", status.as_u16());
    if !sub.is_empty() {
        err = err.with_context("top_sub_code", sub);
    }
    if let Some(r) = &e.request_id {
        err = err.with_context("request_id", r);
    }
    Some(err)
}

/// Where a list walk stands: the slice and the next page to read (descending).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListCursor {
    /// The slice.
    pub slice: TimeWindow,
    /// The next page to read, or `None` to probe the slice first.
    pub page: Option<u32>,
}

impl ListCursor {
    /// Encodes as `top2:<start unix ns>:<end unix ns>:<page or 0>`: nanosecond precision, so a
    /// window ending at "now" (with a fraction of a second) resumes onto the same slices.
    pub fn encode(&self) -> Cursor {
        let ns = |t: DateTime<Utc>| {
            t.timestamp_nanos_opt()
                .unwrap_or(t.timestamp() * 1_000_000_000)
        };
        Cursor::new(format!(
            "top2:{}:{}:{}",
            ns(self.slice.start),
            ns(self.slice.end),
            self.page.unwrap_or(0)
        ))
    }

    /// Decodes a cursor issued by [`ListCursor::encode`] (`top2`, nanoseconds) or by earlier
    /// versions (`top1`, whole seconds).
    pub fn decode(c: &Cursor) -> Result<ListCursor> {
        let bad = || Error::new(ErrorKind::ConfigInvalid, format!("not a Tmall cursor: {c}"));
        let mut parts = c.as_str().split(':');
        let nanos = match parts.next() {
            Some("top2") => true,
            Some("top1") => false,
            _ => return Err(bad()),
        };
        let mut n = || -> Result<i64> {
            parts
                .next()
                .and_then(|p| p.parse::<i64>().ok())
                .ok_or_else(bad)
        };
        let (s, e, p) = (n()?, n()?, n()?);
        let at = |v: i64| {
            if nanos {
                Some(DateTime::<Utc>::from_timestamp_nanos(v))
            } else {
                DateTime::<Utc>::from_timestamp(v, 0)
            }
        };
        let start = at(s).ok_or_else(bad)?;
        let end = at(e).ok_or_else(bad)?;
        let slice = TimeWindow::new(start, end).ok_or_else(bad)?;
        let page = u32::try_from(p).map_err(|_| bad())?;
        Ok(ListCursor {
            slice,
            page: (page > 0).then_some(page),
        })
    }
}

/// Splits a window into slices of at most `slice` (and never more than one day).
pub fn slices(window: TimeWindow, slice: chrono::Duration) -> Vec<TimeWindow> {
    let slice = slice.min(chrono::Duration::days(1));
    window.split(slice)
}

/// What one list API needs: method, fields, where the records sit, and the time parameters.
#[derive(Clone, Copy, Debug)]
pub struct ListApi {
    /// TOP method.
    pub method: &'static str,
    /// `fields`.
    pub fields: &'static str,
    /// Outer key of the records (`trades`).
    pub outer: &'static str,
    /// Inner key (`trade`).
    pub inner: &'static str,
}

/// One page of a walk.
#[derive(Debug)]
pub struct WalkedPage {
    /// The records.
    pub records: Vec<serde_json::Value>,
    /// Where to continue.
    pub next: Option<ListCursor>,
}

impl TopClient {
    async fn fetch_list(
        &self,
        api: ListApi,
        slice: TimeWindow,
        page_no: u32,
        page_size: u32,
    ) -> Result<ListPage> {
        // TOP's window is inclusive at both ends with one-second resolution: stop one second
        // before the exclusive end so a record on the boundary is not read by two slices.
        let end = if slice.end > slice.start {
            slice.end - chrono::Duration::seconds(1)
        } else {
            slice.end
        };
        let resp = self
            .call(
                api.method,
                &[
                    ("fields", api.fields.to_owned()),
                    ("start_modified", format_top_time(slice.start)),
                    ("end_modified", format_top_time(end)),
                    ("page_no", page_no.to_string()),
                    ("page_size", page_size.to_string()),
                ],
            )
            .await?;
        Ok(ListPage::from_response(&resp.body, api.outer, api.inner))
    }

    /// Reads the next page of a walk over `window` (see the [module docs](self)).
    pub async fn list_page(
        &self,
        api: ListApi,
        window: TimeWindow,
        slice_len: chrono::Duration,
        cursor: Option<&Cursor>,
        page_size: u32,
    ) -> Result<WalkedPage> {
        let page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        let all = slices(window, slice_len);
        let (mut idx, page) = match cursor {
            None => (0, None),
            Some(c) => {
                let lc = ListCursor::decode(c)?;
                if lc.page.is_some_and(|p| p > self.max_pages) {
                    return Err(page_cap_exceeded(
                        api.method,
                        lc.page.map_or(0, u64::from),
                        self.max_pages,
                    ));
                }
                let idx = all.iter().position(|s| *s == lc.slice).ok_or_else(|| {
                    Error::new(
                        ErrorKind::ConfigInvalid,
                        "the cursor does not belong to this window",
                    )
                })?;
                (idx, lc.page)
            }
        };
        let next_slice = |idx: usize| {
            all.get(idx + 1).map(|s| ListCursor {
                slice: *s,
                page: None,
            })
        };
        while let Some(&slice) = all.get(idx) {
            let Some(p) = page else {
                let probe = self.fetch_list(api, slice, 1, page_size).await?;
                let total = probe.total_results.unwrap_or(probe.records.len() as u64);
                if total == 0 && probe.records.is_empty() {
                    idx += 1;
                    continue;
                }
                // Page 1 is returned now (nothing is lost by reading it early) and read again
                // at the end of the backward walk, so a record that slid onto it meanwhile is
                // still seen.
                let pages = total.div_ceil(u64::from(page_size));
                if pages > u64::from(self.max_pages) {
                    return Err(page_cap_exceeded(api.method, pages, self.max_pages));
                }
                let next = if total <= u64::from(page_size) {
                    next_slice(idx)
                } else {
                    let last = u32::try_from(pages)
                        .map_err(|_| page_cap_exceeded(api.method, pages, self.max_pages))?;
                    Some(ListCursor {
                        slice,
                        page: Some(last),
                    })
                };
                return Ok(WalkedPage {
                    records: probe.records,
                    next,
                });
            };
            let got = self.fetch_list(api, slice, p, page_size).await?;
            let next = if p > 1 {
                Some(ListCursor {
                    slice,
                    page: Some(p - 1),
                })
            } else {
                next_slice(idx)
            };
            return Ok(WalkedPage {
                records: got.records,
                next,
            });
        }
        Ok(WalkedPage {
            records: Vec::new(),
            next: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: i64, sub: Option<&str>, sub_msg: Option<&str>) -> ErrorResponse {
        ErrorResponse {
            code,
            msg: Some("x".into()),
            sub_code: sub.map(str::to_owned),
            sub_msg: sub_msg.map(str::to_owned),
            request_id: Some("rid-1".into()),
        }
    }

    #[test]
    fn error_table() {
        let ok = StatusCode::OK;
        let throttled = parse_error(
            ok,
            Some(&err(
                7,
                Some("accesscontrol.limited-by-app-api-access-count"),
                Some("This ban will last for 2 more seconds"),
            )),
            None,
        )
        .unwrap();
        assert_eq!(throttled.retry_after(), Some(Duration::from_secs(2)));
        assert!(throttled.is_temporary());
        assert_eq!(throttled.context_value("request_id"), Some("rid-1"));

        let cases: &[(i64, Option<&str>, ErrorKind, bool)] = &[
            (
                27,
                Some("invalid-sessionkey"),
                ErrorKind::Unauthorized,
                false,
            ),
            (25, None, ErrorKind::Unauthorized, false),
            (29, None, ErrorKind::Unauthorized, false),
            (
                15,
                Some("isp.remote-service-timeout"),
                ErrorKind::Unavailable,
                true,
            ),
            (520, Some("isp.unknown-error"), ErrorKind::Unavailable, true),
            (10, None, ErrorKind::Unavailable, true),
            (11, None, ErrorKind::PermissionDenied, false),
            (31, None, ErrorKind::ConfigInvalid, false),
            (
                41,
                Some("isv.invalid-parameter"),
                ErrorKind::Validation,
                false,
            ),
            (15, Some("isv.trade-not-exist"), ErrorKind::NotFound, false),
            (
                15,
                Some("isv.logistics-offline-service-error"),
                ErrorKind::Validation,
                false,
            ),
            (99, None, ErrorKind::Unexpected, false),
        ];
        for (code, sub, kind, temporary) in cases {
            let e = parse_error(ok, Some(&err(*code, *sub, None)), None).unwrap();
            assert_eq!(e.kind(), kind, "code {code} {sub:?}");
            assert_eq!(e.is_temporary(), *temporary, "code {code} {sub:?}");
        }
        // No TOP body: HTTP status decides; Retry-After is used.
        let e = parse_error(StatusCode::SERVICE_UNAVAILABLE, None, None).unwrap();
        assert_eq!(e.kind(), &ErrorKind::Unavailable);
        let e = parse_error(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            Some(Duration::from_secs(4)),
        )
        .unwrap();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(4)));
        assert!(parse_error(ok, None, None).is_none());
        // Code 7 without a stated wait falls back to Retry-After, then to none.
        let e = parse_error(ok, Some(&err(7, None, None)), Some(Duration::from_secs(9))).unwrap();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(9)));
    }

    #[test]
    fn ban_text() {
        assert_eq!(
            ban_seconds("This ban will last for 31062 more seconds"),
            Some(31062)
        );
        assert_eq!(
            ban_seconds("this ban will last for  1 more seconds"),
            Some(1)
        );
        assert_eq!(ban_seconds("App Call Limited"), None);
    }

    #[test]
    fn cursor_round_trip() {
        let start = DateTime::<Utc>::from_timestamp(1_710_000_000, 0).unwrap();
        let slice = TimeWindow::new(start, start + chrono::Duration::minutes(30)).unwrap();
        for page in [None, Some(1), Some(7)] {
            let c = ListCursor { slice, page };
            assert_eq!(ListCursor::decode(&c.encode()).unwrap(), c);
        }
        assert!(ListCursor::decode(&Cursor::new("nope")).is_err());
        assert!(ListCursor::decode(&Cursor::new("top1:5:1:0")).is_err());
    }

    #[test]
    fn cursors_keep_sub_second_windows() {
        let start = DateTime::<Utc>::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        let slice = TimeWindow::new(start, start + chrono::Duration::milliseconds(1500)).unwrap();
        let c = ListCursor {
            slice,
            page: Some(3),
        };
        let back = ListCursor::decode(&c.encode()).unwrap();
        assert_eq!(back.slice, slice);
        assert_eq!(back.page, Some(3));
        let old = ListCursor::decode(&Cursor::new("top1:1700000000:1700003600:0")).unwrap();
        assert_eq!(old.page, None);
        assert!(ListCursor::decode(&Cursor::new("nope:1:2:3")).is_err());
    }

    #[test]
    fn slices_never_exceed_a_day() {
        let start = DateTime::<Utc>::from_timestamp(0, 0).unwrap();
        let w = TimeWindow::new(start, start + chrono::Duration::hours(60)).unwrap();
        let s = slices(w, chrono::Duration::days(7));
        assert_eq!(s.len(), 3);
        assert!(
            s.iter()
                .all(|s| s.end - s.start <= chrono::Duration::days(1))
        );
    }
}
