//! Status alignment: raw platform status → canonical [`OrderStatus`], and the no-regression
//! rule.
//!
//! [`StatusMap::builtin`] carries a table per channel (Tmall/Taobao, JD, Douyin, Pinduoduo,
//! Xiaohongshu, Amazon, Shopify, Walmart, eBay); users override or add entries with
//! [`StatusMap::set`]. Lookups ignore ASCII case and surrounding space. An unknown raw status is
//! a `Mapping` error with reason `UnknownStatus` — never a guess.
//!
//! Platforms that report two statuses are keyed by a combined string:
//!
//! | channel | raw key | example |
//! |---|---|---|
//! | Shopify | `"{financial_status}/{fulfillment_status}"` (null fulfilment = `unfulfilled`) | `paid/partial` |
//! | eBay | `"{orderPaymentStatus}/{orderFulfillmentStatus}"` | `PAID/FULFILLED` |
//! | Pinduoduo | `order_status`, or `"{order_status}/{refund_status}"` | `2/4` |
//!
//! Use [`shopify_key`] and [`combined_key`] to build them.
//!
//! **No regression** ([`advance`]): a status replaces the current one only if it is further
//! along ([`OrderStatus::progress`]); a shipped order that later reports "paid" stays shipped,
//! and the first terminal state (cancelled / refunded) sticks.

use std::collections::HashMap;

use marketsync_core::{Channel, Error, OrderStatus};

use crate::errors;

/// The no-regression rule: the status to keep when `incoming` arrives for an order that is
/// `current`. `incoming` wins only when its [`OrderStatus::progress`] is strictly greater.
pub fn advance(current: OrderStatus, incoming: OrderStatus) -> OrderStatus {
    if incoming.progress() > current.progress() {
        incoming
    } else {
        current
    }
}

/// The Shopify key: financial status and fulfilment status (`None` → `unfulfilled`).
pub fn shopify_key(financial: &str, fulfillment: Option<&str>) -> String {
    combined_key(financial, fulfillment.unwrap_or("unfulfilled"))
}

/// A combined key `"{a}/{b}"` for platforms that report two statuses.
pub fn combined_key(a: &str, b: &str) -> String {
    format!("{}/{}", a.trim(), b.trim())
}

fn norm(raw: &str) -> String {
    raw.trim().to_ascii_lowercase()
}

/// Per-channel tables from raw status to [`OrderStatus`]. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct StatusMap {
    tables: HashMap<String, HashMap<String, OrderStatus>>,
}

use OrderStatus::{
    AwaitingFulfilment as AF, Cancelled as CX, Completed as CO, Delivered as DE,
    PartiallyShipped as PS, PendingPayment as PP, Refunded as RF, Shipped as SH,
};

const TAOBAO: &[(&str, OrderStatus)] = &[
    ("TRADE_NO_CREATE_PAY", PP),
    ("WAIT_BUYER_PAY", PP),
    ("PAY_PENDING", PP),
    ("WAIT_PRE_AUTH_CONFIRM", PP),
    ("WAIT_SELLER_SEND_GOODS", AF),
    ("PAID_FORBID_CONSIGN", AF),
    ("SELLER_CONSIGNED_PART", PS),
    ("WAIT_BUYER_CONFIRM_GOODS", SH),
    ("TRADE_BUYER_SIGNED", DE),
    ("TRADE_FINISHED", CO),
    ("TRADE_CLOSED", RF),
    ("TRADE_CLOSED_BY_TAOBAO", CX),
];

const JD: &[(&str, OrderStatus)] = &[
    ("WAIT_SELLER_STOCK_OUT", AF),
    ("WAIT_SELLER_DELIVERY", AF),
    ("WAIT_SEND_CODE", AF),
    ("PAUSE", AF),
    ("POP_ORDER_PAUSE", AF),
    ("LOCKED", AF),
    ("WAIT_GOODS_RECEIVE_CONFIRM", SH),
    ("SEND_TO_DISTRIBUTION_CENER", SH),
    ("DISTRIBUTION_CENTER_RECEIVED", SH),
    ("RECEIPTS_CONFIRM", DE),
    ("FINISHED_L", CO),
    ("TRADE_CANCELED", CX),
];

const DOUYIN: &[(&str, OrderStatus)] = &[
    ("1", PP),
    ("105", AF),
    ("2", AF),
    ("101", PS),
    ("3", SH),
    ("4", CX),
    ("5", CO),
];

