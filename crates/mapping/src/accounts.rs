//! Account roles and the chart-of-accounts map.
//!
//! Posting rules never name a GL account: they name an [`AccountRole`] ("marketplace
//! receivable", "commission expense"…). The [`AccountMap`] of the rulebook turns a role into an
//! [`AccountCode`] per legal entity and, optionally, per channel. A role with no mapping is a
//! typed error — never a default account.

use std::fmt;
use std::str::FromStr;

use marketsync_core::{AccountCode, Channel, Error, ErrorKind, LegalEntityId, ReasonCode};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a journal line is for, independent of any chart of accounts.
///
/// Serialized as a snake_case string; fee expenses carry a category after a colon
/// (`"fee_expense:fulfilment"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AccountRole {
    /// What the marketplace owes the seller for orders (clearing account per channel).
    MarketplaceReceivable,
    /// Sales revenue (goods), net of tax.
    Revenue,
    /// Shipping charged to buyers, net of tax.
    ShippingIncome,
    /// Contra-revenue for seller-funded discounts, when the rulebook posts them gross.
    SellerDiscount,
    /// Tax the seller owes (output VAT, seller-remitted sales tax).
    TaxPayable,
    /// Tax the marketplace collects and remits (US marketplace facilitator, EU deemed supplier),
    /// when the rulebook books it through an offset account.
    MarketplaceTaxOffset,
    /// Marketplace commission / referral / technical service fee.
    CommissionExpense,
    /// Other marketplace fees, by category (`fulfilment`, `payment_processing`, `points`…).
    FeeExpense(String),
    /// Money the marketplace has settled but not yet paid to the bank.
    CashClearing,
    /// The seller's bank account.
    Bank,
    /// Funds the marketplace holds in reserve.
    Reserve,
    /// Marketplace adjustments typed as such by the platform.
    Adjustment,
    /// Sales returns and refunds (contra-revenue), when refunds are not posted against revenue.
    RefundReturns,
    /// Rounding differences (currency conversion, tax splits), always posted explicitly.
    Rounding,
    /// Realized foreign-exchange gain or loss.
    FxGainLoss,
}

impl AccountRole {
    /// Every role without a parameter, for documentation and schema.
    pub const SIMPLE: [AccountRole; 14] = [
        AccountRole::MarketplaceReceivable,
        AccountRole::Revenue,
        AccountRole::ShippingIncome,
        AccountRole::SellerDiscount,
        AccountRole::TaxPayable,
        AccountRole::MarketplaceTaxOffset,
        AccountRole::CommissionExpense,
        AccountRole::CashClearing,
        AccountRole::Bank,
        AccountRole::Reserve,
        AccountRole::Adjustment,
        AccountRole::RefundReturns,
        AccountRole::Rounding,
        AccountRole::FxGainLoss,
    ];

    /// A fee expense of a category.
    pub fn fee(category: impl Into<String>) -> AccountRole {
        AccountRole::FeeExpense(category.into())
    }

    /// The stable string form (`"marketplace_receivable"`, `"fee_expense:fulfilment"`).
    pub fn name(&self) -> String {
        let s = match self {
            AccountRole::MarketplaceReceivable => "marketplace_receivable",
            AccountRole::Revenue => "revenue",
            AccountRole::ShippingIncome => "shipping_income",
            AccountRole::SellerDiscount => "seller_discount",
            AccountRole::TaxPayable => "tax_payable",
            AccountRole::MarketplaceTaxOffset => "marketplace_tax_offset",
            AccountRole::CommissionExpense => "commission_expense",
            AccountRole::FeeExpense(cat) if cat.is_empty() => "fee_expense",
            AccountRole::FeeExpense(cat) => return format!("fee_expense:{cat}"),
            AccountRole::CashClearing => "cash_clearing",
            AccountRole::Bank => "bank",
            AccountRole::Reserve => "reserve",
            AccountRole::Adjustment => "adjustment",
            AccountRole::RefundReturns => "refund_returns",
            AccountRole::Rounding => "rounding",
            AccountRole::FxGainLoss => "fx_gain_loss",
        };
        s.to_owned()
    }
}

impl fmt::Display for AccountRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for AccountRole {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(cat) = s.strip_prefix("fee_expense:") {
            return Ok(AccountRole::FeeExpense(cat.to_owned()));
        }
        if s == "fee_expense" {
            return Ok(AccountRole::FeeExpense(String::new()));
        }
        AccountRole::SIMPLE
            .iter()
            .find(|r| r.name() == s)
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("unknown account role {s:?}"),
                )
                .with_context("role", s)
            })
    }
}

