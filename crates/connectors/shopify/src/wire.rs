//! Shopify Admin GraphQL types, exactly as the API spells them (`camelCase`).
//!
//! These are the platform's own shapes; [`crate::normalize`] turns them into the canonical
//! model. Money stays a string here (`Decimal` scalars are JSON strings such as `"10.00"`),
//! times stay strings (`DateTime` scalars are ISO-8601, e.g. `"2024-03-18T21:12:59Z"`), and
//! every enum keeps values it does not know in an `Unknown(String)` variant: a new Shopify
//! version adding a status never breaks deserialization.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a wire enum that round-trips its GraphQL name and keeps unknown values.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this version of the crate does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// The GraphQL enum value.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Unknown(s) => s.as_str(),
                }
            }

            /// Parses a GraphQL enum value; unknown values become `Unknown`.
            pub fn parse(s: &str) -> $name {
                match s {
                    $($text => $name::$variant,)*
                    other => {
                        tracing::warn!(value = other, kind = stringify!($name), "unknown Shopify enum value");
                        $name::Unknown(other.to_owned())
                    }
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Ok($name::parse(&s))
            }
        }
    };
}

wire_enum!(
    /// `OrderDisplayFinancialStatus`.
    FinancialStatus {
        /// `PENDING`: payment pending.
        Pending => "PENDING",
        /// `AUTHORIZED`: authorized, not captured.
        Authorized => "AUTHORIZED",
        /// `PARTIALLY_PAID`.
        PartiallyPaid => "PARTIALLY_PAID",
        /// `PAID`.
        Paid => "PAID",
        /// `PARTIALLY_REFUNDED`.
        PartiallyRefunded => "PARTIALLY_REFUNDED",
        /// `REFUNDED`.
        Refunded => "REFUNDED",
        /// `VOIDED`: the authorization was voided.
        Voided => "VOIDED",
        /// `EXPIRED`: the authorization expired uncaptured.
        Expired => "EXPIRED",
    }
);

wire_enum!(
    /// `OrderDisplayFulfillmentStatus`.
    FulfillmentStatus {
        /// `UNFULFILLED`.
        Unfulfilled => "UNFULFILLED",
        /// `PARTIALLY_FULFILLED`.
        PartiallyFulfilled => "PARTIALLY_FULFILLED",
        /// `FULFILLED`.
        Fulfilled => "FULFILLED",
        /// `RESTOCKED` (replaced by `UNFULFILLED` in newer versions).
        Restocked => "RESTOCKED",
        /// `PENDING_FULFILLMENT` (replaced by `IN_PROGRESS`).
        PendingFulfillment => "PENDING_FULFILLMENT",
        /// `OPEN` (replaced by `UNFULFILLED`).
        Open => "OPEN",
        /// `IN_PROGRESS`: sent to a fulfilment service, nothing shipped yet.
        InProgress => "IN_PROGRESS",
        /// `ON_HOLD`.
        OnHold => "ON_HOLD",
        /// `SCHEDULED`.
        Scheduled => "SCHEDULED",
        /// `FULFILLMENT_NOT_REQUIRED`: nothing to ship (digital goods).
        FulfillmentNotRequired => "FULFILLMENT_NOT_REQUIRED",
        /// `REQUEST_DECLINED`: the fulfilment service declined.
        RequestDeclined => "REQUEST_DECLINED",
    }
);

wire_enum!(
    /// `FulfillmentStatus` of one fulfilment.
    ShipmentStatus {
        /// `SUCCESS`: shipped.
        Success => "SUCCESS",
        /// `CANCELLED`.
        Cancelled => "CANCELLED",
        /// `ERROR`.
        Error => "ERROR",
        /// `FAILURE`.
        Failure => "FAILURE",
        /// `OPEN` (deprecated).
        Open => "OPEN",
        /// `PENDING` (deprecated).
        Pending => "PENDING",
    }
);

