//! TOP's own payload types, as the platform sends them (`format=json`, `simplify` unset, so
//! lists are nested: `"trades":{"trade":[…]}`).
//!
//! * Money is a yuan string with at most two decimals (`"200.07"`), read by [`Yuan`] straight
//!   into a [`Decimal`] — never through `f64`. A handful of newer fields are integer fen
//!   (`tmall_coupon_fee`, bill `amount`); their types say so.
//! * Times stay strings here (`yyyy-MM-dd HH:mm:ss`, GMT+8); [`crate::normalize`] parses them.
//! * Status enums never fail on a value they do not know: `Unknown(String)`.
//! * Every field is optional: TOP returns only the `fields` asked for; the normalizer decides
//!   which ones it needs.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// An amount in yuan, parsed exactly from TOP's decimal string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Yuan(pub Decimal);

impl FromStr for Yuan {
    type Err = String;
    fn from_str(s: &str) -> Result<Yuan, String> {
        let t = s.trim();
        let ok_shape = !t.is_empty()
            && t.bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_digit() || b == b'.' || (i == 0 && b == b'-'));
        if !ok_shape {
            return Err(format!("not a yuan amount: {s:?}"));
        }
        // Exact or refused: never rounded to fit (more than 28 significant digits).
        let d = marketsync_core::money::parse_decimal_exact(t)
            .map_err(|e| format!("not a yuan amount: {e}"))?;
        if d.scale() > 2 {
            return Err(format!("yuan amount {s:?} has more than two decimals"));
        }
        Ok(Yuan(d))
    }
}

impl<'de> Deserialize<'de> for Yuan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Yuan, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl Serialize for Yuan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:.2}", self.0))
    }
}

