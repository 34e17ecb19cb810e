//! Every typed mapping error, produced on purpose.

mod common;

use std::sync::Arc;

use common::*;
use marketsync_core::*;
use marketsync_mapping::examples::{fee, settlement, settlement_line, tmall};
use marketsync_mapping::*;

fn ctx() -> Context {
    Context::new("CN01")
}

#[test]
fn unknown_sku_fails_the_accrual() -> R {
    let skus = SkuMap::new().with(Channel::Tmall, AliasKind::SellerSku, "OTHER-SKU", "100099")?;
    let mapper = Mapper::new(Arc::new(tmall::rulebook()?), Arc::new(InMemoryRates::new()))?
        .with_sku_map(Arc::new(skus));
    let err = mapper
        .order_accrual(&tmall::order()?, &ctx())
        .err()
        .ok_or("expected UnknownSku")?;
    assert_eq!(err.kind(), &ErrorKind::Mapping);
    assert_eq!(err.reason(), ReasonCode::UnknownSku);
    assert_eq!(err.context_value("channel"), Some("tmall"));
    assert_eq!(err.context_value("shop"), Some("main"));
    assert_eq!(err.context_value("alias"), Some("TEA-250G"));
    let err = mapper
        .resolve_items(&tmall::order()?)
        .err()
        .ok_or("expected UnknownSku")?;
    assert_eq!(err.reason(), ReasonCode::UnknownSku);
    // Once mapped, the revenue line carries the ERP item.
    let skus = SkuMap::new().with(Channel::Tmall, AliasKind::SellerSku, "TEA-250G", "100045")?;
    let mapper = mapper.with_sku_map(Arc::new(skus));
    let items = mapper.resolve_items(&tmall::order()?)?;
    assert!(!items.is_empty() && items.values().all(|i| i.as_str() == "100045"));
    let e = mapper.order_accrual(&tmall::order()?, &ctx())?;
    let revenue = e
        .lines
        .iter()
        .find(|l| l.account.as_str() == "6001")
        .ok_or("no revenue")?;
    assert_eq!(
        revenue.dimensions.extra.get("item").map(String::as_str),
        Some("100045")
    );
    Ok(())
}

#[test]
fn unknown_status_is_typed() {
    let err = StatusMap::builtin()
        .map(&Channel::Jd, "WAIT_FOR_GODOT")
        .err();
    assert_eq!(
        err.as_ref().map(Error::reason),
        Some(ReasonCode::UnknownStatus)
    );
    assert_eq!(err.as_ref().map(|e| *e.kind()), Some(ErrorKind::Mapping));
}

fn amazon_settlement_with(code: &str) -> Settlement {
    let usd = Currency::USD;
    let at = t("2026-03-03T00:00:00Z");
    settlement(
        Channel::Amazon,
        "S-9",
        usd,
        t("2026-03-01T00:00:00Z"),
        t("2026-03-15T00:00:00Z"),
        vec![
            settlement_line(SettlementLineKind::Sale, m("20.00", usd), Some("A-1"), at),
            settlement_line(fee(code), m("-1.10", usd), None, at),
        ],
    )
}

fn us_book(extra: Option<FeeCodeTable>) -> Result<Mapper, Error> {
    let e = "US01";
    let mut rb = Rulebook::new("v1")
        .with_entity(EntitySettings {
            id: e.into(),
            time_zone: TimeZoneId::utc(),
            functional_currency: Currency::USD,
            posting_currency: PostingCurrency::Document,
        })
        .with_accounts(
            AccountMap::new()
                .with(e, AccountRole::MarketplaceReceivable, "1210")
                .with(e, AccountRole::CashClearing, "1150")
                .with(e, AccountRole::fee(""), "6199"),
        )
        .with_builtin_fee_tables();
    if let Some(t) = extra {
        rb = rb.with_fee_rule(FeeRuleConfig::CodeTable(t));
    }
    Mapper::new(Arc::new(rb), Arc::new(InMemoryRates::new()))
}

