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

/// What went wrong, at a level the pipeline can act on. `Copy`: match on it freely.
///
/// ```
/// use marketsync_core::{Error, ErrorKind, Retry};
/// use std::time::Duration;
///
/// let e = Error::rate_limited(Some(Duration::from_secs(2)), "slow down");
/// let kind: ErrorKind = *e.kind(); // Copy
/// assert!(matches!(kind, ErrorKind::RateLimited { retry_after: Some(d) } if d.as_secs() == 2));
/// assert_eq!(kind.default_retry(), Retry::Temporary);
/// assert_eq!(kind.name(), "rate_limited");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
///
/// Every reason an in-tree component raises has its own variant, so callers can match on it;
/// [`ReasonCode::Other`] is for out-of-tree components. The snake_case name ([`as_str`],
/// `Display`, serde) is the identity: [`ReasonCode::parse`] turns a stored name back into its
/// typed variant, and equality, ordering and hashing compare the names, so a legacy
/// `Other("order_not_synced")` equals [`ReasonCode::OrderNotSynced`].
///
/// ```
/// use marketsync_core::ReasonCode;
///
/// let r = ReasonCode::parse("missing_fx_rate");
/// assert_eq!(r, ReasonCode::MissingFxRate);
/// assert_eq!(r.to_string(), "missing_fx_rate");
/// // A reason defined by a partner's component keeps its own name.
/// assert_eq!(ReasonCode::parse("etsy_hold"), ReasonCode::Other("etsy_hold".into()));
/// // A row stored before the variant existed still compares equal.
/// assert_eq!(ReasonCode::MissingFxRate, ReasonCode::MissingFxRate);
/// ```
///
/// [`as_str`]: ReasonCode::as_str
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
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
    /// A quantity is zero where units are required, or beyond the sane upper bound
    /// (`invalid_quantity`).
    InvalidQuantity,
    /// An amount is outside its allowed range: a negative total, refund or deposit, or a
    /// discount larger than what it discounts (`amount_out_of_range`).
    AmountOutOfRange,
    /// A rate (tax, fee, FX) is outside its documented range (`rate_out_of_range`).
    RateOutOfRange,
    /// A timestamp is implausible (year outside 1970–2999) or out of order (modified before
    /// created, paid before placed, a period ending before it starts) (`invalid_time`).
    InvalidTime,
    /// A refund arrived for an order that was never synced to the ERP (`order_not_synced`).
    OrderNotSynced,
    /// A settlement changed after it was reconciled (`settlement_revised`).
    SettlementRevised,
    /// No FX rate converts between the two currencies on the date (`missing_fx_rate`).
    MissingFxRate,
    /// No ledger account is mapped for a posting role (`unmapped_account`).
    UnmappedAccount,
    /// No tax rule or ERP tax code is mapped for a tax line (`unmapped_tax`).
    UnmappedTax,
    /// The record is in a state that cannot be posted (`not_postable`).
    NotPostable,
    /// A shipment would fulfil more than the order line has left (`over_fulfilment`).
    OverFulfilment,
    /// Shopify refused the mutation with user errors (`shopify_rejected`).
    ShopifyRejected,
    /// A NetSuite reference (internal id, subsidiary, account…) is missing or unknown
    /// (`netsuite_reference`).
    NetsuiteReference,
    /// The ERP holds more than one document under one idempotency key
    /// (`duplicate_erp_documents`).
    DuplicateErpDocuments,
    /// A Tryton record (product, account, journal…) is not mapped or not found
    /// (`unmapped_tryton_record`).
    UnmappedTrytonRecord,
    /// No ERP party (customer) is mapped for the buyer or channel (`unmapped_party`).
    UnmappedParty,
    /// Configuration is missing or malformed (`config_invalid`).
    ConfigInvalid,
    /// Credentials were refused (`unauthorized`).
    Unauthorized,
    /// Credentials lack a permission or scope (`permission_denied`).
    PermissionDenied,
    /// Data could not be mapped, with no finer reason given (`mapping`).
    Mapping,
    /// The operation is not supported by the connector or adapter (`unsupported`).
    Unsupported,
    /// An unexpected answer or a bug (`unexpected`).
    Unexpected,
    /// A reason defined by an out-of-tree component.
    Other(String),
}

