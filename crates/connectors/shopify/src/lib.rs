#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod auth;
pub mod client;
pub mod config;
pub mod normalize;
pub mod query;
pub mod webhook;
pub mod wire;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use marketsync_core::{
    Channel, ConnectorCapabilities, Error, ErrorKind, EventKind, FetchQuery, Fetched, Health,
    IdempotencyKey, InventoryAck, InventoryUpdate, MarketplaceConnector, Order, RawRecord,
    ReasonCode, Refund, Result, Revision, Settlement, Shipment, ShipmentAck, ShopId, TimeWindow,
    TimeZoneId,
};
use serde_json::{Value, json};

pub use client::{GraphQlClient, parse_error, throttle_wait};
pub use config::ShopifyConfig;
pub use normalize::NormalizeContext;
pub use webhook::{WebhookDelivery, WebhookOutcome, WebhookVerifier};

/// The Shopify connector: one instance per shop. See the [crate docs](crate).
pub struct ShopifyConnector {
    config: ShopifyConfig,
    client: GraphQlClient,
    ctx: NormalizeContext,
    /// Last inventory version applied per (SKU, location), to refuse stale updates.
    inventory_versions: Mutex<HashMap<(String, String), u64>>,
}

impl std::fmt::Debug for ShopifyConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyConnector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn malformed(message: impl Into<String>) -> Error {
    Error::validation(ReasonCode::MalformedPayload, message).with_context("connector", "shopify")
}

fn unexpected(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unexpected, message).with_context("connector", "shopify")
}

/// `updated_at:>='…' updated_at:<'…'` in Shopify's search syntax.
pub fn window_filter(field: &str, window: &TimeWindow) -> String {
    let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    format!(
        "{field}:>='{}' {field}:<'{}'",
        fmt(window.start),
        fmt(window.end)
    )
}

/// The numeric tail of a global id (`gid://shopify/Order/123` → `123`).
fn legacy_id(gid: &str) -> &str {
    gid.rsplit('/').next().unwrap_or(gid)
}

/// Quotes a value for Shopify's search syntax.
fn search_quote(value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// Takes `data.<path…>` as a connection: its nodes and page info.
fn connection(data: &Value, path: &[&str]) -> Result<(Vec<Value>, wire::PageInfo)> {
    let mut v = data;
    for p in path {
        v = v
            .get(p)
            .ok_or_else(|| unexpected(format!("the answer has no {}", path.join("."))))?;
    }
    let nodes = v
        .get("nodes")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| unexpected(format!("{} has no nodes", path.join("."))))?;
    let page_info = v
        .get("pageInfo")
        .cloned()
        .map(serde_json::from_value::<wire::PageInfo>)
        .transpose()
        .map_err(|e| unexpected("malformed pageInfo").with_source(e))?
        .unwrap_or_default();
    Ok((nodes, page_info))
}

fn raw(node: &Value, source: &str) -> RawRecord {
    RawRecord::from_value(node, Some(source))
}

fn node_id(node: &Value) -> Option<String> {
    node.get("id").and_then(Value::as_str).map(str::to_owned)
}

