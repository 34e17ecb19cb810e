#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod client;
pub mod config;
pub mod normalize;
pub mod sign;
pub mod wire;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use marketsync_core::{
    Channel, ConnectorCapabilities, Error, ErrorKind, FetchQuery, Fetched, Health, IdempotencyKey,
    InventoryAck, InventoryUpdate, MarketplaceConnector, Order, Page, RawRecord, ReasonCode,
    Refund, Result, Settlement, Shipment, ShipmentAck, ShopId, TimeWindow,
};

pub use client::{Clock, ListCursor, TopClient, parse_error};
pub use config::{ListingRef, Storefront, TmallConfig};
pub use sign::{SignMethod, TopSigner};

use client::ListApi;
use normalize::{Context, is_data_error};

/// `fields` asked from `taobao.trades.sold.increment.get` and `taobao.trade.fullinfo.get`.
pub const TRADE_FIELDS: &str = "tid,tid_str,status,type,created,modified,pay_time,consign_time,end_time,\
payment,total_fee,post_fee,discount_fee,adjust_fee,received_payment,platform_subsidy_fee,\
step_trade_status,step_paid_fee,tmall_coupon_fee,coupon_fee,point_fee,alipay_no,buyer_open_uid,\
buyer_nick,seller_nick,shipping_type,is_part_consign,receiver_name,receiver_mobile,receiver_phone,\
receiver_address,receiver_state,receiver_city,receiver_district,receiver_town,receiver_zip,\
receiver_country,oaid,promotion_details,orders.oid,orders.oid_str,orders.num_iid,orders.sku_id,\
orders.outer_sku_id,orders.outer_iid,orders.title,orders.num,orders.price,orders.payment,\
orders.total_fee,orders.discount_fee,orders.adjust_fee,orders.divide_order_fee,\
orders.part_mjz_discount,orders.status,orders.refund_status,orders.refund_id,\
orders.consign_time,orders.end_time,orders.logistics_company,orders.invoice_no,\
orders.shipping_type";

/// `fields` asked from `taobao.refunds.receive.get`.
pub const REFUND_FIELDS: &str = "refund_id,tid,oid,status,order_status,refund_fee,total_fee,payment,\
created,modified,reason,desc,has_good_return,good_status,num,num_iid,outer_id,title,company_name,\
sid,good_return_time,refund_phase";

/// `fields` asked from `taobao.bill.bills.get`.
pub const BILL_FIELDS: &str = "bid,account_id,trade_id,order_id,total_amount,amount,book_time,\
biz_time,pay_time,status,alipay_outno,alipay_notice,gmt_modified";

const TRADES: ListApi = ListApi {
    method: "taobao.trades.sold.increment.get",
    fields: TRADE_FIELDS,
    outer: "trades",
    inner: "trade",
};

const REFUNDS: ListApi = ListApi {
    method: "taobao.refunds.receive.get",
    fields: REFUND_FIELDS,
    outer: "refunds",
    inner: "refund",
};

/// Bills: at most 100 pages per query (TOP's advice), 40–100 per page.
const BILL_MAX_PAGES: u32 = 100;
const BILL_PAGE_SIZE: u32 = 100;
/// `taobao.skus.quantity.update` takes at most 20 SKUs per call.
const SKU_BATCH: usize = 20;

/// The Tmall / Taobao connector for one shop. See the [crate docs](crate).
#[derive(Debug)]
pub struct TmallConnector {
    client: TopClient,
    config: TmallConfig,
    ctx: Context,
    /// Last stock version applied per SKU, so a late update never overwrites a newer one.
    stock_versions: Mutex<HashMap<String, u64>>,
}

