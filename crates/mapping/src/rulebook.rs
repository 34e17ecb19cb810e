//! The versioned rulebook: legal entities, account map, fee rules, tax rules and posting
//! options. Loadable from TOML or JSON; [`rulebook_schema`] exports its JSON Schema.
//!
//! Every journal line produced under a rulebook records its [`Rulebook::version`].

use std::sync::Arc;

use marketsync_core::{Channel, Currency, Error, LegalEntityId, Rounding, TaxLine, TimeZoneId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::accounts::AccountMap;
use crate::errors;
use crate::fee::{FeeCodeTable, FeeRule, FeeRuleConfig};
use crate::period::parse_tz;
use crate::tax::{MarketplaceTaxMode, TaxRule, TaxRuleConfig};

/// Which currency journals are posted in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostingCurrency {
    /// The document's own currency (order / settlement currency); the ERP converts.
    #[default]
    Document,
    /// The entity's functional currency: every line is converted, carries its
    /// [`FxConversion`](marketsync_core::FxConversion), and the conversion's rounding residual is
    /// posted to the `rounding` role.
    Functional,
}

/// Settings of one legal entity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EntitySettings {
    /// Company code.
    pub id: LegalEntityId,
    /// IANA time zone of the entity's books (business dates and periods).
    pub time_zone: TimeZoneId,
    /// Functional currency.
    pub functional_currency: Currency,
    /// Currency of posted journals.
    #[serde(default)]
    pub posting_currency: PostingCurrency,
}

/// When an order's accrual is dated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccrualDate {
    /// Payment time (placement time when the order has none).
    #[default]
    Paid,
    /// Placement time.
    Placed,
}

/// How seller-funded discounts are posted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SellerDiscountPosting {
    /// Revenue is credited net of seller discounts.
    #[default]
    NetRevenue,
    /// Revenue is credited gross and the discount debited to `seller_discount` (both net of
    /// tax; the split's rounding residual goes to `rounding`).
    ContraRevenue,
}

/// Where refunded goods and shipping are debited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundPosting {
    /// Back against `revenue` / `shipping_income`.
    #[default]
    ReverseRevenue,
    /// To `refund_returns` (contra-revenue).
    RefundReturns,
}

/// The versioned rulebook. See the [module docs](self).
///
/// Data finance owns — entities, accounts by role, tax and fee rules — in TOML (or JSON);
/// every journal line records the version that produced it. A failure names what to fix:
///
/// ```
/// use std::sync::Arc;
/// use marketsync_core::{ErrorKind, ReasonCode};
/// use marketsync_mapping::examples::tmall;
/// use marketsync_mapping::{Context, InMemoryRates, Mapper, Rulebook};
///
/// let toml = r#"
/// version = "2026.02-1"
///
/// [[entities]]
/// id = "CN01"
/// time_zone = "Asia/Shanghai"
/// functional_currency = "CNY"
///
/// [[tax_rules]]
/// type = "china_vat"
/// "#;
/// let mut toml = toml.to_owned();
/// for (role, account) in [
///     ("marketplace_receivable", "1122.01"),
///     ("revenue", "6001"),
///     ("shipping_income", "6051"),
///     ("tax_payable", "2221.01"),
/// ] {
///     toml += &format!("\n[[accounts]]\nentity = \"CN01\"\nrole = \"{role}\"\naccount = \"{account}\"\n");
/// }
/// let rulebook = Rulebook::from_toml_str(&toml)?;
/// assert_eq!(rulebook.version, "2026.02-1");
///
/// let mapper = Mapper::new(Arc::new(rulebook), Arc::new(InMemoryRates::new()))?;
/// let order = tmall::order()?; // 178.00 CNY paid, VAT included
/// let accrual = mapper.order_accrual(&order, &Context::new("CN01"))?;
/// assert!(accrual.is_balanced());
/// assert!(accrual.lines.iter().all(|l| l.rulebook_version.as_deref() == Some("2026.02-1")));
///
/// // A rulebook without a revenue account: the order is refused with a typed reason.
/// let partial = toml.replace("role = \"revenue\"", "role = \"refund_returns\"");
/// let mapper = Mapper::new(
///     Arc::new(Rulebook::from_toml_str(&partial)?),
///     Arc::new(InMemoryRates::new()),
/// )?;
/// let err = mapper.order_accrual(&order, &Context::new("CN01")).unwrap_err();
/// assert_eq!((*err.kind(), err.reason()), (ErrorKind::Mapping, ReasonCode::UnmappedAccount));
/// # Ok::<(), marketsync_core::Error>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[schemars(description = "The versioned rulebook. See the [module docs](self).")]
pub struct Rulebook {
    /// Version recorded on every journal line (`"2026.02-1"`).
    pub version: String,
    /// Rounding used for currency conversion and tax splits.
    #[serde(default = "default_rounding")]
    pub rounding: Rounding,
    /// Legal entities.
    pub entities: Vec<EntitySettings>,
    /// Roles → GL accounts.
    pub accounts: AccountMap,
    /// Fee rules, in the order they are asked.
    #[serde(default)]
    pub fee_rules: Vec<FeeRuleConfig>,
    /// Tax rules, in the order they are asked (the first that applies governs a tax line).
    #[serde(default)]
    pub tax_rules: Vec<TaxRuleConfig>,
    /// Accrual dating.
    #[serde(default)]
    pub accrual_date: AccrualDate,
    /// Seller-discount posting.
    #[serde(default)]
    pub seller_discounts: SellerDiscountPosting,
    /// Refund posting.
    #[serde(default)]
    pub refunds: RefundPosting,
    #[serde(skip)]
    custom_fee_rules: Vec<Arc<dyn FeeRule>>,
    #[serde(skip)]
    custom_tax_rules: Vec<Arc<dyn TaxRule>>,
}

