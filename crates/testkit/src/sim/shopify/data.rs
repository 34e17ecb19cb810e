//! The simulator's seeded, deterministic data set, shaped like Shopify's Admin GraphQL objects
//! (`MoneyBag { shopMoney presentmentMoney }` with `Decimal` strings, ISO-8601 UTC times, GIDs).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

/// Formats integer cents as a `Decimal` string (`1234` → `"12.34"`).
pub fn cents(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", v.abs() / 100, v.abs() % 100)
}

/// `MoneyV2`.
pub fn money(v: i64, currency: &str) -> Value {
    json!({"__typename": "MoneyV2", "amount": cents(v), "currencyCode": currency})
}

/// A `MoneyBag` in the shop currency and a presentment currency at `rate_permille`.
pub fn bag(v: i64, shop: &str, presentment: Option<(&str, i64)>) -> Value {
    let (pc, pv) = match presentment {
        Some((c, rate)) => (c, (v * rate + 500).div_euclid(1000)),
        None => (shop, v),
    };
    json!({"__typename": "MoneyBag", "shopMoney": money(v, shop), "presentmentMoney": money(pv, pc)})
}

/// ISO-8601 UTC, as Shopify's `DateTime` scalar.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A seeded order and the data that is not part of its JSON.
#[derive(Clone, Debug)]
pub struct SimOrder {
    /// Numeric id.
    pub id: u64,
    /// `updatedAt`.
    pub updated_at: DateTime<Utc>,
    /// The `Order` object (every field the simulated schema knows).
    pub json: Value,
}

/// One line of a seeded order.
struct LineSpec {
    sku: String,
    quantity: i64,
    unit: i64,
    discount: i64,
}

const FINANCIAL: [&str; 8] = [
    "PAID",
    "PENDING",
    "AUTHORIZED",
    "PARTIALLY_PAID",
    "PARTIALLY_REFUNDED",
    "REFUNDED",
    "VOIDED",
    "EXPIRED",
];

/// The SKUs the seeded orders use, with their inventory item ids.
pub const SKUS: [(&str, u64); 4] = [
    ("SKU-A0", 2001),
    ("SKU-A1", 2002),
    ("SKU-A2", 2003),
    ("SKU-B", 2004),
];

/// The shop's primary location.
pub const LOCATION: &str = "gid://shopify/Location/1";

fn variant_of(sku: &str) -> u64 {
    SKUS.iter()
        .find(|(s, _)| *s == sku)
        .map_or(9999, |(_, item)| item + 1000)
}

fn tax_of(net: i64, included: bool) -> i64 {
    if included {
        // 20% VAT inside the price: net × 20 / 120, rounded half up.
        (net * 20 + 60).div_euclid(120)
    } else {
        // 8% sales tax on top.
        (net * 8 + 50).div_euclid(100)
    }
}

fn tax_line(amount: i64, included: bool, shop: &str, pres: Option<(&str, i64)>) -> Value {
    json!({
        "__typename": "TaxLine",
        "title": if included { "VAT" } else { "State Sales Tax" },
        "rate": if included { 0.2 } else { 0.08 },
        "ratePercentage": if included { 20.0 } else { 8.0 },
        "priceSet": bag(amount, shop, pres),
        "channelLiable": false,
    })
}

fn allocation(
    amount: i64,
    shop: &str,
    pres: Option<(&str, i64)>,
    code: &str,
    target: &str,
) -> Value {
    json!({
        "__typename": "DiscountAllocation",
        "allocatedAmountSet": bag(amount, shop, pres),
        "discountApplication": {
            "__typename": "DiscountCodeApplication",
            "allocationMethod": "ACROSS", "targetType": target, "targetSelection": "ALL",
            "code": code, "index": 0,
        }
    })
}

