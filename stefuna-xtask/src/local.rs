//! `cargo xtask local`: stefuna-local on 127.0.0.1 until Ctrl-C or SIGTERM.

use clap::Args;

/// Arguments of `cargo xtask local`.
#[derive(Args, Clone, Debug)]
#[non_exhaustive]
pub struct LocalArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8083)]
    pub port: u16,
}

/// Runs the emulator on 127.0.0.1, prints its endpoint and how to use it, and stops on Ctrl-C
/// or SIGTERM.
///
/// # Errors
/// The port cannot be bound, or the signal handlers cannot be installed.
pub async fn run(args: LocalArgs) -> anyhow::Result<()> {
    let emulator = stefuna_local::Emulator::builder()
        .port(args.port)
        .start()
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let url = emulator.endpoint().to_owned();
    println!(
        "stefuna-local listening on {url} (account {})",
        stefuna_local::ACCOUNT_ID
    );
    println!(
        "  aws CLI:  aws stepfunctions --endpoint-url {url} --region us-east-1 list-activities"
    );
    println!(
        "  boto3:    boto3.client(\"stepfunctions\", endpoint_url=\"{url}\", region_name=\"us-east-1\")"
    );
    println!("  worker:   cargo run --bin NAME -- --endpoint-url {url}");
    println!("  deploy:   cargo xtask deploy --bin NAME --endpoint-url {url}");
    println!("any credentials work; Ctrl-C stops it");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    emulator.shutdown().await;
    Ok(())
}