wire_enum!(
    /// `RefundLineItemRestockType`.
    RestockType {
        /// `RETURN`: the goods came back and are restocked.
        Return => "RETURN",
        /// `CANCEL`: cancelled before shipping, restocked.
        Cancel => "CANCEL",
        /// `LEGACY_RESTOCK`.
        LegacyRestock => "LEGACY_RESTOCK",
        /// `NO_RESTOCK`.
        NoRestock => "NO_RESTOCK",
    }
);

wire_enum!(
    /// `OrderTransactionKind`.
    TransactionKind {
        /// `SALE`.
        Sale => "SALE",
        /// `CAPTURE`.
        Capture => "CAPTURE",
        /// `AUTHORIZATION`.
        Authorization => "AUTHORIZATION",
        /// `VOID`.
        Void => "VOID",
        /// `REFUND`.
        Refund => "REFUND",
        /// `CHANGE`.
        Change => "CHANGE",
        /// `EMV_AUTHORIZATION`.
        EmvAuthorization => "EMV_AUTHORIZATION",
        /// `SUGGESTED_REFUND`.
        SuggestedRefund => "SUGGESTED_REFUND",
    }
);

wire_enum!(
    /// `OrderTransactionStatus`.
    TransactionStatus {
        /// `SUCCESS`.
        Success => "SUCCESS",
        /// `PENDING`.
        Pending => "PENDING",
        /// `FAILURE`.
        Failure => "FAILURE",
        /// `ERROR`.
        Error => "ERROR",
        /// `AWAITING_RESPONSE`.
        AwaitingResponse => "AWAITING_RESPONSE",
        /// `UNKNOWN`.
        StatusUnknown => "UNKNOWN",
    }
);

wire_enum!(
    /// `ShopifyPaymentsPayoutStatus`.
    PayoutStatus {
        /// `SCHEDULED`.
        Scheduled => "SCHEDULED",
        /// `IN_TRANSIT` (deprecated).
        InTransit => "IN_TRANSIT",
        /// `PAID`.
        Paid => "PAID",
        /// `FAILED`.
        Failed => "FAILED",
        /// `CANCELED`.
        Canceled => "CANCELED",
    }
);

wire_enum!(
    /// `ShopifyPaymentsPayoutTransactionType`.
    PayoutDirection {
        /// `DEPOSIT`: money to the bank.
        Deposit => "DEPOSIT",
        /// `WITHDRAWAL`: money back from the bank.
        Withdrawal => "WITHDRAWAL",
    }
);

wire_enum!(
    /// `ShopifyPaymentsTransactionType` (the common values; the enum has many more, which
    /// arrive as `Unknown` and become settlement lines of kind `Unknown` with their code).
    BalanceTransactionType {
        /// `CHARGE`.
        Charge => "CHARGE",
        /// `REFUND`.
        Refund => "REFUND",
        /// `DISPUTE`.
        Dispute => "DISPUTE",
        /// `RESERVED_FUNDS`.
        ReservedFunds => "RESERVED_FUNDS",
        /// `RESERVED_FUNDS_WITHDRAWAL`.
        ReservedFundsWithdrawal => "RESERVED_FUNDS_WITHDRAWAL",
        /// `RESERVED_FUNDS_REVERSAL`.
        ReservedFundsReversal => "RESERVED_FUNDS_REVERSAL",
        /// `ADJUSTMENT`.
        Adjustment => "ADJUSTMENT",
        /// `CREDIT`.
        Credit => "CREDIT",
        /// `DEBIT`.
        Debit => "DEBIT",
        /// `PAYOUT`.
        Payout => "PAYOUT",
        /// `PAYOUT_FAILURE`.
        PayoutFailure => "PAYOUT_FAILURE",
        /// `PAYOUT_CANCELLATION`.
        PayoutCancellation => "PAYOUT_CANCELLATION",
        /// `APPLICATION_FEE_REFUND`.
        ApplicationFeeRefund => "APPLICATION_FEE_REFUND",
        /// `TAX_ADJUSTMENT_DEBIT`.
        TaxAdjustmentDebit => "TAX_ADJUSTMENT_DEBIT",
        /// `TAX_ADJUSTMENT_CREDIT`.
        TaxAdjustmentCredit => "TAX_ADJUSTMENT_CREDIT",
    }
);

