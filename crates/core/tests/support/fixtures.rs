//! Realistic canonical values, shaped like what the connectors produce.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use marketsync_core::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap()
}

pub fn cny(amount: Decimal) -> Money {
    Money::new(amount, Currency::CNY)
}

pub fn usd(amount: Decimal) -> Money {
    Money::new(amount, Currency::USD)
}

/// Clear personal data used by the Tmall fixture (checked for leaks by the PII tests).
pub const BUYER_NAME: &str = "张三丰";
pub const BUYER_PHONE: &str = "13812345678";
pub const BUYER_EMAIL: &str = "zhang.sanfeng@example.cn";
pub const STREET: &str = "浦东新区世纪大道100号8楼";
pub const RECIPIENT_NAME: &str = "李小龙";

pub fn tmall_buyer() -> Pii<Buyer> {
    Pii::new(
        Region::Cn,
        Buyer {
            platform_id: Some("t_buyer_1999".into()),
            name: Some(BUYER_NAME.into()),
            email: Some(BUYER_EMAIL.into()),
            phone: Some(BUYER_PHONE.into()),
        },
    )
}

pub fn tmall_address() -> Pii<Address> {
    Pii::new(
        Region::Cn,
        Address {
            name: Some(RECIPIENT_NAME.into()),
            phone: Some(BUYER_PHONE.into()),
            lines: vec![STREET.into()],
            district: Some("浦东新区".into()),
            city: Some("上海市".into()),
            province: Some("上海".into()),
            postal_code: Some("200120".into()),
            country: "CN".into(),
        },
    )
}

fn vat(amount: Decimal) -> TaxLine {
    TaxLine {
        kind: TaxKind::Vat,
        rate: Some(dec!(0.13)),
        amount: cny(amount),
        included_in_price: true,
        collected_by: TaxCollector::Seller,
        jurisdiction: Some("CN".into()),
    }
}

/// A Tmall order: two lines, seller- and platform-funded discounts at line and order level,
/// shipping, 13% VAT included in prices, buyer and address in clear (region CN).
pub fn tmall_order() -> Order {
    let placed = utc(2026, 2, 1, 2, 15, 0);
    let paid = utc(2026, 2, 1, 2, 16, 30);
    let updated = utc(2026, 2, 1, 3, 0, 0);
    let mut extensions = BTreeMap::new();
    extensions.insert("step_trade_status".to_owned(), serde_json::json!(null));
    extensions.insert("seller_flag".to_owned(), serde_json::json!(1));
    Order {
        channel: Channel::Tmall,
        shop: ShopId::new("tmall-flagship-01"),
        id: OrderId::new("4012345678901234567"),
        revision: Revision::UpdatedAt(updated),
        status: OrderStatus::AwaitingFulfilment,
        raw_status: "WAIT_SELLER_SEND_GOODS".into(),
        placed_at: placed,
        paid_at: Some(paid),
        updated_at: updated,
        source_time_zone: TimeZoneId::shanghai(),
        currency: Currency::CNY,
        presentment: None,
        lines: vec![
            OrderLine {
                line_id: OrderLineId::new("4012345678901234568"),
                sku: Sku::new("TEA-LONGJING-250G"),
                platform_sku_id: Some("5123456789012".into()),
                listing_id: Some(ListingId::new("693012345678")),
                title: "西湖龙井 250g 礼盒".into(),
                quantity: 2,
                unit_price: cny(dec!(129.00)),
                discounts: vec![
                    Discount {
                        funder: DiscountFunder::Seller,
                        amount: cny(dec!(10.00)),
                        code: Some("SHOP-COUPON-10".into()),
                        description: Some("店铺优惠券".into()),
                    },
                    Discount {
                        funder: DiscountFunder::Platform,
                        amount: cny(dec!(5.00)),
                        code: Some("TMALL-RED-PACKET".into()),
                        description: Some("天猫红包".into()),
                    },
                ],
                taxes: vec![vat(dec!(27.96))],
                fulfilment_channel: None,
                raw_status: Some("WAIT_SELLER_SEND_GOODS".into()),
                quantity_shipped: 0,
            },
            OrderLine {
                line_id: OrderLineId::new("4012345678901234569"),
                sku: Sku::new("CUP-CELADON-01"),
                platform_sku_id: None,
                listing_id: Some(ListingId::new("693012345999")),
                title: "青瓷茶杯".into(),
                quantity: 1,
                unit_price: cny(dec!(59.00)),
                discounts: vec![],
                taxes: vec![vat(dec!(6.79))],
                fulfilment_channel: None,
                raw_status: None,
                quantity_shipped: 0,
            },
        ],
        discounts: vec![Discount {
            funder: DiscountFunder::Platform,
            amount: cny(dec!(20.00)),
            code: Some("TMALL-CROSS-STORE-300-20".into()),
            description: Some("跨店满减".into()),
        }],
        shipping: vec![ShippingCharge {
            amount: cny(dec!(10.00)),
            discounts: vec![],
            taxes: vec![vat(dec!(1.15))],
            method: Some("SF Express".into()),
        }],
        taxes: vec![],
        // 258 + 59 − 10 − 5 − 20 + 10 = 292.00
        payments: vec![Payment {
            amount: cny(dec!(292.00)),
            method: Some("alipay".into()),
            transaction_id: Some("2026020122001412345678901234".into()),
            paid_at: Some(paid),
        }],
        fulfilment_channel: FulfilmentChannel::Seller,
        buyer: Some(tmall_buyer()),
        ship_to: Some(tmall_address()),
        attribution: Some(Attribution {
            campaign_id: Some("2026-spring-tea".into()),
            ..Attribution::default()
        }),
        raw: Some(RawPayloadRef {
            content_hash: ContentHash::of(b"{\"trade_fullinfo_get_response\":{}}"),
            source: Some("taobao.trade.fullinfo.get".into()),
        }),
        extensions,
    }
}

