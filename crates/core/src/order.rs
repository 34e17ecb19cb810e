//! Orders and order lines.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ReasonCode;
use crate::ids::{Channel, ListingId, OrderId, OrderLineId, Revision, ShopId, Sku, TimeZoneId};
use crate::money::{Currency, Money, MoneyError};
use crate::pii::{Mask, Pii, mask_text};
use crate::raw::RawPayloadRef;

/// The most units one line may carry. Beyond it a quantity is taken for a corrupt payload
/// (`u32::MAX` units would overflow every downstream sum) and refused with
/// [`ReasonCode::InvalidQuantity`].
pub const MAX_LINE_QUANTITY: u32 = 1_000_000;

/// The earliest timestamp a record may carry (1970-01-01T00:00:00Z, inclusive).
pub fn earliest_plausible_time() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// The first instant no record may reach (3000-01-01T00:00:00Z, exclusive).
pub fn latest_plausible_time() -> DateTime<Utc> {
    // 32_503_680_000 s after the epoch is 3000-01-01T00:00:00Z, well inside chrono's range.
    DateTime::<Utc>::from_timestamp(32_503_680_000, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// True when `t` lies in `[1970-01-01, 3000-01-01)`: a year such as −2026 or 0001 is a corrupt
/// payload, not a date to book.
pub fn is_plausible_time(t: DateTime<Utc>) -> bool {
    t >= earliest_plausible_time() && t < latest_plausible_time()
}

/// The largest magnitude, in major units of any currency, that one amount or total of a record
/// may have: 10^15 (a quadrillion; some 40 billion USD even in VND). Beyond it an amount is taken
/// for a corrupt payload, not booked.
pub const MAX_AMOUNT_UNITS: i64 = 1_000_000_000_000_000;

/// True when `|m| ≤` [`MAX_AMOUNT_UNITS`].
pub fn is_plausible_amount(m: &Money) -> bool {
    m.amount.abs() <= Decimal::from(MAX_AMOUNT_UNITS)
}

/// True when a rate given as a fraction lies in `0..=1` (0 % to 100 %).
pub fn is_fraction(rate: Decimal) -> bool {
    rate >= Decimal::ZERO && rate <= Decimal::ONE
}

/// The standardized order lifecycle. Every platform status maps to exactly one of these; the
/// platform's own string is kept beside it in [`Order::raw_status`].
///
/// The variants are ordered by progress ([`OrderStatus::progress`]); the mapping layer uses
/// this so a status never regresses (a shipped order that later reports "paid" stays shipped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, not yet paid (Tmall `WAIT_BUYER_PAY`, Shopify `PENDING`). No accounting effect.
    PendingPayment,
    /// Paid and waiting to be shipped (Tmall `WAIT_SELLER_SEND_GOODS`, Amazon `Unshipped`).
    AwaitingFulfilment,
    /// Some lines or units shipped, others not yet.
    PartiallyShipped,
    /// Everything shipped, not yet confirmed delivered.
    Shipped,
    /// Delivered to the buyer (or signed for), the return window may still be open.
    Delivered,
    /// Closed successfully: delivered and confirmed (Tmall `TRADE_FINISHED`).
    Completed,
    /// Cancelled before payment or before fulfilment with no money kept (Tmall
    /// `TRADE_CLOSED_BY_TAOBAO`, Amazon `Canceled`).
    Cancelled,
    /// Closed after payment because everything was refunded (Tmall `TRADE_CLOSED` after a full
    /// refund, Shopify financial status `REFUNDED`).
    Refunded,
}

impl OrderStatus {
    /// All statuses, in progress order.
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::PendingPayment,
        OrderStatus::AwaitingFulfilment,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
    ];

    /// Position in the lifecycle: later states have higher numbers. `Cancelled` and
    /// `Refunded` are terminal and rank highest.
    pub fn progress(self) -> u8 {
        match self {
            OrderStatus::PendingPayment => 0,
            OrderStatus::AwaitingFulfilment => 1,
            OrderStatus::PartiallyShipped => 2,
            OrderStatus::Shipped => 3,
            OrderStatus::Delivered => 4,
            OrderStatus::Completed => 5,
            OrderStatus::Cancelled => 6,
            OrderStatus::Refunded => 6,
        }
    }

    /// No further transition is expected.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Completed | OrderStatus::Cancelled | OrderStatus::Refunded
        )
    }

    /// The buyer has paid (revenue may be recognised or accrued).
    pub fn is_paid(self) -> bool {
        !matches!(self, OrderStatus::PendingPayment | OrderStatus::Cancelled)
    }
}

