//! Helpers of the process-isolation tests (`tests/isolation.rs`, `tests/isolation_limits.rs`):
//! the `isolated` example started against stefuna-local, and the /proc facts they check.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use stefuna_local::Emulator;
use tokio::process::Child;

/// The emulator's clock speed-up: emulated Retry intervals and timeouts pass 10× faster.
pub(crate) const TIME_SCALE: f64 = 10.0;

pub(crate) struct Worker {
    pub(crate) child: Child,
    pub(crate) pid: u32,
    pub(crate) health: String,
    pub(crate) stderr: PathBuf,
}

impl Worker {
    /// Starts the `isolated` example in process mode against `endpoint`, and waits until it
    /// polls.
    pub(crate) async fn start(
        name: &str,
        endpoint: &str,
        arn: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Worker {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let stderr = std::env::temp_dir().join(format!(
            "stefuna-isolation-{name}-{}.stderr",
            std::process::id()
        ));
        let mut cmd = crate::support::example_command("isolated");
        cmd.args([
            "--activity-arn",
            arn,
            "--endpoint-url",
            endpoint,
            "--region",
            "us-east-1",
        ])
        .args([
            "--healthcheck-host",
            "127.0.0.1",
            "--healthcheck",
            &port.to_string(),
        ])
        .args(["--isolation", "process"])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn the isolated example");
        let pid = child.id().unwrap();
        let health = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = get(&format!("{health}/readyz")).await {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the worker exited before polling: {status}\n{}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the worker did not get ready within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Worker {
            child,
            pid,
            health,
            stderr,
        }
    }

    /// A counter from `/metrics` (0 when the series is absent).
    pub(crate) async fn metric(&self, name: &str) -> f64 {
        // A busy machine can make one scrape slow: try a few times.
        let url = format!("{}/metrics", self.health);
        let mut text = String::new();
        for attempt in 0..5 {
            match get(&url).await {
                Ok((_, t)) => {
                    text = t;
                    break;
                }
                Err(e) if attempt == 4 => panic!("{url}: {e}"),
                Err(_) => {}
            }
        }
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.stderr);
    }
}

pub(crate) async fn get(url: &str) -> Result<(u16, String), reqwest::Error> {
    let c = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()?;
    let r = c.get(url).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

/// The processes whose parent is `pid` (from /proc).
pub(crate) fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // Fields after the `(comm)`: state, ppid, ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let (state, ppid) = (f.next(), f.next().and_then(|x| x.parse::<u32>().ok()));
        if ppid == Some(pid) && state != Some("Z") {
            out.push(p);
        }
    }
    out
}

pub(crate) fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
    })
}

/// Waits (at most 60 s) until `cond` holds, checking every 20 ms: for facts only /proc shows.
pub(crate) async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An activity and a state machine with `task` as its one Task state's extra fields.
pub(crate) use crate::support::machine_with as machine;

pub(crate) async fn start(sfn: &aws_sdk_sfn::Client, sm: &str, input: serde_json::Value) -> String {
    sfn.start_execution()
        .state_machine_arn(sm)
        .input(input.to_string())
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned()
}

/// Waits (at most 120 s) for an execution to end.
pub(crate) async fn ended(
    sfn: &aws_sdk_sfn::Client,
    exec: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    crate::support::ended(sfn, exec, Duration::from_secs(120)).await
}

pub(crate) async fn emulator() -> (Emulator, aws_sdk_sfn::Client) {
    let emu = Emulator::builder()
        .time_scale(TIME_SCALE)
        // Short long polls, so a draining worker's open polls end soon.
        .long_poll(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let sfn = crate::support::sfn(emu.endpoint());
    (emu, sfn)
}

pub(crate) fn output(
    d: &aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
) -> serde_json::Value {
    assert_eq!(*d.status(), ExecutionStatus::Succeeded, "{d:?}");
    serde_json::from_str(d.output().unwrap()).unwrap()
}
