//! Normalizer tests on fixtures shaped like TOP's documented payloads (field names and types
//! from the Trade / Order / Refund / Bill models; values invented).

use marketsync_core::{
    Channel, DiscountFunder, ErrorKind, OrderStatus, PiiState, RawRecord, ReasonCode, RefundStatus,
    SettlementLineKind, ShopId,
};
use rust_decimal_macros::dec;
use serde_json::{Value, json};

use super::*;
use crate::wire::{self, Trade};

fn ctx() -> Context {
    Context {
        channel: Channel::Tmall,
        shop: ShopId::new("demo-flagship"),
    }
}

/// A one-line trade: 2 × 99.00, sub-order discount 10.00, shop promotion 8.00 allocated
/// (divide_order_fee 180.00), postage 6.00 → payment 186.00.
fn base_trade() -> Value {
    serde_json::from_str(
        r#"{
        "tid": 2865412345678901234, "tid_str": "2865412345678901234",
        "status": "WAIT_SELLER_SEND_GOODS", "type": "fixed",
        "created": "2024-03-18 17:12:59", "modified": "2024-03-18 17:13:05",
        "pay_time": "2024-03-18 17:13:01",
        "payment": "186.00", "total_fee": "198.00", "post_fee": "6.00",
        "discount_fee": "18.00", "adjust_fee": "0.00", "received_payment": "0.00",
        "alipay_no": "2024031822001100001234567890", "buyer_open_uid": "AAHkXyz-open-uid",
        "seller_nick": "某某旗舰店", "shipping_type": "express",
        "receiver_name": "~AgAAAAB4Ciph~enc-name~1~", "receiver_mobile": "$138****5678$enc$1$",
        "receiver_address": "~AgAAAABaddr~enc~1~", "receiver_state": "广东省",
        "receiver_city": "潮州市", "receiver_district": "潮安区", "receiver_zip": "521000",
        "oaid": "1CDrHNhYyYMRdqhNr0cgdLJqMBn9JNZ6RdKicEgsSTRIBaVaz3I4WAfoDicjnJx7XDC3hwtP",
        "promotion_details": {"promotion_detail": [
            {"id": 2865412345678901234, "promotion_name": "店铺满200减8",
             "discount_fee": "8.00", "promotion_id": "mjs-123024_211143"}
        ]},
        "orders": {"order": [{
            "oid": 2865412345678901235, "oid_str": "2865412345678901235",
            "num_iid": 612345678901, "sku_id": "4712345678901", "outer_sku_id": "M880",
            "outer_iid": "M88", "title": "保温杯 500ml", "num": 2, "price": "99.00",
            "payment": "188.00", "total_fee": "188.00", "discount_fee": "10.00",
            "adjust_fee": "0.00", "divide_order_fee": "180.00", "part_mjz_discount": "8.00",
            "status": "WAIT_SELLER_SEND_GOODS", "refund_status": "NO_REFUND"
        }]}
    }"#,
    )
    .unwrap()
}

fn run(v: &Value) -> marketsync_core::Result<marketsync_core::Order> {
    let raw = RawRecord::from_value(v, Some("taobao.trade.fullinfo.get"));
    let t: Trade = serde_json::from_value(v.clone()).expect("fixture parses");
    trade_to_order(&t, &ctx(), &raw)
}

