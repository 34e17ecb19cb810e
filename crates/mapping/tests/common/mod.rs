//! Shared helpers for the integration tests (the documents and rulebooks are in
//! `marketsync_mapping::examples`).
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::str::FromStr;

use marketsync_core::chrono::{DateTime, Utc};
use marketsync_core::rust_decimal::Decimal;
use marketsync_core::*;

pub type R<T = ()> = Result<T, Box<dyn std::error::Error>>;

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

pub fn m(s: &str, c: Currency) -> Money {
    Money::new(d(s), c)
}

/// One row per line: `Dr 1122.01 178.00 CNY marketplace_receivable`, with `@rate` for converted
/// lines.
pub fn table(e: &JournalEntry) -> String {
    let mut out = format!("{} {}\n", e.date, e.reference.as_deref().unwrap_or(""));
    for l in &e.lines {
        let side = match l.side {
            Side::Debit => "Dr",
            Side::Credit => "Cr",
        };
        let role = l.dimensions.extra.get("role").cloned().unwrap_or_default();
        let fx =
            l.fx.as_ref()
                .map(|f| format!(" ({} @{})", f.original, f.rate))
                .unwrap_or_default();
        out.push_str(&format!(
            "{side} {:<8} {:>8} {} {role}{fx}\n",
            l.account.as_str(),
            l.amount.amount,
            l.amount.currency
        ));
    }
    out
}
