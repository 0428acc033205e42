//! The stefuna-local binary: an in-memory AWS Step Functions endpoint on loopback.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use stefuna_local::{Emulator, Faults, MockConfig};

/// An in-memory AWS Step Functions endpoint (awsJson1_0) for tests and local runs.
#[derive(Debug, Parser)]
#[command(name = "stefuna-local", version, about)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "STEFUNA_LOCAL_PORT", default_value_t = 8083)]
    port: u16,
    /// Address to bind.
    #[arg(long, env = "STEFUNA_LOCAL_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Seconds GetActivityTask waits for a task before answering with no task.
    #[arg(long, env = "STEFUNA_LOCAL_LONG_POLL_SECONDS", default_value_t = 60.0, value_parser = non_negative)]
    long_poll_seconds: f64,
    /// Clock speed-up for Wait states, timeouts and retry back-off (e.g. 100).
    #[arg(long, env = "STEFUNA_LOCAL_TIME_SCALE", default_value_t = 1.0, value_parser = positive)]
    time_scale: f64,
    /// Probability (0..=1) of answering ThrottlingException.
    #[arg(long, env = "STEFUNA_LOCAL_THROTTLE", default_value_t = 0.0, value_parser = probability)]
    throttle: f64,
    /// Probability (0..=1) of answering 503 ServiceUnavailable.
    #[arg(long, env = "STEFUNA_LOCAL_UNAVAILABLE", default_value_t = 0.0, value_parser = probability)]
    unavailable: f64,
    /// Probability (0..=1) of dropping the connection without an answer.
    #[arg(long = "drop", env = "STEFUNA_LOCAL_DROP", default_value_t = 0.0, value_parser = probability)]
    drop_connection: f64,
    /// Extra latency per request, uniform in MIN-MAX milliseconds (e.g. 5-50).
    #[arg(long, env = "STEFUNA_LOCAL_LATENCY_MS", value_parser = latency)]
    latency_ms: Option<(Duration, Duration)>,
    /// Operations the faults above apply to, comma separated (default: all).
    #[arg(long, env = "STEFUNA_LOCAL_FAULT_OPERATIONS", value_delimiter = ',')]
    fault_operations: Option<Vec<String>>,
    /// Handle a request, then drop its answer: OPERATION=PROBABILITY, comma separated
    /// (e.g. SendTaskSuccess=0.05,GetActivityTask=0.01).
    #[arg(long, env = "STEFUNA_LOCAL_LOSE_ANSWER", value_delimiter = ',', value_parser = lose_answer)]
    lose_answer: Vec<(String, f64)>,
    /// Enforce AWS's API quotas: a token bucket per API with AWS's numbers for the Region
    /// (refills sped up by --time-scale), ThrottlingException when one is empty, and
    /// ActivityWorkerLimitExceeded beyond 1,000 open polls per activity; counts at
    /// GET /_stefuna/quotas.
    #[arg(long, env = "STEFUNA_LOCAL_AWS_QUOTAS")]
    aws_quotas: bool,
    /// Multiply every quota's bucket size and refill rate (e.g. 0.1 for a tenth of AWS's).
    #[arg(long, env = "STEFUNA_LOCAL_QUOTA_SCALE", default_value_t = 1.0, value_parser = positive)]
    quota_scale: f64,
    /// Mocked service integrations: a mock configuration file in AWS's MockConfigFile format
    /// (start executions with stateMachineArn ARN#TESTCASE to use a test case).
    #[arg(long, env = "SFN_MOCK_CONFIG", value_name = "FILE")]
    mock_config: Option<std::path::PathBuf>,
}

fn lose_answer(s: &str) -> Result<(String, f64), String> {
    let (op, p) = s.split_once('=').ok_or_else(|| {
        format!("'{s}' is not accepted; expected OPERATION=PROBABILITY, e.g. SendTaskSuccess=0.05")
    })?;
    Ok((op.trim().to_owned(), probability(p.trim())?))
}

fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number; expected a probability from 0 to 1"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!(
            "{p} is out of range; expected a probability from 0 to 1"
        ))
    }
}

fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not accepted; expected a number above 0")),
    }
}

fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not accepted; expected a number of seconds, 0 or more"
        )),
    }
}

fn latency(s: &str) -> Result<(Duration, Duration), String> {
    let bad = || format!("'{s}' is not accepted; expected MIN-MAX in milliseconds, e.g. 5-50");
    let (min, max) = s.split_once('-').unwrap_or((s, s));
    let min: u64 = min.trim().parse().map_err(|_| bad())?;
    let max: u64 = max.trim().parse().map_err(|_| bad())?;
    if min > max {
        return Err(bad());
    }
    Ok((Duration::from_millis(min), Duration::from_millis(max)))
}

#[tokio::main]
async fn main() -> ExitCode {
    // warp::server logs every injected dropped connection as an error: off by default.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STEFUNA_LOCAL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,warp::server=off")),
        )
        .init();
    let args = Args::parse();
    let faults = Faults {
        throttle: args.throttle,
        unavailable: args.unavailable,
        drop_connection: args.drop_connection,
        latency: args.latency_ms,
        operations: args.fault_operations,
        lose_answer: args.lose_answer,
    };
    let mut builder = Emulator::builder();
    if let Some(path) = &args.mock_config {
        match MockConfig::from_file(path) {
            Ok(config) => builder = builder.mock_config(config),
            Err(e) => {
                eprintln!("stefuna-local: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let emulator = match builder
        .host(args.host)
        .port(args.port)
        .long_poll(Duration::from_secs_f64(args.long_poll_seconds))
        .time_scale(args.time_scale)
        .faults(faults)
        .aws_quotas(args.aws_quotas)
        .quota_scale(args.quota_scale)
        .start()
        .await
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!(
                "stefuna-local: could not listen on {}:{}: {e}",
                args.host, args.port
            );
            return ExitCode::FAILURE;
        }
    };
    println!(
        "stefuna-local: Step Functions endpoint at {}",
        emulator.endpoint()
    );
    wait_for_signal().await;
    println!("stefuna-local: stopping");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

/// Waits for SIGINT or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