/// Deserializes an optional yuan field; an empty string counts as absent.
fn opt_yuan<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Yuan>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => s.parse().map(Some).map_err(de::Error::custom),
    }
}

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $s:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this crate does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// The platform's string.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $s,)*
                    $name::Unknown(s) => s,
                }
            }

            /// Every documented value.
            pub const KNOWN: &'static [&'static str] = &[$($s,)*];
        }

        impl From<&str> for $name {
            fn from(s: &str) -> $name {
                match s {
                    $($s => $name::$variant,)*
                    other => {
                        tracing::warn!(value = other, "unknown {} value", stringify!($name));
                        $name::Unknown(other.to_owned())
                    }
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::from(s.as_str()))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// `Trade.status` / `Order.status`: the twelve documented trade statuses.
    TradeStatus {
        /// 没有创建支付宝交易.
        NoCreatePay = "TRADE_NO_CREATE_PAY",
        /// 等待买家付款.
        WaitBuyerPay = "WAIT_BUYER_PAY",
        /// 卖家部分发货.
        SellerConsignedPart = "SELLER_CONSIGNED_PART",
        /// 等待卖家发货 (paid).
        WaitSellerSendGoods = "WAIT_SELLER_SEND_GOODS",
        /// 等待买家确认收货 (shipped).
        WaitBuyerConfirmGoods = "WAIT_BUYER_CONFIRM_GOODS",
        /// 买家已签收 (cash on delivery only).
        BuyerSigned = "TRADE_BUYER_SIGNED",
        /// 交易成功.
        Finished = "TRADE_FINISHED",
        /// Closed after payment because the buyer was refunded.
        Closed = "TRADE_CLOSED",
        /// Closed before payment by the buyer or seller.
        ClosedByTaobao = "TRADE_CLOSED_BY_TAOBAO",
        /// International card payment being confirmed.
        PayPending = "PAY_PENDING",
        /// Zero-price pre-authorised contract in progress.
        WaitPreAuthConfirm = "WAIT_PRE_AUTH_CONFIRM",
        /// Paid, but shipping is forbidden for now (group buy forming, controlled shipping).
        PaidForbidConsign = "PAID_FORBID_CONSIGN",
    }
);

wire_enum!(
    /// `Trade.step_trade_status`: presale (deposit + final payment) progress.
    StepTradeStatus {
        /// Neither deposit nor final payment paid.
        FrontNopaidFinalNopaid = "FRONT_NOPAID_FINAL_NOPAID",
        /// Deposit paid, final payment due.
        FrontPaidFinalNopaid = "FRONT_PAID_FINAL_NOPAID",
        /// Both paid.
        FrontPaidFinalPaid = "FRONT_PAID_FINAL_PAID",
        /// Deposit forfeited (final payment never made).
        FrontPaidFrontForfeited = "FRONT_PAID_FRONT_FORFEITED",
    }
);

wire_enum!(
    /// `Refund.status` / `Order.refund_status`.
    RefundStatus {
        /// Buyer asked; waiting for the seller.
        WaitSellerAgree = "WAIT_SELLER_AGREE",
        /// Seller agreed; waiting for the goods.
        WaitBuyerReturnGoods = "WAIT_BUYER_RETURN_GOODS",
        /// Goods sent back; waiting for the seller to confirm receipt.
        WaitSellerConfirmGoods = "WAIT_SELLER_CONFIRM_GOODS",
        /// Seller refused.
        SellerRefuseBuyer = "SELLER_REFUSE_BUYER",
        /// Closed without refund.
        Closed = "CLOSED",
        /// Refunded.
        Success = "SUCCESS",
        /// Exchange: waiting for the buyer to confirm the seller's replacement.
        WaitBuyerConfirmExchangeSellerSendGoods = "WAIT_BUYER_CONFIRM_EXCHANGE_SELLER_SEND_GOODS",
        /// Exchange turned into a refund.
        ExchangeTransformToRefund = "EXCHANGE_TRANSFORM_TO_REFUND",
        /// Exchange: waiting for the seller to send the replacement.
        WaitSellerConsignGoods = "WAIT_SELLER_CONSIGN_GOODS",
        /// Commonly sent on orders without a refund (not in the documented enum).
        NoRefund = "NO_REFUND",
    }
);

/// TOP's error envelope body (`{"error_response":{…}}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// Top-level code (7 = App Call Limited, 27 = Invalid session…).
    #[serde(default)]
    pub code: i64,
    /// Top-level message.
    #[serde(default)]
    pub msg: Option<String>,
    /// Detailed code: `isv.*` caller error, `isp.*` platform error.
    #[serde(default)]
    pub sub_code: Option<String>,
    /// Detailed message (throttling puts "This ban will last for N more seconds" here).
    #[serde(default)]
    pub sub_msg: Option<String>,
    /// The platform's request id.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// `{"order":[…]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Orders {
    /// The sub-orders.
    #[serde(default)]
    pub order: Vec<Order>,
}

/// `{"promotion_detail":[…]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionDetails {
    /// The promotions.
    #[serde(default)]
    pub promotion_detail: Vec<PromotionDetail>,
}

/// A promotion applied to a trade or one of its orders.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionDetail {
    /// The trade or order id it applies to.
    #[serde(default)]
    pub id: Option<u64>,
    /// Name.
    #[serde(default)]
    pub promotion_name: Option<String>,
    /// Amount (yuan); empty for free shipping and time-limited price cuts.
    #[serde(default, deserialize_with = "opt_yuan")]
    pub discount_fee: Option<Yuan>,
    /// `tool-activity_detail`, e.g. `mjs-123024_211143`.
    #[serde(default)]
    pub promotion_id: Option<String>,
    /// Description.
    #[serde(default)]
    pub promotion_desc: Option<String>,
}

