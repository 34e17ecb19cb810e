//! A seeded generator of realistic marketplace data: multi-line orders in several channels and
//! currencies, discounts by funder, shipping, taxes (included VAT, marketplace-collected US
//! sales tax, seller-collected sales tax), buyers and addresses as region-tagged PII, partial
//! refunds, and settlements that pay the orders.
//!
//! The same seed always produces the same data, on every platform (the generator uses its own
//! SplitMix64, not a library RNG whose algorithm may change).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use marketsync_core::{
    Address, Buyer, Channel, Currency, Discount, DiscountFunder, FulfilmentChannel, Money, Order,
    OrderId, OrderLine, OrderLineId, OrderStatus, Payment, Payout, PayoutId, Pii, Presentment,
    Refund, RefundId, RefundLine, RefundReason, RefundStatus, Region, Revision, Rounding,
    Settlement, SettlementId, SettlementLine, SettlementLineKind, ShippingCharge, ShopId, Sku,
    TaxCollector, TaxKind, TaxLine, TimeZoneId,
};
use rust_decimal::Decimal;

/// SplitMix64: tiny, fast, fully deterministic.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi]` (inclusive).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.range(0, 99) < percent
    }

    /// Picks one element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = self.range(0, items.len().saturating_sub(1) as u64) as usize;
        &items[i]
    }
}

/// One channel the generator sells on.
#[derive(Clone, Debug)]
pub struct ChannelProfile {
    /// The channel.
    pub channel: Channel,
    /// The shop.
    pub shop: ShopId,
    /// The shop currency.
    pub currency: Currency,
    /// The platform's time zone.
    pub time_zone: TimeZoneId,
    /// Where buyer data lives.
    pub region: Region,
    /// The tax regime of its orders.
    pub tax: TaxProfile,
    /// Who ships.
    pub fulfilment: FulfilmentChannel,
    /// Share of orders (percent) presented in another currency, and which.
    pub presentment: Option<(u64, Currency)>,
    /// Commission rate in basis points (settlements).
    pub commission_bps: u32,
    /// Per-order fee code and amount in minor units (settlements).
    pub order_fee: Option<(String, i64)>,
}

/// How the generator taxes a channel's orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaxProfile {
    /// VAT included in prices, owed by the seller (China 13%).
    IncludedVat {
        /// Rate in basis points (1300 = 13%).
        bps: u32,
    },
    /// Sales tax on top of prices, collected and remitted by the marketplace (US facilitator).
    MarketplaceSalesTax {
        /// Rate in basis points.
        bps: u32,
    },
    /// Sales tax on top of prices, owed by the seller.
    SellerSalesTax {
        /// Rate in basis points.
        bps: u32,
    },
}

impl ChannelProfile {
    /// Tmall, CNY, Asia/Shanghai, 13% VAT included, seller ships.
    pub fn tmall() -> ChannelProfile {
        ChannelProfile {
            channel: Channel::Tmall,
            shop: ShopId::new("tmall-flagship"),
            currency: Currency::CNY,
            time_zone: TimeZoneId::shanghai(),
            region: Region::Cn,
            tax: TaxProfile::IncludedVat { bps: 1300 },
            fulfilment: FulfilmentChannel::Seller,
            presentment: None,
            commission_bps: 500,
            order_fee: Some(("tmall_points".into(), 50)),
        }
    }

    /// JD, CNY, Asia/Shanghai, 13% VAT included, JD Logistics.
    pub fn jd() -> ChannelProfile {
        ChannelProfile {
            channel: Channel::Jd,
            shop: ShopId::new("jd-pop-1"),
            currency: Currency::CNY,
            time_zone: TimeZoneId::shanghai(),
            region: Region::Cn,
            tax: TaxProfile::IncludedVat { bps: 1300 },
            fulfilment: FulfilmentChannel::Platform("JD Logistics".into()),
            presentment: None,
            commission_bps: 800,
            order_fee: Some(("jd_logistics_fee".into(), 600)),
        }
    }

    /// Amazon US, USD, marketplace facilitator tax, FBA.
    pub fn amazon_us() -> ChannelProfile {
        ChannelProfile {
            channel: Channel::Amazon,
            shop: ShopId::new("amazon-us"),
            currency: Currency::USD,
            time_zone: TimeZoneId::new("America/Los_Angeles").unwrap_or_else(TimeZoneId::utc),
            region: Region::Us,
            tax: TaxProfile::MarketplaceSalesTax { bps: 725 },
            fulfilment: FulfilmentChannel::Platform("FBA".into()),
            presentment: None,
            commission_bps: 1500,
            order_fee: Some(("FBAPerUnitFulfillmentFee".into(), 322)),
        }
    }

