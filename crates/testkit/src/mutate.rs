//! A small, seeded, dependency-free mutator for hostile-input tests, and the fixtures it starts
//! from.
//!
//! Every normalizer and signature verifier is run, in the normal `cargo test` run (no nightly,
//! no cargo-fuzz), over a few thousand mutated copies of realistic payloads: [`Mutator`] applies
//! JSON-aware mutations (values swapped for extremes — `i64::MIN`/`MAX`, 2^64−1, `1e30`,
//! 29-digit decimals, `""`, `null`, nested arrays, negative numbers, dates like
//! `-2026-01-01`, huge strings, control characters — keys deleted, arrays emptied or
//! duplicated) and byte-level ones (bit flips, inserted and deleted bytes) to the seeds in
//! [`fixtures`]. [`run`] feeds each input to a closure under `catch_unwind` and counts panics,
//! records that normalized *and* validated, records that normalized but failed validation
//! (a bug: a normalizer must validate what it returns), and errors by reason code.
//!
//! The cargo-fuzz targets in `fuzz/` reuse the same seeds ([`fixtures::all`]) and mutations.
//!
//! ```
//! use marketsync_testkit::mutate::{Mutator, Outcome, fixtures, run};
//!
//! let seeds = fixtures::shopify_payouts();
//! let report = run("payout-json", &seeds, 200, 7, |bytes| {
//!     match serde_json::from_slice::<serde_json::Value>(bytes) {
//!         Ok(_) => Outcome::Valid,
//!         Err(_) => Outcome::Rejected("malformed_payload".into()),
//!     }
//! });
//! assert_eq!(report.inputs, 200);
//! assert_eq!(report.panics, 0);
//! let mut m = Mutator::new(1);
//! assert_ne!(m.mutate(&seeds[0]), seeds[0]);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Map, Value, json};

use crate::generate::Rng;

/// The environment variable that raises the number of inputs per target
/// (`MARKETSYNC_MUTATION_INPUTS=200000` for the long run).
pub const INPUTS_ENV: &str = "MARKETSYNC_MUTATION_INPUTS";

