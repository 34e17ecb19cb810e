//! Normalizer tests on fixtures written from Shopify's documented Admin GraphQL field names
//! and types (`MoneyBag { shopMoney presentmentMoney }`, `Decimal` strings, ISO-8601 times).

use marketsync_core::{Currency, ErrorKind, Money, OrderStatus, ReasonCode, Region, TaxCollector};
use rust_decimal_macros::dec;
use serde_json::{Value, json};

use super::*;

fn bag(shop: &str, presentment: &str, pc: &str) -> Value {
    json!({
        "shopMoney": {"amount": shop, "currencyCode": "USD"},
        "presentmentMoney": {"amount": presentment, "currencyCode": pc}
    })
}

fn usd(a: &str) -> Value {
    bag(a, a, "USD")
}

/// A USD shop, taxes added on top (US sales tax), two lines, a discount code on line 1, a
/// shipping line with an automatic shipping discount. Total 68.12.
fn base_order() -> Value {
    json!({
        "id": "gid://shopify/Order/450789469",
        "name": "#1001",
        "createdAt": "2024-03-18T21:12:59Z",
        "updatedAt": "2024-03-18T21:43:00Z",
        "processedAt": "2024-03-18T21:12:59Z",
        "cancelledAt": null,
        "cancelReason": null,
        "closed": false,
        "test": false,
        "displayFinancialStatus": "PAID",
        "displayFulfillmentStatus": "UNFULFILLED",
        "currencyCode": "USD",
        "presentmentCurrencyCode": "USD",
        "taxesIncluded": false,
        "totalPriceSet": usd("68.12"),
        "paymentGatewayNames": ["shopify_payments"],
        "email": "bob.norman@example.com",
        "phone": null,
        "shippingAddress": {
            "name": "Bob Norman", "address1": "Chestnut Street 92", "address2": "",
            "city": "Louisville", "provinceCode": "KY", "zip": "40202",
            "countryCodeV2": "US", "phone": "+1 555-555-5555"
        },
        "lineItems": {"nodes": [
            {
                "id": "gid://shopify/LineItem/466157049",
                "sku": "TSHIRT-RED", "title": "T-shirt", "quantity": 2,
                "variant": {"id": "gid://shopify/ProductVariant/39072856"},
                "product": {"id": "gid://shopify/Product/632910392"},
                "originalUnitPriceSet": usd("25.00"),
                "discountAllocations": [{
                    "allocatedAmountSet": usd("5.00"),
                    "discountApplication": {"__typename": "DiscountCodeApplication",
                        "allocationMethod": "ACROSS", "targetType": "LINE_ITEM", "code": "SPRING10"}
                }],
                "taxLines": [{"title": "NY State Tax", "rate": 0.04, "priceSet": usd("1.80"), "channelLiable": false}]
            },
            {
                "id": "gid://shopify/LineItem/518995019",
                "sku": "MUG", "title": "Mug", "quantity": 1,
                "variant": {"id": "gid://shopify/ProductVariant/49148385"},
                "product": null,
                "originalUnitPriceSet": usd("12.50"),
                "discountAllocations": [],
                "taxLines": [{"title": "NY State Tax", "rate": 0.04, "priceSet": usd("0.50"), "channelLiable": false}]
            }
        ], "pageInfo": {"hasNextPage": false, "endCursor": null}},
        "shippingLines": {"nodes": [{
            "title": "Standard",
            "originalPriceSet": usd("10.00"),
            "discountAllocations": [{
                "allocatedAmountSet": usd("2.00"),
                "discountApplication": {"__typename": "AutomaticDiscountApplication",
                    "allocationMethod": "ACROSS", "targetType": "SHIPPING_LINE", "title": "Cheaper shipping"}
            }],
            "taxLines": [{"title": "NY State Tax", "rate": 0.04, "priceSet": usd("0.32"), "channelLiable": false}]
        }]},
        "fulfillments": []
    })
}

fn ctx() -> NormalizeContext {
    NormalizeContext::new(
        ShopId::new("demo.myshopify.com"),
        TimeZoneId::new("America/New_York").unwrap(),
    )
}