/// A trade (主订单) as `taobao.trades.sold.increment.get` / `taobao.trade.fullinfo.get` send it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    /// Trade id.
    #[serde(default)]
    pub tid: Option<u64>,
    /// Trade id as a string.
    #[serde(default)]
    pub tid_str: Option<String>,
    /// Trade status.
    #[serde(default)]
    pub status: Option<TradeStatus>,
    /// Trade type (`fixed`, `step`, `cod`…).
    #[serde(default, rename = "type")]
    pub trade_type: Option<String>,
    /// Created (GMT+8).
    #[serde(default)]
    pub created: Option<String>,
    /// Last modified (GMT+8).
    #[serde(default)]
    pub modified: Option<String>,
    /// Paid (GMT+8).
    #[serde(default)]
    pub pay_time: Option<String>,
    /// Shipped (GMT+8).
    #[serde(default)]
    pub consign_time: Option<String>,
    /// Finished or closed (GMT+8).
    #[serde(default)]
    pub end_time: Option<String>,
    /// What the buyer pays (yuan), postage included.
    #[serde(default, deserialize_with = "opt_yuan")]
    pub payment: Option<Yuan>,
    /// Goods amount: price × quantity over orders (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub total_fee: Option<Yuan>,
    /// Postage (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub post_fee: Option<Yuan>,
    /// System discounts (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub discount_fee: Option<Yuan>,
    /// Seller's manual price change (yuan; 0 on multi-order trades).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub adjust_fee: Option<Yuan>,
    /// Money released to the seller so far (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub received_payment: Option<Yuan>,
    /// Platform subsidy (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub platform_subsidy_fee: Option<Yuan>,
    /// Presale: amount paid so far (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub step_paid_fee: Option<Yuan>,
    /// Presale status.
    #[serde(default)]
    pub step_trade_status: Option<StepTradeStatus>,
    /// Tmall red packet used on the order, integer fen.
    #[serde(default)]
    pub tmall_coupon_fee: Option<i64>,
    /// Coupon amount, integer fen.
    #[serde(default)]
    pub coupon_fee: Option<i64>,
    /// Points used by the buyer (count).
    #[serde(default)]
    pub point_fee: Option<i64>,
    /// Alipay trade number.
    #[serde(default)]
    pub alipay_no: Option<String>,
    /// Per-app buyer id.
    #[serde(default)]
    pub buyer_open_uid: Option<String>,
    /// Buyer nickname (often masked).
    #[serde(default)]
    pub buyer_nick: Option<String>,
    /// Seller nickname.
    #[serde(default)]
    pub seller_nick: Option<String>,
    /// Shipping type (`free`, `express`…).
    #[serde(default)]
    pub shipping_type: Option<String>,
    /// Shipped in several parcels.
    #[serde(default)]
    pub is_part_consign: Option<bool>,
    /// Receiver name (encrypted).
    #[serde(default)]
    pub receiver_name: Option<String>,
    /// Receiver mobile (encrypted).
    #[serde(default)]
    pub receiver_mobile: Option<String>,
    /// Receiver phone (encrypted).
    #[serde(default)]
    pub receiver_phone: Option<String>,
    /// Receiver street address (encrypted).
    #[serde(default)]
    pub receiver_address: Option<String>,
    /// Province.
    #[serde(default)]
    pub receiver_state: Option<String>,
    /// City.
    #[serde(default)]
    pub receiver_city: Option<String>,
    /// District.
    #[serde(default)]
    pub receiver_district: Option<String>,
    /// Town / street.
    #[serde(default)]
    pub receiver_town: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub receiver_zip: Option<String>,
    /// Receiver country.
    #[serde(default)]
    pub receiver_country: Option<String>,
    /// Open Addressee ID: a reference to the receiver that only TOP can decrypt.
    #[serde(default)]
    pub oaid: Option<String>,
    /// Sub-orders.
    #[serde(default)]
    pub orders: Option<Orders>,
    /// Promotions.
    #[serde(default)]
    pub promotion_details: Option<PromotionDetails>,
}

impl Trade {
    /// The trade id as a string (`tid_str`, else `tid`).
    pub fn id(&self) -> Option<String> {
        self.tid_str
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| self.tid.map(|t| t.to_string()))
    }

    /// The sub-orders (empty when not requested).
    pub fn order_list(&self) -> &[Order] {
        self.orders
            .as_ref()
            .map(|o| o.order.as_slice())
            .unwrap_or(&[])
    }
}

