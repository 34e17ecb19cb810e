//! Channel P&L and the KPIs practitioners track.
//!
//! [`PnlBuilder`] adds up orders, refunds and settlements into one [`ChannelPnl`] per
//! (channel, shop, month, currency): gross sales, discounts by funder, refunds, net sales, fees
//! by type, marketplace-collected tax, COGS when item costs are known, and contribution margin.
//! Months are business months in the reporting time zone (an order placed on 31 January at
//! 17:30 UTC is a February sale in Shanghai).
//!
//! [`KpiRecorder`] counts what the pipeline did and yields [`Kpis`]: ingestion success rate,
//! duplicate rate, exception volume by reason, share of records needing manual action,
//! inventory update latency and settlement reconciliation cycle time — as a struct and as a
//! `tracing` event.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use marketsync_core::{
    Channel, Currency, Money, MoneyError, Order, ReasonCode, Refund, RefundStatus, Settlement,
    SettlementLineKind, ShopId, Sku, TaxCollector,
};
use serde::{Deserialize, Serialize};

/// The row key of a P&L.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PnlKey {
    /// Channel.
    pub channel: Channel,
    /// Shop.
    pub shop: ShopId,
    /// Business month, `YYYY-MM`.
    pub month: String,
    /// Currency of every amount in the row.
    pub currency: Currency,
}

/// One P&L row. All amounts in [`PnlKey::currency`]; sales figures exclude tax the seller
/// owes (included VAT) and tax the marketplace collects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPnl {
    /// Paid orders counted.
    pub orders: u64,
    /// Goods at list price, net of tax included in the price.
    pub gross_sales: Money,
    /// Shipping charged to buyers.
    pub shipping: Money,
    /// Discounts the seller funded (reduce net sales).
    pub seller_discounts: Money,
    /// Discounts the platform funded (do not reduce net sales: the platform pays them).
    pub platform_discounts: Money,
    /// Money refunded to buyers, net of the tax it reverses.
    pub refunds: Money,
    /// Gross sales + shipping − seller discounts − refunds.
    pub net_sales: Money,
    /// Commission and fees by type (commission under `"commission"`), as positive costs.
    pub fees: BTreeMap<String, Money>,
    /// Tax the marketplace collected and remits (memo: not the seller's revenue or liability).
    pub marketplace_collected_tax: Money,
    /// Cost of goods sold, when item costs are known for every SKU sold.
    pub cogs: Option<Money>,
    /// Net sales − fees − COGS (COGS counted as zero when unknown).
    pub contribution_margin: Money,
}

impl ChannelPnl {
    fn new(c: Currency) -> ChannelPnl {
        let z = Money::zero(c);
        ChannelPnl {
            orders: 0,
            gross_sales: z,
            shipping: z,
            seller_discounts: z,
            platform_discounts: z,
            refunds: z,
            net_sales: z,
            fees: BTreeMap::new(),
            marketplace_collected_tax: z,
            cogs: Some(z),
            contribution_margin: z,
        }
    }

    /// Total fees.
    pub fn total_fees(&self) -> Result<Money, MoneyError> {
        Money::sum(self.gross_sales.currency, self.fees.values())
    }

    fn finish(&mut self) -> Result<(), MoneyError> {
        self.net_sales = self
            .gross_sales
            .checked_add(&self.shipping)?
            .checked_sub(&self.seller_discounts)?
            .checked_sub(&self.refunds)?;
        let cogs = self.cogs.unwrap_or(Money::zero(self.gross_sales.currency));
        self.contribution_margin = self
            .net_sales
            .checked_sub(&self.total_fees()?)?
            .checked_sub(&cogs)?;
        Ok(())
    }
}

/// Adds up orders, refunds and settlements into channel P&L rows.
#[derive(Clone, Debug)]
pub struct PnlBuilder {
    zone: Tz,
    costs: BTreeMap<(Sku, Currency), Money>,
    rows: BTreeMap<PnlKey, ChannelPnl>,
}