const PINDUODUO: &[(&str, OrderStatus)] = &[
    ("1", AF),
    ("2", SH),
    ("3", DE),
    ("1/4", RF),
    ("2/4", RF),
    ("3/4", RF),
];

const XIAOHONGSHU: &[(&str, OrderStatus)] = &[
    ("1", PP),
    ("2", AF),
    ("3", AF),
    ("4", AF),
    ("5", PS),
    ("6", SH),
    ("7", CO),
    ("8", RF),
    ("9", CX),
];

const AMAZON: &[(&str, OrderStatus)] = &[
    ("Pending", PP),
    ("PendingAvailability", PP),
    ("Unshipped", AF),
    ("InvoiceUnconfirmed", SH),
    ("PartiallyShipped", PS),
    ("Shipped", SH),
    ("Canceled", CX),
    ("Unfulfillable", CX),
    // v2026 FulfillmentStatus
    ("PENDING_AVAILABILITY", PP),
    ("PENDING", PP),
    ("UNSHIPPED", AF),
    ("PARTIALLY_SHIPPED", PS),
    ("SHIPPED", SH),
    ("CANCELLED", CX),
    ("UNFULFILLABLE", CX),
];

const WALMART: &[(&str, OrderStatus)] = &[
    ("Created", AF),
    ("Acknowledged", AF),
    ("Shipped", SH),
    ("Delivered", DE),
    ("Cancelled", CX),
];

fn shopify_table() -> Vec<(String, OrderStatus)> {
    let financial: &[(&str, Option<OrderStatus>)] = &[
        ("pending", Some(PP)),
        ("authorized", None),
        ("partially_paid", None),
        ("paid", None),
        ("partially_refunded", None),
        ("refunded", Some(RF)),
        ("voided", Some(CX)),
        ("expired", Some(CX)),
    ];
    let fulfilment: &[(&str, OrderStatus)] =
        &[("unfulfilled", AF), ("partial", PS), ("fulfilled", SH)];
    let mut out = Vec::new();
    for (fin, fixed) in financial {
        for (ful, by_fulfilment) in fulfilment {
            // Pending payment that is already being fulfilled (manual payment terms) follows
            // fulfilment; refunded / voided / expired are terminal whatever the fulfilment.
            let status = match fixed {
                Some(PP) if *ful != "unfulfilled" => *by_fulfilment,
                Some(s) => *s,
                None => *by_fulfilment,
            };
            out.push((combined_key(fin, ful), status));
        }
    }
    out
}

fn ebay_table() -> Vec<(String, OrderStatus)> {
    let mut out = Vec::new();
    for (pay, fixed) in [
        ("PENDING", Some(PP)),
        ("FAILED", Some(CX)),
        ("PAID", None),
        ("PARTIALLY_REFUNDED", None),
        ("FULLY_REFUNDED", Some(RF)),
    ] {
        for (ful, by) in [("NOT_STARTED", AF), ("IN_PROGRESS", PS), ("FULFILLED", SH)] {
            out.push((combined_key(pay, ful), fixed.unwrap_or(by)));
        }
    }
    out
}

impl StatusMap {
    /// An empty map (every status unknown).
    pub fn new() -> StatusMap {
        StatusMap::default()
    }

    /// The built-in tables for every channel listed in the [module docs](self).
    pub fn builtin() -> StatusMap {
        let mut m = StatusMap::new();
        for ch in [Channel::Tmall, Channel::Taobao] {
            m.extend(&ch, TAOBAO.iter().map(|(k, v)| (*k, *v)));
        }
        m.extend(&Channel::Jd, JD.iter().map(|(k, v)| (*k, *v)));
        m.extend(&Channel::Douyin, DOUYIN.iter().map(|(k, v)| (*k, *v)));
        m.extend(&Channel::Pinduoduo, PINDUODUO.iter().map(|(k, v)| (*k, *v)));
        m.extend(
            &Channel::Xiaohongshu,
            XIAOHONGSHU.iter().map(|(k, v)| (*k, *v)),
        );
        m.extend(&Channel::Amazon, AMAZON.iter().map(|(k, v)| (*k, *v)));
        m.extend(&Channel::Walmart, WALMART.iter().map(|(k, v)| (*k, *v)));
        let shopify = shopify_table();
        m.extend(
            &Channel::Shopify,
            shopify.iter().map(|(k, v)| (k.as_str(), *v)),
        );
        let ebay = ebay_table();
        m.extend(&Channel::Ebay, ebay.iter().map(|(k, v)| (k.as_str(), *v)));
        m
    }

