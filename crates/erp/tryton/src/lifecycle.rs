//! The documents of an order's life after the sale, built before any request: what a
//! fulfilment ships ([`fulfilment_lines`]) and what a refund's credit note holds
//! ([`credit_note`]). Pure functions, so the amounts are checked (and fuzzed) without a server.
//!
//! A credit note is a Tryton `out` invoice with **negative** lines (Tryton has no separate credit
//! note type: an `out` invoice whose total is negative is numbered in the credit-note sequence).
//! Its taxes are the marketplace's own amounts, as manual invoice taxes: Tryton does not
//! recompute them from a rate, so the credit note's total is what the buyer got back, to the
//! cent.

use std::collections::BTreeMap;

use marketsync_core::order::MAX_LINE_QUANTITY;
use marketsync_core::{
    Error, ErrorKind, ReasonCode, Refund, Result, Shipment, TaxCollector, TaxKind, TaxLine,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::{text, wire};

/// The most decimal places of a Tryton unit price (`product.price_decimal`, 4 by default): a
/// per-unit refund price is sent only when it divides exactly at this precision.
pub const PRICE_DIGITS: u32 = 4;

/// The quantities a fulfilment ships, per product code (the SKU), in first-seen order. Empty
/// when the shipment names no lines ("the whole order": Tryton ships the whole open shipment).
///
/// A line of 0 units or more than [`MAX_LINE_QUANTITY`] is a `Validation` error
/// (`invalid_quantity`); lines of one SKU are added up (checked).
pub fn fulfilment_lines(shipment: &Shipment) -> Result<Vec<(String, u32)>> {
    let mut out: Vec<(String, u32)> = Vec::new();
    for line in &shipment.lines {
        if line.quantity == 0 || line.quantity > MAX_LINE_QUANTITY {
            return Err(Error::validation(
                ReasonCode::InvalidQuantity,
                format!(
                    "shipment line {} ships {} units (1 to {MAX_LINE_QUANTITY})",
                    line.line_id, line.quantity
                ),
            )
            .with_context("sku", line.sku.as_str()));
        }
        match out.iter_mut().find(|(code, _)| code == line.sku.as_str()) {
            Some((_, q)) => {
                *q = q
                    .checked_add(line.quantity)
                    .filter(|q| *q <= MAX_LINE_QUANTITY)
                    .ok_or_else(|| {
                        Error::validation(
                            ReasonCode::InvalidQuantity,
                            format!("the shipment ships too many units of {}", line.sku),
                        )
                    })?;
            }
            None => out.push((line.sku.as_str().to_owned(), line.quantity)),
        }
    }
    Ok(out)
}

/// One credit note line: `quantity` (negative, whole units) × `unit_price` (positive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditLine {
    /// The `product.product` id, when the line is a product's.
    pub product: Option<i64>,
    /// The line's text.
    pub description: String,
    /// Negative: units credited (-1 for an amount that is not a whole number of unit prices).
    pub quantity: i32,
    /// The price per unit, at most [`PRICE_DIGITS`] decimals.
    pub unit_price: Decimal,
}

/// One manual invoice tax of a credit note (negative `base` and `amount`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditTax {
    /// The tax's text (kind, rate, jurisdiction, who collects it).
    pub description: String,
    /// The amount taxed (negative).
    pub base: Decimal,
    /// The tax (negative).
    pub amount: Decimal,
}

/// A refund's credit note, before the Tryton ids of accounts are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditNote {
    /// The lines (goods, shipping, an order-level remainder).
    pub lines: Vec<CreditLine>,
    /// The taxes refunded, as the marketplace reported them.
    pub taxes: Vec<CreditTax>,
}

impl CreditNote {
    /// The credit note's total as Tryton computes it (lines plus taxes): negative, `None` on
    /// overflow.
    pub fn total(&self) -> Option<Decimal> {
        let mut total = Decimal::ZERO;
        for l in &self.lines {
            total = total.checked_add(Decimal::from(l.quantity).checked_mul(l.unit_price)?)?;
        }
        for t in &self.taxes {
            total = total.checked_add(t.amount)?;
        }
        Some(total)
    }