#[test]
fn base_trade_normalizes_with_funders_and_gmt8() {
    let o = run(&base_trade()).unwrap();
    assert_eq!(o.id.as_str(), "2865412345678901234");
    assert_eq!(o.status, OrderStatus::AwaitingFulfilment);
    // 17:12:59 in Beijing is 09:12:59 UTC.
    assert_eq!(o.placed_at.to_rfc3339(), "2024-03-18T09:12:59+00:00");
    assert_eq!(o.source_time_zone.as_str(), "Asia/Shanghai");
    let totals = o.totals().unwrap();
    assert_eq!(totals.goods.amount, dec!(198.00));
    assert_eq!(totals.seller_discounts.amount, dec!(18.00));
    assert_eq!(totals.platform_discounts.amount, dec!(0));
    assert_eq!(totals.shipping.amount, dec!(6.00));
    assert_eq!(totals.buyer_total.amount, dec!(186.00));
    assert_eq!(o.payments.len(), 1);
    assert_eq!(o.payments[0].amount.amount, dec!(186.00));
    assert_eq!(o.discounts[0].code.as_deref(), Some("shop_promotion"));
    assert_eq!(o.discounts[0].description.as_deref(), Some("店铺满200减8"));
    assert_eq!(o.lines[0].sku.as_str(), "M880");
    assert_eq!(o.lines[0].quantity_shipped, 0);
    // Receiver: sealed OAID, region Cn; the clear region fields kept apart.
    let ship_to = o.ship_to.as_ref().unwrap();
    assert_eq!(ship_to.region, marketsync_core::Region::Cn);
    assert!(matches!(&ship_to.state, PiiState::Sealed { scheme, .. } if scheme == "taobao_oaid"));
    assert_eq!(o.extensions["receiver_region"]["city"], "潮州市");
    let dbg = format!("{o:?}");
    assert!(
        !dbg.contains("enc-name") && !dbg.contains("1CDrHNhY"),
        "{dbg}"
    );
}

#[test]
fn encrypted_receiver_without_oaid_stays_sealed() {
    let mut v = base_trade();
    v.as_object_mut().unwrap().remove("oaid");
    let o = run(&v).unwrap();
    match &o.ship_to.as_ref().unwrap().state {
        PiiState::Sealed { scheme, reference } => {
            assert_eq!(scheme, "taobao_encrypted_receiver");
            assert!(reference.contains("~AgAAAAB4Ciph~enc-name~1~"));
        }
        other => panic!(
            "expected sealed, got {}",
            matches!(other, PiiState::Clear(_))
        ),
    }
}

#[test]
fn every_documented_trade_status_maps() {
    let expected = [
        ("TRADE_NO_CREATE_PAY", OrderStatus::PendingPayment),
        ("WAIT_BUYER_PAY", OrderStatus::PendingPayment),
        ("SELLER_CONSIGNED_PART", OrderStatus::PartiallyShipped),
        ("WAIT_SELLER_SEND_GOODS", OrderStatus::AwaitingFulfilment),
        ("WAIT_BUYER_CONFIRM_GOODS", OrderStatus::Shipped),
        ("TRADE_BUYER_SIGNED", OrderStatus::Delivered),
        ("TRADE_FINISHED", OrderStatus::Completed),
        ("TRADE_CLOSED", OrderStatus::Refunded),
        ("TRADE_CLOSED_BY_TAOBAO", OrderStatus::Cancelled),
        ("PAY_PENDING", OrderStatus::PendingPayment),
        ("WAIT_PRE_AUTH_CONFIRM", OrderStatus::PendingPayment),
        ("PAID_FORBID_CONSIGN", OrderStatus::AwaitingFulfilment),
    ];
    assert_eq!(expected.len(), wire::TradeStatus::KNOWN.len());
    for (raw, want) in expected {
        let mut v = base_trade();
        v["status"] = json!(raw);
        v["orders"]["order"][0]["status"] = json!(raw);
        let o = run(&v).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(o.status, want, "{raw}");
        assert_eq!(o.raw_status, raw);
        // Only paid states carry the payment.
        assert_eq!(o.payments.is_empty(), !want.is_paid(), "{raw}");
        let shipped = matches!(
            raw,
            "WAIT_BUYER_CONFIRM_GOODS" | "TRADE_BUYER_SIGNED" | "TRADE_FINISHED"
        );
        assert_eq!(o.lines[0].quantity_shipped == 2, shipped, "{raw}");
    }
}

