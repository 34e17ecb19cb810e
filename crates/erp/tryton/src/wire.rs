//! Tryton's JSON-RPC on the wire: the request and response envelopes, the typed value
//! encodings (`Decimal`, `date`), and the one error table ([`parse_error`]).
//!
//! Verified against trytond 8.2 (`trytond/protocols/jsonrpc.py`, `protocols/dispatcher.py`):
//!
//! * a call is `POST /<database>/rpc/` with `{"id": n, "method": "...", "params": [...]}`;
//!   for model methods the **last** parameter is the context dictionary;
//! * a success is `{"id": n, "result": ...}` (HTTP 200);
//! * a Tryton exception is `{"id": n, "error": [name, args]}` (HTTP 200): `UserError` carries
//!   `[message, description, domain]`, `UserWarning` `[name, message, description]`,
//!   `ConcurrencyException` a message, `LoginException` `[name, message, type]`; any other
//!   server exception is `[text, traceback]`;
//! * authentication, routing and infrastructure failures are HTTP statuses: 401 (bad or expired
//!   session, bad password at login), 403 (method not exposed), 404 (unknown database at
//!   login), 429 (login rate limit), 503 (database unavailable), 504 (transaction timeout).
//!
//! Decimals travel as `{"__class__": "Decimal", "decimal": "113.00"}` and dates as
//! `{"__class__": "date", "year": 2026, "month": 2, "day": 1}`: money never passes through a
//! binary float in either direction.

use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use marketsync_core::money::parse_decimal_exact;
use marketsync_core::{Error, ErrorKind, ReasonCode, Retry};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A JSON-RPC request as trytond reads it: exactly `id`, `method` and `params` (with any other
/// key the server answers a bare HTTP error instead of the `error` envelope).
#[derive(Clone, Debug, Serialize)]
pub struct RpcRequest<'a> {
    /// Request id, echoed in the answer.
    pub id: u64,
    /// `common.db.login`, `model.<model>.<method>`…
    pub method: &'a str,
    /// Positional parameters; for model methods the last one is the context.
    pub params: &'a [Value],
}

/// A JSON-RPC answer.
#[derive(Clone, Debug, Deserialize)]
pub struct RpcResponse {
    /// The request id.
    #[serde(default)]
    pub id: Option<Value>,
    /// The result, when the call succeeded.
    #[serde(default)]
    pub result: Option<Value>,
    /// `[exception name, arguments]`, when it failed.
    #[serde(default)]
    pub error: Option<Value>,
}

/// Encodes a decimal the way trytond's JSON decoder reads it.
pub fn decimal(value: Decimal) -> Value {
    json!({"__class__": "Decimal", "decimal": value.to_string()})
}

/// Encodes a date the way trytond's JSON decoder reads it.
pub fn date(value: NaiveDate) -> Value {
    json!({"__class__": "date", "year": value.year(), "month": value.month(), "day": value.day()})
}

