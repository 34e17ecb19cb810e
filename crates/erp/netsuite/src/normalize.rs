//! Pure conversions: canonical documents → NetSuite request bodies, and NetSuite answers →
//! canonical values. No I/O here; every function is tested on fixtures.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use marketsync_core::{
    Currency, DiscountFunder, ErpDocumentId, ErpDocumentKind, ErpDocumentRef, ErpItemId, Error,
    ErrorKind, InventoryPosition, JournalEntry, LocationId, Money, Order, OrderLineId, ReasonCode,
    Refund, RefundStatus, Result, Shipment, Side, Sku,
};
use rust_decimal::Decimal;

use crate::config::NetSuiteConfig;
use crate::text;
use crate::wire::{
    CreditMemoBody, CreditMemoLine, FulfilmentBody, FulfilmentLine, InventoryRow, ItemRow,
    JournalEntryBody, JournalLineBody, JsonDecimal, PackageLine, RecordRead, Ref, SalesOrderBody,
    SalesOrderLine, Sublist, TransactionRow,
};

fn mapping(message: impl Into<String>) -> Error {
    Error::mapping(ReasonCode::NetsuiteReference, message)
}

/// The local date of `t` in the books' zone, as NetSuite's `YYYY-MM-DD`.
pub fn tran_date(t: DateTime<Utc>, config: &NetSuiteConfig) -> Result<String> {
    let tz: chrono_tz::Tz = config
        .time_zone
        .parse()
        .map_err(|_| Error::new(ErrorKind::ConfigInvalid, "time_zone is not an IANA zone"))?;
    Ok(t.with_timezone(&tz)
        .date_naive()
        .format("%Y-%m-%d")
        .to_string())
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The currency's internal id; an unmapped currency is refused (never booked in a default).
pub fn currency_ref(currency: Currency, config: &NetSuiteConfig) -> Result<Ref> {
    config
        .currencies
        .get(currency.code())
        .map(Ref::id)
        .ok_or_else(|| mapping(format!("currency {currency} has no NetSuite currency id")))
}

fn customer_ref(channel: &marketsync_core::Channel, config: &NetSuiteConfig) -> Ref {
    Ref::id(
        config
            .channel_customers
            .get(&channel.name())
            .unwrap_or(&config.customer),
    )
}

fn exact(m: Money) -> JsonDecimal {
    JsonDecimal(m.amount)
}

/// The sales order body. `items` are the mapping layer's resolved items; `sku_items` are
/// internal ids looked up by SKU for the other lines (a line with neither is a `Mapping`
/// error with reason `UnknownSku`).
pub fn sales_order_body(
    order: &Order,
    items: &BTreeMap<OrderLineId, ErpItemId>,
    sku_items: &BTreeMap<Sku, String>,
    entity: Option<&str>,
    config: &NetSuiteConfig,
) -> Result<SalesOrderBody> {
    order.validate()?;
    let mut lines = Vec::with_capacity(order.lines.len());
    for line in &order.lines {
        let item = match items.get(&line.line_id) {
            Some(i) => i.as_str().to_owned(),
            None => sku_items.get(&line.sku).cloned().ok_or_else(|| {
                Error::mapping(
                    ReasonCode::UnknownSku,
                    format!("SKU {} has no NetSuite item", line.sku),
                )
            })?,
        };
        let gross = line.gross()?;
        let discounts = Money::sum(order.currency, line.discounts.iter().map(|d| &d.amount))?;
        lines.push(SalesOrderLine {
            item: Ref::id(item),
            quantity: line.quantity,
            rate: exact(line.unit_price),
            amount: exact(gross.checked_sub(&discounts)?),
            description: Some(text::text_area(&line.title, text::TEXT_AREA_MAX)),
        });
    }
    let shipping = Money::sum(order.currency, order.shipping.iter().map(|s| &s.amount))?;
    let shipping_discounts = Money::sum(
        order.currency,
        order
            .shipping
            .iter()
            .flat_map(|s| s.discounts.iter())
            .map(|d| &d.amount),
    )?;
    let order_discount = Money::sum(order.currency, order.discounts.iter().map(|d| &d.amount))?;
    let (discount_item, discount_rate) = if order_discount.is_zero() {
        (None, None)
    } else {
        let item = config.discount_item.as_ref().ok_or_else(|| {
            mapping("the order has order-level discounts and no discount_item is configured")
        })?;
        (Some(Ref::id(item)), Some(exact(order_discount.neg())))
    };
    let platform_funded = order
        .discounts
        .iter()
        .filter(|d| d.funder == DiscountFunder::Platform)
        .count();
    let subsidiary = match entity {
        Some(e) => Some(Ref::id(config.subsidiaries.get(e).ok_or_else(|| {
            mapping(format!("legal entity {e} has no NetSuite subsidiary"))
        })?)),
        None => None,
    };
    Ok(SalesOrderBody {
        entity: customer_ref(&order.channel, config),
        tran_date: tran_date(order.placed_at, config)?,
        other_ref_num: text::single_line(order.id.as_str(), text::FREE_FORM_MAX),
        memo: text::single_line(
            &format!(
                "{} order {} ({}){}",
                order.channel,
                order.id,
                order.raw_status,
                if platform_funded > 0 {
                    ", incl. platform-funded discount"
                } else {
                    ""
                }
            ),
            text::FREE_FORM_MAX,
        ),
        currency: currency_ref(order.currency, config)?,
        subsidiary,
        item: Sublist::of(lines),
        shipping_cost: if shipping.is_zero() {
            None
        } else {
            Some(exact(shipping.checked_sub(&shipping_discounts)?))
        },
        discount_item,
        discount_rate,
    })
}

fn account_ref(code: &str, config: &NetSuiteConfig) -> Result<Ref> {
    match config.accounts.get(code) {
        Some(id) => Ok(Ref::id(id)),
        None if config.account_codes_are_internal_ids => Ok(Ref::id(code)),
        None => Err(mapping(format!(
            "GL account {code} has no NetSuite account id"
        ))),
    }
}

fn dimension_value(source: &str, dims: &marketsync_core::Dimensions) -> Option<String> {
    match source {
        "channel" => dims.channel.as_ref().map(|c| c.name()),
        "shop" => dims.shop.as_ref().map(|s| s.as_str().to_owned()),
        "entity" => dims.entity.as_ref().map(|e| e.as_str().to_owned()),
        "order_id" => dims.order_id.clone(),
        other => dims.extra.get(other).cloned(),
    }
}

/// The journal entry body. Refuses an unbalanced, unrounded or multi-currency entry before
/// anything is sent.
pub fn journal_body(entry: &JournalEntry, config: &NetSuiteConfig) -> Result<JournalEntryBody> {
    entry.validate()?;
    let currency = entry
        .lines
        .first()
        .map(|l| l.amount.currency)
        .ok_or_else(|| Error::validation(ReasonCode::EmptyJournal, "no lines"))?;
    if entry.lines.iter().any(|l| l.amount.currency != currency) {
        return Err(Error::validation(
            ReasonCode::MoneyInvalid,
            "a NetSuite journal entry has one currency; split the entry per currency",
        ));
    }
    let subsidiary = config
        .subsidiaries
        .get(entry.entity.as_str())
        .ok_or_else(|| {
            mapping(format!(
                "legal entity {} has no NetSuite subsidiary",
                entry.entity
            ))
        })?;
    let mut lines = Vec::with_capacity(entry.lines.len());
    for line in &entry.lines {
        let mut dimensions = BTreeMap::new();
        for rule in &config.dimensions {
            let Some(value) = dimension_value(&rule.source, &line.dimensions) else {
                continue;
            };
            let id = if rule.values.is_empty() {
                value
            } else {
                rule.values.get(&value).cloned().ok_or_else(|| {
                    mapping(format!(
                        "{} value {value:?} has no NetSuite {} id",
                        rule.source, rule.field
                    ))
                })?
            };
            dimensions.insert(rule.field.clone(), Ref::id(id));
        }
        let amount = exact(line.amount);
        let (debit, credit) = match line.side {
            Side::Debit => (Some(amount), None),
            Side::Credit => (None, Some(amount)),
        };
        lines.push(JournalLineBody {
            account: account_ref(line.account.as_str(), config)?,
            debit,
            credit,
            memo: line
                .memo
                .as_deref()
                .map(|m| text::single_line(m, text::FREE_FORM_MAX)),
            dimensions,
        });
    }
    // Each part cleaned first, so a control character at its end leaves no double space.
    let memo = text::single_line(&entry.memo, text::FREE_FORM_MAX);
    let memo = match &entry.reference {
        Some(r) => format!("{memo} [{}]", text::single_line(r, text::FREE_FORM_MAX)),
        None => memo,
    };
    let memo = text::single_line(&memo, text::FREE_FORM_MAX);
    Ok(JournalEntryBody {
        subsidiary: Ref::id(subsidiary),
        tran_date: date(entry.date),
        currency: Ref::id(currency_ref(currency, config)?.id),
        memo,
        line: Sublist::of(lines),
    })
}

/// The item fulfilment transform body. Every order line is listed: shipped lines with their
/// quantity, the others with `itemReceive: false` (NetSuite ships unlisted lines). Shipment
/// lines are matched to order lines by item; an empty shipment ships every open line.
pub fn fulfilment_body(
    shipment: &Shipment,
    external_id: &str,
    order: &RecordRead,
    sku_items: &BTreeMap<Sku, String>,
    config: &NetSuiteConfig,
) -> Result<FulfilmentBody> {
    let so_lines = order
        .item
        .as_ref()
        .map(|s| s.items.as_slice())
        .unwrap_or_default();
    let location = match &shipment.location {
        Some(l) => Some(Ref::id(config.locations.get(l.as_str()).ok_or_else(
            || mapping(format!("location {l} has no NetSuite location id")),
        )?)),
        None => None,
    };
    // Open units per sales order line.
    let mut open: Vec<(u32, String, i64)> = Vec::with_capacity(so_lines.len());
    for l in so_lines {
        let ordered = l.quantity.integer().ok_or_else(|| {
            Error::validation(
                ReasonCode::MalformedPayload,
                "sales order line quantity is not a whole number",
            )
        })?;
        let done = match &l.quantity_fulfilled {
            Some(q) => q.integer().ok_or_else(|| {
                Error::validation(
                    ReasonCode::MalformedPayload,
                    "quantityFulfilled is not a whole number",
                )
            })?,
            None => 0,
        };
        open.push((l.line, l.item.id.clone(), (ordered - done).max(0)));
    }
    let mut ship: BTreeMap<u32, u32> = BTreeMap::new();
    if shipment.lines.is_empty() {
        for (line, _, qty) in &open {
            if *qty > 0 {
                ship.insert(*line, u32::try_from(*qty).unwrap_or(u32::MAX));
            }
        }
    } else {
        for sl in &shipment.lines {
            let item = sku_items.get(&sl.sku).ok_or_else(|| {
                Error::mapping(
                    ReasonCode::UnknownSku,
                    format!("SKU {} has no NetSuite item", sl.sku),
                )
            })?;
            let mut remaining = i64::from(sl.quantity);
            for (line, it, qty) in open.iter_mut() {
                if remaining == 0 {
                    break;
                }
                let already = i64::from(ship.get(line).copied().unwrap_or(0));
                let free = *qty - already;
                if it == item && free > 0 {
                    let take = free.min(remaining);
                    remaining -= take;
                    ship.insert(*line, u32::try_from(already + take).unwrap_or(u32::MAX));
                }
            }
            if remaining > 0 {
                return Err(Error::validation(
                    ReasonCode::ErpRejected,
                    format!(
                        "the sales order has no open line for {remaining} unit(s) of SKU {}",
                        sl.sku
                    ),
                ));
            }
        }
    }
    if ship.is_empty() {
        return Err(Error::validation(
            ReasonCode::ErpRejected,
            "nothing left to fulfil on the sales order",
        ));
    }
    let lines = open
        .iter()
        .map(|(line, _, _)| match ship.get(line) {
            Some(q) => FulfilmentLine {
                order_line: *line,
                item_receive: true,
                quantity: Some(*q),
                location: location.clone(),
            },
            None => FulfilmentLine {
                order_line: *line,
                item_receive: false,
                quantity: None,
                location: None,
            },
        })
        .collect();
    Ok(FulfilmentBody {
        external_id: external_id.to_owned(),
        tran_date: tran_date(shipment.shipped_at, config)?,
        item: Sublist::of(lines),
        package: Sublist::of(vec![PackageLine {
            package_tracking_number: shipment.tracking_number.clone(),
            package_descr: shipment.carrier.clone(),
        }]),
    })
}

/// The credit memo body of a completed refund.
pub fn credit_memo_body(
    refund: &Refund,
    sku_items: &BTreeMap<Sku, String>,
    sales_order: Option<&str>,
    config: &NetSuiteConfig,
) -> Result<CreditMemoBody> {
    if refund.status != RefundStatus::Completed {
        return Err(Error::validation(
            ReasonCode::ErpRejected,
            format!(
                "refund {} is not completed (status {})",
                refund.id, refund.raw_status
            ),
        ));
    }
    if !refund.is_consistent() {
        return Err(Error::validation(
            ReasonCode::MoneyInvalid,
            format!(
                "refund {} lines and shipping do not add up to its total",
                refund.id
            ),
        ));
    }
    let mut lines = Vec::with_capacity(refund.lines.len() + 1);
    for l in &refund.lines {
        l.amount.ensure_rounded()?;
        // Tax added on top and owed by the seller needs NetSuite tax codes (SuiteTax), which
        // this adapter does not map: refuse rather than credit the wrong amount. Tax the
        // marketplace collects and remits is not the seller's to credit.
        if l.taxes.iter().any(|t| {
            !t.included_in_price && t.collected_by == marketsync_core::TaxCollector::Seller
        }) {
            return Err(mapping(format!(
                "refund {} line {} reverses seller-owed tax added on top of the price; \
                 tax codes are not mapped for NetSuite",
                refund.id, l.line_id
            )));
        }
        let item = sku_items.get(&l.sku).ok_or_else(|| {
            Error::mapping(
                ReasonCode::UnknownSku,
                format!("SKU {} has no NetSuite item", l.sku),
            )
        })?;
        lines.push(CreditMemoLine {
            item: Ref::id(item),
            quantity: l.quantity,
            amount: exact(l.amount),
        });
    }
    if let Some(s) = refund.shipping.filter(|s| !s.is_zero()) {
        let item = config.shipping_item.as_ref().ok_or_else(|| {
            mapping("the refund includes shipping and no shipping_item is configured")
        })?;
        lines.push(CreditMemoLine {
            item: Ref::id(item),
            quantity: 1,
            amount: exact(s),
        });
    }
    Ok(CreditMemoBody {
        entity: customer_ref(&refund.channel, config),
        tran_date: tran_date(refund.updated_at, config)?,
        other_ref_num: text::single_line(refund.order_id.as_str(), text::FREE_FORM_MAX),
        memo: text::single_line(
            &format!(
                "{} refund {} of order {}",
                refund.channel, refund.id, refund.order_id
            ),
            text::FREE_FORM_MAX,
        ),
        currency: currency_ref(refund.total.currency, config)?,
        created_from: sales_order.map(Ref::id),
        item: Sublist::of(lines),
    })
}

/// The document kind of a SuiteQL transaction type id.
pub fn document_kind(type_id: &str) -> ErpDocumentKind {
    match type_id {
        "SalesOrd" => ErpDocumentKind::SalesOrder,
        "Journal" => ErpDocumentKind::JournalEntry,
        "ItemShip" => ErpDocumentKind::Fulfilment,
        "CustCred" | "CustRfnd" | "CashRfnd" => ErpDocumentKind::Refund,
        other => ErpDocumentKind::Other(other.to_owned()),
    }
}

fn row<T: serde::de::DeserializeOwned>(
    r: serde_json::Map<String, serde_json::Value>,
    what: &str,
) -> Result<T> {
    serde_json::from_value(serde_json::Value::Object(r)).map_err(|e| {
        Error::validation(
            ReasonCode::MalformedPayload,
            format!("malformed SuiteQL {what} row"),
        )
        .with_source(e)
    })
}

/// The documents found by external id. Several rows: the first created (lowest id) wins and
/// the pick is logged.
pub fn document_from_rows(
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
) -> Result<Option<ErpDocumentRef>> {
    let mut found: Vec<(i64, TransactionRow)> = Vec::new();
    for r in rows {
        let t: TransactionRow = row(r, "transaction")?;
        let id = t.id.integer().filter(|id| *id > 0).ok_or_else(|| {
            Error::validation(
                ReasonCode::MalformedPayload,
                "transaction id is not a positive whole number",
            )
        })?;
        found.push((id, t));
    }
    found.sort_by_key(|(id, _)| *id);
    if found.len() > 1 {
        tracing::warn!(
            count = found.len(),
            "several NetSuite transactions share one external id"
        );
    }
    Ok(found.into_iter().next().map(|(id, t)| ErpDocumentRef {
        id: ErpDocumentId::new(id.to_string()),
        kind: document_kind(&t.kind),
        number: t.tranid,
        created: false,
    }))
}

/// SKU → item internal id from `SELECT id, itemid FROM item` rows.
pub fn items_from_rows(
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
) -> Result<BTreeMap<Sku, String>> {
    let mut out = BTreeMap::new();
    for r in rows {
        let i: ItemRow = row(r, "item")?;
        let id = i.id.integer().filter(|id| *id > 0).ok_or_else(|| {
            Error::validation(
                ReasonCode::MalformedPayload,
                "item id is not a positive whole number",
            )
        })?;
        if i.itemid.trim().is_empty() {
            return Err(Error::validation(
                ReasonCode::MalformedPayload,
                format!("item {id} has an empty itemid"),
            ));
        }
        out.insert(Sku::new(i.itemid), id.to_string());
    }
    Ok(out)
}

/// The largest stock quantity (in either sign) accepted from NetSuite: beyond it a figure is
/// taken for corrupt data (and would overflow the ATP arithmetic downstream).
pub const MAX_STOCK_QUANTITY: i64 = 1_000_000_000_000;

fn quantity(n: &Option<crate::wire::NsNumber>, field: &str) -> Result<i64> {
    let q = match n {
        None => return Ok(0),
        Some(n) if n.0.trim().is_empty() => return Ok(0),
        Some(n) => n
            .decimal()
            .map(|d: Decimal| d.trunc())
            .and_then(|d| i64::try_from(d).ok())
            .ok_or_else(|| {
                Error::validation(
                    ReasonCode::MalformedPayload,
                    format!("{field} is not a number"),
                )
            })?,
    };
    if q.checked_abs().is_none_or(|a| a > MAX_STOCK_QUANTITY) {
        return Err(Error::validation(
            ReasonCode::InvalidQuantity,
            format!("{field} {q} is beyond ±{MAX_STOCK_QUANTITY}"),
        ));
    }
    Ok(q)
}

/// Stock positions from `inventoryitemlocations` rows. NetSuite leaves quantities empty when
/// zero; `available` is NetSuite's own figure, or on hand − committed when absent.
pub fn inventory_from_rows(
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
    as_of: DateTime<Utc>,
) -> Result<Vec<InventoryPosition>> {
    let mut out = Vec::new();
    for r in rows {
        let i: InventoryRow = row(r, "inventory")?;
        let on_hand = quantity(&i.quantityonhand, "quantityonhand")?;
        let reserved = quantity(&i.quantitycommitted, "quantitycommitted")?;
        let available = match &i.quantityavailable {
            Some(_) => quantity(&i.quantityavailable, "quantityavailable")?,
            // Both are within ±MAX_STOCK_QUANTITY, so this cannot overflow; checked regardless.
            None => on_hand.checked_sub(reserved).ok_or_else(|| {
                Error::validation(
                    ReasonCode::InvalidQuantity,
                    "quantityonhand − quantitycommitted overflows",
                )
            })?,
        };
        if i.itemid.trim().is_empty() {
            return Err(Error::validation(
                ReasonCode::MalformedPayload,
                "inventory row with an empty itemid",
            ));
        }
        let location = i.location.0.trim();
        if location.is_empty() {
            return Err(Error::validation(
                ReasonCode::MalformedPayload,
                format!("inventory row for {} without a location", i.itemid),
            ));
        }
        out.push(InventoryPosition {
            sku: Sku::new(i.itemid.clone()),
            location: LocationId::new(location),
            on_hand,
            reserved,
            available,
            as_of,
        });
    }
    Ok(out)
}

/// A SQL string literal: quotes doubled.
pub fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `('a', 'b')` for an `IN` list.
pub fn sql_in_list<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let v: Vec<String> = values.into_iter().map(sql_literal).collect();
    format!("({})", v.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketsync_core::{
        Channel, FulfilmentChannel, JournalLine, OrderLine, OrderStatus, Revision, ShipmentLine,
        ShopId, TimeZoneId,
    };
    use rust_decimal_macros::dec;

    use crate::sign::TbaCredentials;

    fn config() -> NetSuiteConfig {
        let mut c = NetSuiteConfig::new(
            "1234567",
            TbaCredentials {
                consumer_key: "ck".into(),
                consumer_secret: "cs".into(),
                token_id: "tk".into(),
                token_secret: "ts".into(),
            },
            "101",
        );
        c.currencies.insert("CNY".into(), "5".into());
        c.subsidiaries.insert("CN01".into(), "3".into());
        c.accounts.insert("1122".into(), "210".into());
        c.accounts.insert("6001".into(), "400".into());
        c.time_zone = "Asia/Shanghai".into();
        c
    }

    fn cny(s: Decimal) -> Money {
        Money::new(s, Currency::CNY)
    }

    fn order() -> Order {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        Order {
            channel: Channel::Tmall,
            shop: ShopId::new("shop1"),
            id: "4012345".into(),
            revision: Revision::Version(1),
            status: OrderStatus::AwaitingFulfilment,
            raw_status: "WAIT_SELLER_SEND_GOODS".into(),
            // 2026-01-31 17:30 UTC is 2026-02-01 01:30 in Shanghai.
            placed_at: t("2026-01-31T17:30:00Z"),
            paid_at: None,
            updated_at: t("2026-01-31T17:31:00Z"),
            source_time_zone: TimeZoneId::shanghai(),
            currency: Currency::CNY,
            presentment: None,
            lines: vec![OrderLine {
                line_id: "1".into(),
                sku: "SKU-1".into(),
                platform_sku_id: None,
                listing_id: None,
                title: "Tea".into(),
                quantity: 3,
                unit_price: cny(dec!(0.10)),
                discounts: vec![],
                taxes: vec![],
                fulfilment_channel: None,
                raw_status: None,
                quantity_shipped: 0,
            }],
            discounts: vec![],
            shipping: vec![],
            taxes: vec![],
            payments: vec![],
            fulfilment_channel: FulfilmentChannel::Seller,
            buyer: None,
            ship_to: None,
            attribution: None,
            raw: None,
            extensions: BTreeMap::new(),
        }
    }

    #[test]
    fn sales_order_body_shape() {
        let mut skus = BTreeMap::new();
        skus.insert(Sku::new("SKU-1"), "1001".to_owned());
        let body = sales_order_body(&order(), &BTreeMap::new(), &skus, None, &config()).unwrap();
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(
            json,
            r#"{"entity":{"id":"101"},"tranDate":"2026-02-01","otherRefNum":"4012345","memo":"tmall order 4012345 (WAIT_SELLER_SEND_GOODS)","currency":{"id":"5"},"item":{"items":[{"item":{"id":"1001"},"quantity":3,"rate":0.10,"amount":0.30}]}}"#
                .replace(r#""amount":0.30}"#, r#""amount":0.30,"description":"Tea"}"#)
        );
        // Unknown SKU and unmapped currency are mapping errors.
        let e = sales_order_body(
            &order(),
            &BTreeMap::new(),
            &BTreeMap::new(),
            None,
            &config(),
        )
        .unwrap_err();
        assert_eq!(e.reason(), ReasonCode::UnknownSku);
        let mut c = config();
        c.currencies.clear();
        let e = sales_order_body(&order(), &BTreeMap::new(), &skus, None, &c).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Mapping);
        // A resolved item wins over the SKU lookup.
        let mut items = BTreeMap::new();
        items.insert(OrderLineId::new("1"), ErpItemId::new("77"));
        let body = sales_order_body(&order(), &items, &skus, None, &config()).unwrap();
        assert_eq!(body.item.items[0].item.id, "77");
    }

    fn entry() -> JournalEntry {
        let mut dims = marketsync_core::Dimensions::default();
        dims.extra.insert("department".into(), "12".into());
        dims.channel = Some(Channel::Tmall);
        JournalEntry {
            entity: "CN01".into(),
            date: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
            memo: "settlement".into(),
            lines: vec![
                JournalLine::debit("1122", cny(dec!(0.1) + dec!(0.2)))
                    .with_memo("clearing")
                    .with_dimensions(dims),
                JournalLine::credit("6001", cny(dec!(0.30))),
            ],
            reference: Some("tmall:order:4012345".into()),
        }
    }

    #[test]
    fn marketplace_text_is_made_safe_in_bodies() {
        let mut e = entry();
        e.memo = "buyer note:\r\nleave\tit\u{0}".into();
        e.lines[0].memo = Some(format!("{}\n", "长".repeat(400)));
        let body = journal_body(&e, &config()).unwrap();
        assert_eq!(body.memo, "buyer note: leave it [tmall:order:4012345]");
        let line_memo = body.line.items[0].memo.clone().unwrap_or_default();
        assert_eq!(line_memo.chars().count(), text::FREE_FORM_MAX);
        assert!(line_memo.ends_with('…') && !line_memo.contains('\n'));
        let mut o = order();
        o.lines[0].title = "Tea\r\nbox\u{0}".into();
        o.id = "4012345\n".into();
        let skus: BTreeMap<Sku, String> = [(o.lines[0].sku.clone(), "1001".to_owned())]
            .into_iter()
            .collect();
        let body = sales_order_body(&o, &BTreeMap::new(), &skus, None, &config()).unwrap();
        assert_eq!(body.item.items[0].description.as_deref(), Some("Tea\nbox"));
        assert_eq!(body.other_ref_num, "4012345");
        assert!(!body.memo.chars().any(char::is_control));
    }

    #[test]
    fn journal_body_shape_and_dimensions() {
        let mut c = config();
        c.dimensions.push(crate::config::DimensionRule {
            source: "channel".into(),
            field: "class".into(),
            values: [("tmall".to_owned(), "8".to_owned())].into_iter().collect(),
        });
        let body = journal_body(&entry(), &c).unwrap();
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(
            json,
            r#"{"subsidiary":{"id":"3"},"tranDate":"2026-02-01","currency":{"id":"5"},"memo":"settlement [tmall:order:4012345]","line":{"items":[{"account":{"id":"210"},"debit":0.3,"memo":"clearing","class":{"id":"8"},"department":{"id":"12"}},{"account":{"id":"400"},"credit":0.30}]}}"#
        );
        // A mapped dimension value that is missing is an error, not a silent default.
        let mut c2 = c.clone();
        if let Some(rule) = c2.dimensions.last_mut() {
            rule.values.clear();
            rule.values.insert("jd".into(), "9".into());
        }
        assert_eq!(
            journal_body(&entry(), &c2).unwrap_err().kind(),
            &ErrorKind::Mapping
        );
    }

    #[test]
    fn journal_refusals() {
        let mut e = entry();
        e.lines[0].amount = cny(dec!(0.31));
        let err = journal_body(&e, &config()).unwrap_err();
        assert_eq!(err.reason(), ReasonCode::UnbalancedJournal);
        let mut c = config();
        c.accounts.remove("6001");
        assert_eq!(
            journal_body(&entry(), &c).unwrap_err().kind(),
            &ErrorKind::Mapping
        );
        c.account_codes_are_internal_ids = true;
        assert_eq!(
            journal_body(&entry(), &c).unwrap().line.items[1].account.id,
            "6001"
        );
        let mut c = config();
        c.subsidiaries.clear();
        assert_eq!(
            journal_body(&entry(), &c).unwrap_err().kind(),
            &ErrorKind::Mapping
        );
    }

    fn so_read() -> RecordRead {
        serde_json::from_str(
            r#"{"id":"55","externalId":"k","tranId":"SO55","item":{"items":[
                {"line":1,"item":{"id":"1001"},"quantity":3,"quantityFulfilled":1},
                {"line":4,"item":{"id":"1002"},"quantity":2},
                {"line":7,"item":{"id":"1001"},"quantity":1}]}}"#,
        )
        .unwrap()
    }

    fn shipment(lines: Vec<ShipmentLine>) -> Shipment {
        Shipment {
            channel: Channel::Tmall,
            shop: ShopId::new("shop1"),
            order_id: "4012345".into(),
            id: None,
            carrier: "SF".into(),
            tracking_number: "SF123".into(),
            shipped_at: DateTime::parse_from_rfc3339("2026-02-02T03:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            lines,
            location: None,
        }
    }

    #[test]
    fn fulfilment_lists_every_line() {
        let mut skus = BTreeMap::new();
        skus.insert(Sku::new("SKU-1"), "1001".to_owned());
        skus.insert(Sku::new("SKU-2"), "1002".to_owned());
        // 3 units of SKU-1: 2 open on line 1, 1 on line 7. Line 4 does not ship.
        let s = shipment(vec![ShipmentLine {
            line_id: "1".into(),
            sku: "SKU-1".into(),
            quantity: 3,
        }]);
        let body = fulfilment_body(&s, "msk1-x", &so_read(), &skus, &config()).unwrap();
        let json = serde_json::to_string(&body.item).unwrap();
        assert_eq!(
            json,
            r#"{"items":[{"orderLine":1,"itemReceive":true,"quantity":2},{"orderLine":4,"itemReceive":false},{"orderLine":7,"itemReceive":true,"quantity":1}]}"#
        );
        // Too many units.
        let s = shipment(vec![ShipmentLine {
            line_id: "1".into(),
            sku: "SKU-2".into(),
            quantity: 3,
        }]);
        assert!(fulfilment_body(&s, "k", &so_read(), &skus, &config()).is_err());
        // Whole order.
        let body = fulfilment_body(&shipment(vec![]), "k", &so_read(), &skus, &config()).unwrap();
        assert!(body.item.items.iter().all(|l| l.item_receive));
    }

    fn refund(taxes: Vec<marketsync_core::TaxLine>) -> Refund {
        let t = DateTime::parse_from_rfc3339("2026-02-03T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let amount = cny(dec!(10.00));
        let total = taxes
            .iter()
            .filter(|t| !t.included_in_price)
            .fold(amount, |acc, t| acc.checked_add(&t.amount).unwrap());
        Refund {
            channel: Channel::Tmall,
            shop: ShopId::new("shop1"),
            id: "R1".into(),
            order_id: "4012345".into(),
            revision: Revision::Version(1),
            status: RefundStatus::Completed,
            raw_status: "SUCCESS".into(),
            reason: marketsync_core::RefundReason {
                code: None,
                text: None,
            },
            created_at: t,
            updated_at: t,
            lines: vec![marketsync_core::RefundLine {
                line_id: "1".into(),
                sku: "SKU-1".into(),
                quantity: 1,
                amount,
                taxes,
                restock: true,
            }],
            shipping: None,
            total,
            goods_return: None,
            raw: None,
        }
    }

    #[test]
    fn credit_memo_rules() {
        let mut skus = BTreeMap::new();
        skus.insert(Sku::new("SKU-1"), "1001".to_owned());
        let body = credit_memo_body(&refund(vec![]), &skus, Some("55"), &config()).unwrap();
        assert_eq!(
            serde_json::to_string(&body.item).unwrap(),
            r#"{"items":[{"item":{"id":"1001"},"quantity":1,"amount":10.00}]}"#
        );
        assert_eq!(body.tran_date, "2026-02-03");
        let tax = |collected_by| marketsync_core::TaxLine {
            kind: marketsync_core::TaxKind::SalesTax,
            rate: None,
            amount: cny(dec!(0.80)),
            included_in_price: false,
            collected_by,
            jurisdiction: None,
        };
        // Marketplace-collected tax is not the seller's to credit.
        let r = refund(vec![tax(marketsync_core::TaxCollector::Marketplace)]);
        assert!(credit_memo_body(&r, &skus, None, &config()).is_ok());
        // Seller-owed tax on top needs tax codes: refused, not silently dropped.
        let r = refund(vec![tax(marketsync_core::TaxCollector::Seller)]);
        let e = credit_memo_body(&r, &skus, None, &config()).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Mapping);
        // Inconsistent totals are refused.
        let mut r = refund(vec![]);
        r.total = cny(dec!(9.99));
        let e = credit_memo_body(&r, &skus, None, &config()).unwrap_err();
        assert_eq!(e.reason(), ReasonCode::MoneyInvalid);
    }

    #[test]
    fn rows_to_canonical() {
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(
            r#"[{"links":[],"id":"9","type":"Journal","tranid":"JE9","externalid":"msk1-a"},
                {"links":[],"id":"3","type":"Journal","tranid":"JE3","externalid":"msk1-a"}]"#,
        )
        .unwrap();
        let d = document_from_rows(rows).unwrap().unwrap();
        assert_eq!(d.id.as_str(), "3");
        assert_eq!(d.kind, ErpDocumentKind::JournalEntry);
        assert!(!d.created);
        assert_eq!(document_kind("ItemShip"), ErpDocumentKind::Fulfilment);
        assert_eq!(
            document_kind("Weird"),
            ErpDocumentKind::Other("Weird".into())
        );

        let rows = serde_json::from_str(
            r#"[{"links":[],"itemid":"SKU-1","location":"2","quantityonhand":"12","quantitycommitted":"3","quantityavailable":"9"},
                {"links":[],"itemid":"SKU-2","location":"1","quantityonhand":"5"}]"#,
        )
        .unwrap();
        let inv = inventory_from_rows(rows, Utc::now()).unwrap();
        assert_eq!(
            (inv[0].on_hand, inv[0].reserved, inv[0].available),
            (12, 3, 9)
        );
        assert_eq!(
            (inv[1].on_hand, inv[1].reserved, inv[1].available),
            (5, 0, 5)
        );
        let bad =
            serde_json::from_str(r#"[{"itemid":"SKU-1","location":"2","quantityonhand":"lots"}]"#)
                .unwrap();
        let e = inventory_from_rows(bad, Utc::now()).unwrap_err();
        assert_eq!(e.reason(), ReasonCode::MalformedPayload);
        assert_eq!(sql_in_list(["a", "o'b"]), "('a', 'o''b')");
    }
}