impl TmallConnector {
    /// Builds a connector; checks the configuration.
    pub fn new(config: TmallConfig) -> Result<TmallConnector> {
        let client = TopClient::new(&config)?;
        let ctx = Context {
            channel: config.storefront.channel(),
            shop: ShopId::new(config.shop_id.clone()),
        };
        Ok(TmallConnector {
            client,
            config,
            ctx,
            stock_versions: Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the clock (for the `timestamp` parameter and health checks).
    pub fn with_clock(mut self, clock: Clock) -> TmallConnector {
        self.client = self.client.with_clock(clock);
        self
    }

    /// Sets the cap on pages per slice (default [`client::DEFAULT_MAX_PAGES_PER_SLICE`]): a
    /// slice whose `total_results` needs more is an error, not an unbounded walk.
    pub fn with_max_pages_per_slice(mut self, cap: u32) -> TmallConnector {
        self.client = self.client.with_max_pages_per_slice(cap);
        self
    }

    /// The underlying TOP client, for calls this connector does not wrap.
    pub fn client(&self) -> &TopClient {
        &self.client
    }

    fn slice_len(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(self.config.slice_minutes))
    }

    fn page_size(&self, q: &FetchQuery) -> u32 {
        q.page_size
            .unwrap_or(self.config.page_size)
            .clamp(1, client::MAX_PAGE_SIZE)
    }

    async fn trade_detail(&self, tid: &str) -> Result<serde_json::Value> {
        let resp = self
            .client
            .call(
                "taobao.trade.fullinfo.get",
                &[("fields", TRADE_FIELDS.to_owned()), ("tid", tid.to_owned())],
            )
            .await?;
        resp.body.get("trade").cloned().ok_or_else(|| {
            Error::validation(ReasonCode::MalformedPayload, "fullinfo without trade")
        })
    }

    async fn order_item(&self, record: serde_json::Value) -> Result<Fetched<Order>> {
        let source = TRADES.method;
        let external_id = record_id(&record, "tid_str", "tid");
        let listed = RawRecord::from_value(&record, Some(source));
        let trade: wire::Trade = match serde_json::from_value(record) {
            Ok(t) => t,
            Err(e) => return Ok(Fetched::failed(external_id, listed, malformed(e))),
        };
        let (trade, raw) = match (&external_id, self.config.fetch_detail) {
            (Some(tid), true) => match self.trade_detail(tid).await {
                Ok(detail) => {
                    let raw = RawRecord::from_value(&detail, Some("taobao.trade.fullinfo.get"));
                    match serde_json::from_value::<wire::Trade>(detail) {
                        Ok(t) => (t, raw),
                        Err(e) => return Ok(Fetched::failed(external_id, raw, malformed(e))),
                    }
                }
                Err(e) if is_data_error(&e) || e.kind() == &ErrorKind::NotFound => {
                    return Ok(Fetched::failed(external_id, listed, e));
                }
                Err(e) => return Err(e),
            },
            _ => (trade, listed),
        };
        Ok(match normalize::trade_to_order(&trade, &self.ctx, &raw) {
            Ok(o) => Fetched::ok(o.id.as_str().to_owned(), raw, o),
            Err(e) => Fetched::failed(external_id, raw, e),
        })
    }

    /// The Beijing days whose statement may have been published or amended inside `window`:
    /// those that closed between `bill_lookback_days` before the window's start and its end.
    fn statement_days(&self, window: TimeWindow) -> Result<Vec<TimeWindow>> {
        let day = chrono::Duration::days(1);
        let back = chrono::Duration::days(i64::from(self.config.bill_lookback_days));
        let bad = || Error::new(ErrorKind::ConfigInvalid, "window out of range");
        let from = window
            .start
            .checked_sub_signed(back + chrono::Duration::seconds(1))
            .ok_or_else(bad)?;
        let bj = normalize::beijing();
        let mut start = from
            .with_timezone(&bj)
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .and_then(|m| m.and_local_timezone(bj).earliest())
            .ok_or_else(bad)?
            .with_timezone(&chrono::Utc);
        let mut out = Vec::new();
        while let Some(end) = start.checked_add_signed(day) {
            if end >= window.end {
                break;
            }
            out.push(TimeWindow { start, end });
            start = end;
        }
        Ok(out)
    }

    async fn bills_slice(&self, slice: TimeWindow) -> Result<(Result<Settlement>, RawRecord)> {
        let mut bills: Vec<serde_json::Value> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        let end = slice.end - chrono::Duration::seconds(1);
        for page in 1..=BILL_MAX_PAGES + 1 {
            if page > BILL_MAX_PAGES {
                return Err(Error::new(
                    ErrorKind::Unexpected,
                    "more than 100 pages of bills in one slice",
                ));
            }
            let resp = self
                .client
                .call(
                    "taobao.bill.bills.get",
                    &[
                        ("fields", BILL_FIELDS.to_owned()),
                        ("start_time", normalize::format_top_time(slice.start)),
                        ("end_time", normalize::format_top_time(end.max(slice.start))),
                        ("time_type", "2".to_owned()),
                        ("page_no", page.to_string()),
                        ("page_size", BILL_PAGE_SIZE.to_string()),
                    ],
                )
                .await?;
            let list = wire::ListPage::from_response(&resp.body, "bills", "bill");
            let n = list.records.len();
            for r in list.records {
                // Bills are only ever added (newest first), so a forward walk can only see
                // one twice: drop repeats by bill id.
                if seen.insert(record_id(&r, "bid", "bid")) {
                    bills.push(r);
                }
            }
            let more = match (list.has_next, list.total_results) {
                (Some(h), _) => h,
                (None, Some(t)) => u64::from(page) * u64::from(BILL_PAGE_SIZE) < t,
                (None, None) => n == BILL_PAGE_SIZE as usize,
            };
            if !more || n == 0 {
                break;
            }
        }
        let value = serde_json::Value::Array(bills);
        let raw = RawRecord::from_value(&value, Some("taobao.bill.bills.get"));
        let settlement = serde_json::from_value::<Vec<wire::Bill>>(value)
            .map_err(malformed)
            .and_then(|bills| {
                normalize::bills_to_settlement(&bills, slice.start, slice.end, &self.ctx, &raw)
            });
        Ok((settlement, raw))
    }

    async fn push_one(&self, update: &InventoryUpdate, listing: &ListingRef) -> Result<()> {
        let mut params = vec![
            ("num_iid", listing.num_iid.to_string()),
            ("quantity", update.available.to_string()),
            ("type", "1".to_owned()),
        ];
        if !listing.item_level {
            params.push(("outer_id", update.sku.as_str().to_owned()));
        }
        self.client
            .call("taobao.item.quantity.update", &params)
            .await
            .map(|_| ())
    }

    async fn push_batch(&self, num_iid: u64, batch: &[&InventoryUpdate]) -> Result<()> {
        let list: Vec<String> = batch
            .iter()
            .map(|u| format!("{}:{}", u.sku.as_str(), u.available))
            .collect();
        self.client
            .call(
                "taobao.skus.quantity.update",
                &[
                    ("num_iid", num_iid.to_string()),
                    ("outerid_quantities", list.join(";")),
                    ("type", "1".to_owned()),
                ],
            )
            .await
            .map(|_| ())
    }

    fn stale(&self, u: &InventoryUpdate) -> bool {
        match self.stock_versions.lock() {
            Ok(m) => m.get(u.sku.as_str()).is_some_and(|v| *v >= u.version),
            Err(_) => false,
        }
    }

    fn applied(&self, u: &InventoryUpdate) {
        if let Ok(mut m) = self.stock_versions.lock() {
            let v = m.entry(u.sku.as_str().to_owned()).or_insert(0);
            *v = (*v).max(u.version);
        }
    }

    /// Looks the order up after a refused shipment: was this parcel already recorded?
    async fn already_shipped(&self, shipment: &Shipment) -> Result<bool> {
        let detail = self.trade_detail(shipment.order_id.as_str()).await?;
        let trade: wire::Trade = serde_json::from_value(detail).map_err(malformed)?;
        let wanted: Vec<&str> = shipment.lines.iter().map(|l| l.line_id.as_str()).collect();
        let relevant: Vec<&wire::Order> = trade
            .order_list()
            .iter()
            .filter(|o| wanted.is_empty() || o.id().is_some_and(|id| wanted.contains(&id.as_str())))
            .collect();
        Ok(!relevant.is_empty()
            && relevant
                .iter()
                .all(|o| o.invoice_no.as_deref() == Some(shipment.tracking_number.as_str())))
    }
}

fn malformed(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::validation(
        ReasonCode::MalformedPayload,
        format!("malformed TOP record: {e}"),
    )
    .with_source(e)
}

fn record_id(v: &serde_json::Value, str_key: &str, num_key: &str) -> Option<String> {
    v.get(str_key)
        .and_then(|s| s.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            v.get(num_key)
                .and_then(|n| n.as_u64())
                .map(|n| n.to_string())
        })
        .or_else(|| v.get(num_key).and_then(|n| n.as_str()).map(str::to_owned))
}

#[async_trait]
impl MarketplaceConnector for TmallConnector {
    fn channel(&self) -> Channel {
        self.ctx.channel.clone()
    }

