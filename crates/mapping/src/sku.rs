//! SKU alignment: marketplace listing ids, platform SKU ids and seller SKUs → ERP items.
//!
//! A [`SkuMap`] holds aliases per channel and (optionally) shop; many aliases may point to one
//! ERP item. Resolution never guesses and never creates an item: an alias that is not in the
//! map is a `Mapping` error with reason [`ReasonCode::UnknownSku`](marketsync_core::ReasonCode)
//! carrying the channel, shop, alias kind and alias.
//!
//! Maps are built in code ([`SkuMap::insert`]), from CSV ([`SkuMap::from_csv_reader`]) or from
//! TOML ([`SkuMap::from_toml_str`]).

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use marketsync_core::{Channel, ErpItemId, Error, OrderLine, ShopId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::errors;

/// Which marketplace identifier an alias is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AliasKind {
    /// The platform's own SKU id (Tmall `sku_id`, JD `skuId`, Shopify variant id).
    PlatformSkuId,
    /// The seller's SKU code as the channel reports it (Tmall `outer_sku_id`, JD
    /// `outerSkuId`, Amazon `SellerSKU`, Shopify variant `sku`).
    SellerSku,
    /// The listing / product id (Tmall `num_iid`, ASIN, Shopify product id). Map it only when
    /// the listing has a single SKU.
    ListingId,
}

impl AliasKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AliasKind::PlatformSkuId => "platform_sku_id",
            AliasKind::SellerSku => "seller_sku",
            AliasKind::ListingId => "listing_id",
        }
    }

    fn parse(s: &str) -> Option<AliasKind> {
        match s.trim() {
            "platform_sku_id" => Some(AliasKind::PlatformSkuId),
            "seller_sku" | "outer_id" | "sku" => Some(AliasKind::SellerSku),
            "listing_id" => Some(AliasKind::ListingId),
            _ => None,
        }
    }
}

impl fmt::Display for AliasKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alias row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SkuAlias {
    /// The channel.
    pub channel: Channel,
    /// The shop; `None` means every shop of the channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<ShopId>,
    /// Which identifier the alias is.
    pub kind: AliasKind,
    /// The identifier, verbatim.
    pub alias: String,
    /// The ERP item.
    pub item: ErpItemId,
    /// Product category, used by category-based fee rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// What an alias resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedItem {
    /// The ERP item.
    pub item: ErpItemId,
    /// Its category, when the map knows it.
    pub category: Option<String>,
    /// The alias kind that matched.
    pub matched: AliasKind,
}

type Key = (String, Option<String>, AliasKind, String);

/// Aliases → ERP items, per channel and shop. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct SkuMap {
    entries: HashMap<Key, (ErpItemId, Option<String>)>,
}

#[derive(Deserialize)]
struct TomlFile {
    #[serde(default)]
    alias: Vec<SkuAlias>,
}

#[derive(Deserialize)]
struct CsvRow {
    channel: String,
    #[serde(default)]
    shop: Option<String>,
    kind: String,
    alias: String,
    item: String,
    #[serde(default)]
    category: Option<String>,
}

impl SkuMap {
    /// An empty map.
    pub fn new() -> SkuMap {
        SkuMap::default()
    }

    /// Number of aliases.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map has no alias.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds an alias. Adding the same alias again for the same item is a no-op; pointing an
    /// existing alias at a different item is a `ConfigInvalid` error (an alias is never
    /// silently remapped).
    pub fn insert(&mut self, alias: SkuAlias) -> Result<(), Error> {
        let key: Key = (
            alias.channel.name(),
            alias.shop.as_ref().map(|s| s.as_str().to_owned()),
            alias.kind,
            alias.alias.trim().to_owned(),
        );
        if key.3.is_empty() {
            return Err(errors::config("empty SKU alias"));
        }
        match self.entries.get(&key) {
            Some((item, _)) if item != &alias.item => Err(errors::config(format!(
                "{} {:?} on {} already maps to {item}, not {}",
                alias.kind, alias.alias, alias.channel, alias.item
            ))
            .with_context("channel", &alias.channel)
            .with_context("alias", &alias.alias)),
            _ => {
                self.entries.insert(key, (alias.item, alias.category));
                Ok(())
            }
        }
    }

    /// Builder form of [`SkuMap::insert`] for a channel-wide alias.
    pub fn with(
        mut self,
        channel: Channel,
        kind: AliasKind,
        alias: impl Into<String>,
        item: impl Into<ErpItemId>,
    ) -> Result<SkuMap, Error> {
        self.insert(SkuAlias {
            channel,
            shop: None,
            kind,
            alias: alias.into(),
            item: item.into(),
            category: None,
        })?;
        Ok(self)
    }

    /// Loads `[[alias]]` tables from TOML:
    ///
    /// ```toml
    /// [[alias]]
    /// channel = "tmall"
    /// shop = "flagship"          # optional
    /// kind = "seller_sku"        # platform_sku_id | seller_sku | listing_id
    /// alias = "TEA-250G"
    /// item = "100045"
    /// category = "food"          # optional
    /// ```
    pub fn from_toml_str(s: &str) -> Result<SkuMap, Error> {
        let file: TomlFile = toml::from_str(s)
            .map_err(|e| errors::config(format!("SKU map TOML: {e}")).with_source(e))?;
        let mut map = SkuMap::new();
        for a in file.alias {
            map.insert(a)?;
        }
        Ok(map)
    }

