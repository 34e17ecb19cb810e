//! Hostile input never panics and never slips through: a deterministic mutation run over the
//! TOP normalizers and the TOP signature check.
//!
//! Every mutated trade, refund and bill list either normalizes to a record that passes its own
//! `validate()`, or is refused with a data error (`Validation` / `Mapping`) and a reason code.
//! 20,000 inputs per target by default; `MARKETSYNC_MUTATION_INPUTS=200000` for the long run.

use chrono::{TimeZone, Utc};
use marketsync_core::{Channel, Error, RawRecord, ShopId};
use marketsync_testkit::mutate::{self, Outcome, fixtures};
use marketsync_tmall::normalize::{self, Context, is_data_error};
use marketsync_tmall::sign::{SignMethod, sign};
use marketsync_tmall::wire;

const DEFAULT_INPUTS: usize = 20_000;

fn ctx() -> Context {
    Context {
        channel: Channel::Tmall,
        shop: ShopId::new("mutation-shop"),
    }
}

fn rejected(e: &Error) -> Outcome {
    if is_data_error(e) {
        Outcome::Rejected(e.reason().to_string())
    } else {
        // A record-level failure must be a data error, or the page would stop on it.
        Outcome::Invalid(format!("not a data error: {e}"))
    }
}

#[test]
fn trades_never_panic_or_slip_through() {
    let seeds = fixtures::tmall_trades();
    let report = mutate::run(
        "tmall trade_to_order",
        &seeds,
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x7a11,
        |bytes| {
            let raw = RawRecord::json(bytes.to_vec(), Some("taobao.trade.fullinfo.get"));
            let trade: wire::Trade = match serde_json::from_slice(bytes) {
                Ok(t) => t,
                Err(_) => return Outcome::Rejected("parse:malformed_payload".into()),
            };
            match normalize::trade_to_order(&trade, &ctx(), &raw) {
                Ok(order) => match order.validate() {
                    Ok(()) => Outcome::Valid,
                    Err(e) => Outcome::Invalid(e.to_string()),
                },
                Err(e) => rejected(&e),
            }
        },
    );
    report.assert_sound();
}

#[test]
fn refunds_never_panic_or_slip_through() {
    let seeds = fixtures::tmall_refunds();
    let report = mutate::run(
        "tmall refund_to_canonical",
        &seeds,
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x7a12,
        |bytes| {
            let raw = RawRecord::json(bytes.to_vec(), Some("taobao.refunds.receive.get"));
            let refund: wire::Refund = match serde_json::from_slice(bytes) {
                Ok(r) => r,
                Err(_) => return Outcome::Rejected("parse:malformed_payload".into()),
            };
            match normalize::refund_to_canonical(&refund, &ctx(), &raw) {
                Ok(r) => match r.validate() {
                    Ok(()) => Outcome::Valid,
                    Err(e) => Outcome::Invalid(e.to_string()),
                },
                Err(e) => rejected(&e),
            }
        },
    );
    report.assert_sound();
}

#[test]
fn bills_never_panic_or_slip_through() {
    let seeds = fixtures::tmall_bills();
    let start = Utc
        .with_ymd_and_hms(2024, 3, 17, 16, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let end = Utc
        .with_ymd_and_hms(2024, 3, 18, 16, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let report = mutate::run(
        "tmall bills_to_settlement",
        &seeds,
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x7a13,
        |bytes| {
            let raw = RawRecord::json(bytes.to_vec(), Some("taobao.bill.bills.get"));
            let bills: Vec<wire::Bill> = match serde_json::from_slice(bytes) {
                Ok(b) => b,
                Err(_) => return Outcome::Rejected("parse:malformed_payload".into()),
            };
            match normalize::bills_to_settlement(&bills, start, end, &ctx(), &raw) {
                Ok(s) => match s.validate() {
                    Ok(()) => Outcome::Valid,
                    Err(e) => Outcome::Invalid(e.to_string()),
                },
                Err(e) => rejected(&e),
            }
        },
    );
    report.assert_sound();
}

/// The connector's signer and the simulator's independent check agree on every mutated
/// parameter set (hostile keys and values: whitespace, control characters, huge strings…), for
/// every method, and neither panics.
#[test]
fn top_signature_check_never_panics_and_agrees_with_the_signer() {
    let seeds: Vec<Vec<u8>> = fixtures::tmall_trades()
        .into_iter()
        .take(8)
        .filter_map(|t| {
            let v: serde_json::Value = serde_json::from_slice(&t).ok()?;
            // A flat parameter object: the trade's top-level scalars as request parameters.
            let flat: serde_json::Map<String, serde_json::Value> = v
                .as_object()?
                .iter()
                .filter(|(_, x)| !x.is_object() && !x.is_array())
                .map(|(k, x)| (k.clone(), x.clone()))
                .collect();
            serde_json::to_vec(&flat).ok()
        })
        .collect();
    let report = mutate::run(
        "top sign / simulator check",
        &seeds,
        mutate::inputs_per_target(DEFAULT_INPUTS),
        0x7a14,
        |bytes| {
            let Ok(serde_json::Value::Object(map)) =
                serde_json::from_slice::<serde_json::Value>(bytes)
            else {
                return Outcome::Rejected("parse:malformed_payload".into());
            };
            let params: Vec<(String, String)> = map
                .into_iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect();
            for method in [SignMethod::Md5, SignMethod::HmacMd5, SignMethod::HmacSha256] {
                let ours = sign(
                    params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    "mutation-secret",
                    method,
                );
                let theirs = marketsync_testkit::sim::tmall::sign::expected_sign(
                    &params,
                    "mutation-secret",
                    method.as_str(),
                );
                if theirs.as_deref() != Some(ours.as_str()) {
                    return Outcome::Invalid(format!("{method}: signer and simulator disagree"));
                }
            }
            Outcome::Valid
        },
    );
    println!("{report}");
    assert_eq!(report.panics, 0, "{report}");
    assert_eq!(report.invalid_total(), 0, "{report}");
}