/// An Amazon order: USD, sales tax collected by the marketplace (added on top), fulfilled by
/// Amazon (FBA), shipping waived by a seller promotion.
pub fn amazon_order() -> Order {
    let placed = utc(2026, 2, 3, 18, 4, 5);
    let updated = utc(2026, 2, 4, 9, 30, 0);
    Order {
        channel: Channel::Amazon,
        shop: ShopId::new("A2SELLER9EXAMPLE"),
        id: OrderId::new("113-1234567-7654321"),
        revision: Revision::UpdatedAt(updated),
        status: OrderStatus::Shipped,
        raw_status: "Shipped".into(),
        placed_at: placed,
        paid_at: Some(placed),
        updated_at: updated,
        source_time_zone: TimeZoneId::new("America/Los_Angeles").unwrap(),
        currency: Currency::USD,
        presentment: None,
        lines: vec![OrderLine {
            line_id: OrderLineId::new("52987654321098"),
            sku: Sku::new("WIDGET-RED-L"),
            platform_sku_id: None,
            listing_id: Some(ListingId::new("B0C1234XYZ")),
            title: "Red Widget, Large".into(),
            quantity: 2,
            unit_price: usd(dec!(19.99)),
            discounts: vec![],
            taxes: vec![TaxLine {
                kind: TaxKind::SalesTax,
                rate: Some(dec!(0.0725)),
                amount: usd(dec!(2.90)),
                included_in_price: false,
                collected_by: TaxCollector::Marketplace,
                jurisdiction: Some("US-CA".into()),
            }],
            fulfilment_channel: None,
            raw_status: None,
            quantity_shipped: 2,
        }],
        discounts: vec![],
        shipping: vec![ShippingCharge {
            amount: usd(dec!(5.99)),
            discounts: vec![Discount {
                funder: DiscountFunder::Seller,
                amount: usd(dec!(5.99)),
                code: Some("FREESHIP-PROMO".into()),
                description: None,
            }],
            taxes: vec![],
            method: Some("Standard".into()),
        }],
        taxes: vec![],
        // 39.98 + 5.99 − 5.99 + 2.90 = 42.88
        payments: vec![Payment {
            amount: usd(dec!(42.88)),
            method: Some("Other".into()),
            transaction_id: None,
            paid_at: Some(placed),
        }],
        fulfilment_channel: FulfilmentChannel::Platform("FBA".into()),
        buyer: Some(Pii::new(
            Region::Us,
            Buyer {
                platform_id: None,
                name: Some("Jane Doe".into()),
                email: Some("8xk2example@marketplace.amazon.com".into()),
                phone: None,
            },
        )),
        ship_to: Some(Pii::sealed(
            Region::Us,
            "amazon_rdt",
            "restricted-data-token-required",
        )),
        attribution: None,
        raw: None,
        extensions: BTreeMap::new(),
    }
}