#[test]
fn unknown_fee_code_is_kept_for_replay() -> R {
    let s = amazon_settlement_with("FBAInboundConvenienceFee");
    let mapper = us_book(None)?;
    let ctx = Context::new("US01");
    let err = mapper
        .settlement_journals(&s, &ctx)
        .err()
        .ok_or("expected UnknownFeeCode")?;
    assert_eq!(err.reason(), ReasonCode::UnknownFeeCode);
    assert_eq!(
        err.context_value("fee_code"),
        Some("FBAInboundConvenienceFee")
    );
    assert_eq!(err.context_value("settlement"), Some("S-9"));
    assert_eq!(
        mapper.unknown_fee_codes(&s)?,
        vec!["FBAInboundConvenienceFee".to_owned()]
    );
    // A rule is added (new rulebook version); the same settlement replays.
    let table = FeeCodeTable {
        channel: Channel::Amazon,
        codes: Default::default(),
    }
    .with("FBAInboundConvenienceFee", AccountRole::fee("inbound"));
    let js = us_book(Some(table))?.settlement_journals(&s, &ctx)?;
    assert_eq!(js.len(), 1);
    assert!(js[0].lines.iter().any(|l| l.account.as_str() == "6199"));
    Ok(())
}

#[test]
fn tax_mismatch_is_an_error_not_an_overwrite() -> R {
    let mapper = Mapper::new(Arc::new(tmall::rulebook()?), Arc::new(InMemoryRates::new()))?;
    let mut o = tmall::order()?;
    o.lines[0].taxes[0].amount = m("25.00", Currency::CNY);
    o.payments.clear();
    let err = mapper
        .order_accrual(&o, &ctx())
        .err()
        .ok_or("expected TaxMismatch")?;
    assert_eq!(err.kind(), &ErrorKind::Mapping);
    assert_eq!(err.reason(), ReasonCode::TaxMismatch);
    assert_eq!(err.context_value("expected"), Some("20.71 CNY"));
    assert_eq!(err.context_value("reported"), Some("25.00 CNY"));
    assert_eq!(err.context_value("scope"), Some("1"));
    // A rate China does not have.
    let mut o = tmall::order()?;
    o.lines[0].taxes[0].rate = Some(d("0.10"));
    let err = mapper
        .order_accrual(&o, &ctx())
        .err()
        .ok_or("expected TaxMismatch")?;
    assert_eq!(err.reason(), ReasonCode::TaxMismatch);
    // Within tolerance (one fen) passes.
    let mut o = tmall::order()?;
    o.lines[0].taxes[0].amount = m("20.70", Currency::CNY);
    assert!(mapper.order_accrual(&o, &ctx()).is_ok());
    Ok(())
}

#[test]
fn unmapped_account_and_missing_rate_are_errors_not_defaults() -> R {
    let mut rb = tmall::rulebook()?;
    rb.accounts = AccountMap::new().with("CN01", AccountRole::MarketplaceReceivable, "1122.01");
    let mapper = Mapper::new(Arc::new(rb), Arc::new(InMemoryRates::new()))?;
    let err = mapper
        .order_accrual(&tmall::order()?, &ctx())
        .err()
        .ok_or("expected unmapped")?;
    assert_eq!(err.reason(), ReasonCode::UnmappedAccount);
    assert_eq!(err.context_value("role"), Some("revenue"));

    let mut rb = tmall::rulebook()?;
    rb.entities[0].functional_currency = Currency::USD;
    rb.entities[0].posting_currency = PostingCurrency::Functional;
    let mapper = Mapper::new(Arc::new(rb), Arc::new(InMemoryRates::new()))?;
    let err = mapper
        .order_accrual(&tmall::order()?, &ctx())
        .err()
        .ok_or("expected missing rate")?;
    assert_eq!(err.reason(), ReasonCode::MissingFxRate);
    Ok(())
}

#[test]
fn unpaid_orders_and_open_refunds_do_not_post() -> R {
    let mapper = Mapper::new(Arc::new(tmall::rulebook()?), Arc::new(InMemoryRates::new()))?;
    let mut o = tmall::order()?;
    o.status = OrderStatus::PendingPayment;
    let err = mapper
        .order_accrual(&o, &ctx())
        .err()
        .ok_or("expected not postable")?;
    assert_eq!(err.kind(), &ErrorKind::Validation);
    Ok(())
}

#[derive(Debug)]
struct EverythingIsMarketing;

impl FeeRule for EverythingIsMarketing {
    fn name(&self) -> &str {
        "everything_is_marketing"
    }
    fn settlement_fee(&self, ctx: &SettlementFeeContext<'_>) -> Result<Option<FeeLine>, Error> {
        Ok(Some(FeeLine {
            code: ctx.code.to_owned(),
            amount: ctx.line.amount.neg(),
            role: AccountRole::fee("marketing"),
            order_id: ctx.line.order_id.clone(),
        }))
    }
}

