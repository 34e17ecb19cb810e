//! The JSON-RPC client: login, the session header, model calls, and re-login on an expired
//! session.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use marketsync_core::{Error, ErrorKind, Result};
use marketsync_http::http::Method;
use marketsync_http::{HttpClient, HttpConfig, HttpRequest};
use serde_json::{Map, Value, json};
use url::Url;

use crate::config::{Secret, TrytonConfig};
use crate::wire::{RpcRequest, RpcResponse, parse_error};

/// A logged-in session: the value of the `Authorization` header.
#[derive(Clone)]
struct Session {
    header: Secret,
    user_id: i64,
}

/// Builds `Session base64("<login>:<user_id>:<session>")`, the header trytond reads
/// (`trytond/protocols/wrappers.py`, `parse_session`).
pub fn session_header(login: &str, user_id: i64, session: &str) -> String {
    let raw = format!("{login}:{user_id}:{session}");
    format!(
        "Session {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A JSON-RPC client bound to one database. Cheap to share behind an `Arc`.
pub struct RpcClient {
    http: HttpClient,
    endpoint: Url,
    login: String,
    password: Secret,
    session: Mutex<Option<Session>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

impl RpcClient {
    /// A client for the configured server; nothing is sent until the first call.
    pub fn new(config: &TrytonConfig) -> Result<RpcClient> {
        let http = HttpClient::new(HttpConfig {
            timeout: Duration::from_millis(config.timeout_ms),
            ..HttpConfig::default()
        })?;
        Ok(RpcClient {
            http,
            endpoint: config.endpoint()?,
            login: config.login.clone(),
            password: config.password.clone(),
            session: Mutex::new(None),
            next_id: AtomicU64::new(1),
        })
    }

    fn current_session(&self) -> Option<Session> {
        self.session.lock().ok().and_then(|s| s.clone())
    }

    fn set_session(&self, session: Option<Session>) {
        if let Ok(mut s) = self.session.lock() {
            *s = session;
        }
    }

    /// The user id of the current session, logging in if needed.
    pub async fn user_id(&self) -> Result<i64> {
        match self.current_session() {
            Some(s) => Ok(s.user_id),
            None => Ok(self.login().await?.user_id),
        }
    }

    /// Sends one JSON-RPC request; `Ok(result)` or the mapped error.
    async fn send(&self, method: &str, params: &[Value], auth: Option<&Secret>) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&RpcRequest { id, method, params }).map_err(|e| {
            Error::new(ErrorKind::Unexpected, "cannot encode a Tryton request").with_source(e)
        })?;
        let mut request = HttpRequest::new(Method::POST, self.endpoint.clone())
            .with_operation(method.to_owned())
            .json_body(body)
            .header("accept", "application/json")?;
        if let Some(h) = auth {
            request = request.header("authorization", h.expose())?;
        }
        let response = self.http.send(request, None).await?;
        let status = response.status.as_u16();
        let retry_after = response.retry_after(chrono::Utc::now());
        if !response.status.is_success() {
            return Err(parse_error(status, None, retry_after, method));
        }
        let parsed: RpcResponse = serde_json::from_slice(&response.body).map_err(|e| {
            Error::new(
                ErrorKind::Unexpected,
                "Tryton answered something that is not a JSON-RPC response",
            )
            .with_context("tryton_method", method)
            .with_source(e)
        })?;
        if let Some(err) = &parsed.error {
            return Err(parse_error(status, Some(err), retry_after, method));
        }
        Ok(parsed.result.unwrap_or(Value::Null))
    }

    async fn login(&self) -> Result<Session> {
        let params = [
            Value::String(self.login.clone()),
            json!({"password": self.password.expose()}),
        ];
        let result = self.send("common.db.login", &params, None).await?;
        let (user_id, token) = match result.as_array().map(Vec::as_slice) {
            Some([uid, token, ..]) => (uid.as_i64(), token.as_str()),
            _ => (None, None),
        };
        let (Some(user_id), Some(token)) = (user_id, token) else {
            return Err(Error::new(
                ErrorKind::Unexpected,
                "Tryton answered the login without a user id and session",
            ));
        };
        let session = Session {
            header: Secret::new(session_header(&self.login, user_id, token)),
            user_id,
        };
        self.set_session(Some(session.clone()));
        tracing::debug!(user_id, "tryton login");
        Ok(session)
    }

    /// Calls `method` with `params`, logging in first if needed. A 401 (expired session, or a
    /// method that wants a fresh session such as `account.move.post`) logs in again and repeats
    /// the call once: trytond checks the session before it runs anything, so the first attempt
    /// did nothing.
    pub async fn call(&self, method: &str, params: &[Value]) -> Result<Value> {
        let session = match self.current_session() {
            Some(s) => s,
            None => self.login().await?,
        };
        match self.send(method, params, Some(&session.header)).await {
            Err(e)
                if e.kind() == &ErrorKind::Unauthorized
                    && e.context_value("http_status") == Some("401") =>
            {
                self.set_session(None);
                let fresh = self.login().await?;
                self.send(method, params, Some(&fresh.header)).await
            }
            other => other,
        }
    }

    /// `model.<model>.<method>(args…, context)`.
    pub async fn model(
        &self,
        model: &str,
        method: &str,
        mut args: Vec<Value>,
        context: &Value,
    ) -> Result<Value> {
        args.push(context.clone());
        self.call(&format!("model.{model}.{method}"), &args).await
    }

    /// `search_read(domain, offset, limit, order, fields)`: rows as JSON objects.
    pub async fn search_read(
        &self,
        model: &str,
        domain: Value,
        limit: Option<u32>,
        fields: &[&str],
        context: &Value,
    ) -> Result<Vec<Map<String, Value>>> {
        let result = self
            .model(
                model,
                "search_read",
                vec![
                    domain,
                    json!(0),
                    limit.map_or(Value::Null, |l| json!(l)),
                    json!([["id", "ASC"]]),
                    json!(fields),
                ],
                context,
            )
            .await?;
        rows(result, model)
    }

    /// `search_count(domain)`.
    pub async fn search_count(&self, model: &str, domain: Value, context: &Value) -> Result<u64> {
        let result = self
            .model(model, "search_count", vec![domain], context)
            .await?;
        result.as_u64().ok_or_else(|| {
            Error::new(
                ErrorKind::Unexpected,
                format!("{model}.search_count did not answer a number"),
            )
        })
    }

    /// `create([values])`: the new record ids.
    pub async fn create(
        &self,
        model: &str,
        values: Vec<Value>,
        context: &Value,
    ) -> Result<Vec<i64>> {
        let result = self
            .model(model, "create", vec![Value::Array(values)], context)
            .await?;
        ids(&result, model)
    }

    /// Calls a button / workflow method on records (`post`, `quote`, `confirm`).
    pub async fn button(
        &self,
        model: &str,
        method: &str,
        ids: &[i64],
        context: &Value,
    ) -> Result<Value> {
        self.model(model, method, vec![json!(ids)], context).await
    }

    /// `delete(ids)`.
    pub async fn delete(&self, model: &str, ids: &[i64], context: &Value) -> Result<()> {
        self.model(model, "delete", vec![json!(ids)], context)
            .await
            .map(|_| ())
    }
}

/// Reads a `search_read` / `read` answer.
pub fn rows(result: Value, model: &str) -> Result<Vec<Map<String, Value>>> {
    match result {
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::Object(m) => Ok(m),
                _ => Err(unexpected(model, "a row that is not an object")),
            })
            .collect(),
        _ => Err(unexpected(model, "rows that are not a list")),
    }
}

fn ids(result: &Value, model: &str) -> Result<Vec<i64>> {
    result
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| unexpected(model, "no record ids"))
}

fn unexpected(model: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::Unexpected,
        format!("Tryton answered {what} for {model}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_header_is_base64_of_login_uid_token() {
        let h = session_header("admin", 3, "abc");
        assert_eq!(h, "Session YWRtaW46MzphYmM=");
    }
}
