//! One error type at every boundary.
//!
//! [`Error`] carries an [`ErrorKind`] the pipeline acts on, a [`Retry`] state, a message,
//! context pairs (connector, operation, the platform's request id — never personal data or
//! secrets), an optional [`ReasonCode`] for the exception queue, and the source error.
//!
//! | kind | typical retry | the pipeline… |
//! |---|---|---|
//! | `RateLimited { retry_after }` | Temporary | waits `retry_after`, then retries |
//! | `Timeout`, `Unavailable` | Temporary | retries with backoff; a *write* that timed out is looked up by its idempotency key first |
//! | `Unauthorized`, `PermissionDenied`, `ConfigInvalid` | Permanent | stops the stream and alerts |
//! | `Validation`, `Mapping` | Permanent | sends the record to the exception queue with its reason code |
//! | `Conflict` | Permanent | treats as "already exists"; looks the document up |
//! | `Unsupported` | Permanent | skips the capability (and `capabilities()` said so up front) |

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What went wrong, at a level the pipeline can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Configuration is missing or malformed (bad endpoint, missing key).
    ConfigInvalid,
    /// Credentials were refused (bad signature, expired session or token).
    Unauthorized,
    /// Credentials are valid but lack a permission or scope.
    PermissionDenied,
    /// The requested object does not exist.
    NotFound,
    /// The platform throttled the call; `retry_after` is how long it asked us to wait.
    RateLimited {
        /// The wait the platform asked for, if it said.
        retry_after: Option<Duration>,
    },
    /// The request was sent and no answer came: for a write, the outcome is unknown.
    Timeout,
    /// The platform is temporarily unavailable (5xx, connection reset, maintenance).
    Unavailable,
    /// The object already exists or was changed concurrently.
    Conflict,
    /// Input data is invalid (a malformed payload, an unbalanced journal, an ERP rejection).
    Validation,
    /// Data could not be mapped (unknown SKU, status or fee code, tax mismatch).
    Mapping,
    /// The operation is not supported by this connector or adapter.
    Unsupported,
    /// Anything else; a bug or an unexpected platform answer.
    Unexpected,
}

impl ErrorKind {
    /// The retry state this kind usually carries.
    pub fn default_retry(&self) -> Retry {
        match self {
            ErrorKind::RateLimited { .. } | ErrorKind::Timeout | ErrorKind::Unavailable => {
                Retry::Temporary
            }
            _ => Retry::Permanent,
        }
    }

    /// A short stable name (`"rate_limited"`), for metrics and reason codes.
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::ConfigInvalid => "config_invalid",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::RateLimited { .. } => "rate_limited",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Validation => "validation",
            ErrorKind::Mapping => "mapping",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Unexpected => "unexpected",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::RateLimited {
                retry_after: Some(d),
            } => write!(f, "rate_limited (retry after {} ms)", d.as_millis()),
            other => f.write_str(other.name()),
        }
    }
}

/// Whether retrying can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Retry {
    /// Retrying the same request will fail the same way.
    Permanent,
    /// Retrying later may succeed.
    Temporary,
    /// Was temporary, but retries have been exhausted.
    Persistent,
}

/// Why a record landed in the exception queue. Stable snake_case names in storage and metrics.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReasonCode {
    /// The platform payload could not be parsed or violates the platform's documented shape.
    MalformedPayload,
    /// No SKU alias resolves to an ERP item.
    UnknownSku,
    /// A raw platform status has no canonical mapping.
    UnknownStatus,
    /// A settlement fee code no fee rule knows.
    UnknownFeeCode,
    /// The marketplace's tax differs from the recomputed tax beyond tolerance.
    TaxMismatch,
    /// A journal entry does not balance.
    UnbalancedJournal,
    /// A journal entry has no lines to post, or a line of zero amount.
    EmptyJournal,
    /// The ERP refused the document.
    ErpRejected,
    /// A settlement does not match the orders it pays.
    SettlementVariance,
    /// A temporary failure outlived the retry policy.
    RetriesExhausted,
    /// Money in different currencies was combined, an amount is not rounded to its currency's
    /// minor unit (`10.005 USD`, JPY with decimals), has more digits than can be represented
    /// exactly, or overflows.
    MoneyInvalid,
    /// A quantity is zero where units are required, or beyond the sane upper bound.
    InvalidQuantity,
    /// An amount is outside its allowed range: a negative total, refund or deposit, or a
    /// discount larger than what it discounts.
    AmountOutOfRange,
    /// A rate (tax, fee, FX) is outside its documented range.
    RateOutOfRange,
    /// A timestamp is implausible (year outside 1970–2999) or out of order (modified before
    /// created, paid before placed, a period ending before it starts).
    InvalidTime,
    /// A reason defined by an out-of-tree component.
    Other(String),
}