/// The number of inputs per target: `MARKETSYNC_MUTATION_INPUTS` when set to a number, else
/// `default`.
pub fn inputs_per_target(default: usize) -> usize {
    std::env::var(INPUTS_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Extreme JSON values a mutation swaps in.
pub fn extremes() -> Vec<Value> {
    let huge = "9".repeat(64);
    vec![
        json!(i64::MIN),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(-1),
        json!(0),
        json!(1e30),
        json!(-1e30),
        json!(1.5e-300),
        json!(0.1),
        json!(""),
        json!(" "),
        json!("\t \n"),
        Value::Null,
        json!(true),
        json!([]),
        json!({}),
        json!([[[[[[[[1]]]]]]]]),
        json!({"a": {"b": {"c": [null, "", -1]}}}),
        json!("-9223372036854775808"),
        json!("9223372036854775807"),
        json!("18446744073709551615"),
        json!("79228162514264337593543950336"),
        json!("12345678901234567890.123456789"),
        json!("0.00000000000000000000000000001"),
        json!("1e30"),
        json!("-0.00"),
        json!("9999999999999999999999999999"),
        json!("99999999999999999999999999.99"),
        json!("7922816251426433759354395033.5"),
        json!("0.01"),
        json!(u32::MAX),
        json!(1_000_001),
        json!(i64::MIN + 1),
        json!("1969-12-31 23:59:59"),
        json!("3000-01-01 00:00:00"),
        json!("2024-03-18 17:12:59"),
        json!("2024-03-18T17:12:59Z"),
        json!("-1.00"),
        json!("10.005"),
        json!("100.5"),
        json!("NaN"),
        json!("Infinity"),
        json!("1_000"),
        json!("+1"),
        json!(huge),
        json!(format!("-{huge}")),
        json!("-2026-01-01 00:00:00"),
        json!("-2026-01-01T00:00:00Z"),
        json!("0000-01-01 00:00:00"),
        json!("9999-12-31 23:59:59"),
        json!("+275760-09-13T00:00:00Z"),
        json!("2024-02-30 25:61:61"),
        json!("1970-01-01T00:00:00Z"),
        json!("2999-12-31T23:59:59+14:00"),
        json!("\u{0000}\u{0001}\u{001b}[31m\u{007f}"),
        json!("line\nbreak\r\ttab"),
        json!("\u{202e}gnp.exe"),
        json!("😀".repeat(100)),
        json!("x".repeat(20_000)),
        json!("' OR 1=1 --"),
        json!("USD"),
        json!("JPY"),
        json!("XXX"),
        json!("usd"),
        json!("gid://shopify/Order/-1"),
    ]
}

/// A seeded mutator. The same seed gives the same sequence of mutations on every machine.
#[derive(Clone, Debug)]
pub struct Mutator {
    rng: Rng,
    extremes: Vec<Value>,
}

impl Mutator {
    /// A mutator from a seed.
    pub fn new(seed: u64) -> Mutator {
        Mutator {
            rng: Rng::new(seed),
            extremes: extremes(),
        }
    }

    /// One mutated input from a seed payload: usually 1–3 JSON-aware mutations, serialized;
    /// sometimes byte-level mutations of the serialized text (which may no longer be JSON).
    pub fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let parsed: Option<Value> = serde_json::from_slice(seed).ok();
        self.mutate_parsed(seed, parsed.as_ref())
    }

    /// [`Mutator::mutate`] with the seed already parsed (`None` when it is not JSON), so a run
    /// parses each seed once.
    pub fn mutate_parsed(&mut self, seed: &[u8], parsed: Option<&Value>) -> Vec<u8> {
        match parsed.cloned() {
            Some(mut v) if self.rng.chance(80) => {
                let n = self.rng.range(1, 3);
                for _ in 0..n {
                    self.mutate_value(&mut v);
                }
                let out = serde_json::to_vec(&v).unwrap_or_default();
                if self.rng.chance(10) {
                    self.mutate_bytes(&out)
                } else {
                    out
                }
            }
            _ => self.mutate_bytes(seed),
        }
    }

    /// Applies one JSON-aware mutation somewhere in `v`.
    pub fn mutate_value(&mut self, v: &mut Value) {
        let paths = count_nodes(v);
        let target = self.rng.range(0, paths.saturating_sub(1) as u64) as usize;
        let mut index = 0;
        self.mutate_at(v, target, &mut index);
    }

    fn mutate_at(&mut self, v: &mut Value, target: usize, index: &mut usize) -> bool {
        if *index == target {
            self.mutate_node(v);
            return true;
        }
        *index += 1;
        match v {
            Value::Array(items) => {
                for item in items.iter_mut() {
                    if self.mutate_at(item, target, index) {
                        return true;
                    }
                }
                false
            }
            Value::Object(map) => {
                for (_, item) in map.iter_mut() {
                    if self.mutate_at(item, target, index) {
                        return true;
                    }
                }
                false
            }
            _ => false,
        }
    }

    fn mutate_node(&mut self, v: &mut Value) {
        match self.rng.range(0, 11) {
            // Swap for an extreme value of the same JSON type, so the input still deserializes
            // into the wire type and reaches the normalizer's own checks.
            0..=3 => {
                let same: Vec<&Value> = self
                    .extremes
                    .iter()
                    .filter(|x| std::mem::discriminant(*x) == std::mem::discriminant(v))
                    .collect();
                *v = if same.is_empty() {
                    self.rng.pick(&self.extremes).clone()
                } else {
                    (*self.rng.pick(&same)).clone()
                };
            }
            // Swap for any extreme value.
            4..=5 => *v = self.rng.pick(&self.extremes).clone(),
            // Type-aware nudges.
            6..=7 => *v = self.nudge(v),
            // Containers: delete / duplicate / empty / wrap.
            8 => match v {
                Value::Object(map) if !map.is_empty() => {
                    let keys: Vec<String> = map.keys().cloned().collect();
                    let k = self.rng.pick(&keys).clone();
                    map.remove(&k);
                }
                Value::Array(items) if !items.is_empty() => {
                    let i = self.rng.range(0, items.len() as u64 - 1) as usize;
                    let dup = items[i].clone();
                    let copies = self.rng.range(1, 40);
                    for _ in 0..copies {
                        items.push(dup.clone());
                    }
                }
                other => *other = json!([other.clone()]),
            },
            9 => match v {
                Value::Array(items) => items.clear(),
                Value::Object(map) => {
                    map.insert("__unexpected".into(), self.rng.pick(&self.extremes).clone());
                }
                other => *other = json!({"value": other.clone()}),
            },
            // Negate or stringify numbers, numberify strings.
            10 => {
                *v = match v.clone() {
                    Value::Number(n) => match n.as_i64() {
                        Some(i) => json!(i.wrapping_neg()),
                        None => json!(n.to_string()),
                    },
                    Value::String(s) => {
                        if let Some(rest) = s.strip_prefix('-') {
                            json!(rest)
                        } else {
                            json!(format!("-{s}"))
                        }
                    }
                    other => other,
                }
            }
            _ => *v = Value::Null,
        }
    }

    fn nudge(&mut self, v: &Value) -> Value {
        match v {
            Value::String(s) => {
                let mut s = s.clone();
                match self.rng.range(0, 5) {
                    0 => s.push_str(&"0".repeat(self.rng.range(1, 40) as usize)),
                    1 => s.insert(0, '-'),
                    2 => s = format!("{s}.0000000000000000000000000001"),
                    3 => s = format!("{s}{s}"),
                    4 => s = s.replace(|c: char| c.is_ascii_digit(), "9"),
                    _ => s.push('\u{0000}'),
                }
                Value::String(s)
            }
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => json!(i.saturating_mul(1_000_000_007)),
                (None, Some(u)) => json!(u.wrapping_add(1)),
                _ => json!(-1e30),
            },
            Value::Bool(b) => json!(!b),
            other => other.clone(),
        }
    }

    /// Byte-level mutations: flips, inserts (including control and non-UTF-8 bytes), deletes,
    /// truncation, a duplicated slice.
    pub fn mutate_bytes(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut out = seed.to_vec();
        let n = self.rng.range(1, 8);
        for _ in 0..n {
            let len = out.len() as u64;
            let at = self.rng.range(0, len.saturating_sub(1)) as usize;
            match self.rng.range(0, 5) {
                0 if !out.is_empty() => out[at] ^= 1 << self.rng.range(0, 7),
                1 => {
                    let b = *self.rng.pick(&[
                        0u8, b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'-', b'9', 0xff,
                        0xc3, 0x1b, b'\n',
                    ]);
                    out.insert(at.min(out.len()), b);
                }
                2 if !out.is_empty() => {
                    out.remove(at);
                }
                3 => out.truncate(at),
                4 if !out.is_empty() => {
                    let end = (at + self.rng.range(1, 64) as usize).min(out.len());
                    let slice = out[at..end].to_vec();
                    let pos = end.min(out.len());
                    out.splice(pos..pos, slice);
                }
                _ => out.push(b'0'),
            }
        }
        out
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// What a target made of one input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Normalized to a record that passes its `validate()`.
    Valid,
    /// Refused with an error; the string is its reason code (`malformed_payload`…), or
    /// `parse:<reason>` when the input did not even deserialize into the wire type.
    Rejected(String),
    /// Normalized to a record that fails its own `validate()`: always a bug.
    Invalid(String),
}

/// What a mutation run found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MutationReport {
    /// The target's name.
    pub target: String,
    /// Inputs run.
    pub inputs: u64,
    /// Inputs that panicked.
    pub panics: u64,
    /// Inputs that normalized to a valid record.
    pub valid: u64,
    /// Rejections by reason code.
    pub rejected: BTreeMap<String, u64>,
    /// Records that normalized but failed validation, by message (first few kept).
    pub invalid: BTreeMap<String, u64>,
    /// The first panicking inputs (lossy UTF-8, at most 3, each at most 2,000 bytes).
    pub panic_samples: Vec<String>,
}

