//! Pure wire → canonical conversion. No I/O.
//!
//! * **Currency**: every canonical amount comes from `shopMoney` (the shop currency the
//!   merchant books in). When the buyer paid in another currency, the buyer-facing total is
//!   kept in [`Order::presentment`]; presentment amounts are never mixed into the order.
//! * **Discounts** come from each line's `discountAllocations` (line-level discounts and the
//!   line's share of order-level ones) and each shipping line's. A Shopify store is the
//!   merchant's own channel, so every discount is seller-funded.
//! * **Taxes**: `taxLines` per line and per shipping line; `taxesIncluded` says whether prices
//!   already contain them; `channelLiable` marks taxes a marketplace channel remits.
//! * **Status**: `displayFinancialStatus` × `displayFulfillmentStatus` × cancellation → one
//!   [`OrderStatus`]; the raw pair is kept verbatim (`"PAID/FULFILLED"`). An unknown financial
//!   status is a `Mapping` error with [`ReasonCode::UnknownStatus`] (money semantics cannot be
//!   guessed); an unknown fulfilment status falls back to the shipped quantities.
//! * **Check**: the recomputed buyer total must equal Shopify's `totalPriceSet.shopMoney`, to
//!   the cent; otherwise the record fails with `MalformedPayload` rather than being booked wrong.
//! * **Times**: GraphQL `DateTime` values are ISO-8601 instants; they are stored in UTC, and
//!   the shop's configured IANA zone is kept as the source zone.
//! * **Hostile input** never panics and never slips through: every amount is exact and rounded
//!   to its currency's minor unit (`10.005` USD or `100.5` JPY is `money_invalid`), tax rates
//!   must lie in `0..=1` (`rate_out_of_range`), quantities in `0..=1,000,000`
//!   (`invalid_quantity`), a payout's `net` is a non-negative magnitude whatever its direction
//!   (`amount_out_of_range`), and every order, refund and settlement returned has passed its own
//!   `validate()`. `tests/mutation.rs` runs this over mutated payloads in every `cargo test`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use marketsync_core::MoneyError;
use marketsync_core::money::parse_decimal_exact;
use marketsync_core::order::{MAX_LINE_QUANTITY, is_fraction};
use marketsync_core::{
    Address, Buyer, Channel, Currency, Discount, DiscountFunder, Error, FulfilmentChannel,
    ListingId, Money, Order, OrderId, OrderLine, OrderLineId, OrderStatus, Payment, PayoutId, Pii,
    Presentment, RawRecord, ReasonCode, Refund, RefundId, RefundLine, RefundReason, RefundStatus,
    Region, Result, Return, ReturnId, ReturnLine, Revision, Settlement, SettlementId,
    SettlementLine, SettlementLineKind, ShippingCharge, ShopId, Sku, TaxCollector, TaxKind,
    TaxLine, TimeZoneId,
};
use rust_decimal::Decimal;

use crate::wire;

/// What normalization needs besides the payload.
#[derive(Clone, Debug)]
pub struct NormalizeContext {
    /// The shop id to stamp on records.
    pub shop: ShopId,
    /// The shop's IANA zone, recorded as the source zone.
    pub time_zone: TimeZoneId,
    /// Residency region override for buyer data; `None` derives it from the ship-to country.
    pub pii_region: Option<Region>,
}

impl NormalizeContext {
    /// A context for a shop in a zone.
    pub fn new(shop: ShopId, time_zone: TimeZoneId) -> NormalizeContext {
        NormalizeContext {
            shop,
            time_zone,
            pii_region: None,
        }
    }
}

fn malformed(field: &'static str, message: impl Into<String>) -> Error {
    Error::validation(ReasonCode::MalformedPayload, message)
        .with_context("connector", "shopify")
        .with_context("field", field)
}

/// Parses a GraphQL `DateTime` (ISO-8601 with `Z` or an offset) into UTC.
pub fn parse_time(value: &str, field: &'static str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| malformed(field, format!("{field} is not an ISO-8601 time")).with_source(e))
}