    /// Shopify, USD shop, some orders presented in EUR, seller-collected sales tax.
    pub fn shopify() -> ChannelProfile {
        ChannelProfile {
            channel: Channel::Shopify,
            shop: ShopId::new("brand.myshopify.com"),
            currency: Currency::USD,
            time_zone: TimeZoneId::new("America/New_York").unwrap_or_else(TimeZoneId::utc),
            region: Region::Us,
            tax: TaxProfile::SellerSalesTax { bps: 800 },
            fulfilment: FulfilmentChannel::Seller,
            presentment: Some((30, Currency::EUR)),
            commission_bps: 290,
            order_fee: Some(("shopify_payments_fee".into(), 30)),
        }
    }

    /// An out-of-tree channel in JPY (no minor unit), to exercise zero-decimal rounding.
    pub fn rakuten_jp() -> ChannelProfile {
        ChannelProfile {
            channel: Channel::Custom("rakuten".into()),
            shop: ShopId::new("rakuten-jp"),
            currency: Currency::JPY,
            time_zone: TimeZoneId::new("Asia/Tokyo").unwrap_or_else(TimeZoneId::utc),
            region: Region::Global,
            tax: TaxProfile::IncludedVat { bps: 1000 },
            fulfilment: FulfilmentChannel::Seller,
            presentment: None,
            commission_bps: 700,
            order_fee: None,
        }
    }
}

/// The platform-style raw status the generator writes for a canonical status.
pub fn raw_status(channel: &Channel, status: OrderStatus) -> &'static str {
    match channel {
        Channel::Tmall | Channel::Taobao => match status {
            OrderStatus::PendingPayment => "WAIT_BUYER_PAY",
            OrderStatus::AwaitingFulfilment => "WAIT_SELLER_SEND_GOODS",
            OrderStatus::PartiallyShipped => "SELLER_CONSIGNED_PART",
            OrderStatus::Shipped | OrderStatus::Delivered => "WAIT_BUYER_CONFIRM_GOODS",
            OrderStatus::Completed => "TRADE_FINISHED",
            OrderStatus::Cancelled => "TRADE_CLOSED_BY_TAOBAO",
            OrderStatus::Refunded => "TRADE_CLOSED",
        },
        Channel::Amazon => match status {
            OrderStatus::PendingPayment => "Pending",
            OrderStatus::AwaitingFulfilment => "Unshipped",
            OrderStatus::PartiallyShipped => "PartiallyShipped",
            OrderStatus::Shipped | OrderStatus::Delivered | OrderStatus::Completed => "Shipped",
            OrderStatus::Cancelled | OrderStatus::Refunded => "Canceled",
        },
        _ => match status {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::AwaitingFulfilment => "awaiting_fulfilment",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
        },
    }
}

/// Generator settings.
#[derive(Clone, Debug)]
pub struct GeneratorConfig {
    /// The seed.
    pub seed: u64,
    /// Channels, picked uniformly.
    pub channels: Vec<ChannelProfile>,
    /// Orders are placed from here…
    pub start: DateTime<Utc>,
    /// …over this span.
    pub span: Duration,
    /// SKU catalogue.
    pub skus: Vec<Sku>,
}

impl GeneratorConfig {
    /// Five channels (Tmall, JD, Amazon US, Shopify, a JPY custom channel), 20 SKUs, January
    /// 2026.
    pub fn new(seed: u64) -> GeneratorConfig {
        GeneratorConfig {
            seed,
            channels: vec![
                ChannelProfile::tmall(),
                ChannelProfile::jd(),
                ChannelProfile::amazon_us(),
                ChannelProfile::shopify(),
                ChannelProfile::rakuten_jp(),
            ],
            start: DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(), // 2026-01-01Z
            span: Duration::days(31),
            skus: (1..=20).map(|i| Sku::new(format!("SKU-{i:04}"))).collect(),
        }
    }

    /// Only the given channels.
    pub fn with_channels(mut self, channels: Vec<ChannelProfile>) -> GeneratorConfig {
        self.channels = channels;
        self
    }
}

/// The generator. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Generator {
    cfg: GeneratorConfig,
    rng: Rng,
    next_order: u64,
    next_refund: u64,
}

