//! Pure wire → canonical conversions. No I/O.
//!
//! **Times.** TOP sends `yyyy-MM-dd HH:mm:ss` in Beijing time (GMT+8, no daylight saving since
//! 1991). They are parsed here with a fixed +08:00 offset, stored in UTC, and the order carries
//! `Asia/Shanghai` as its source zone.
//!
//! **Money of a trade.** Every line keeps the list price (`price × num`). Discounts are split by
//! who funds them, as far as TOP tells:
//!
//! | TOP field | canonical | funder |
//! |---|---|---|
//! | `order.discount_fee` (sub-order promotion) | line discount `discount_fee` | seller |
//! | `order.adjust_fee` < 0 (manual price cut) | line discount `adjust_fee` | seller |
//! | `order.adjust_fee` > 0 (manual price rise) | folded into the unit price (must divide exactly) | — |
//! | `tmall_coupon_fee` (fen, Tmall red packet) | order discount `tmall_coupon_fee` | platform |
//! | `platform_subsidy_fee` (yuan) | order discount `platform_subsidy_fee` | platform |
//! | the rest of the trade-level allocation (`Σ line net + post_fee − payment`, i.e. the shop promotions TOP spreads over sub-orders as `part_mjz_discount`) | order discount `shop_promotion` | seller |
//! | `post_fee` | shipping charge | — |
//!
//! so that goods − discounts + shipping equals TOP's `payment`. When every sub-order carries
//! `divide_order_fee`, `Σ divide_order_fee + post_fee` must equal `payment` too. A trade whose
//! amounts do not add up is a `Validation` / `MalformedPayload` failure — never a silently
//! rebalanced order.
//!
//! **Presale (step) trades.** Until `step_trade_status` is `FRONT_PAID_FINAL_PAID` the deposit is
//! a customer prepayment, not a sale: the order carries no [`Payment`]; `step_trade_status` and
//! `step_paid_fee` are kept in `extensions`. A forfeited deposit (`FRONT_PAID_FRONT_FORFEITED`)
//! is flagged there (`deposit_forfeited`) for the posting rules.
//!
//! **Hostile input.** Nothing here panics on a payload: amounts are read exactly (more than 28
//! significant digits is refused at parsing, never rounded), every sum, product and negation is
//! checked (an overflow is `AmountOutOfRange`), and every record returned has passed its own
//! `validate()` (quantities `1..=1,000,000`, plausible years, `created ≤ pay_time`,
//! `created ≤ modified`, amounts within ±10^15). A refusal is a `Validation` or `Mapping` error
//! with a specific [`ReasonCode`] (`invalid_quantity`, `amount_out_of_range`, `invalid_time`,
//! `money_invalid`, `malformed_payload`, `unknown_status`), which the connector turns into a
//! `Fetched::failed` carrying the raw record: the page goes on. `tests/mutation.rs` runs this
//! over mutated payloads in every `cargo test`.
//!
//! **Personal data.** TOP never sends the receiver in clear: name, phone and street are
//! encrypted and `oaid` references them. The ship-to is kept as a region-`Cn`
//! [`Pii::sealed`] value (`taobao_oaid`, or `taobao_encrypted_receiver` holding the ciphertexts),
//! never decrypted here. Province, city, district and postcode (not identifying on their own,
//! needed for tax and reporting) go to `extensions["receiver_region"]`.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeZone, Utc};
use marketsync_core::order::MAX_LINE_QUANTITY;
use marketsync_core::{Address, Region};
use marketsync_core::{
    Buyer, Channel, Currency, Discount, DiscountFunder, Error, ErrorKind, FulfilmentChannel,
    ListingId, Money, Order, OrderId, OrderLine, OrderLineId, OrderStatus, Payment, Pii, RawRecord,
    ReasonCode, Refund, RefundId, RefundLine, RefundReason, RefundStatus, Result, Return, ReturnId,
    ReturnLine, Revision, Settlement, SettlementId, SettlementLine, SettlementLineKind,
    ShippingCharge, ShopId, Sku, TimeZoneId,
};
use rust_decimal::Decimal;