fn run(v: &Value) -> Result<marketsync_core::Order> {
    let raw = RawRecord::json(serde_json::to_vec(v).unwrap(), Some("orders"));
    let w: wire::Order = serde_json::from_value(v.clone()).unwrap();
    order(&w, &ctx(), &raw)
}

fn with_status(fin: Option<&str>, ful: &str) -> Value {
    let mut v = base_order();
    v["displayFinancialStatus"] = fin.map_or(Value::Null, |f| json!(f));
    v["displayFulfillmentStatus"] = json!(ful);
    v
}

fn fulfillment(id: u32, status: &str, lines: &[(&str, i64)]) -> Value {
    json!({
        "id": format!("gid://shopify/Fulfillment/{id}"),
        "status": status,
        "createdAt": "2024-03-18T21:40:00Z",
        "trackingInfo": [{"company": "UPS", "number": format!("1Z{id}")}],
        "fulfillmentLineItems": {"nodes": lines.iter().map(|(l, q)| json!({"lineItem": {"id": l}, "quantity": q})).collect::<Vec<_>>()}
    })
}

const LINE1: &str = "gid://shopify/LineItem/466157049";
const LINE2: &str = "gid://shopify/LineItem/518995019";

#[test]
fn base_order_normalizes_with_money_from_shop_money() {
    let o = run(&base_order()).unwrap();
    assert_eq!(o.status, OrderStatus::AwaitingFulfilment);
    assert_eq!(o.raw_status, "PAID/UNFULFILLED");
    assert_eq!(o.currency, Currency::USD);
    assert!(o.presentment.is_none());
    assert_eq!(o.lines.len(), 2);
    assert_eq!(o.lines[0].sku.as_str(), "TSHIRT-RED");
    assert_eq!(
        o.lines[0].unit_price,
        Money::new(dec!(25.00), Currency::USD)
    );
    let t = o.totals().unwrap();
    assert_eq!(t.goods.amount, dec!(62.50));
    assert_eq!(t.seller_discounts.amount, dec!(7.00));
    assert_eq!(t.platform_discounts.amount, dec!(0));
    assert_eq!(t.shipping.amount, dec!(10.00));
    assert_eq!(t.tax_exclusive.amount, dec!(2.62));
    assert_eq!(t.buyer_total.amount, dec!(68.12));
    assert_eq!(o.payments.len(), 1);
    assert_eq!(o.payments[0].amount.amount, dec!(68.12));
    assert_eq!(o.payments[0].method.as_deref(), Some("shopify_payments"));
    assert_eq!(o.source_time_zone.as_str(), "America/New_York");
    assert_eq!(o.placed_at.to_rfc3339(), "2024-03-18T21:12:59+00:00");
    assert_eq!(
        o.revision,
        marketsync_core::Revision::UpdatedAt(o.updated_at)
    );
    o.validate().unwrap();
}

#[test]
fn discounts_are_seller_funded_with_codes_and_titles() {
    let o = run(&base_order()).unwrap();
    let d = &o.lines[0].discounts[0];
    assert_eq!(d.funder, DiscountFunder::Seller);
    assert_eq!(d.amount.amount, dec!(5.00));
    assert_eq!(d.code.as_deref(), Some("SPRING10"));
    let s = &o.shipping[0];
    assert_eq!(s.method.as_deref(), Some("Standard"));
    assert_eq!(
        s.discounts[0].description.as_deref(),
        Some("Cheaper shipping")
    );
    assert_eq!(s.discounts[0].funder, DiscountFunder::Seller);
    assert!(
        o.discounts.is_empty(),
        "order-level discounts arrive allocated to lines"
    );
}

