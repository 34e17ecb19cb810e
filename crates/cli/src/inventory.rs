//! `[inventory]`: the available-to-promise push of `marketsync run`.
//!
//! The engines feed every order they complete into one shared [`AtpEngine`] (its lines
//! resolved to ERP items by the SKU map, so units sold on any channel and not yet shipped are
//! reserved everywhere). After each pass, [`Inventory::push`] reads the items' stock from the
//! ERP (by the code the ERP reports stock by), and pushes to each connector what changed
//! since its last acknowledged push, under the SKU the SKU map's `seller_sku` alias gives for
//! the connector's channel. A push that fails (or an update a channel does not apply) is sent
//! again by the next pass; nothing is lost.
//!
//! The ATP state lives in the process: the first push of a `run` sends every item (the
//! quantities are absolute, so re-sending is harmless).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use marketsync_core::{ErpAdapter, InventoryPosition, MarketplaceConnector, Sku};
use marketsync_mapping::{AliasKind, SkuAlias};
use marketsync_pipeline::AtpSource;
use marketsync_pipeline::atp::{AtpEngine, AtpPolicy, ChannelAllocation, PushSummary, push};
use serde::Deserialize;

use crate::config::{ConfigError, RunConfig};
use crate::ops::BoxError;

/// The configured inventory push.
pub struct Inventory {
    source: AtpSource,
    /// ERP item id → stock code.
    codes: BTreeMap<Sku, Sku>,
    /// Stock code → ERP item id.
    items_by_code: BTreeMap<Sku, Sku>,
    erp: Arc<dyn ErpAdapter>,
    /// The connectors that receive quantities (in file order).
    targets: Vec<Arc<dyn MarketplaceConnector>>,
}

impl std::fmt::Debug for Inventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inventory")
            .field("items", &self.codes.len())
            .field("targets", &self.targets.len())
            .finish()
    }
}

/// What one push did, per connector and overall.
#[derive(Debug, Default)]
pub struct InventoryReport {
    /// Items whose stock the ERP reported.
    pub items_read: usize,
    /// The push.
    pub summary: PushSummary,
}

/// The aliases of a SKU map file (TOML `[[alias]]` tables, or CSV with the header
/// `channel,shop,kind,alias,item,category`).
fn aliases(path: &Path) -> Result<Vec<SkuAlias>, BoxError> {
    let what = format!("SKU map {}", path.display());
    if path.extension().is_some_and(|x| x == "csv") {
        #[derive(Deserialize)]
        struct Row {
            channel: String,
            #[serde(default)]
            shop: Option<String>,
            kind: String,
            alias: String,
            item: String,
        }
        let file = std::fs::File::open(path).map_err(|e| format!("{what}: {e}"))?;
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(file);
        let mut out = Vec::new();
        for (i, row) in rdr.deserialize::<Row>().enumerate() {
            let row = row.map_err(|e| ConfigError(format!("{what}: record {}: {e}", i + 1)))?;
            let kind = match row.kind.as_str() {
                "seller_sku" | "outer_id" | "sku" => AliasKind::SellerSku,
                "platform_sku_id" => AliasKind::PlatformSkuId,
                "listing_id" => AliasKind::ListingId,
                other => {
                    return Err(ConfigError(format!(
                        "{what}: record {}: unknown kind {other:?}",
                        i + 1
                    ))
                    .into());
                }
            };
            let alias: SkuAlias = serde_json::from_value(serde_json::json!({
                "channel": row.channel,
                "shop": row.shop.filter(|s| !s.is_empty()),
                "kind": kind,
                "alias": row.alias,
                "item": row.item,
            }))
            .map_err(|e| ConfigError(format!("{what}: record {}: {e}", i + 1)))?;
            out.push(alias);
        }
        Ok(out)
    } else {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            alias: Vec<SkuAlias>,
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{what}: {e}"))?;
        let file: File = toml::from_str(&text).map_err(|e| ConfigError(format!("{what}: {e}")))?;
        Ok(file.alias)
    }
}

