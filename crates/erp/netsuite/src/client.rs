//! The REST client: URL building, the concurrency gate, TBA signing, and the one error table.

use std::sync::Arc;
use std::time::Duration;

use marketsync_core::{Error, ErrorKind, ReasonCode, Result};
use marketsync_http::http::{Method, StatusCode};
use marketsync_http::{HttpClient, HttpConfig, HttpRequest, HttpResponse, classify_status};
use tokio::sync::Semaphore;
use url::Url;

use crate::config::NetSuiteConfig;
use crate::sign::TbaSigner;
use crate::wire::{ErrorBody, SuiteQlPage, SuiteQlRequest};

/// NetSuite error codes that mean "over the concurrency or request limit".
const THROTTLE_CODES: &[&str] = &[
    "SSS_REQUEST_LIMIT_EXCEEDED",
    "CONCURRENCY_LIMIT_EXCEEDED",
    "WS_REQUEST_BLOCKED",
    "WS_CONCUR_SESSION_DISALLWD",
    "EXCEEDED_CONCURRENT_REQUEST_LIMIT",
    "EXCEEDED_REQUEST_LIMIT",
];

/// Maps a NetSuite error response to an [`Error`]: the one table, by error code first, then by
/// HTTP status.
///
/// | signal | kind |
/// |---|---|
/// | 429, or code `SSS_REQUEST_LIMIT_EXCEEDED` / `CONCURRENCY_LIMIT_EXCEEDED` / `WS_REQUEST_BLOCKED` (any status) | `RateLimited { retry_after }` |
/// | `INVALID_LOGIN`, `INVALID_LOGIN_ATTEMPT`, `INVALID_LOGIN_CREDENTIALS`, 401 | `Unauthorized` |
/// | `INSUFFICIENT_PERMISSION`, 403 | `PermissionDenied` |
/// | `NONEXISTENT_ID`, 404 | `NotFound` |
/// | `IDEMPOTENCY_ERROR`, `DUP_RCRD`, `DUP_ENTITY`, 409/412 | `Conflict` |
/// | other 4xx (`USER_ERROR`, `INVALID_KEY_OR_REF`, `INVALID_FLD_VALUE`…) | `Validation` (`ErpRejected`) |
/// | 5xx, `UNEXPECTED_ERROR` | `Unavailable` (504: `Timeout`) |
pub fn parse_error(status: StatusCode, body: &[u8], retry_after: Option<Duration>) -> Error {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let detail = parsed.as_ref().and_then(|b| b.details.first());
    let code = detail.and_then(|d| d.error_code.clone());
    let message = match (&parsed, detail) {
        (_, Some(d)) if !d.detail.is_empty() => d.detail.clone(),
        (Some(b), _) => b
            .title
            .clone()
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16())),
        (None, _) => format!(
            "HTTP {} with a body that is not NetSuite's error shape",
            status.as_u16()
        ),
    };
    let code_str = code.as_deref().unwrap_or("");
    let kind = if status == StatusCode::TOO_MANY_REQUESTS || THROTTLE_CODES.contains(&code_str) {
        Some(ErrorKind::RateLimited { retry_after })
    } else {
        match code_str {
            "INVALID_LOGIN" | "INVALID_LOGIN_ATTEMPT" | "INVALID_LOGIN_CREDENTIALS" => {
                Some(ErrorKind::Unauthorized)
            }
            "INSUFFICIENT_PERMISSION" => Some(ErrorKind::PermissionDenied),
            "NONEXISTENT_ID" => Some(ErrorKind::NotFound),
            "IDEMPOTENCY_ERROR" | "DUP_RCRD" | "DUP_ENTITY" => Some(ErrorKind::Conflict),
            "UNEXPECTED_ERROR" => Some(ErrorKind::Unavailable),
            _ => None,
        }
    };
    let mut err = match kind {
        Some(k) => Error::new(k, message.clone()).with_context("http_status", status.as_u16()),
        None => classify_status(status, retry_after, message.clone()).unwrap_or_else(|| {
            Error::new(ErrorKind::Unexpected, message.clone())
                .with_context("http_status", status.as_u16())
        }),
    };
    if err.kind() == &ErrorKind::Validation {
        err = Error::validation(ReasonCode::ErpRejected, message)
            .with_context("http_status", status.as_u16());
    }
    if let Some(c) = code {
        err = err.with_context("ns_error_code", c);
    }
    if let Some(p) = detail.and_then(|d| d.error_path.clone()) {
        err = err.with_context("ns_error_path", p);
    }
    err.with_context("system", "netsuite")
}