#[test]
fn tax_lines_exclusive_and_included() {
    let o = run(&base_order()).unwrap();
    let t = &o.lines[0].taxes[0];
    assert_eq!(t.kind, TaxKind::SalesTax);
    assert_eq!(t.rate, Some(dec!(0.04)));
    assert!(!t.included_in_price);
    assert_eq!(t.collected_by, TaxCollector::Seller);
    assert_eq!(t.jurisdiction.as_deref(), Some("KY"));

    // An EU shop with VAT included in prices: the total is goods − discounts + shipping.
    let mut v = base_order();
    v["taxesIncluded"] = json!(true);
    v["totalPriceSet"] = usd("65.50");
    for (path, amount) in [(0, "8.33"), (1, "2.08")] {
        v["lineItems"]["nodes"][path]["taxLines"] =
            json!([{"title": "VAT", "rate": 0.2, "priceSet": usd(amount), "channelLiable": false}]);
    }
    v["shippingLines"]["nodes"][0]["taxLines"] =
        json!([{"title": "VAT", "rate": 0.2, "priceSet": usd("1.33"), "channelLiable": false}]);
    let o = run(&v).unwrap();
    let t = o.totals().unwrap();
    assert_eq!(t.tax_inclusive.amount, dec!(11.74));
    assert_eq!(t.tax_exclusive.amount, dec!(0));
    assert_eq!(t.buyer_total.amount, dec!(65.50));
    assert_eq!(o.lines[0].taxes[0].kind, TaxKind::Vat);
    assert!(o.lines[0].taxes[0].included_in_price);
    // Destination-based: VAT's jurisdiction is the ship-to country (sales tax: the state).
    v["shippingAddress"]["countryCodeV2"] = json!("DE");
    let o = run(&v).unwrap();
    assert_eq!(o.lines[0].taxes[0].jurisdiction.as_deref(), Some("DE"));
    assert_eq!(o.shipping[0].taxes[0].jurisdiction.as_deref(), Some("DE"));

    // A tax a marketplace channel remits.
    let mut v = base_order();
    v["lineItems"]["nodes"][1]["taxLines"][0]["channelLiable"] = json!(true);
    let o = run(&v).unwrap();
    assert_eq!(o.lines[1].taxes[0].collected_by, TaxCollector::Marketplace);
    assert_eq!(
        o.totals().unwrap().tax_marketplace_collected.amount,
        dec!(0.50)
    );
}

#[test]
fn every_financial_status_maps() {
    let cases = [
        ("PENDING", OrderStatus::PendingPayment, false),
        ("AUTHORIZED", OrderStatus::PendingPayment, false),
        ("PARTIALLY_PAID", OrderStatus::AwaitingFulfilment, false),
        ("PAID", OrderStatus::AwaitingFulfilment, true),
        ("PARTIALLY_REFUNDED", OrderStatus::AwaitingFulfilment, true),
        ("REFUNDED", OrderStatus::Refunded, true),
        ("VOIDED", OrderStatus::Cancelled, false),
        ("EXPIRED", OrderStatus::PendingPayment, false),
    ];
    for (fin, want, paid) in cases {
        let o = run(&with_status(Some(fin), "UNFULFILLED")).unwrap();
        assert_eq!(o.status, want, "{fin}");
        assert_eq!(o.raw_status, format!("{fin}/UNFULFILLED"));
        assert_eq!(!o.payments.is_empty(), paid, "{fin}: payments");
        assert_eq!(o.paid_at.is_some(), paid, "{fin}: paid_at");
    }
    let o = run(&with_status(None, "UNFULFILLED")).unwrap();
    assert_eq!(o.status, OrderStatus::PendingPayment);
    assert_eq!(o.raw_status, "NONE/UNFULFILLED");
}

