//! Stored row shapes shared by the backends: each backend reads its rows into these, and the
//! conversion to the public types (with validation) lives here once.

#![allow(dead_code)]

use marketsync_core::{ErpDocumentId, Result, ShopId};

use super::*;

pub(crate) const LEDGER_COLS: &str = "key, scope, state, owner, lease_until, attempts, erp_document, reason, \
                           created_at, updated_at";

/// A ledger row as stored (both backends read into this, then convert).
pub(crate) struct RawLedger {
    pub(crate) key: String,
    pub(crate) scope: String,
    pub(crate) state: String,
    pub(crate) owner: String,
    pub(crate) lease_until: i64,
    pub(crate) attempts: i64,
    pub(crate) erp_document: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl RawLedger {
    pub(crate) fn into_entry(self) -> Result<LedgerEntry> {
        Ok(LedgerEntry {
            key: parse_key(&self.key)?,
            scope: self.scope,
            state: LedgerState::parse(&self.state)?,
            owner: self.owner,
            lease_until: from_micros(self.lease_until)?,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            erp_document: self.erp_document.map(ErpDocumentId::new),
            reason: self.reason,
            created_at: from_micros(self.created_at)?,
            updated_at: from_micros(self.updated_at)?,
        })
    }
}

pub(crate) const EXC_COLS: &str = "id, fingerprint, channel, shop, stream, kind, external_id, event_key, \
                        reason, message, content_hash, canonical, win_start, win_end, attempts, \
                        first_seen, last_seen, status";

/// An exception row as stored.
pub(crate) struct RawException {
    pub(crate) id: i64,
    pub(crate) fingerprint: String,
    pub(crate) channel: String,
    pub(crate) shop: String,
    pub(crate) stream: String,
    pub(crate) kind: String,
    pub(crate) external_id: Option<String>,
    pub(crate) event_key: Option<String>,
    pub(crate) reason: String,
    pub(crate) message: String,
    pub(crate) content_hash: Option<String>,
    pub(crate) canonical: Option<String>,
    pub(crate) win_start: Option<i64>,
    pub(crate) win_end: Option<i64>,
    pub(crate) attempts: i64,
    pub(crate) first_seen: i64,
    pub(crate) last_seen: i64,
    pub(crate) status: String,
}

impl RawException {
    pub(crate) fn into_record(self) -> Result<ExceptionRecord> {
        Ok(ExceptionRecord {
            id: self.id,
            fingerprint: self.fingerprint,
            stream: StreamKey {
                channel: parse_channel(&self.channel)?,
                shop: ShopId::new(self.shop),
                stream: self.stream,
            },
            kind: kind_from_name(&self.kind),
            external_id: self.external_id,
            event_key: self.event_key.as_deref().map(parse_key).transpose()?,
            reason: reason_from_str(&self.reason),
            message: self.message,
            content_hash: self.content_hash.as_deref().map(parse_hash).transpose()?,
            canonical: self.canonical.as_deref().map(parse_json).transpose()?,
            window: window_from(self.win_start, self.win_end)?,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            first_seen: from_micros(self.first_seen)?,
            last_seen: from_micros(self.last_seen)?,
            status: ExceptionStatus::parse(&self.status)?,
        })
    }
}

pub(crate) const LINEAGE_COLS: &str = "document_key, event_key, channel, shop, kind, external_id, revision, \
                            content_hash, role, erp_document, erp_kind, rulebook_version, \
                            settlement_id, settlement_line, payout_id, at";

/// A lineage row as stored.
pub(crate) struct RawLineage {
    pub(crate) document_key: String,
    pub(crate) event_key: String,
    pub(crate) channel: String,
    pub(crate) shop: String,
    pub(crate) kind: String,
    pub(crate) external_id: String,
    pub(crate) revision: String,
    pub(crate) content_hash: Option<String>,
    pub(crate) role: String,
    pub(crate) erp_document: String,
    pub(crate) erp_kind: String,
    pub(crate) rulebook_version: Option<String>,
    pub(crate) settlement_id: Option<String>,
    pub(crate) settlement_line: Option<i64>,
    pub(crate) payout_id: Option<String>,
    pub(crate) at: i64,
}

impl RawLineage {
    pub(crate) fn into_lineage(self) -> Result<Lineage> {
        Ok(Lineage {
            document_key: parse_key(&self.document_key)?,
            event_key: parse_key(&self.event_key)?,
            record: RecordKey {
                channel: parse_channel(&self.channel)?,
                shop: ShopId::new(self.shop),
                kind: kind_from_name(&self.kind),
                external_id: self.external_id,
            },
            revision: parse_revision(&self.revision)?,
            content_hash: self.content_hash.as_deref().map(parse_hash).transpose()?,
            role: self.role,
            erp_document: ErpDocumentId::new(self.erp_document),
            erp_kind: self.erp_kind,
            rulebook_version: self.rulebook_version,
            settlement_id: self.settlement_id,
            settlement_line: self.settlement_line.and_then(|v| u32::try_from(v).ok()),
            payout_id: self.payout_id,
            at: from_micros(self.at)?,
        })
    }
}

pub(crate) const SNAPSHOT_COLS: &str = "channel, shop, kind, external_id, revision, parent_channel, \
                             parent_shop, parent_kind, parent_id, body, updated_at";

/// A snapshot row as stored.
pub(crate) struct RawSnapshot {
    pub(crate) channel: String,
    pub(crate) shop: String,
    pub(crate) kind: String,
    pub(crate) external_id: String,
    pub(crate) revision: String,
    pub(crate) parent_channel: Option<String>,
    pub(crate) parent_shop: Option<String>,
    pub(crate) parent_kind: Option<String>,
    pub(crate) parent_id: Option<String>,
    pub(crate) body: String,
    pub(crate) updated_at: i64,
}

impl RawSnapshot {
    pub(crate) fn into_snapshot(self) -> Result<Snapshot> {
        let parent = match (
            self.parent_channel,
            self.parent_shop,
            self.parent_kind,
            self.parent_id,
        ) {
            (Some(c), Some(s), Some(k), Some(id)) => Some(RecordKey {
                channel: parse_channel(&c)?,
                shop: ShopId::new(s),
                kind: kind_from_name(&k),
                external_id: id,
            }),
            _ => None,
        };
        Ok(Snapshot {
            record: RecordKey {
                channel: parse_channel(&self.channel)?,
                shop: ShopId::new(self.shop),
                kind: kind_from_name(&self.kind),
                external_id: self.external_id,
            },
            revision: parse_revision(&self.revision)?,
            parent,
            body: parse_json(&self.body)?,
            updated_at: from_micros(self.updated_at)?,
        })
    }
}

/// The parent columns of a snapshot: (channel, shop, kind, external id).
pub(crate) fn parent_cols(
    s: &Snapshot,
) -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    match &s.parent {
        Some(p) => (
            Some(p.channel.name().to_string()),
            Some(p.shop.as_str().to_owned()),
            Some(p.kind.name().to_owned()),
            Some(p.external_id.clone()),
        ),
        None => (None, None, None, None),
    }
}