#[test]
fn unknown_status_is_a_mapping_error_not_a_guess() {
    let mut v = base_trade();
    v["status"] = json!("TRADE_WAIT_SOMETHING_NEW");
    let e = run(&v).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Mapping);
    assert_eq!(e.reason(), ReasonCode::UnknownStatus);
}

#[test]
fn split_shipment_per_order_consign() {
    let mut v = base_trade();
    v["status"] = json!("SELLER_CONSIGNED_PART");
    v["payment"] = json!("286.00");
    v["is_part_consign"] = json!(true);
    v["orders"]["order"][0]["status"] = json!("WAIT_BUYER_CONFIRM_GOODS");
    v["orders"]["order"][0]["consign_time"] = json!("2024-03-19 10:00:00");
    v["orders"]["order"][0]["invoice_no"] = json!("SF1234567890");
    v["orders"]["order"][0]["logistics_company"] = json!("顺丰速运");
    v["orders"]["order"].as_array_mut().unwrap().push(json!({
        "oid": 2865412345678901236_u64, "num_iid": 612345678902_u64, "outer_sku_id": "LID-1",
        "title": "杯盖", "num": 1, "price": "100.00", "payment": "100.00",
        "discount_fee": "0.00", "adjust_fee": "0.00", "divide_order_fee": "100.00",
        "status": "WAIT_SELLER_SEND_GOODS"
    }));
    let o = run(&v).unwrap();
    assert_eq!(o.status, OrderStatus::PartiallyShipped);
    assert_eq!(o.lines[0].quantity_shipped, 2);
    assert_eq!(o.lines[1].quantity_shipped, 0);
    assert_eq!(o.lines[1].line_id.as_str(), "2865412345678901236");
    assert_eq!(o.extensions["is_part_consign"], true);
    assert_eq!(o.totals().unwrap().buyer_total.amount, dec!(286.00));
}

#[test]
fn partial_refund_keeps_trade_money_and_refund_status() {
    // TRADE_FINISHED with one of two sub-orders refunded: the order keeps its payment; the
    // refund record carries the money back.
    let mut v = base_trade();
    v["status"] = json!("TRADE_FINISHED");
    v["orders"]["order"][0]["status"] = json!("TRADE_FINISHED");
    v["orders"]["order"][0]["refund_status"] = json!("SUCCESS");
    v["orders"]["order"][0]["refund_id"] = json!("90876543210");
    let o = run(&v).unwrap();
    assert_eq!(o.status, OrderStatus::Completed);
    assert_eq!(o.totals().unwrap().buyer_total.amount, dec!(186.00));

    let refund = json!({
        "refund_id": "90876543210", "tid": 2865412345678901234_u64,
        "oid": 2865412345678901235_u64, "status": "SUCCESS", "order_status": "TRADE_FINISHED",
        "refund_fee": "90.00", "total_fee": "198.00", "payment": "96.00",
        "created": "2024-03-20 09:00:00", "modified": "2024-03-21 10:30:00",
        "reason": "7天无理由退换货", "has_good_return": true, "good_status": "BUYER_RETURNED_GOODS",
        "num": 2, "num_iid": 612345678901_u64, "outer_id": "M880", "title": "保温杯 500ml",
        "company_name": "中通快递", "sid": "ZT7788", "refund_phase": "aftersale"
    });
    let raw = RawRecord::from_value(&refund, Some("taobao.refunds.receive.get"));
    let r: wire::Refund = serde_json::from_value(refund).unwrap();
    let c = refund_to_canonical(&r, &ctx(), &raw).unwrap();
    assert_eq!(c.status, RefundStatus::Completed);
    assert_eq!(c.total.amount, dec!(90.00));
    assert_eq!(c.lines[0].line_id.as_str(), "2865412345678901235");
    assert!(c.is_consistent());
    assert_eq!(c.updated_at.to_rfc3339(), "2024-03-21T02:30:00+00:00");
    let ret = c.goods_return.unwrap();
    assert_eq!(ret.tracking_number.as_deref(), Some("ZT7788"));
    assert_eq!(ret.lines[0].quantity, 2);
}