fn currency(code: &str, field: &'static str) -> Result<Currency> {
    Currency::new(code).map_err(|e| malformed(field, e.to_string()).with_source(e))
}

/// Parses a `MoneyV2` (decimal string + currency code).
///
/// Every Shopify amount has been charged, refunded or paid out, so it is parsed exactly and
/// must be rounded to the currency's minor unit ([`Money::parse_settled`]): `"10.005"` USD or
/// `"100.5"` JPY, and amounts with more than 28 significant digits, are `Validation` errors
/// with [`ReasonCode::MoneyInvalid`]; a malformed string is `MalformedPayload`.
pub fn money(m: &wire::MoneyV2, field: &'static str) -> Result<Money> {
    let c = currency(&m.currency_code, field)?;
    let amount = m.amount.trim();
    // Shopify sends plain decimal strings; refuse exponents, spaces and other surprises.
    if amount.is_empty()
        || !amount
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || b == b'.' || (i == 0 && b == b'-'))
    {
        return Err(malformed(field, format!("{field} is not a decimal amount")));
    }
    Money::parse_settled(amount, c).map_err(|e| {
        let reason = match e {
            MoneyError::InvalidAmount(_) | MoneyError::UnknownCurrency(_) => {
                ReasonCode::MalformedPayload
            }
            _ => ReasonCode::MoneyInvalid,
        };
        malformed(field, format!("{field}: {e}"))
            .with_reason(reason)
            .with_source(e)
    })
}

/// A tax rate (a GraphQL `Float` fraction), read exactly from its JSON spelling and checked to
/// lie in `0..=1`.
fn tax_rate(n: &serde_json::Number, field: &'static str) -> Result<Decimal> {
    let text = n.to_string();
    let rate = parse_decimal_exact(&text).map_err(|e| {
        malformed(field, "tax rate is not a plain decimal number")
            .with_reason(ReasonCode::RateOutOfRange)
            .with_source(e)
    })?;
    if !is_fraction(rate) {
        return Err(
            malformed(field, format!("tax rate {rate} is outside 0..=1"))
                .with_reason(ReasonCode::RateOutOfRange),
        );
    }
    Ok(rate)
}

/// The shop-currency side of a `MoneyBag`, checked against the order currency.
fn shop_money(bag: &wire::MoneyBag, expected: Currency, field: &'static str) -> Result<Money> {
    let m = money(&bag.shop_money, field)?;
    if m.currency != expected {
        return Err(malformed(
            field,
            format!(
                "{field} shopMoney is in {} but the shop currency is {expected}",
                m.currency
            ),
        ));
    }
    Ok(m)
}

const EEA: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

/// The residency region of a buyer by country (ISO 3166-1 alpha-2).
pub fn region_for_country(country: Option<&str>) -> Region {
    match country.map(str::to_ascii_uppercase).as_deref() {
        Some("CN") => Region::Cn,
        Some("US") => Region::Us,
        Some(c) if EEA.contains(&c) => Region::Eu,
        _ => Region::Global,
    }
}

fn tax_kind(title: Option<&str>) -> TaxKind {
    let t = title.unwrap_or("").to_ascii_lowercase();
    if t.contains("vat") || t.contains("mwst") || t.contains("tva") || t.contains("iva") {
        TaxKind::Vat
    } else if t.contains("gst") || t.contains("hst") {
        TaxKind::Gst
    } else if t.contains("sales tax")
        || t.contains("state tax")
        || t.contains("county tax")
        || t.contains("city tax")
    {
        TaxKind::SalesTax
    } else {
        TaxKind::Other(title.unwrap_or("tax").to_owned())
    }
}

/// Where the goods go, for the jurisdiction of destination-based taxes: the country for VAT
/// and GST, the state or province for US/CA sales tax.
#[derive(Clone, Copy, Default)]
struct Destination<'a> {
    country: Option<&'a str>,
    province: Option<&'a str>,
}

