//! The worked examples of the README, with their journals spelled out line by line.

mod common;

use std::sync::Arc;

use common::*;
use marketsync_core::*;
use marketsync_mapping::*;

#[test]
fn tmall_platform_coupon_and_seller_discount_in_cny() -> R {
    let mapper = Mapper::new(Arc::new(cn_rulebook()), Arc::new(InMemoryRates::new()))?;
    let ctx = Context::new("CN01");
    let o = tmall_order();
    let accrual = mapper.order_accrual(&o, &ctx)?;
    // Placed 2026-01-31T17:30Z = 2026-02-01 01:30 in Shanghai: a February entry.
    assert_eq!(
        table(&accrual),
        "2026-02-01 tmall:order:4012345\n\
         Dr 1122.01    178.00 CNY marketplace_receivable\n\
         Dr 1122.01     10.00 CNY marketplace_receivable\n\
         Cr 6001       159.29 CNY revenue\n\
         Cr 6051         7.34 CNY shipping_income\n\
         Cr 2221.01      0.66 CNY tax_payable\n\
         Cr 2221.01     20.71 CNY tax_payable\n"
    );
    assert!(
        accrual
            .lines
            .iter()
            .all(|l| l.rulebook_version.as_deref() == Some("2026.02-1"))
    );

    let mut s = settlement(
        Channel::Tmall,
        "TS-202602-01",
        Currency::CNY,
        "2026-01-31T16:00:00Z",
        "2026-02-07T16:00:00Z",
        vec![
            sline(
                SettlementLineKind::Sale,
                m("188.00", Currency::CNY),
                Some("4012345"),
                "2026-02-05T02:00:00Z",
            ),
            sline(
                fee("技术服务费"),
                m("-9.00", Currency::CNY),
                Some("4012345"),
                "2026-02-05T02:00:00Z",
            ),
            sline(
                fee("天猫积分"),
                m("-0.90", Currency::CNY),
                Some("4012345"),
                "2026-02-05T02:00:00Z",
            ),
            sline(
                SettlementLineKind::Payout,
                m("-178.10", Currency::CNY),
                None,
                "2026-02-08T02:00:00Z",
            ),
        ],
    );
    s.payout = Some(Payout {
        id: "P-0208".into(),
        amount: m("178.10", Currency::CNY),
        paid_at: t("2026-02-09T02:00:00Z"),
        bank_reference: None,
    });
    let js = mapper.settlement_journals(&s, &ctx)?;
    assert_eq!(js.len(), 1);
    assert_eq!(
        table(&js[0]),
        "2026-02-07 tmall:settlement:TS-202602-01:2026-02\n\
         Dr 1012.01    178.10 CNY cash_clearing\n\
         Cr 1122.01    188.00 CNY marketplace_receivable\n\
         Dr 6601.01      9.00 CNY commission_expense\n\
         Dr 6601.02      0.90 CNY fee_expense:points\n"
    );
    let payout = mapper.payout_journal(&s, &ctx)?;
    assert_eq!(
        table(&payout),
        "2026-02-09 tmall:payout:P-0208\n\
         Dr 1002       178.10 CNY bank\n\
         Cr 1012.01    178.10 CNY cash_clearing\n"
    );
    // The settlement cleared exactly what the order created.
    let mut all = vec![accrual];
    all.extend(js);
    assert_eq!(receivable_residuals(&all)?, vec![]);
    Ok(())
}

