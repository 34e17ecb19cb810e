//! Receivable reconciliation: does a settlement clear exactly what its orders created?
//!
//! Every journal line records its account role in the dimension `role`. Feeding the accruals,
//! refund reversals and settlement journals of a set of orders to [`receivable_residuals`]
//! gives the open marketplace-receivable balance per order, in the document currency (a line
//! converted to the functional currency counts with its
//! [`FxConversion::original`](marketsync_core::FxConversion::original)). An order whose settlement cleared it exactly has no
//! residual; anything else is reported, never absorbed.

use std::collections::BTreeMap;

use marketsync_core::{Currency, Error, JournalEntry, Money, Side};

use crate::accounts::AccountRole;
use crate::errors::money;

/// An open receivable balance of one order (positive: the marketplace still owes it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivableResidual {
    /// The order (`None` for receivable lines without an order).
    pub order_id: Option<String>,
    /// The open balance.
    pub amount: Money,
}

/// Open marketplace-receivable balances per order and currency, over the given entries. Orders
/// whose balance is zero are omitted.
pub fn receivable_residuals(entries: &[JournalEntry]) -> Result<Vec<ReceivableResidual>, Error> {
    let role = AccountRole::MarketplaceReceivable.name();
    let mut bal: BTreeMap<(Option<String>, Currency), Money> = BTreeMap::new();
    for e in entries {
        for l in &e.lines {
            if l.dimensions.extra.get("role") != Some(&role) {
                continue;
            }
            let amount = l.fx.as_ref().map_or(l.amount, |fx| fx.original);
            let signed = match l.side {
                Side::Debit => amount,
                Side::Credit => amount.neg(),
            };
            let key = (l.dimensions.order_id.clone(), signed.currency);
            let slot = bal.entry(key).or_insert(Money::zero(signed.currency));
            *slot = slot.checked_add(&signed).map_err(money)?;
        }
    }
    Ok(bal
        .into_iter()
        .filter(|(_, m)| !m.is_zero())
        .map(|((order_id, _), amount)| ReceivableResidual { order_id, amount })
        .collect())
}
