//! The simulator's seeded, deterministic data set: trades with sub-orders, promotions and
//! presale fields, refunds and bills, shaped like TOP's documented payloads (field names and
//! types from the Trade / Order / Refund / Bill models: yuan strings with two decimals, integer
//! fen where TOP uses them, `yyyy-MM-dd HH:mm:ss` Beijing-time strings, int64 ids).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, Offset, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// The twelve documented trade statuses, in the order the generator cycles through them.
pub const TRADE_STATUSES: [&str; 12] = [
    "WAIT_SELLER_SEND_GOODS",
    "WAIT_BUYER_PAY",
    "SELLER_CONSIGNED_PART",
    "WAIT_BUYER_CONFIRM_GOODS",
    "TRADE_BUYER_SIGNED",
    "TRADE_FINISHED",
    "TRADE_CLOSED",
    "TRADE_CLOSED_BY_TAOBAO",
    "TRADE_NO_CREATE_PAY",
    "PAY_PENDING",
    "WAIT_PRE_AUTH_CONFIRM",
    "PAID_FORBID_CONSIGN",
];

/// The refund statuses `taobao.refunds.receive.get` documents.
pub const REFUND_STATUSES: [&str; 9] = [
    "WAIT_SELLER_AGREE",
    "WAIT_BUYER_RETURN_GOODS",
    "WAIT_SELLER_CONFIRM_GOODS",
    "SELLER_REFUSE_BUYER",
    "CLOSED",
    "SUCCESS",
    "WAIT_BUYER_CONFIRM_EXCHANGE_SELLER_SEND_GOODS",
    "EXCHANGE_TRANSFORM_TO_REFUND",
    "WAIT_SELLER_CONSIGN_GOODS",
];

/// A status no connector knows, seeded on purpose.
pub const UNKNOWN_STATUS: &str = "TRADE_SIM_FUTURE_STATUS";

pub use crate::generate::Rng;

/// Beijing time.
pub fn gmt8() -> FixedOffset {
    // `east_opt(8 h)` cannot fail; the fallback keeps the code panic-free.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// Formats a UTC time as TOP does (GMT+8, `yyyy-MM-dd HH:mm:ss`).
pub fn top_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&gmt8())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Parses TOP's time format (GMT+8) into UTC.
pub fn parse_top_time(s: &str) -> Option<DateTime<Utc>> {
    let naive = chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    gmt8()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

fn yuan(fen: i64) -> String {
    format!("{:.2}", Decimal::new(fen, 2))
}

/// One stocked SKU of the seeded catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogSku {
    /// Item id.
    pub num_iid: u64,
    /// Platform SKU id.
    pub sku_id: u64,
    /// Seller's SKU code.
    pub outer_sku_id: String,
    /// Title.
    pub title: String,
    /// Unit price, fen.
    pub price_fen: i64,
}

/// The seeded catalogue: 4 items × 3 SKUs.
pub fn catalog() -> Vec<CatalogSku> {
    let mut out = Vec::new();
    for item in 0..4u64 {
        for sku in 0..3u64 {
            out.push(CatalogSku {
                num_iid: 612_345_678_900 + item,
                sku_id: 4_712_345_678_000 + item * 10 + sku,
                outer_sku_id: format!("SIM-{item}{sku}"),
                title: format!("模拟商品 {item} 款式 {sku}"),
                price_fen: 1_990 + (item as i64) * 5_000 + (sku as i64) * 1_000,
            });
        }
    }
    out
}

/// The generated data set.
#[derive(Clone, Debug, Default)]
pub struct DataSet {
    /// Trades (full `Trade` JSON objects), any order.
    pub trades: Vec<Value>,
    /// Refunds.
    pub refunds: Vec<Value>,
    /// Bills.
    pub bills: Vec<Value>,
    /// Stock by (num_iid, outer_sku_id).
    pub stock: BTreeMap<(u64, String), u32>,
    /// The trade seeded with an unknown status, if any.
    pub unknown_status_tid: Option<String>,
}