/// Who funds a discount. Platform-funded discounts are a receivable from the marketplace, not a
/// reduction of the seller's revenue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscountFunder {
    /// The seller bears the discount (store coupon, seller promotion).
    Seller,
    /// The marketplace bears it (platform coupon, Tmall red packet, subsidies).
    Platform,
}

/// A discount, always a positive amount to subtract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Discount {
    /// Who pays for it.
    pub funder: DiscountFunder,
    /// Positive amount.
    pub amount: Money,
    /// The platform's promotion or coupon code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Who collects and remits a tax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaxCollector {
    /// The seller owes the tax (it is a liability on the seller's books).
    Seller,
    /// The marketplace collects and remits it (US marketplace facilitator laws, EU deemed
    /// supplier): not the seller's liability.
    Marketplace,
}

/// The kind of a tax.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaxKind {
    /// Value-added tax (China VAT, EU VAT).
    Vat,
    /// US sales tax.
    SalesTax,
    /// Goods and services tax.
    Gst,
    /// Another tax, by its platform name.
    Other(String),
}

/// A tax amount as the marketplace reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaxLine {
    /// Kind of tax.
    pub kind: TaxKind,
    /// The rate as a fraction (0.13 for 13%), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::money::optional_decimal_string_schema")]
    pub rate: Option<Decimal>,
    /// The tax amount (positive).
    pub amount: Money,
    /// True when the tax is already inside the price (China, EU consumer prices); false when it
    /// is added on top (US sales tax).
    pub included_in_price: bool,
    /// Who collects and remits it.
    pub collected_by: TaxCollector,
    /// Jurisdiction (country, state or province code), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
}

/// A shipping charge billed to the buyer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShippingCharge {
    /// The amount charged (before shipping discounts).
    pub amount: Money,
    /// Discounts applied to shipping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discounts: Vec<Discount>,
    /// Taxes on shipping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<TaxLine>,
    /// Service or method name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// Who ships the goods.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentChannel {
    /// The seller ships (merchant-fulfilled, own warehouse or 3PL).
    Seller,
    /// The platform's logistics ships from its stock, named by program (`"FBA"`,
    /// `"JD Logistics"`, `"Cainiao"`).
    Platform(String),
}

/// A buyer. Always wrapped in [`Pii`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Buyer {
    /// The platform's buyer id or nickname (often already masked or an open id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Mask for Buyer {
    fn masked(&self) -> Buyer {
        Buyer {
            platform_id: self.platform_id.as_deref().map(mask_text),
            name: self.name.as_deref().map(mask_text),
            email: self.email.as_deref().map(mask_email),
            phone: self.phone.as_deref().map(mask_text),
        }
    }
}

fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}@{domain}", mask_text(local)),
        None => mask_text(email),
    }
}

/// A postal address. Always wrapped in [`Pii`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Address {
    /// Recipient name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Recipient phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Street lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// District / county.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State or province.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

impl Mask for Address {
    /// Keeps country, province and city (needed for tax and reporting); masks the rest.
    fn masked(&self) -> Address {
        Address {
            name: self.name.as_deref().map(mask_text),
            phone: self.phone.as_deref().map(mask_text),
            lines: self.lines.iter().map(|_| "***".to_owned()).collect(),
            district: self.district.clone(),
            city: self.city.clone(),
            province: self.province.clone(),
            postal_code: self.postal_code.as_deref().map(mask_text),
            country: self.country.clone(),
        }
    }
}