/// Reads a decimal: Tryton's `Decimal` object, or (for robustness) a JSON number or string,
/// parsed exactly from its text — never through `f64`, and never rounded: a value with more
/// digits than a `Decimal` holds (or in exponent notation) is `None`.
pub fn parse_decimal(value: &Value) -> Option<Decimal> {
    let text = match value {
        Value::Object(map) if map.get("__class__").and_then(Value::as_str) == Some("Decimal") => {
            map.get("decimal").and_then(Value::as_str)?.to_owned()
        }
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    parse_decimal_exact(&text).ok()
}

/// The largest stock quantity read from Tryton (a guard against garbage, far above any real
/// warehouse).
pub const MAX_STOCK_QUANTITY: i64 = 1_000_000_000_000;

/// Reads a stock quantity (`product.product.quantity` / `forecast_quantity`: a Python float in
/// Tryton, counted in the product's default unit). A missing or `null` field is 0; a value that
/// is not a finite whole number within ±[`MAX_STOCK_QUANTITY`] is a `Validation` error, never
/// rounded or saturated.
pub fn parse_stock_quantity(value: Option<&Value>, field: &str) -> Result<i64, Error> {
    let bad = |why: &str| {
        Error::validation(
            ReasonCode::InvalidQuantity,
            format!("Tryton answered a {field} that is {why}"),
        )
        .with_context("field", field)
    };
    let d = match value {
        None | Some(Value::Null) => return Ok(0),
        Some(v) => parse_decimal(v).ok_or_else(|| bad("not a number"))?,
    };
    if d.fract() != Decimal::ZERO {
        return Err(bad("not a whole number of units"));
    }
    i64::try_from(d)
        .ok()
        .filter(|q| q.checked_abs().is_some_and(|a| a <= MAX_STOCK_QUANTITY))
        .ok_or_else(|| bad("out of range"))
}

/// Reads a date object.
pub fn parse_date(value: &Value) -> Option<NaiveDate> {
    let map = value.as_object()?;
    if map.get("__class__").and_then(Value::as_str) != Some("date") {
        return None;
    }
    let part = |k: &str| map.get(k).and_then(Value::as_i64);
    NaiveDate::from_ymd_opt(
        i32::try_from(part("year")?).ok()?,
        u32::try_from(part("month")?).ok()?,
        u32::try_from(part("day")?).ok()?,
    )
}

/// Reads a record id (`int`) from a value.
pub fn parse_id(value: &Value) -> Option<i64> {
    value.as_i64()
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The one error table: an HTTP status (with the body and `Retry-After`) or a JSON-RPC `error`
/// array → our [`Error`].
///
/// | Tryton answer | kind | retry |
/// |---|---|---|
/// | HTTP 401 | `Unauthorized` | Permanent (the client logs in again once first) |
/// | HTTP 403 | `PermissionDenied` | Permanent |
/// | HTTP 404 | `NotFound` (unknown database) | Permanent |
/// | HTTP 429 | `RateLimited` (+ `Retry-After`) | Temporary |
/// | HTTP 503, 502, other 5xx | `Unavailable` | Temporary |
/// | HTTP 504 | `Timeout` | Temporary |
/// | HTTP 400, 413, 422 | `Validation` | Permanent |
/// | `UserError` from the `marketsync` module, description `nothing_to_ship …` / `over_shipment …` | `Validation`, reason `over_fulfilment` | Permanent |
/// | … description `unknown_sku code=…` | `Mapping`, reason `unknown_sku`, context `sku` | Permanent |
/// | … description `sale_not_confirmed …` | `Validation`, reason `not_postable` | Permanent |
/// | `UserError` "You are not allowed to…" | `PermissionDenied` | Permanent |
/// | `UserError` from the `marketsync` module, description `duplicate_key ids=…` | `Conflict`, reason `duplicate_erp_documents`, context `tryton_ids` | Permanent |
/// | `UserError` | `Validation`, reason `erp_rejected` | Permanent |
/// | `UserWarning` | `Validation`, reason `erp_rejected` | Permanent |
/// | `ConcurrencyException` | `Conflict` | Permanent |
/// | `LoginException` | `Unauthorized` | Permanent |
/// | any other server exception | `Unexpected` | Permanent |
pub fn parse_error(
    status: u16,
    rpc_error: Option<&Value>,
    retry_after: Option<Duration>,
    method: &str,
) -> Error {
    let err = match rpc_error {
        Some(e) => rpc_error_to_error(e),
        None => http_error(status, retry_after),
    };
    err.with_context("tryton_method", method)
}

fn http_error(status: u16, retry_after: Option<Duration>) -> Error {
    let (kind, message) = match status {
        401 => (
            ErrorKind::Unauthorized,
            "Tryton refused the credentials or the session",
        ),
        403 => (
            ErrorKind::PermissionDenied,
            "Tryton refused the method (not exposed over RPC or not allowed)",
        ),
        404 => (
            ErrorKind::NotFound,
            "Tryton does not know this database or path",
        ),
        429 => (
            ErrorKind::RateLimited { retry_after },
            "Tryton rate-limited the call",
        ),
        504 => (
            ErrorKind::Timeout,
            "Tryton timed out the transaction (rolled back)",
        ),
        408 => (ErrorKind::Timeout, "request timeout"),
        500..=599 => (
            ErrorKind::Unavailable,
            "Tryton is unavailable (server or database error)",
        ),
        400 | 413 | 422 => (ErrorKind::Validation, "Tryton refused the request"),
        _ => (ErrorKind::Unexpected, "unexpected HTTP status from Tryton"),
    };
    let mut err = Error::new(kind, message).with_context("http_status", status);
    if status == 400 || status == 413 || status == 422 {
        err = err.with_reason(ReasonCode::ErpRejected);
    }
    err
}

/// A refusal of the `marketsync` module's fulfilment and credit-note RPCs: its description is
/// `<code> [key=value]` (`nothing_to_ship sale=12`, `unknown_sku code=SKU-1`).
fn module_refusal(message: &str, description: &str) -> Option<Error> {
    if !message.starts_with("marketsync: ") {
        return None;
    }
    let (code, detail) = description.split_once(' ').unwrap_or((description, ""));
    let error = match code {
        "unknown_sku" => {
            let sku = detail.strip_prefix("code=").unwrap_or(detail);
            Error::mapping(ReasonCode::UnknownSku, message).with_context("sku", sku)
        }
        "nothing_to_ship" | "over_shipment" => {
            Error::validation(ReasonCode::OverFulfilment, message)
        }
        "sale_not_confirmed" => Error::validation(ReasonCode::NotPostable, message),
        "invalid_quantity" => Error::validation(ReasonCode::InvalidQuantity, message),
        "shipment_in_progress" | "no_revenue_account" | "invalid_key" => {
            Error::validation(ReasonCode::ErpRejected, message)
        }
        _ => return None,
    };
    Some(error.with_context("tryton_reason", code))
}

fn rpc_error_to_error(e: &Value) -> Error {
    let (name, args) = match e.as_array().map(Vec::as_slice) {
        Some([name, args, ..]) => (name.as_str().unwrap_or_default(), args),
        Some([name]) => (name.as_str().unwrap_or_default(), &Value::Null),
        _ => ("", e),
    };
    match name {
        "UserError" => {
            let message = text(args.get(0));
            let description = text(args.get(1));
            let full = if description.is_empty() {
                message.clone()
            } else {
                format!("{message} - {description}")
            };
            if let Some(e) = module_refusal(&message, &description) {
                e.with_context("tryton_error", name)
            } else if let Some(ids) = description.strip_prefix("duplicate_key ids=") {
                // The `marketsync` module found several finished documents under one key
                // (left by an adapter before the unique key): nothing can pick one safely.
                Error::new(ErrorKind::Conflict, message)
                    .with_reason(ReasonCode::DuplicateErpDocuments)
                    .with_context("tryton_error", name)
                    .with_context("tryton_ids", ids)
            } else if message.starts_with("You are not allowed to") {
                Error::new(ErrorKind::PermissionDenied, full).with_context("tryton_error", name)
            } else {
                Error::validation(ReasonCode::ErpRejected, full).with_context("tryton_error", name)
            }
        }
        "UserWarning" => {
            let warning = text(args.get(0));
            let message = text(args.get(1));
            Error::validation(ReasonCode::ErpRejected, message)
                .with_context("tryton_error", name)
                .with_context("tryton_warning", warning)
        }
        "ConcurrencyException" => {
            Error::new(ErrorKind::Conflict, text(Some(args))).with_context("tryton_error", name)
        }
        "LoginException" => Error::new(
            ErrorKind::Unauthorized,
            format!("Tryton asks for login parameter {}", text(args.get(0))),
        )
        .with_context("tryton_error", name),
        _ => {
            // `[str(exception), traceback]`: a server-side bug or an unexpected data state.
            let message = if name.is_empty() {
                e.to_string()
            } else {
                name.to_owned()
            };
            Error::new(
                ErrorKind::Unexpected,
                format!("Tryton server error: {message}"),
            )
            .with_retry(Retry::Permanent)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn decimals_and_dates_use_trytons_classes() {
        assert_eq!(
            decimal(dec!(113.00)),
            json!({"__class__": "Decimal", "decimal": "113.00"})
        );
        assert_eq!(
            parse_decimal(&json!({"__class__": "Decimal", "decimal": "0.10"})),
            Some(dec!(0.10))
        );
        // A JSON number is read from its text, exactly.
        assert_eq!(
            parse_decimal(&serde_json::from_str::<Value>("0.1").unwrap_or_default()),
            Some(dec!(0.1))
        );
        let d = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap_or_default();
        assert_eq!(
            date(d),
            json!({"__class__": "date", "year": 2026, "month": 2, "day": 1})
        );
        assert_eq!(parse_date(&date(d)), Some(d));
        assert_eq!(parse_date(&json!("2026-02-01")), None);
    }

    #[test]
    fn decimals_are_exact_or_refused() {
        // 29 significant digits: refused, not rounded.
        let long = json!({"__class__": "Decimal", "decimal": "1234567890.1234567890123456789"});
        assert_eq!(parse_decimal(&long), None);
        assert_eq!(parse_decimal(&json!("1e30")), None);
        assert_eq!(parse_decimal(&json!({"__class__": "Decimal"})), None);
        assert_eq!(parse_decimal(&json!(-12)), Some(dec!(-12)));
    }

    #[test]
    fn stock_quantities_are_whole_bounded_numbers() {
        assert_eq!(
            parse_stock_quantity(Some(&json!(120.0)), "quantity").ok(),
            Some(120)
        );
        assert_eq!(
            parse_stock_quantity(Some(&json!(-3)), "quantity").ok(),
            Some(-3)
        );
        assert_eq!(parse_stock_quantity(None, "quantity").ok(), Some(0));
        assert_eq!(
            parse_stock_quantity(Some(&Value::Null), "quantity").ok(),
            Some(0)
        );
        for bad in [
            json!(1.5),
            json!(1e300),
            json!("x"),
            json!(i64::MIN),
            json!(u64::MAX),
        ] {
            let e = parse_stock_quantity(Some(&bad), "quantity");
            assert_eq!(
                e.map_err(|e| e.reason()).err(),
                Some(ReasonCode::InvalidQuantity),
                "{bad}"
            );
        }
    }

    #[test]
    fn error_table() {
        let user = json!(["UserError", ["The move is unbalanced.", "", null]]);
        let e = parse_error(200, Some(&user), None, "model.account.move.post");
        assert_eq!(e.kind(), &ErrorKind::Validation);
        assert_eq!(e.retry(), Retry::Permanent);
        assert_eq!(e.reason(), ReasonCode::ErpRejected);
        assert_eq!(
            e.context_value("tryton_method"),
            Some("model.account.move.post")
        );

        let access = json!([
            "UserError",
            ["You are not allowed to access \"User\".", "", null]
        ]);
        let e = parse_error(200, Some(&access), None, "m");
        assert_eq!(e.kind(), &ErrorKind::PermissionDenied);

        let dup = json!([
            "UserError",
            [
                "marketsync: the idempotency key msk1-ab is held by 2 finished account.move records (ids 12,15): keep one and cancel the others by hand",
                "duplicate_key ids=12,15",
                null
            ]
        ]);
        let e = parse_error(
            200,
            Some(&dup),
            None,
            "model.account.move.marketsync_upsert",
        );
        assert_eq!(e.kind(), &ErrorKind::Conflict);
        assert_eq!(e.retry(), Retry::Permanent);
        assert_eq!(e.reason().as_str(), "duplicate_erp_documents");
        assert_eq!(e.context_value("tryton_ids"), Some("12,15"));

        let refusals = [
            (
                "nothing_to_ship sale=3",
                ErrorKind::Validation,
                "over_fulfilment",
            ),
            (
                "over_shipment code=SKU-1",
                ErrorKind::Validation,
                "over_fulfilment",
            ),
            ("unknown_sku code=SKU-9", ErrorKind::Mapping, "unknown_sku"),
            (
                "sale_not_confirmed sale=3",
                ErrorKind::Validation,
                "not_postable",
            ),
            (
                "invalid_quantity",
                ErrorKind::Validation,
                "invalid_quantity",
            ),
        ];
        for (description, kind, reason) in refusals {
            let err = json!(["UserError", ["marketsync: refused", description, null]]);
            let e = parse_error(
                200,
                Some(&err),
                None,
                "model.stock.shipment.out.marketsync_upsert",
            );
            assert_eq!(e.kind(), &kind, "{description}");
            assert_eq!(e.reason().as_str(), reason, "{description}");
            assert!(!e.is_temporary(), "{description}");
        }
        let e = parse_error(
            200,
            Some(&json!([
                "UserError",
                ["marketsync: refused", "unknown_sku code=SKU-9", null]
            ])),
            None,
            "m",
        );
        assert_eq!(e.context_value("sku"), Some("SKU-9"));
        // Another module's user error with a look-alike description stays `erp_rejected`.
        let other = json!([
            "UserError",
            ["The sale is closed.", "nothing_to_ship", null]
        ]);
        assert_eq!(
            parse_error(200, Some(&other), None, "m").reason(),
            ReasonCode::ErpRejected
        );

        let warn = json!(["UserWarning", ["w1", "Are you sure?", ""]]);
        let e = parse_error(200, Some(&warn), None, "m");
        assert_eq!(e.kind(), &ErrorKind::Validation);
        assert_eq!(e.context_value("tryton_warning"), Some("w1"));

        let conc = json!([
            "ConcurrencyException",
            "Records were modified in the meanwhile"
        ]);
        assert_eq!(
            parse_error(200, Some(&conc), None, "m").kind(),
            &ErrorKind::Conflict
        );
        let login = json!(["LoginException", ["totp", "Code", "char"]]);
        assert_eq!(
            parse_error(200, Some(&login), None, "m").kind(),
            &ErrorKind::Unauthorized
        );
        let bug = json!(["'NoneType' object has no attribute 'id'", "Traceback…"]);
        let e = parse_error(200, Some(&bug), None, "m");
        assert_eq!(e.kind(), &ErrorKind::Unexpected);
        assert!(!e.is_temporary());

        let cases = [
            (401, ErrorKind::Unauthorized, false),
            (403, ErrorKind::PermissionDenied, false),
            (404, ErrorKind::NotFound, false),
            (503, ErrorKind::Unavailable, true),
            (502, ErrorKind::Unavailable, true),
            (504, ErrorKind::Timeout, true),
            (422, ErrorKind::Validation, false),
        ];
        for (status, kind, temporary) in cases {
            let e = parse_error(status, None, None, "m");
            assert_eq!(e.kind(), &kind, "{status}");
            assert_eq!(e.is_temporary(), temporary, "{status}");
        }
        let e = parse_error(429, None, Some(Duration::from_secs(3)), "common.db.login");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert!(e.is_temporary());
    }
}