fn month_of(at: DateTime<Utc>, zone: Tz) -> String {
    let local = at.with_timezone(&zone);
    format!("{:04}-{:02}", local.year(), local.month())
}

impl PnlBuilder {
    /// A builder reporting business months in `zone`.
    pub fn new(zone: Tz) -> PnlBuilder {
        PnlBuilder {
            zone,
            costs: BTreeMap::new(),
            rows: BTreeMap::new(),
        }
    }

    /// Unit costs from the ERP, for COGS. A row whose sales include a SKU without a cost in
    /// its currency reports `cogs: None`.
    pub fn with_item_costs(mut self, costs: impl IntoIterator<Item = (Sku, Money)>) -> PnlBuilder {
        for (sku, cost) in costs {
            self.costs.insert((sku, cost.currency), cost);
        }
        self
    }

    fn row(
        &mut self,
        channel: &Channel,
        shop: &ShopId,
        at: DateTime<Utc>,
        c: Currency,
    ) -> &mut ChannelPnl {
        let key = PnlKey {
            channel: channel.clone(),
            shop: shop.clone(),
            month: month_of(at, self.zone),
            currency: c,
        };
        self.rows.entry(key).or_insert_with(|| ChannelPnl::new(c))
    }

    /// Adds a paid order (unpaid and cancelled orders have no P&L effect).
    pub fn add_order(&mut self, order: &Order) -> Result<(), MoneyError> {
        if !order.status.is_paid() {
            return Ok(());
        }
        let c = order.currency;
        let t = order.totals()?;
        let included_seller_tax = Money::sum(
            c,
            order
                .lines
                .iter()
                .flat_map(|l| l.taxes.iter())
                .filter(|x| x.included_in_price && x.collected_by == TaxCollector::Seller)
                .map(|x| &x.amount),
        )?;
        let mut cogs: Option<Money> = Some(Money::zero(c));
        for l in &order.lines {
            cogs = match (cogs, self.costs.get(&(l.sku.clone(), c))) {
                (Some(acc), Some(unit)) => {
                    Some(acc.checked_add(&unit.checked_mul(l.quantity.into())?)?)
                }
                _ => None,
            };
        }
        let at = order.paid_at.unwrap_or(order.placed_at);
        let row = self.row(&order.channel, &order.shop, at, c);
        row.orders += 1;
        row.gross_sales = row
            .gross_sales
            .checked_add(&t.goods.checked_sub(&included_seller_tax)?)?;
        row.shipping = row.shipping.checked_add(&t.shipping)?;
        row.seller_discounts = row.seller_discounts.checked_add(&t.seller_discounts)?;
        row.platform_discounts = row.platform_discounts.checked_add(&t.platform_discounts)?;
        row.marketplace_collected_tax = row
            .marketplace_collected_tax
            .checked_add(&t.tax_marketplace_collected)?;
        row.cogs = match (row.cogs, cogs) {
            (Some(a), Some(b)) => Some(a.checked_add(&b)?),
            _ => None,
        };
        Ok(())
    }

    /// Adds a completed refund, net of the taxes it reverses.
    pub fn add_refund(&mut self, refund: &Refund) -> Result<(), MoneyError> {
        if refund.status != RefundStatus::Completed {
            return Ok(());
        }
        let c = refund.total.currency;
        let tax = Money::sum(
            c,
            refund
                .lines
                .iter()
                .flat_map(|l| l.taxes.iter())
                .map(|t| &t.amount),
        )?;
        let row = self.row(&refund.channel, &refund.shop, refund.updated_at, c);
        row.refunds = row.refunds.checked_add(&refund.total.checked_sub(&tax)?)?;
        Ok(())
    }