/// Where a content-driven sale came from (Douyin live room, short video, author; campaigns).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Attribution {
    /// Live-stream room id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_room_id: Option<String>,
    /// Short-video id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_id: Option<String>,
    /// Author / creator / influencer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_id: Option<String>,
    /// Marketing campaign id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    /// Affiliate or distributor id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliate_id: Option<String>,
    /// Any other attribution fields, by platform name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// The buyer-facing (presentment) side of a multi-currency order, e.g. a Shopify order shown in
/// EUR in a USD shop. Order amounts are in the shop currency; this keeps what the buyer saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Presentment {
    /// The currency the buyer paid in.
    pub currency: Currency,
    /// The total the buyer paid, in that currency.
    pub total: Money,
}

/// A payment received for the order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Payment {
    /// The amount paid by the buyer (in the order currency).
    pub amount: Money,
    /// Gateway or method (`"alipay"`, `"shopify_payments"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The payment provider's transaction id (Alipay trade no…), used by reconciliation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// When it was paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime<Utc>>,
}

/// One line of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderLine {
    /// The platform's line id.
    pub line_id: OrderLineId,
    /// The seller's SKU code as the channel reports it (outer id, SellerSKU, variant SKU).
    pub sku: Sku,
    /// The platform's own SKU id, if different from `sku`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_sku_id: Option<String>,
    /// The listing (product) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_id: Option<ListingId>,
    /// Title as shown to the buyer.
    pub title: String,
    /// Units ordered.
    pub quantity: u32,
    /// Unit price before discounts, in the order currency (tax-inclusive where the line's taxes
    /// say `included_in_price`).
    pub unit_price: Money,
    /// Line-level discounts (total for the line, not per unit).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discounts: Vec<Discount>,
    /// Line-level taxes (total for the line).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<TaxLine>,
    /// Who ships this line, when it differs from the order's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfilment_channel: Option<FulfilmentChannel>,
    /// The platform's line status string, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_status: Option<String>,
    /// Units shipped so far.
    #[serde(default)]
    pub quantity_shipped: u32,
}

impl OrderLine {
    /// `unit_price × quantity`.
    pub fn gross(&self) -> Result<Money, MoneyError> {
        self.unit_price.checked_mul(Decimal::from(self.quantity))
    }

    /// Sum of this line's discounts funded by `funder`.
    pub fn discount_by(&self, funder: DiscountFunder) -> Result<Money, MoneyError> {
        Money::sum(
            self.unit_price.currency,
            self.discounts
                .iter()
                .filter(|d| d.funder == funder)
                .map(|d| &d.amount),
        )
    }
}