impl Destination<'_> {
    fn jurisdiction(&self, kind: &TaxKind) -> Option<String> {
        match kind {
            TaxKind::Vat | TaxKind::Gst => self.country.map(str::to_owned),
            TaxKind::SalesTax => self.province.or(self.country).map(str::to_owned),
            TaxKind::Other(_) => None,
        }
    }
}

fn tax_lines(
    lines: &[wire::TaxLine],
    c: Currency,
    included: bool,
    destination: Destination<'_>,
    field: &'static str,
) -> Result<Vec<TaxLine>> {
    lines
        .iter()
        .map(|t| {
            let rate = t.rate.as_ref().map(|n| tax_rate(n, field)).transpose()?;
            let kind = tax_kind(t.title.as_deref());
            Ok(TaxLine {
                jurisdiction: destination.jurisdiction(&kind),
                kind,
                rate,
                amount: shop_money(&t.price_set, c, field)?,
                included_in_price: included,
                collected_by: if t.channel_liable == Some(true) {
                    TaxCollector::Marketplace
                } else {
                    TaxCollector::Seller
                },
            })
        })
        .collect()
}

fn discounts(
    allocations: &[wire::DiscountAllocation],
    c: Currency,
    field: &'static str,
) -> Result<Vec<Discount>> {
    let mut out = Vec::new();
    for a in allocations {
        let amount = shop_money(&a.allocated_amount_set, c, field)?;
        if amount.is_zero() {
            continue;
        }
        let app = &a.discount_application;
        out.push(Discount {
            funder: DiscountFunder::Seller,
            amount,
            code: app.code.clone(),
            description: app.title.clone().or_else(|| app.typename.clone()),
        });
    }
    Ok(out)
}

/// The SKU of a line: the variant SKU, or (custom items, tips) the variant or line id.
fn line_sku(sku: Option<&str>, variant: Option<&wire::IdRef>, line_id: &str) -> Sku {
    match sku.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Sku::new(s),
        None => Sku::new(variant.map_or(line_id, |v| v.id.as_str())),
    }
}

/// Maps Shopify's status pair (and cancellation) to the canonical status.
///
/// | financial | fulfilment | canonical |
/// |---|---|---|
/// | any, order cancelled | — | `Refunded` if `REFUNDED`, else `Cancelled` |
/// | `REFUNDED` | any | `Refunded` |
/// | `VOIDED` | any | `Cancelled` |
/// | `PENDING`, `AUTHORIZED`, `EXPIRED`, null | nothing shipped | `PendingPayment` |
/// | `PARTIALLY_PAID`, `PAID`, `PARTIALLY_REFUNDED` | nothing shipped | `AwaitingFulfilment` |
/// | any non-terminal | `PARTIALLY_FULFILLED` | `PartiallyShipped` |
/// | any non-terminal | `FULFILLED` | `Shipped` (`Completed` when paid and closed) |
/// | paid | `FULFILLMENT_NOT_REQUIRED` | `Completed` |
///
/// "Nothing shipped" is `UNFULFILLED`, `OPEN`, `RESTOCKED`, `SCHEDULED`, `ON_HOLD`,
/// `IN_PROGRESS`, `PENDING_FULFILLMENT` and `REQUEST_DECLINED`. An unknown fulfilment status
/// is decided by `shipped` / `ordered` units.
pub fn map_status(
    financial: Option<&wire::FinancialStatus>,
    fulfilment: &wire::FulfillmentStatus,
    cancelled: bool,
    closed: bool,
    shipped: u64,
    ordered: u64,
) -> Result<OrderStatus> {
    use wire::FinancialStatus as F;
    use wire::FulfillmentStatus as S;
    let paid = match financial {
        Some(F::Unknown(s)) => {
            return Err(Error::mapping(
                ReasonCode::UnknownStatus,
                format!("unknown Shopify financial status {s}"),
            )
            .with_context("connector", "shopify"));
        }
        Some(F::Refunded) => return Ok(OrderStatus::Refunded),
        _ if cancelled => return Ok(OrderStatus::Cancelled),
        Some(F::Voided) => return Ok(OrderStatus::Cancelled),
        Some(F::PartiallyPaid | F::Paid | F::PartiallyRefunded) => true,
        Some(F::Pending | F::Authorized | F::Expired) | None => false,
    };
    let unshipped = if paid {
        OrderStatus::AwaitingFulfilment
    } else {
        OrderStatus::PendingPayment
    };
    Ok(match fulfilment {
        S::Fulfilled if paid && closed => OrderStatus::Completed,
        S::Fulfilled => OrderStatus::Shipped,
        S::PartiallyFulfilled => OrderStatus::PartiallyShipped,
        S::FulfillmentNotRequired if paid => OrderStatus::Completed,
        S::FulfillmentNotRequired => OrderStatus::PendingPayment,
        S::Unfulfilled
        | S::Open
        | S::Restocked
        | S::Scheduled
        | S::OnHold
        | S::InProgress
        | S::PendingFulfillment
        | S::RequestDeclined => unshipped,
        S::Unknown(_) if shipped == 0 => unshipped,
        S::Unknown(_) if shipped >= ordered => OrderStatus::Shipped,
        S::Unknown(_) => OrderStatus::PartiallyShipped,
    })
}