    fn shop(&self) -> ShopId {
        self.ctx.shop.clone()
    }

    fn capabilities(&self) -> ConnectorCapabilities {
        ConnectorCapabilities::all()
            .with_max_window(std::time::Duration::from_secs(24 * 3600))
            .with_webhooks(false)
    }

    async fn health_check(&self) -> Result<Health> {
        let started = std::time::Instant::now();
        let end = self.client.now() - chrono::Duration::minutes(1);
        let start = end - chrono::Duration::minutes(1);
        self.client
            .call(
                TRADES.method,
                &[
                    ("fields", "tid".to_owned()),
                    ("start_modified", normalize::format_top_time(start)),
                    ("end_modified", normalize::format_top_time(end)),
                    ("page_no", "1".to_owned()),
                    ("page_size", "1".to_owned()),
                    ("use_has_next", "true".to_owned()),
                ],
            )
            .await?;
        Ok(Health {
            ok: true,
            latency: Some(started.elapsed()),
            detail: None,
        })
    }

    async fn fetch_orders(&self, query: &FetchQuery) -> Result<Page<Order>> {
        let walked = self
            .client
            .list_page(
                TRADES,
                query.window,
                self.slice_len(),
                query.cursor.as_ref(),
                self.page_size(query),
            )
            .await?;
        let mut items = Vec::with_capacity(walked.records.len());
        for record in walked.records {
            items.push(self.order_item(record).await?);
        }
        Ok(Page {
            items,
            next_cursor: walked.next.map(|c| c.encode()),
        })
    }