/// A marketplace order in canonical form.
///
/// Amounts are [`Money`] in the order's currency, times are UTC (the platform's zone kept in
/// `source_time_zone`), the platform's own status string is kept beside the canonical one,
/// and [`Order::totals`] adds it up exactly. Connectors build it from the platform's
/// payload; this is its JSON form (the fields left out are optional):
///
/// ```
/// use marketsync_core::{Currency, Money, Order, OrderStatus};
///
/// let order: Order = serde_json::from_str(r#"{
///     "channel": "shopify",
///     "shop": "eu-store",
///     "id": "1001",
///     "revision": { "kind": "version", "value": 3 },
///     "status": "awaiting_fulfilment",
///     "raw_status": "PAID",
///     "placed_at": "2026-01-05T10:00:00Z",
///     "updated_at": "2026-01-05T10:05:00Z",
///     "source_time_zone": "Europe/Berlin",
///     "currency": "EUR",
///     "fulfilment_channel": "seller",
///     "lines": [{
///         "line_id": "1", "sku": "TEA-250G", "title": "Green tea 250 g",
///         "quantity": 2, "unit_price": { "amount": "12.50", "currency": "EUR" }
///     }]
/// }"#)?;
/// assert_eq!(order.status, OrderStatus::AwaitingFulfilment);
/// assert!(order.status.is_paid());
/// let totals = order.totals()?;
/// assert_eq!(totals.goods, Money::parse("25.00", Currency::EUR)?);
/// assert_eq!(totals.buyer_total, totals.goods); // no discounts, shipping or taxes
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(description = "A marketplace order in canonical form.")]
pub struct Order {
    /// The marketplace.
    pub channel: Channel,
    /// The shop / seller account.
    pub shop: ShopId,
    /// The platform's order id.
    pub id: OrderId,
    /// The source revision of this snapshot.
    pub revision: Revision,
    /// Standardized status.
    pub status: OrderStatus,
    /// The platform's own status string, verbatim.
    pub raw_status: String,
    /// When the buyer placed it (UTC).
    pub placed_at: DateTime<Utc>,
    /// When it was paid (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime<Utc>>,
    /// When the platform last changed it (UTC).
    pub updated_at: DateTime<Utc>,
    /// The zone the platform reported local times in.
    pub source_time_zone: TimeZoneId,
    /// The order (shop / settlement) currency: every amount on this order is in it.
    pub currency: Currency,
    /// What the buyer saw, when it was another currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presentment: Option<Presentment>,
    /// Order lines.
    pub lines: Vec<OrderLine>,
    /// Order-level discounts (not attributed to a line by the platform).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discounts: Vec<Discount>,
    /// Shipping charges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shipping: Vec<ShippingCharge>,
    /// Order-level taxes not attributed to a line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<TaxLine>,
    /// Payments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payments: Vec<Payment>,
    /// Who ships the order.
    pub fulfilment_channel: FulfilmentChannel,
    /// The buyer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Pii<Buyer>>,
    /// Where to ship.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_to: Option<Pii<Address>>,
    /// Content / campaign attribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Attribution>,
    /// The raw platform payload this was normalized from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawPayloadRef>,
    /// Platform fields without a canonical home, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, serde_json::Value>,
}

/// The money of an order, added up. All amounts are in the order currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderTotals {
    /// Sum of `unit_price × quantity` over lines.
    pub goods: Money,
    /// Seller-funded discounts (lines, order and shipping).
    pub seller_discounts: Money,
    /// Platform-funded discounts (lines, order and shipping).
    pub platform_discounts: Money,
    /// Shipping charged before shipping discounts.
    pub shipping: Money,
    /// Taxes added on top of prices (not included in them).
    pub tax_exclusive: Money,
    /// Taxes already included in prices.
    pub tax_inclusive: Money,
    /// Taxes the marketplace collects and remits (subset of the two above).
    pub tax_marketplace_collected: Money,
    /// What the buyer pays: goods − all discounts + shipping + exclusive taxes.
    pub buyer_total: Money,
    /// What the seller is owed before fees: buyer total + platform-funded discounts −
    /// marketplace-collected taxes.
    pub seller_receivable: Money,
}

impl Order {
    fn all_discounts(&self) -> impl Iterator<Item = &Discount> {
        self.lines
            .iter()
            .flat_map(|l| l.discounts.iter())
            .chain(self.discounts.iter())
            .chain(self.shipping.iter().flat_map(|s| s.discounts.iter()))
    }

    fn all_taxes(&self) -> impl Iterator<Item = &TaxLine> {
        self.lines
            .iter()
            .flat_map(|l| l.taxes.iter())
            .chain(self.taxes.iter())
            .chain(self.shipping.iter().flat_map(|s| s.taxes.iter()))
    }