impl MutationReport {
    /// Total rejections.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Total invalid records.
    pub fn invalid_total(&self) -> u64 {
        self.invalid.values().sum()
    }

    /// What every mutation test asserts (test harness: panics with the report, like `assert!`):
    /// no panic, nothing accepted that breaks the target's promises, some inputs accepted (else
    /// the seeds are broken) and some refused (else the mutations never reached a check). Prints
    /// the report first, so `--nocapture` shows the figures.
    #[allow(clippy::panic)]
    pub fn assert_sound(&self) {
        println!("{self}");
        if self.panics != 0 || self.invalid_total() != 0 {
            panic!("hostile input panicked or slipped through:\n{self}");
        }
        if self.valid == 0 {
            panic!("no input survived: the seeds are broken\n{self}");
        }
        if self.rejected_total() == 0 {
            panic!("no input was refused: the mutations never reached a check\n{self}");
        }
    }
}

impl fmt::Display for MutationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} inputs, {} panics, {} valid, {} invalid, {} rejected",
            self.target,
            self.inputs,
            self.panics,
            self.valid,
            self.invalid_total(),
            self.rejected_total()
        )?;
        if !self.rejected.is_empty() {
            let parts: Vec<String> = self
                .rejected
                .iter()
                .map(|(r, n)| format!("{r}={n}"))
                .collect();
            write!(f, " ({})", parts.join(", "))?;
        }
        for (m, n) in &self.invalid {
            write!(f, "\n  invalid ×{n}: {m}")?;
        }
        for s in &self.panic_samples {
            write!(f, "\n  panic on: {s}")?;
        }
        Ok(())
    }
}