#[test]
fn fulfilment_status_combinations() {
    use OrderStatus::*;
    let unshipped = [
        "UNFULFILLED",
        "OPEN",
        "RESTOCKED",
        "SCHEDULED",
        "ON_HOLD",
        "IN_PROGRESS",
        "PENDING_FULFILLMENT",
        "REQUEST_DECLINED",
    ];
    for ful in unshipped {
        assert_eq!(
            run(&with_status(Some("PAID"), ful)).unwrap().status,
            AwaitingFulfilment,
            "{ful}"
        );
        assert_eq!(
            run(&with_status(Some("PENDING"), ful)).unwrap().status,
            PendingPayment,
            "{ful}"
        );
    }
    let table = [
        ("PAID", "PARTIALLY_FULFILLED", PartiallyShipped),
        ("PAID", "FULFILLED", Shipped),
        ("AUTHORIZED", "FULFILLED", Shipped),
        ("PARTIALLY_REFUNDED", "FULFILLED", Shipped),
        ("PAID", "FULFILLMENT_NOT_REQUIRED", Completed),
        ("PENDING", "FULFILLMENT_NOT_REQUIRED", PendingPayment),
        ("REFUNDED", "FULFILLED", Refunded),
        ("VOIDED", "UNFULFILLED", Cancelled),
    ];
    for (fin, ful, want) in table {
        assert_eq!(
            run(&with_status(Some(fin), ful)).unwrap().status,
            want,
            "{fin}/{ful}"
        );
    }
    // Closed (archived) and fully shipped and paid: completed.
    let mut v = with_status(Some("PAID"), "FULFILLED");
    v["closed"] = json!(true);
    assert_eq!(run(&v).unwrap().status, Completed);
    // Cancelled: cancelled unless fully refunded.
    let mut v = with_status(Some("PAID"), "UNFULFILLED");
    v["cancelledAt"] = json!("2024-03-18T21:40:00Z");
    v["cancelReason"] = json!("CUSTOMER");
    let o = run(&v).unwrap();
    assert_eq!(o.status, Cancelled);
    assert_eq!(o.raw_status, "PAID/UNFULFILLED/CANCELLED");
    assert_eq!(o.extensions["cancel_reason"], json!("CUSTOMER"));
    let mut v = with_status(Some("REFUNDED"), "UNFULFILLED");
    v["cancelledAt"] = json!("2024-03-18T21:40:00Z");
    assert_eq!(run(&v).unwrap().status, Refunded);
}

#[test]
fn split_fulfilments_add_up_per_line() {
    let mut v = with_status(Some("PAID"), "PARTIALLY_FULFILLED");
    v["fulfillments"] = json!([
        fulfillment(1, "SUCCESS", &[(LINE1, 1)]),
        fulfillment(2, "CANCELLED", &[(LINE2, 1)]),
    ]);
    let o = run(&v).unwrap();
    assert_eq!(o.status, OrderStatus::PartiallyShipped);
    assert_eq!(o.lines[0].quantity_shipped, 1);
    assert_eq!(
        o.lines[1].quantity_shipped, 0,
        "a cancelled fulfilment ships nothing"
    );

    v["displayFulfillmentStatus"] = json!("FULFILLED");
    v["fulfillments"] = json!([
        fulfillment(1, "SUCCESS", &[(LINE1, 1)]),
        fulfillment(3, "SUCCESS", &[(LINE1, 1), (LINE2, 1)]),
    ]);
    let o = run(&v).unwrap();
    assert_eq!(o.status, OrderStatus::Shipped);
    assert_eq!(o.lines[0].quantity_shipped, 2);
    assert_eq!(o.lines[1].quantity_shipped, 1);

    // An unknown fulfilment status is decided by the shipped units, raw value kept.
    v["displayFulfillmentStatus"] = json!("PARTIALLY_TELEPORTED");
    v["fulfillments"] = json!([fulfillment(1, "SUCCESS", &[(LINE1, 2)])]);
    let o = run(&v).unwrap();
    assert_eq!(o.status, OrderStatus::PartiallyShipped);
    assert_eq!(o.raw_status, "PAID/PARTIALLY_TELEPORTED");

    // Shipping more than ordered is a malformed payload, not a silent clamp.
    v["fulfillments"] = json!([fulfillment(1, "SUCCESS", &[(LINE2, 3)])]);
    assert_eq!(run(&v).unwrap_err().kind(), &ErrorKind::Validation);
}