use crate::wire::{self, StepTradeStatus, TradeStatus};

/// TOP's time format.
pub const TOP_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Beijing time, GMT+8.
pub fn beijing() -> FixedOffset {
    // 8 h is inside ±24 h, so `east_opt` cannot fail; UTC is a safe fallback regardless.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// Parses a TOP local time (`2024-03-18 17:12:59`, GMT+8) into UTC.
pub fn parse_top_time(s: &str) -> Result<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(s.trim(), TOP_TIME_FORMAT).map_err(|e| {
        malformed(format!("not a TOP time (yyyy-MM-dd HH:mm:ss): {s:?}")).with_source(e)
    })?;
    beijing()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| malformed(format!("ambiguous TOP time {s:?}")))
}

/// Formats a UTC time as TOP expects it (GMT+8).
pub fn format_top_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&beijing())
        .format(TOP_TIME_FORMAT)
        .to_string()
}

fn malformed(message: impl Into<String>) -> Error {
    Error::validation(ReasonCode::MalformedPayload, message)
}

fn required<'a, T>(v: &'a Option<T>, field: &str) -> Result<&'a T> {
    v.as_ref()
        .ok_or_else(|| malformed(format!("required field {field} is missing")))
}

fn required_time(v: &Option<String>, field: &str) -> Result<DateTime<Utc>> {
    parse_top_time(required(v, field)?)
}

fn optional_time(v: &Option<String>) -> Result<Option<DateTime<Utc>>> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => parse_top_time(s).map(Some),
    }
}

fn cny(d: Decimal) -> Money {
    Money::new(d, Currency::CNY)
}

fn yuan(v: &Option<wire::Yuan>) -> Decimal {
    v.map(|y| y.0).unwrap_or_default()
}

/// An amount the payload cannot make add up without overflowing a `Decimal`.
fn overflow(what: &str) -> Error {
    Error::validation(
        ReasonCode::AmountOutOfRange,
        format!("{what} overflows the decimal range"),
    )
}

fn add(a: Decimal, b: Decimal, what: &str) -> Result<Decimal> {
    a.checked_add(b).ok_or_else(|| overflow(what))
}

fn sub(a: Decimal, b: Decimal, what: &str) -> Result<Decimal> {
    a.checked_sub(b).ok_or_else(|| overflow(what))
}

fn mul(a: Decimal, b: Decimal, what: &str) -> Result<Decimal> {
    a.checked_mul(b).ok_or_else(|| overflow(what))
}

/// Who the normalized records belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// `Tmall` or `Taobao`.
    pub channel: Channel,
    /// The shop.
    pub shop: ShopId,
}

/// The canonical status of a TOP trade status; `None` for a value this crate does not know.
pub fn order_status(s: &TradeStatus) -> Option<OrderStatus> {
    Some(match s {
        TradeStatus::NoCreatePay
        | TradeStatus::WaitBuyerPay
        | TradeStatus::PayPending
        | TradeStatus::WaitPreAuthConfirm => OrderStatus::PendingPayment,
        TradeStatus::WaitSellerSendGoods | TradeStatus::PaidForbidConsign => {
            OrderStatus::AwaitingFulfilment
        }
        TradeStatus::SellerConsignedPart => OrderStatus::PartiallyShipped,
        TradeStatus::WaitBuyerConfirmGoods => OrderStatus::Shipped,
        TradeStatus::BuyerSigned => OrderStatus::Delivered,
        TradeStatus::Finished => OrderStatus::Completed,
        TradeStatus::Closed => OrderStatus::Refunded,
        TradeStatus::ClosedByTaobao => OrderStatus::Cancelled,
        TradeStatus::Unknown(_) => return None,
    })
}

