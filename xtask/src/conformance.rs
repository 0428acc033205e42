//! `cargo xtask conformance`: the end-to-end scenarios against LocalStack.
//!
//! Builds the scenario test first (`cargo test --workspace --test localstack --no-run`: the
//! workspace's feature set, so after `cargo test --workspace` nothing is rebuilt), then starts
//! `../shared/localstack/start.sh PORT DIR` in its own process group (DIR holds the venv, outside
//! the clone), waits for `/_localstack/health` to show Step Functions running, runs the scenarios
//! (concurrently, see `conformance/tests/localstack.rs`) with `STEFUNA_CONFORMANCE_ENDPOINT` set,
//! and always stops LocalStack, also on Ctrl-C or SIGTERM: SIGTERM to the group, SIGKILL after a
//! grace period.
//!
//! `STEFUNA_CACHE_DIR` is read here only and removed from the environment of every child, so
//! workers never see a `STEFUNA_*` key they do not know.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use clap::Args;

use crate::workspace_root;

/// Arguments of `cargo xtask conformance`.
#[derive(Args)]
pub struct ConformanceArgs {
    /// LocalStack port on 127.0.0.1 (default: a free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Where LocalStack is installed and keeps its state (default:
    /// `$STEFUNA_CACHE_DIR/localstack`, else `$HOME/.cache/stefuna/localstack`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Run only this scenario.
    #[arg(long)]
    pub only: Option<String>,
    /// Seconds to wait for LocalStack to be healthy (the first run installs it, ~70 s).
    #[arg(long, default_value_t = 600)]
    pub start_timeout: u64,
    /// Build the scenario test with `cargo test --locked` (CI: exactly what Cargo.lock says).
    #[arg(long)]
    pub locked: bool,
}

/// LocalStack's directory: the flag, `$STEFUNA_CACHE_DIR/localstack`, or
/// `$HOME/.cache/stefuna/localstack`.
fn cache_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(d) = flag {
        return Ok(d);
    }
    if let Some(d) = std::env::var_os(CACHE_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("localstack"));
    }
    let home = std::env::var_os("HOME")
        .ok_or_else(|| anyhow!("neither STEFUNA_CACHE_DIR nor HOME is set; pass --dir"))?;
    Ok(PathBuf::from(home).join(".cache/stefuna/localstack"))
}

/// How long LocalStack gets to exit after SIGTERM before SIGKILL (it sometimes hangs on SIGTERM).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The environment variable naming the cache folder (read by the xtask only).
const CACHE_ENV: &str = "STEFUNA_CACHE_DIR";

/// LocalStack running in its own process group; stopped on drop, whatever happened.
struct LocalStack {
    child: Child,
}

impl LocalStack {
    fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let group = format!("-{}", self.child.id());
        println!(
            "stopping LocalStack (SIGTERM to process group {})",
            self.child.id()
        );
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // LocalStack sometimes hangs on SIGTERM (shared/localstack/README.md).
        println!(
            "LocalStack still running {} s after SIGTERM; SIGKILL",
            STOP_GRACE.as_secs()
        );
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(l.local_addr()?.port())
}

/// The last `n` lines of LocalStack's log, indented, for an error message.
fn log_tail(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(n)..].join("\n    ");
    if tail.is_empty() {
        "    (the log is empty)".to_owned()
    } else {
        format!("    {tail}")
    }
}

async fn wait_healthy(
    ls: &mut LocalStack,
    url: &str,
    limit: Duration,
    log: &Path,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()?;
    let deadline = Instant::now() + limit;
    let health = format!("{url}/_localstack/health");
    loop {
        if let Some(status) = ls.child.try_wait()? {
            bail!(
                "LocalStack exited ({status}) before it was healthy; last lines of {}:\n{}",
                log.display(),
                log_tail(log, 20)
            );
        }
        if let Ok(r) = http.get(&health).send().await
            && let Ok(body) = r.json::<serde_json::Value>().await
            && matches!(
                body["services"]["stepfunctions"].as_str(),
                Some("running" | "available")
            )
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "LocalStack was not healthy at {health} within {} s (--start-timeout); last \
                 lines of {}:\n{}",
                limit.as_secs(),
                log.display(),
                log_tail(log, 20)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `cargo test --workspace --test localstack` with `extra` arguments, the test endpoint's
/// environment, and no `STEFUNA_CACHE_DIR`.
fn scenario_test(locked: bool, extra: &[&str]) -> tokio::process::Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = tokio::process::Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["test", "--workspace", "--test", "localstack"])
        .args(locked.then_some("--locked"))
        .args(extra)
        .env_remove(CACHE_ENV)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .kill_on_drop(true);
    cmd
}

/// Completes on Ctrl-C or SIGTERM, naming the signal.
async fn interrupted() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