impl ReasonCode {
    /// Every typed reason, for listings and for [`ReasonCode::parse`].
    pub const KNOWN: &'static [ReasonCode] = &[
        ReasonCode::MalformedPayload,
        ReasonCode::UnknownSku,
        ReasonCode::UnknownStatus,
        ReasonCode::UnknownFeeCode,
        ReasonCode::TaxMismatch,
        ReasonCode::UnbalancedJournal,
        ReasonCode::EmptyJournal,
        ReasonCode::ErpRejected,
        ReasonCode::SettlementVariance,
        ReasonCode::RetriesExhausted,
        ReasonCode::MoneyInvalid,
        ReasonCode::InvalidQuantity,
        ReasonCode::AmountOutOfRange,
        ReasonCode::RateOutOfRange,
        ReasonCode::InvalidTime,
        ReasonCode::OrderNotSynced,
        ReasonCode::SettlementRevised,
        ReasonCode::MissingFxRate,
        ReasonCode::UnmappedAccount,
        ReasonCode::UnmappedTax,
        ReasonCode::NotPostable,
        ReasonCode::OverFulfilment,
        ReasonCode::ShopifyRejected,
        ReasonCode::NetsuiteReference,
        ReasonCode::DuplicateErpDocuments,
        ReasonCode::UnmappedTrytonRecord,
        ReasonCode::UnmappedParty,
        ReasonCode::ConfigInvalid,
        ReasonCode::Unauthorized,
        ReasonCode::PermissionDenied,
        ReasonCode::Mapping,
        ReasonCode::Unsupported,
        ReasonCode::Unexpected,
    ];

    /// The stable snake_case name.
    pub fn as_str(&self) -> Cow<'_, str> {
        Cow::Borrowed(match self {
            ReasonCode::MalformedPayload => "malformed_payload",
            ReasonCode::UnknownSku => "unknown_sku",
            ReasonCode::UnknownStatus => "unknown_status",
            ReasonCode::UnknownFeeCode => "unknown_fee_code",
            ReasonCode::TaxMismatch => "tax_mismatch",
            ReasonCode::UnbalancedJournal => "unbalanced_journal",
            ReasonCode::EmptyJournal => "empty_journal",
            ReasonCode::ErpRejected => "erp_rejected",
            ReasonCode::SettlementVariance => "settlement_variance",
            ReasonCode::RetriesExhausted => "retries_exhausted",
            ReasonCode::MoneyInvalid => "money_invalid",
            ReasonCode::InvalidQuantity => "invalid_quantity",
            ReasonCode::AmountOutOfRange => "amount_out_of_range",
            ReasonCode::RateOutOfRange => "rate_out_of_range",
            ReasonCode::InvalidTime => "invalid_time",
            ReasonCode::OrderNotSynced => "order_not_synced",
            ReasonCode::SettlementRevised => "settlement_revised",
            ReasonCode::MissingFxRate => "missing_fx_rate",
            ReasonCode::UnmappedAccount => "unmapped_account",
            ReasonCode::UnmappedTax => "unmapped_tax",
            ReasonCode::NotPostable => "not_postable",
            ReasonCode::OverFulfilment => "over_fulfilment",
            ReasonCode::ShopifyRejected => "shopify_rejected",
            ReasonCode::NetsuiteReference => "netsuite_reference",
            ReasonCode::DuplicateErpDocuments => "duplicate_erp_documents",
            ReasonCode::UnmappedTrytonRecord => "unmapped_tryton_record",
            ReasonCode::UnmappedParty => "unmapped_party",
            ReasonCode::ConfigInvalid => "config_invalid",
            ReasonCode::Unauthorized => "unauthorized",
            ReasonCode::PermissionDenied => "permission_denied",
            ReasonCode::Mapping => "mapping",
            ReasonCode::Unsupported => "unsupported",
            ReasonCode::Unexpected => "unexpected",
            ReasonCode::Other(s) => s.as_str(),
        })
    }

    /// The reason named `name`: its typed variant when there is one, else
    /// [`ReasonCode::Other`]. Never fails, so every stored exception row parses.
    pub fn parse(name: &str) -> ReasonCode {
        ReasonCode::KNOWN
            .iter()
            .find(|r| r.as_str() == name)
            .cloned()
            .unwrap_or_else(|| ReasonCode::Other(name.to_owned()))
    }

    /// The typed variant for a legacy `Other` whose name is now known; other values unchanged.
    pub fn normalized(self) -> ReasonCode {
        match self {
            ReasonCode::Other(name) => ReasonCode::parse(&name),
            typed => typed,
        }
    }
}

impl std::str::FromStr for ReasonCode {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> std::result::Result<ReasonCode, Self::Err> {
        Ok(ReasonCode::parse(s))
    }
}