fn non_negative_u32(v: i64, field: &'static str) -> Result<u32> {
    u32::try_from(v)
        .ok()
        .filter(|q| *q <= MAX_LINE_QUANTITY)
        .ok_or_else(|| {
            malformed(
                field,
                format!("{field} {v} is out of range (0..={MAX_LINE_QUANTITY})"),
            )
            .with_reason(ReasonCode::InvalidQuantity)
        })
}

/// Normalizes one order.
pub fn order(w: &wire::Order, ctx: &NormalizeContext, raw: &RawRecord) -> Result<Order> {
    let c = currency(&w.currency_code, "currencyCode")?;
    let presentment_currency = currency(&w.presentment_currency_code, "presentmentCurrencyCode")?;
    let created_at = parse_time(&w.created_at, "createdAt")?;
    let updated_at = parse_time(&w.updated_at, "updatedAt")?;
    let processed_at = w
        .processed_at
        .as_deref()
        .map(|t| parse_time(t, "processedAt"))
        .transpose()?;
    let cancelled = w.cancelled_at.is_some();
    let destination = Destination {
        country: w
            .shipping_address
            .as_ref()
            .and_then(|a| a.country_code_v2.as_deref()),
        province: w
            .shipping_address
            .as_ref()
            .and_then(|a| a.province_code.as_deref()),
    };

    // Units shipped per line, from successful fulfilments (split fulfilments add up).
    let mut shipped_by_line: BTreeMap<&str, u64> = BTreeMap::new();
    for f in &w.fulfillments {
        if f.status != wire::ShipmentStatus::Success {
            continue;
        }
        for item in &f.fulfillment_line_items.nodes {
            let q = u64::from(non_negative_u32(
                item.quantity,
                "fulfillmentLineItems.quantity",
            )?);
            let shipped = shipped_by_line
                .entry(item.line_item.id.as_str())
                .or_default();
            *shipped = shipped.saturating_add(q);
        }
    }

    let mut lines = Vec::with_capacity(w.line_items.nodes.len());
    for li in &w.line_items.nodes {
        let quantity = non_negative_u32(li.quantity, "lineItems.quantity")?;
        let shipped = shipped_by_line.get(li.id.as_str()).copied().unwrap_or(0);
        lines.push(OrderLine {
            line_id: OrderLineId::new(li.id.clone()),
            sku: line_sku(li.sku.as_deref(), li.variant.as_ref(), &li.id),
            platform_sku_id: li.variant.as_ref().map(|v| v.id.clone()),
            listing_id: li.product.as_ref().map(|p| ListingId::new(p.id.clone())),
            title: li.title.clone(),
            quantity,
            unit_price: shop_money(&li.original_unit_price_set, c, "originalUnitPriceSet")?,
            discounts: discounts(&li.discount_allocations, c, "lineItems.discountAllocations")?,
            taxes: tax_lines(
                &li.tax_lines,
                c,
                w.taxes_included,
                destination,
                "lineItems.taxLines",
            )?,
            fulfilment_channel: None,
            raw_status: None,
            quantity_shipped: u32::try_from(shipped).unwrap_or(u32::MAX),
        });
    }
    if w.line_items
        .page_info
        .as_ref()
        .is_some_and(|p| p.has_next_page)
    {
        return Err(malformed(
            "lineItems",
            "the order has more line items than one query returns; fetch it by id",
        ));
    }

    let mut shipping = Vec::with_capacity(w.shipping_lines.nodes.len());
    for s in &w.shipping_lines.nodes {
        shipping.push(ShippingCharge {
            amount: shop_money(&s.original_price_set, c, "shippingLines.originalPriceSet")?,
            discounts: discounts(
                &s.discount_allocations,
                c,
                "shippingLines.discountAllocations",
            )?,
            taxes: tax_lines(
                &s.tax_lines,
                c,
                w.taxes_included,
                destination,
                "shippingLines.taxLines",
            )?,
            method: s.title.clone(),
        });
    }

    let ordered = lines
        .iter()
        .fold(0_u64, |acc, l| acc.saturating_add(u64::from(l.quantity)));
    let shipped = lines.iter().fold(0_u64, |acc, l| {
        acc.saturating_add(u64::from(l.quantity_shipped))
    });
    let status = map_status(
        w.display_financial_status.as_ref(),
        &w.display_fulfillment_status,
        cancelled,
        w.closed,
        shipped,
        ordered,
    )?;
    let financial = w
        .display_financial_status
        .as_ref()
        .map_or("NONE", wire::FinancialStatus::as_str);
    let mut raw_status = format!("{financial}/{}", w.display_fulfillment_status);
    if cancelled {
        raw_status.push_str("/CANCELLED");
    }

    let total = shop_money(&w.total_price_set, c, "totalPriceSet")?;
    let presentment = if presentment_currency != c {
        let p = money(
            &w.total_price_set.presentment_money,
            "totalPriceSet.presentmentMoney",
        )?;
        if p.currency != presentment_currency {
            return Err(malformed(
                "totalPriceSet.presentmentMoney",
                "presentment total is not in the presentment currency",
            ));
        }
        Some(Presentment {
            currency: presentment_currency,
            total: p,
        })
    } else {
        None
    };

    let region = ctx.pii_region.unwrap_or_else(|| {
        region_for_country(
            w.shipping_address
                .as_ref()
                .and_then(|a| a.country_code_v2.as_deref()),
        )
    });
    let ship_to = w.shipping_address.as_ref().and_then(|a| {
        let country = a.country_code_v2.clone()?;
        Some(Pii::new(
            region,
            Address {
                name: a.name.clone(),
                phone: a.phone.clone(),
                lines: [&a.address1, &a.address2]
                    .into_iter()
                    .flatten()
                    .filter(|l| !l.is_empty())
                    .cloned()
                    .collect(),
                district: None,
                city: a.city.clone(),
                province: a.province_code.clone(),
                postal_code: a.zip.clone(),
                country,
            },
        ))
    });
    let buyer_name = w.shipping_address.as_ref().and_then(|a| a.name.clone());
    let buyer = (w.email.is_some() || w.phone.is_some() || buyer_name.is_some()).then(|| {
        Pii::new(
            region,
            Buyer {
                platform_id: None,
                name: buyer_name,
                email: w.email.clone(),
                phone: w.phone.clone(),
            },
        )
    });

    let fully_paid = matches!(
        w.display_financial_status,
        Some(
            wire::FinancialStatus::Paid
                | wire::FinancialStatus::PartiallyRefunded
                | wire::FinancialStatus::Refunded
        )
    );
    let payments = if fully_paid {
        vec![Payment {
            amount: total,
            method: w.payment_gateway_names.first().cloned(),
            transaction_id: None,
            paid_at: processed_at,
        }]
    } else {
        Vec::new()
    };

    let placed_at = match processed_at {
        Some(p) if p <= updated_at => p,
        _ => created_at,
    };
    let mut extensions = BTreeMap::new();
    extensions.insert("shopify_name".to_owned(), serde_json::json!(w.name));
    extensions.insert(
        "display_financial_status".to_owned(),
        serde_json::json!(financial),
    );
    extensions.insert(
        "display_fulfillment_status".to_owned(),
        serde_json::json!(w.display_fulfillment_status.as_str()),
    );
    extensions.insert(
        "taxes_included".to_owned(),
        serde_json::json!(w.taxes_included),
    );
    if w.test {
        extensions.insert("test".to_owned(), serde_json::json!(true));
    }
    if let Some(r) = &w.cancel_reason {
        extensions.insert("cancel_reason".to_owned(), serde_json::json!(r));
    }

    let order = Order {
        channel: Channel::Shopify,
        shop: ctx.shop.clone(),
        id: OrderId::new(w.id.clone()),
        revision: Revision::UpdatedAt(updated_at),
        status,
        raw_status,
        placed_at,
        paid_at: if fully_paid { processed_at } else { None },
        updated_at,
        source_time_zone: ctx.time_zone.clone(),
        currency: c,
        presentment,
        lines,
        discounts: Vec::new(),
        shipping,
        taxes: Vec::new(),
        payments,
        fulfilment_channel: FulfilmentChannel::Seller,
        buyer,
        ship_to,
        attribution: None,
        raw: Some(raw.reference()),
        extensions,
    };
    order.validate()?;
    let totals = order.totals()?;
    if totals.buyer_total != total {
        return Err(malformed(
            "totalPriceSet",
            format!(
                "lines, discounts, shipping and taxes add up to {} but Shopify's total is {total}",
                totals.buyer_total
            ),
        ));
    }
    Ok(order)
}