/// The seeded order `i` (0-based), updated at `updated_at`.
pub fn order(i: usize, updated_at: DateTime<Utc>, financial: &str) -> SimOrder {
    let id = 5_000 + i as u64;
    let shop = "USD";
    let pres = (i % 5 == 2).then_some(("EUR", 920));
    let included = i % 4 == 3;
    let fulfilment = match i % 3 {
        0 => "FULFILLED",
        1 => "UNFULFILLED",
        _ => "PARTIALLY_FULFILLED",
    };
    let lines = [
        LineSpec {
            sku: format!("SKU-A{}", i % 3),
            quantity: 1 + (i % 2) as i64,
            unit: 1999 + 100 * i as i64,
            discount: if i % 2 == 0 { 200 } else { 0 },
        },
        LineSpec {
            sku: "SKU-B".into(),
            quantity: 2,
            unit: 550,
            discount: 0,
        },
    ];
    let mut total = 0;
    let mut line_json = Vec::new();
    for (n, l) in lines.iter().enumerate() {
        let net = l.quantity * l.unit - l.discount;
        let tax = tax_of(net, included);
        total += net + if included { 0 } else { tax };
        let mut allocations = Vec::new();
        if l.discount > 0 {
            allocations.push(allocation(l.discount, shop, pres, "WELCOME", "LINE_ITEM"));
        }
        line_json.push(json!({
            "__typename": "LineItem",
            "id": format!("gid://shopify/LineItem/{}", id * 10 + n as u64),
            "sku": l.sku, "title": format!("Product {}", l.sku), "quantity": l.quantity,
            "currentQuantity": l.quantity,
            "variant": {"__typename": "ProductVariant", "id": format!("gid://shopify/ProductVariant/{}", variant_of(&l.sku))},
            "product": {"__typename": "Product", "id": format!("gid://shopify/Product/{}", 700 + n)},
            "originalUnitPriceSet": bag(l.unit, shop, pres),
            "discountAllocations": allocations,
            "taxLines": [tax_line(tax, included, shop, pres)],
        }));
    }
    let ship = 499;
    let ship_disc = if i % 5 == 0 { 100 } else { 0 };
    let ship_tax = tax_of(ship - ship_disc, included);
    total += ship - ship_disc + if included { 0 } else { ship_tax };
    let mut ship_alloc = Vec::new();
    if ship_disc > 0 {
        ship_alloc.push(allocation(
            ship_disc,
            shop,
            pres,
            "SHIPLESS",
            "SHIPPING_LINE",
        ));
    }
    let created = updated_at - Duration::minutes(30);
    let line_ids: Vec<String> = line_json
        .iter()
        .filter_map(|l| l["id"].as_str().map(str::to_owned))
        .collect();
    let shipped: Vec<(String, i64)> = match fulfilment {
        "FULFILLED" => line_ids
            .iter()
            .cloned()
            .zip(lines.iter().map(|l| l.quantity))
            .collect(),
        "PARTIALLY_FULFILLED" => vec![(line_ids[0].clone(), lines[0].quantity)],
        _ => Vec::new(),
    };
    let fulfillments: Vec<Value> = if shipped.is_empty() {
        Vec::new()
    } else {
        vec![fulfillment_json(
            id * 10,
            &shipped,
            "UPS",
            &format!("1ZSEED{id}"),
            updated_at - Duration::minutes(5),
        )]
    };
    let fo_lines: Vec<Value> = line_ids
        .iter()
        .zip(lines.iter())
        .enumerate()
        .map(|(n, (lid, l))| {
            let done: i64 = shipped
                .iter()
                .filter(|(s, _)| s == lid)
                .map(|(_, q)| *q)
                .sum();
            json!({"__typename": "FulfillmentOrderLineItem",
                "id": format!("gid://shopify/FulfillmentOrderLineItem/{}", id * 10 + n as u64),
                "totalQuantity": l.quantity, "remainingQuantity": l.quantity - done,
                "lineItem": {"__typename": "LineItem", "id": lid}})
        })
        .collect();
    let fo_status = if fulfilment == "FULFILLED" {
        "CLOSED"
    } else if fulfilment == "PARTIALLY_FULFILLED" {
        "IN_PROGRESS"
    } else {
        "OPEN"
    };
    let refunds = match financial {
        "PARTIALLY_REFUNDED" => vec![refund_json(
            id,
            &line_ids[1],
            1,
            550,
            tax_of(550, included),
            0,
            updated_at,
            "RETURN",
        )],
        "REFUNDED" => vec![refund_json(
            id,
            &line_ids[0],
            lines[0].quantity,
            lines[0].quantity * lines[0].unit - lines[0].discount,
            0,
            0,
            updated_at,
            "NO_RESTOCK",
        )],
        _ => Vec::new(),
    };
    let json = json!({
        "__typename": "Order",
        "id": format!("gid://shopify/Order/{id}"),
        "legacyResourceId": id.to_string(),
        "name": format!("#{}", 1000 + i),
        "createdAt": iso(created),
        "updatedAt": iso(updated_at),
        "processedAt": iso(created),
        "cancelledAt": if financial == "VOIDED" { Value::String(iso(updated_at)) } else { Value::Null },
        "cancelReason": if financial == "VOIDED" { json!("CUSTOMER") } else { Value::Null },
        "closed": false,
        "test": false,
        "displayFinancialStatus": financial,
        "displayFulfillmentStatus": fulfilment,
        "currencyCode": shop,
        "presentmentCurrencyCode": pres.map_or(shop, |(c, _)| c),
        "taxesIncluded": included,
        "totalPriceSet": bag(total, shop, pres),
        "paymentGatewayNames": ["shopify_payments"],
        "email": format!("buyer{i}@example.com"),
        "phone": null,
        "shippingAddress": {"__typename": "MailingAddress", "name": format!("Buyer {i}"),
            "address1": format!("{} Main Street", 10 + i), "address2": null, "city": if included { "Berlin" } else { "Louisville" },
            "provinceCode": if included { Value::Null } else { json!("KY") }, "zip": "40202",
            "countryCodeV2": if included { "DE" } else { "US" }, "phone": null},
        "lineItems": {"__typename": "LineItemConnection", "nodes": line_json},
        "shippingLines": {"__typename": "ShippingLineConnection", "nodes": [{
            "__typename": "ShippingLine", "title": "Standard", "code": "STD",
            "originalPriceSet": bag(ship, shop, pres),
            "discountAllocations": ship_alloc,
            "taxLines": [tax_line(ship_tax, included, shop, pres)],
        }]},
        "fulfillments": fulfillments,
        "refunds": refunds,
        "fulfillmentOrders": {"__typename": "FulfillmentOrderConnection", "nodes": [{
            "__typename": "FulfillmentOrder",
            "id": format!("gid://shopify/FulfillmentOrder/{id}"),
            "status": fo_status,
            "assignedLocation": {"location": {"id": LOCATION}},
            "lineItems": {"nodes": fo_lines},
        }]},
    });
    SimOrder {
        id,
        updated_at,
        json,
    }
}