fn us_rulebook() -> Rulebook {
    let e = "US01";
    let mut mf = UsMarketplaceFacilitator {
        mode: MarketplaceTaxMode::Offset,
        ..UsMarketplaceFacilitator::default()
    };
    mf.rates.insert("CA".into(), d("0.0825"));
    let mut rb = Rulebook::new("2026.03-us")
        .with_entity(EntitySettings {
            id: e.into(),
            time_zone: TimeZoneId::new("America/Los_Angeles").unwrap_or_else(TimeZoneId::utc),
            functional_currency: Currency::USD,
            posting_currency: PostingCurrency::Document,
        })
        .with_accounts(
            AccountMap::new()
                .with(e, AccountRole::MarketplaceReceivable, "1210")
                .with(e, AccountRole::Revenue, "4000")
                .with(e, AccountRole::RefundReturns, "4900")
                .with(e, AccountRole::MarketplaceTaxOffset, "2290")
                .with(e, AccountRole::CommissionExpense, "6100")
                .with(e, AccountRole::fee("fulfilment"), "6110")
                .with(e, AccountRole::fee("refund_administration"), "6120")
                .with(e, AccountRole::CashClearing, "1150")
                .with(e, AccountRole::Bank, "1000"),
        )
        .with_tax_rule(TaxRuleConfig::UsMarketplaceFacilitator(mf))
        .with_builtin_fee_tables();
    rb.refunds = RefundPosting::RefundReturns;
    rb
}

#[test]
fn amazon_us_facilitator_tax_fba_fees_and_partial_refund() -> R {
    let mapper = Mapper::new(Arc::new(us_rulebook()), Arc::new(InMemoryRates::new()))?;
    let ctx = Context::new("US01");
    let usd = Currency::USD;
    let mut l = line("li-1", "MUG-01", 2, m("25.00", usd));
    l.taxes = vec![tax(
        TaxKind::SalesTax,
        None,
        m("4.13", usd),
        false,
        TaxCollector::Marketplace,
        Some("CA"),
    )];
    let mut o = order(
        Channel::Amazon,
        "113-0000001-0000001",
        usd,
        "2026-03-02T18:00:00Z",
        vec![l],
    );
    o.fulfilment_channel = FulfilmentChannel::Platform("FBA".into());
    let accrual = mapper.order_accrual(&o, &ctx)?;
    // The $4.13 facilitator tax is the marketplace's: neither receivable nor liability.
    assert_eq!(
        table(&accrual),
        "2026-03-02 amazon:order:113-0000001-0000001\n\
         Dr 1210        50.00 USD marketplace_receivable\n\
         Cr 4000        50.00 USD revenue\n"
    );

    let refund = Refund {
        channel: Channel::Amazon,
        shop: "main".into(),
        id: "R-1".into(),
        order_id: o.id.clone(),
        revision: Revision::Version(1),
        status: RefundStatus::Completed,
        raw_status: "Completed".into(),
        reason: RefundReason {
            code: None,
            text: None,
        },
        created_at: t("2026-03-08T20:00:00Z"),
        updated_at: t("2026-03-09T20:00:00Z"),
        lines: vec![RefundLine {
            line_id: "li-1".into(),
            sku: "MUG-01".into(),
            quantity: 1,
            amount: m("25.00", usd),
            taxes: vec![tax(
                TaxKind::SalesTax,
                None,
                m("2.06", usd),
                false,
                TaxCollector::Marketplace,
                Some("CA"),
            )],
            restock: true,
        }],
        shipping: None,
        total: m("27.06", usd),
        goods_return: None,
        raw: None,
    };
    let reversal = mapper.refund_reversal(&refund, &o, &ctx)?;
    assert_eq!(
        table(&reversal),
        "2026-03-09 amazon:refund:R-1\n\
         Dr 4900        25.00 USD refund_returns\n\
         Cr 1210        25.00 USD marketplace_receivable\n"
    );
    assert_eq!(
        reversal.lines[0]
            .dimensions
            .extra
            .get("restock")
            .map(String::as_str),
        Some("true")
    );

    let oid = Some("113-0000001-0000001");
    let mc = |x| SettlementLineKind::Tax {
        marketplace_collected: x,
    };
    let at1 = "2026-03-04T12:00:00Z";
    let at2 = "2026-03-10T12:00:00Z";
    let mut s = settlement(
        Channel::Amazon,
        "12345678901",
        usd,
        "2026-03-01T08:00:00Z",
        "2026-03-15T07:00:00Z",
        vec![
            sline(SettlementLineKind::Sale, m("50.00", usd), oid, at1),
            sline(mc(true), m("4.13", usd), oid, at1),
            sline(mc(true), m("-4.13", usd), oid, at1),
            sline(SettlementLineKind::Commission, m("-7.50", usd), oid, at1),
            sline(fee("FBAPerUnitFulfillmentFee"), m("-7.94", usd), oid, at1),
            sline(SettlementLineKind::Refund, m("-25.00", usd), oid, at2),
            sline(mc(true), m("-2.06", usd), oid, at2),
            sline(mc(true), m("2.06", usd), oid, at2),
            sline(SettlementLineKind::Commission, m("3.75", usd), oid, at2),
            sline(fee("RefundCommission"), m("-0.75", usd), oid, at2),
            sline(
                SettlementLineKind::Payout,
                m("-12.56", usd),
                None,
                "2026-03-15T07:00:00Z",
            ),
        ],
    );
    s.payout = Some(Payout {
        id: "EFT-0316".into(),
        amount: m("12.56", usd),
        paid_at: t("2026-03-16T17:00:00Z"),
        bank_reference: None,
    });
    let js = mapper.settlement_journals(&s, &ctx)?;
    assert_eq!(js.len(), 1);
    assert_eq!(
        table(&js[0]),
        "2026-03-14 amazon:settlement:12345678901:2026-03\n\
         Dr 1150        12.56 USD cash_clearing\n\
         Dr 1210        25.00 USD marketplace_receivable\n\
         Cr 1210        50.00 USD marketplace_receivable\n\
         Dr 2290         6.19 USD marketplace_tax_offset\n\
         Cr 2290         6.19 USD marketplace_tax_offset\n\
         Dr 6100         7.50 USD commission_expense\n\
         Cr 6100         3.75 USD commission_expense\n\
         Dr 6110         7.94 USD fee_expense:fulfilment\n\
         Dr 6120         0.75 USD fee_expense:refund_administration\n"
    );
    let payout = mapper.payout_journal(&s, &ctx)?;
    assert_eq!(
        table(&payout),
        "2026-03-16 amazon:payout:EFT-0316\n\
         Dr 1000        12.56 USD bank\n\
         Cr 1150        12.56 USD cash_clearing\n"
    );
    let mut all = vec![accrual, reversal];
    all.extend(js);
    assert_eq!(receivable_residuals(&all)?, vec![]);
    Ok(())
}