fn refund_status(transactions: &[wire::OrderTransaction]) -> RefundStatus {
    use wire::TransactionStatus as T;
    let refunds: Vec<&wire::OrderTransaction> = transactions
        .iter()
        .filter(|t| t.kind == wire::TransactionKind::Refund)
        .collect();
    if refunds.is_empty() || refunds.iter().any(|t| t.status == T::Success) {
        // A refund without money movement (restock only, zero amount) is complete as recorded.
        RefundStatus::Completed
    } else if refunds.iter().any(|t| {
        matches!(
            t.status,
            T::Pending | T::AwaitingResponse | T::StatusUnknown
        )
    }) {
        RefundStatus::Approved
    } else {
        RefundStatus::Rejected
    }
}

/// Normalizes one refund of an order.
pub fn refund(
    r: &wire::Refund,
    order: &wire::OrderRefunds,
    ctx: &NormalizeContext,
    raw: &RawRecord,
) -> Result<Refund> {
    let c = currency(&order.currency_code, "currencyCode")?;
    let mut lines = Vec::new();
    let mut returned = Vec::new();
    for item in &r.refund_line_items.nodes {
        let quantity = non_negative_u32(item.quantity, "refundLineItems.quantity")?;
        let restock = matches!(
            item.restock_type,
            wire::RestockType::Return
                | wire::RestockType::Cancel
                | wire::RestockType::LegacyRestock
        );
        let sku = line_sku(item.line_item.sku.as_deref(), None, &item.line_item.id);
        let tax = shop_money(&item.total_tax_set, c, "refundLineItems.totalTaxSet")?;
        let taxes = if tax.is_zero() {
            Vec::new()
        } else {
            vec![TaxLine {
                kind: TaxKind::Other("tax".into()),
                rate: None,
                amount: tax,
                included_in_price: order.taxes_included,
                collected_by: TaxCollector::Seller,
                jurisdiction: None,
            }]
        };
        if item.restock_type == wire::RestockType::Return {
            returned.push(ReturnLine {
                line_id: OrderLineId::new(item.line_item.id.clone()),
                sku: sku.clone(),
                quantity,
                restock,
            });
        }
        lines.push(RefundLine {
            line_id: OrderLineId::new(item.line_item.id.clone()),
            sku,
            quantity,
            amount: shop_money(&item.subtotal_set, c, "refundLineItems.subtotalSet")?,
            taxes,
            restock,
        });
    }
    let shipping = if r.refund_shipping_lines.nodes.is_empty() {
        None
    } else {
        let mut sum = Money::zero(c);
        for s in &r.refund_shipping_lines.nodes {
            sum = sum.checked_add(&shop_money(
                &s.subtotal_amount_set,
                c,
                "refundShippingLines.subtotalAmountSet",
            )?)?;
            // Shipping is reported with its tax (the canonical refund has no shipping tax
            // field); tax already inside a tax-inclusive price is in the subtotal.
            if let (Some(tax), false) = (&s.tax_amount_set, order.taxes_included) {
                sum = sum.checked_add(&shop_money(tax, c, "refundShippingLines.taxAmountSet")?)?;
            }
        }
        Some(sum)
    };
    let status = refund_status(&r.transactions.nodes);
    let raw_status = r
        .transactions
        .nodes
        .iter()
        .find(|t| t.kind == wire::TransactionKind::Refund)
        .map_or_else(
            || "NO_TRANSACTION".to_owned(),
            |t| t.status.as_str().to_owned(),
        );
    let refund = Refund {
        channel: Channel::Shopify,
        shop: ctx.shop.clone(),
        id: RefundId::new(r.id.clone()),
        order_id: OrderId::new(order.id.clone()),
        revision: Revision::UpdatedAt(parse_time(&r.updated_at, "refund.updatedAt")?),
        status,
        raw_status,
        reason: RefundReason {
            code: None,
            text: r.note.clone(),
        },
        created_at: parse_time(&r.created_at, "refund.createdAt")?,
        updated_at: parse_time(&r.updated_at, "refund.updatedAt")?,
        lines,
        shipping,
        total: shop_money(&r.total_refunded_set, c, "totalRefundedSet")?,
        goods_return: (!returned.is_empty()).then(|| Return {
            id: ReturnId::new(r.id.clone()),
            lines: returned,
            carrier: None,
            tracking_number: None,
            received_at: None,
        }),
        raw: Some(raw.reference()),
    };
    refund.validate()?;
    Ok(refund)
}

