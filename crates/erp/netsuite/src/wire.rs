//! NetSuite's own JSON shapes (REST record API v1, SuiteQL, error bodies).
//!
//! Requests: references are `{"id": "…"}`, sublists `{"items": […]}`, dates `YYYY-MM-DD`,
//! amounts JSON numbers. Amounts are written from the `Decimal`'s exact text as a raw JSON
//! number ([`JsonDecimal`]), never through `f64`.
//!
//! Responses: record reads carry typed JSON; SuiteQL rows carry every value as a string
//! (`"quantityonhand": "12"`), so numbers are read with [`NsNumber`], which takes either.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

/// A reference to another record by internal id: `{"id": "6"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
    /// Internal id.
    pub id: String,
}

impl Ref {
    /// A reference.
    pub fn id(id: impl Into<String>) -> Ref {
        Ref { id: id.into() }
    }
}

/// A sublist: `{"items": [ … ]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sublist<T> {
    /// The lines.
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}

impl<T> Sublist<T> {
    /// Wraps lines.
    pub fn of(items: Vec<T>) -> Sublist<T> {
        Sublist { items }
    }
}

/// A decimal written as a JSON number with exactly the decimal's digits (`0.30`, never
/// `0.30000000000000004`). Works with `serde_json` (raw value); no `f64` on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonDecimal(pub Decimal);