/// A low-level client for the NetSuite REST API.
#[derive(Clone)]
pub struct NsClient {
    http: HttpClient,
    signer: Arc<TbaSigner>,
    base: Url,
    gate: Arc<Semaphore>,
}

impl std::fmt::Debug for NsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NsClient")
            .field("base", &self.base.as_str())
            .field("available_permits", &self.gate.available_permits())
            .finish_non_exhaustive()
    }
}

impl NsClient {
    /// A client from the configuration.
    pub fn new(config: &NetSuiteConfig) -> Result<NsClient> {
        config.validate()?;
        let http = HttpClient::new(HttpConfig {
            timeout: Duration::from_millis(config.timeout_ms),
            ..HttpConfig::default()
        })?;
        Ok(NsClient {
            http,
            signer: Arc::new(TbaSigner::new(&config.account_id, config.credentials())),
            base: config.rest_base()?,
            gate: Arc::new(Semaphore::new(config.max_concurrency as usize)),
        })
    }

    /// Requests that may run right now (the configured limit minus those in flight).
    pub fn available_permits(&self) -> usize {
        self.gate.available_permits()
    }

    /// `<base>/services/rest/<path>` with the query pairs.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url> {
        let mut u = self
            .base
            .join(&format!("services/rest/{path}"))
            .map_err(|e| Error::new(ErrorKind::ConfigInvalid, "invalid URL").with_source(e))?;
        if !query.is_empty() {
            u.query_pairs_mut().extend_pairs(query);
        }
        Ok(u)
    }

    /// Sends a request through the concurrency gate; a non-2xx answer becomes an error via
    /// [`parse_error`].
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
        operation: &str,
    ) -> Result<HttpResponse> {
        let mut req = HttpRequest::new(method, url).with_operation(operation);
        for (k, v) in headers {
            req = req.header(k, v)?;
        }
        if let Some(b) = body {
            req = req.json_body(b);
        }
        let _permit = self.gate.acquire().await.map_err(|e| {
            Error::new(ErrorKind::Unexpected, "concurrency gate closed").with_source(e)
        })?;
        let resp = self
            .http
            .send(req, Some(self.signer.as_ref()))
            .await
            .map_err(|e| e.with_context("system", "netsuite"))?;
        if resp.status.is_success() {
            Ok(resp)
        } else {
            let retry_after = resp.retry_after(chrono::Utc::now());
            let mut err = parse_error(resp.status, &resp.body, retry_after)
                .with_context("operation", operation);
            if let Some(id) = &resp.request_id {
                err = err.with_context("request_id", id.clone());
            }
            tracing::debug!(operation, status = resp.status.as_u16(), error = %err.kind(), "netsuite error");
            Err(err)
        }
    }

    /// `GET` of a record; `None` on 404.
    pub async fn get_record(
        &self,
        record_type: &str,
        id: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<HttpResponse>> {
        let url = self.url(&format!("record/v1/{record_type}/{id}"), query)?;
        match self
            .send(Method::GET, url, None, &[], &format!("get {record_type}"))
            .await
        {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.kind() == &ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One SuiteQL page (`Prefer: transient`).
    pub async fn suiteql(&self, query: &str, limit: u32, offset: u64) -> Result<SuiteQlPage> {
        let limit = limit.to_string();
        let offset = offset.to_string();
        let url = self.url(
            "query/v1/suiteql",
            &[("limit", limit.as_str()), ("offset", offset.as_str())],
        )?;
        let body = serde_json::to_vec(&SuiteQlRequest {
            q: query.to_owned(),
        })
        .map_err(|e| Error::new(ErrorKind::Unexpected, "cannot encode query").with_source(e))?;
        let resp = self
            .send(
                Method::POST,
                url,
                Some(body),
                &[("Prefer", "transient")],
                "suiteql",
            )
            .await?;
        serde_json::from_slice(&resp.body).map_err(|e| {
            Error::validation(
                ReasonCode::MalformedPayload,
                "SuiteQL answer is not a result page",
            )
            .with_source(e)
            .with_context("operation", "suiteql")
        })
    }

    /// Every row of a SuiteQL query, page by page.
    pub async fn suiteql_all(
        &self,
        query: &str,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
        const PAGE: u32 = 1000;
        let mut rows = Vec::new();
        let mut offset = 0u64;
        loop {
            let page = self.suiteql(query, PAGE, offset).await?;
            let n = page.items.len() as u64;
            rows.extend(page.items);
            if !page.has_more || n == 0 {
                return Ok(rows);
            }
            offset += n;
        }
    }
}

/// The internal id at the end of a `Location` header (`…/record/v1/salesOrder/123`).
pub fn id_from_location(resp: &HttpResponse) -> Result<String> {
    let loc = resp.header_str("location").ok_or_else(|| {
        Error::new(
            ErrorKind::Unexpected,
            "NetSuite answered without a Location header",
        )
    })?;
    let id = loc
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::new(
            ErrorKind::Unexpected,
            "the Location header does not end in an internal id",
        ));
    }
    Ok(id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(status: u16, code: &str, detail: &str) -> Vec<u8> {
        format!(
            r#"{{"type":"https://www.rfc-editor.org/rfc/rfc9110.html","title":"t","status":{status},"o:errorDetails":[{{"detail":"{detail}","o:errorCode":"{code}","o:errorPath":"line.items[0].account"}}]}}"#
        )
        .into_bytes()
    }

    #[test]
    fn error_table() {
        let s = |n: u16| StatusCode::from_u16(n).unwrap();
        let cases: Vec<(u16, &str, ErrorKind)> = vec![
            (
                429,
                "SSS_REQUEST_LIMIT_EXCEEDED",
                ErrorKind::RateLimited { retry_after: None },
            ),
            (
                429,
                "CONCURRENCY_LIMIT_EXCEEDED",
                ErrorKind::RateLimited { retry_after: None },
            ),
            (
                400,
                "SSS_REQUEST_LIMIT_EXCEEDED",
                ErrorKind::RateLimited { retry_after: None },
            ),
            (
                400,
                "WS_REQUEST_BLOCKED",
                ErrorKind::RateLimited { retry_after: None },
            ),
            (401, "INVALID_LOGIN", ErrorKind::Unauthorized),
            (400, "INVALID_LOGIN_ATTEMPT", ErrorKind::Unauthorized),
            (403, "INSUFFICIENT_PERMISSION", ErrorKind::PermissionDenied),
            (403, "SOMETHING", ErrorKind::PermissionDenied),
            (404, "NONEXISTENT_ID", ErrorKind::NotFound),
            (400, "IDEMPOTENCY_ERROR", ErrorKind::Conflict),
            (400, "DUP_RCRD", ErrorKind::Conflict),
            (400, "USER_ERROR", ErrorKind::Validation),
            (400, "INVALID_KEY_OR_REF", ErrorKind::Validation),
            (500, "UNEXPECTED_ERROR", ErrorKind::Unavailable),
            (502, "", ErrorKind::Unavailable),
            (503, "", ErrorKind::Unavailable),
            (504, "", ErrorKind::Timeout),
        ];
        for (status, code, want) in cases {
            let e = parse_error(s(status), &body(status, code, "d"), None);
            assert_eq!(e.kind(), &want, "{status} {code}");
            if !code.is_empty() {
                assert_eq!(e.context_value("ns_error_code"), Some(code));
            }
        }
        let e = parse_error(s(400), &body(400, "USER_ERROR", "bad account"), None);
        assert_eq!(e.reason(), ReasonCode::ErpRejected);
        assert_eq!(e.message(), "bad account");
        assert_eq!(
            e.context_value("ns_error_path"),
            Some("line.items[0].account")
        );
        assert!(!e.is_temporary());
        let e = parse_error(
            s(429),
            &body(429, "SSS_REQUEST_LIMIT_EXCEEDED", "x"),
            Some(Duration::from_secs(3)),
        );
        assert!(e.is_temporary());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        // Not NetSuite's shape at all: classified by status.
        let e = parse_error(s(502), b"<html>bad gateway</html>", None);
        assert!(e.is_temporary());
        let e = parse_error(s(401), b"", None);
        assert_eq!(e.kind(), &ErrorKind::Unauthorized);
    }
}