fn uk_rulebook() -> Rulebook {
    let e = "UK01";
    let mut vat = EuVat {
        oss: true,
        ..EuVat::default()
    };
    vat.rates.insert("DE".into(), d("0.19"));
    Rulebook::new("2026.03-uk")
        .with_entity(EntitySettings {
            id: e.into(),
            time_zone: TimeZoneId::new("Europe/London").unwrap_or_else(TimeZoneId::utc),
            functional_currency: Currency::GBP,
            posting_currency: PostingCurrency::Functional,
        })
        .with_accounts(
            AccountMap::new()
                .with(e, AccountRole::MarketplaceReceivable, "1105")
                .with(e, AccountRole::Revenue, "4000")
                .with(e, AccountRole::TaxPayable, "2202")
                .with(e, AccountRole::fee("payment_processing"), "7710")
                .with(e, AccountRole::CashClearing, "1108")
                .with(e, AccountRole::Bank, "1200")
                .with(e, AccountRole::FxGainLoss, "7800")
                .with(e, AccountRole::Rounding, "7999"),
        )
        .with_tax_rule(TaxRuleConfig::EuVat(vat))
        .with_builtin_fee_tables()
}

#[test]
fn shopify_presented_in_eur_shop_usd_functional_gbp() -> R {
    let rates = InMemoryRates::new()
        .with(
            Currency::USD,
            Currency::GBP,
            t("2026-03-10T00:00:00Z").date_naive(),
            d("0.7893"),
            "ECB",
        )?
        .with(
            Currency::USD,
            Currency::GBP,
            t("2026-03-12T00:00:00Z").date_naive(),
            d("0.7920"),
            "ECB",
        )?;
    let mapper = Mapper::new(Arc::new(uk_rulebook()), Arc::new(rates))?;
    let ctx = Context::new("UK01");
    let usd = Currency::USD;
    let mut l = line("gid://shopify/LineItem/1", "JACKET-M", 1, m("108.00", usd));
    l.taxes = vec![tax(
        TaxKind::Vat,
        Some("0.19"),
        m("17.24", usd),
        true,
        TaxCollector::Seller,
        Some("DE"),
    )];
    let mut o = order(
        Channel::Shopify,
        "1001",
        usd,
        "2026-03-10T12:00:00Z",
        vec![l],
    );
    o.presentment = Some(Presentment {
        currency: Currency::EUR,
        total: m("100.00", Currency::EUR),
    });
    let accrual = mapper.order_accrual(&o, &ctx)?;
    assert_eq!(
        table(&accrual),
        "2026-03-10 shopify:order:1001\n\
         Dr 1105        85.24 GBP marketplace_receivable (108.00 USD @0.7893)\n\
         Cr 4000        71.64 GBP revenue (90.76 USD @0.7893)\n\
         Cr 2202        13.61 GBP tax_payable (17.24 USD @0.7893)\n\
         Dr 7999         0.01 GBP rounding\n"
    );
    let recv = &accrual.lines[0];
    assert_eq!(
        recv.dimensions.extra.get("presentment").map(String::as_str),
        Some("100.00 EUR")
    );
    assert_eq!(recv.fx.as_ref().map(|f| f.source.as_str()), Some("ECB"));
    assert_eq!(
        accrual.lines[2]
            .dimensions
            .extra
            .get("vat_scheme")
            .map(String::as_str),
        Some("oss")
    );

    let mut s = settlement(
        Channel::Shopify,
        "SP-0312",
        usd,
        "2026-03-11T00:00:00Z",
        "2026-03-13T00:00:00Z",
        vec![
            sline(
                SettlementLineKind::Sale,
                m("108.00", usd),
                Some("1001"),
                "2026-03-11T10:00:00Z",
            ),
            sline(
                fee("shopify_payments_fee"),
                m("-3.43", usd),
                Some("1001"),
                "2026-03-11T10:00:00Z",
            ),
            sline(
                SettlementLineKind::Payout,
                m("-104.57", usd),
                None,
                "2026-03-12T23:00:00Z",
            ),
        ],
    );
    s.payout = Some(Payout {
        id: "PO-88".into(),
        amount: m("82.60", Currency::GBP),
        paid_at: t("2026-03-16T09:00:00Z"),
        bank_reference: None,
    });
    let js = mapper.settlement_journals_with_accruals(&s, &ctx, std::slice::from_ref(&accrual))?;
    assert_eq!(
        table(&js[0]),
        "2026-03-12 shopify:settlement:SP-0312:2026-03\n\
         Dr 1108        82.82 GBP cash_clearing (104.57 USD @0.7920)\n\
         Cr 1105        85.24 GBP marketplace_receivable (108.00 USD @0.7893)\n\
         Dr 7710         2.72 GBP fee_expense:payment_processing (3.43 USD @0.7920)\n\
         Cr 7800         0.30 GBP fx_gain_loss\n"
    );
    let payout = mapper.payout_journal(&s, &ctx)?;
    assert_eq!(
        table(&payout),
        "2026-03-16 shopify:payout:PO-88\n\
         Dr 1200        82.60 GBP bank\n\
         Cr 1108        82.82 GBP cash_clearing (104.57 USD @0.7920)\n\
         Dr 7800         0.22 GBP fx_gain_loss\n"
    );
    let mut all = vec![accrual];
    all.extend(js);
    assert_eq!(receivable_residuals(&all)?, vec![]);
    // In GBP too, the receivable is cleared at the rate it was booked at.
    let gbp: Vec<_> = all
        .iter()
        .flat_map(|e| &e.lines)
        .filter(|l| l.account.as_str() == "1105")
        .map(|l| l.amount.amount)
        .collect();
    assert_eq!(gbp, vec![d("85.24"), d("85.24")]);
    Ok(())
}