#[test]
fn multi_currency_amounts_come_from_shop_money() {
    // A USD shop selling to a buyer who paid in EUR.
    let mut v = base_order();
    v["presentmentCurrencyCode"] = json!("EUR");
    v["totalPriceSet"] = bag("68.12", "62.67", "EUR");
    v["lineItems"]["nodes"][0]["originalUnitPriceSet"] = bag("25.00", "23.00", "EUR");
    v["lineItems"]["nodes"][0]["discountAllocations"][0]["allocatedAmountSet"] =
        bag("5.00", "4.60", "EUR");
    v["lineItems"]["nodes"][1]["originalUnitPriceSet"] = bag("12.50", "11.50", "EUR");
    v["shippingLines"]["nodes"][0]["originalPriceSet"] = bag("10.00", "9.20", "EUR");
    let o = run(&v).unwrap();
    assert_eq!(o.currency, Currency::USD);
    assert_eq!(
        o.lines[0].unit_price,
        Money::new(dec!(25.00), Currency::USD)
    );
    assert_eq!(o.totals().unwrap().buyer_total.amount, dec!(68.12));
    let p = o.presentment.unwrap();
    assert_eq!(p.currency, Currency::EUR);
    assert_eq!(p.total, Money::new(dec!(62.67), Currency::EUR));

    // shopMoney in a currency other than the shop's is refused.
    let mut bad = v.clone();
    bad["lineItems"]["nodes"][1]["originalUnitPriceSet"]["shopMoney"]["currencyCode"] =
        json!("EUR");
    assert_eq!(
        run(&bad).unwrap_err().reason(),
        ReasonCode::MalformedPayload
    );
}

#[test]
fn pii_is_wrapped_with_region_and_never_printed() {
    let o = run(&base_order()).unwrap();
    let buyer = o.buyer.as_ref().unwrap();
    assert_eq!(buyer.region, Region::Us);
    assert_eq!(
        buyer.expose().unwrap().email.as_deref(),
        Some("bob.norman@example.com")
    );
    let ship = o.ship_to.as_ref().unwrap();
    assert_eq!(
        ship.expose().unwrap().lines,
        vec!["Chestnut Street 92".to_string()]
    );
    let dbg = format!("{o:?}");
    assert!(
        !dbg.contains("bob.norman") && !dbg.contains("Chestnut"),
        "{dbg}"
    );

    let mut v = base_order();
    v["shippingAddress"]["countryCodeV2"] = json!("DE");
    assert_eq!(run(&v).unwrap().buyer.unwrap().region, Region::Eu);
    let mut c = ctx();
    c.pii_region = Some(Region::Cn);
    let raw = RawRecord::json(b"{}".to_vec(), None);
    let w: wire::Order = serde_json::from_value(base_order()).unwrap();
    assert_eq!(
        order(&w, &c, &raw).unwrap().buyer.unwrap().region,
        Region::Cn
    );
}

#[test]
fn unknown_financial_status_is_unknown_status_mapping() {
    let err = run(&with_status(Some("PAID_IN_GOLD"), "UNFULFILLED")).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Mapping);
    assert_eq!(err.reason(), ReasonCode::UnknownStatus);
}

#[test]
fn malformed_money_and_totals_fail_validation() {
    let mut v = base_order();
    v["lineItems"]["nodes"][0]["originalUnitPriceSet"]["shopMoney"]["amount"] = json!("25.0O");
    let err = run(&v).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Validation);
    assert_eq!(err.reason(), ReasonCode::MalformedPayload);
    assert_eq!(err.context_value("field"), Some("originalUnitPriceSet"));

    let mut v = base_order();
    v["totalPriceSet"] = usd("68.13");
    let err = run(&v).unwrap_err();
    assert!(err.message().contains("68.12"), "{err}");

    let mut v = base_order();
    v["updatedAt"] = json!("18/03/2024 21:43");
    assert_eq!(
        run(&v).unwrap_err().context_value("field"),
        Some("updatedAt")
    );

    let mut v = base_order();
    v["lineItems"]["pageInfo"]["hasNextPage"] = json!(true);
    assert!(run(&v).is_err(), "a truncated order must not be booked");
}

#[test]
fn times_with_offsets_become_utc() {
    let mut v = base_order();
    v["createdAt"] = json!("2024-03-18T17:12:59-04:00");
    v["processedAt"] = json!("2024-03-18T17:12:59-04:00");
    let o = run(&v).unwrap();
    assert_eq!(o.placed_at.to_rfc3339(), "2024-03-18T21:12:59+00:00");
}

