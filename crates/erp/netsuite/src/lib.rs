#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod client;
pub mod config;
pub mod normalize;
pub mod sign;
pub mod text;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use marketsync_core::{
    ErpAdapter, ErpCapabilities, ErpDocumentId, ErpDocumentKind, ErpDocumentRef, Error, ErrorKind,
    FulfilmentRequest, Health, IdempotencyKey, InventoryPosition, JournalRequest, ReasonCode,
    RefundRequest, Result, SalesOrderRequest, Sku,
};
use marketsync_http::http::Method;

pub use client::{NsClient, parse_error};
pub use config::{DimensionRule, NetSuiteConfig, Secret};
pub use sign::{TbaCredentials, TbaSigner};

use crate::normalize::{sql_in_list, sql_literal};
use crate::wire::{
    ApplyLine, CustomerRefundBody, JsonDecimal, RecordIdentity, RecordRead, Ref, Sublist,
};

/// SKUs per SuiteQL `IN (…)` list.
const SKU_CHUNK: usize = 200;

/// The NetSuite [`ErpAdapter`]. See the [crate docs](crate).
pub struct NetSuiteAdapter {
    client: NsClient,
    config: Arc<NetSuiteConfig>,
    items: Mutex<BTreeMap<Sku, String>>,
}

impl std::fmt::Debug for NetSuiteAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetSuiteAdapter")
            .field("config", &self.config)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

fn encode<T: serde::Serialize>(body: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(body)
        .map_err(|e| Error::new(ErrorKind::Unexpected, "cannot encode request body").with_source(e))
}

fn record<T: serde::de::DeserializeOwned>(resp: &marketsync_http::HttpResponse) -> Result<T> {
    serde_json::from_slice(&resp.body).map_err(|e| {
        Error::validation(
            ReasonCode::MalformedPayload,
            "NetSuite record is not in the expected shape",
        )
        .with_source(e)
    })
}

impl NetSuiteAdapter {
    /// An adapter; checks the configuration and builds the HTTP client.
    pub fn new(config: NetSuiteConfig) -> Result<NetSuiteAdapter> {
        let client = NsClient::new(&config)?;
        Ok(NetSuiteAdapter {
            client,
            config: Arc::new(config),
            items: Mutex::new(BTreeMap::new()),
        })
    }

    /// The low-level client (SuiteQL, records).
    pub fn client(&self) -> &NsClient {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &NetSuiteConfig {
        &self.config
    }

    /// `GET /record/v1/<type>/eid:<key>`; `None` when no record has that external id.
    pub async fn get_by_external_id(
        &self,
        record_type: &str,
        external_id: &str,
    ) -> Result<Option<RecordIdentity>> {
        let eid = format!("eid:{external_id}");
        match self.client.get_record(record_type, &eid, &[]).await? {
            Some(resp) => Ok(Some(record(&resp)?)),
            None => Ok(None),
        }
    }

    /// `PUT /record/v1/<type>/eid:<key>` (create or update by external id); the internal id.
    pub async fn upsert_by_external_id(
        &self,
        record_type: &str,
        external_id: &str,
        body: Vec<u8>,
    ) -> Result<String> {
        let url = self
            .client
            .url(&format!("record/v1/{record_type}/eid:{external_id}"), &[])?;
        let resp = self
            .client
            .send(
                Method::PUT,
                url,
                Some(body),
                &[],
                &format!("upsert {record_type}"),
            )
            .await?;
        client::id_from_location(&resp)
    }

    /// Item internal ids by SKU (item name/number) through SuiteQL, cached per adapter. SKUs
    /// NetSuite does not know are absent from the answer.
    pub async fn items_by_sku(&self, skus: &[Sku]) -> Result<BTreeMap<Sku, String>> {
        let mut out = BTreeMap::new();
        let mut missing = Vec::new();
        {
            let cache = self
                .items
                .lock()
                .map_err(|_| Error::new(ErrorKind::Unexpected, "item cache poisoned"))?;
            for s in skus {
                match cache.get(s) {
                    Some(id) => {
                        out.insert(s.clone(), id.clone());
                    }
                    None => missing.push(s.as_str()),
                }
            }
        }
        missing.sort_unstable();
        missing.dedup();
        for chunk in missing.chunks(SKU_CHUNK) {
            let q = format!(
                "SELECT id, itemid FROM item WHERE itemid IN {}",
                sql_in_list(chunk.iter().copied())
            );
            let found = normalize::items_from_rows(self.client.suiteql_all(&q).await?)?;
            let mut cache = self
                .items
                .lock()
                .map_err(|_| Error::new(ErrorKind::Unexpected, "item cache poisoned"))?;
            for (sku, id) in found {
                cache.insert(sku.clone(), id.clone());
                out.insert(sku, id);
            }
        }
        Ok(out)
    }

    async fn find_transaction(
        &self,
        conditions: &[(&str, &str)],
    ) -> Result<Option<ErpDocumentRef>> {
        let wh: Vec<String> = conditions
            .iter()
            .map(|(c, v)| format!("{c} = {}", sql_literal(v)))
            .collect();
        let q = format!(
            "SELECT id, type, tranid, externalid FROM transaction WHERE {}",
            wh.join(" AND ")
        );
        let page = self.client.suiteql(&q, 10, 0).await?;
        normalize::document_from_rows(page.items)
    }

    async fn sales_order_id(&self, request: &FulfilmentRequest) -> Result<String> {
        if let Some(id) = &request.sales_order {
            return Ok(id.as_str().to_owned());
        }
        let order_id = request.shipment.order_id.as_str();
        self.find_transaction(&[("type", "SalesOrd"), ("otherrefnum", order_id)])
            .await?
            .map(|d| d.id.into_inner())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("no NetSuite sales order for marketplace order {order_id}"),
                )
            })
    }
}