/// `MoneyV2`: an amount (a `Decimal` scalar, i.e. a JSON string) and an ISO 4217 code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneyV2 {
    /// Decimal string, e.g. `"10.00"`.
    pub amount: String,
    /// ISO 4217 code, e.g. `"USD"`.
    pub currency_code: String,
}

/// `MoneyBag`: the same amount in the shop currency and the buyer's presentment currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneyBag {
    /// In the shop currency: the amount the shop books.
    pub shop_money: MoneyV2,
    /// In the currency the buyer saw.
    pub presentment_money: MoneyV2,
}

/// `PageInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    /// More pages follow.
    pub has_next_page: bool,
    /// The cursor of the last node, to pass as `after`.
    #[serde(default)]
    pub end_cursor: Option<String>,
}

/// A connection, read through its `nodes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    /// The nodes.
    pub nodes: Vec<T>,
    /// Paging state (nested connections often omit it).
    #[serde(default)]
    pub page_info: Option<PageInfo>,
}

impl<T> Default for Connection<T> {
    fn default() -> Self {
        Connection {
            nodes: Vec::new(),
            page_info: None,
        }
    }
}

/// A reference to another object by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRef {
    /// Global id (`gid://shopify/…`).
    pub id: String,
}

/// `MailingAddress` (only the fields the connector reads).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailingAddress {
    /// Full name.
    #[serde(default)]
    pub name: Option<String>,
    /// First street line.
    #[serde(default)]
    pub address1: Option<String>,
    /// Second street line.
    #[serde(default)]
    pub address2: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// Province / state code.
    #[serde(default)]
    pub province_code: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub zip: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    pub country_code_v2: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
}

/// The discount application a discount allocation comes from. `code` is set for
/// `DiscountCodeApplication`, `title` for automatic, manual and script applications.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscountApplication {
    /// The concrete type.
    #[serde(default, rename = "__typename")]
    pub typename: Option<String>,
    /// `ACROSS`, `EACH` or `ONE`.
    #[serde(default)]
    pub allocation_method: Option<String>,
    /// `LINE_ITEM` or `SHIPPING_LINE`.
    #[serde(default)]
    pub target_type: Option<String>,
    /// The discount code, for code applications.
    #[serde(default)]
    pub code: Option<String>,
    /// The title, for automatic / manual / script applications.
    #[serde(default)]
    pub title: Option<String>,
}

/// `DiscountAllocation`: the part of a discount application that lands on a line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscountAllocation {
    /// Amount allocated to this line (total for the line).
    pub allocated_amount_set: MoneyBag,
    /// Where it comes from.
    #[serde(default)]
    pub discount_application: DiscountApplication,
}

/// `TaxLine`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaxLine {
    /// Tax name, e.g. `"VAT"` or `"NY State Tax"`.
    #[serde(default)]
    pub title: Option<String>,
    /// Rate as a fraction (a GraphQL `Float`, e.g. `0.2`).
    #[serde(default)]
    pub rate: Option<serde_json::Number>,
    /// Amount.
    pub price_set: MoneyBag,
    /// True when the sales channel that submitted the line (a marketplace) remits the tax.
    #[serde(default)]
    pub channel_liable: Option<bool>,
}

/// `LineItem`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    /// Global id.
    pub id: String,
    /// Variant SKU, if any.
    #[serde(default)]
    pub sku: Option<String>,
    /// Title.
    pub title: String,
    /// Units ordered.
    pub quantity: i64,
    /// The variant.
    #[serde(default)]
    pub variant: Option<IdRef>,
    /// The product.
    #[serde(default)]
    pub product: Option<IdRef>,
    /// Unit price before discounts.
    pub original_unit_price_set: MoneyBag,
    /// Discounts on this line (line-level and the line's share of order-level discounts).
    #[serde(default)]
    pub discount_allocations: Vec<DiscountAllocation>,
    /// Taxes on this line.
    #[serde(default)]
    pub tax_lines: Vec<TaxLine>,
}