impl ReasonCode {
    /// The stable snake_case name.
    pub fn as_str(&self) -> Cow<'_, str> {
        match self {
            ReasonCode::MalformedPayload => "malformed_payload".into(),
            ReasonCode::UnknownSku => "unknown_sku".into(),
            ReasonCode::UnknownStatus => "unknown_status".into(),
            ReasonCode::UnknownFeeCode => "unknown_fee_code".into(),
            ReasonCode::TaxMismatch => "tax_mismatch".into(),
            ReasonCode::UnbalancedJournal => "unbalanced_journal".into(),
            ReasonCode::EmptyJournal => "empty_journal".into(),
            ReasonCode::ErpRejected => "erp_rejected".into(),
            ReasonCode::SettlementVariance => "settlement_variance".into(),
            ReasonCode::RetriesExhausted => "retries_exhausted".into(),
            ReasonCode::MoneyInvalid => "money_invalid".into(),
            ReasonCode::InvalidQuantity => "invalid_quantity".into(),
            ReasonCode::AmountOutOfRange => "amount_out_of_range".into(),
            ReasonCode::RateOutOfRange => "rate_out_of_range".into(),
            ReasonCode::InvalidTime => "invalid_time".into(),
            ReasonCode::Other(s) => Cow::Borrowed(s.as_str()),
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error of every marketsync boundary. See the [module docs](self).
#[derive(thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    retry: Retry,
    message: String,
    reason: Option<ReasonCode>,
    context: Vec<(&'static str, String)>,
    #[source]
    source: Option<BoxError>,
}

/// `Result<T, marketsync_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error; the retry state defaults from the kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            retry: kind.default_retry(),
            kind,
            message: message.into(),
            reason: None,
            context: Vec::new(),
            source: None,
        }
    }

    /// `Unsupported` for a named operation.
    pub fn unsupported(operation: &str) -> Error {
        Error::new(
            ErrorKind::Unsupported,
            format!("{operation} is not supported"),
        )
        .with_context("operation", operation)
    }

    /// `Validation` with a reason code.
    pub fn validation(reason: ReasonCode, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Validation, message).with_reason(reason)
    }

    /// `Mapping` with a reason code.
    pub fn mapping(reason: ReasonCode, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Mapping, message).with_reason(reason)
    }

    /// `RateLimited` with the wait the platform asked for.
    pub fn rate_limited(retry_after: Option<Duration>, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::RateLimited { retry_after }, message)
    }

    /// Adds a context pair. Never put personal data or secrets here.
    pub fn with_context(mut self, key: &'static str, value: impl fmt::Display) -> Error {
        self.context.push((key, value.to_string()));
        self
    }

    /// Sets the reason code used by the exception queue.
    pub fn with_reason(mut self, reason: ReasonCode) -> Error {
        self.reason = Some(reason);
        self
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.source = Some(source.into());
        self
    }

    /// Overrides the retry state.
    pub fn with_retry(mut self, retry: Retry) -> Error {
        self.retry = retry;
        self
    }

    /// Marks a temporary error as persistent once retries are exhausted.
    pub fn persist(mut self) -> Error {
        if self.retry == Retry::Temporary {
            self.retry = Retry::Persistent;
        }
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Whether retrying can help.
    pub fn retry(&self) -> Retry {
        self.retry
    }

    /// True when a retry may succeed.
    pub fn is_temporary(&self) -> bool {
        self.retry == Retry::Temporary
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The reason code for the exception queue: the explicit one, or one derived from the kind.
    pub fn reason(&self) -> ReasonCode {
        if let Some(r) = &self.reason {
            return r.clone();
        }
        match self.kind {
            ErrorKind::Validation => ReasonCode::MalformedPayload,
            ErrorKind::Conflict | ErrorKind::NotFound => ReasonCode::ErpRejected,
            _ if self.retry != Retry::Permanent => ReasonCode::RetriesExhausted,
            _ => ReasonCode::Other(self.kind.name().to_owned()),
        }
    }

    /// The context pairs.
    pub fn context(&self) -> &[(&'static str, String)] {
        &self.context
    }

    /// The context value for `key`, if any.
    pub fn context_value(&self, key: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The wait the platform asked for, when rate limited.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind {
            ErrorKind::RateLimited { retry_after } => retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?}): {}", self.kind, self.retry, self.message)?;
        if let Some(r) = &self.reason {
            write!(f, " [reason: {r}]")?;
        }
        for (k, v) in &self.context {
            write!(f, ", {k}: {v}")?;
        }
        if let Some(s) = &self.source {
            write!(f, ", source: {s}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind)
            .field("retry", &self.retry)
            .field("message", &self.message);
        if let Some(r) = &self.reason {
            d.field("reason", r);
        }
        if !self.context.is_empty() {
            d.field("context", &self.context);
        }
        if let Some(s) = &self.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl From<crate::money::MoneyError> for Error {
    /// An unparsable amount or unknown currency code came from a payload (`MalformedPayload`);
    /// mixed currencies, overflow or an unrounded amount are `MoneyInvalid`.
    fn from(e: crate::money::MoneyError) -> Error {
        use crate::money::MoneyError as M;
        let reason = match e {
            M::InvalidAmount(_) | M::UnknownCurrency(_) => ReasonCode::MalformedPayload,
            _ => ReasonCode::MoneyInvalid,
        };
        Error::validation(reason, e.to_string()).with_source(e)
    }
}

impl From<crate::journal::JournalError> for Error {
    fn from(e: crate::journal::JournalError) -> Error {
        use crate::journal::JournalError as J;
        let reason = match &e {
            // Nothing to post is not an imbalance: it has its own reason.
            J::TooFewLines => ReasonCode::EmptyJournal,
            J::NonPositive { amount, .. } if amount.is_zero() => ReasonCode::EmptyJournal,
            _ => ReasonCode::UnbalancedJournal,
        };
        Error::validation(reason, e.to_string()).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_display() {
        let e = Error::rate_limited(Some(Duration::from_secs(2)), "slow down")
            .with_context("connector", "tmall");
        assert!(e.is_temporary());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(e.reason(), ReasonCode::RetriesExhausted);
        assert!(e.to_string().contains("connector: tmall"));
        let e = Error::new(ErrorKind::Unauthorized, "bad sign");
        assert_eq!(e.retry(), Retry::Permanent);
        assert_eq!(e.persist().retry(), Retry::Permanent);
        let m = Error::mapping(ReasonCode::UnknownSku, "no alias");
        assert_eq!(m.reason(), ReasonCode::UnknownSku);
    }

    #[test]
    fn empty_and_zero_journals_are_not_unbalanced() {
        use crate::journal::JournalError as J;
        use crate::money::{Currency, Money};
        let e: Error = J::TooFewLines.into();
        assert_eq!(e.reason(), ReasonCode::EmptyJournal);
        assert_eq!(e.reason().as_str(), "empty_journal");
        let zero = Money::new(rust_decimal::Decimal::ZERO, Currency::USD);
        let e: Error = J::NonPositive {
            index: 0,
            amount: zero,
        }
        .into();
        assert_eq!(e.reason(), ReasonCode::EmptyJournal);
        let negative = Money::new(-rust_decimal::Decimal::ONE, Currency::USD);
        let e: Error = J::NonPositive {
            index: 0,
            amount: negative,
        }
        .into();
        assert_eq!(e.reason(), ReasonCode::UnbalancedJournal);
    }
}