fn payout_rank(s: &wire::PayoutStatus) -> u64 {
    match s {
        wire::PayoutStatus::Scheduled => 1,
        wire::PayoutStatus::InTransit => 2,
        wire::PayoutStatus::Paid => 3,
        wire::PayoutStatus::Failed | wire::PayoutStatus::Canceled => 4,
        wire::PayoutStatus::Unknown(_) => 0,
    }
}

/// Normalizes a Shopify Payments payout and its balance transactions into a settlement.
///
/// Each balance transaction gives a line for its gross `amount` (charge → `Sale`, refund →
/// `Refund`, reserves by sign, payout → `Payout`, others → `Adjustment` or `Unknown` with the
/// type verbatim) and, when its `fee` is not zero, a `Fee { code: "shopify_payments_fee" }`
/// line of `−fee`. Test-mode transactions are skipped. The revision is the payout status rank,
/// so `SCHEDULED → PAID` produces a new revision.
pub fn settlement(
    p: &wire::Payout,
    transactions: &[wire::BalanceTransaction],
    ctx: &NormalizeContext,
    raw: &RawRecord,
) -> Result<Settlement> {
    use wire::BalanceTransactionType as B;
    let net = money(&p.net, "payout.net")?;
    if net.is_negative() {
        // The direction is `transactionType`; `net` itself is a magnitude. A negative deposit
        // (or withdrawal) would book money the wrong way round.
        return Err(malformed(
            "payout.net",
            format!(
                "payout {} has a negative net {net} ({})",
                p.id,
                p.transaction_type.as_str()
            ),
        )
        .with_reason(ReasonCode::AmountOutOfRange));
    }
    let c = net.currency;
    let issued_at = parse_time(&p.issued_at, "payout.issuedAt")?;
    let mut lines = Vec::new();
    let mut period_start = issued_at;
    for t in transactions {
        if t.test {
            continue;
        }
        let amount = money(&t.amount, "balanceTransaction.amount")?;
        let fee = money(&t.fee, "balanceTransaction.fee")?;
        let tx_net = money(&t.net, "balanceTransaction.net")?;
        for m in [&amount, &fee, &tx_net] {
            if m.currency != c {
                return Err(malformed(
                    "balanceTransaction",
                    format!(
                        "transaction {} is in {} but the payout is in {c}",
                        t.id, m.currency
                    ),
                ));
            }
        }
        if amount.checked_sub(&fee)? != tx_net {
            return Err(malformed(
                "balanceTransaction.net",
                format!("transaction {}: amount − fee ≠ net", t.id),
            ));
        }
        let posted_at = parse_time(&t.transaction_date, "balanceTransaction.transactionDate")?;
        if t.kind != B::Payout && posted_at < period_start {
            period_start = posted_at;
        }
        let code = || Some(t.kind.as_str().to_owned());
        let kind = match &t.kind {
            B::Charge => SettlementLineKind::Sale,
            B::Refund => SettlementLineKind::Refund,
            B::ReservedFunds | B::ReservedFundsWithdrawal | B::ReservedFundsReversal => {
                if amount.is_negative() {
                    SettlementLineKind::ReserveHold
                } else {
                    SettlementLineKind::ReserveRelease
                }
            }
            B::Payout => SettlementLineKind::Payout,
            B::Dispute
            | B::Adjustment
            | B::Credit
            | B::Debit
            | B::PayoutFailure
            | B::PayoutCancellation
            | B::ApplicationFeeRefund
            | B::TaxAdjustmentDebit
            | B::TaxAdjustmentCredit => SettlementLineKind::Adjustment { code: code() },
            B::Unknown(s) => SettlementLineKind::Unknown { code: s.clone() },
        };
        let order_id = t
            .associated_order
            .as_ref()
            .map(|o| OrderId::new(o.id.clone()));
        lines.push(SettlementLine {
            kind,
            amount,
            order_id: order_id.clone(),
            reference: Some(t.id.clone()),
            posted_at,
            description: t.adjustment_reason.clone(),
        });
        if !fee.is_zero() {
            lines.push(SettlementLine {
                kind: SettlementLineKind::Fee {
                    code: "shopify_payments_fee".into(),
                },
                amount: fee.neg(),
                order_id,
                reference: Some(t.id.clone()),
                posted_at,
                description: Some(format!("{} processing fee", t.kind)),
            });
        }
    }
    let payout = match p.status {
        wire::PayoutStatus::Paid
        | wire::PayoutStatus::Scheduled
        | wire::PayoutStatus::InTransit => Some(marketsync_core::Payout {
            id: PayoutId::new(p.id.clone()),
            amount: if p.transaction_type == wire::PayoutDirection::Withdrawal {
                net.neg()
            } else {
                net
            },
            paid_at: issued_at,
            bank_reference: None,
        }),
        _ => None,
    };
    let settlement = Settlement {
        channel: Channel::Shopify,
        shop: ctx.shop.clone(),
        id: SettlementId::new(p.id.clone()),
        revision: Revision::Version(payout_rank(&p.status)),
        currency: c,
        period_start,
        period_end: issued_at,
        lines,
        payout,
        raw: Some(raw.reference()),
    };
    settlement.validate()?;
    Ok(settlement)
}

#[cfg(test)]
mod tests;
