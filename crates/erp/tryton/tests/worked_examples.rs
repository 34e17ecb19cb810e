//! The mapping crate's worked examples, posted as real moves into the live Tryton server: each
//! move's lines are read back, and each Tryton account's balance must move by exactly what the
//! journals said.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::{live_config, with_test_accounts};
use marketsync_core::chrono::{NaiveDate, Utc};
use marketsync_core::rust_decimal::Decimal;
use marketsync_core::*;
use marketsync_mapping::examples::{amazon, shopify, tmall};
use marketsync_tryton::{TrytonAdapter, TrytonConfig, wire};
use serde_json::{Value, json};

fn run_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

/// Balances (debit − credit, posted moves of the 2026 fiscal year) of Tryton accounts by code.
async fn balances(a: &TrytonAdapter, company: i64, codes: &[String]) -> BTreeMap<String, Decimal> {
    let context = json!({
        "company": company,
        "companies": [company],
        "posted": true,
        "date": wire::date(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()),
    });
    let rows = a
        .rpc()
        .search_read(
            "account.account",
            json!([["company", "=", company], ["code", "in", codes]]),
            None,
            &["code", "balance"],
            &context,
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let code = r["code"].as_str().unwrap().to_owned();
            let balance = wire::parse_decimal(&r["balance"]).unwrap();
            (code, balance)
        })
        .collect()
}

fn signed(l: &JournalLine) -> Decimal {
    match l.side {
        Side::Debit => l.amount.amount,
        Side::Credit => -l.amount.amount,
    }
}

async fn post_and_compare(config: &TrytonConfig, entity: &str, journals: Vec<JournalEntry>) {
    let a = TrytonAdapter::new(config.clone()).unwrap();
    let company = a.company(entity).await.unwrap();
    for j in &journals {
        j.validate().unwrap();
    }
    // What the journals say each Tryton account moves by.
    let mut expected: BTreeMap<String, Decimal> = BTreeMap::new();
    for l in journals.iter().flat_map(|j| &j.lines) {
        *expected
            .entry(config.account_code(l.account.as_str()).to_owned())
            .or_default() += signed(l);
    }
    let codes: Vec<String> = expected.keys().cloned().collect();
    let before = balances(&a, company.id, &codes).await;
    assert_eq!(
        before.len(),
        codes.len(),
        "accounts missing in {entity}: {codes:?}"
    );

    let run = run_id();
    for (i, j) in journals.iter().enumerate() {
        let key = IdempotencyKey::derive(
            &Channel::Custom("worked-examples".into()),
            &ShopId::new(run.as_str()),
            &EventKind::Other("journal".into()),
            &format!("{entity}-{i}"),
            &Revision::Version(1),
        );
        let doc = a
            .post_journal(&JournalRequest::new(key, j.clone()))
            .await
            .unwrap_or_else(|e| panic!("{entity} journal {i} ({:?}): {e}", j.reference));
        assert!(doc.created);
        assert!(doc.number.is_some(), "a posted move has a number");
        // The move's lines, read back, are the journal's lines.
        let rows = a
            .rpc()
            .search_read(
                "account.move.line",
                json!([["move", "=", doc.id.as_str().parse::<i64>().unwrap()]]),
                None,
                &["account.code", "debit", "credit", "move.state"],
                &json!({"company": company.id}),
            )
            .await
            .unwrap();
        let mut got: Vec<(String, Decimal)> = rows
            .iter()
            .map(|r| {
                let code = r["account."]["code"].as_str().unwrap().to_owned();
                let debit = wire::parse_decimal(&r["debit"]).unwrap();
                let credit = wire::parse_decimal(&r["credit"]).unwrap();
                assert_eq!(r["move."]["state"], Value::from("posted"));
                (code, debit - credit)
            })
            .collect();
        let mut want: Vec<(String, Decimal)> = j
            .lines
            .iter()
            .map(|l| {
                (
                    config.account_code(l.account.as_str()).to_owned(),
                    signed(l),
                )
            })
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{entity} journal {i}: Tryton lines differ");
    }

    let after = balances(&a, company.id, &codes).await;
    for (code, delta) in &expected {
        let moved = after[code] - before[code];
        assert_eq!(
            moved, *delta,
            "{entity}: Tryton account {code} moved by {moved}, the journals say {delta}"
        );
    }
    // Double entry: the deltas sum to zero.
    assert_eq!(expected.values().copied().sum::<Decimal>(), Decimal::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worked_examples_post_as_real_moves_and_balances_match() {
    let Some(config) = live_config("US01") else {
        return;
    };
    let config = with_test_accounts(config);
    // Tmall, CNY: platform coupon and seller discount, VAT inclusive, settlement and payout.
    post_and_compare(&config, tmall::ENTITY, tmall::journals().unwrap()).await;
    // Amazon US, USD: marketplace facilitator tax through an offset account, FBA fees, a
    // partial refund, settlement and payout.
    post_and_compare(&config, amazon::ENTITY, amazon::journals().unwrap()).await;
    // Shopify: presented in EUR, shop in USD, books in GBP (functional-currency posting with FX
    // gain/loss and rounding lines).
    post_and_compare(&config, shopify::ENTITY, shopify::journals().unwrap()).await;
}