    async fn fetch_returns(&self, query: &FetchQuery) -> Result<Page<Refund>> {
        let walked = self
            .client
            .list_page(
                REFUNDS,
                query.window,
                self.slice_len(),
                query.cursor.as_ref(),
                self.page_size(query),
            )
            .await?;
        let items = walked
            .records
            .into_iter()
            .map(|record| {
                let id = record_id(&record, "refund_id", "refund_id");
                let raw = RawRecord::from_value(&record, Some(REFUNDS.method));
                match serde_json::from_value::<wire::Refund>(record) {
                    Err(e) => Fetched::failed(id, raw, malformed(e)),
                    Ok(r) => match normalize::refund_to_canonical(&r, &self.ctx, &raw) {
                        Ok(refund) => Fetched::ok(refund.id.as_str().to_owned(), raw, refund),
                        Err(e) => Fetched::failed(id, raw, e),
                    },
                }
            })
            .collect();
        Ok(Page {
            items,
            next_cursor: walked.next.map(|c| c.encode()),
        })
    }

    /// Day statements published or amended inside the window (the
    /// [stream contract](marketsync_core::FetchQuery#the-stream-contract)).
    ///
    /// A statement is the bills of one Beijing calendar day of Alipay debits
    /// (`taobao.bill.bills.get`, `time_type=2`), id `top-bills-<day start>-<day end>`, and its
    /// revision is when it was last published: the day's close, or the latest `gmt_modified`
    /// of its bills when a bill arrives after the day closed. TOP filters bills only by debit
    /// or business time, so each query re-reads the days that closed within
    /// [`TmallConfig::bill_lookback_days`] before the window and returns the statements whose
    /// revision falls inside it: a statement amended by a late bill comes again with a newer
    /// revision; one not amended does not. The day still open is not returned until it closes;
    /// a day without bills is not a statement. One statement per page; the cursor is the next
    /// day to read.
    async fn fetch_settlements(&self, query: &FetchQuery) -> Result<Page<Settlement>> {
        let all = self.statement_days(query.window)?;
        let mut idx = match &query.cursor {
            None => 0,
            Some(c) => {
                let lc = ListCursor::decode(c)?;
                all.iter().position(|s| *s == lc.slice).ok_or_else(|| {
                    Error::new(
                        ErrorKind::ConfigInvalid,
                        "the cursor does not belong to this window",
                    )
                })?
            }
        };
        while let Some(&day) = all.get(idx) {
            idx += 1;
            let (settlement, raw) = self.bills_slice(day).await?;
            let item = match settlement {
                Ok(s) => {
                    let published = match s.revision {
                        marketsync_core::Revision::UpdatedAt(t) => t,
                        _ => s.period_end,
                    };
                    // A day with no bills published nothing.
                    if !query.window.contains(published) || s.lines.is_empty() {
                        continue;
                    }
                    Fetched::ok(s.id.as_str().to_owned(), raw, s)
                }
                // An unreadable statement is reported once: in the window its day closes in.
                Err(e) if query.window.contains(day.end) => Fetched::failed(None, raw, e),
                Err(_) => continue,
            };
            let next_cursor = all.get(idx).map(|s| {
                ListCursor {
                    slice: *s,
                    page: None,
                }
                .encode()
            });
            return Ok(Page {
                items: vec![item],
                next_cursor,
            });
        }
        Ok(Page::last(Vec::new()))
    }