/// `ShippingLine`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippingLine {
    /// Method name.
    #[serde(default)]
    pub title: Option<String>,
    /// Price before shipping discounts.
    pub original_price_set: MoneyBag,
    /// Shipping discounts.
    #[serde(default)]
    pub discount_allocations: Vec<DiscountAllocation>,
    /// Taxes on shipping.
    #[serde(default)]
    pub tax_lines: Vec<TaxLine>,
}

/// `FulfillmentTrackingInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingInfo {
    /// Carrier name.
    #[serde(default)]
    pub company: Option<String>,
    /// Tracking number.
    #[serde(default)]
    pub number: Option<String>,
}

/// `FulfillmentLineItem`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentLineItem {
    /// The order line.
    pub line_item: IdRef,
    /// Units in this fulfilment.
    pub quantity: i64,
}

/// `Fulfillment`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fulfillment {
    /// Global id.
    pub id: String,
    /// Status.
    pub status: ShipmentStatus,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Tracking.
    #[serde(default)]
    pub tracking_info: Vec<TrackingInfo>,
    /// Lines shipped.
    #[serde(default)]
    pub fulfillment_line_items: Connection<FulfillmentLineItem>,
}

/// `Order` (the fields the connector selects).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// Global id, `gid://shopify/Order/<n>`.
    pub id: String,
    /// Display name, e.g. `"#1001"`.
    pub name: String,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// When it was processed (imported orders may differ from creation).
    #[serde(default)]
    pub processed_at: Option<String>,
    /// Cancellation time.
    #[serde(default)]
    pub cancelled_at: Option<String>,
    /// Cancellation reason.
    #[serde(default)]
    pub cancel_reason: Option<String>,
    /// Closed (archived).
    #[serde(default)]
    pub closed: bool,
    /// Test order.
    #[serde(default)]
    pub test: bool,
    /// Financial status (nullable).
    #[serde(default)]
    pub display_financial_status: Option<FinancialStatus>,
    /// Fulfilment status.
    pub display_fulfillment_status: FulfillmentStatus,
    /// Shop currency.
    pub currency_code: String,
    /// Buyer's currency.
    pub presentment_currency_code: String,
    /// Whether prices include taxes.
    #[serde(default)]
    pub taxes_included: bool,
    /// What the buyer pays.
    pub total_price_set: MoneyBag,
    /// Gateways used.
    #[serde(default)]
    pub payment_gateway_names: Vec<String>,
    /// Buyer e-mail (protected customer data; may be null).
    #[serde(default)]
    pub email: Option<String>,
    /// Buyer phone (protected customer data; may be null).
    #[serde(default)]
    pub phone: Option<String>,
    /// Ship-to.
    #[serde(default)]
    pub shipping_address: Option<MailingAddress>,
    /// Lines.
    pub line_items: Connection<LineItem>,
    /// Shipping charges.
    #[serde(default)]
    pub shipping_lines: Connection<ShippingLine>,
    /// Fulfilments.
    #[serde(default)]
    pub fulfillments: Vec<Fulfillment>,
}

/// `RefundLineItem`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundLineItem {
    /// The order line refunded.
    pub line_item: RefundedLine,
    /// Units.
    pub quantity: i64,
    /// What happens to the goods.
    pub restock_type: RestockType,
    /// Refunded amount before tax (tax-inclusive when the order's prices include tax).
    pub subtotal_set: MoneyBag,
    /// Tax refunded.
    pub total_tax_set: MoneyBag,
}

/// The order line of a refund line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundedLine {
    /// Global id.
    pub id: String,
    /// SKU.
    #[serde(default)]
    pub sku: Option<String>,
}

/// `RefundShippingLine`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundShippingLine {
    /// Shipping refunded, before tax.
    pub subtotal_amount_set: MoneyBag,
    /// Tax on the refunded shipping.
    #[serde(default)]
    pub tax_amount_set: Option<MoneyBag>,
}

