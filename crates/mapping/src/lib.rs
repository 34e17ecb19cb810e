#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod accounts;
pub mod errors;
pub mod examples;
pub mod fee;
pub mod fx;
pub mod mapper;
pub mod period;
pub mod reconcile;
pub mod rulebook;
pub mod sku;
pub mod status;
pub mod tax;

pub use accounts::{AccountMap, AccountMapping, AccountRole};
pub use fee::{
    FeeBase, FeeCodeTable, FeeLine, FeeRule, FeeRuleConfig, FixedFee, OrderFeeContext,
    PercentageCommission, SettlementFeeContext, Tier, TieredRate,
};
pub use fx::{FxRate, FxRates, InMemoryRates, convert, convert_parts};
pub use mapper::{Context, Mapper};
pub use period::{Period, business_date, parse_tz};
pub use reconcile::{ReceivableResidual, receivable_residuals};
pub use rulebook::{
    AccrualDate, EntitySettings, PostingCurrency, RefundPosting, Rulebook, SellerDiscountPosting,
    rulebook_schema, schema_set,
};
pub use sku::{AliasKind, ResolvedItem, SkuAlias, SkuMap};
pub use status::{StatusMap, advance, combined_key, shopify_key};
pub use tax::{
    ChinaVat, EuVat, MarketplaceTaxMode, SalesTaxExclusive, TaxBasis, TaxCheck, TaxRule,
    TaxRuleConfig, UsMarketplaceFacilitator,
};