fn refund_fixture() -> Value {
    json!({
        "id": "gid://shopify/Order/450789469",
        "currencyCode": "USD",
        "taxesIncluded": false,
        "refunds": [{
            "id": "gid://shopify/Refund/509562969",
            "createdAt": "2024-03-20T10:00:00Z",
            "updatedAt": "2024-03-20T10:05:00Z",
            "note": "wrong size",
            "totalRefundedSet": usd("31.04"),
            "refundLineItems": {"nodes": [
                {"lineItem": {"id": LINE1, "sku": "TSHIRT-RED"}, "quantity": 1, "restockType": "RETURN",
                 "subtotalSet": usd("22.50"), "totalTaxSet": usd("0.90")},
                {"lineItem": {"id": LINE2, "sku": "MUG"}, "quantity": 0, "restockType": "NO_RESTOCK",
                 "subtotalSet": usd("0.00"), "totalTaxSet": usd("0.00")}
            ]},
            "refundShippingLines": {"nodes": [{"subtotalAmountSet": usd("7.35"), "taxAmountSet": usd("0.29")}]},
            "transactions": {"nodes": [
                {"kind": "REFUND", "status": "SUCCESS", "gateway": "shopify_payments", "amountSet": usd("31.04")}
            ]}
        }]
    })
}

fn run_refund(v: &Value) -> Result<marketsync_core::Refund> {
    let w: wire::OrderRefunds = serde_json::from_value(v.clone()).unwrap();
    let raw = RawRecord::json(b"{}".to_vec(), None);
    refund(&w.refunds[0], &w, &ctx(), &raw)
}

#[test]
fn partial_refund_with_restock_types() {
    let r = run_refund(&refund_fixture()).unwrap();
    assert_eq!(r.status, RefundStatus::Completed);
    assert_eq!(r.raw_status, "SUCCESS");
    assert_eq!(r.order_id.as_str(), "gid://shopify/Order/450789469");
    assert_eq!(r.total.amount, dec!(31.04));
    assert_eq!(r.lines.len(), 2);
    assert!(r.lines[0].restock);
    assert!(!r.lines[1].restock);
    assert_eq!(r.lines[0].amount.amount, dec!(22.50));
    assert_eq!(r.lines[0].taxes[0].amount.amount, dec!(0.90));
    assert!(r.lines[1].taxes.is_empty());
    assert_eq!(r.shipping.unwrap().amount, dec!(7.64));
    assert!(r.is_consistent(), "lines + line taxes + shipping = total");
    assert_eq!(r.reason.text.as_deref(), Some("wrong size"));
    let ret = r.goods_return.unwrap();
    assert_eq!(ret.lines.len(), 1);
    assert_eq!(ret.lines[0].quantity, 1);

    let mut v = refund_fixture();
    v["refunds"][0]["transactions"]["nodes"][0]["status"] = json!("PENDING");
    assert_eq!(run_refund(&v).unwrap().status, RefundStatus::Approved);
    v["refunds"][0]["transactions"]["nodes"][0]["status"] = json!("FAILURE");
    assert_eq!(run_refund(&v).unwrap().status, RefundStatus::Rejected);
    v["refunds"][0]["transactions"]["nodes"] = json!([]);
    v["refunds"][0]["refundLineItems"]["nodes"][0]["restockType"] = json!("CANCEL");
    let r = run_refund(&v).unwrap();
    assert_eq!(r.status, RefundStatus::Completed);
    assert!(r.lines[0].restock && r.goods_return.is_none());
}