    /// Adds the order up. Fails on a mixed-currency amount or overflow.
    pub fn totals(&self) -> Result<OrderTotals, MoneyError> {
        let c = self.currency;
        let mut goods = Money::zero(c);
        for line in &self.lines {
            goods = goods.checked_add(&line.gross()?)?;
        }
        let by = |funder| {
            Money::sum(
                c,
                self.all_discounts()
                    .filter(|d| d.funder == funder)
                    .map(|d| &d.amount),
            )
        };
        let seller_discounts = by(DiscountFunder::Seller)?;
        let platform_discounts = by(DiscountFunder::Platform)?;
        let shipping = Money::sum(c, self.shipping.iter().map(|s| &s.amount))?;
        let tax_exclusive = Money::sum(
            c,
            self.all_taxes()
                .filter(|t| !t.included_in_price)
                .map(|t| &t.amount),
        )?;
        let tax_inclusive = Money::sum(
            c,
            self.all_taxes()
                .filter(|t| t.included_in_price)
                .map(|t| &t.amount),
        )?;
        let tax_marketplace_collected = Money::sum(
            c,
            self.all_taxes()
                .filter(|t| t.collected_by == TaxCollector::Marketplace)
                .map(|t| &t.amount),
        )?;
        let buyer_total = goods
            .checked_sub(&seller_discounts)?
            .checked_sub(&platform_discounts)?
            .checked_add(&shipping)?
            .checked_add(&tax_exclusive)?;
        let seller_receivable = buyer_total
            .checked_add(&platform_discounts)?
            .checked_sub(&tax_marketplace_collected)?;
        Ok(OrderTotals {
            goods,
            seller_discounts,
            platform_discounts,
            shipping,
            tax_exclusive,
            tax_inclusive,
            tax_marketplace_collected,
            buyer_total,
            seller_receivable,
        })
    }

    /// Checks the order's internal consistency: at least one line, every amount in the order
    /// currency and rounded to its minor unit, no negative prices, discounts or taxes, unique
    /// line ids, every amount and total within ±[`MAX_AMOUNT_UNITS`],
    /// `1 ≤ quantity ≤` [`MAX_LINE_QUANTITY`], shipped ≤ ordered, a line's (and a
    /// shipping charge's) discounts no larger than its gross, tax rates in `0..=1`, every time
    /// plausible ([`is_plausible_time`]), `placed_at ≤ updated_at`, `placed_at ≤ paid_at`, and
    /// payments (when present) adding up to the buyer total.
    ///
    /// [`OrderError::reason`] gives the exception-queue reason of a failure.
    pub fn validate(&self) -> Result<(), OrderError> {
        if self.lines.is_empty() {
            return Err(OrderError::NoLines);
        }
        let mut seen = std::collections::BTreeSet::new();
        for line in &self.lines {
            if !seen.insert(&line.line_id) {
                return Err(OrderError::DuplicateLine(line.line_id.clone()));
            }
            if line.quantity == 0 || line.quantity > MAX_LINE_QUANTITY {
                return Err(OrderError::InvalidQuantity {
                    line: line.line_id.clone(),
                    quantity: line.quantity,
                });
            }
            if line.quantity_shipped > line.quantity {
                return Err(OrderError::OverShipped(line.line_id.clone()));
            }
        }
        let times = [Some(self.placed_at), self.paid_at, Some(self.updated_at)]
            .into_iter()
            .chain(self.payments.iter().map(|p| p.paid_at))
            .flatten();
        for t in times {
            if !is_plausible_time(t) {
                return Err(OrderError::ImplausibleTime(t));
            }
        }
        if let Some(rate) = self
            .all_taxes()
            .filter_map(|t| t.rate)
            .find(|r| !is_fraction(*r))
        {
            return Err(OrderError::RateOutOfRange(rate));
        }
        let amounts = self
            .lines
            .iter()
            .map(|l| &l.unit_price)
            .chain(self.all_discounts().map(|d| &d.amount))
            .chain(self.all_taxes().map(|t| &t.amount))
            .chain(self.shipping.iter().map(|s| &s.amount))
            .chain(self.payments.iter().map(|p| &p.amount));
        for m in amounts {
            if m.currency != self.currency {
                return Err(OrderError::Money(MoneyError::CurrencyMismatch {
                    left: self.currency,
                    right: m.currency,
                }));
            }
            m.ensure_rounded().map_err(OrderError::Money)?;
            if m.is_negative() {
                return Err(OrderError::Negative(*m));
            }
            if !is_plausible_amount(m) {
                return Err(OrderError::Implausible(*m));
            }
        }
        if self.placed_at > self.updated_at {
            return Err(OrderError::TimeOrder);
        }
        if self.paid_at.is_some_and(|p| p < self.placed_at) {
            return Err(OrderError::PaidBeforePlaced);
        }
        for line in &self.lines {
            let gross = line.gross().map_err(OrderError::Money)?;
            let discounts = Money::sum(self.currency, line.discounts.iter().map(|d| &d.amount))
                .map_err(OrderError::Money)?;
            if discounts.amount > gross.amount {
                return Err(OrderError::DiscountExceeds(line.line_id.to_string()));
            }
        }
        for s in &self.shipping {
            let discounts = Money::sum(self.currency, s.discounts.iter().map(|d| &d.amount))
                .map_err(OrderError::Money)?;
            if discounts.amount > s.amount.amount {
                return Err(OrderError::DiscountExceeds("shipping".to_owned()));
            }
        }
        let totals = self.totals().map_err(OrderError::Money)?;
        if let Some(m) = [totals.goods, totals.buyer_total, totals.seller_receivable]
            .iter()
            .find(|m| !is_plausible_amount(m))
        {
            return Err(OrderError::Implausible(*m));
        }
        if totals.buyer_total.is_negative() {
            return Err(OrderError::Negative(totals.buyer_total));
        }
        if !self.payments.is_empty() {
            let paid = Money::sum(self.currency, self.payments.iter().map(|p| &p.amount))
                .map_err(OrderError::Money)?;
            if paid != totals.buyer_total {
                return Err(OrderError::PaymentMismatch {
                    paid,
                    expected: totals.buyer_total,
                });
            }
        }
        Ok(())
    }
}