#[test]
fn rulebook_loads_from_toml_with_code_rules_and_exports_a_schema() -> R {
    let toml = r#"
        version = "2026.04-1"
        rounding = "half_even"
        seller_discounts = "contra_revenue"

        [[entities]]
        id = "CN01"
        time_zone = "Asia/Shanghai"
        functional_currency = "CNY"

        [[accounts]]
        entity = "CN01"
        role = "marketplace_receivable"
        account = "1122.01"
        [[accounts]]
        entity = "CN01"
        role = "revenue"
        account = "6001"
        [[accounts]]
        entity = "CN01"
        channel = "tmall"
        role = "revenue"
        account = "6001.01"
        [[accounts]]
        entity = "CN01"
        role = "seller_discount"
        account = "6001.09"
        [[accounts]]
        entity = "CN01"
        role = "shipping_income"
        account = "6051"
        [[accounts]]
        entity = "CN01"
        role = "tax_payable"
        account = "2221.01"
        [[accounts]]
        entity = "CN01"
        role = "rounding"
        account = "6603.01"
        [[accounts]]
        entity = "CN01"
        role = "fee_expense"
        account = "6601"
        [[accounts]]
        entity = "CN01"
        role = "cash_clearing"
        account = "1012.01"

        [[fee_rules]]
        type = "percentage"
        channel = "tmall"
        default_rate = "0.05"
        by_category = { food = "0.02" }

        [[fee_rules]]
        type = "fixed"
        channel = "tmall"
        code = "packaging"
        role = "fee_expense:packaging"
        per_unit = { amount = "0.50", currency = "CNY" }

        [[tax_rules]]
        type = "china_vat"
    "#;
    let rb = Rulebook::from_toml_str(toml)?.with_custom_fee_rule(Arc::new(EverythingIsMarketing));
    let json = rb.to_json_string()?;
    let back = Rulebook::from_json_str(&json)?;
    assert_eq!(back.version, "2026.04-1");
    let skus = SkuMap::new().with(Channel::Tmall, AliasKind::SellerSku, "TEA-250G", "100045")?;
    let mapper =
        Mapper::new(Arc::new(rb), Arc::new(InMemoryRates::new()))?.with_sku_map(Arc::new(skus));
    let e = mapper.order_accrual(&tmall::order()?, &ctx())?;
    assert!(
        e.lines
            .iter()
            .all(|l| l.rulebook_version.as_deref() == Some("2026.04-1"))
    );
    // Contra-revenue: gross revenue and the seller discount, both net of tax.
    let table = table(&e);
    // 200.00 gross − 23.01 tax share = 176.99; 20.00 discount − 2.30 tax share = 17.70;
    // 176.99 − 17.70 = 159.29, the net revenue: no rounding residual this time.
    assert!(
        table.contains("Cr 6001.01    176.99 CNY revenue"),
        "{table}"
    );
    assert!(
        table.contains("Dr 6001.09     17.70 CNY seller_discount"),
        "{table}"
    );
    assert!(!table.contains("rounding"), "{table}");
    // Expected fees: 5% of 180.00 and 2 × 0.50.
    let fees = mapper.expected_fees(&tmall::order()?)?;
    let amounts: Vec<_> = fees
        .iter()
        .map(|f| (f.code.as_str(), f.amount.amount))
        .collect();
    assert_eq!(
        amounts,
        vec![("commission", d("9.00")), ("packaging", d("1.00"))]
    );
    // A code rule in the rulebook classifies any code.
    let s = settlement(
        Channel::Tmall,
        "X",
        Currency::CNY,
        t("2026-02-01T00:00:00Z"),
        t("2026-02-02T00:00:00Z"),
        vec![settlement_line(
            fee("直通车"),
            m("-5.00", Currency::CNY),
            None,
            t("2026-02-01T01:00:00Z"),
        )],
    );
    let js = mapper.settlement_journals(&s, &ctx())?;
    assert!(table_has(&js[0], "6601"));

    let schema = rulebook_schema();
    assert!(schema.pointer("/properties/version").is_some());
    assert!(schema.to_string().contains("fee_expense"));
    Ok(())
}

fn table_has(e: &JournalEntry, account: &str) -> bool {
    e.lines.iter().any(|l| l.account.as_str() == account)
}