#[async_trait]
impl ErpAdapter for NetSuiteAdapter {
    fn system(&self) -> &str {
        "netsuite"
    }

    fn capabilities(&self) -> ErpCapabilities {
        ErpCapabilities::all().with_max_concurrency(self.config.max_concurrency)
    }

    async fn health_check(&self) -> Result<Health> {
        let started = Instant::now();
        self.client
            .suiteql("SELECT id FROM subsidiary", 1, 0)
            .await?;
        Ok(Health {
            ok: true,
            latency: Some(started.elapsed()),
            detail: None,
        })
    }

    async fn upsert_sales_order(&self, request: &SalesOrderRequest) -> Result<ErpDocumentRef> {
        let unresolved: Vec<Sku> = request
            .order
            .lines
            .iter()
            .filter(|l| !request.items.contains_key(&l.line_id))
            .map(|l| l.sku.clone())
            .collect();
        let skus = if unresolved.is_empty() {
            BTreeMap::new()
        } else {
            self.items_by_sku(&unresolved).await?
        };
        let body = normalize::sales_order_body(
            &request.order,
            &request.items,
            &skus,
            request.entity.as_ref().map(|e| e.as_str()),
            &self.config,
        )?;
        let key = request.idempotency_key.as_str();
        let existing = self.get_by_external_id("salesOrder", key).await?;
        let id = self
            .upsert_by_external_id("salesOrder", key, encode(&body)?)
            .await?;
        if let Some(e) = &existing {
            if e.id != id {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    "the upsert answered a different sales order than the external id lookup",
                ));
            }
        }
        Ok(ErpDocumentRef {
            id: ErpDocumentId::new(id),
            kind: ErpDocumentKind::SalesOrder,
            number: existing.as_ref().and_then(|e| e.tran_id.clone()),
            created: existing.is_none(),
        })
    }

    async fn post_journal(&self, request: &JournalRequest) -> Result<ErpDocumentRef> {
        // Validates (balance, rounding, one currency, mapping) before any request.
        let body = normalize::journal_body(&request.entry, &self.config)?;
        let key = request.idempotency_key.as_str();
        if let Some(existing) = self.get_by_external_id("journalEntry", key).await? {
            return Ok(ErpDocumentRef {
                id: ErpDocumentId::new(existing.id),
                kind: ErpDocumentKind::JournalEntry,
                number: existing.tran_id,
                created: false,
            });
        }
        let id = self
            .upsert_by_external_id("journalEntry", key, encode(&body)?)
            .await?;
        Ok(ErpDocumentRef {
            id: ErpDocumentId::new(id),
            kind: ErpDocumentKind::JournalEntry,
            number: None,
            created: true,
        })
    }

    async fn record_fulfilment(&self, request: &FulfilmentRequest) -> Result<ErpDocumentRef> {
        let key = request.idempotency_key.as_str();
        if let Some(existing) = self
            .find_transaction(&[("type", "ItemShip"), ("externalid", key)])
            .await?
        {
            return Ok(existing);
        }
        let so_id = self.sales_order_id(request).await?;
        let so = self
            .client
            .get_record("salesOrder", &so_id, &[("expandSubResources", "true")])
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("sales order {so_id} not found"),
                )
            })?;
        let so: RecordRead = record(&so)?;
        let skus: Vec<Sku> = request
            .shipment
            .lines
            .iter()
            .map(|l| l.sku.clone())
            .collect();
        let sku_items = if skus.is_empty() {
            BTreeMap::new()
        } else {
            self.items_by_sku(&skus).await?
        };
        let body =
            normalize::fulfilment_body(&request.shipment, key, &so, &sku_items, &self.config)?;
        let url = self.client.url(
            &format!("record/v1/salesOrder/{so_id}/!transform/itemFulfillment"),
            &[],
        )?;
        let resp = self
            .client
            .send(
                Method::POST,
                url,
                Some(encode(&body)?),
                &[],
                "transform itemFulfillment",
            )
            .await?;
        Ok(ErpDocumentRef {
            id: ErpDocumentId::new(client::id_from_location(&resp)?),
            kind: ErpDocumentKind::Fulfilment,
            number: None,
            created: true,
        })
    }

    async fn record_refund(&self, request: &RefundRequest) -> Result<ErpDocumentRef> {
        // Lines the mapping layer resolved use their item; the others are looked up by SKU.
        let unresolved: Vec<Sku> = request
            .refund
            .lines
            .iter()
            .filter(|l| !request.items.contains_key(&l.line_id))
            .map(|l| l.sku.clone())
            .collect();
        let mut sku_items = if unresolved.is_empty() {
            BTreeMap::new()
        } else {
            self.items_by_sku(&unresolved).await?
        };
        for l in &request.refund.lines {
            if let Some(item) = request.items.get(&l.line_id) {
                sku_items.insert(l.sku.clone(), item.to_string());
            }
        }
        let body = normalize::credit_memo_body(
            &request.refund,
            &sku_items,
            request.sales_order.as_ref().map(|s| s.as_str()),
            &self.config,
        )?;
        let key = request.idempotency_key.as_str();
        let (cm_id, number, created) = match self.get_by_external_id("creditMemo", key).await? {
            Some(e) => (e.id, e.tran_id, false),
            None => (
                self.upsert_by_external_id("creditMemo", key, encode(&body)?)
                    .await?,
                None,
                true,
            ),
        };
        if let Some(account) = &self.config.refund_account {
            let child = request.idempotency_key.child("customer_refund");
            if self
                .get_by_external_id("customerRefund", child.as_str())
                .await?
                .is_none()
            {
                // Pay out exactly what the credit memo credits.
                let credited = body
                    .item
                    .items
                    .iter()
                    .try_fold(marketsync_core::rust_decimal::Decimal::ZERO, |acc, l| {
                        acc.checked_add(l.amount.0)
                    })
                    .ok_or_else(|| {
                        Error::validation(ReasonCode::MoneyInvalid, "refund overflows")
                    })?;
                let refund = CustomerRefundBody {
                    customer: body.entity.clone(),
                    tran_date: body.tran_date.clone(),
                    currency: body.currency.clone(),
                    account: Ref::id(account),
                    memo: body.memo.clone(),
                    apply: Sublist::of(vec![ApplyLine {
                        doc: Ref::id(&cm_id),
                        apply: true,
                        amount: JsonDecimal(credited),
                    }]),
                };
                self.upsert_by_external_id("customerRefund", child.as_str(), encode(&refund)?)
                    .await?;
            }
        }
        Ok(ErpDocumentRef {
            id: ErpDocumentId::new(cm_id),
            kind: ErpDocumentKind::Refund,
            number,
            created,
        })
    }

    async fn inventory_positions(&self, skus: &[Sku]) -> Result<Vec<InventoryPosition>> {
        let mut out = Vec::new();
        let mut list: Vec<&str> = skus.iter().map(Sku::as_str).collect();
        list.sort_unstable();
        list.dedup();
        for chunk in list.chunks(SKU_CHUNK) {
            let q = format!(
                "SELECT i.itemid AS itemid, iil.location AS location, iil.quantityonhand AS quantityonhand, iil.quantitycommitted AS quantitycommitted, iil.quantityavailable AS quantityavailable FROM inventoryitemlocations iil JOIN item i ON i.id = iil.item WHERE i.itemid IN {}",
                sql_in_list(chunk.iter().copied())
            );
            let rows = self.client.suiteql_all(&q).await?;
            out.extend(normalize::inventory_from_rows(rows, chrono::Utc::now())?);
        }
        Ok(out)
    }

    async fn find_by_idempotency_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<ErpDocumentRef>> {
        self.find_transaction(&[("externalid", key.as_str())]).await
    }
}