/// Why an order failed [`Order::validate`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrderError {
    /// The order has no lines.
    #[error("order has no lines")]
    NoLines,
    /// Two lines share an id.
    #[error("duplicate line id {0}")]
    DuplicateLine(OrderLineId),
    /// More shipped than ordered on a line.
    #[error("line {0} shipped more than ordered")]
    OverShipped(OrderLineId),
    /// A negative price, discount, tax or total.
    #[error("negative amount {0}")]
    Negative(Money),
    /// Currency or rounding problem.
    #[error(transparent)]
    Money(MoneyError),
    /// `placed_at` after `updated_at`.
    #[error("placed_at is after updated_at")]
    TimeOrder,
    /// A line's quantity is 0 or above [`MAX_LINE_QUANTITY`].
    #[error("line {line} has quantity {quantity} (must be 1..={MAX_LINE_QUANTITY})")]
    InvalidQuantity {
        /// The line.
        line: OrderLineId,
        /// Its quantity.
        quantity: u32,
    },
    /// Discounts larger than what they discount (a line id, or `shipping`).
    #[error("discounts on {0} exceed its gross amount")]
    DiscountExceeds(String),
    /// A tax rate outside `0..=1`.
    #[error("tax rate {0} is outside 0..=1")]
    RateOutOfRange(Decimal),
    /// An amount or total beyond ±[`MAX_AMOUNT_UNITS`].
    #[error("implausible amount {0}")]
    Implausible(Money),
    /// A time outside the plausible range ([`is_plausible_time`]).
    #[error("implausible time {0}")]
    ImplausibleTime(DateTime<Utc>),
    /// `paid_at` before `placed_at`.
    #[error("paid_at is before placed_at")]
    PaidBeforePlaced,
    /// Payments do not add up to what the buyer owes.
    #[error("payments {paid} do not equal buyer total {expected}")]
    PaymentMismatch {
        /// Sum of payments.
        paid: Money,
        /// Computed buyer total.
        expected: Money,
    },
}

