//! `marketsync simulate --out DIR`: the TOP, Shopify and NetSuite simulators on loopback, and a
//! copy of `examples/marketsync.toml` (with its rulebook and SKU map) pointing at them, so
//! `marketsync run --config DIR/marketsync.toml` can be tried without any account.

use std::path::{Path, PathBuf};

use marketsync_testkit::sim::{netsuite as ns_sim, shopify as shopify_sim, tmall as tmall_sim};

use crate::demo::{Platforms, start_platforms};
use crate::ops::BoxError;

/// The example configuration (`examples/marketsync.toml`).
pub const EXAMPLE_CONFIG: &str = include_str!("../../../examples/marketsync.toml");
/// The example rulebook (`examples/rulebook.toml`).
pub const EXAMPLE_RULEBOOK: &str = include_str!("../../../examples/rulebook.toml");
/// The example SKU map (`examples/skus.toml`).
pub const EXAMPLE_SKUS: &str = include_str!("../../../examples/skus.toml");

/// How much data the simulators hold.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Where the configuration, rulebook and SKU map are written.
    pub out: PathBuf,
    /// Tmall trades (over the 36 hours before the last full hour, a day ago).
    pub tmall_orders: usize,
    /// Shopify orders (one every 55 minutes, ending in the past).
    pub shopify_orders: usize,
    /// Seed of the generated data.
    pub seed: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            out: PathBuf::from("marketsync-sim"),
            tmall_orders: 200,
            shopify_orders: 40,
            seed: 2026,
        }
    }
}

/// The running simulators (stopped when dropped) and what `run` needs to reach them.
pub struct Simulators {
    /// The TOP simulator.
    pub tmall: tmall_sim::TmallSim,
    /// The Shopify simulator.
    pub shopify: shopify_sim::ShopifySim,
    /// The NetSuite simulator.
    pub netsuite: ns_sim::NetSuiteSim,
    /// The configuration written.
    pub config: PathBuf,
    /// The secrets the configuration names: (environment variable, value). Simulator
    /// credentials, printed so they can be exported; real ones never are.
    pub env: Vec<(&'static str, String)>,
}

impl std::fmt::Debug for Simulators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulators")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Starts the simulators and writes `marketsync.toml`, `rulebook.toml` and `skus.toml` to
/// `opts.out` (the configuration's addresses and start replaced by the simulators').
pub async fn start(opts: &SimOptions) -> Result<Simulators, BoxError> {
    let Platforms {
        tmall,
        shopify,
        netsuite,
        start,
        shopify_start,
    } = start_platforms(opts.seed, opts.tmall_orders, opts.shopify_orders, false).await?;

    let engine_start = start.min(shopify_start);
    let text = EXAMPLE_CONFIG
        .replace("http://127.0.0.1:18001/router/rest", tmall.gateway())
        .replace(
            "http://127.0.0.1:18002/",
            &format!("{}/", shopify.base_url.trim_end_matches('/')),
        )
        .replace(
            "http://127.0.0.1:18003/",
            &format!("{}/", netsuite.base_url().trim_end_matches('/')),
        )
        .replace(
            "start = \"2026-01-01T00:00:00Z\"",
            &format!(
                "start = \"{}\"",
                engine_start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        );
    std::fs::create_dir_all(&opts.out)?;
    let config = opts.out.join("marketsync.toml");
    write(&config, &text)?;
    write(&opts.out.join("rulebook.toml"), EXAMPLE_RULEBOOK)?;
    write(&opts.out.join("skus.toml"), EXAMPLE_SKUS)?;
    let ns = netsuite.config();
    let tc = tmall.config();
    let env = vec![
        ("TMALL_APP_SECRET", tc.app_secret.clone()),
        ("TMALL_SESSION", tc.session.clone()),
        (
            "SHOPIFY_ACCESS_TOKEN",
            shopify_sim::ShopifySimConfig::default().access_token,
        ),
        ("NETSUITE_CONSUMER_SECRET", ns.consumer_secret.clone()),
        ("NETSUITE_TOKEN_SECRET", ns.token_secret.clone()),
    ];
    Ok(Simulators {
        tmall,
        shopify,
        netsuite,
        config,
        env,
    })
}

fn write(path: &Path, text: &str) -> Result<(), BoxError> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}