    /// Adds a settlement's commission and fees (by the month each line was posted).
    pub fn add_settlement(&mut self, s: &Settlement) -> Result<(), MoneyError> {
        for line in &s.lines {
            let name = match &line.kind {
                SettlementLineKind::Commission => "commission".to_owned(),
                SettlementLineKind::Fee { code } => code.clone(),
                _ => continue,
            };
            let row = self.row(&s.channel, &s.shop, line.posted_at, s.currency);
            let cost = line.amount.neg();
            let entry = row.fees.entry(name).or_insert(Money::zero(s.currency));
            *entry = entry.checked_add(&cost)?;
        }
        Ok(())
    }

    /// The rows, with net sales and contribution margin computed.
    pub fn build(mut self) -> Result<BTreeMap<PnlKey, ChannelPnl>, MoneyError> {
        for row in self.rows.values_mut() {
            row.finish()?;
        }
        Ok(self.rows)
    }
}

/// Percentiles of a latency sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// Largest.
    pub max: Duration,
}

fn summarize(samples: &[Duration]) -> LatencySummary {
    if samples.is_empty() {
        return LatencySummary::default();
    }
    let mut s = samples.to_vec();
    s.sort();
    let at = |q: usize| s[((s.len() - 1) * q) / 100];
    LatencySummary {
        count: s.len() as u64,
        p50: at(50),
        p95: at(95),
        max: s[s.len() - 1],
    }
}

/// The pipeline's KPIs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    /// Records received from channels.
    pub received: u64,
    /// Records posted (or confirmed already posted) without manual action.
    pub ingested: u64,
    /// Deliveries suppressed as duplicates.
    pub duplicates: u64,
    /// Exceptions raised, by reason code.
    pub exceptions_by_reason: BTreeMap<String, u64>,
    /// Exceptions resolved by a person (replay after a rule fix, manual resolution).
    pub manual_actions: u64,
    /// `ingested / (received − duplicates)`, in `[0, 1]`.
    pub ingestion_success_rate: f64,
    /// `duplicates / received`.
    pub duplicate_rate: f64,
    /// Share of unique records that needed a person.
    pub manual_action_share: f64,
    /// From a stock change to the channel's acknowledgement.
    pub inventory_update_latency: LatencySummary,
    /// From a settlement's period end to its reconciliation.
    pub settlement_reconciliation_cycle: LatencySummary,
    /// Inventory turnover per `channel/shop`: units sold ÷ average units shown as available
    /// (see [`TurnoverTracker`]); absent where no stock was sampled.
    pub inventory_turnover: BTreeMap<String, f64>,
}

/// Counts what the pipeline does. Cheap; call from the engine's hot path.
#[derive(Clone, Debug, Default)]
pub struct KpiRecorder {
    received: u64,
    ingested: u64,
    duplicates: u64,
    exceptions: BTreeMap<String, u64>,
    manual: u64,
    inventory: Vec<Duration>,
    settlement: Vec<Duration>,
    turnover: BTreeMap<String, f64>,
}

impl KpiRecorder {
    /// A record arrived.
    pub fn received(&mut self) {
        self.received += 1;
    }
    /// A record was posted or confirmed posted.
    pub fn ingested(&mut self) {
        self.ingested += 1;
    }
    /// A delivery was a duplicate.
    pub fn duplicate(&mut self) {
        self.duplicates += 1;
    }
    /// Adds counts at once (e.g. from a sync report): records received, ingested, duplicates.
    pub fn add(&mut self, received: u64, ingested: u64, duplicates: u64) {
        self.received += received;
        self.ingested += ingested;
        self.duplicates += duplicates;
    }
    /// An exception was raised.
    pub fn exception(&mut self, reason: &ReasonCode) {
        *self.exceptions.entry(reason.to_string()).or_default() += 1;
    }
    /// A person resolved or replayed an exception.
    pub fn manual_action(&mut self) {
        self.manual += 1;
    }
    /// An inventory update was acknowledged `latency` after the stock changed.
    pub fn inventory_latency(&mut self, latency: Duration) {
        self.inventory.push(latency);
    }
    /// A settlement was reconciled `cycle` after its period ended.
    pub fn settlement_cycle(&mut self, cycle: Duration) {
        self.settlement.push(cycle);
    }

