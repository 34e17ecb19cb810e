//! Available-to-promise (ATP) inventory sync: ERP stock in, per-channel quantities out.
//!
//! For each SKU: **ATP = on hand − reserved − safety buffer**, where *reserved* is what the ERP
//! reserves plus what marketsync has seen sold on any channel and not yet shipped (so an order
//! on Tmall lowers the quantity shown on JD and Shopify before the ERP has even heard of it).
//! Each channel then gets its share by its [`ChannelAllocation`]: a percentage of ATP, a cap,
//! and a threshold below which it shows zero.
//!
//! [`AtpEngine::micro_batch`] emits only what changed since the last acknowledged push
//! (delta), and several changes to one SKU inside a batch compact to the latest. Each update
//! carries a version that increases monotonically per (channel, shop, SKU), and
//! [`AtpEngine::acknowledge`] records what the channel applied; an update that was not
//! acknowledged is emitted again in the next batch.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use marketsync_core::{
    Channel, InventoryAck, InventoryPosition, InventoryUpdate, Order, OrderId, OrderStatus, ShopId,
    Sku,
};
use serde::{Deserialize, Serialize};

/// How much of the ATP one channel may show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAllocation {
    /// The channel.
    pub channel: Channel,
    /// The shop.
    pub shop: ShopId,
    /// Share of ATP in basis points (10 000 = all of it). Rounded down.
    pub share_bps: u32,
    /// Never show more than this.
    pub cap: Option<u32>,
    /// Show zero when the share would be at or below this (protects the last units from being
    /// sold twice by channels that update slowly).
    pub zero_at_or_below: Option<u32>,
    /// ERP item → the SKU this channel lists it under. Empty: the channel uses the ERP codes.
    /// Not empty: only listed items are pushed, under their channel SKU.
    #[serde(default)]
    pub listings: BTreeMap<Sku, Sku>,
}

impl ChannelAllocation {
    /// All of ATP, no cap, no threshold.
    pub fn full(channel: Channel, shop: ShopId) -> ChannelAllocation {
        ChannelAllocation {
            channel,
            shop,
            share_bps: 10_000,
            cap: None,
            zero_at_or_below: None,
            listings: BTreeMap::new(),
        }
    }

    /// Sets the ERP item → channel SKU listings.
    pub fn with_listings(mut self, listings: BTreeMap<Sku, Sku>) -> ChannelAllocation {
        self.listings = listings;
        self
    }

    /// The channel's SKU for an ERP item, or `None` when the channel does not list it.
    pub fn channel_sku(&self, item: &Sku) -> Option<Sku> {
        if self.listings.is_empty() {
            Some(item.clone())
        } else {
            self.listings.get(item).cloned()
        }
    }

    /// The quantity to show for a given ATP.
    pub fn quantity(&self, atp: i64) -> u32 {
        if atp <= 0 {
            return 0;
        }
        let share = (i128::from(atp) * i128::from(self.share_bps.min(10_000))) / 10_000;
        let mut q = u32::try_from(share).unwrap_or(u32::MAX);
        if let Some(cap) = self.cap {
            q = q.min(cap);
        }
        if let Some(t) = self.zero_at_or_below {
            if q <= t {
                q = 0;
            }
        }
        q
    }
}

/// ATP settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtpPolicy {
    /// Units held back from every channel, per SKU (default for SKUs not listed: `default_buffer`).
    pub safety_buffer: BTreeMap<Sku, i64>,
    /// Buffer for SKUs without their own.
    pub default_buffer: i64,
    /// The channels that receive quantities.
    pub channels: Vec<ChannelAllocation>,
}

impl AtpPolicy {
    fn buffer(&self, sku: &Sku) -> i64 {
        self.safety_buffer
            .get(sku)
            .copied()
            .unwrap_or(self.default_buffer)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Stock {
    on_hand: i64,
    reserved: i64,
}

/// What one push did, for delta and compaction metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtpStats {
    /// Stock or order changes received.
    pub changes_received: u64,
    /// Changes absorbed because a later change to the same SKU came in the same batch.
    pub changes_compacted: u64,
    /// (SKU, channel) pairs evaluated in batches.
    pub pairs_evaluated: u64,
    /// Updates emitted (pairs whose quantity differed from what the channel shows).
    pub updates_emitted: u64,
    /// Updates acknowledged as applied.
    pub updates_applied: u64,
}

/// The last quantity a channel acknowledged, and the versions issued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Shown {
    applied_qty: Option<u32>,
    applied_version: u64,
    last_issued: u64,
}