fn default_rounding() -> Rounding {
    Rounding::HalfUp
}

impl Rulebook {
    /// An empty rulebook of a version: no entity, no account, no rule.
    pub fn new(version: impl Into<String>) -> Rulebook {
        Rulebook {
            version: version.into(),
            rounding: Rounding::HalfUp,
            entities: Vec::new(),
            accounts: AccountMap::new(),
            fee_rules: Vec::new(),
            tax_rules: Vec::new(),
            accrual_date: AccrualDate::default(),
            seller_discounts: SellerDiscountPosting::default(),
            refunds: RefundPosting::default(),
            custom_fee_rules: Vec::new(),
            custom_tax_rules: Vec::new(),
        }
    }

    /// Adds an entity.
    pub fn with_entity(mut self, entity: EntitySettings) -> Rulebook {
        self.entities.push(entity);
        self
    }

    /// Sets the account map.
    pub fn with_accounts(mut self, accounts: AccountMap) -> Rulebook {
        self.accounts = accounts;
        self
    }

    /// Appends a fee rule.
    pub fn with_fee_rule(mut self, rule: FeeRuleConfig) -> Rulebook {
        self.fee_rules.push(rule);
        self
    }

    /// Appends every built-in fee-code table ([`FeeCodeTable::builtin`]).
    pub fn with_builtin_fee_tables(mut self) -> Rulebook {
        self.fee_rules.extend(
            FeeCodeTable::builtin()
                .into_iter()
                .map(FeeRuleConfig::CodeTable),
        );
        self
    }

    /// Appends a tax rule.
    pub fn with_tax_rule(mut self, rule: TaxRuleConfig) -> Rulebook {
        self.tax_rules.push(rule);
        self
    }

    /// Adds a fee rule implemented in code; it is asked before the configured ones. Code rules
    /// are not serialized: give the rulebook a new version when you add one.
    pub fn with_custom_fee_rule(mut self, rule: Arc<dyn FeeRule>) -> Rulebook {
        self.custom_fee_rules.push(rule);
        self
    }

    /// Adds a tax rule implemented in code; it is asked before the configured ones.
    pub fn with_custom_tax_rule(mut self, rule: Arc<dyn TaxRule>) -> Rulebook {
        self.custom_tax_rules.push(rule);
        self
    }

    /// Every fee rule in the order asked: code rules, then configured rules.
    pub fn fee_rules(&self) -> impl Iterator<Item = &dyn FeeRule> {
        self.custom_fee_rules
            .iter()
            .map(|r| r.as_ref())
            .chain(self.fee_rules.iter().map(FeeRuleConfig::rule))
    }

    /// Every tax rule in the order asked: code rules, then configured rules.
    pub fn tax_rules(&self) -> impl Iterator<Item = &dyn TaxRule> {
        self.custom_tax_rules
            .iter()
            .map(|r| r.as_ref())
            .chain(self.tax_rules.iter().map(TaxRuleConfig::rule))
    }

    /// The tax rule governing a tax line.
    pub fn tax_rule_for(&self, channel: &Channel, tax: &TaxLine) -> Option<&dyn TaxRule> {
        self.tax_rules().find(|r| r.applies(channel, tax))
    }