const NAMES_CN: &[&str] = &["张伟", "王芳", "李娜", "刘洋", "陈静"];
const NAMES_EN: &[&str] = &[
    "Jane Doe",
    "John Smith",
    "Ana García",
    "Li Wei",
    "Sam Taylor",
];

impl Generator {
    /// A generator.
    pub fn new(cfg: GeneratorConfig) -> Generator {
        Generator {
            rng: Rng::new(cfg.seed),
            cfg,
            next_order: 1,
            next_refund: 1,
        }
    }

    /// The settings.
    pub fn config(&self) -> &GeneratorConfig {
        &self.cfg
    }

    fn price(&mut self, currency: Currency) -> Money {
        let minor = match currency.minor_units() {
            0 => self.rng.range(3, 300) as i64 * 100, // 300–30,000 yen
            _ => {
                let whole = self.rng.range(5, 500) as i64;
                whole * 100 + *self.rng.pick(&[0_i64, 90, 99, 50])
            }
        };
        Money::from_minor(minor, currency)
    }

    /// Generates `n` orders.
    pub fn orders(&mut self, n: usize) -> Vec<Order> {
        (0..n).map(|_| self.order()).collect()
    }

    /// Generates one order on a randomly picked channel.
    pub fn order(&mut self) -> Order {
        let profile = self.rng.pick(&self.cfg.channels).clone();
        self.order_for(&profile)
    }

    /// Generates one order on the given channel.
    pub fn order_for(&mut self, p: &ChannelProfile) -> Order {
        let c = p.currency;
        let n = self.next_order;
        self.next_order += 1;
        let span_secs = self.cfg.span.num_seconds().max(1) as u64;
        let placed_at = self.cfg.start + Duration::seconds(self.rng.range(0, span_secs - 1) as i64);
        let status = *self.rng.pick(&[
            OrderStatus::AwaitingFulfilment,
            OrderStatus::AwaitingFulfilment,
            OrderStatus::Shipped,
            OrderStatus::Shipped,
            OrderStatus::Delivered,
            OrderStatus::Completed,
            OrderStatus::Completed,
            OrderStatus::PartiallyShipped,
            OrderStatus::PendingPayment,
            OrderStatus::Cancelled,
        ]);
        let updated_at = placed_at + Duration::minutes(self.rng.range(0, 60 * 24 * 3) as i64);
        let paid_at = status
            .is_paid()
            .then(|| placed_at + Duration::seconds(self.rng.range(5, 900) as i64));
        let line_count = self.rng.range(1, 4);
        let mut lines = Vec::new();
        for i in 0..line_count {
            let sku = self.rng.pick(&self.cfg.skus).clone();
            let quantity = self.rng.range(1, 3) as u32;
            let unit_price = self.price(c);
            let mut discounts = Vec::new();
            if self.rng.chance(30) {
                let gross = unit_price
                    .checked_mul(Decimal::from(quantity))
                    .unwrap_or(unit_price);
                let pct = Decimal::new(self.rng.range(5, 20) as i64, 2);
                let amount = gross
                    .checked_mul(pct)
                    .unwrap_or(gross)
                    .round(Rounding::HalfUp);
                if !amount.is_zero() {
                    discounts.push(Discount {
                        funder: DiscountFunder::Seller,
                        amount,
                        code: Some("STORE-PROMO".into()),
                        description: Some("store promotion".into()),
                    });
                }
            }
            let shipped = match status {
                OrderStatus::Shipped | OrderStatus::Delivered | OrderStatus::Completed => quantity,
                OrderStatus::PartiallyShipped if i == 0 => quantity,
                _ => 0,
            };
            lines.push(OrderLine {
                line_id: OrderLineId::new(format!("{n}-{}", i + 1)),
                sku: sku.clone(),
                platform_sku_id: Some(format!("p{}", sku.as_str().replace("SKU-", ""))),
                listing_id: None,
                title: format!("Product {}", sku.as_str()),
                quantity,
                unit_price,
                discounts,
                taxes: Vec::new(),
                fulfilment_channel: None,
                raw_status: None,
                quantity_shipped: shipped,
            });
        }
        // A partially shipped order needs an unshipped line.
        if status == OrderStatus::PartiallyShipped && lines.len() == 1 {
            let mut extra = lines[0].clone();
            extra.line_id = OrderLineId::new(format!("{n}-2"));
            extra.quantity_shipped = 0;
            extra.discounts.clear();
            lines.push(extra);
        }
        let mut order_discounts = Vec::new();
        if self.rng.chance(25) {
            let amount = Money::from_minor(
                self.rng.range(1, 20) as i64 * 10_i64.pow(c.minor_units()),
                c,
            );
            order_discounts.push(Discount {
                funder: DiscountFunder::Platform,
                amount,
                code: Some("PLATFORM-COUPON".into()),
                description: Some("platform-funded coupon".into()),
            });
        }
        let mut shipping = Vec::new();
        if self.rng.chance(40) {
            shipping.push(ShippingCharge {
                amount: Money::from_minor(
                    self.rng.range(5, 15) as i64 * 10_i64.pow(c.minor_units()),
                    c,
                ),
                discounts: Vec::new(),
                taxes: Vec::new(),
                method: Some("standard".into()),
            });
        }
        let mut order = Order {
            channel: p.channel.clone(),
            shop: p.shop.clone(),
            id: OrderId::new(format!("{}{:08}", order_prefix(&p.channel), n)),
            revision: Revision::UpdatedAt(updated_at),
            status,
            raw_status: raw_status(&p.channel, status).to_owned(),
            placed_at,
            paid_at,
            updated_at,
            source_time_zone: p.time_zone.clone(),
            currency: c,
            presentment: None,
            lines,
            discounts: order_discounts,
            shipping,
            taxes: Vec::new(),
            payments: Vec::new(),
            fulfilment_channel: p.fulfilment.clone(),
            buyer: Some(Pii::new(p.region, self.buyer(p.region))),
            ship_to: Some(Pii::new(p.region, self.address(p.region))),
            attribution: None,
            raw: None,
            extensions: BTreeMap::new(),
        };
        if p.channel == Channel::Douyin || self.rng.chance(5) {
            order.attribution = Some(marketsync_core::Attribution {
                live_room_id: Some(format!("room-{}", self.rng.range(1, 50))),
                author_id: Some(format!("author-{}", self.rng.range(1, 20))),
                ..Default::default()
            });
        }
        self.apply_tax(&mut order, p.tax);
        if let Ok(t) = order.totals() {
            if status.is_paid() {
                order.payments.push(Payment {
                    amount: t.buyer_total,
                    method: Some("wallet".into()),
                    transaction_id: Some(format!("pay-{n}")),
                    paid_at,
                });
            }
            if let Some((pct, pc)) = p.presentment {
                if self.rng.chance(pct) {
                    // 1 USD = 0.92 EUR, rounded in the presentment currency.
                    let total = Money::new(t.buyer_total.amount * Decimal::new(92, 2), pc)
                        .round(Rounding::HalfEven);
                    order.presentment = Some(Presentment {
                        currency: pc,
                        total,
                    });
                }
            }
        }
        order
    }

