//! Constructors for the typed mapping errors.
//!
//! Every error is a [`marketsync_core::Error`] of kind [`ErrorKind::Mapping`] (or `Validation`
//! for malformed input) with a [`ReasonCode`] and context pairs that identify the record —
//! channel, shop, alias, fee code, order id — never personal data.

use std::fmt::Display;

use marketsync_core::{Channel, Error, ErrorKind, MoneyError, ReasonCode, ShopId};

/// `UnknownSku`: no alias resolves to an ERP item.
pub fn unknown_sku(channel: &Channel, shop: &ShopId, kind: &str, alias: &str) -> Error {
    Error::mapping(
        ReasonCode::UnknownSku,
        format!("unknown {kind} {alias:?} on {channel} shop {shop}"),
    )
    .with_context("channel", channel)
    .with_context("shop", shop)
    .with_context("alias_kind", kind)
    .with_context("alias", alias)
}

/// `UnknownStatus`: a raw platform status with no canonical mapping.
pub fn unknown_status(channel: &Channel, raw: &str) -> Error {
    Error::mapping(
        ReasonCode::UnknownStatus,
        format!("unknown {channel} status {raw:?}"),
    )
    .with_context("channel", channel)
    .with_context("raw_status", raw)
}

/// `UnknownFeeCode`: a settlement fee code no fee rule knows.
pub fn unknown_fee_code(channel: &Channel, shop: &ShopId, settlement: &str, code: &str) -> Error {
    Error::mapping(
        ReasonCode::UnknownFeeCode,
        format!("no fee rule knows {channel} fee code {code:?} (settlement {settlement})"),
    )
    .with_context("channel", channel)
    .with_context("shop", shop)
    .with_context("settlement", settlement)
    .with_context("fee_code", code)
}

/// `UnbalancedJournal`: a produced entry failed validation (a bug in a rule).
pub fn unbalanced(reference: &str, cause: impl Display) -> Error {
    Error::mapping(
        ReasonCode::UnbalancedJournal,
        format!("journal {reference} failed validation: {cause}"),
    )
    .with_context("reference", reference)
}

/// A configuration problem in the rulebook or a loader input.
pub fn config(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::ConfigInvalid, message)
}

/// Malformed input (an order, refund or settlement that is inconsistent in itself).
pub fn invalid(message: impl Into<String>) -> Error {
    Error::validation(ReasonCode::MalformedPayload, message)
}

/// Wraps a money error (mixed currencies, overflow, unrounded).
pub(crate) fn money(e: MoneyError) -> Error {
    Error::from(e)
}