impl OrderError {
    /// The exception-queue reason: `invalid_quantity`, `amount_out_of_range` (negative amounts,
    /// discounts above their line), `rate_out_of_range`, `invalid_time` (implausible or
    /// out-of-order times), `money_invalid` (currency, rounding, overflow), else
    /// `malformed_payload`.
    pub fn reason(&self) -> ReasonCode {
        match self {
            OrderError::InvalidQuantity { .. } => ReasonCode::InvalidQuantity,
            OrderError::Negative(_)
            | OrderError::DiscountExceeds(_)
            | OrderError::Implausible(_) => ReasonCode::AmountOutOfRange,
            OrderError::RateOutOfRange(_) => ReasonCode::RateOutOfRange,
            OrderError::TimeOrder
            | OrderError::ImplausibleTime(_)
            | OrderError::PaidBeforePlaced => ReasonCode::InvalidTime,
            OrderError::Money(m) => money_reason(m),
            OrderError::NoLines
            | OrderError::DuplicateLine(_)
            | OrderError::OverShipped(_)
            | OrderError::PaymentMismatch { .. } => ReasonCode::MalformedPayload,
        }
    }
}

/// The reason of a money error found while validating a record: an unparsable amount or
/// currency is `malformed_payload`, everything else `money_invalid`.
pub(crate) fn money_reason(e: &MoneyError) -> ReasonCode {
    match e {
        MoneyError::InvalidAmount(_) | MoneyError::UnknownCurrency(_) => {
            ReasonCode::MalformedPayload
        }
        _ => ReasonCode::MoneyInvalid,
    }
}

impl From<OrderError> for crate::Error {
    fn from(e: OrderError) -> crate::Error {
        crate::Error::validation(e.reason(), e.to_string()).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn plausibility_bounds() {
        let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).single().unwrap();
        assert!(is_plausible_time(at(1970, 1, 1)));
        assert!(is_plausible_time(at(2999, 12, 31)));
        assert!(!is_plausible_time(at(3000, 1, 1)));
        assert!(!is_plausible_time(at(-2026, 1, 1)));
        assert!(!is_plausible_time(at(1, 1, 1)));
        assert!(is_fraction(Decimal::ZERO) && is_fraction(Decimal::ONE));
        assert!(!is_fraction(Decimal::new(-1, 2)) && !is_fraction(Decimal::new(101, 2)));
        let cny = |d: Decimal| Money::new(d, crate::Currency::CNY);
        assert!(is_plausible_amount(&cny(Decimal::from(MAX_AMOUNT_UNITS))));
        assert!(!is_plausible_amount(&cny(
            -Decimal::from(MAX_AMOUNT_UNITS) - Decimal::ONE
        )));
    }

    #[test]
    fn every_order_error_has_a_specific_reason() {
        let line = OrderLineId::new("l1");
        let m = Money::new(Decimal::ONE, crate::Currency::USD);
        let cases = [
            (
                OrderError::InvalidQuantity {
                    line: line.clone(),
                    quantity: 0,
                },
                ReasonCode::InvalidQuantity,
            ),
            (OrderError::Negative(m), ReasonCode::AmountOutOfRange),
            (
                OrderError::DiscountExceeds("l1".into()),
                ReasonCode::AmountOutOfRange,
            ),
            (OrderError::Implausible(m), ReasonCode::AmountOutOfRange),
            (
                OrderError::RateOutOfRange(Decimal::TWO),
                ReasonCode::RateOutOfRange,
            ),
            (OrderError::TimeOrder, ReasonCode::InvalidTime),
            (OrderError::PaidBeforePlaced, ReasonCode::InvalidTime),
            (
                OrderError::ImplausibleTime(DateTime::<Utc>::MIN_UTC),
                ReasonCode::InvalidTime,
            ),
            (
                OrderError::Money(MoneyError::NotRounded(m)),
                ReasonCode::MoneyInvalid,
            ),
            (
                OrderError::Money(MoneyError::InvalidAmount("x".into())),
                ReasonCode::MalformedPayload,
            ),
            (OrderError::NoLines, ReasonCode::MalformedPayload),
            (OrderError::OverShipped(line), ReasonCode::MalformedPayload),
        ];
        for (e, reason) in cases {
            assert_eq!(e.reason(), reason, "{e}");
            assert_eq!(crate::Error::from(e).reason(), reason);
        }
    }
}