    fn apply_tax(&mut self, order: &mut Order, tax: TaxProfile) {
        let c = order.currency;
        for line in &mut order.lines {
            let net = line
                .gross()
                .and_then(|g| g.checked_sub(&line.discount_by(DiscountFunder::Seller)?))
                .unwrap_or(Money::zero(c));
            let (kind, bps, included, collector) = match tax {
                TaxProfile::IncludedVat { bps } => (TaxKind::Vat, bps, true, TaxCollector::Seller),
                TaxProfile::MarketplaceSalesTax { bps } => {
                    (TaxKind::SalesTax, bps, false, TaxCollector::Marketplace)
                }
                TaxProfile::SellerSalesTax { bps } => {
                    (TaxKind::SalesTax, bps, false, TaxCollector::Seller)
                }
            };
            let rate = Decimal::new(i64::from(bps), 4);
            let amount = if included {
                // tax = net × rate / (1 + rate)
                Money::new(net.amount * rate / (Decimal::ONE + rate), c).round(Rounding::HalfUp)
            } else {
                Money::new(net.amount * rate, c).round(Rounding::HalfUp)
            };
            if !amount.is_zero() {
                line.taxes.push(TaxLine {
                    kind,
                    rate: Some(rate),
                    amount,
                    included_in_price: included,
                    collected_by: collector,
                    jurisdiction: None,
                });
            }
        }
    }

    fn buyer(&mut self, region: Region) -> Buyer {
        let name = if region == Region::Cn {
            self.rng.pick(NAMES_CN)
        } else {
            self.rng.pick(NAMES_EN)
        };
        Buyer {
            platform_id: Some(format!("buyer-{}", self.rng.range(1000, 9999))),
            name: Some((*name).to_owned()),
            email: (region != Region::Cn)
                .then(|| format!("buyer{}@example.com", self.rng.range(1, 999))),
            phone: Some(format!("138{:08}", self.rng.range(0, 99_999_999))),
        }
    }