#[test]
fn every_refund_status_maps() {
    let expected = [
        ("WAIT_SELLER_AGREE", Some(RefundStatus::Requested)),
        ("WAIT_BUYER_RETURN_GOODS", Some(RefundStatus::Approved)),
        ("WAIT_SELLER_CONFIRM_GOODS", Some(RefundStatus::Approved)),
        ("SELLER_REFUSE_BUYER", Some(RefundStatus::Rejected)),
        ("CLOSED", Some(RefundStatus::Cancelled)),
        ("SUCCESS", Some(RefundStatus::Completed)),
        (
            "WAIT_BUYER_CONFIRM_EXCHANGE_SELLER_SEND_GOODS",
            Some(RefundStatus::Approved),
        ),
        (
            "EXCHANGE_TRANSFORM_TO_REFUND",
            Some(RefundStatus::Requested),
        ),
        ("WAIT_SELLER_CONSIGN_GOODS", Some(RefundStatus::Approved)),
        ("NO_REFUND", None),
        ("SOMETHING_ELSE", None),
    ];
    for (raw, want) in expected {
        assert_eq!(refund_status(&wire::RefundStatus::from(raw)), want, "{raw}");
    }
    // Money-only refund: no goods back, quantity 0.
    let refund = json!({"refund_id": 77, "tid": 1, "oid": 2, "status": "WAIT_SELLER_AGREE",
        "refund_fee": "5.50", "created": "2024-03-20 09:00:00",
        "modified": "2024-03-20 09:00:00", "has_good_return": false, "num": 3, "outer_id": "X"});
    let raw = RawRecord::from_value(&refund, None);
    let r: wire::Refund = serde_json::from_value(refund).unwrap();
    let c = refund_to_canonical(&r, &ctx(), &raw).unwrap();
    assert_eq!(c.id.as_str(), "77");
    assert_eq!(c.lines[0].quantity, 0);
    assert!(c.goods_return.is_none());
}

#[test]
fn presale_step_trade() {
    // Deposit paid, final payment due: no sale yet, deposit recorded in extensions.
    let mut v = base_trade();
    v["type"] = json!("step");
    v["status"] = json!("WAIT_BUYER_PAY");
    v["orders"]["order"][0]["status"] = json!("WAIT_BUYER_PAY");
    v["step_trade_status"] = json!("FRONT_PAID_FINAL_NOPAID");
    v["step_paid_fee"] = json!("50.00");
    let o = run(&v).unwrap();
    assert_eq!(o.status, OrderStatus::PendingPayment);
    assert!(o.payments.is_empty());
    assert_eq!(o.extensions["step_trade_status"], "FRONT_PAID_FINAL_NOPAID");
    assert_eq!(o.extensions["step_paid_fee"], "50.00");

    // Both paid: a normal paid order.
    v["status"] = json!("WAIT_SELLER_SEND_GOODS");
    v["step_trade_status"] = json!("FRONT_PAID_FINAL_PAID");
    v["step_paid_fee"] = json!("186.00");
    let o = run(&v).unwrap();
    assert_eq!(o.payments[0].amount.amount, dec!(186.00));

    // Paid status but the final payment is still missing: no payment recorded.
    v["step_trade_status"] = json!("FRONT_PAID_FINAL_NOPAID");
    assert!(run(&v).unwrap().payments.is_empty());

    // Deposit forfeited.
    v["status"] = json!("TRADE_CLOSED_BY_TAOBAO");
    v["step_trade_status"] = json!("FRONT_PAID_FRONT_FORFEITED");
    let o = run(&v).unwrap();
    assert_eq!(o.status, OrderStatus::Cancelled);
    assert_eq!(o.extensions["deposit_forfeited"], true);
}