/// The ATP engine. Feed it ERP stock and marketplace orders; drain updates in micro-batches.
#[derive(Clone, Debug, Default)]
pub struct AtpEngine {
    policy: AtpPolicy,
    stock: BTreeMap<Sku, Stock>,
    /// Units sold on channels and not yet shipped, per order (so a new revision replaces).
    open_orders: BTreeMap<OrderId, BTreeMap<Sku, i64>>,
    channel_reserved: BTreeMap<Sku, i64>,
    /// Keyed by (channel, shop, channel SKU).
    shown: BTreeMap<(Channel, ShopId, Sku), Shown>,
    /// (channel, shop, channel SKU) → ERP item, for acknowledgements.
    items: BTreeMap<(Channel, ShopId, Sku), Sku>,
    dirty: BTreeSet<Sku>,
    changed_at: BTreeMap<Sku, DateTime<Utc>>,
    stats: AtpStats,
}

impl AtpEngine {
    /// An engine with a policy.
    pub fn new(policy: AtpPolicy) -> AtpEngine {
        AtpEngine {
            policy,
            ..AtpEngine::default()
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> AtpStats {
        self.stats
    }

    fn touch(&mut self, sku: &Sku, at: DateTime<Utc>) {
        self.stats.changes_received += 1;
        if !self.dirty.insert(sku.clone()) {
            self.stats.changes_compacted += 1;
        }
        self.changed_at.entry(sku.clone()).or_insert(at);
    }

    /// Stock from the ERP (positions of several locations of one SKU are summed).
    pub fn on_stock(&mut self, positions: &[InventoryPosition]) {
        let mut by_sku: BTreeMap<Sku, Stock> = BTreeMap::new();
        let mut latest: BTreeMap<Sku, DateTime<Utc>> = BTreeMap::new();
        for p in positions {
            let s = by_sku.entry(p.sku.clone()).or_default();
            s.on_hand += p.on_hand;
            s.reserved += p.reserved;
            let t = latest.entry(p.sku.clone()).or_insert(p.as_of);
            *t = (*t).max(p.as_of);
        }
        for (sku, s) in by_sku {
            if self.stock.get(&sku) != Some(&s) {
                self.stock.insert(sku.clone(), s);
                let at = latest.get(&sku).copied().unwrap_or_else(Utc::now);
                self.touch(&sku, at);
            }
        }
    }

    /// A marketplace order (any revision) whose line SKUs are the ERP's codes; see
    /// [`AtpEngine::on_order_resolved`] for channels with their own SKUs.
    pub fn on_order(&mut self, order: &Order) {
        self.on_order_resolved(order, &BTreeMap::new());
    }

    /// A marketplace order (any revision): paid, unshipped units reserve stock until shipped;
    /// a cancelled or fully shipped order releases its reservation. Idempotent per revision.
    /// `items` maps order lines to ERP items (e.g. `Mapper::resolve_items`); a line without an
    /// entry reserves under its own SKU.
    pub fn on_order_resolved(
        &mut self,
        order: &Order,
        items: &BTreeMap<marketsync_core::OrderLineId, marketsync_core::ErpItemId>,
    ) {
        let reserving = matches!(
            order.status,
            OrderStatus::AwaitingFulfilment | OrderStatus::PartiallyShipped
        );
        let mut now: BTreeMap<Sku, i64> = BTreeMap::new();
        if reserving {
            for l in &order.lines {
                let open = i64::from(l.quantity.saturating_sub(l.quantity_shipped));
                if open > 0 {
                    let sku = items
                        .get(&l.line_id)
                        .map_or_else(|| l.sku.clone(), |i| Sku::new(i.as_str()));
                    *now.entry(sku).or_default() += open;
                }
            }
        }
        let before = self.open_orders.remove(&order.id).unwrap_or_default();
        let skus: BTreeSet<Sku> = before.keys().chain(now.keys()).cloned().collect();
        for sku in skus {
            let delta =
                now.get(&sku).copied().unwrap_or(0) - before.get(&sku).copied().unwrap_or(0);
            if delta != 0 {
                *self.channel_reserved.entry(sku.clone()).or_default() += delta;
                self.touch(&sku, order.updated_at);
            }
        }
        if !now.is_empty() {
            self.open_orders.insert(order.id.clone(), now);
        }
    }

    /// ATP of a SKU now: on hand − ERP reserved − channel reserved − buffer.
    pub fn atp(&self, sku: &Sku) -> i64 {
        let s = self.stock.get(sku).copied().unwrap_or_default();
        let ch = self.channel_reserved.get(sku).copied().unwrap_or(0);
        s.on_hand - s.reserved - ch - self.policy.buffer(sku)
    }

    /// The updates to push now: for every changed SKU and every channel, the quantity it should
    /// show, if different from what it last acknowledged. Clears the changed set; updates that
    /// are not acknowledged as applied make their SKU dirty again.
    pub fn micro_batch(&mut self, now: DateTime<Utc>) -> Vec<InventoryUpdate> {
        let dirty = std::mem::take(&mut self.dirty);
        let mut out = Vec::new();
        for sku in dirty {
            let atp = self.atp(&sku);
            let computed_at = self.changed_at.remove(&sku).unwrap_or(now);
            for alloc in &self.policy.channels {
                let Some(channel_sku) = alloc.channel_sku(&sku) else {
                    continue;
                };
                self.stats.pairs_evaluated += 1;
                let qty = alloc.quantity(atp);
                let key = (
                    alloc.channel.clone(),
                    alloc.shop.clone(),
                    channel_sku.clone(),
                );
                self.items.insert(key.clone(), sku.clone());
                let shown = self.shown.entry(key).or_default();
                if shown.applied_qty == Some(qty) {
                    continue;
                }
                shown.last_issued += 1;
                self.stats.updates_emitted += 1;
                out.push(InventoryUpdate {
                    channel: alloc.channel.clone(),
                    shop: alloc.shop.clone(),
                    sku: channel_sku,
                    location: None,
                    available: qty,
                    version: shown.last_issued,
                    computed_at,
                });
            }
        }
        out
    }

    /// Records a channel's answers to pushed updates. An update not applied (refused,
    /// superseded or lost) leaves its SKU dirty so the next batch tries again.
    pub fn acknowledge(&mut self, updates: &[InventoryUpdate], acks: &[InventoryAck]) {
        for u in updates {
            let key = (u.channel.clone(), u.shop.clone(), u.sku.clone());
            let item = self
                .items
                .get(&key)
                .cloned()
                .unwrap_or_else(|| u.sku.clone());
            let ack = acks
                .iter()
                .find(|a| a.sku == u.sku && a.version == u.version);
            match (ack, self.shown.get_mut(&key)) {
                (Some(a), Some(shown)) if a.applied && u.version >= shown.applied_version => {
                    shown.applied_qty = Some(u.available);
                    shown.applied_version = u.version;
                    self.stats.updates_applied += 1;
                }
                _ => {
                    self.dirty.insert(item);
                }
            }
        }
    }

    /// Marks every update of a failed push for another try.
    pub fn push_failed(&mut self, updates: &[InventoryUpdate]) {
        for u in updates {
            let key = (u.channel.clone(), u.shop.clone(), u.sku.clone());
            let item = self
                .items
                .get(&key)
                .cloned()
                .unwrap_or_else(|| u.sku.clone());
            self.dirty.insert(item);
        }
    }

    /// Units a channel was last acknowledged to show, over all its SKUs.
    pub fn shown_units(&self, channel: &Channel, shop: &ShopId) -> u64 {
        self.shown
            .iter()
            .filter(|((c, s, _), _)| c == channel && s == shop)
            .filter_map(|(_, v)| v.applied_qty)
            .map(u64::from)
            .sum()
    }

    /// What a channel was last acknowledged to show for one of its SKUs.
    pub fn shown(&self, channel: &Channel, shop: &ShopId, sku: &Sku) -> Option<u32> {
        self.shown
            .get(&(channel.clone(), shop.clone(), sku.clone()))
            .and_then(|s| s.applied_qty)
    }
}

/// What [`push`] did.
#[derive(Debug, Default)]
pub struct PushSummary {
    /// Updates sent.
    pub sent: usize,
    /// Updates the channels applied.
    pub applied: usize,
    /// Channels whose push failed, with the error (their updates are retried next batch).
    pub failed: Vec<(Channel, ShopId, marketsync_core::Error)>,
}

/// Runs one micro-batch: computes the changed quantities and pushes them to the matching
/// connectors (by channel and shop), recording acknowledgements. A failed push leaves its
/// SKUs dirty for the next batch; nothing is lost.
pub async fn push(
    engine: &mut AtpEngine,
    connectors: &[std::sync::Arc<dyn marketsync_core::MarketplaceConnector>],
    now: DateTime<Utc>,
) -> PushSummary {
    let updates = engine.micro_batch(now);
    let mut groups: BTreeMap<(Channel, ShopId), Vec<InventoryUpdate>> = BTreeMap::new();
    for u in updates {
        groups
            .entry((u.channel.clone(), u.shop.clone()))
            .or_default()
            .push(u);
    }
    let mut summary = PushSummary::default();
    for ((channel, shop), batch) in groups {
        let Some(connector) = connectors
            .iter()
            .find(|c| c.channel() == channel && c.shop() == shop)
        else {
            engine.push_failed(&batch);
            let e = marketsync_core::Error::new(
                marketsync_core::ErrorKind::ConfigInvalid,
                "no connector for an allocated channel",
            )
            .with_context("channel", &channel)
            .with_context("shop", &shop);
            summary.failed.push((channel, shop, e));
            continue;
        };
        summary.sent += batch.len();
        match connector.push_inventory(&batch).await {
            Ok(acks) => {
                summary.applied += acks.iter().filter(|a| a.applied).count();
                engine.acknowledge(&batch, &acks);
            }
            Err(e) => {
                tracing::warn!(channel = %channel, error = %e, "inventory push failed; will retry");
                engine.push_failed(&batch);
                summary.failed.push((channel, shop, e));
            }
        }
    }
    summary
}