/// Runs `inputs` mutated inputs (round-robin over `seeds`, mutator seeded with `seed`) through
/// `target` under `catch_unwind`, and the seeds themselves first (counted in `inputs`).
///
/// The panic hook is left alone: a panic prints its message, which is what one wants to see.
pub fn run<F>(
    name: &str,
    seeds: &[Vec<u8>],
    inputs: usize,
    seed: u64,
    mut target: F,
) -> MutationReport
where
    F: FnMut(&[u8]) -> Outcome,
{
    let mut report = MutationReport {
        target: name.to_owned(),
        ..MutationReport::default()
    };
    let mut m = Mutator::new(seed);
    let parsed: Vec<Option<Value>> = seeds
        .iter()
        .map(|s| serde_json::from_slice(s).ok())
        .collect();
    let mut i = 0usize;
    while i < inputs {
        let input = if i < seeds.len() || seeds.is_empty() {
            seeds.get(i).cloned().unwrap_or_default()
        } else {
            let k = i % seeds.len();
            m.mutate_parsed(&seeds[k], parsed[k].as_ref())
        };
        i += 1;
        report.inputs += 1;
        match catch_unwind(AssertUnwindSafe(|| target(&input))) {
            Ok(Outcome::Valid) => report.valid += 1,
            Ok(Outcome::Rejected(r)) => *report.rejected.entry(r).or_default() += 1,
            Ok(Outcome::Invalid(msg)) => {
                let len = report.invalid.len();
                if len < 20 || report.invalid.contains_key(&msg) {
                    *report.invalid.entry(msg).or_default() += 1;
                } else {
                    *report.invalid.entry("…".into()).or_default() += 1;
                }
            }
            Err(_) => {
                report.panics += 1;
                if report.panic_samples.len() < 3 {
                    let cut = &input[..input.len().min(2_000)];
                    report
                        .panic_samples
                        .push(String::from_utf8_lossy(cut).into_owned());
                }
            }
        }
    }
    report
}

/// Seed payloads, shaped like each platform's documented payloads, taken from the simulators'
/// seeded data sets (so they stay in step with what the simulators serve).
pub mod fixtures {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;
    use crate::sim;