impl Serialize for AccountRole {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for AccountRole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AccountRole::from_str(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for AccountRole {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AccountRole".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<String> = AccountRole::SIMPLE.iter().map(AccountRole::name).collect();
        schemars::json_schema!({
            "type": "string",
            "description": "An account role: one of the listed names, `fee_expense`, or `fee_expense:<category>`.",
            "anyOf": [
                { "enum": names },
                { "pattern": "^fee_expense(:[a-z0-9_]+)?$" }
            ]
        })
    }
}

/// One row of the account map: a role in an entity (and optionally a channel) → a GL account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccountMapping {
    /// The legal entity (company code).
    pub entity: LegalEntityId,
    /// Restricts the row to one channel; rows without a channel apply to every channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// The role.
    pub role: AccountRole,
    /// The GL account.
    pub account: AccountCode,
}

/// Maps account roles to GL accounts per legal entity and channel.
///
/// Lookup order: (entity, channel, role), then (entity, any channel, role). For a
/// `fee_expense:<category>` role with no row, a `fee_expense` row (no category) of the same
/// entity is used — an explicit, configured account for all fee categories, not a default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct AccountMap {
    rows: Vec<AccountMapping>,
}

impl AccountMap {
    /// An empty map.
    pub fn new() -> AccountMap {
        AccountMap::default()
    }

    /// Adds a row valid for every channel of the entity.
    pub fn with(
        mut self,
        entity: impl Into<LegalEntityId>,
        role: AccountRole,
        account: impl Into<AccountCode>,
    ) -> AccountMap {
        self.rows.push(AccountMapping {
            entity: entity.into(),
            channel: None,
            role,
            account: account.into(),
        });
        self
    }

    /// Adds a row valid for one channel of the entity.
    pub fn with_channel(
        mut self,
        entity: impl Into<LegalEntityId>,
        channel: Channel,
        role: AccountRole,
        account: impl Into<AccountCode>,
    ) -> AccountMap {
        self.rows.push(AccountMapping {
            entity: entity.into(),
            channel: Some(channel),
            role,
            account: account.into(),
        });
        self
    }

    /// The rows.
    pub fn rows(&self) -> &[AccountMapping] {
        &self.rows
    }

    fn find(
        &self,
        entity: &LegalEntityId,
        channel: &Channel,
        role: &AccountRole,
    ) -> Option<&AccountCode> {
        self.rows
            .iter()
            .find(|r| &r.entity == entity && r.channel.as_ref() == Some(channel) && &r.role == role)
            .or_else(|| {
                self.rows
                    .iter()
                    .find(|r| &r.entity == entity && r.channel.is_none() && &r.role == role)
            })
            .map(|r| &r.account)
    }

    /// The GL account for a role. A missing row is a `Mapping` error with reason
    /// `unmapped_account` and the entity, channel and role as context.
    pub fn account(
        &self,
        entity: &LegalEntityId,
        channel: &Channel,
        role: &AccountRole,
    ) -> Result<AccountCode, Error> {
        let found = self.find(entity, channel, role).or_else(|| match role {
            AccountRole::FeeExpense(cat) if !cat.is_empty() => {
                self.find(entity, channel, &AccountRole::FeeExpense(String::new()))
            }
            _ => None,
        });
        found.cloned().ok_or_else(|| {
            Error::mapping(
                ReasonCode::UnmappedAccount,
                format!("no account mapped for role {role} in entity {entity} ({channel})"),
            )
            .with_context("entity", entity)
            .with_context("channel", channel)
            .with_context("role", role)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for r in AccountRole::SIMPLE
            .iter()
            .cloned()
            .chain([AccountRole::fee("fulfilment"), AccountRole::fee("")])
        {
            assert_eq!(r.name().parse::<AccountRole>().ok(), Some(r.clone()));
            let json = serde_json::to_string(&r).ok();
            assert_eq!(json, Some(format!("\"{}\"", r.name())));
        }
        assert!("nope".parse::<AccountRole>().is_err());
    }

    #[test]
    fn channel_rows_win_and_missing_is_an_error() {
        let map = AccountMap::new()
            .with("CN01", AccountRole::Revenue, "6001")
            .with_channel("CN01", Channel::Tmall, AccountRole::Revenue, "6001.01")
            .with("CN01", AccountRole::fee(""), "6601");
        let e: LegalEntityId = "CN01".into();
        assert_eq!(
            map.account(&e, &Channel::Tmall, &AccountRole::Revenue).ok(),
            Some("6001.01".into())
        );
        assert_eq!(
            map.account(&e, &Channel::Jd, &AccountRole::Revenue).ok(),
            Some("6001".into())
        );
        assert_eq!(
            map.account(&e, &Channel::Jd, &AccountRole::fee("points"))
                .ok(),
            Some("6601".into())
        );
        let err = map
            .account(&e, &Channel::Jd, &AccountRole::Bank)
            .err()
            .map(|e| (*e.kind(), e.context_value("role").map(str::to_owned)));
        assert_eq!(err, Some((ErrorKind::Mapping, Some("bank".to_owned()))));
    }
}