/// A `Fulfillment` object.
pub fn fulfillment_json(
    id: u64,
    lines: &[(String, i64)],
    company: &str,
    number: &str,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "__typename": "Fulfillment",
        "id": format!("gid://shopify/Fulfillment/{id}"),
        "status": "SUCCESS",
        "createdAt": iso(at),
        "trackingInfo": [{"__typename": "FulfillmentTrackingInfo", "company": company, "number": number, "url": null}],
        "fulfillmentLineItems": {"nodes": lines.iter().enumerate().map(|(n, (lid, q))| json!({
            "__typename": "FulfillmentLineItem",
            "id": format!("gid://shopify/FulfillmentLineItem/{}", id * 10 + n as u64),
            "lineItem": {"__typename": "LineItem", "id": lid}, "quantity": q})).collect::<Vec<_>>()},
    })
}

#[allow(clippy::too_many_arguments)]
fn refund_json(
    order: u64,
    line: &str,
    quantity: i64,
    subtotal: i64,
    tax: i64,
    shipping: i64,
    at: DateTime<Utc>,
    restock: &str,
) -> Value {
    let total = subtotal + tax + shipping;
    json!({
        "__typename": "Refund",
        "id": format!("gid://shopify/Refund/{}", order * 10),
        "createdAt": iso(at - Duration::minutes(2)),
        "updatedAt": iso(at - Duration::minutes(1)),
        "note": "customer request",
        "totalRefundedSet": bag(total, "USD", None),
        "refundLineItems": {"nodes": [{
            "__typename": "RefundLineItem",
            "lineItem": {"__typename": "LineItem", "id": line, "sku": "SKU"},
            "quantity": quantity, "restockType": restock,
            "subtotalSet": bag(subtotal, "USD", None), "totalTaxSet": bag(tax, "USD", None)}]},
        "refundShippingLines": {"nodes": if shipping > 0 { vec![json!({"subtotalAmountSet": bag(shipping, "USD", None), "taxAmountSet": bag(0, "USD", None)})] } else { Vec::new() }},
        "transactions": {"nodes": [{"__typename": "OrderTransaction", "kind": "REFUND", "status": "SUCCESS",
            "gateway": "shopify_payments", "amountSet": bag(total, "USD", None)}]},
    })
}

/// `count` orders updated inside `[start, start + count hours)`, one order with a financial
/// status no connector knows (`PAID_IN_GOLD`), and two orders outside the window.
pub fn seed_orders(start: DateTime<Utc>, count: usize) -> Vec<SimOrder> {
    let mut out = Vec::new();
    for i in 0..count {
        let at = start + Duration::minutes(7 + 55 * i as i64);
        out.push(order(i, at, FINANCIAL[i % FINANCIAL.len()]));
    }
    out.push(order(
        count,
        start + Duration::hours(count as i64) - Duration::minutes(3),
        "PAID_IN_GOLD",
    ));
    out.push(order(count + 1, start - Duration::hours(2), "PAID"));
    out.push(order(
        count + 2,
        start + Duration::hours(count as i64 + 1),
        "PAID",
    ));
    out
}