/// A Douyin-style order with sealed buyer data and live-room attribution.
pub fn douyin_order() -> Order {
    let mut o = tmall_order();
    o.channel = Channel::Douyin;
    o.id = OrderId::new("6919876543210987654");
    o.raw_status = "2".into();
    o.buyer = Some(Pii::sealed(Region::Cn, "douyin_encrypt", "#Zm9vYmFy#"));
    o.ship_to = Some(tmall_address().mask());
    o.attribution = Some(Attribution {
        live_room_id: Some("7301234567890".into()),
        video_id: None,
        author_id: Some("author_42".into()),
        campaign_id: None,
        affiliate_id: None,
        extra: BTreeMap::from([("c_biz".to_owned(), "1".to_owned())]),
    });
    o
}

/// A partial Tmall refund: one unit of line 1 with its VAT, goods returned and restocked.
pub fn tmall_refund() -> Refund {
    let order = tmall_order();
    let line = &order.lines[0];
    Refund {
        channel: Channel::Tmall,
        shop: order.shop.clone(),
        id: RefundId::new("180012345678901234"),
        order_id: order.id.clone(),
        revision: Revision::Version(3),
        status: RefundStatus::Completed,
        raw_status: "SUCCESS".into(),
        reason: RefundReason {
            code: Some("7".into()),
            text: Some("七天无理由退换货".into()),
        },
        created_at: utc(2026, 2, 6, 1, 0, 0),
        updated_at: utc(2026, 2, 9, 8, 0, 0),
        lines: vec![RefundLine {
            line_id: line.line_id.clone(),
            sku: line.sku.clone(),
            quantity: 1,
            amount: cny(dec!(121.50)),
            taxes: vec![vat(dec!(13.98))],
            restock: true,
        }],
        shipping: Some(cny(dec!(5.00))),
        total: cny(dec!(126.50)),
        goods_return: Some(Return {
            id: ReturnId::new("180012345678901234"),
            lines: vec![ReturnLine {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                quantity: 1,
                restock: true,
            }],
            carrier: Some("YTO".into()),
            tracking_number: Some("YT7712345678901".into()),
            received_at: Some(utc(2026, 2, 8, 6, 30, 0)),
        }),
        raw: Some(RawPayloadRef {
            content_hash: ContentHash::of(b"{\"refund_get_response\":{}}"),
            source: Some("taobao.refund.get".into()),
        }),
    }
}