/// `OrderTransaction` (of a refund).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderTransaction {
    /// Kind.
    pub kind: TransactionKind,
    /// Status.
    pub status: TransactionStatus,
    /// Gateway.
    #[serde(default)]
    pub gateway: Option<String>,
    /// Amount.
    pub amount_set: MoneyBag,
}

/// `Refund`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// Global id.
    pub id: String,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// Merchant note (the reason).
    #[serde(default)]
    pub note: Option<String>,
    /// Total refunded.
    pub total_refunded_set: MoneyBag,
    /// Per-line refunds.
    #[serde(default)]
    pub refund_line_items: Connection<RefundLineItem>,
    /// Shipping refunds.
    #[serde(default)]
    pub refund_shipping_lines: Connection<RefundShippingLine>,
    /// Money movements.
    #[serde(default)]
    pub transactions: Connection<OrderTransaction>,
}

/// An order with its refunds (the shape of the refunds query).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRefunds {
    /// Order global id.
    pub id: String,
    /// Shop currency.
    pub currency_code: String,
    /// Whether prices include taxes.
    #[serde(default)]
    pub taxes_included: bool,
    /// Refunds.
    #[serde(default)]
    pub refunds: Vec<Refund>,
}

/// `ShopifyPaymentsPayout`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payout {
    /// Global id.
    pub id: String,
    /// REST id (an `UnsignedInt64`, serialized as a string).
    pub legacy_resource_id: String,
    /// When it was issued.
    pub issued_at: String,
    /// Status.
    pub status: PayoutStatus,
    /// Direction.
    pub transaction_type: PayoutDirection,
    /// Amount.
    pub net: MoneyV2,
}

/// `ShopifyPaymentsBalanceTransaction`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceTransaction {
    /// Global id.
    pub id: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: BalanceTransactionType,
    /// Test mode.
    #[serde(default)]
    pub test: bool,
    /// Gross amount (signed from the balance's point of view).
    pub amount: MoneyV2,
    /// Fees deducted (positive).
    pub fee: MoneyV2,
    /// `amount − fee`.
    pub net: MoneyV2,
    /// When it was processed.
    pub transaction_date: String,
    /// Adjustment reason.
    #[serde(default)]
    pub adjustment_reason: Option<String>,
    /// The order, if any.
    #[serde(default)]
    pub associated_order: Option<IdRef>,
}

/// `Shop` (health check).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shop {
    /// Shop name.
    pub name: String,
    /// Shop currency.
    pub currency_code: String,
    /// IANA zone.
    #[serde(default)]
    pub iana_timezone: Option<String>,
}

/// `extensions.cost`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryCost {
    /// Cost computed before running the query.
    pub requested_query_cost: f64,
    /// Actual cost (null when throttled).
    #[serde(default)]
    pub actual_query_cost: Option<f64>,
    /// The bucket.
    pub throttle_status: ThrottleStatus,
}

/// `extensions.cost.throttleStatus`: the leaky bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStatus {
    /// Bucket size.
    pub maximum_available: f64,
    /// Points available now.
    pub currently_available: f64,
    /// Points restored per second.
    pub restore_rate: f64,
}

/// `UserError` / `InventorySetQuantitiesUserError` of a mutation payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserError {
    /// Error code (not every payload has one).
    #[serde(default)]
    pub code: Option<String>,
    /// The input path.
    #[serde(default)]
    pub field: Option<Vec<String>>,
    /// Message.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_enum_values_survive() {
        let s: FinancialStatus = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
        assert_eq!(s, FinancialStatus::Unknown("SOMETHING_NEW".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"SOMETHING_NEW\"");
        let s: FinancialStatus = serde_json::from_str("\"PARTIALLY_REFUNDED\"").unwrap();
        assert_eq!(s, FinancialStatus::PartiallyRefunded);
        assert_eq!(
            FulfillmentStatus::parse("FULFILLMENT_NOT_REQUIRED"),
            FulfillmentStatus::FulfillmentNotRequired
        );
    }
}