#[test]
fn platform_funded_discounts_are_split_out() {
    // Shop promotion 8.00 allocated, of which TOP says a 5.00 Tmall red packet (500 fen) and a
    // 1.50 platform subsidy: the seller's part is 1.50.
    let mut v = base_trade();
    v["tmall_coupon_fee"] = json!(500);
    v["platform_subsidy_fee"] = json!("1.50");
    let o = run(&v).unwrap();
    let t = o.totals().unwrap();
    assert_eq!(t.platform_discounts.amount, dec!(6.50));
    assert_eq!(t.seller_discounts.amount, dec!(11.50));
    assert_eq!(t.buyer_total.amount, dec!(186.00));
    assert_eq!(t.seller_receivable.amount, dec!(192.50));
    let platform: Vec<_> = o
        .discounts
        .iter()
        .filter(|d| d.funder == DiscountFunder::Platform)
        .filter_map(|d| d.code.as_deref())
        .collect();
    assert_eq!(platform, ["tmall_coupon_fee", "platform_subsidy_fee"]);

    // More platform money than the trade-level discount: inconsistent, refused.
    v["tmall_coupon_fee"] = json!(900);
    assert_eq!(run(&v).unwrap_err().reason(), ReasonCode::MalformedPayload);
}

#[test]
fn manual_price_changes() {
    // A price cut by the seller is a seller discount.
    let mut v = base_trade();
    v["orders"]["order"][0]["adjust_fee"] = json!("-4.00");
    v["orders"]["order"][0]["divide_order_fee"] = json!("176.00");
    v["payment"] = json!("182.00");
    let o = run(&v).unwrap();
    assert!(
        o.lines[0]
            .discounts
            .iter()
            .any(|d| d.code.as_deref() == Some("adjust_fee") && d.amount.amount == dec!(4.00))
    );
    // A price rise that divides over the units raises the unit price.
    v["orders"]["order"][0]["adjust_fee"] = json!("4.00");
    v["orders"]["order"][0]["divide_order_fee"] = json!("184.00");
    v["payment"] = json!("190.00");
    let o = run(&v).unwrap();
    assert_eq!(o.lines[0].unit_price.amount, dec!(101.00));
    // One that does not (0.01 over 2 units) is refused rather than rounded.
    v["orders"]["order"][0]["adjust_fee"] = json!("0.01");
    v["orders"]["order"][0]["divide_order_fee"] = json!("180.01");
    v["payment"] = json!("186.01");
    assert!(run(&v).is_err());
}

#[test]
fn inconsistent_money_is_malformed() {
    let mut v = base_trade();
    v["orders"]["order"][0]["divide_order_fee"] = json!("181.00");
    let e = run(&v).unwrap_err();
    assert_eq!(e.reason(), ReasonCode::MalformedPayload, "{e}");
    let mut v = base_trade();
    v["payment"] = json!("300.00");
    assert_eq!(run(&v).unwrap_err().kind(), &ErrorKind::Validation);
}

#[test]
fn malformed_fields_fail_parsing_or_normalizing() {
    let mut v = base_trade();
    v["payment"] = json!("18x.00");
    assert!(serde_json::from_value::<Trade>(v).is_err());
    let mut v = base_trade();
    v["created"] = json!("2024/03/18 17:12");
    assert_eq!(run(&v).unwrap_err().reason(), ReasonCode::MalformedPayload);
    let mut v = base_trade();
    v.as_object_mut().unwrap().remove("orders");
    assert!(run(&v).is_err());
}