fn payout_fixture() -> (Value, Value) {
    let payout = json!({
        "id": "gid://shopify/ShopifyPaymentsPayout/623721858",
        "legacyResourceId": "623721858",
        "issuedAt": "2024-03-22T00:00:00Z",
        "status": "PAID",
        "transactionType": "DEPOSIT",
        "net": {"amount": "57.12", "currencyCode": "USD"}
    });
    let m = |a: &str| json!({"amount": a, "currencyCode": "USD"});
    let txns = json!([
        {"id": "gid://shopify/ShopifyPaymentsBalanceTransaction/1", "type": "CHARGE", "test": false,
         "amount": m("68.12"), "fee": m("2.28"), "net": m("65.84"),
         "transactionDate": "2024-03-18T21:13:00Z", "adjustmentReason": null,
         "associatedOrder": {"id": "gid://shopify/Order/450789469"}},
        {"id": "gid://shopify/ShopifyPaymentsBalanceTransaction/2", "type": "REFUND", "test": false,
         "amount": m("-8.72"), "fee": m("0.00"), "net": m("-8.72"),
         "transactionDate": "2024-03-20T10:05:00Z", "adjustmentReason": null,
         "associatedOrder": {"id": "gid://shopify/Order/450789469"}},
        {"id": "gid://shopify/ShopifyPaymentsBalanceTransaction/3", "type": "SHOP_CASH_CREDIT", "test": false,
         "amount": m("0.00"), "fee": m("0.00"), "net": m("0.00"),
         "transactionDate": "2024-03-21T00:00:00Z", "adjustmentReason": null, "associatedOrder": null},
        {"id": "gid://shopify/ShopifyPaymentsBalanceTransaction/4", "type": "CHARGE", "test": true,
         "amount": m("1.00"), "fee": m("0.00"), "net": m("1.00"),
         "transactionDate": "2024-03-21T00:00:00Z", "adjustmentReason": null, "associatedOrder": null},
        {"id": "gid://shopify/ShopifyPaymentsBalanceTransaction/5", "type": "PAYOUT", "test": false,
         "amount": m("-57.12"), "fee": m("0.00"), "net": m("-57.12"),
         "transactionDate": "2024-03-22T00:00:00Z", "adjustmentReason": null, "associatedOrder": null}
    ]);
    (payout, txns)
}

#[test]
fn payout_becomes_settlement_with_typed_lines() {
    let (p, t) = payout_fixture();
    let p: wire::Payout = serde_json::from_value(p).unwrap();
    let t: Vec<wire::BalanceTransaction> = serde_json::from_value(t).unwrap();
    let raw = RawRecord::json(b"{}".to_vec(), None);
    let s = settlement(&p, &t, &ctx(), &raw).unwrap();
    assert_eq!(s.currency, Currency::USD);
    let kinds: Vec<&SettlementLineKind> = s.lines.iter().map(|l| &l.kind).collect();
    assert_eq!(
        kinds,
        vec![
            &SettlementLineKind::Sale,
            &SettlementLineKind::Fee {
                code: "shopify_payments_fee".into()
            },
            &SettlementLineKind::Refund,
            &SettlementLineKind::Unknown {
                code: "SHOP_CASH_CREDIT".into()
            },
            &SettlementLineKind::Payout,
        ]
    );
    assert_eq!(s.lines[1].amount.amount, dec!(-2.28));
    // Net of the period equals the payout: 68.12 − 2.28 − 8.72 = 57.12.
    assert_eq!(s.net().unwrap().amount, dec!(57.12));
    assert_eq!(s.payout.as_ref().unwrap().amount.amount, dec!(57.12));
    assert_eq!(s.period_start.to_rfc3339(), "2024-03-18T21:13:00+00:00");
    assert_eq!(s.revision, marketsync_core::Revision::Version(3));
    assert_eq!(
        s.lines_for(&OrderId::new("gid://shopify/Order/450789469"))
            .count(),
        3
    );

    // net ≠ amount − fee is refused.
    let mut bad = t.clone();
    bad[0].net.amount = "65.85".into();
    assert!(settlement(&p, &bad, &ctx(), &raw).is_err());
    // A scheduled payout is a lower revision than a paid one.
    let mut sched = p.clone();
    sched.status = wire::PayoutStatus::Scheduled;
    assert_eq!(
        settlement(&sched, &t, &ctx(), &raw).unwrap().revision,
        marketsync_core::Revision::Version(1)
    );
}

fn run_payout(p: &Value, t: &Value) -> Result<marketsync_core::Settlement> {
    let p: wire::Payout = serde_json::from_value(p.clone()).unwrap();
    let t: Vec<wire::BalanceTransaction> = serde_json::from_value(t.clone()).unwrap();
    let raw = RawRecord::json(b"{}".to_vec(), None);
    settlement(&p, &t, &ctx(), &raw)
}