/// The canonical status of a TOP refund status; `None` for an unknown value or `NO_REFUND`.
pub fn refund_status(s: &wire::RefundStatus) -> Option<RefundStatus> {
    use wire::RefundStatus as W;
    Some(match s {
        W::WaitSellerAgree | W::ExchangeTransformToRefund => RefundStatus::Requested,
        W::WaitBuyerReturnGoods
        | W::WaitSellerConfirmGoods
        | W::WaitBuyerConfirmExchangeSellerSendGoods
        | W::WaitSellerConsignGoods => RefundStatus::Approved,
        W::SellerRefuseBuyer => RefundStatus::Rejected,
        W::Closed => RefundStatus::Cancelled,
        W::Success => RefundStatus::Completed,
        W::NoRefund | W::Unknown(_) => return None,
    })
}

fn line_is_shipped(o: &wire::Order) -> bool {
    let shipped_status = matches!(
        o.status,
        Some(TradeStatus::WaitBuyerConfirmGoods | TradeStatus::BuyerSigned | TradeStatus::Finished)
    );
    let consigned = o
        .consign_time
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty());
    shipped_status || consigned
}

fn seller_discount(amount: Decimal, code: &str, description: Option<String>) -> Discount {
    Discount {
        funder: DiscountFunder::Seller,
        amount: cny(amount),
        code: Some(code.to_owned()),
        description,
    }
}