#[test]
fn bills_become_fee_lines() {
    let bills: Vec<wire::Bill> = serde_json::from_value(json!([
        {"bid": 1001, "account_id": 5, "trade_id": "2865412345678901234", "amount": 930,
         "total_amount": 18600, "book_time": "2024-03-25 02:00:00",
         "pay_time": "2024-03-25 02:00:00", "status": 1, "alipay_notice": "天猫佣金"},
        {"bid": 1002, "account_id": 5, "trade_id": "2865412345678901234", "amount": -450,
         "pay_time": "2024-03-26 03:00:00", "status": 1},
        {"bid": 1003, "account_id": 7, "trade_id": 1, "amount": 100,
         "pay_time": "2024-03-26 03:00:00", "status": 2}
    ]))
    .unwrap();
    let start = parse_top_time("2024-03-25 00:00:00").unwrap();
    let end = parse_top_time("2024-03-26 00:00:00").unwrap();
    let raw = RawRecord::json(b"[]".to_vec(), None);
    let s = bills_to_settlement(&bills, start, end, &ctx(), &raw).unwrap();
    assert_eq!(s.lines.len(), 2, "the failed debit is not a money movement");
    assert_eq!(s.lines[0].amount.amount, dec!(-9.30));
    assert_eq!(s.lines[1].amount.amount, dec!(4.50));
    assert_eq!(
        s.lines[0].kind,
        SettlementLineKind::Fee {
            code: "account:5".into()
        }
    );
    assert_eq!(s.net().unwrap().amount, dec!(-4.80));
    assert_eq!(s.id.as_str(), "top-bills-20240325000000-20240326000000");
}

#[test]
fn time_round_trip_is_gmt8() {
    let t = parse_top_time("2016-01-01 12:00:00").unwrap();
    assert_eq!(t.to_rfc3339(), "2016-01-01T04:00:00+00:00");
    assert_eq!(format_top_time(t), "2016-01-01 12:00:00");
    assert!(parse_top_time("2016-01-01T12:00:00Z").is_err());
}

fn base_refund() -> Value {
    json!({
        "refund_id": "90876543210", "tid": 2865412345678901234_u64,
        "oid": 2865412345678901235_u64, "status": "SUCCESS", "order_status": "TRADE_FINISHED",
        "refund_fee": "90.00", "total_fee": "198.00", "payment": "96.00",
        "created": "2024-03-20 09:00:00", "modified": "2024-03-21 10:30:00",
        "has_good_return": false, "num": 2, "num_iid": 612345678901_u64, "outer_id": "M880"
    })
}

fn run_refund(v: &Value) -> marketsync_core::Result<marketsync_core::Refund> {
    let raw = RawRecord::from_value(v, Some("taobao.refunds.receive.get"));
    let r: wire::Refund = serde_json::from_value(v.clone()).expect("fixture parses");
    refund_to_canonical(&r, &ctx(), &raw)
}

