#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod client;
pub mod config;
pub mod lifecycle;
pub mod text;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{NaiveDate, Utc};
use marketsync_core::{
    Channel, ErpAdapter, ErpCapabilities, ErpDocumentId, ErpDocumentKind, ErpDocumentRef, Error,
    ErrorKind, FulfilmentRequest, Health, IdempotencyKey, InventoryPosition, JournalEntry,
    JournalRequest, LocationId, Money, OrderId, ReasonCode, RefundRequest, RefundStatus, Result,
    SalesOrderRequest, Side, Sku,
};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

pub use client::{RpcClient, session_header};
pub use config::{Secret, TrytonConfig};

/// The models the adapter keys its documents in. All carry the `marketsync_key` field of the
/// `marketsync` Tryton module (`scripts/tryton/marketsync`): unique and indexed in the database,
/// so the ERP itself refuses a second document for a key.
const MOVE: &str = "account.move";
const SALE: &str = "sale.sale";
/// Customer shipments (fulfilments).
const SHIPMENT: &str = "stock.shipment.out";
/// Credit notes (refunds): `out` invoices with negative lines.
const INVOICE: &str = "account.invoice";

/// The keyed models in the order [`ErpAdapter::find_by_idempotency_key`] asks them, with the
/// kind of document each holds.
const KEYED: [(&str, ErpDocumentKind); 4] = [
    (MOVE, ErpDocumentKind::JournalEntry),
    (SALE, ErpDocumentKind::SalesOrder),
    (SHIPMENT, ErpDocumentKind::Fulfilment),
    (INVOICE, ErpDocumentKind::Refund),
];

/// A Tryton company as the adapter uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Company {
    /// The `company.company` id.
    pub id: i64,
    /// Its currency's ISO code.
    pub currency: String,
    /// Its `currency.currency` id.
    pub currency_id: i64,
}

/// A Tryton account resolved from one of our codes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Account {
    id: i64,
    party_required: bool,
}