    fn extend<'a>(
        &mut self,
        channel: &Channel,
        rows: impl Iterator<Item = (&'a str, OrderStatus)>,
    ) {
        let table = self.tables.entry(channel.name()).or_default();
        for (k, v) in rows {
            table.insert(norm(k), v);
        }
    }

    /// Adds or overrides one entry (user overrides win over the built-in table).
    pub fn set(&mut self, channel: &Channel, raw: &str, status: OrderStatus) -> &mut StatusMap {
        self.tables
            .entry(channel.name())
            .or_default()
            .insert(norm(raw), status);
        self
    }

    /// Builder form of [`StatusMap::set`].
    pub fn with(mut self, channel: &Channel, raw: &str, status: OrderStatus) -> StatusMap {
        self.set(channel, raw, status);
        self
    }

    /// Maps a raw status. Unknown → `UnknownStatus` error with channel and raw status.
    pub fn map(&self, channel: &Channel, raw: &str) -> Result<OrderStatus, Error> {
        self.tables
            .get(&channel.name())
            .and_then(|t| t.get(&norm(raw)))
            .copied()
            .ok_or_else(|| errors::unknown_status(channel, raw))
    }

    /// Maps a raw status and applies the no-regression rule against the status already held.
    pub fn map_and_advance(
        &self,
        channel: &Channel,
        raw: &str,
        current: Option<OrderStatus>,
    ) -> Result<OrderStatus, Error> {
        let incoming = self.map(channel, raw)?;
        Ok(current.map_or(incoming, |c| advance(c, incoming)))
    }

    /// The raw statuses known for a channel (lower-cased), for documentation and tests.
    pub fn known(&self, channel: &Channel) -> Vec<String> {
        let mut v: Vec<String> = self
            .tables
            .get(&channel.name())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketsync_core::{ErrorKind, ReasonCode};

    #[test]
    fn tmall_has_all_twelve_top_statuses() -> Result<(), Error> {
        let m = StatusMap::builtin();
        assert_eq!(m.known(&Channel::Tmall).len(), 12);
        assert_eq!(m.map(&Channel::Tmall, "WAIT_SELLER_SEND_GOODS")?, AF);
        assert_eq!(m.map(&Channel::Taobao, " trade_closed_by_taobao ")?, CX);
        assert_eq!(m.map(&Channel::Tmall, "TRADE_CLOSED")?, RF);
        Ok(())
    }

    #[test]
    fn combos_and_overrides() -> Result<(), Error> {
        let mut m = StatusMap::builtin();
        assert_eq!(m.map(&Channel::Shopify, &shopify_key("paid", None))?, AF);
        assert_eq!(
            m.map(&Channel::Shopify, &shopify_key("paid", Some("partial")))?,
            PS
        );
        assert_eq!(m.map(&Channel::Shopify, "REFUNDED/fulfilled")?, RF);
        assert_eq!(
            m.map(&Channel::Ebay, &combined_key("PAID", "FULFILLED"))?,
            SH
        );
        assert_eq!(m.map(&Channel::Pinduoduo, "2/4")?, RF);
        m.set(&Channel::Jd, "LOCKED", PP);
        assert_eq!(m.map(&Channel::Jd, "LOCKED")?, PP);
        Ok(())
    }

    #[test]
    fn unknown_status_is_typed() {
        let err = StatusMap::builtin().map(&Channel::Tmall, "WAIT_ALIENS");
        let err = err.err();
        assert_eq!(err.as_ref().map(|e| e.kind()), Some(&ErrorKind::Mapping));
        assert_eq!(
            err.as_ref().map(|e| e.reason()),
            Some(ReasonCode::UnknownStatus)
        );
        assert_eq!(
            err.as_ref().and_then(|e| e.context_value("raw_status")),
            Some("WAIT_ALIENS")
        );
    }

    #[test]
    fn status_never_regresses() -> Result<(), Error> {
        let m = StatusMap::builtin();
        // Shipped, then a stale "paid" snapshot arrives.
        let s = m.map_and_advance(&Channel::Tmall, "WAIT_SELLER_SEND_GOODS", Some(SH))?;
        assert_eq!(s, SH);
        assert_eq!(advance(AF, SH), SH);
        assert_eq!(advance(CX, RF), CX);
        assert_eq!(advance(CO, RF), RF);
        for a in OrderStatus::ALL {
            for b in OrderStatus::ALL {
                assert!(advance(a, b).progress() >= a.progress());
            }
        }
        Ok(())
    }
}