impl PartialEq for ReasonCode {
    fn eq(&self, other: &ReasonCode) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ReasonCode {}

impl std::hash::Hash for ReasonCode {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for ReasonCode {
    fn partial_cmp(&self, other: &ReasonCode) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ReasonCode {
    /// By name.
    fn cmp(&self, other: &ReasonCode) -> std::cmp::Ordering {
        self.as_str().cmp(&other.as_str())
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
            ErrorKind::ConfigInvalid => ReasonCode::ConfigInvalid,
            ErrorKind::Unauthorized => ReasonCode::Unauthorized,
            ErrorKind::PermissionDenied => ReasonCode::PermissionDenied,
            ErrorKind::Mapping => ReasonCode::Mapping,
            ErrorKind::Unsupported => ReasonCode::Unsupported,
            // A temporary kind marked permanent: no retry will be made.
            ErrorKind::RateLimited { .. } | ErrorKind::Timeout | ErrorKind::Unavailable => {
                ReasonCode::RetriesExhausted
            }
            ErrorKind::Unexpected => ReasonCode::Unexpected,
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
        // The source is not repeated here: `source()` exposes it, and a reporter (such as
        // [`Error::report`]) walks the chain, so each cause prints once.
        Ok(())
    }
}

impl Error {
    /// This error and every cause below it, one per line (`caused by: …`), each printed once.
    ///
    /// ```
    /// use marketsync_core::{Error, ErrorKind};
    ///
    /// let io = std::io::Error::other("connection reset");
    /// let e = Error::new(ErrorKind::Unavailable, "fetch failed").with_source(io);
    /// assert!(!e.to_string().contains("connection reset")); // Display: this error only
    /// assert_eq!(
    ///     e.report().to_string(),
    ///     "unavailable (Temporary): fetch failed\n  caused by: connection reset"
    /// );
    /// ```
    pub fn report(&self) -> Report<'_> {
        Report(self)
    }
}

/// Displays an error and its chain of causes; see [`Error::report`].
#[derive(Debug)]
pub struct Report<'a>(&'a Error);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = std::error::Error::source(self.0);
        while let Some(cause) = next {
            write!(f, "\n  caused by: {cause}")?;
            next = cause.source();
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
    fn display_does_not_repeat_the_source() {
        let inner = std::io::Error::other("disk on fire");
        let e = Error::new(ErrorKind::Unexpected, "write failed").with_source(inner);
        let shown = e.to_string();
        assert!(!shown.contains("disk on fire"), "{shown}");
        assert!(std::error::Error::source(&e).is_some());
        let report = e.report().to_string();
        assert_eq!(report.matches("disk on fire").count(), 1, "{report}");
        assert!(report.starts_with(&shown), "{report}");
    }

    #[test]
    fn every_typed_reason_round_trips_by_name() {
        let mut names = std::collections::BTreeSet::new();
        for r in ReasonCode::KNOWN {
            assert!(!matches!(r, ReasonCode::Other(_)));
            let name = r.as_str().into_owned();
            assert!(names.insert(name.clone()), "duplicate name {name}");
            assert_eq!(&ReasonCode::parse(&name), r);
            assert!(!matches!(ReasonCode::parse(&name), ReasonCode::Other(_)));
            // serde uses the same names, so stored rows parse either way.
            let json = serde_json::to_value(r).unwrap();
            assert_eq!(json, serde_json::Value::String(name.clone()));
            let back: ReasonCode = serde_json::from_value(json).unwrap();
            assert_eq!(&back, r);
        }
        assert_eq!(
            ReasonCode::parse("partner_reason"),
            ReasonCode::Other("partner_reason".into())
        );
        let legacy = ReasonCode::Other("order_not_synced".into());
        assert_eq!(legacy, ReasonCode::OrderNotSynced);
        assert!(matches!(legacy.normalized(), ReasonCode::OrderNotSynced));
    }

    #[test]
    fn kind_derived_reasons_are_typed() {
        for (kind, reason) in [
            (ErrorKind::ConfigInvalid, ReasonCode::ConfigInvalid),
            (ErrorKind::Unauthorized, ReasonCode::Unauthorized),
            (ErrorKind::PermissionDenied, ReasonCode::PermissionDenied),
            (ErrorKind::Mapping, ReasonCode::Mapping),
            (ErrorKind::Unsupported, ReasonCode::Unsupported),
            (ErrorKind::Unexpected, ReasonCode::Unexpected),
            (ErrorKind::Timeout, ReasonCode::RetriesExhausted),
        ] {
            let r = Error::new(kind, "x").reason();
            assert!(!matches!(r, ReasonCode::Other(_)), "{kind}: {r:?}");
            assert_eq!(r, reason);
        }
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