/// The Tryton adapter. See the [crate docs](crate).
pub struct TrytonAdapter {
    config: TrytonConfig,
    rpc: RpcClient,
    companies: Mutex<HashMap<String, Company>>,
    accounts: Mutex<HashMap<(i64, String), Account>>,
    parties: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for TrytonAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrytonAdapter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn ctx(company: i64) -> Value {
    json!({"company": company, "companies": [company]})
}

fn int(row: &Map<String, Value>, field: &str) -> Option<i64> {
    row.get(field).and_then(Value::as_i64)
}

fn string(row: &Map<String, Value>, field: &str) -> Option<String> {
    row.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// The search domain that finds the documents keyed `key` (the `marketsync_key` field, unique
/// and indexed by the `marketsync` Tryton module).
pub fn key_domain(key: &IdempotencyKey) -> Value {
    json!([["marketsync_key", "=", key.as_str()]])
}

/// The search domain that finds documents an adapter before 0.2 keyed by the first word of
/// their `description` (and that the module has not adopted yet).
pub fn legacy_key_domain(key: &IdempotencyKey) -> Value {
    json!([
        ["marketsync_key", "=", null],
        ["description", "like", format!("{}%", key.as_str())]
    ])
}

/// A lookup that found nothing: `what` names the record (`"journal with code"`), `code` the
/// value looked for.
fn not_found(what: &str, code: &str) -> Error {
    Error::mapping(
        ReasonCode::UnmappedTrytonRecord,
        format!("Tryton has no {what} {code:?}"),
    )
    .with_context("tryton_lookup", what)
    .with_context("code", code)
}

/// A 403 on a `marketsync_*` method: the server does not expose it, so the `marketsync` module
/// is not activated on the database (a configuration error, not a permission problem).
fn module_missing(e: Error) -> Error {
    if e.kind() == &ErrorKind::PermissionDenied && e.context_value("http_status") == Some("403") {
        let method = e
            .context_value("tryton_method")
            .unwrap_or_default()
            .to_owned();
        Error::new(
            ErrorKind::ConfigInvalid,
            "the Tryton database does not expose the marketsync module's methods for this \
             document: activate or update the `marketsync` module (scripts/tryton/marketsync; \
             scripts/tryton-up.sh does it)",
        )
        .with_context("tryton_method", method)
    } else {
        e
    }
}

/// The answer of the module's `marketsync_upsert` / `marketsync_find` RPCs.
fn keyed_answer(value: &Value, model: &str, kind: ErpDocumentKind) -> Result<ErpDocumentRef> {
    let row = value.as_object().ok_or_else(|| {
        Error::new(
            ErrorKind::Unexpected,
            format!("{model}.marketsync_upsert answered something that is not a record"),
        )
    })?;
    let id = int(row, "id").ok_or_else(|| {
        Error::new(
            ErrorKind::Unexpected,
            format!("{model}.marketsync_upsert answered a record without id"),
        )
    })?;
    Ok(ErpDocumentRef {
        id: ErpDocumentId::new(id.to_string()),
        kind,
        number: string(row, "number").filter(|n| !n.is_empty()),
        created: row.get("created").and_then(Value::as_bool).unwrap_or(false),
    })
}

impl TrytonAdapter {
    /// An adapter for the configured server; nothing is sent until the first call.
    pub fn new(config: TrytonConfig) -> Result<TrytonAdapter> {
        let rpc = RpcClient::new(&config)?;
        Ok(TrytonAdapter {
            config,
            rpc,
            companies: Mutex::new(HashMap::new()),
            accounts: Mutex::new(HashMap::new()),
            parties: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TrytonConfig {
        &self.config
    }

    /// The RPC client, for calls the adapter does not wrap (reading balances, reports).
    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    /// The Tryton company of a legal entity (its party's code, see
    /// [`TrytonConfig::companies`]).
    pub async fn company(&self, entity: &str) -> Result<Company> {
        if let Some(c) = self
            .companies
            .lock()
            .ok()
            .and_then(|m| m.get(entity).cloned())
        {
            return Ok(c);
        }
        let code = self.config.company_code(entity);
        let rows = self
            .rpc
            .search_read(
                "company.company",
                json!([["party.code", "=", code]]),
                Some(2),
                &["id", "currency", "currency.code"],
                &json!({}),
            )
            .await?;
        let row = match rows.as_slice() {
            [row] => row,
            [] => {
                return Err(not_found("company whose party has the code", code)
                    .with_context("entity", entity));
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("several Tryton companies have the party code {code:?}"),
                ));
            }
        };
        let currency = row
            .get("currency.")
            .and_then(|c| c.get("code"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let (Some(id), Some(currency_id), Some(currency)) =
            (int(row, "id"), int(row, "currency"), currency)
        else {
            return Err(Error::new(
                ErrorKind::Unexpected,
                "Tryton answered a company without id or currency",
            ));
        };
        let company = Company {
            id,
            currency,
            currency_id,
        };
        if let Ok(mut m) = self.companies.lock() {
            m.insert(entity.to_owned(), company.clone());
        }
        Ok(company)
    }

    /// Resolves our account codes to Tryton accounts of the company.
    async fn accounts(
        &self,
        company: i64,
        ours: &BTreeSet<&str>,
    ) -> Result<HashMap<String, Account>> {
        let mut out = HashMap::new();
        let mut missing: Vec<&str> = Vec::new();
        if let Ok(cache) = self.accounts.lock() {
            for code in ours {
                let theirs = self.config.account_code(code).to_owned();
                match cache.get(&(company, theirs)) {
                    Some(a) => {
                        out.insert((*code).to_owned(), a.clone());
                    }
                    None => missing.push(code),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let theirs: Vec<&str> = missing
            .iter()
            .map(|c| self.config.account_code(c))
            .collect();
        let rows = self
            .rpc
            .search_read(
                "account.account",
                json!([
                    ["company", "=", company],
                    ["code", "in", theirs],
                    ["closed", "!=", true]
                ]),
                None,
                &["id", "code", "party_required", "type"],
                &ctx(company),
            )
            .await?;
        let mut found: HashMap<String, Account> = HashMap::new();
        for row in &rows {
            let (Some(id), Some(code)) = (int(row, "id"), string(row, "code")) else {
                continue;
            };
            if row.get("type").is_none_or(Value::is_null) {
                return Err(Error::mapping(
                    ReasonCode::UnmappedAccount,
                    format!("Tryton account {code} is a view account (no type): it takes no lines"),
                )
                .with_context("tryton_account", code));
            }
            let party_required = row
                .get("party_required")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            found.insert(code, Account { id, party_required });
        }
        for code in missing {
            let theirs = self.config.account_code(code);
            let account = found.get(theirs).cloned().ok_or_else(|| {
                Error::mapping(
                    ReasonCode::UnmappedAccount,
                    format!("no open Tryton account {theirs:?} (our {code:?}) in the company"),
                )
                .with_context("account", code)
                .with_context("tryton_account", theirs)
            })?;
            if let Ok(mut cache) = self.accounts.lock() {
                cache.insert((company, theirs.to_owned()), account.clone());
            }
            out.insert(code.to_owned(), account);
        }
        Ok(out)
    }

    /// The party with this code.
    pub async fn party(&self, code: &str) -> Result<i64> {
        if let Some(id) = self.parties.lock().ok().and_then(|m| m.get(code).copied()) {
            return Ok(id);
        }
        let rows = self
            .rpc
            .search_read(
                "party.party",
                json!([["code", "=", code]]),
                Some(1),
                &["id"],
                &json!({}),
            )
            .await?;
        let id = rows
            .first()
            .and_then(|r| int(r, "id"))
            .ok_or_else(|| not_found("party with the code", code))?;
        if let Ok(mut m) = self.parties.lock() {
            m.insert(code.to_owned(), id);
        }
        Ok(id)
    }

    async fn one_id(
        &self,
        model: &str,
        domain: Value,
        context: &Value,
        what: &str,
        code: &str,
    ) -> Result<i64> {
        let rows = self
            .rpc
            .search_read(model, domain, Some(1), &["id"], context)
            .await?;
        rows.first()
            .and_then(|r| int(r, "id"))
            .ok_or_else(|| not_found(what, code))
    }

    /// The move lines (Tryton values) for an entry, after every lookup succeeded.
    async fn move_lines(&self, entry: &JournalEntry, company: &Company) -> Result<Vec<Value>> {
        let codes: BTreeSet<&str> = entry.lines.iter().map(|l| l.account.as_str()).collect();
        let accounts = self.accounts(company.id, &codes).await?;
        let mut lines = Vec::with_capacity(entry.lines.len());
        for (index, line) in entry.lines.iter().enumerate() {
            if line.amount.currency.code() != company.currency {
                return Err(Error::validation(
                    ReasonCode::MoneyInvalid,
                    format!(
                        "line {index} is in {} but the Tryton company books in {}: post in the \
                         functional currency (rulebook posting currency)",
                        line.amount.currency.code(),
                        company.currency
                    ),
                )
                .with_context("entity", &entry.entity));
            }
            let account = accounts.get(line.account.as_str()).ok_or_else(|| {
                Error::new(ErrorKind::Unexpected, "an account vanished from the lookup")
            })?;
            let (debit, credit) = match line.side {
                Side::Debit => (line.amount.amount, Decimal::ZERO),
                Side::Credit => (Decimal::ZERO, line.amount.amount),
            };
            let mut values = json!({
                "account": account.id,
                "debit": wire::decimal(debit),
                "credit": wire::decimal(credit),
            });
            if let Some(memo) = line.memo.as_deref().or(line.dimensions.order_id.as_deref()) {
                values["description"] = json!(text::char_field(memo, text::CHAR_MAX));
            }
            if account.party_required {
                let channel = line
                    .dimensions
                    .channel
                    .as_ref()
                    .or_else(|| entry_channel(entry));
                let party_code = match (channel, &self.config.default_party) {
                    (Some(channel), _) => self.config.channel_party(channel),
                    (None, Some(p)) => p.clone(),
                    (None, None) => {
                        return Err(Error::mapping(
                            ReasonCode::UnmappedParty,
                            format!(
                                "Tryton account for {} needs a party: the line has no channel \
                                 and no default_party is configured",
                                line.account
                            ),
                        ));
                    }
                };
                values["party"] = json!(self.party(&party_code).await?);
            }
            lines.push(values);
        }
        Ok(lines)
    }

    async fn period(&self, company: i64, date: NaiveDate) -> Result<i64> {
        let d = wire::date(date);
        self.one_id(
            "account.period",
            json!([
                ["company", "=", company],
                ["start_date", "<=", d],
                ["end_date", ">=", d],
                ["type", "=", "standard"],
                ["state", "=", "open"]
            ]),
            &ctx(company),
            "open standard accounting period of the company containing",
            &date.to_string(),
        )
        .await
    }

    /// The keyed document of `model`, if the module finds a finished one (a posted move, a
    /// confirmed sale).
    async fn find_keyed(
        &self,
        model: &str,
        key: &IdempotencyKey,
        kind: ErpDocumentKind,
    ) -> Result<Option<ErpDocumentRef>> {
        let answer = self
            .rpc
            .model(
                model,
                "marketsync_find",
                vec![json!(key.as_str())],
                &json!({}),
            )
            .await
            .map_err(module_missing)?;
        if answer.is_null() {
            return Ok(None);
        }
        keyed_answer(&answer, model, kind).map(|d| {
            Some(ErpDocumentRef {
                created: false,
                ..d
            })
        })
    }

    /// Finds or creates-and-finishes the document keyed `key` in one Tryton transaction
    /// (`marketsync_upsert` of the `marketsync` module): concurrent writers with one key make
    /// one document and all learn its id.
    async fn upsert_keyed(
        &self,
        model: &str,
        key: &IdempotencyKey,
        values: Value,
        context: &Value,
        kind: ErpDocumentKind,
    ) -> Result<ErpDocumentRef> {
        let answer = self
            .rpc
            .model(
                model,
                "marketsync_upsert",
                vec![json!(key.as_str()), values],
                context,
            )
            .await
            .map_err(|e| module_missing(e).with_context("idempotency_key", key.as_str()))?;
        keyed_answer(&answer, model, kind)
    }
    /// The confirmed sale of an order and its company: the sale the pipeline booked
    /// (`known`, a `sale.sale` id), else the one whose reference is `<channel>:<order id>`.
    /// `None` when Tryton holds no confirmed sale of the order.
    async fn sale_of(
        &self,
        known: Option<&ErpDocumentId>,
        channel: &Channel,
        order: &OrderId,
    ) -> Result<Option<(i64, i64)>> {
        let domain = match known {
            Some(id) => {
                let id: i64 = id.as_str().parse().map_err(|_| {
                    Error::validation(
                        ReasonCode::ErpRejected,
                        format!("{:?} is not a Tryton sale id", id.as_str()),
                    )
                })?;
                json!([["id", "=", id]])
            }
            None => json!([
                [
                    "reference",
                    "=",
                    text::char_field(&format!("{channel}:{order}"), text::CHAR_MAX)
                ],
                ["state", "in", ["confirmed", "processing", "done"]]
            ]),
        };
        let rows = self
            .rpc
            .search_read(
                SALE,
                domain,
                Some(2),
                &["id", "company", "state"],
                &json!({}),
            )
            .await?;
        match rows.as_slice() {
            [] => Ok(None),
            [row] => match (int(row, "id"), int(row, "company")) {
                (Some(id), Some(company)) => Ok(Some((id, company))),
                _ => Err(Error::new(
                    ErrorKind::Unexpected,
                    "Tryton answered a sale without id or company",
                )),
            },
            _ => Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "several confirmed Tryton sales reference {channel}:{order}: name the sales \
                     order in the request"
                ),
            )
            .with_context("order_id", order.as_str())),
        }
    }

    /// The Tryton account id of one of our GL codes in a company.
    async fn account_id(&self, company: i64, ours: &str) -> Result<i64> {
        let codes = BTreeSet::from([ours]);
        let accounts = self.accounts(company, &codes).await?;
        accounts
            .get(ours)
            .map(|a| a.id)
            .ok_or_else(|| Error::new(ErrorKind::Unexpected, "an account vanished from the lookup"))
    }

    /// A company by its id (for documents that follow the sale's company).
    async fn company_by_id(&self, id: i64) -> Result<Company> {
        let rows = self
            .rpc
            .search_read(
                "company.company",
                json!([["id", "=", id]]),
                Some(1),
                &["id", "currency", "currency.code"],
                &json!({}),
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| not_found("company with the id", &id.to_string()))?;
        let currency = row
            .get("currency.")
            .and_then(|c| c.get("code"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        match (int(row, "currency"), currency) {
            (Some(currency_id), Some(currency)) => Ok(Company {
                id,
                currency,
                currency_id,
            }),
            _ => Err(Error::new(
                ErrorKind::Unexpected,
                "Tryton answered a company without currency",
            )),
        }
    }
}

fn line_value(
    description: &str,
    quantity: u32,
    unit_price: &Money,
    product: Option<(i64, i64)>,
) -> Value {
    let mut v = json!({
        "type": "line",
        // Quantities are Float fields in Tryton; whole units travel exactly.
        "quantity": f64::from(quantity),
        "unit_price": wire::decimal(unit_price.amount),
        "description": text::text_field(description, text::TEXT_MAX),
    });
    if let Some((product, unit)) = product {
        v["product"] = json!(product);
        v["unit"] = json!(unit);
    }
    v
}

#[async_trait]
impl ErpAdapter for TrytonAdapter {
    fn system(&self) -> &str {
        "tryton"
    }

    /// Journals, sales orders, fulfilments (customer shipments), refunds (credit notes) and
    /// stock positions.
    fn capabilities(&self) -> ErpCapabilities {
        ErpCapabilities::none()
            .with_journals(true)
            .with_sales_orders(true)
            .with_fulfilments(true)
            .with_refunds(true)
            .with_inventory(true)
    }

    async fn health_check(&self) -> Result<Health> {
        let started = Instant::now();
        let user = self.rpc.user_id().await?;
        self.rpc
            .call("model.res.user.get_preferences", &[json!(true), json!({})])
            .await?;
        // The `marketsync` module answers for every keyed model (an unused key finds
        // nothing): a database with an older module fails here, not on the first refund.
        let probe = IdempotencyKey::derive(
            &Channel::Custom("health".into()),
            &marketsync_core::ShopId::new("health"),
            &marketsync_core::EventKind::Other("health".into()),
            "probe",
            &marketsync_core::Revision::Version(0),
        );
        for (model, kind) in KEYED {
            self.find_keyed(model, &probe, kind).await?;
        }
        Ok(Health {
            ok: true,
            latency: Some(started.elapsed()),
            detail: Some(format!(
                "tryton database {} as user id {user}",
                self.config.database
            )),
        })
    }

    async fn upsert_sales_order(&self, request: &SalesOrderRequest) -> Result<ErpDocumentRef> {
        let order = &request.order;
        order.validate()?;
        let key = &request.idempotency_key;
        // The common repeat: one indexed lookup, none of the lookups below.
        if let Some(doc) = self
            .find_keyed(SALE, key, ErpDocumentKind::SalesOrder)
            .await?
        {
            return Ok(doc);
        }
        let entity = request
            .entity
            .as_ref()
            .map_or(self.config.default_entity.as_str(), |e| e.as_str());
        let company = self.company(entity).await?;
        let c = ctx(company.id);
        let party = self
            .party(&self.config.channel_party(&order.channel))
            .await?;
        let address = self
            .one_id(
                "party.address",
                json!([["party", "=", party]]),
                &c,
                "address of the party with the code",
                &self.config.channel_party(&order.channel),
            )
            .await?;
        let currency = self
            .one_id(
                "currency.currency",
                json!([["code", "=", order.currency.code()]]),
                &c,
                "currency with the code",
                order.currency.code(),
            )
            .await?;
        // Products by code: the resolved ERP item, else the SKU.
        let codes: Vec<String> = order
            .lines
            .iter()
            .map(|l| {
                request
                    .items
                    .get(&l.line_id)
                    .map_or_else(|| l.sku.as_str().to_owned(), |i| i.as_str().to_owned())
            })
            .collect();
        let rows = self
            .rpc
            .search_read(
                "product.product",
                json!([["code", "in", codes]]),
                None,
                &["id", "code", "sale_uom"],
                &c,
            )
            .await?;
        let products: HashMap<String, (i64, i64)> = rows
            .iter()
            .filter_map(|r| Some((string(r, "code")?, (int(r, "id")?, int(r, "sale_uom")?))))
            .collect();
        let totals = order.totals()?;
        let mut lines = Vec::new();
        for (line, code) in order.lines.iter().zip(&codes) {
            let product = products.get(code).copied().ok_or_else(|| {
                Error::mapping(
                    ReasonCode::UnknownSku,
                    format!("Tryton has no product with code {code:?}"),
                )
                .with_context("sku", line.sku.as_str())
            })?;
            lines.push(line_value(
                &line.title,
                line.quantity,
                &line.unit_price,
                Some(product),
            ));
        }
        // Discounts, shipping and exclusive taxes as lines without product, so the sale's total
        // is what the buyer pays. Tryton computes no tax of its own here (the products carry no
        // customer taxes); inclusive taxes are inside the prices already.
        let neg = |m: &Money| Money::new(-m.amount, m.currency);
        if !totals.seller_discounts.is_zero() {
            lines.push(line_value(
                "Seller-funded discount",
                1,
                &neg(&totals.seller_discounts),
                None,
            ));
        }
        if !totals.platform_discounts.is_zero() {
            lines.push(line_value(
                "Platform-funded discount",
                1,
                &neg(&totals.platform_discounts),
                None,
            ));
        }
        if !totals.shipping.is_zero() {
            lines.push(line_value("Shipping", 1, &totals.shipping, None));
        }
        if !totals.tax_exclusive.is_zero() {
            lines.push(line_value(
                "Tax (not included in prices)",
                1,
                &totals.tax_exclusive,
                None,
            ));
        }
        let label = format!("{} order {}", order.channel, order.id);
        let values = json!({
            "company": company.id,
            "party": party,
            "invoice_address": address,
            "shipment_address": address,
            "currency": currency,
            "sale_date": wire::date(order.placed_at.date_naive()),
            "reference": text::char_field(&format!("{}:{}", order.channel, order.id), text::CHAR_MAX),
            "description": text::char_field(&label, text::CHAR_MAX),
            // The GL side comes from marketsync's own journals (post_journal): Tryton must not
            // invoice, or revenue would be booked twice.
            "invoice_method": "manual",
            "shipment_method": "order",
            "lines": [["create", lines]],
        });
        // Created, quoted and confirmed in one Tryton transaction, or not at all.
        self.upsert_keyed(SALE, key, values, &c, ErpDocumentKind::SalesOrder)
            .await
    }

    async fn post_journal(&self, request: &JournalRequest) -> Result<ErpDocumentRef> {
        let entry = &request.entry;
        // Refused before any request: unbalanced, unrounded or non-positive lines.
        entry.validate()?;
        let key = &request.idempotency_key;
        // The common repeat: one indexed lookup, none of the lookups below (which could fail
        // now, e.g. once the period is closed, for an entry posted long ago).
        if let Some(doc) = self
            .find_keyed(MOVE, key, ErpDocumentKind::JournalEntry)
            .await?
        {
            return Ok(doc);
        }
        let company = self.company(entry.entity.as_str()).await?;
        let lines = self.move_lines(entry, &company).await?;
        let period = self.period(company.id, entry.date).await?;
        let journal = self
            .one_id(
                "account.journal",
                json!([["code", "=", self.config.journal]]),
                &ctx(company.id),
                "journal with the code",
                &self.config.journal,
            )
            .await?;
        // Each part cleaned first, so a control character at its end leaves no double space.
        let memo = text::char_field(&entry.memo, text::CHAR_MAX);
        let reference = entry
            .reference
            .as_deref()
            .map(|r| text::char_field(r, text::CHAR_MAX));
        let label = match reference {
            Some(r) if !memo.is_empty() => format!("{r} {memo}"),
            Some(r) => r,
            None => memo,
        };
        let values = json!({
            "company": company.id,
            "journal": journal,
            "period": period,
            "date": wire::date(entry.date),
            "description": text::char_field(&label, text::CHAR_MAX),
            "lines": [["create", lines]],
        });
        let c = ctx(company.id);
        // Created and posted in one Tryton transaction, or not at all: a refused post (closed
        // period…) or a 503 leaves no draft behind.
        self.upsert_keyed(MOVE, key, values, &c, ErpDocumentKind::JournalEntry)
            .await
    }

    /// Ships the order's confirmed sale: the sale's open customer shipment
    /// (`stock.shipment.out`) goes through Tryton's workflow (waiting, assigned — forced when
    /// the book stock is short, since the goods have left —, picked, packed, done) with the
    /// shipment's quantities, dated when it left; the sale makes a new shipment for what is
    /// left. One Tryton transaction, keyed on the shipment.
    async fn record_fulfilment(&self, request: &FulfilmentRequest) -> Result<ErpDocumentRef> {
        let key = &request.idempotency_key;
        if let Some(doc) = self
            .find_keyed(SHIPMENT, key, ErpDocumentKind::Fulfilment)
            .await?
        {
            return Ok(doc);
        }
        let shipment = &request.shipment;
        let lines = lifecycle::fulfilment_lines(shipment)?;
        let (sale, company) = self
            .sale_of(
                request.sales_order.as_ref(),
                &shipment.channel,
                &shipment.order_id,
            )
            .await?
            .ok_or_else(|| {
                Error::validation(
                    ReasonCode::OrderNotSynced,
                    format!(
                        "Tryton holds no confirmed sale of {}:{}: sync the order first",
                        shipment.channel, shipment.order_id
                    ),
                )
                .with_context("order_id", shipment.order_id.as_str())
            })?;
        let reference = [shipment.carrier.trim(), shipment.tracking_number.trim()]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let values = json!({
            "sale": sale,
            "lines": lines,
            "effective_date": wire::date(shipment.shipped_at.date_naive()),
            "reference": text::char_field(&reference, text::CHAR_MAX),
        });
        self.upsert_keyed(
            SHIPMENT,
            key,
            values,
            &ctx(company),
            ErpDocumentKind::Fulfilment,
        )
        .await
    }

    /// Books a completed refund as a credit note: an `out` invoice with negative lines (the
    /// goods net of included taxes, shipping, any order-level remainder) and the refunded taxes
    /// as manual invoice taxes, in the company of the order's sale, **validated but not
    /// posted**: the refund's ledger entry is marketsync's refund reversal journal, as the
    /// sale's revenue is its accrual journal (the sale is not invoiced by Tryton). See the crate
    /// docs.
    async fn record_refund(&self, request: &RefundRequest) -> Result<ErpDocumentRef> {
        let key = &request.idempotency_key;
        if let Some(doc) = self
            .find_keyed(INVOICE, key, ErpDocumentKind::Refund)
            .await?
        {
            return Ok(doc);
        }
        let refund = &request.refund;
        if refund.status != RefundStatus::Completed {
            return Err(Error::validation(
                ReasonCode::NotPostable,
                format!(
                    "refund {} is {:?}: only a completed refund makes a credit note",
                    refund.id, refund.status
                ),
            ));
        }
        refund.validate()?;
        // The sale's company when Tryton holds the sale, else the default legal entity.
        let company = match self
            .sale_of(
                request.sales_order.as_ref(),
                &refund.channel,
                &refund.order_id,
            )
            .await?
        {
            Some((_, company)) => self.company_by_id(company).await?,
            None => self.company(&self.config.default_entity).await?,
        };
        let c = ctx(company.id);
        let party_code = self.config.channel_party(&refund.channel);
        let party = self.party(&party_code).await?;
        let currency = self
            .one_id(
                "currency.currency",
                json!([["code", "=", refund.total.currency.code()]]),
                &c,
                "currency with the code",
                refund.total.currency.code(),
            )
            .await?;
        let codes = lifecycle::refund_codes(refund, &request.items);
        let returned = lifecycle::returned_goods(refund, &request.items);
        let lookup: BTreeSet<&str> = codes
            .iter()
            .map(String::as_str)
            .chain(returned.iter().map(|g| g.code.as_str()))
            .collect();
        let products: HashMap<String, i64> = if lookup.is_empty() {
            HashMap::new()
        } else {
            self.rpc
                .search_read(
                    "product.product",
                    json!([["code", "in", lookup]]),
                    None,
                    &["id", "code"],
                    &c,
                )
                .await?
                .iter()
                .filter_map(|r| Some((string(r, "code")?, int(r, "id")?)))
                .collect()
        };
        let product = |code: &str| {
            products.get(code).copied().ok_or_else(|| {
                Error::mapping(
                    ReasonCode::UnknownSku,
                    format!("Tryton has no product with code {code:?}"),
                )
                .with_context("sku", code)
            })
        };
        let product_ids = codes
            .iter()
            .map(|code| product(code).map(Some))
            .collect::<Result<Vec<_>>>()?;
        // Goods back to stock: a customer return shipment in the warehouse, in the same
        // transaction as the credit note.
        let goods_return = match (&refund.goods_return, returned.is_empty()) {
            (Some(goods), false) => {
                let warehouse = self
                    .one_id(
                        "stock.location",
                        json!([
                            ["code", "=", self.config.warehouse],
                            ["type", "=", "warehouse"]
                        ]),
                        &c,
                        "warehouse with the code",
                        &self.config.warehouse,
                    )
                    .await?;
                let lines = returned
                    .iter()
                    .map(|g| {
                        Ok(json!({
                            "product": product(&g.code)?,
                            "quantity": f64::from(g.quantity),
                            "unit_price": wire::decimal(g.unit_price),
                        }))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let reference = [
                    goods.carrier.as_deref().unwrap_or_default().trim(),
                    goods.tracking_number.as_deref().unwrap_or_default().trim(),
                ]
                .iter()
                .filter(|p| !p.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
                let reference = if reference.is_empty() {
                    format!("{}:{} return {}", refund.channel, refund.order_id, goods.id)
                } else {
                    reference
                };
                json!({
                    "warehouse": warehouse,
                    "date": wire::date(
                        goods.received_at.unwrap_or(refund.updated_at).date_naive()
                    ),
                    "received": goods.received_at.is_some(),
                    "reference": text::char_field(&reference, text::CHAR_MAX),
                    "lines": lines,
                })
            }
            _ => Value::Null,
        };
        let note = lifecycle::credit_note(refund, &product_ids)?;
        let taxes = if note.taxes.is_empty() {
            Vec::new()
        } else {
            let ours = self.config.tax_account.as_deref().ok_or_else(|| {
                Error::mapping(
                    ReasonCode::UnmappedTax,
                    "the refund refunds taxes but no tax account is configured for credit \
                     notes (TAX_ACCOUNT)",
                )
            })?;
            note.tax_values(self.account_id(company.id, ours).await?)
        };
        let values = json!({
            "company": company.id,
            "party": party,
            "currency": currency,
            "invoice_date": wire::date(refund.updated_at.date_naive()),
            "reference": text::char_field(
                &format!("{}:{}", refund.channel, refund.order_id),
                text::CHAR_MAX
            ),
            "description": text::char_field(
                &format!(
                    "{} refund {} of order {}",
                    refund.channel, refund.id, refund.order_id
                ),
                text::CHAR_MAX
            ),
            "lines": note.line_values(),
            "taxes": taxes,
            "return": goods_return,
        });
        self.upsert_keyed(INVOICE, key, values, &c, ErpDocumentKind::Refund)
            .await
    }

    async fn inventory_positions(&self, skus: &[Sku]) -> Result<Vec<InventoryPosition>> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let company = self.company(&self.config.default_entity).await?;
        let warehouse = self
            .one_id(
                "stock.location",
                json!([
                    ["code", "=", self.config.warehouse],
                    ["type", "=", "warehouse"]
                ]),
                &ctx(company.id),
                "warehouse with the code",
                &self.config.warehouse,
            )
            .await?;
        let today = Utc::now().date_naive();
        let context = json!({
            "company": company.id,
            "companies": [company.id],
            "locations": [warehouse],
            "with_childs": true,
            "stock_date_end": wire::date(today),
        });
        let codes: Vec<&str> = skus.iter().map(Sku::as_str).collect();
        let rows = self
            .rpc
            .search_read(
                "product.product",
                json!([["code", "in", codes]]),
                None,
                &["id", "code", "quantity", "forecast_quantity"],
                &context,
            )
            .await?;
        let by_code: BTreeMap<String, &Map<String, Value>> = rows
            .iter()
            .filter_map(|r| Some((string(r, "code")?, r)))
            .collect();
        let as_of = Utc::now();
        let mut out = Vec::with_capacity(skus.len());
        for sku in skus {
            let row = by_code.get(sku.as_str()).ok_or_else(|| {
                Error::mapping(
                    ReasonCode::UnknownSku,
                    format!("Tryton has no product with code {:?}", sku.as_str()),
                )
                .with_context("sku", sku.as_str())
            })?;
            // Quantities are floats in Tryton (units, not money): whole units, checked.
            let on_hand = wire::parse_stock_quantity(row.get("quantity"), "quantity")?;
            let forecast =
                wire::parse_stock_quantity(row.get("forecast_quantity"), "forecast_quantity")?;
            let available = forecast.min(on_hand);
            // Both within ±MAX_STOCK_QUANTITY, so the difference cannot overflow.
            let reserved = on_hand.checked_sub(available).ok_or_else(|| {
                Error::validation(ReasonCode::InvalidQuantity, "Tryton stock out of range")
            })?;
            out.push(InventoryPosition {
                sku: sku.clone(),
                location: LocationId::new(self.config.warehouse.clone()),
                on_hand,
                reserved,
                available,
                as_of,
            });
        }
        Ok(out)
    }

    async fn find_by_idempotency_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<ErpDocumentRef>> {
        for (model, kind) in KEYED {
            if let Some(doc) = self.find_keyed(model, key, kind).await? {
                return Ok(Some(doc));
            }
        }
        Ok(None)
    }
}

/// The channel a journal entry belongs to, from its lines' dimensions (for party lookups).
fn entry_channel(entry: &JournalEntry) -> Option<&Channel> {
    entry
        .lines
        .iter()
        .find_map(|l| l.dimensions.channel.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_module_method_is_a_configuration_error() {
        let e = wire::parse_error(403, None, None, "model.account.move.marketsync_find");
        let e = module_missing(e);
        assert_eq!(e.kind(), &ErrorKind::ConfigInvalid);
        assert!(e.to_string().contains("marketsync"), "{e}");
        // Other errors pass through unchanged.
        let e = module_missing(wire::parse_error(503, None, None, "m"));
        assert_eq!(e.kind(), &ErrorKind::Unavailable);
    }

    #[test]
    fn keyed_answers_are_read_strictly() {
        let doc = keyed_answer(
            &json!({"id": 7, "number": "M7", "state": "posted", "created": true}),
            MOVE,
            ErpDocumentKind::JournalEntry,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (doc.id.as_str(), doc.number.as_deref(), doc.created),
            ("7", Some("M7"), true)
        );
        assert!(keyed_answer(&json!([7, true]), MOVE, ErpDocumentKind::JournalEntry).is_err());
        assert!(keyed_answer(&json!({"number": "x"}), SALE, ErpDocumentKind::SalesOrder).is_err());
    }
}
