//! `cargo xtask chaos`: the chaos suite at full size.

use clap::Args;

/// Arguments of `cargo xtask chaos`.
#[derive(Args)]
pub struct ChaosArgs {}

/// Runs the command.
pub async fn run(_args: ChaosArgs) -> anyhow::Result<()> {
    anyhow::bail!("`cargo xtask chaos` is not built yet")
}