/// Issue #9: each payload that used to normalize although wrong is now refused with a reason.
#[test]
fn wrong_but_once_accepted_payloads_are_refused_with_a_reason() {
    let reason = |v: &Value| run(v).unwrap_err().reason();

    // A quantity-0 line.
    let mut v = base_order();
    v["lineItems"]["nodes"][1]["quantity"] = json!(0);
    assert_eq!(reason(&v), ReasonCode::InvalidQuantity);
    // A quantity beyond the sane bound.
    v["lineItems"]["nodes"][1]["quantity"] = json!(4_294_967_295_u64);
    assert_eq!(reason(&v), ReasonCode::InvalidQuantity);

    // A discount larger than its line (2 × 25.00 = 50.00, discount 60.00).
    let mut v = base_order();
    v["lineItems"]["nodes"][0]["discountAllocations"][0]["allocatedAmountSet"] = usd("60.00");
    assert_eq!(reason(&v), ReasonCode::AmountOutOfRange);

    // 10.005 USD: below the cent.
    let mut v = base_order();
    v["totalPriceSet"] = usd("68.125");
    assert_eq!(reason(&v), ReasonCode::MoneyInvalid);
    let mut v = base_order();
    v["lineItems"]["nodes"][1]["originalUnitPriceSet"] = usd("12.505");
    assert_eq!(reason(&v), ReasonCode::MoneyInvalid);

    // JPY with decimals: the same order in a JPY shop, where "1.80" yen of tax cannot exist.
    let v: Value = serde_json::from_str(&base_order().to_string().replace("USD", "JPY")).unwrap();
    assert_eq!(reason(&v), ReasonCode::MoneyInvalid);
    let e = run(&v).unwrap_err();
    assert!(e.message().contains("JPY"), "{e}");

    // More than 28 significant digits: refused, never rounded.
    let mut v = base_order();
    v["totalPriceSet"] = usd("1234567890123456789012345678.91");
    assert_eq!(reason(&v), ReasonCode::MoneyInvalid);

    // A tax rate of 2^64 − 1 (used to normalize, then panic in mapping).
    let mut v = base_order();
    v["lineItems"]["nodes"][0]["taxLines"][0]["rate"] = json!(u64::MAX);
    assert_eq!(reason(&v), ReasonCode::RateOutOfRange);
    v["lineItems"]["nodes"][0]["taxLines"][0]["rate"] = json!(-0.04);
    assert_eq!(reason(&v), ReasonCode::RateOutOfRange);
    v["lineItems"]["nodes"][0]["taxLines"][0]["rate"] = json!(1e30);
    assert_eq!(reason(&v), ReasonCode::RateOutOfRange);

    // Updated before created (and before processed).
    let mut v = base_order();
    v["updatedAt"] = json!("2024-03-18T20:00:00Z");
    assert_eq!(reason(&v), ReasonCode::InvalidTime);

    // A negative refund total.
    let mut v = refund_fixture();
    v["refunds"][0]["totalRefundedSet"] = usd("-31.04");
    assert_eq!(
        run_refund(&v).unwrap_err().reason(),
        ReasonCode::AmountOutOfRange
    );
    // A refund updated before it was created.
    let mut v = refund_fixture();
    v["refunds"][0]["updatedAt"] = json!("2024-03-19T10:05:00Z");
    assert_eq!(
        run_refund(&v).unwrap_err().reason(),
        ReasonCode::InvalidTime
    );
    // A refund line with 10.005 USD.
    let mut v = refund_fixture();
    v["refunds"][0]["refundLineItems"]["nodes"][0]["subtotalSet"] = usd("22.505");
    assert_eq!(
        run_refund(&v).unwrap_err().reason(),
        ReasonCode::MoneyInvalid
    );

    // A negative DEPOSIT payout.
    let (mut p, t) = payout_fixture();
    assert!(run_payout(&p, &t).is_ok());
    p["net"] = json!({"amount": "-57.12", "currencyCode": "USD"});
    assert_eq!(
        run_payout(&p, &t).unwrap_err().reason(),
        ReasonCode::AmountOutOfRange
    );
    // A balance transaction with a sub-cent amount.
    let (p, mut t) = payout_fixture();
    t[0]["fee"] = json!({"amount": "2.285", "currencyCode": "USD"});
    assert_eq!(
        run_payout(&p, &t).unwrap_err().reason(),
        ReasonCode::MoneyInvalid
    );
}