    fn address(&mut self, region: Region) -> Address {
        if region == Region::Cn {
            Address {
                name: Some((*self.rng.pick(NAMES_CN)).to_owned()),
                phone: Some(format!("139{:08}", self.rng.range(0, 99_999_999))),
                lines: vec![format!("文三路{}号", self.rng.range(1, 500))],
                district: Some("西湖区".into()),
                city: Some("杭州市".into()),
                province: Some("浙江省".into()),
                postal_code: Some("310000".into()),
                country: "CN".into(),
            }
        } else {
            Address {
                name: Some((*self.rng.pick(NAMES_EN)).to_owned()),
                phone: None,
                lines: vec![format!("{} Market St", self.rng.range(1, 2000))],
                district: None,
                city: Some("San Francisco".into()),
                province: Some("CA".into()),
                postal_code: Some("94103".into()),
                country: "US".into(),
            }
        }
    }

    /// A refund for a paid order, or `None` (unpaid, or the dice said no). About one in three
    /// refunds is partial (one unit of one line), the rest refund whole lines; goods come back
    /// and are restocked on about half.
    pub fn refund_for(&mut self, order: &Order, percent: u64) -> Option<Refund> {
        if !order.status.is_paid() || !self.rng.chance(percent) {
            return None;
        }
        let c = order.currency;
        let line = self.rng.pick(&order.lines).clone();
        let net = line
            .gross()
            .and_then(|g| g.checked_sub(&line.discount_by(DiscountFunder::Seller)?))
            .ok()?;
        // `amount` is the goods part (included taxes inside it); taxes added on top of the
        // price come on top of it in the total, as Shopify and Amazon report them.
        let (quantity, amount, taxes) = if line.quantity > 1 && self.rng.chance(35) {
            // One unit: its share of the line, by allocation so cents are not lost.
            let weights = vec![Decimal::ONE; line.quantity as usize];
            let part = net.allocate(&weights).ok()?.first().copied()?;
            (1, part, scaled_taxes(&line.taxes, 1, line.quantity))
        } else {
            (line.quantity, net, line.taxes.clone())
        };
        let exclusive_tax = Money::sum(
            c,
            taxes
                .iter()
                .filter(|t| !t.included_in_price)
                .map(|t| &t.amount),
        )
        .ok()?;
        let total = amount.checked_add(&exclusive_tax).ok()?;
        let n = self.next_refund;
        self.next_refund += 1;
        let created_at = order.updated_at + Duration::hours(self.rng.range(1, 72) as i64);
        let restock = self.rng.chance(50);
        Some(Refund {
            channel: order.channel.clone(),
            shop: order.shop.clone(),
            id: RefundId::new(format!("R{n:08}")),
            order_id: order.id.clone(),
            revision: Revision::UpdatedAt(created_at),
            status: RefundStatus::Completed,
            raw_status: "SUCCESS".into(),
            reason: RefundReason {
                code: Some("quality".into()),
                text: Some("item not as described".into()),
            },
            created_at,
            updated_at: created_at,
            lines: vec![RefundLine {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                quantity,
                amount,
                taxes,
                restock,
            }],
            shipping: None,
            total,
            goods_return: None,
            raw: None,
        })
    }