impl Serialize for JsonDecimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // `Decimal`'s Display never uses an exponent: it is always a valid JSON number.
        let raw = RawValue::from_string(self.0.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

/// A number NetSuite may send as a JSON number or as a string (SuiteQL). Keeps the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsNumber(pub String);

impl NsNumber {
    /// As an exact decimal.
    pub fn decimal(&self) -> Option<Decimal> {
        let t = self.0.trim();
        Decimal::from_str_exact(t)
            .ok()
            .or_else(|| Decimal::from_scientific(t).ok())
    }

    /// As a whole number (a fraction is refused).
    pub fn integer(&self) -> Option<i64> {
        let d = self.decimal()?;
        if d.fract().is_zero() {
            i64::try_from(d.trunc()).ok()
        } else {
            None
        }
    }
}

impl<'de> Deserialize<'de> for NsNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NsNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a numeric string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NsNumber, E> {
                Ok(NsNumber(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NsNumber, E> {
                Ok(NsNumber(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NsNumber, E> {
                Ok(NsNumber(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NsNumber, E> {
                // Shortest round-trip text of the double NetSuite sent.
                Ok(NsNumber(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A sales order line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesOrderLine {
    /// The item.
    pub item: Ref,
    /// Units.
    pub quantity: u32,
    /// Unit price.
    pub rate: JsonDecimal,
    /// Line amount after line discounts.
    pub amount: JsonDecimal,
    /// Title shown to the buyer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `PUT /record/v1/salesOrder/eid:<key>` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesOrderBody {
    /// Customer.
    pub entity: Ref,
    /// Transaction date `YYYY-MM-DD`.
    pub tran_date: String,
    /// "PO/Check #": the marketplace order id.
    pub other_ref_num: String,
    /// Memo.
    pub memo: String,
    /// Currency.
    pub currency: Ref,
    /// Subsidiary, when the entity is mapped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subsidiary: Option<Ref>,
    /// Lines.
    pub item: Sublist<SalesOrderLine>,
    /// Shipping charged (net of shipping discounts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_cost: Option<JsonDecimal>,
    /// Discount item for order-level discounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_item: Option<Ref>,
    /// Order-level discount as a negative amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_rate: Option<JsonDecimal>,
}

/// A journal entry line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JournalLineBody {
    /// GL account.
    pub account: Ref,
    /// Debit amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debit: Option<JsonDecimal>,
    /// Credit amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit: Option<JsonDecimal>,
    /// Line memo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
    /// Dimension fields (`department`, `class`, `location`, `subsidiary`, `custcol_…`).
    #[serde(flatten)]
    pub dimensions: BTreeMap<String, Ref>,
}

/// `PUT /record/v1/journalEntry/eid:<key>` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntryBody {
    /// Subsidiary.
    pub subsidiary: Ref,
    /// Posting date.
    pub tran_date: String,
    /// Currency.
    pub currency: Ref,
    /// Header memo.
    pub memo: String,
    /// Lines.
    pub line: Sublist<JournalLineBody>,
}

/// An item fulfilment line of a transform body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfilmentLine {
    /// The sales order line (`line` of the order; not sequential).
    pub order_line: u32,
    /// Whether this line ships now. NetSuite ships every line not listed, so lines that do not
    /// ship are listed with `false`.
    pub item_receive: bool,
    /// Units shipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// Ship-from location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Ref>,
}

/// A package of an item fulfilment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageLine {
    /// Tracking number.
    pub package_tracking_number: String,
    /// Carrier, as description.
    pub package_descr: String,
}

/// `POST /record/v1/salesOrder/{id}/!transform/itemFulfillment` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfilmentBody {
    /// External id (our idempotency key).
    pub external_id: String,
    /// Date shipped.
    pub tran_date: String,
    /// Lines.
    pub item: Sublist<FulfilmentLine>,
    /// Packages.
    pub package: Sublist<PackageLine>,
}

/// A credit memo line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CreditMemoLine {
    /// Item.
    pub item: Ref,
    /// Units (0 for a price-only refund).
    pub quantity: u32,
    /// Amount credited.
    pub amount: JsonDecimal,
}

/// `PUT /record/v1/creditMemo/eid:<key>` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditMemoBody {
    /// Customer.
    pub entity: Ref,
    /// Date.
    pub tran_date: String,
    /// Marketplace order id.
    pub other_ref_num: String,
    /// Memo.
    pub memo: String,
    /// Currency.
    pub currency: Ref,
    /// The sales order refunded, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_from: Option<Ref>,
    /// Lines.
    pub item: Sublist<CreditMemoLine>,
}

/// A customer refund apply line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApplyLine {
    /// The credit memo paid out.
    pub doc: Ref,
    /// Apply it.
    pub apply: bool,
    /// Amount.
    pub amount: JsonDecimal,
}

/// `PUT /record/v1/customerRefund/eid:<key>` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRefundBody {
    /// Customer.
    pub customer: Ref,
    /// Date.
    pub tran_date: String,
    /// Currency.
    pub currency: Ref,
    /// Account paid from.
    pub account: Ref,
    /// Memo.
    pub memo: String,
    /// Credit memos applied.
    pub apply: Sublist<ApplyLine>,
}

/// A reference as read back (`{"id": "6", "refName": "Shanghai"}`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefRead {
    /// Internal id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub ref_name: Option<String>,
}

/// A sales order line as read back with `expandSubResources=true`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesOrderLineRead {
    /// Line number (unique, not sequential).
    pub line: u32,
    /// Item.
    pub item: RefRead,
    /// Units ordered.
    pub quantity: NsNumber,
    /// Units fulfilled so far.
    #[serde(default)]
    pub quantity_fulfilled: Option<NsNumber>,
}

/// The identity of any record as read back (`GET /record/v1/<type>/<id>`); other fields are
/// ignored.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordIdentity {
    /// Internal id.
    pub id: String,
    /// External id.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Document number.
    #[serde(default)]
    pub tran_id: Option<String>,
}

/// A sales order as read back with `expandSubResources=true`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordRead {
    /// Internal id.
    pub id: String,
    /// External id.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Document number.
    #[serde(default)]
    pub tran_id: Option<String>,
    /// Item lines (sales orders, with `expandSubResources=true`).
    #[serde(default)]
    pub item: Option<Sublist<SalesOrderLineRead>>,
}

/// `POST /query/v1/suiteql` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SuiteQlRequest {
    /// The query.
    pub q: String,
}

/// One page of SuiteQL results.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuiteQlPage {
    /// Rows on this page (column names lower case; values strings).
    #[serde(default)]
    pub items: Vec<serde_json::Map<String, serde_json::Value>>,
    /// More rows after this page.
    #[serde(default)]
    pub has_more: bool,
    /// Rows on this page.
    #[serde(default)]
    pub count: u64,
    /// Offset of this page.
    #[serde(default)]
    pub offset: u64,
    /// Rows in all.
    #[serde(default)]
    pub total_results: Option<u64>,
}