    /// Records the inventory turnover of the channels a tracker watched.
    pub fn inventory_turnover(&mut self, tracker: &TurnoverTracker) {
        for ((channel, shop), t) in tracker.turnover() {
            self.turnover.insert(format!("{channel}/{shop}"), t);
        }
    }

    /// The KPIs now. Rates are plain ratios (not money), hence `f64`.
    pub fn kpis(&self) -> Kpis {
        let unique = self.received.saturating_sub(self.duplicates);
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        Kpis {
            received: self.received,
            ingested: self.ingested,
            duplicates: self.duplicates,
            exceptions_by_reason: self.exceptions.clone(),
            manual_actions: self.manual,
            ingestion_success_rate: ratio(self.ingested, unique),
            duplicate_rate: ratio(self.duplicates, self.received),
            manual_action_share: ratio(self.manual, unique),
            inventory_update_latency: summarize(&self.inventory),
            settlement_reconciliation_cycle: summarize(&self.settlement),
            inventory_turnover: self.turnover.clone(),
        }
    }

    /// Emits the KPIs as one `tracing` event (target `marketsync::kpi`).
    pub fn emit(&self) {
        let k = self.kpis();
        let exceptions: u64 = k.exceptions_by_reason.values().sum();
        tracing::info!(
            target: "marketsync::kpi",
            received = k.received,
            ingested = k.ingested,
            duplicates = k.duplicates,
            exceptions,
            ingestion_success_rate = k.ingestion_success_rate,
            duplicate_rate = k.duplicate_rate,
            manual_action_share = k.manual_action_share,
            inventory_latency_p95_ms = k.inventory_update_latency.p95.as_millis() as u64,
            settlement_cycle_p95_s = k.settlement_reconciliation_cycle.p95.as_secs(),
            "pipeline KPIs"
        );
    }
}

/// Inventory turnover per channel, in units: units sold on the channel over a period divided by
/// the average units the channel showed as available (ATP) at the samples taken in that period.
/// A channel that sells its whole shown stock once in the period turns it once.
#[derive(Clone, Debug, Default)]
pub struct TurnoverTracker {
    samples: BTreeMap<(Channel, ShopId), (u64, u64)>,
    sold: BTreeMap<(Channel, ShopId), u64>,
}

impl TurnoverTracker {
    /// Samples the units a channel shows as available (e.g.
    /// [`crate::atp::AtpEngine::shown_units`] after a push).
    pub fn sample_stock(&mut self, channel: &Channel, shop: &ShopId, units: u64) {
        let s = self
            .samples
            .entry((channel.clone(), shop.clone()))
            .or_default();
        s.0 += units;
        s.1 += 1;
    }

    /// Counts the units of a paid order (cancelled and unpaid orders sell nothing).
    pub fn add_sold(&mut self, order: &Order) {
        if !order.status.is_paid() {
            return;
        }
        let units: u64 = order.lines.iter().map(|l| u64::from(l.quantity)).sum();
        *self
            .sold
            .entry((order.channel.clone(), order.shop.clone()))
            .or_default() += units;
    }

    /// Turnover per channel and shop, where stock was sampled and averaged above zero.
    pub fn turnover(&self) -> BTreeMap<(Channel, ShopId), f64> {
        self.samples
            .iter()
            .filter(|(_, (total, n))| *n > 0 && *total > 0)
            .map(|(k, (total, n))| {
                let average = *total as f64 / *n as f64;
                let sold = self.sold.get(k).copied().unwrap_or(0) as f64;
                (k.clone(), sold / average)
            })
            .collect()
    }
}
