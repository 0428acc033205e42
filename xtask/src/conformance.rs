//! `cargo xtask conformance`: placeholder, filled in below.
use clap::Args;

/// Arguments of `cargo xtask conformance`.
#[derive(Args)]
pub struct ConformanceArgs {}

/// Runs the conformance suite against LocalStack.
pub async fn run(_args: ConformanceArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