/// A transaction row of `SELECT id, type, tranid, externalid FROM transaction …`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TransactionRow {
    /// Internal id.
    pub id: NsNumber,
    /// Type id (`SalesOrd`, `Journal`, `ItemShip`, `CustCred`, `CustRfnd`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Document number.
    #[serde(default)]
    pub tranid: Option<String>,
    /// External id.
    #[serde(default)]
    pub externalid: Option<String>,
}

/// An item row of `SELECT id, itemid FROM item …`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ItemRow {
    /// Internal id.
    pub id: NsNumber,
    /// Item name/number (our SKU).
    pub itemid: String,
}

/// A stock row of the `inventoryitemlocations` query.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct InventoryRow {
    /// Item name/number.
    pub itemid: String,
    /// Location internal id.
    pub location: NsNumber,
    /// On hand.
    #[serde(default)]
    pub quantityonhand: Option<NsNumber>,
    /// Committed to orders.
    #[serde(default)]
    pub quantitycommitted: Option<NsNumber>,
    /// Available.
    #[serde(default)]
    pub quantityavailable: Option<NsNumber>,
}

/// One entry of `o:errorDetails`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ErrorDetail {
    /// Human-readable detail.
    #[serde(default)]
    pub detail: String,
    /// NetSuite error code (`INVALID_LOGIN`, `NONEXISTENT_ID`, `USER_ERROR`…).
    #[serde(rename = "o:errorCode", default)]
    pub error_code: Option<String>,
    /// JSON path of the offending field in the request body.
    #[serde(rename = "o:errorPath", default)]
    pub error_path: Option<String>,
    /// URL path concerned.
    #[serde(rename = "o:errorUrlPath", default)]
    pub error_url_path: Option<String>,
    /// Header concerned.
    #[serde(rename = "o:errorHeader", default)]
    pub error_header: Option<String>,
    /// Query parameter concerned.
    #[serde(rename = "o:errorQueryParam", default)]
    pub error_query_param: Option<String>,
}

/// NetSuite's error body: `{"type", "title", "status", "o:errorDetails": […]}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    /// Problem type URL.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Title (`Unauthorized`).
    #[serde(default)]
    pub title: Option<String>,
    /// HTTP status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Details.
    #[serde(rename = "o:errorDetails", default)]
    pub details: Vec<ErrorDetail>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn decimals_are_written_byte_exact() {
        let a = dec!(0.1) + dec!(0.2);
        let line = JournalLineBody {
            account: Ref::id("10"),
            debit: Some(JsonDecimal(a)),
            credit: None,
            memo: None,
            dimensions: BTreeMap::new(),
        };
        let json = serde_json::to_string(&line).unwrap();
        assert_eq!(json, r#"{"account":{"id":"10"},"debit":0.3}"#);
        // Trailing zeros and digits no f64 can hold survive.
        let big = dec!(12345678901234567.89);
        let json = serde_json::to_string(&JsonDecimal(big)).unwrap();
        assert_eq!(json, "12345678901234567.89");
        assert_eq!(
            serde_json::to_string(&JsonDecimal(dec!(0.30))).unwrap(),
            "0.30"
        );
        assert_eq!(
            serde_json::to_string(&JsonDecimal(dec!(-5.00))).unwrap(),
            "-5.00"
        );
    }

    #[test]
    fn numbers_read_from_strings_or_numbers() {
        let r: InventoryRow = serde_json::from_str(
            r#"{"links":[],"itemid":"SKU-1","location":"2","quantityonhand":"12","quantitycommitted":3,"quantityavailable":"9"}"#,
        )
        .unwrap();
        assert_eq!(r.location.integer(), Some(2));
        assert_eq!(r.quantitycommitted.unwrap().integer(), Some(3));
        assert_eq!(NsNumber("1.5".into()).integer(), None);
        assert_eq!(NsNumber("abc".into()).decimal(), None);
    }

    #[test]
    fn error_body_parses() {
        let b: ErrorBody = serde_json::from_str(r#"{"type":"https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2","title":"Unauthorized","status":401,"o:errorDetails":[{"detail":"Invalid login attempt.","o:errorCode":"INVALID_LOGIN"}]}"#).unwrap();
        assert_eq!(b.status, Some(401));
        assert_eq!(b.details[0].error_code.as_deref(), Some("INVALID_LOGIN"));
    }
}