    /// The lines in Tryton's values (`product` ids, `quantity` as a float of whole units,
    /// `unit_price` as a Decimal).
    pub fn line_values(&self) -> Vec<Value> {
        self.lines
            .iter()
            .map(|l| {
                json!({
                    "product": l.product,
                    "description": text::char_field(&l.description, text::CHAR_MAX),
                    // Whole units are exact as floats.
                    "quantity": f64::from(l.quantity),
                    "unit_price": wire::decimal(l.unit_price),
                })
            })
            .collect()
    }

    /// The manual taxes in Tryton's values, on the Tryton account `account`.
    pub fn tax_values(&self, account: i64) -> Vec<Value> {
        self.taxes
            .iter()
            .map(|t| {
                json!({
                    "description": text::char_field(&t.description, text::CHAR_MAX),
                    "base": wire::decimal(t.base),
                    "amount": wire::decimal(t.amount),
                    "account": account,
                })
            })
            .collect()
    }
}

fn overflow() -> Error {
    Error::validation(ReasonCode::MoneyInvalid, "the refund's amounts overflow")
}

/// The text of a tax line: `sales tax 8.25% CA`, `VAT 13%`, with `(collected by the
/// marketplace)` for marketplace-facilitator tax (not the seller's liability).
pub fn tax_description(tax: &TaxLine) -> String {
    let mut out = match &tax.kind {
        TaxKind::Vat => "VAT".to_owned(),
        TaxKind::SalesTax => "Sales tax".to_owned(),
        TaxKind::Gst => "GST".to_owned(),
        TaxKind::Other(name) => name.clone(),
    };
    if let Some(rate) = tax.rate {
        let percent = (rate * Decimal::ONE_HUNDRED).normalize();
        out.push_str(&format!(" {percent}%"));
    }
    if let Some(j) = &tax.jurisdiction {
        out.push(' ');
        out.push_str(j);
    }
    if tax.collected_by == TaxCollector::Marketplace {
        out.push_str(" (collected by the marketplace)");
    }
    out
}

/// Builds a refund's credit note: per refund line, the goods net of the taxes included in
/// them (per unit when the amount divides into whole units at [`PRICE_DIGITS`], else one line
/// of the whole amount that names the units), each tax of the line as a manual tax on that
/// base, the refunded shipping, and — when the platform's total is more than its lines (an
/// order-level adjustment) — a remainder line, so the credit note's total is exactly minus the
/// refund's total.
///
/// `products` maps a refund line's position to its `product.product` id (`None`: no product,
/// e.g. a price-only adjustment). The refund is validated first ([`Refund::validate`]); a
/// refund of nothing (total 0 and no lines) is a `Validation` error (`amount_out_of_range`).
pub fn credit_note(refund: &Refund, products: &[Option<i64>]) -> Result<CreditNote> {
    refund.validate()?;
    if refund.total.is_zero() && refund.lines.iter().all(|l| l.amount.is_zero()) {
        return Err(Error::validation(
            ReasonCode::AmountOutOfRange,
            "a refund of nothing makes no credit note",
        ));
    }
    let mut lines = Vec::new();
    let mut taxes = Vec::new();
    for (index, line) in refund.lines.iter().enumerate() {
        let product = products.get(index).copied().flatten();
        let included = line
            .taxes
            .iter()
            .filter(|t| t.included_in_price)
            .try_fold(Decimal::ZERO, |acc, t| acc.checked_add(t.amount.amount))
            .ok_or_else(overflow)?;
        let net = line
            .amount
            .amount
            .checked_sub(included)
            .ok_or_else(overflow)?;
        if net.is_sign_negative() && !net.is_zero() {
            return Err(Error::validation(
                ReasonCode::TaxMismatch,
                format!(
                    "refund line {} includes more tax ({included}) than its amount ({})",
                    line.line_id, line.amount.amount
                ),
            ));
        }
        let per_unit = (line.quantity > 0)
            .then(|| net.checked_div(Decimal::from(line.quantity)))
            .flatten()
            .map(|p| p.round_dp(PRICE_DIGITS))
            .filter(|p| p.checked_mul(Decimal::from(line.quantity)) == Some(net));
        // validate() bounds quantities by MAX_LINE_QUANTITY, far inside i32.
        let units = i32::try_from(line.quantity).map_err(|_| {
            Error::validation(ReasonCode::InvalidQuantity, "refund quantity out of range")
        })?;
        let (quantity, unit_price, description) = match per_unit {
            Some(p) => (-units, p, line.sku.as_str().to_owned()),
            None if line.quantity == 0 => (-1, net, format!("{} (price adjustment)", line.sku)),
            None => (-1, net, format!("{} ({} units)", line.sku, line.quantity)),
        };
        if !net.is_zero() {
            lines.push(CreditLine {
                // A line of one whole amount for several units would misstate the units.
                product: product.filter(|_| per_unit.is_some()),
                description,
                quantity,
                unit_price,
            });
        }
        for tax in &line.taxes {
            if tax.amount.is_zero() {
                continue;
            }
            taxes.push(CreditTax {
                description: tax_description(tax),
                base: -net,
                amount: -tax.amount.amount,
            });
        }
    }
    if let Some(shipping) = refund.shipping.as_ref().filter(|s| !s.is_zero()) {
        lines.push(CreditLine {
            product: None,
            description: "Shipping refunded".to_owned(),
            quantity: -1,
            unit_price: shipping.amount,
        });
    }
    let computed = refund.computed_total().map_err(|_| overflow())?;
    let remainder = refund
        .total
        .amount
        .checked_sub(computed.amount)
        .ok_or_else(overflow)?;
    if !remainder.is_zero() {
        lines.push(CreditLine {
            product: None,
            description: "Refund not attributed to lines (order-level adjustment)".to_owned(),
            quantity: -1,
            unit_price: remainder,
        });
    }
    let note = CreditNote { lines, taxes };
    if note.total() != Some(-refund.total.amount) {
        return Err(Error::new(
            ErrorKind::Unexpected,
            "the credit note does not add up to the refund's total",
        ));
    }
    Ok(note)
}