pub fn tmall_shipment() -> Shipment {
    let order = tmall_order();
    Shipment {
        channel: Channel::Tmall,
        shop: order.shop.clone(),
        order_id: order.id.clone(),
        id: Some(ShipmentId::new("PKG-0001")),
        carrier: "SF".into(),
        tracking_number: "SF1400123456789".into(),
        shipped_at: utc(2026, 2, 2, 4, 0, 0),
        lines: order
            .lines
            .iter()
            .map(|l| ShipmentLine {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect(),
        location: Some(LocationId::new("WH-SH-01")),
    }
}

pub fn inventory_position() -> InventoryPosition {
    InventoryPosition {
        sku: Sku::new("TEA-LONGJING-250G"),
        location: LocationId::new("WH-SH-01"),
        on_hand: 120,
        reserved: 18,
        available: 102,
        as_of: utc(2026, 2, 2, 0, 0, 0),
    }
}

pub fn inventory_update() -> InventoryUpdate {
    InventoryUpdate {
        channel: Channel::Tmall,
        shop: ShopId::new("tmall-flagship-01"),
        sku: Sku::new("TEA-LONGJING-250G"),
        location: None,
        available: 100,
        version: 42,
        computed_at: utc(2026, 2, 2, 0, 0, 5),
    }
}

pub fn inventory_ack() -> InventoryAck {
    InventoryAck {
        sku: Sku::new("TEA-LONGJING-250G"),
        version: 41,
        applied: false,
        message: Some("superseded by version 42".into()),
    }
}

/// An Amazon settlement with one line of every kind.
pub fn amazon_settlement() -> Settlement {
    let order = OrderId::new("113-1234567-7654321");
    let at = utc(2026, 2, 10, 12, 0, 0);
    let line =
        |kind: SettlementLineKind, amount: Decimal, order_id: Option<&OrderId>| SettlementLine {
            kind,
            amount: usd(amount),
            order_id: order_id.cloned(),
            reference: Some("AMZN-TX-0001".into()),
            posted_at: at,
            description: None,
        };
    Settlement {
        channel: Channel::Amazon,
        shop: ShopId::new("A2SELLER9EXAMPLE"),
        id: SettlementId::new("12345678901"),
        revision: Revision::Version(1),
        currency: Currency::USD,
        period_start: utc(2026, 2, 1, 0, 0, 0),
        period_end: utc(2026, 2, 15, 0, 0, 0),
        lines: vec![
            line(SettlementLineKind::Sale, dec!(39.98), Some(&order)),
            line(SettlementLineKind::Commission, dec!(-6.00), Some(&order)),
            line(
                SettlementLineKind::Fee {
                    code: "FBAPerUnitFulfillmentFee".into(),
                },
                dec!(-7.34),
                Some(&order),
            ),
            line(
                SettlementLineKind::Tax {
                    marketplace_collected: true,
                },
                dec!(2.90),
                Some(&order),
            ),
            line(
                SettlementLineKind::Tax {
                    marketplace_collected: false,
                },
                dec!(0.00),
                Some(&order),
            ),
            line(SettlementLineKind::Refund, dec!(-19.99), Some(&order)),
            line(
                SettlementLineKind::Adjustment {
                    code: Some("REVERSAL_REIMBURSEMENT".into()),
                },
                dec!(3.00),
                None,
            ),
            line(
                SettlementLineKind::Adjustment { code: None },
                dec!(-0.50),
                None,
            ),
            line(SettlementLineKind::ReserveHold, dec!(-10.00), None),
            line(SettlementLineKind::ReserveRelease, dec!(8.00), None),
            line(
                SettlementLineKind::Unknown {
                    code: "DigitalServicesFee".into(),
                },
                dec!(-0.25),
                None,
            ),
            line(SettlementLineKind::Payout, dec!(-9.80), None),
        ],
        payout: Some(Payout {
            id: PayoutId::new("PAYOUT-2026-02-15"),
            amount: usd(dec!(9.80)),
            paid_at: utc(2026, 2, 17, 0, 0, 0),
            bank_reference: Some("ACH 0215 AMZN".into()),
        }),
        raw: None,
    }
}

/// A CNY journal booking a USD payout converted at a PBOC rate.
pub fn fx_journal() -> JournalEntry {
    let fx = FxConversion {
        original: usd(dec!(1000.00)),
        rate: dec!(7.12345),
        as_of: NaiveDate::from_ymd_opt(2026, 2, 17).unwrap(),
        source: "PBOC".into(),
    };
    let dims = Dimensions {
        channel: Some(Channel::Amazon),
        shop: Some(ShopId::new("A2SELLER9EXAMPLE")),
        entity: Some(LegalEntityId::new("CN01")),
        order_id: None,
        extra: BTreeMap::from([("department".to_owned(), "ecommerce".to_owned())]),
    };
    let mut debit = JournalLine::debit("1002", cny(dec!(7123.45)))
        .with_memo("Amazon payout received")
        .with_dimensions(dims.clone());
    debit.fx = Some(fx.clone());
    debit.rulebook_version = Some("2026.1".into());
    let mut credit = JournalLine::credit("1122", cny(dec!(7123.45))).with_dimensions(dims);
    credit.fx = Some(fx);
    JournalEntry {
        entity: LegalEntityId::new("CN01"),
        date: NaiveDate::from_ymd_opt(2026, 2, 17).unwrap(),
        memo: "Amazon settlement 12345678901 payout".into(),
        lines: vec![debit, credit],
        reference: Some("amazon:settlement:12345678901".into()),
    }
}

pub fn order_envelope() -> Envelope<Order> {
    Envelope::order(tmall_order(), utc(2026, 2, 1, 3, 0, 7))
}