    /// How marketplace-collected tax of a channel is booked: the first rule that says, else
    /// [`MarketplaceTaxMode::NotBooked`].
    pub fn marketplace_tax_mode(&self, channel: &Channel) -> MarketplaceTaxMode {
        self.tax_rules()
            .find_map(|r| r.marketplace_mode(channel))
            .unwrap_or_default()
    }

    /// The settings of an entity.
    pub fn entity(&self, id: &LegalEntityId) -> Result<&EntitySettings, Error> {
        self.entities.iter().find(|e| &e.id == id).ok_or_else(|| {
            errors::config(format!("entity {id} is not in rulebook {}", self.version))
                .with_context("entity", id)
        })
    }

    /// Checks the rulebook: a version, unique entities with known time zones.
    pub fn validate(&self) -> Result<(), Error> {
        if self.version.trim().is_empty() {
            return Err(errors::config("rulebook version is empty"));
        }
        for (i, e) in self.entities.iter().enumerate() {
            parse_tz(&e.time_zone)?;
            if self.entities[..i].iter().any(|o| o.id == e.id) {
                return Err(errors::config(format!("entity {} appears twice", e.id)));
            }
        }
        Ok(())
    }

    /// Parses and validates a TOML rulebook.
    pub fn from_toml_str(s: &str) -> Result<Rulebook, Error> {
        let rb: Rulebook = toml::from_str(s)
            .map_err(|e| errors::config(format!("rulebook TOML: {e}")).with_source(e))?;
        rb.validate()?;
        Ok(rb)
    }

    /// Parses and validates a JSON rulebook.
    pub fn from_json_str(s: &str) -> Result<Rulebook, Error> {
        let rb: Rulebook = serde_json::from_str(s)
            .map_err(|e| errors::config(format!("rulebook JSON: {e}")).with_source(e))?;
        rb.validate()?;
        Ok(rb)
    }

    /// Serializes the configured part as JSON (code rules are not included).
    pub fn to_json_string(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self)
            .map_err(|e| errors::config(format!("rulebook JSON: {e}")).with_source(e))
    }
}

/// The JSON Schema (2020-12) of the rulebook file (TOML or JSON), published like the model
/// schemas (see [`marketsync_core::schema::document_schema`]): `$id`
/// `https://marketsync.dev/schemas/v<MAJOR>/Rulebook.schema.json`, the schema version in
/// `$comment`, a description on every property, and the Tmall example rulebook
/// ([`crate::examples::tmall::rulebook`]) as its example. [`schema_set`] includes it.
///
/// ```
/// let schema = marketsync_mapping::rulebook_schema();
/// assert_eq!(schema["title"], "Rulebook");
/// assert_eq!(schema["examples"][0]["version"], "2026.02-1");
/// ```
pub fn rulebook_schema() -> serde_json::Value {
    use marketsync_core::schema;
    let mut value = schema::document_schema::<Rulebook>("Rulebook");
    if let serde_json::Value::Object(map) = &mut value {
        map.insert(
            "description".into(),
            serde_json::Value::String(
                "The versioned rulebook finance owns: legal entities, the account map (role → \
                 GL account per entity and channel), fee and tax rules, and posting options. \
                 Its `version` is recorded on every journal line it produces. Written in TOML \
                 or JSON; rules written in code are not part of the file."
                    .into(),
            ),
        );
    }
    let example = crate::examples::tmall::rulebook()
        .ok()
        .and_then(|rb| serde_json::to_value(&rb).ok());
    match example {
        Some(example) => schema::with_examples(value, vec![example]),
        None => value,
    }
}

/// Every published schema: the canonical model's ([`SchemaSet::current`]) and the
/// [`rulebook_schema`], at [`SCHEMA_VERSION`](marketsync_core::schema::SCHEMA_VERSION). This
/// is the set committed under `schemas/` in the repository and written by `marketsync schema`.
///
/// ```
/// let set = marketsync_mapping::schema_set();
/// assert!(set.schemas.contains_key("Order") && set.schemas.contains_key("Rulebook"));
/// ```
///
/// [`SchemaSet::current`]: marketsync_core::schema::SchemaSet::current
pub fn schema_set() -> marketsync_core::schema::SchemaSet {
    let mut set = marketsync_core::schema::SchemaSet::current();
    set.insert("Rulebook", rulebook_schema());
    set
}