/// Issue #9: each payload that used to panic, or normalize although wrong, is now refused with
/// a reason.
#[test]
fn hostile_or_wrong_trades_are_refused_with_a_reason() {
    let reason = |v: &Value| run(v).unwrap_err().reason();

    // 28-digit prices times a quantity used to overflow `Decimal` and panic.
    let mut v = base_trade();
    v["orders"]["order"][0]["price"] = json!("9999999999999999999999999999");
    assert_eq!(reason(&v), ReasonCode::AmountOutOfRange);
    let mut v = base_trade();
    v["orders"]["order"][0]["adjust_fee"] = json!("9999999999999999999999999999");
    v["orders"]["order"][0]["price"] = json!("9999999999999999999999999999");
    assert_eq!(reason(&v), ReasonCode::AmountOutOfRange);
    let mut v = base_trade();
    v["post_fee"] = json!("79228162514264337593543950335");
    assert!(serde_json::from_value::<Trade>(v).is_err(), "29 digits");
    let mut v = base_trade();
    v["post_fee"] = json!("9999999999999999999999999999");
    v["payment"] = json!("0.01");
    assert!(run(&v).is_err());
    let mut v = base_trade();
    v["tmall_coupon_fee"] = json!(i64::MAX);
    v["platform_subsidy_fee"] = json!("9999999999999999999999999999");
    assert!(run(&v).is_err());

    // More than 28 significant digits is refused at parsing, never rounded.
    let mut v = base_trade();
    v["payment"] = json!("186.000000000000000000000000001");
    assert!(serde_json::from_value::<Trade>(v).is_err());

    // A quantity-0 line, and one beyond the bound.
    let mut v = base_trade();
    v["orders"]["order"][0]["num"] = json!(0);
    assert_eq!(reason(&v), ReasonCode::InvalidQuantity);
    v["orders"]["order"][0]["num"] = json!(u32::MAX);
    assert_eq!(reason(&v), ReasonCode::InvalidQuantity);

    // A discount larger than its line.
    let mut v = base_trade();
    v["orders"]["order"][0]["discount_fee"] = json!("250.00");
    assert_eq!(reason(&v), ReasonCode::AmountOutOfRange);

    // Modified before created.
    let mut v = base_trade();
    v["modified"] = json!("2024-03-18 17:00:00");
    assert_eq!(reason(&v), ReasonCode::InvalidTime);

    // Paid before placed.
    let mut v = base_trade();
    v["pay_time"] = json!("2024-03-18 17:00:00");
    assert_eq!(reason(&v), ReasonCode::InvalidTime);

    // Year −2026 (chrono reads a signed year) and other implausible years.
    for bad in [
        "-2026-03-18 17:12:59",
        "0001-03-18 17:12:59",
        "3000-03-18 17:12:59",
    ] {
        let mut v = base_trade();
        v["created"] = json!(bad);
        v["pay_time"] = json!(bad);
        let e = run(&v).unwrap_err();
        assert!(
            matches!(
                e.reason(),
                ReasonCode::InvalidTime | ReasonCode::MalformedPayload
            ),
            "{bad}: {e}"
        );
    }
    let mut v = base_trade();
    v["created"] = json!("0001-03-18 17:12:59");
    assert_eq!(reason(&v), ReasonCode::InvalidTime);
}

#[test]
fn hostile_or_wrong_refunds_and_bills_are_refused_with_a_reason() {
    assert!(run_refund(&base_refund()).is_ok());
    let mut v = base_refund();
    v["refund_fee"] = json!("-90.00");
    assert_eq!(
        run_refund(&v).unwrap_err().reason(),
        ReasonCode::AmountOutOfRange
    );
    let mut v = base_refund();
    v["refund_fee"] = json!("300.00");
    assert_eq!(
        run_refund(&v).unwrap_err().reason(),
        ReasonCode::AmountOutOfRange,
        "more than the trade total"
    );
    let mut v = base_refund();
    v["modified"] = json!("2024-03-19 10:30:00");
    assert_eq!(
        run_refund(&v).unwrap_err().reason(),
        ReasonCode::InvalidTime
    );
    let mut v = base_refund();
    v["has_good_return"] = json!(true);
    v["num"] = json!(u32::MAX);
    assert_eq!(
        run_refund(&v).unwrap_err().reason(),
        ReasonCode::InvalidQuantity
    );

    // A bill of i64::MIN fen used to panic on negation.
    let bills: Vec<wire::Bill> = serde_json::from_value(json!([
        {"bid": 1001, "account_id": 5, "amount": i64::MIN,
         "pay_time": "2024-03-25 02:00:00", "status": 1}
    ]))
    .unwrap();
    let start = parse_top_time("2024-03-25 00:00:00").unwrap();
    let end = parse_top_time("2024-03-26 00:00:00").unwrap();
    let raw = RawRecord::json(b"[]".to_vec(), None);
    let e = bills_to_settlement(&bills, start, end, &ctx(), &raw).unwrap_err();
    assert_eq!(e.reason(), ReasonCode::AmountOutOfRange);
    // …and a bill booked in year 1 is an implausible time.
    let bills: Vec<wire::Bill> = serde_json::from_value(json!([
        {"bid": 1002, "account_id": 5, "amount": 100,
         "pay_time": "0001-03-25 02:00:00", "status": 1}
    ]))
    .unwrap();
    let e = bills_to_settlement(&bills, start, end, &ctx(), &raw).unwrap_err();
    assert_eq!(e.reason(), ReasonCode::InvalidTime);
}