    /// Full-quantity stock updates (`type=1`): one `taobao.skus.quantity.update` per item for
    /// SKUs that share an item (≤ 20 per call), `taobao.item.quantity.update` otherwise. An
    /// update older than one already applied is acknowledged as not applied; a SKU with no
    /// [`ListingRef`] in the configuration, or one TOP refuses, is not applied with a message.
    async fn push_inventory(&self, updates: &[InventoryUpdate]) -> Result<Vec<InventoryAck>> {
        let mut acks: Vec<Option<InventoryAck>> = vec![None; updates.len()];
        let mut by_item: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (i, u) in updates.iter().enumerate() {
            let refuse = |m: &str| {
                Some(InventoryAck {
                    sku: u.sku.clone(),
                    version: u.version,
                    applied: false,
                    message: Some(m.to_owned()),
                })
            };
            if self.stale(u) {
                acks[i] = refuse("superseded by a newer version");
                continue;
            }
            match self.config.listings.get(u.sku.as_str()) {
                None => acks[i] = refuse("no listing (num_iid) configured for this SKU"),
                Some(l) if l.item_level => {
                    let res = self.push_one(u, l).await;
                    acks[i] = Some(self.ack(u, res)?);
                }
                Some(l) => by_item.entry(l.num_iid).or_default().push(i),
            }
        }
        for (num_iid, idxs) in by_item {
            for chunk in idxs.chunks(SKU_BATCH) {
                let batch: Vec<&InventoryUpdate> = chunk.iter().map(|i| &updates[*i]).collect();
                let res = if batch.len() == 1 {
                    let l = ListingRef {
                        num_iid,
                        item_level: false,
                    };
                    self.push_one(batch[0], &l).await
                } else {
                    self.push_batch(num_iid, &batch).await
                };
                match res {
                    Ok(()) => {
                        for i in chunk {
                            acks[*i] = Some(self.ack(&updates[*i], Ok(()))?);
                        }
                    }
                    Err(e) if is_business(e.kind()) => {
                        for i in chunk {
                            let u = &updates[*i];
                            acks[*i] = Some(InventoryAck {
                                sku: u.sku.clone(),
                                version: u.version,
                                applied: false,
                                message: Some(e.message().to_owned()),
                            });
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(acks
            .into_iter()
            .zip(updates)
            .map(|(a, u)| {
                a.unwrap_or_else(|| InventoryAck {
                    sku: u.sku.clone(),
                    version: u.version,
                    applied: false,
                    message: Some("not sent".into()),
                })
            })
            .collect())
    }

    /// `taobao.logistics.offline.send` (the seller's own carrier contract). A shipment with
    /// lines ships those sub-orders (`is_split=1`, `sub_tid`); without lines, the whole trade.
    /// If TOP refuses it, the trade is looked up: when the sub-orders already carry this
    /// tracking number, the call was a repeat and answers `created: false`.
    async fn confirm_shipment(
        &self,
        shipment: &Shipment,
        key: &IdempotencyKey,
    ) -> Result<ShipmentAck> {
        let mut params = vec![
            ("tid", shipment.order_id.as_str().to_owned()),
            ("out_sid", shipment.tracking_number.clone()),
            ("company_code", shipment.carrier.clone()),
        ];
        if !shipment.lines.is_empty() {
            let oids: Vec<&str> = shipment.lines.iter().map(|l| l.line_id.as_str()).collect();
            params.push(("is_split", "1".to_owned()));
            params.push(("sub_tid", oids.join(",")));
        }
        match self
            .client
            .call("taobao.logistics.offline.send", &params)
            .await
        {
            Ok(_) => Ok(ShipmentAck {
                order_id: shipment.order_id.clone(),
                platform_shipment_id: None,
                created: true,
            }),
            Err(e) if is_business(e.kind()) => {
                if self.already_shipped(shipment).await.unwrap_or(false) {
                    Ok(ShipmentAck {
                        order_id: shipment.order_id.clone(),
                        platform_shipment_id: None,
                        created: false,
                    })
                } else {
                    Err(e.with_context("idempotency_key", key.as_str()))
                }
            }
            Err(e) => Err(e.with_context("idempotency_key", key.as_str())),
        }
    }
}

/// A refusal about this request's content (not the transport, not the credentials).
fn is_business(kind: &ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Validation | ErrorKind::NotFound | ErrorKind::Conflict
    )
}

impl TmallConnector {
    fn ack(&self, u: &InventoryUpdate, res: Result<()>) -> Result<InventoryAck> {
        match res {
            Ok(()) => {
                self.applied(u);
                Ok(InventoryAck {
                    sku: u.sku.clone(),
                    version: u.version,
                    applied: true,
                    message: None,
                })
            }
            Err(e) if is_business(e.kind()) => Ok(InventoryAck {
                sku: u.sku.clone(),
                version: u.version,
                applied: false,
                message: Some(e.message().to_owned()),
            }),
            Err(e) => Err(e),
        }
    }
}