/// A sub-order (子订单): one line of a trade.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Sub-order id.
    #[serde(default)]
    pub oid: Option<u64>,
    /// Sub-order id as a string.
    #[serde(default)]
    pub oid_str: Option<String>,
    /// Item (listing) id.
    #[serde(default)]
    pub num_iid: Option<u64>,
    /// Platform SKU id.
    #[serde(default)]
    pub sku_id: Option<String>,
    /// Seller's SKU code.
    #[serde(default)]
    pub outer_sku_id: Option<String>,
    /// Seller's item code.
    #[serde(default)]
    pub outer_iid: Option<String>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Quantity.
    #[serde(default)]
    pub num: Option<u32>,
    /// Unit price (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub price: Option<Yuan>,
    /// price × num + adjust_fee − discount_fee (yuan; on single-order trades it equals the
    /// trade payment, postage included).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub payment: Option<Yuan>,
    /// Amount due for the sub-order (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub total_fee: Option<Yuan>,
    /// Sub-order level discount (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub discount_fee: Option<Yuan>,
    /// Seller's manual price change (yuan, signed).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub adjust_fee: Option<Yuan>,
    /// Paid amount after trade-level discounts are allocated (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub divide_order_fee: Option<Yuan>,
    /// This sub-order's share of trade-level discounts (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub part_mjz_discount: Option<Yuan>,
    /// Sub-order status.
    #[serde(default)]
    pub status: Option<TradeStatus>,
    /// Refund status.
    #[serde(default)]
    pub refund_status: Option<RefundStatus>,
    /// Latest refund id.
    #[serde(default)]
    pub refund_id: Option<String>,
    /// Shipped (GMT+8); differs from the trade's on split shipments.
    #[serde(default)]
    pub consign_time: Option<String>,
    /// Finished (GMT+8).
    #[serde(default)]
    pub end_time: Option<String>,
    /// Carrier name of this sub-order's parcel.
    #[serde(default)]
    pub logistics_company: Option<String>,
    /// Tracking number of this sub-order's parcel.
    #[serde(default)]
    pub invoice_no: Option<String>,
    /// Shipping type of this sub-order.
    #[serde(default)]
    pub shipping_type: Option<String>,
}

impl Order {
    /// The sub-order id as a string.
    pub fn id(&self) -> Option<String> {
        self.oid_str
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| self.oid.map(|o| o.to_string()))
    }
}

/// A refund (`taobao.refunds.receive.get`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// Refund id (a string of digits).
    #[serde(default, deserialize_with = "string_or_number")]
    pub refund_id: Option<String>,
    /// Trade id.
    #[serde(default)]
    pub tid: Option<u64>,
    /// Sub-order id (equals `tid` on single-order trades).
    #[serde(default)]
    pub oid: Option<u64>,
    /// Refund status.
    #[serde(default)]
    pub status: Option<RefundStatus>,
    /// The trade's status.
    #[serde(default)]
    pub order_status: Option<TradeStatus>,
    /// Refunded to the buyer (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub refund_fee: Option<Yuan>,
    /// Trade total (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub total_fee: Option<Yuan>,
    /// Paid to the seller: total − refund (yuan).
    #[serde(default, deserialize_with = "opt_yuan")]
    pub payment: Option<Yuan>,
    /// Requested (GMT+8).
    #[serde(default)]
    pub created: Option<String>,
    /// Last change (GMT+8).
    #[serde(default)]
    pub modified: Option<String>,
    /// Reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// Buyer's description.
    #[serde(default)]
    pub desc: Option<String>,
    /// Whether goods come back.
    #[serde(default)]
    pub has_good_return: Option<bool>,
    /// `BUYER_NOT_RECEIVED`, `BUYER_RECEIVED`, `BUYER_RETURNED_GOODS`.
    #[serde(default)]
    pub good_status: Option<String>,
    /// Quantity bought on the sub-order.
    #[serde(default)]
    pub num: Option<u32>,
    /// Item id.
    #[serde(default)]
    pub num_iid: Option<u64>,
    /// Seller's code of the item / SKU.
    #[serde(default)]
    pub outer_id: Option<String>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Return carrier.
    #[serde(default)]
    pub company_name: Option<String>,
    /// Return tracking number.
    #[serde(default)]
    pub sid: Option<String>,
    /// When goods were returned (GMT+8).
    #[serde(default)]
    pub good_return_time: Option<String>,
    /// `onsale` / `aftersale`.
    #[serde(default)]
    pub refund_phase: Option<String>,
}