    fn bytes(values: impl IntoIterator<Item = Value>) -> Vec<Vec<u8>> {
        values
            .into_iter()
            .map(|v| serde_json::to_vec(&v).unwrap_or_default())
            .collect()
    }

    fn tmall_data() -> sim::tmall::data::DataSet {
        let start = Utc
            .with_ymd_and_hms(2024, 3, 18, 0, 0, 0)
            .single()
            .unwrap_or_else(Utc::now);
        sim::tmall::data::generate(42, 40, start, Duration::hours(6), false)
    }

    /// TOP `Trade` objects (`taobao.trade.fullinfo.get`), every documented status.
    pub fn tmall_trades() -> Vec<Vec<u8>> {
        bytes(tmall_data().trades)
    }

    /// TOP `Refund` objects (`taobao.refunds.receive.get`).
    pub fn tmall_refunds() -> Vec<Vec<u8>> {
        bytes(tmall_data().refunds)
    }

    /// Arrays of TOP `Bill` objects (`taobao.bill.bills.get`), a few per array.
    pub fn tmall_bills() -> Vec<Vec<u8>> {
        let bills = tmall_data().bills;
        let mut out: Vec<Value> = bills.chunks(4).map(|c| Value::Array(c.to_vec())).collect();
        out.push(json!([]));
        bytes(out)
    }

    fn shopify_orders_json() -> Vec<Value> {
        let start = Utc
            .with_ymd_and_hms(2024, 3, 18, 0, 0, 0)
            .single()
            .unwrap_or_else(Utc::now);
        sim::shopify::data::seed_orders(start, 16)
            .into_iter()
            .map(|o| o.json)
            .collect()
    }

    /// Shopify Admin GraphQL `Order` objects (every financial status, presentment currencies,
    /// tax-inclusive and exclusive, fulfilments, refunds).
    pub fn shopify_orders() -> Vec<Vec<u8>> {
        bytes(shopify_orders_json())
    }

    /// Shopify `Order { id currencyCode taxesIncluded refunds }` objects with at least one refund.
    pub fn shopify_refunds() -> Vec<Vec<u8>> {
        bytes(shopify_orders_json().into_iter().filter_map(|o| {
            let refunds = o.get("refunds")?.as_array()?;
            if refunds.is_empty() {
                return None;
            }
            Some(json!({
                "id": o["id"],
                "currencyCode": o["currencyCode"],
                "taxesIncluded": o["taxesIncluded"],
                "refunds": refunds,
            }))
        }))
    }

    /// `{"payout": ShopifyPaymentsPayout, "transactions": [ShopifyPaymentsBalanceTransaction]}`.
    pub fn shopify_payouts() -> Vec<Vec<u8>> {
        let start = Utc
            .with_ymd_and_hms(2024, 3, 18, 0, 0, 0)
            .single()
            .unwrap_or_else(Utc::now);
        let orders = sim::shopify::data::seed_orders(start, 16);
        bytes(
            sim::shopify::data::seed_payouts(start, &orders)
                .into_iter()
                .map(|p| json!({"payout": p.json, "transactions": p.transactions})),
        )
    }

    /// NetSuite SuiteQL `items` arrays of transaction rows (`SELECT id, type, tranid,
    /// externalid FROM transaction …`).
    pub fn netsuite_transaction_rows() -> Vec<Vec<u8>> {
        bytes([
            json!([{"id": "1042", "type": "SalesOrd", "tranid": "SO1042", "externalid": "ms-abc"}]),
            json!([
                {"id": "77", "type": "Journal", "tranid": "JE77", "externalid": "ms-j"},
                {"id": 12, "type": "Journal", "tranid": "JE12", "externalid": "ms-j"}
            ]),
            json!([{"id": "9", "type": "CustCred", "links": [{"rel": "self", "href": "x"}]}]),
            json!([]),
        ])
    }