    /// Loads CSV with the header `channel,shop,kind,alias,item,category` (`shop` and
    /// `category` may be empty; `channel` is a [`Channel::name`]).
    pub fn from_csv_reader(reader: impl Read) -> Result<SkuMap, Error> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(reader);
        let mut map = SkuMap::new();
        for (i, row) in rdr.deserialize::<CsvRow>().enumerate() {
            let row = row.map_err(|e| {
                errors::config(format!("SKU map CSV record {}: {e}", i + 1)).with_source(e)
            })?;
            let channel = Channel::from_name(&row.channel).ok_or_else(|| {
                errors::config(format!(
                    "SKU map CSV record {}: unknown channel {:?}",
                    i + 1,
                    row.channel
                ))
            })?;
            let kind = AliasKind::parse(&row.kind).ok_or_else(|| {
                errors::config(format!(
                    "SKU map CSV record {}: unknown alias kind {:?}",
                    i + 1,
                    row.kind
                ))
            })?;
            map.insert(SkuAlias {
                channel,
                shop: row.shop.filter(|s| !s.is_empty()).map(ShopId::new),
                kind,
                alias: row.alias,
                item: ErpItemId::new(row.item),
                category: row.category.filter(|s| !s.is_empty()),
            })?;
        }
        Ok(map)
    }

    fn lookup(
        &self,
        channel: &str,
        shop: &ShopId,
        kind: AliasKind,
        alias: &str,
    ) -> Option<ResolvedItem> {
        let alias = alias.trim();
        let mut key: Key = (
            channel.to_owned(),
            Some(shop.as_str().to_owned()),
            kind,
            alias.to_owned(),
        );
        let hit = self.entries.get(&key).or_else(|| {
            key.1 = None;
            self.entries.get(&key)
        })?;
        Some(ResolvedItem {
            item: hit.0.clone(),
            category: hit.1.clone(),
            matched: kind,
        })
    }

    /// Resolves one alias: the shop's own entry first, then the channel-wide one.
    pub fn resolve(
        &self,
        channel: &Channel,
        shop: &ShopId,
        kind: AliasKind,
        alias: &str,
    ) -> Result<ResolvedItem, Error> {
        self.lookup(&channel.name(), shop, kind, alias)
            .ok_or_else(|| errors::unknown_sku(channel, shop, kind.as_str(), alias))
    }

    /// Resolves an order line, trying its platform SKU id, then its seller SKU, then its listing
    /// id. When none is mapped the error names the seller SKU (the identifier the seller
    /// controls).
    pub fn resolve_line(
        &self,
        channel: &Channel,
        shop: &ShopId,
        line: &OrderLine,
    ) -> Result<ResolvedItem, Error> {
        let ch = channel.name();
        let candidates = [
            (AliasKind::PlatformSkuId, line.platform_sku_id.as_deref()),
            (AliasKind::SellerSku, Some(line.sku.as_str())),
            (
                AliasKind::ListingId,
                line.listing_id.as_ref().map(|l| l.as_str()),
            ),
        ];
        for (kind, alias) in candidates {
            if let Some(hit) = alias
                .filter(|a| !a.trim().is_empty())
                .and_then(|a| self.lookup(&ch, shop, kind, a))
            {
                return Ok(hit);
            }
        }
        Err(errors::unknown_sku(
            channel,
            shop,
            AliasKind::SellerSku.as_str(),
            line.sku.as_str(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketsync_core::{ErrorKind, ReasonCode};

    #[test]
    fn loads_csv_and_toml_and_prefers_shop_rows() -> Result<(), Error> {
        let csv = "channel,shop,kind,alias,item,category\n\
                   tmall,,seller_sku,TEA-250G,100045,food\n\
                   tmall,outlet,seller_sku,TEA-250G,100046,\n\
                   tmall,,platform_sku_id,5012345,100045,\n";
        let map = SkuMap::from_csv_reader(csv.as_bytes())?;
        assert_eq!(map.len(), 3);
        let flagship = ShopId::new("flagship");
        let outlet = ShopId::new("outlet");
        let r = map.resolve(&Channel::Tmall, &flagship, AliasKind::SellerSku, "TEA-250G")?;
        assert_eq!(
            (r.item.as_str(), r.category.as_deref()),
            ("100045", Some("food"))
        );
        let r = map.resolve(&Channel::Tmall, &outlet, AliasKind::SellerSku, "TEA-250G")?;
        assert_eq!(r.item.as_str(), "100046");

        let toml = r#"
            [[alias]]
            channel = "amazon"
            kind = "seller_sku"
            alias = "MUG-01"
            item = "200001"
            [[alias]]
            channel = "amazon"
            kind = "listing_id"
            alias = "B000TEST01"
            item = "200001"
        "#;
        let map = SkuMap::from_toml_str(toml)?;
        let r = map.resolve(
            &Channel::Amazon,
            &flagship,
            AliasKind::ListingId,
            "B000TEST01",
        )?;
        assert_eq!(r.item.as_str(), "200001");
        Ok(())
    }

    #[test]
    fn unknown_sku_is_typed_and_remap_is_refused() -> Result<(), Error> {
        let mut map = SkuMap::new().with(Channel::Jd, AliasKind::SellerSku, "A", "1")?;
        let err = map.resolve(&Channel::Jd, &ShopId::new("s1"), AliasKind::SellerSku, "B");
        let err = err
            .err()
            .ok_or_else(|| errors::invalid("expected an error"))?;
        assert_eq!(err.kind(), &ErrorKind::Mapping);
        assert_eq!(err.reason(), ReasonCode::UnknownSku);
        assert_eq!(err.context_value("channel"), Some("jd"));
        assert_eq!(err.context_value("shop"), Some("s1"));
        assert_eq!(err.context_value("alias"), Some("B"));
        // Same alias, other item: refused.
        let again = map.insert(SkuAlias {
            channel: Channel::Jd,
            shop: None,
            kind: AliasKind::SellerSku,
            alias: "A".into(),
            item: "2".into(),
            category: None,
        });
        assert!(again.is_err());
        Ok(())
    }
}