/// Generates `n` trades whose `modified` times are spread (one-second resolution, all
/// distinct) over `[start, start + span)`.
pub fn generate(
    seed: u64,
    n: usize,
    start: DateTime<Utc>,
    span: Duration,
    unknown_status: bool,
) -> DataSet {
    let mut rng = Rng::new(seed);
    let cat = catalog();
    let mut ds = DataSet::default();
    for c in &cat {
        ds.stock.insert((c.num_iid, c.outer_sku_id.clone()), 100);
    }
    let span_secs = span.num_seconds().max(1) as u64;
    let step = (span_secs / (n as u64).max(1)).max(1);
    for i in 0..n {
        let tid: u64 = 2_865_412_345_678_000_000 + (i as u64) * 1_000;
        let offset = (i as u64) * step + rng.range(0, step.saturating_sub(1));
        let modified = start + Duration::seconds(offset.min(span_secs - 1) as i64);
        let created = modified - Duration::seconds(rng.range(60, 36 * 3600) as i64);
        let mut status = TRADE_STATUSES[i % TRADE_STATUSES.len()].to_owned();
        if unknown_status && i == n / 2 {
            status = UNKNOWN_STATUS.to_owned();
            ds.unknown_status_tid = Some(tid.to_string());
        }
        let presale = i % 7 == 3;
        let n_lines = if status == "SELLER_CONSIGNED_PART" {
            2
        } else {
            1 + (rng.range(0, 2) as usize)
        };
        let paid = !matches!(
            status.as_str(),
            "WAIT_BUYER_PAY"
                | "TRADE_NO_CREATE_PAY"
                | "PAY_PENDING"
                | "WAIT_PRE_AUTH_CONFIRM"
                | "TRADE_CLOSED_BY_TAOBAO"
        );
        let pay_time = created + Duration::seconds(rng.range(5, 50) as i64);
        let consigned = matches!(
            status.as_str(),
            "WAIT_BUYER_CONFIRM_GOODS" | "TRADE_BUYER_SIGNED" | "TRADE_FINISHED"
        );

        // Lines: list price, sub-order discount, occasional seller price cut.
        let mut lines = Vec::new();
        let mut nets = Vec::new();
        let mut goods = 0_i64;
        for l in 0..n_lines {
            let c = &cat[rng.range(0, cat.len() as u64 - 1) as usize];
            let num = rng.range(1, 3) as i64;
            let gross = c.price_fen * num;
            let discount = if rng.range(0, 2) == 0 {
                (gross / 20).max(0)
            } else {
                0
            };
            let adjust = if rng.range(0, 4) == 0 { -100 } else { 0 };
            let net = gross + adjust - discount;
            nets.push(net);
            goods += gross;
            let oid = tid + 1 + l as u64;
            let line_status = if status == "SELLER_CONSIGNED_PART" {
                if l == 0 {
                    "WAIT_BUYER_CONFIRM_GOODS"
                } else {
                    "WAIT_SELLER_SEND_GOODS"
                }
            } else {
                status.as_str()
            };
            let line_shipped = consigned || (status == "SELLER_CONSIGNED_PART" && l == 0);
            let mut o = json!({
                "oid": oid, "oid_str": oid.to_string(), "num_iid": c.num_iid,
                "sku_id": c.sku_id.to_string(), "outer_sku_id": c.outer_sku_id,
                "outer_iid": format!("SIM-{}", c.num_iid % 10), "title": c.title, "num": num,
                "price": yuan(c.price_fen), "payment": yuan(net), "total_fee": yuan(net),
                "discount_fee": yuan(discount), "adjust_fee": yuan(adjust),
                "status": line_status,
                "refund_status": if status == "TRADE_CLOSED" { "SUCCESS" } else { "NO_REFUND" },
            });
            if line_shipped {
                o["consign_time"] = json!(top_time(pay_time + Duration::hours(2)));
                o["invoice_no"] = json!(format!("SF{}", oid % 10_000_000_000));
                o["logistics_company"] = json!("顺丰速运");
                o["shipping_type"] = json!("express");
            }
            lines.push(o);
        }
        // Trade-level shop promotion, spread over the lines; part of it may be a Tmall red
        // packet (platform-funded).
        let net_total: i64 = nets.iter().sum();
        let promo = if rng.range(0, 2) == 0 {
            (net_total / 25 / 100) * 100
        } else {
            0
        };
        let mut left = promo;
        for (k, o) in lines.iter_mut().enumerate() {
            let share = if k + 1 == nets.len() {
                left
            } else {
                promo * nets[k] / net_total.max(1)
            };
            left -= share;
            o["divide_order_fee"] = json!(yuan(nets[k] - share));
            o["part_mjz_discount"] = json!(yuan(share));
        }
        let red_packet = if promo >= 300 && i % 3 == 0 { 300 } else { 0 };
        let post_fee = if rng.range(0, 1) == 0 { 0 } else { 600 };
        let payment = net_total - promo + post_fee;
        let mut t = json!({
            "tid": tid, "tid_str": tid.to_string(), "status": status,
            "type": if presale { "step" } else { "fixed" },
            "created": top_time(created), "modified": top_time(modified),
            "payment": yuan(payment), "total_fee": yuan(goods), "post_fee": yuan(post_fee),
            "discount_fee": yuan(goods - net_total + promo), "adjust_fee": "0.00",
            "received_payment": if status == "TRADE_FINISHED" { yuan(payment) } else { "0.00".to_owned() },
            "buyer_open_uid": format!("AAH{:016x}", rng.next_u64()),
            "seller_nick": "模拟旗舰店", "shipping_type": "express",
            "receiver_name": format!("~AgAAAA{:x}~name~1~", rng.next_u64()),
            "receiver_mobile": format!("$138$enc{:x}$1$", rng.next_u64()),
            "receiver_phone": "",
            "receiver_address": format!("~AgAAAA{:x}~addr~1~", rng.next_u64()),
            "receiver_state": "浙江省", "receiver_city": "杭州市", "receiver_district": "余杭区",
            "receiver_zip": "311100", "receiver_country": "",
            "oaid": format!("1CDr{:016x}{:016x}", rng.next_u64(), rng.next_u64()),
            "orders": {"order": lines},
        });
        if paid {
            t["pay_time"] = json!(top_time(pay_time));
            t["alipay_no"] = json!(format!("2024{:022}", tid % 10_000_000_000));
        }
        if consigned {
            t["consign_time"] = json!(top_time(pay_time + Duration::hours(2)));
        }
        if status == "SELLER_CONSIGNED_PART" {
            t["is_part_consign"] = json!(true);
        }
        if promo > 0 {
            t["promotion_details"] = json!({"promotion_detail": [{
                "id": tid, "promotion_name": "店铺满减", "discount_fee": yuan(promo),
                "promotion_id": format!("mjs-{}_{}", 100 + i, 200 + i)
            }]});
        }
        if red_packet > 0 {
            t["tmall_coupon_fee"] = json!(red_packet);
        }
        if presale {
            let step = match status.as_str() {
                "WAIT_BUYER_PAY" => "FRONT_PAID_FINAL_NOPAID",
                "TRADE_NO_CREATE_PAY" | "PAY_PENDING" | "WAIT_PRE_AUTH_CONFIRM" => {
                    "FRONT_NOPAID_FINAL_NOPAID"
                }
                "TRADE_CLOSED_BY_TAOBAO" => "FRONT_PAID_FRONT_FORFEITED",
                _ => "FRONT_PAID_FINAL_PAID",
            };
            t["step_trade_status"] = json!(step);
            let deposit = (payment / 5 / 100) * 100;
            t["step_paid_fee"] = json!(yuan(match step {
                "FRONT_PAID_FINAL_PAID" => payment,
                "FRONT_NOPAID_FINAL_NOPAID" => 0,
                _ => deposit,
            }));
        }

        // Refunds: a full refund for closed trades; a partial one on every other finished
        // trade; the other statuses spread over trades awaiting shipment.
        let first_line = &t["orders"]["order"][0];
        let refund_status = match status.as_str() {
            "TRADE_CLOSED" => Some("SUCCESS"),
            "TRADE_FINISHED" if i % 2 == 0 => Some("SUCCESS"),
            "WAIT_SELLER_SEND_GOODS" | "WAIT_BUYER_CONFIRM_GOODS" => {
                Some(REFUND_STATUSES[(i / 12) % REFUND_STATUSES.len()])
            }
            _ => None,
        };
        if let Some(rs) = refund_status {
            let line_paid = first_line["divide_order_fee"]
                .as_str()
                .and_then(|s| s.parse::<Decimal>().ok())
                .unwrap_or_default();
            let refund_fee = if status == "TRADE_CLOSED" {
                line_paid
            } else {
                (line_paid / Decimal::from(2)).round_dp(2)
            };
            let goods_back = (i / 12) % 2 == 0;
            ds.refunds.push(json!({
                "refund_id": format!("{}", 90_000_000_000u64 + i as u64),
                "tid": tid, "oid": first_line["oid"], "status": rs,
                "order_status": status, "refund_fee": format!("{refund_fee:.2}"),
                "total_fee": yuan(payment), "payment": format!("{:.2}", Decimal::new(payment, 2) - refund_fee),
                "created": top_time(modified - Duration::minutes(30)),
                "modified": top_time(modified),
                "reason": "7天无理由退换货", "desc": "", "has_good_return": goods_back,
                "good_status": if goods_back { "BUYER_RETURNED_GOODS" } else { "BUYER_NOT_RECEIVED" },
                "num": first_line["num"], "num_iid": first_line["num_iid"],
                "outer_id": first_line["outer_sku_id"], "title": first_line["title"],
                "company_name": if goods_back { "中通快递" } else { "" },
                "sid": if goods_back { format!("ZT{}", i) } else { String::new() },
                "refund_phase": if consigned { "aftersale" } else { "onsale" },
            }));
        }
        // Bills: commission (2 %) and technical service fee (0.5 %) on finished trades,
        // debited an hour after the trade's last change; one unpaid debit now and then.
        if status == "TRADE_FINISHED" {
            for (k, (account, rate_permille)) in [(5_i64, 20_i64), (7, 5)].into_iter().enumerate() {
                let amount = payment * rate_permille / 1000;
                let at = modified + Duration::hours(1);
                ds.bills.push(json!({
                    "bid": 7_000_000 + (i as u64) * 10 + k as u64, "account_id": account,
                    "trade_id": tid.to_string(), "order_id": first_line["oid_str"],
                    "total_amount": payment, "amount": amount,
                    "book_time": top_time(at), "biz_time": top_time(modified),
                    "pay_time": top_time(at), "status": if i % 10 == 5 && k == 1 { 0 } else { 1 },
                    "alipay_notice": if account == 5 { "天猫佣金" } else { "技术服务费" },
                    "gmt_create": top_time(at), "gmt_modified": top_time(at),
                }));
            }
        }
        ds.trades.push(t);
    }
    ds
}