    /// NetSuite SuiteQL `items` arrays of item rows (`SELECT id, itemid FROM item …`).
    pub fn netsuite_item_rows() -> Vec<Vec<u8>> {
        bytes([
            json!([{"id": "501", "itemid": "SKU-A0"}, {"id": 502, "itemid": "SKU-A1"}]),
            json!([{"id": "503", "itemid": "SIM-1"}]),
        ])
    }

    /// NetSuite SuiteQL `items` arrays of `inventoryitemlocations` rows.
    pub fn netsuite_inventory_rows() -> Vec<Vec<u8>> {
        bytes([
            json!([
                {"itemid": "SKU-A0", "location": "1", "quantityonhand": "120", "quantitycommitted": "20", "quantityavailable": "100"},
                {"itemid": "SKU-A1", "location": 2, "quantityonhand": "5", "quantitycommitted": ""},
                {"itemid": "SKU-B", "location": "1"}
            ]),
            json!([{"itemid": "SKU-A2", "location": "3", "quantityonhand": 7.0, "quantityavailable": null}]),
        ])
    }

    /// Every seed set by target name, for fuzz targets that want them all.
    pub fn all() -> BTreeMap<&'static str, Vec<Vec<u8>>> {
        BTreeMap::from([
            ("tmall_trades", tmall_trades()),
            ("tmall_refunds", tmall_refunds()),
            ("tmall_bills", tmall_bills()),
            ("shopify_orders", shopify_orders()),
            ("shopify_refunds", shopify_refunds()),
            ("shopify_payouts", shopify_payouts()),
            ("netsuite_transaction_rows", netsuite_transaction_rows()),
            ("netsuite_item_rows", netsuite_item_rows()),
            ("netsuite_inventory_rows", netsuite_inventory_rows()),
        ])
    }
}

/// Helper for targets: the rows of a SuiteQL-like JSON array (objects only), or `None`.
pub fn json_rows(bytes: &[u8]) -> Option<Vec<Map<String, Value>>> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    v.as_array()?
        .iter()
        .map(|r| r.as_object().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_deterministic_and_change_the_input() {
        let seeds = fixtures::tmall_trades();
        assert!(seeds.len() >= 10);
        let mut a = Mutator::new(9);
        let mut b = Mutator::new(9);
        let mut changed = 0;
        for s in seeds.iter().cycle().take(100) {
            let x = a.mutate(s);
            assert_eq!(x, b.mutate(s));
            if &x != s {
                changed += 1;
            }
        }
        assert!(changed >= 90, "only {changed} of 100 inputs changed");
    }

    #[test]
    fn every_fixture_set_is_json() {
        for (name, seeds) in fixtures::all() {
            assert!(!seeds.is_empty(), "{name}");
            for s in seeds {
                assert!(serde_json::from_slice::<Value>(&s).is_ok(), "{name}");
            }
        }
        assert!(!fixtures::shopify_refunds().is_empty());
        assert!(!fixtures::tmall_refunds().is_empty());
        assert!(!fixtures::tmall_bills().is_empty());
    }

    #[test]
    fn run_counts_panics_and_outcomes() {
        let seeds = vec![b"{\"a\":1}".to_vec()];
        let mut n = 0;
        let report = run("count", &seeds, 30, 3, |bytes| {
            n += 1;
            if n == 5 {
                panic!("deliberate");
            }
            match n % 3 {
                0 => Outcome::Valid,
                1 => Outcome::Rejected(format!("r{}", bytes.len() % 2)),
                _ => Outcome::Invalid("bad".into()),
            }
        });
        assert_eq!(report.inputs, 30);
        assert_eq!(report.panics, 1);
        assert_eq!(
            report.valid + report.rejected_total() + report.invalid_total() + report.panics,
            30
        );
        assert_eq!(report.panic_samples.len(), 1);
    }

    #[test]
    fn env_overrides_the_input_count() {
        // Not set in the normal test run (the long run sets it for every target alike).
        if std::env::var(INPUTS_ENV).is_err() {
            assert_eq!(inputs_per_target(123), 123);
        }
    }
}