/// A bill line (`taobao.bill.bills.get`): a fee or charge booked to the seller's Alipay
/// account. Amounts are integer fen; refunds of a charge are negative.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    /// Bill id.
    #[serde(default)]
    pub bid: Option<u64>,
    /// Account (科目) id.
    #[serde(default)]
    pub account_id: Option<i64>,
    /// Trade id.
    #[serde(default, deserialize_with = "string_or_number")]
    pub trade_id: Option<String>,
    /// Sub-order id.
    #[serde(default, deserialize_with = "string_or_number")]
    pub order_id: Option<String>,
    /// Trade amount (fen).
    #[serde(default)]
    pub total_amount: Option<i64>,
    /// Bill amount (fen); negative for a refunded charge.
    #[serde(default)]
    pub amount: Option<i64>,
    /// Booked (GMT+8).
    #[serde(default)]
    pub book_time: Option<String>,
    /// Trade completion (GMT+8).
    #[serde(default)]
    pub biz_time: Option<String>,
    /// Alipay debit (GMT+8).
    #[serde(default)]
    pub pay_time: Option<String>,
    /// 0 unpaid, 1 paid, 2 failed.
    #[serde(default)]
    pub status: Option<i64>,
    /// Alipay merchant order number.
    #[serde(default)]
    pub alipay_outno: Option<String>,
    /// Alipay note.
    #[serde(default)]
    pub alipay_notice: Option<String>,
    /// Modified (GMT+8).
    #[serde(default)]
    pub gmt_modified: Option<String>,
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(de::Error::custom(format!(
            "expected a string or number id, got {other}"
        ))),
    }
}

/// A page of a list API, before its records are parsed one by one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListPage {
    /// `total_results`, when `use_has_next` was not set.
    pub total_results: Option<u64>,
    /// `has_next`, when `use_has_next` was set.
    pub has_next: Option<bool>,
    /// The records as JSON values (parsed individually so one bad record cannot fail a page).
    pub records: Vec<serde_json::Value>,
}

impl ListPage {
    /// Reads `total_results`, `has_next` and `<outer>.<inner>[]` from a response object.
    pub fn from_response(body: &serde_json::Value, outer: &str, inner: &str) -> ListPage {
        let records = body
            .get(outer)
            .and_then(|o| o.get(inner))
            .and_then(|a| a.as_array())
            .cloned()
            .unwrap_or_default();
        ListPage {
            total_results: body.get("total_results").and_then(as_u64_lenient),
            has_next: body.get("has_next").and_then(|v| v.as_bool()),
            records,
        }
    }
}

fn as_u64_lenient(v: &serde_json::Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_parses_exactly() {
        assert_eq!("200.07".parse::<Yuan>().unwrap().0, Decimal::new(20007, 2));
        assert_eq!("-5.5".parse::<Yuan>().unwrap().0, Decimal::new(-55, 1));
        assert!("12.3x".parse::<Yuan>().is_err());
        assert!("1e3".parse::<Yuan>().is_err());
        assert!("0.001".parse::<Yuan>().is_err());
        assert!("".parse::<Yuan>().is_err());
    }

    #[test]
    fn unknown_status_is_kept() {
        let s: TradeStatus = serde_json::from_str("\"TRADE_SOMETHING_NEW\"").unwrap();
        assert_eq!(s, TradeStatus::Unknown("TRADE_SOMETHING_NEW".into()));
        assert_eq!(s.as_str(), "TRADE_SOMETHING_NEW");
        assert_eq!(TradeStatus::KNOWN.len(), 12);
        for k in TradeStatus::KNOWN {
            assert!(!matches!(TradeStatus::from(*k), TradeStatus::Unknown(_)));
        }
    }

    #[test]
    fn big_ids_and_empty_money() {
        let t: Trade = serde_json::from_str(
            r#"{"tid":2865412345678901234,"payment":"188.00","post_fee":"","orders":{"order":[{"oid":2865412345678901235,"num":1}]}}"#,
        )
        .unwrap();
        assert_eq!(t.id().as_deref(), Some("2865412345678901234"));
        assert_eq!(t.post_fee, None);
        assert_eq!(t.order_list().len(), 1);
    }
}