/// One line of goods coming back to stock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnedGoods {
    /// The product code (the resolved ERP item, else the SKU).
    pub code: String,
    /// Units coming back.
    pub quantity: u32,
    /// The unit price they were sold at, net of included tax (the refunded goods amount per
    /// unit, at [`PRICE_DIGITS`]; 0 when the refund names no amount for the line).
    pub unit_price: Decimal,
}

/// The goods of a refund's return that go back to sellable stock (`restock`, at least one
/// unit), per return line: what a customer return shipment receives. Returned goods that are
/// not restocked (damaged, destroyed) are not stock, and are left out.
pub fn returned_goods(
    refund: &Refund,
    items: &BTreeMap<marketsync_core::OrderLineId, marketsync_core::ErpItemId>,
) -> Vec<ReturnedGoods> {
    let Some(goods) = &refund.goods_return else {
        return Vec::new();
    };
    goods
        .lines
        .iter()
        .filter(|l| l.restock && l.quantity > 0)
        .map(|l| {
            let unit_price = refund
                .lines
                .iter()
                .find(|r| r.line_id == l.line_id && r.quantity > 0)
                .and_then(|r| {
                    let included = r
                        .taxes
                        .iter()
                        .filter(|t| t.included_in_price)
                        .try_fold(Decimal::ZERO, |acc, t| acc.checked_add(t.amount.amount))?;
                    r.amount
                        .amount
                        .checked_sub(included)?
                        .checked_div(Decimal::from(r.quantity))
                        .map(|p| p.round_dp(PRICE_DIGITS))
                })
                .filter(|p| !p.is_sign_negative())
                .unwrap_or(Decimal::ZERO);
            ReturnedGoods {
                code: items
                    .get(&l.line_id)
                    .map_or_else(|| l.sku.as_str().to_owned(), |i| i.as_str().to_owned()),
                quantity: l.quantity,
                unit_price,
            }
        })
        .collect()
}

