//! `cargo xtask bench`: stefuna against the raw SDK and stefuna 1.0.1.

use clap::Args;

/// Arguments of `cargo xtask bench`.
#[derive(Args)]
pub struct BenchArgs {}

/// Runs the command.
pub async fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("`cargo xtask bench` is not built yet")
}