/// Builds one order line and returns it with its net (price × num + adjust − discount).
fn line(o: &wire::Order) -> Result<(OrderLine, Decimal)> {
    let line_id = o.id().ok_or_else(|| malformed("sub-order without oid"))?;
    let num = *required(&o.num, "orders.order.num")?;
    if num == 0 || num > MAX_LINE_QUANTITY {
        return Err(Error::validation(
            ReasonCode::InvalidQuantity,
            format!("sub-order {line_id} has num {num} (must be 1..={MAX_LINE_QUANTITY})"),
        ));
    }
    let price = required(&o.price, "orders.order.price")?.0;
    let qty = Decimal::from(num);
    let discount = yuan(&o.discount_fee);
    let adjust = yuan(&o.adjust_fee);
    if price.is_sign_negative() || discount.is_sign_negative() {
        return Err(Error::validation(
            ReasonCode::AmountOutOfRange,
            format!("sub-order {line_id}: negative price or discount"),
        ));
    }
    let mut unit_price = price;
    let mut discounts = Vec::new();
    if discount > Decimal::ZERO {
        discounts.push(seller_discount(discount, "discount_fee", None));
    }
    if adjust < Decimal::ZERO {
        discounts.push(seller_discount(
            -adjust,
            "adjust_fee",
            Some("seller price change".into()),
        ));
    }
    let gross = mul(price, qty, "price × num")?;
    let adjusted = add(gross, adjust, "price × num + adjust_fee")?;
    if adjust > Decimal::ZERO {
        // `qty` is at least 1, so the division cannot fail; checked all the same.
        let raised = adjusted
            .checked_div(qty)
            .ok_or_else(|| overflow("raised unit price"))?;
        if raised.round_dp(2) != raised {
            return Err(malformed(format!(
                "sub-order {line_id}: a price increase of {adjust} does not divide over {num} units"
            )));
        }
        unit_price = raised;
    }
    let net = sub(adjusted, discount, "sub-order net")?;
    if net.is_sign_negative() {
        return Err(Error::validation(
            ReasonCode::AmountOutOfRange,
            format!("sub-order {line_id}: discounts exceed the price"),
        ));
    }
    let sku = [&o.outer_sku_id, &o.outer_iid, &o.sku_id]
        .into_iter()
        .flatten()
        .find(|s| !s.trim().is_empty())
        .cloned()
        .or_else(|| o.num_iid.map(|n| n.to_string()))
        .ok_or_else(|| malformed(format!("sub-order {line_id} has no SKU or item id")))?;
    let quantity_shipped = if line_is_shipped(o) { num } else { 0 };
    Ok((
        OrderLine {
            line_id: OrderLineId::new(line_id),
            sku: Sku::new(sku),
            platform_sku_id: o.sku_id.clone().filter(|s| !s.is_empty()),
            listing_id: o.num_iid.map(|n| ListingId::new(n.to_string())),
            title: o.title.clone().unwrap_or_default(),
            quantity: num,
            unit_price: cny(unit_price),
            discounts,
            taxes: Vec::new(),
            fulfilment_channel: None,
            raw_status: o.status.as_ref().map(|s| s.as_str().to_owned()),
            quantity_shipped,
        },
        net,
    ))
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn ship_to(t: &wire::Trade) -> Option<Pii<Address>> {
    if let Some(oaid) = non_empty(&t.oaid) {
        return Some(Pii::sealed(Region::Cn, "taobao_oaid", oaid));
    }
    let encrypted: BTreeMap<&str, String> = [
        ("receiver_name", &t.receiver_name),
        ("receiver_mobile", &t.receiver_mobile),
        ("receiver_phone", &t.receiver_phone),
        ("receiver_address", &t.receiver_address),
    ]
    .into_iter()
    .filter_map(|(k, v)| non_empty(v).map(|v| (k, v)))
    .collect();
    if encrypted.is_empty() {
        return None;
    }
    let reference = serde_json::to_string(&encrypted).unwrap_or_default();
    Some(Pii::sealed(
        Region::Cn,
        "taobao_encrypted_receiver",
        reference,
    ))
}

fn receiver_region(t: &wire::Trade) -> Option<serde_json::Value> {
    let fields = [
        ("country", &t.receiver_country),
        ("state", &t.receiver_state),
        ("city", &t.receiver_city),
        ("district", &t.receiver_district),
        ("town", &t.receiver_town),
        ("zip", &t.receiver_zip),
    ];
    let map: serde_json::Map<String, serde_json::Value> = fields
        .into_iter()
        .filter_map(|(k, v)| non_empty(v).map(|v| (k.to_owned(), serde_json::Value::String(v))))
        .collect();
    (!map.is_empty()).then_some(serde_json::Value::Object(map))
}

/// Normalizes a trade (from `taobao.trade.fullinfo.get` or the increment list).
///
/// Errors: `Validation` / `MalformedPayload` for a missing or inconsistent field, `Mapping` /
/// `UnknownStatus` for a status this crate does not know (the raw record travels with it).
pub fn trade_to_order(t: &wire::Trade, ctx: &Context, raw: &RawRecord) -> Result<Order> {
    let id = t.id().ok_or_else(|| malformed("trade without tid"))?;
    let raw_status = required(&t.status, "status")?;
    let status = order_status(raw_status).ok_or_else(|| {
        Error::mapping(
            ReasonCode::UnknownStatus,
            format!("unknown TOP trade status {raw_status}"),
        )
        .with_context("tid", &id)
    })?;
    let placed_at = required_time(&t.created, "created")?;
    let updated_at = required_time(&t.modified, "modified")?;
    let paid_at = optional_time(&t.pay_time)?;
    let payment = required(&t.payment, "payment")?.0;
    let post_fee = yuan(&t.post_fee);
    if payment.is_sign_negative() || post_fee.is_sign_negative() {
        return Err(Error::validation(
            ReasonCode::AmountOutOfRange,
            "negative payment or post_fee",
        ));
    }

    let orders = t.order_list();
    if orders.is_empty() {
        return Err(malformed(format!(
            "trade {id} has no orders (ask for orders.* fields)"
        )));
    }
    let mut lines = Vec::with_capacity(orders.len());
    let mut net_sum = Decimal::ZERO;
    for o in orders {
        let (l, net) = line(o)?;
        net_sum = add(net_sum, net, "Σ sub-order nets")?;
        lines.push(l);
    }

    // Trade-level discounts: what the lines' nets plus postage exceed the payment by.
    let allocated = sub(
        add(net_sum, post_fee, "goods + postage")?,
        payment,
        "trade-level discount",
    )?;
    if allocated.is_sign_negative() {
        return Err(malformed(format!(
            "trade {id}: payment {payment} exceeds goods {net_sum} + postage {post_fee}"
        )));
    }
    if orders.iter().all(|o| o.divide_order_fee.is_some()) {
        let divided = orders.iter().try_fold(Decimal::ZERO, |acc, o| {
            add(acc, yuan(&o.divide_order_fee), "Σ divide_order_fee")
        })?;
        if add(divided, post_fee, "Σ divide_order_fee + post_fee")? != payment {
            return Err(malformed(format!(
                "trade {id}: Σ divide_order_fee {divided} + post_fee {post_fee} ≠ payment {payment}"
            )));
        }
    }
    let red_packet = Decimal::new(t.tmall_coupon_fee.unwrap_or_default(), 2);
    let subsidy = yuan(&t.platform_subsidy_fee);
    if red_packet.is_sign_negative() || subsidy.is_sign_negative() {
        return Err(Error::validation(
            ReasonCode::AmountOutOfRange,
            "negative platform-funded discount",
        ));
    }
    let platform_funded = add(red_packet, subsidy, "platform-funded discounts")?;
    let shop_part = sub(allocated, platform_funded, "shop promotions")?;
    if shop_part.is_sign_negative() {
        return Err(malformed(format!(
            "trade {id}: platform-funded discounts {platform_funded} exceed the trade-level discount {allocated}"
        )));
    }
    let mut discounts = Vec::new();
    if red_packet > Decimal::ZERO {
        discounts.push(Discount {
            funder: DiscountFunder::Platform,
            amount: cny(red_packet),
            code: Some("tmall_coupon_fee".into()),
            description: Some("Tmall red packet".into()),
        });
    }
    if subsidy > Decimal::ZERO {
        discounts.push(Discount {
            funder: DiscountFunder::Platform,
            amount: cny(subsidy),
            code: Some("platform_subsidy_fee".into()),
            description: Some("platform subsidy".into()),
        });
    }
    if shop_part > Decimal::ZERO {
        let names: Vec<&str> = t
            .promotion_details
            .iter()
            .flat_map(|p| p.promotion_detail.iter())
            .filter_map(|p| p.promotion_name.as_deref())
            .collect();
        discounts.push(seller_discount(
            shop_part,
            "shop_promotion",
            (!names.is_empty()).then(|| names.join("; ")),
        ));
    }

    let shipping = if post_fee > Decimal::ZERO {
        vec![ShippingCharge {
            amount: cny(post_fee),
            discounts: Vec::new(),
            taxes: Vec::new(),
            method: non_empty(&t.shipping_type),
        }]
    } else {
        Vec::new()
    };

    let mut extensions = BTreeMap::new();
    let step = t.step_trade_status.as_ref();
    if let Some(s) = step {
        extensions.insert("step_trade_status".into(), s.as_str().into());
        if let Some(p) = t.step_paid_fee {
            extensions.insert("step_paid_fee".into(), format!("{:.2}", p.0).into());
        }
        if *s == StepTradeStatus::FrontPaidFrontForfeited {
            extensions.insert("deposit_forfeited".into(), true.into());
        }
    }
    let final_paid = match step {
        None => true,
        Some(s) => *s == StepTradeStatus::FrontPaidFinalPaid,
    };
    let payments = if status.is_paid() && final_paid {
        vec![Payment {
            amount: cny(payment),
            method: Some("alipay".into()),
            transaction_id: non_empty(&t.alipay_no),
            paid_at,
        }]
    } else {
        Vec::new()
    };
    for (k, v) in [
        ("type", non_empty(&t.trade_type)),
        (
            "received_payment",
            t.received_payment.map(|y| format!("{:.2}", y.0)),
        ),
        ("point_fee", t.point_fee.map(|p| p.to_string())),
        ("coupon_fee", t.coupon_fee.map(|p| p.to_string())),
    ] {
        if let Some(v) = v {
            extensions.insert(k.into(), v.into());
        }
    }
    if t.is_part_consign == Some(true) {
        extensions.insert("is_part_consign".into(), true.into());
    }
    if let Some(region) = receiver_region(t) {
        extensions.insert("receiver_region".into(), region);
    }

    let buyer = non_empty(&t.buyer_open_uid)
        .or_else(|| non_empty(&t.buyer_nick))
        .map(|id| {
            Pii::new(
                Region::Cn,
                Buyer {
                    platform_id: Some(id),
                    name: None,
                    email: None,
                    phone: None,
                },
            )
        });

    let order = Order {
        channel: ctx.channel.clone(),
        shop: ctx.shop.clone(),
        id: OrderId::new(id),
        revision: Revision::UpdatedAt(updated_at),
        status,
        raw_status: raw_status.as_str().to_owned(),
        placed_at,
        paid_at,
        updated_at,
        source_time_zone: TimeZoneId::shanghai(),
        currency: Currency::CNY,
        presentment: None,
        lines,
        discounts,
        shipping,
        taxes: Vec::new(),
        payments,
        fulfilment_channel: FulfilmentChannel::Seller,
        buyer,
        ship_to: ship_to(t),
        attribution: None,
        raw: Some(raw.reference()),
        extensions,
    };
    order.validate()?;
    Ok(order)
}

/// Normalizes a refund (`taobao.refunds.receive.get`).
///
/// TOP refunds one sub-order per refund. `num` is the quantity *bought*; TOP does not say how
/// many units a refund covers, so the line quantity is `num` when goods come back and 0 for a
/// money-only refund. Returned units are not marked for restock (`restock: false`): that is the
/// warehouse's call once it inspects them.
pub fn refund_to_canonical(r: &wire::Refund, ctx: &Context, raw: &RawRecord) -> Result<Refund> {
    let id = non_empty(&r.refund_id).ok_or_else(|| malformed("refund without refund_id"))?;
    let raw_status = required(&r.status, "status")?;
    let status = refund_status(raw_status).ok_or_else(|| {
        Error::mapping(
            ReasonCode::UnknownStatus,
            format!("unknown TOP refund status {raw_status}"),
        )
        .with_context("refund_id", &id)
    })?;
    let tid = required(&r.tid, "tid")?.to_string();
    let oid = r.oid.map(|o| o.to_string()).unwrap_or_else(|| tid.clone());
    let amount = required(&r.refund_fee, "refund_fee")?.0;
    if amount.is_sign_negative() {
        return Err(Error::validation(
            ReasonCode::AmountOutOfRange,
            format!("refund {id}: negative refund_fee"),
        ));
    }
    if let Some(total) = r.total_fee.map(|t| t.0).filter(|t| *t > Decimal::ZERO) {
        if amount > total {
            return Err(Error::validation(
                ReasonCode::AmountOutOfRange,
                format!("refund {id}: refund_fee {amount} exceeds the trade total {total}"),
            ));
        }
    }
    let created_at = required_time(&r.created, "created")?;
    let updated_at = required_time(&r.modified, "modified")?;
    let sku = non_empty(&r.outer_id)
        .or_else(|| r.num_iid.map(|n| n.to_string()))
        .ok_or_else(|| malformed(format!("refund {id} has no outer_id or num_iid")))?;
    let goods_back = r.has_good_return == Some(true);
    let num = r.num.unwrap_or(0);
    let quantity = if goods_back { num } else { 0 };
    let line_id = OrderLineId::new(oid);
    let goods_return = goods_back.then(|| Return {
        id: ReturnId::new(id.clone()),
        lines: vec![ReturnLine {
            line_id: line_id.clone(),
            sku: Sku::new(sku.clone()),
            quantity,
            restock: false,
        }],
        carrier: non_empty(&r.company_name),
        tracking_number: non_empty(&r.sid),
        received_at: None,
    });
    let refund = Refund {
        channel: ctx.channel.clone(),
        shop: ctx.shop.clone(),
        id: RefundId::new(id),
        order_id: OrderId::new(tid),
        revision: Revision::UpdatedAt(updated_at),
        status,
        raw_status: raw_status.as_str().to_owned(),
        reason: RefundReason {
            code: None,
            text: non_empty(&r.reason),
        },
        created_at,
        updated_at,
        lines: vec![RefundLine {
            line_id,
            sku: Sku::new(sku),
            quantity,
            amount: cny(amount),
            taxes: Vec::new(),
            restock: false,
        }],
        shipping: None,
        total: cny(amount),
        goods_return,
        raw: Some(raw.reference()),
    };
    refund.validate()?;
    Ok(refund)
}

/// Turns the bills of one period (`taobao.bill.bills.get`) into a settlement.
///
/// Bills are charges TOP debits from the seller's Alipay account (commission, technical
/// service fee, points, affiliate fees…), positive when charged and negative when a charge is
/// refunded. From the seller's side they are fees: each line is `Fee { code: "account:<id>" }`
/// with the sign flipped. Only bills with `status` 1 (paid) move money; the others stay in the
/// raw payload and are not turned into lines.
pub fn bills_to_settlement(
    bills: &[wire::Bill],
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    ctx: &Context,
    raw: &RawRecord,
) -> Result<Settlement> {
    let mut lines = Vec::new();
    let mut revision = period_end;
    for b in bills {
        let bid = required(&b.bid, "bid")?;
        if let Some(m) = optional_time(&b.gmt_modified)? {
            revision = revision.max(m);
        }
        if b.status != Some(1) {
            continue;
        }
        let amount = *required(&b.amount, "amount")?;
        // Charged (positive) from the platform's side is a cost (negative) from the seller's.
        let seller_side = amount.checked_neg().ok_or_else(|| {
            Error::validation(
                ReasonCode::AmountOutOfRange,
                format!("bill {bid}: amount {amount} fen cannot be negated"),
            )
        })?;
        let account = required(&b.account_id, "account_id")?;
        let posted_at = match optional_time(&b.book_time)? {
            Some(t) => t,
            None => required_time(&b.pay_time, "pay_time")?,
        };
        lines.push(SettlementLine {
            kind: SettlementLineKind::Fee {
                code: format!("account:{account}"),
            },
            amount: Money::from_minor(seller_side, Currency::CNY),
            order_id: non_empty(&b.trade_id).map(OrderId::new),
            reference: Some(bid.to_string()),
            posted_at,
            description: non_empty(&b.alipay_notice),
        });
    }
    let local = |t: DateTime<Utc>| {
        t.with_timezone(&beijing())
            .format("%Y%m%d%H%M%S")
            .to_string()
    };
    let settlement = Settlement {
        channel: ctx.channel.clone(),
        shop: ctx.shop.clone(),
        id: SettlementId::new(format!(
            "top-bills-{}-{}",
            local(period_start),
            local(period_end)
        )),
        revision: Revision::UpdatedAt(revision),
        currency: Currency::CNY,
        period_start,
        period_end,
        lines,
        payout: None,
        raw: Some(raw.reference()),
    };
    settlement.validate()?;
    Ok(settlement)
}

/// True when an error is about the record's data (it belongs in a `Fetched::failed`), not
/// about the call.
pub fn is_data_error(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Validation | ErrorKind::Mapping)
}

#[cfg(test)]
mod tests;
