//! The worked examples of the README, with their journals spelled out line by line.

mod common;

use common::*;
use marketsync_mapping::examples::{amazon, shopify, tmall};
use marketsync_mapping::*;

#[test]
fn tmall_platform_coupon_and_seller_discount_in_cny() -> R {
    let mapper = tmall::mapper()?;
    let ctx = Context::new(tmall::ENTITY);
    let o = tmall::order()?;
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

    let s = tmall::settlement()?;
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

#[test]
fn amazon_us_facilitator_tax_fba_fees_and_partial_refund() -> R {
    let mapper = amazon::mapper()?;
    let ctx = Context::new(amazon::ENTITY);
    let o = amazon::order()?;
    let accrual = mapper.order_accrual(&o, &ctx)?;
    // The $4.13 facilitator tax is the marketplace's: neither receivable nor liability.
    assert_eq!(
        table(&accrual),
        "2026-03-02 amazon:order:113-0000001-0000001\n\
         Dr 1210        50.00 USD marketplace_receivable\n\
         Cr 4000        50.00 USD revenue\n"
    );

    let refund = amazon::refund()?;
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

    let s = amazon::settlement()?;
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

#[test]
fn shopify_presented_in_eur_shop_usd_functional_gbp() -> R {
    let mapper = shopify::mapper()?;
    let ctx = Context::new(shopify::ENTITY);
    let o = shopify::order()?;
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

    let s = shopify::settlement()?;
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
