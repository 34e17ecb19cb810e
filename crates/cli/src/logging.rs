//! `--log-format json|pretty` and `RUST_LOG`: the tracing subscriber the binary installs.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written (to stderr).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Installs the subscriber: the filter from `RUST_LOG` (default `warn`, so progress output is
/// not drowned), lines to stderr in `format`. A malformed `RUST_LOG` is an error. Installing
/// twice is harmless (the first one stays).
pub fn init(format: LogFormat) -> Result<(), Box<dyn std::error::Error>> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => {
            EnvFilter::try_new(spec.trim()).map_err(|e| format!("RUST_LOG {spec:?}: {e}"))?
        }
        _ => EnvFilter::new("warn"),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}