impl ShopifyConnector {
    /// A connector for one shop. Checks the configuration; does not call Shopify.
    pub fn new(config: ShopifyConfig) -> Result<ShopifyConnector> {
        config.validate()?;
        let client = GraphQlClient::new(&config)?;
        let time_zone = TimeZoneId::new(config.time_zone.clone()).unwrap_or_else(TimeZoneId::utc);
        let mut ctx = NormalizeContext::new(config.shop_id(), time_zone);
        ctx.pii_region = config.pii_region;
        Ok(ShopifyConnector {
            config,
            client,
            ctx,
            inventory_versions: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ShopifyConfig {
        &self.config
    }

    /// The GraphQL client (e.g. to read the last throttle status).
    pub fn client(&self) -> &GraphQlClient {
        &self.client
    }

    /// Sets the cap on pages per window walk (default
    /// [`client::DEFAULT_MAX_PAGES_PER_WINDOW`]); a walk past it is an error.
    pub fn with_max_pages_per_window(mut self, cap: u32) -> ShopifyConnector {
        self.client = self.client.with_max_pages_per_window(cap);
        self
    }

    fn page_size(query: &FetchQuery, node_cost: u32, overhead: u32) -> u32 {
        let max = query::max_page(node_cost, overhead);
        query.page_size.unwrap_or(max).clamp(1, max)
    }

    fn orders_filter(query: &FetchQuery) -> String {
        if query.ids.is_empty() {
            window_filter("updated_at", &query.window)
        } else {
            query
                .ids
                .iter()
                .map(|id| format!("id:{}", legacy_id(id.as_str())))
                .collect::<Vec<_>>()
                .join(" OR ")
        }
    }

    /// Fetches the remaining line items of an order whose first page was truncated.
    async fn complete_line_items(&self, node: &mut Value) -> Result<()> {
        let mut pages = client::NestedPages::new("orderLineItems");
        loop {
            let page: wire::PageInfo = node
                .get("lineItems")
                .and_then(|l| l.get("pageInfo"))
                .cloned()
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| malformed("malformed lineItems.pageInfo").with_source(e))?
                .unwrap_or_default();
            let Some(after) = pages.advance(&page)? else {
                return Ok(());
            };
            let id = node_id(node).ok_or_else(|| malformed("order without id"))?;
            let answer = self
                .client
                .execute(
                    "orderLineItems",
                    query::ORDER_LINE_ITEMS,
                    json!({"id": id, "after": after}),
                )
                .await?;
            let (more, more_page) = connection(&answer.data, &["order", "lineItems"])?;
            let Some(items) = node
                .get_mut("lineItems")
                .and_then(|l| l.get_mut("nodes"))
                .and_then(Value::as_array_mut)
            else {
                return Err(malformed("order without lineItems.nodes"));
            };
            items.extend(more);
            if let Some(p) = node
                .get_mut("lineItems")
                .and_then(|l| l.get_mut("pageInfo"))
            {
                *p = json!({"hasNextPage": more_page.has_next_page, "endCursor": more_page.end_cursor});
            }
        }
    }

    fn normalize_order_node(&self, node: Value) -> Fetched<Order> {
        let id = node_id(&node);
        let raw = raw(&node, "orders");
        match serde_json::from_value::<wire::Order>(node) {
            Ok(w) => match normalize::order(&w, &self.ctx, &raw) {
                Ok(o) => Fetched::ok(w.id, raw, o),
                Err(e) => Fetched::failed(Some(w.id), raw, e),
            },
            Err(e) => Fetched::failed(
                id,
                raw,
                malformed(format!(
                    "the order does not match Shopify's Order shape: {e}"
                ))
                .with_source(e),
            ),
        }
    }

    async fn balance_transactions(&self, payout: &wire::Payout) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = client::NestedPages::new("balanceTransactions");
        let filter = format!("payments_transfer_id:{}", payout.legacy_resource_id);
        loop {
            let answer = self
                .client
                .execute(
                    "balanceTransactions",
                    query::BALANCE_TRANSACTIONS,
                    json!({"after": after, "query": filter}),
                )
                .await?;
            let (nodes, page) = connection(
                &answer.data,
                &["shopifyPaymentsAccount", "balanceTransactions"],
            )?;
            out.extend(nodes);
            match pages.advance(&page)? {
                Some(c) => after = Some(c),
                None => return Ok(out),
            }
        }
    }

    async fn variant_inventory_item(
        &self,
        sku: &str,
    ) -> Result<Option<std::result::Result<String, String>>> {
        let answer = self
            .client
            .execute(
                "productVariants",
                query::VARIANTS_BY_SKU,
                json!({"query": format!("sku:{}", search_quote(sku))}),
            )
            .await?;
        let (nodes, _) = connection(&answer.data, &["productVariants"])?;
        let items: Vec<String> = nodes
            .iter()
            .filter(|n| n.get("sku").and_then(Value::as_str) == Some(sku))
            .filter_map(|n| {
                n.get("inventoryItem")
                    .and_then(|i| i.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        Ok(match items.as_slice() {
            [] => None,
            [one] => Some(Ok(one.clone())),
            _ => Some(Err(format!("SKU {sku} matches {} variants", items.len()))),
        })
    }
}

#[async_trait]
impl MarketplaceConnector for ShopifyConnector {
    fn channel(&self) -> Channel {
        Channel::Shopify
    }

    fn shop(&self) -> ShopId {
        self.config.shop_id()
    }

    fn capabilities(&self) -> ConnectorCapabilities {
        ConnectorCapabilities::all().with_webhooks(true)
    }

    async fn health_check(&self) -> Result<Health> {
        let started = Instant::now();
        let answer = self.client.execute("shop", query::SHOP, json!({})).await?;
        let shop: wire::Shop =
            serde_json::from_value(answer.data.get("shop").cloned().unwrap_or(Value::Null))
                .map_err(|e| unexpected("malformed shop").with_source(e))?;
        Ok(Health {
            ok: true,
            latency: Some(started.elapsed()),
            detail: Some(format!(
                "{} ({}, {}), API {}",
                shop.name,
                shop.currency_code,
                shop.iana_timezone.as_deref().unwrap_or("?"),
                self.config.api_version
            )),
        })
    }

    async fn fetch_orders(&self, q: &FetchQuery) -> Result<marketsync_core::Page<Order>> {
        let first = Self::page_size(q, query::ORDER_NODE_COST, 0);
        let answer = self
            .client
            .execute(
                "orders",
                query::ORDERS,
                json!({
                    "first": first,
                    "after": client::after_cursor(q.cursor.as_ref())?,
                    "query": Self::orders_filter(q),
                }),
            )
            .await?;
        let (nodes, page) = connection(&answer.data, &["orders"])?;
        let mut items = Vec::with_capacity(nodes.len());
        for mut node in nodes {
            self.complete_line_items(&mut node).await?;
            items.push(self.normalize_order_node(node));
        }
        Ok(marketsync_core::Page {
            items,
            next_cursor: self
                .client
                .next_cursor("orders", q.cursor.as_ref(), &page)?,
        })
    }

    /// Every refund of the orders updated in the window (a refund updates its order), so a
    /// refund is never lost to a later order change; the pipeline de-duplicates by revision.
    async fn fetch_returns(&self, q: &FetchQuery) -> Result<marketsync_core::Page<Refund>> {
        let first = Self::page_size(q, query::REFUND_ORDER_NODE_COST, 0);
        let answer = self
            .client
            .execute(
                "refunds",
                query::REFUNDS,
                json!({
                    "first": first,
                    "after": client::after_cursor(q.cursor.as_ref())?,
                    "query": Self::orders_filter(q),
                }),
            )
            .await?;
        let (nodes, page) = connection(&answer.data, &["orders"])?;
        let mut items = Vec::new();
        for node in nodes {
            let order_raw = raw(&node, "orders.refunds");
            let order: wire::OrderRefunds = match serde_json::from_value(node.clone()) {
                Ok(o) => o,
                Err(e) => {
                    items.push(Fetched::failed(
                        node_id(&node),
                        order_raw,
                        malformed(format!("refunds do not match Shopify's shape: {e}"))
                            .with_source(e),
                    ));
                    continue;
                }
            };
            let refunds = node.get("refunds").and_then(Value::as_array);
            for (i, r) in order.refunds.iter().enumerate() {
                let r_raw = refunds
                    .and_then(|a| a.get(i))
                    .map_or_else(|| order_raw.clone(), |v| raw(v, "orders.refunds"));
                match normalize::refund(r, &order, &self.ctx, &r_raw) {
                    Ok(refund) => items.push(Fetched::ok(r.id.clone(), r_raw, refund)),
                    Err(e) => items.push(Fetched::failed(Some(r.id.clone()), r_raw, e)),
                }
            }
        }
        Ok(marketsync_core::Page {
            items,
            next_cursor: self
                .client
                .next_cursor("refunds", q.cursor.as_ref(), &page)?,
        })
    }

    /// One settlement per Shopify Payments payout issued in the window, with all its balance
    /// transactions: `issuedAt` is the payout's publication time, so a payout for sales made
    /// long before is read in the window it is issued in (the
    /// [stream contract](marketsync_core::FetchQuery#the-stream-contract)). Shopify offers no
    /// update-time filter for payouts: a status change is read again (with a newer revision)
    /// while `issuedAt` is inside the caller's re-read look-back.
    async fn fetch_settlements(&self, q: &FetchQuery) -> Result<marketsync_core::Page<Settlement>> {
        let first = Self::page_size(q, query::PAYOUT_NODE_COST, 1).min(10);
        let answer = self
            .client
            .execute(
                "payouts",
                query::PAYOUTS,
                json!({
                    "first": first,
                    "after": client::after_cursor(q.cursor.as_ref())?,
                    "query": window_filter("issued_at", &q.window),
                }),
            )
            .await?;
        let (nodes, page) = connection(&answer.data, &["shopifyPaymentsAccount", "payouts"])?;
        let mut items = Vec::with_capacity(nodes.len());
        for node in nodes {
            let id = node_id(&node);
            let payout: wire::Payout = match serde_json::from_value(node.clone()) {
                Ok(p) => p,
                Err(e) => {
                    items.push(Fetched::failed(
                        id,
                        raw(&node, "payouts"),
                        malformed(format!("payout does not match Shopify's shape: {e}"))
                            .with_source(e),
                    ));
                    continue;
                }
            };
            let txn_nodes = self.balance_transactions(&payout).await?;
            let record = json!({"payout": node, "balanceTransactions": txn_nodes});
            let record_raw = raw(&record, "payouts");
            let txns: std::result::Result<Vec<wire::BalanceTransaction>, _> =
                serde_json::from_value(Value::Array(txn_nodes));
            let outcome = match txns {
                Ok(t) => normalize::settlement(&payout, &t, &self.ctx, &record_raw),
                Err(e) => Err(malformed(format!(
                    "balance transaction does not match Shopify's shape: {e}"
                ))
                .with_source(e)),
            };
            items.push(match outcome {
                Ok(s) => Fetched::ok(payout.id.clone(), record_raw, s),
                Err(e) => Fetched::failed(Some(payout.id.clone()), record_raw, e),
            });
        }
        Ok(marketsync_core::Page {
            items,
            next_cursor: self
                .client
                .next_cursor("payouts", q.cursor.as_ref(), &page)?,
        })
    }

    /// Sets `available` with `inventorySetQuantities`, one mutation for the batch, carrying an
    /// idempotency key derived from the batch (so a retried batch is applied once). SKUs are
    /// resolved to inventory items by exact SKU match. An update older than the last version
    /// this instance applied for the SKU and location is acknowledged as not applied.
    async fn push_inventory(&self, updates: &[InventoryUpdate]) -> Result<Vec<InventoryAck>> {
        let mut acks: Vec<Option<InventoryAck>> = vec![None; updates.len()];
        let mut quantities = Vec::new();
        let mut batch: Vec<usize> = Vec::new();
        let mut resolved: BTreeMap<String, Option<std::result::Result<String, String>>> =
            BTreeMap::new();
        for (i, u) in updates.iter().enumerate() {
            let not_applied = |msg: String| InventoryAck {
                sku: u.sku.clone(),
                version: u.version,
                applied: false,
                message: Some(msg),
            };
            let location = match u
                .location
                .as_ref()
                .map(|l| l.as_str().to_owned())
                .or_else(|| self.config.location_id.clone())
            {
                Some(l) => l,
                None => {
                    return Err(Error::new(
                        ErrorKind::ConfigInvalid,
                        "no location: set location_id or name one on the update",
                    ));
                }
            };
            let stale = self
                .inventory_versions
                .lock()
                .ok()
                .and_then(|m| {
                    m.get(&(u.sku.as_str().to_owned(), location.clone()))
                        .copied()
                })
                .is_some_and(|v| v >= u.version);
            if stale {
                acks[i] = Some(not_applied("superseded by a newer version".into()));
                continue;
            }
            let item = match resolved.get(u.sku.as_str()) {
                Some(r) => r.clone(),
                None => {
                    let r = self.variant_inventory_item(u.sku.as_str()).await?;
                    resolved.insert(u.sku.as_str().to_owned(), r.clone());
                    r
                }
            };
            match item {
                None => acks[i] = Some(not_applied(format!("no variant has SKU {}", u.sku))),
                Some(Err(msg)) => acks[i] = Some(not_applied(msg)),
                Some(Ok(item_id)) => {
                    let mut q = json!({"inventoryItemId": item_id, "locationId": location, "quantity": u.available});
                    if self.config.version_at_least(2026, 4) {
                        q["changeFromQuantity"] = Value::Null;
                    }
                    quantities.push(q);
                    batch.push(i);
                }
            }
        }
        if !quantities.is_empty() {
            let fingerprint = batch
                .iter()
                .map(|&i| {
                    let u = &updates[i];
                    format!("{}@{}={}", u.sku, u.version, u.available)
                })
                .collect::<Vec<_>>()
                .join(";");
            let key = IdempotencyKey::derive(
                &Channel::Shopify,
                &self.config.shop_id(),
                &EventKind::Inventory,
                &fingerprint,
                &Revision::Version(batch.iter().map(|&i| updates[i].version).max().unwrap_or(0)),
            );
            let mut input = json!({
                "name": "available",
                "reason": "correction",
                "referenceDocumentUri": format!("marketsync://inventory/{}", key.as_str()),
                "quantities": quantities,
            });
            if !self.config.version_at_least(2026, 4) {
                input["ignoreCompareQuantity"] = json!(true);
            }
            let answer = if self.config.version_at_least(2026, 1) {
                self.client
                    .execute(
                        "inventorySetQuantities",
                        query::SET_QUANTITIES_IDEMPOTENT,
                        json!({"input": input, "idempotencyKey": key.as_str()}),
                    )
                    .await?
            } else {
                self.client
                    .execute(
                        "inventorySetQuantities",
                        query::SET_QUANTITIES,
                        json!({"input": input}),
                    )
                    .await?
            };
            let payload = answer
                .data
                .get("inventorySetQuantities")
                .cloned()
                .unwrap_or(Value::Null);
            let errors: Vec<wire::UserError> = payload
                .get("userErrors")
                .cloned()
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| unexpected("malformed userErrors").with_source(e))?
                .unwrap_or_default();
            if errors
                .iter()
                .any(|e| e.code.as_deref() == Some("IDEMPOTENCY_CONCURRENT_REQUEST"))
            {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    "the same inventory batch is still being applied; retry",
                )
                .with_context("connector", "shopify"));
            }
            let message = (!errors.is_empty()).then(|| {
                errors
                    .iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            for &i in &batch {
                let u = &updates[i];
                if message.is_none() {
                    if let Ok(mut m) = self.inventory_versions.lock() {
                        let loc = u
                            .location
                            .as_ref()
                            .map(|l| l.as_str().to_owned())
                            .or_else(|| self.config.location_id.clone())
                            .unwrap_or_default();
                        m.insert((u.sku.as_str().to_owned(), loc), u.version);
                    }
                }
                acks[i] = Some(InventoryAck {
                    sku: u.sku.clone(),
                    version: u.version,
                    applied: message.is_none(),
                    message: message.clone(),
                });
            }
        }
        acks.into_iter()
            .map(|a| a.ok_or_else(|| unexpected("an inventory update got no answer")))
            .collect()
    }

    /// Creates a fulfilment with tracking from the order's open fulfilment orders. A repeat is
    /// harmless: when the order already has a successful fulfilment with the same tracking
    /// number, that one is returned with `created: false` and nothing is sent.
    async fn confirm_shipment(
        &self,
        shipment: &Shipment,
        key: &IdempotencyKey,
    ) -> Result<ShipmentAck> {
        let answer = self
            .client
            .execute(
                "fulfillmentOrders",
                query::FULFILLMENT_ORDERS,
                json!({"id": shipment.order_id.as_str()}),
            )
            .await?;
        let order = answer
            .data
            .get("order")
            .filter(|o| !o.is_null())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("order {} not found", shipment.order_id),
                )
            })?;
        if let Some(existing) = order
            .get("fulfillments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|f| {
                f.get("status").and_then(Value::as_str) == Some("SUCCESS")
                    && f.get("trackingInfo")
                        .and_then(Value::as_array)
                        .is_some_and(|t| {
                            t.iter().any(|ti| {
                                ti.get("number").and_then(Value::as_str)
                                    == Some(shipment.tracking_number.as_str())
                            })
                        })
            })
        {
            return Ok(ShipmentAck {
                order_id: shipment.order_id.clone(),
                platform_shipment_id: node_id(existing),
                created: false,
            });
        }
        let (fos, _) = connection(order, &["fulfillmentOrders"])?;
        let open: Vec<&Value> = fos
            .iter()
            .filter(|fo| {
                matches!(
                    fo.get("status").and_then(Value::as_str),
                    Some("OPEN" | "IN_PROGRESS")
                )
            })
            .collect();
        let mut by_fo: Vec<Value> = Vec::new();
        if shipment.lines.is_empty() {
            by_fo.extend(
                open.iter()
                    .filter_map(|fo| node_id(fo))
                    .map(|id| json!({"fulfillmentOrderId": id})),
            );
        } else {
            let mut remaining: HashMap<String, i64> = HashMap::new();
            let mut picked: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for line in &shipment.lines {
                let mut need = i64::from(line.quantity);
                for fo in &open {
                    let fo_id = node_id(fo).unwrap_or_default();
                    let (fo_lines, _) = connection(fo, &["lineItems"])?;
                    for fl in fo_lines {
                        if need == 0 {
                            break;
                        }
                        let matches = fl
                            .get("lineItem")
                            .and_then(|l| l.get("id"))
                            .and_then(Value::as_str)
                            == Some(line.line_id.as_str());
                        let Some(fl_id) = node_id(&fl) else { continue };
                        if !matches {
                            continue;
                        }
                        let left = remaining.entry(fl_id.clone()).or_insert_with(|| {
                            fl.get("remainingQuantity")
                                .and_then(Value::as_i64)
                                .unwrap_or(0)
                        });
                        let take = need.min(*left);
                        if take > 0 {
                            *left -= take;
                            need -= take;
                            picked
                                .entry(fo_id.clone())
                                .or_default()
                                .push(json!({"id": fl_id, "quantity": take}));
                        }
                    }
                }
                if need > 0 {
                    return Err(Error::validation(
                        ReasonCode::OverFulfilment,
                        format!(
                            "{need} unit(s) of line {} have no open fulfilment order",
                            line.line_id
                        ),
                    ));
                }
            }
            by_fo.extend(picked.into_iter().map(
                |(fo, lines)| json!({"fulfillmentOrderId": fo, "fulfillmentOrderLineItems": lines}),
            ));
        }
        if by_fo.is_empty() {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("order {} has nothing left to fulfil", shipment.order_id),
            ));
        }
        tracing::debug!(order = %shipment.order_id, key = key.as_str(), "creating Shopify fulfilment");
        let answer = self
            .client
            .execute(
                "fulfillmentCreate",
                query::FULFILLMENT_CREATE,
                json!({"fulfillment": {
                    "lineItemsByFulfillmentOrder": by_fo,
                    "trackingInfo": {"company": shipment.carrier, "number": shipment.tracking_number},
                    "notifyCustomer": false,
                }}),
            )
            .await?;
        let payload = answer
            .data
            .get("fulfillmentCreate")
            .cloned()
            .unwrap_or(Value::Null);
        let errors: Vec<wire::UserError> = payload
            .get("userErrors")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| unexpected("malformed userErrors").with_source(e))?
            .unwrap_or_default();
        if !errors.is_empty() {
            let msg = errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::validation(
                ReasonCode::ShopifyRejected,
                format!("Shopify refused the fulfilment: {msg}"),
            )
            .with_context("connector", "shopify"));
        }
        Ok(ShipmentAck {
            order_id: shipment.order_id.clone(),
            platform_shipment_id: payload.get("fulfillment").and_then(node_id),
            created: true,
        })
    }
}