/// A payout and its balance transactions.
#[derive(Clone, Debug)]
pub struct SimPayout {
    /// The `ShopifyPaymentsPayout` object.
    pub json: Value,
    /// REST id.
    pub legacy_id: u64,
    /// `issuedAt`.
    pub issued_at: DateTime<Utc>,
    /// Its `ShopifyPaymentsBalanceTransaction` objects.
    pub transactions: Vec<Value>,
}

/// Two payouts issued inside the window, paying charges of the paid seeded orders (fee 2.9% +
/// 30¢) and one refund.
pub fn seed_payouts(start: DateTime<Utc>, orders: &[SimOrder]) -> Vec<SimPayout> {
    let mut payouts = Vec::new();
    let paid: Vec<&SimOrder> = orders
        .iter()
        .filter(|o| {
            matches!(
                o.json["displayFinancialStatus"].as_str(),
                Some("PAID" | "PARTIALLY_REFUNDED")
            ) && o.updated_at >= start
        })
        .collect();
    for (p, chunk) in paid.chunks(2).take(2).enumerate() {
        let legacy = 9_000 + p as u64;
        let issued = start + Duration::hours(2 + 3 * p as i64);
        let mut txns = Vec::new();
        let mut net_total = 0;
        for (n, o) in chunk.iter().enumerate() {
            let amount: i64 = o.json["totalPriceSet"]["shopMoney"]["amount"]
                .as_str()
                .and_then(|a| a.replace('.', "").parse().ok())
                .unwrap_or(0);
            let fee = (amount * 29 + 500).div_euclid(1000) + 30;
            net_total += amount - fee;
            txns.push(balance_txn(
                legacy * 10 + n as u64,
                "CHARGE",
                amount,
                fee,
                issued - Duration::minutes(30),
                Some(&o.json["id"]),
            ));
        }
        if p == 1 {
            txns.push(balance_txn(
                legacy * 10 + 7,
                "REFUND",
                -550,
                0,
                issued - Duration::minutes(20),
                None,
            ));
            net_total -= 550;
        }
        txns.push(balance_txn(
            legacy * 10 + 9,
            "PAYOUT",
            -net_total,
            0,
            issued,
            None,
        ));
        payouts.push(SimPayout {
            json: json!({
                "__typename": "ShopifyPaymentsPayout",
                "id": format!("gid://shopify/ShopifyPaymentsPayout/{legacy}"),
                "legacyResourceId": legacy.to_string(),
                "issuedAt": iso(issued),
                "status": if p == 0 { "PAID" } else { "SCHEDULED" },
                "transactionType": "DEPOSIT",
                "net": money(net_total, "USD"),
            }),
            legacy_id: legacy,
            issued_at: issued,
            transactions: txns,
        });
    }
    payouts
}

fn balance_txn(
    id: u64,
    kind: &str,
    amount: i64,
    fee: i64,
    at: DateTime<Utc>,
    order: Option<&Value>,
) -> Value {
    json!({
        "__typename": "ShopifyPaymentsBalanceTransaction",
        "id": format!("gid://shopify/ShopifyPaymentsBalanceTransaction/{id}"),
        "type": kind,
        "test": false,
        "amount": money(amount, "USD"),
        "fee": money(fee, "USD"),
        "net": money(amount - fee, "USD"),
        "transactionDate": iso(at),
        "adjustmentReason": null,
        "sourceType": kind,
        "associatedOrder": order.map_or(Value::Null, |id| json!({"__typename": "ShopifyPaymentsAssociatedOrder", "id": id})),
    })
}

/// A payout issued (published) at `issued`, paying the charge of `order` — a sale made, and
/// a balance transaction dated, long before: a payout for a period already walked.
pub fn late_payout(legacy: u64, issued: DateTime<Utc>, order: &SimOrder) -> SimPayout {
    let amount: i64 = order.json["totalPriceSet"]["shopMoney"]["amount"]
        .as_str()
        .and_then(|a| a.replace('.', "").parse().ok())
        .unwrap_or(0);
    let fee = (amount * 29 + 500).div_euclid(1000) + 30;
    let net = amount - fee;
    let txns = vec![
        balance_txn(
            legacy * 10,
            "CHARGE",
            amount,
            fee,
            order.updated_at,
            Some(&order.json["id"]),
        ),
        balance_txn(legacy * 10 + 9, "PAYOUT", -net, 0, issued, None),
    ];
    SimPayout {
        json: json!({
            "__typename": "ShopifyPaymentsPayout",
            "id": format!("gid://shopify/ShopifyPaymentsPayout/{legacy}"),
            "legacyResourceId": legacy.to_string(),
            "issuedAt": iso(issued),
            "status": "PAID",
            "transactionType": "DEPOSIT",
            "net": money(net, "USD"),
        }),
        legacy_id: legacy,
        issued_at: issued,
        transactions: txns,
    }
}