impl Inventory {
    /// The push a configuration describes (`None` without `[inventory]`). `connectors` are the
    /// configured connectors in file order. Each receiving connector must list at least one of
    /// the items through a `seller_sku` alias of its channel in the SKU map.
    pub fn build(
        config: &RunConfig,
        erp: Arc<dyn ErpAdapter>,
        connectors: &[Arc<dyn MarketplaceConnector>],
    ) -> Result<Option<Inventory>, BoxError> {
        let Some(section) = &config.inventory else {
            return Ok(None);
        };
        if section.items.is_empty() {
            return Err(ConfigError("[inventory]: `items` is empty".into()).into());
        }
        let Some(map) = &config.mapping.sku_map else {
            return Err(ConfigError(
                "[inventory] needs [mapping] sku_map: the channel SKU of each item comes from its seller_sku alias"
                    .into(),
            )
            .into());
        };
        let aliases = aliases(map)?;
        let codes: BTreeMap<Sku, Sku> = section
            .items
            .iter()
            .map(|(item, code)| (Sku::new(item), Sku::new(code)))
            .collect();
        let mut items_by_code = BTreeMap::new();
        for (item, code) in &codes {
            if let Some(other) = items_by_code.insert(code.clone(), item.clone()) {
                return Err(ConfigError(format!(
                    "[inventory]: items {} and {} have the same stock code {}",
                    other.as_str(),
                    item.as_str(),
                    code.as_str()
                ))
                .into());
            }
        }
        let mut channels = Vec::new();
        let mut targets = Vec::new();
        for (c, section_c) in connectors.iter().zip(&config.connectors) {
            if !section_c.inventory.push || !c.capabilities().inventory_push {
                continue;
            }
            let (channel, shop) = (c.channel(), c.shop());
            let mut listings: BTreeMap<Sku, Sku> = BTreeMap::new();
            for a in &aliases {
                if a.kind != AliasKind::SellerSku
                    || a.channel != channel
                    || a.shop.as_ref().is_some_and(|s| s != &shop)
                {
                    continue;
                }
                let item = Sku::new(a.item.as_str());
                if !codes.contains_key(&item) {
                    continue;
                }
                // One SKU per item and channel: the first alias in the file wins.
                listings.entry(item).or_insert_with(|| Sku::new(&a.alias));
            }
            if listings.is_empty() {
                return Err(ConfigError(format!(
                    "[inventory]: {channel} {} lists none of the items (no seller_sku alias of \
                     the channel in the SKU map points at one); set `inventory = {{ push = false }}` \
                     on the connector to leave it out",
                    shop.as_str()
                ))
                .into());
            }
            let mut alloc = ChannelAllocation::full(channel, shop).with_listings(listings);
            alloc.share_bps = section_c.inventory.share_pct.min(100) * 100;
            alloc.cap = section_c.inventory.cap;
            alloc.zero_at_or_below = section_c.inventory.zero_at_or_below;
            channels.push(alloc);
            targets.push(c.clone());
        }
        let policy = AtpPolicy {
            default_buffer: i64::from(section.safety_buffer),
            channels,
            ..AtpPolicy::default()
        };
        Ok(Some(Inventory {
            source: AtpSource::new(AtpEngine::new(policy), codes.values().cloned().collect()),
            codes,
            items_by_code,
            erp,
            targets,
        }))
    }

    /// The ATP source to attach to every engine (so each completed order reserves stock).
    pub fn source(&self) -> AtpSource {
        self.source.clone()
    }

    /// Reads the stock and pushes what changed to every receiving connector.
    pub async fn push(&self) -> Result<InventoryReport, marketsync_core::Error> {
        let codes: Vec<Sku> = self.codes.values().cloned().collect();
        let positions = self.erp.inventory_positions(&codes).await?;
        // Stock is reported by code; reservations are by ERP item id.
        let by_item: Vec<InventoryPosition> = positions
            .into_iter()
            .filter_map(|mut p| {
                let item = self.items_by_code.get(&p.sku)?;
                p.sku = item.clone();
                Some(p)
            })
            .collect();
        let mut items: Vec<&Sku> = by_item.iter().map(|p| &p.sku).collect();
        items.sort();
        items.dedup();
        let items_read = items.len();
        let mut atp = self.source.atp.lock().await;
        atp.on_stock(&by_item);
        let summary = push(&mut atp, &self.targets, Utc::now()).await;
        Ok(InventoryReport {
            items_read,
            summary,
        })
    }

    /// What a connector was last acknowledged to show for one of its SKUs.
    pub async fn shown(&self, connector: &dyn MarketplaceConnector, sku: &str) -> Option<u32> {
        self.source
            .atp
            .lock()
            .await
            .shown(&connector.channel(), &connector.shop(), &Sku::new(sku))
    }
}