/// Runs the conformance suite against LocalStack.
pub async fn run(args: ConformanceArgs) -> anyhow::Result<()> {
    let total = Instant::now();
    let root = workspace_root();
    let script = root.join("../shared/localstack/start.sh");
    if !script.exists() {
        bail!(
            "{} not found; the conformance run needs ../shared/localstack beside the clone",
            script.display()
        );
    }
    let script = script.canonicalize().unwrap_or(script);
    let dir = cache_dir(args.dir)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;

    // Compile first, so LocalStack is not left idle (or blamed) while the test builds.
    let building = Instant::now();
    println!("building the scenario test (cargo test --workspace --test localstack --no-run)");
    let built = tokio::select! {
        s = scenario_test(args.locked, &["--no-run"]).status() => s.context("cannot run cargo test")?,
        sig = interrupted() => bail!("interrupted by {sig} while building"),
    };
    if !built.success() {
        bail!("the conformance scenarios do not compile ({built})");
    }
    println!("built in {:.0} s", building.elapsed().as_secs_f64());

    let port = match args.port {
        Some(p) => p,
        None => free_port()?,
    };
    let url = format!("http://127.0.0.1:{port}");
    let log_path = dir.join("localstack.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot write {}", log_path.display()))?;
    println!(
        "starting LocalStack: {} {port} {} (log: {})",
        script.display(),
        dir.display(),
        log_path.display()
    );
    let child = {
        use std::os::unix::process::CommandExt as _;
        Command::new("bash")
            .arg(&script)
            .arg(port.to_string())
            .arg(&dir)
            .env_remove(CACHE_ENV)
            // The mock scenarios' MockConfigFile (LocalStack reads SFN_MOCK_CONFIG, as AWS's
            // Step Functions Local does).
            .env(
                "SFN_MOCK_CONFIG",
                root.join("conformance/mocks/MockConfigFile.json"),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own group, so the stop reaches the python child too and Ctrl-C does not.
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start LocalStack with bash {}", script.display()))?
    };
    let mut ls = LocalStack { child };

    let outcome = tokio::select! {
        r = suite(&mut ls, &url, &log_path, args.only, args.locked, Duration::from_secs(args.start_timeout)) => r,
        sig = interrupted() => Err(anyhow!("interrupted by {sig}")),
    };
    ls.stop();
    println!(
        "conformance: {} in {:.0} s",
        if outcome.is_ok() { "passed" } else { "failed" },
        total.elapsed().as_secs_f64()
    );
    outcome
}

async fn suite(
    ls: &mut LocalStack,
    url: &str,
    log: &Path,
    only: Option<String>,
    locked: bool,
    limit: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    wait_healthy(ls, url, limit, log).await?;
    println!(
        "LocalStack healthy at {url} after {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let report = log.with_file_name("scenarios-ran.txt");
    let _ = std::fs::remove_file(&report);
    let mut cmd = scenario_test(
        locked,
        &[
            "--",
            "--ignored",
            "--exact",
            "all_scenarios_against_localstack",
            "--nocapture",
        ],
    );
    cmd.env("STEFUNA_CONFORMANCE_ENDPOINT", url)
        .env("STEFUNA_CONFORMANCE_REPORT", &report);
    let whole = only.is_none();
    if let Some(o) = only {
        cmd.env("STEFUNA_CONFORMANCE_ONLY", o);
    }
    println!("running the conformance scenarios against {url}");
    let running = Instant::now();
    let status = cmd.status().await.context("cannot run cargo test")?;
    if !status.success() {
        bail!(
            "conformance scenarios failed against LocalStack ({status}); its log: {}",
            log.display()
        );
    }
    let ran = std::fs::read_to_string(&report).with_context(|| {
        format!(
            "the scenario test passed but never ran (no {}): was it filtered out?",
            report.display()
        )
    })?;
    let (ran, selected, total) = scenarios_ran(&ran)?;
    if ran != selected || (whole && selected != total) {
        bail!("only {ran} of {total} conformance scenarios ran ({selected} selected)");
    }
    println!(
        "conformance: {ran} of {total} scenarios passed against LocalStack in {:.0} s",
        running.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `RAN SELECTED TOTAL` from the scenario test's report.
fn scenarios_ran(text: &str) -> anyhow::Result<(usize, usize, usize)> {
    let n: Vec<usize> = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("malformed scenario report {text:?}"))?;
    match n[..] {
        [ran, selected, total] => Ok((ran, selected, total)),
        _ => bail!("malformed scenario report {text:?}: expected RAN SELECTED TOTAL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = std::env::temp_dir().join(format!("xtask-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("localstack.log");
        std::fs::write(&log, "one\ntwo\nthree\n").unwrap();
        assert_eq!(log_tail(&log, 2), "    two\n    three");
        std::fs::write(&log, "").unwrap();
        assert_eq!(log_tail(&log, 2), "    (the log is empty)");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_scenario_report_is_read_strictly() {
        assert_eq!(scenarios_ran("12 12 12\n").unwrap(), (12, 12, 12));
        assert!(scenarios_ran("12 12").is_err());
        assert!(scenarios_ran("twelve").is_err());
    }

    #[test]
    fn cache_dir_prefers_the_flag() {
        assert_eq!(
            cache_dir(Some("/x/y".into())).unwrap(),
            PathBuf::from("/x/y")
        );
    }
}