/// The product codes a refund's lines are booked under: the ERP item the mapping resolved for
/// the order line, else the SKU (as the sales order was).
pub fn refund_codes(
    refund: &Refund,
    items: &BTreeMap<marketsync_core::OrderLineId, marketsync_core::ErpItemId>,
) -> Vec<String> {
    refund
        .lines
        .iter()
        .map(|l| {
            items
                .get(&l.line_id)
                .map_or_else(|| l.sku.as_str().to_owned(), |i| i.as_str().to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketsync_testkit::generate::{Generator, GeneratorConfig};
    use rust_decimal_macros::dec;

    fn refund(json: &str) -> Refund {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Amazon US: 3 units at 10.00 refunded, 8.25% sales tax on top (2.48), shipping 4.99.
    const US: &str = r#"{
        "channel": "amazon", "shop": "main", "id": "r-1", "order_id": "113-1",
        "revision": {"kind": "version", "value": 1}, "status": "completed", "raw_status": "x",
        "reason": {}, "created_at": "2026-03-09T08:00:00Z", "updated_at": "2026-03-09T09:00:00Z",
        "lines": [{"line_id": "1", "sku": "SKU-0001", "quantity": 3, "restock": true,
            "amount": {"amount": "30.00", "currency": "USD"},
            "taxes": [{"kind": "sales_tax", "rate": "0.0825", "jurisdiction": "CA",
                "amount": {"amount": "2.48", "currency": "USD"}, "included_in_price": false,
                "collected_by": "seller"}]}],
        "shipping": {"amount": "4.99", "currency": "USD"},
        "total": {"amount": "37.47", "currency": "USD"}
    }"#;

    #[test]
    fn a_us_refund_credits_units_tax_and_shipping() {
        let note = credit_note(&refund(US), &[Some(7)]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            note.lines[0],
            CreditLine {
                product: Some(7),
                description: "SKU-0001".into(),
                quantity: -3,
                unit_price: dec!(10.00),
            }
        );
        assert_eq!(note.lines[1].description, "Shipping refunded");
        assert_eq!(
            note.taxes,
            vec![CreditTax {
                description: "Sales tax 8.25% CA".into(),
                base: dec!(-30.00),
                amount: dec!(-2.48),
            }]
        );
        assert_eq!(note.total(), Some(dec!(-37.47)));
        let values = note.tax_values(208);
        assert_eq!(values[0]["account"], 208);
        assert_eq!(values[0]["amount"]["decimal"], "-2.48");
        assert_eq!(note.line_values()[0]["quantity"], -3.0);
    }

    #[test]
    fn included_vat_is_taken_out_of_the_goods_and_odd_amounts_stay_whole() {
        // 3 units for 100.01 including 13% VAT 11.50 (marketplace-collected): net 88.51, which
        // is not 3 equal unit prices at 4 decimals.
        let json = US
            .replace(
                "\"30.00\", \"currency\": \"USD\"",
                "\"100.01\", \"currency\": \"USD\"",
            )
            .replace(
                "\"sales_tax\", \"rate\": \"0.0825\"",
                "\"vat\", \"rate\": \"0.13\"",
            )
            .replace(
                "\"2.48\", \"currency\": \"USD\"}, \"included_in_price\": false",
                "\"11.50\", \"currency\": \"USD\"}, \"included_in_price\": true",
            )
            .replace(
                "\"collected_by\": \"seller\"",
                "\"collected_by\": \"marketplace\"",
            )
            .replace("\"37.47\"", "\"105.00\"");
        let note = credit_note(&refund(&json), &[Some(7)]).unwrap_or_else(|e| panic!("{e}"));
        // 88.51 / 3 does not divide: one line of the whole amount, naming the units, no product.
        assert_eq!(
            note.lines[0],
            CreditLine {
                product: None,
                description: "SKU-0001 (3 units)".into(),
                quantity: -1,
                unit_price: dec!(88.51),
            }
        );
        assert_eq!(
            note.taxes[0].description,
            "VAT 13% CA (collected by the marketplace)"
        );
        assert_eq!(note.taxes[0].base, dec!(-88.51));
        assert_eq!(note.total(), Some(dec!(-105.00)));
    }

    #[test]
    fn an_order_level_remainder_makes_the_total_exact() {
        let json = US.replace("\"37.47\"", "\"40.00\"");
        let note = credit_note(&refund(&json), &[Some(7)]).unwrap_or_else(|e| panic!("{e}"));
        let last = note.lines.last().unwrap_or_else(|| unreachable!());
        assert_eq!(last.unit_price, dec!(2.53));
        assert_eq!(note.total(), Some(dec!(-40.00)));
    }

    #[test]
    fn bad_refunds_are_refused() {
        let more_tax = US
            .replace(
                "\"2.48\", \"currency\": \"USD\"}, \"included_in_price\": false",
                "\"31.00\", \"currency\": \"USD\"}, \"included_in_price\": true",
            )
            .replace("\"37.47\"", "\"34.99\"");
        let e = credit_note(&refund(&more_tax), &[None]).err();
        assert_eq!(e.map(|e| e.reason()), Some(ReasonCode::TaxMismatch));
        let negative = US.replace("\"4.99\"", "\"-4.99\"");
        let e = credit_note(&refund(&negative), &[None]).err();
        assert_eq!(e.map(|e| *e.kind()), Some(ErrorKind::Validation));
    }

    #[test]
    fn generated_refunds_make_credit_notes_of_their_total() {
        let mut generator = Generator::new(GeneratorConfig::new(11));
        let mut checked = 0;
        for order in generator.orders(300) {
            let Some(refund) = generator.refund_for(&order, 100) else {
                continue;
            };
            let products = vec![Some(1); refund.lines.len()];
            let note = credit_note(&refund, &products).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(note.total(), Some(-refund.total.amount), "{refund:?}");
            assert!(note.lines.iter().all(|l| l.quantity < 0), "{note:?}");
            assert!(
                note.taxes.iter().all(|t| t.amount <= Decimal::ZERO),
                "{note:?}"
            );
            checked += 1;
        }
        assert!(checked > 100, "only {checked} refunds generated");
    }

    #[test]
    fn only_restocked_returned_units_go_back_to_stock() {
        let json = US.replace(
            "\"total\": {\"amount\": \"37.47\", \"currency\": \"USD\"}",
            "\"total\": {\"amount\": \"37.47\", \"currency\": \"USD\"},
             \"goods_return\": {\"id\": \"ret-1\", \"received_at\": \"2026-03-12T10:00:00Z\",
                \"lines\": [{\"line_id\": \"1\", \"sku\": \"SKU-0001\", \"quantity\": 2, \"restock\": true},
                          {\"line_id\": \"1\", \"sku\": \"SKU-0001\", \"quantity\": 1, \"restock\": false}]}",
        );
        let r = refund(&json);
        assert!(r.goods_return.is_some(), "{json}");
        let items = BTreeMap::from([("1".into(), marketsync_core::ErpItemId::new("ITEM-1"))]);
        assert_eq!(
            returned_goods(&r, &items),
            vec![ReturnedGoods {
                code: "ITEM-1".into(),
                quantity: 2,
                unit_price: dec!(10.00),
            }]
        );
        assert_eq!(returned_goods(&refund(US), &BTreeMap::new()), vec![]);
    }

    #[test]
    fn fulfilment_lines_add_up_per_sku_and_refuse_zero() {
        let shipment: Shipment = serde_json::from_str(
            r#"{"channel": "amazon", "shop": "main", "order_id": "1", "carrier": "UPS",
                "tracking_number": "1Z", "shipped_at": "2026-03-03T10:00:00Z",
                "lines": [{"line_id": "1", "sku": "A", "quantity": 2},
                          {"line_id": "2", "sku": "B", "quantity": 1},
                          {"line_id": "3", "sku": "A", "quantity": 1}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            fulfilment_lines(&shipment).ok(),
            Some(vec![("A".to_owned(), 3), ("B".to_owned(), 1)])
        );
        let mut zero = shipment.clone();
        zero.lines[1].quantity = 0;
        assert_eq!(
            fulfilment_lines(&zero).err().map(|e| e.reason()),
            Some(ReasonCode::InvalidQuantity)
        );
        let mut whole = shipment;
        whole.lines.clear();
        assert_eq!(fulfilment_lines(&whole).ok(), Some(vec![]));
    }
}