    /// A settlement paying `orders` (all of one channel and currency) net of commission, fees
    /// and `refunds`, with a payout of the net.
    pub fn settlement_for(
        &mut self,
        profile: &ChannelProfile,
        orders: &[Order],
        refunds: &[Refund],
        period_start: DateTime<Utc>,
        period_end: DateTime<Utc>,
    ) -> Settlement {
        let c = profile.currency;
        let mut lines = Vec::new();
        for o in orders.iter().filter(|o| o.status.is_paid()) {
            let Ok(t) = o.totals() else { continue };
            let posted_at = o.paid_at.unwrap_or(o.placed_at);
            lines.push(SettlementLine {
                kind: SettlementLineKind::Sale,
                amount: t.seller_receivable,
                order_id: Some(o.id.clone()),
                reference: None,
                posted_at,
                description: None,
            });
            let commission = Money::new(
                t.goods.amount * Decimal::new(i64::from(profile.commission_bps), 4),
                c,
            )
            .round(Rounding::HalfUp);
            if !commission.is_zero() {
                lines.push(SettlementLine {
                    kind: SettlementLineKind::Commission,
                    amount: commission.neg(),
                    order_id: Some(o.id.clone()),
                    reference: None,
                    posted_at,
                    description: None,
                });
            }
            if let Some((code, minor)) = &profile.order_fee {
                lines.push(SettlementLine {
                    kind: SettlementLineKind::Fee { code: code.clone() },
                    amount: Money::from_minor(-minor, c),
                    order_id: Some(o.id.clone()),
                    reference: None,
                    posted_at,
                    description: None,
                });
            }
        }
        for r in refunds {
            lines.push(SettlementLine {
                kind: SettlementLineKind::Refund,
                amount: r.total.neg(),
                order_id: Some(r.order_id.clone()),
                reference: Some(r.id.to_string()),
                posted_at: r.updated_at,
                description: None,
            });
        }
        let n = self.rng.range(100_000, 999_999);
        let mut settlement = Settlement {
            channel: profile.channel.clone(),
            shop: profile.shop.clone(),
            id: SettlementId::new(format!("S{n}")),
            revision: Revision::Version(1),
            currency: c,
            period_start,
            period_end,
            lines,
            payout: None,
            raw: None,
        };
        if let Ok(net) = settlement.net() {
            settlement.payout = Some(Payout {
                id: PayoutId::new(format!("P{n}")),
                amount: net,
                paid_at: period_end + Duration::days(2),
                bank_reference: Some(format!("BANK{n}")),
            });
            settlement.lines.push(SettlementLine {
                kind: SettlementLineKind::Payout,
                amount: net.neg(),
                order_id: None,
                reference: Some(format!("P{n}")),
                posted_at: period_end,
                description: None,
            });
        }
        settlement
    }
}

fn scaled_taxes(taxes: &[TaxLine], units: u32, of: u32) -> Vec<TaxLine> {
    taxes
        .iter()
        .filter_map(|t| {
            let weights = vec![Decimal::ONE; of as usize];
            let parts = t.amount.allocate(&weights).ok()?;
            let amount = Money::sum(t.amount.currency, parts.iter().take(units as usize)).ok()?;
            Some(TaxLine {
                amount,
                ..t.clone()
            })
        })
        .collect()
}

fn order_prefix(channel: &Channel) -> &'static str {
    match channel {
        Channel::Tmall | Channel::Taobao => "40",
        Channel::Jd => "JD",
        Channel::Amazon => "111-",
        Channel::Shopify => "SH",
        _ => "X",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_valid() {
        let a = Generator::new(GeneratorConfig::new(7)).orders(300);
        let b = Generator::new(GeneratorConfig::new(7)).orders(300);
        assert_eq!(a, b);
        let currencies: std::collections::BTreeSet<_> = a.iter().map(|o| o.currency).collect();
        assert!(currencies.len() >= 3, "{currencies:?}");
        for o in &a {
            o.validate().unwrap_or_else(|e| panic!("{}: {e}", o.id));
        }
        assert!(a.iter().any(|o| o.presentment.is_some()));
        assert!(a.iter().any(|o| {
            o.discounts
                .iter()
                .any(|d| d.funder == DiscountFunder::Platform)
        }));
        assert!(a.iter().any(|o| o.lines.iter().any(|l| {
            l.discounts
                .iter()
                .any(|d| d.funder == DiscountFunder::Seller)
        })));
        assert!(a.iter().any(|o| o.lines.iter().any(|l| {
            l.taxes
                .iter()
                .any(|t| t.collected_by == TaxCollector::Marketplace)
        })));
    }

    #[test]
    fn refunds_and_settlements_add_up() {
        let mut g =
            Generator::new(GeneratorConfig::new(11).with_channels(vec![ChannelProfile::tmall()]));
        let orders = g.orders(50);
        let refunds: Vec<_> = orders.iter().filter_map(|o| g.refund_for(o, 40)).collect();
        assert!(!refunds.is_empty());
        for r in &refunds {
            assert!(r.is_consistent());
            assert!(r.total.is_rounded());
        }
        let p = ChannelProfile::tmall();
        let s = g.settlement_for(
            &p,
            &orders,
            &refunds,
            g.config().start,
            g.config().start + Duration::days(31),
        );
        let net = s.net().unwrap();
        assert_eq!(s.payout.as_ref().unwrap().amount, net);
        let all = Money::sum(s.currency, s.lines.iter().map(|l| &l.amount)).unwrap();
        assert!(all.is_zero(), "payout must clear the balance");
    }
}
