//! Activity round trips per second: StartExecution → GetActivityTask → SendTaskSuccess →
//! SUCCEEDED, with many concurrent clients against one emulator.
//!
//! ```text
//! cargo bench -p stefuna-local --bench roundtrip
//! ```
//!
//! Modes (`STEFUNA_BENCH_MODES`, comma separated; default `light-process,light,sdk`):
//!
//! - `sdk`: real aws-sdk-sfn clients and the emulator in this process (what a worker test sees);
//! - `light`: a light awsJson1_0 client (fixed headers, no signing) and the emulator in this
//!   process;
//! - `light-process` / `sdk-process`: the same clients against the `stefuna-local` binary run as
//!   a child process, so client and server CPU are separate (and the server's can be measured
//!   on its own).
//!
//! `STEFUNA_BENCH_ENDPOINT=http://127.0.0.1:PORT` makes the `-process` modes use an emulator
//! already running (e.g. under `valgrind --tool=callgrind`) instead of starting one;
//! `STEFUNA_BENCH_SERVER=PATH` makes them start another `stefuna-local` binary (e.g. an older
//! build, to compare). With a child process the bench also prints the CPU time (user +
//! system) each process spent per round trip, a figure that a busy machine disturbs far less
//! than round trips per second.
//! `STEFUNA_BENCH_N` round trips per run (default 20000), `STEFUNA_BENCH_CLIENTS` concurrent
//! starters and as many pollers (default 32), `STEFUNA_BENCH_RUNS` runs per mode (default 3).
//! A run ends when all N executions are SUCCEEDED; it then checks every one of them is.

mod light;
mod sdk;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use stefuna_local::Emulator;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Notify;

use crate::light::Light;

/// How long an idle poll waits; short so pollers notice the end quickly.
const LONG_POLL: Duration = Duration::from_millis(500);

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters by name, as libtest would.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"roundtrip".contains(a.as_str()))
    {
        return;
    }
    let n = env("STEFUNA_BENCH_N", 20_000).max(1);
    let clients = env("STEFUNA_BENCH_CLIENTS", 32).max(1);
    let runs = env("STEFUNA_BENCH_RUNS", 3).max(1);
    let modes = std::env::var("STEFUNA_BENCH_MODES")
        .unwrap_or_else(|_| "light-process,light,sdk".to_owned());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for mode in modes.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let Some(kind) = Mode::parse(mode) else {
            eprintln!(
                "roundtrip: unknown mode '{mode}'; expected sdk, light, sdk-process or light-process"
            );
            std::process::exit(2);
        };
        let mut rates = Vec::new();
        let mut server_cpus = Vec::new();
        for run in 1..=runs {
            let r = rt.block_on(one_run(kind, n, clients, run));
            let per_rt = |cpu: Option<Duration>| {
                cpu.map(|c| format!("{:.0} µs", c.as_secs_f64() * 1e6 / n as f64))
                    .unwrap_or_else(|| "-".to_owned())
            };
            println!(
                "roundtrip {mode} run {run}: {n} round trips, {clients} starters + {clients} pollers: \
                 {:.0} round trips/s (all started in {:.2?}, all SUCCEEDED in {:.2?}); \
                 CPU per round trip: emulator process {}, bench process {}{}",
                n as f64 / r.done.as_secs_f64(),
                r.started,
                r.done,
                per_rt(r.server_cpu),
                per_rt(r.client_cpu),
                r.server_rss
                    .map(|b| format!(
                        "; emulator memory {:.0} MiB resident, all {n} executions and their histories kept",
                        b as f64 / (1024.0 * 1024.0)
                    ))
                    .unwrap_or_default(),
            );
            rates.push(n as f64 / r.done.as_secs_f64());
            if let Some(c) = r.server_cpu {
                server_cpus.push(c.as_secs_f64() * 1e6 / n as f64);
            }
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "roundtrip {mode}: median {:.0} round trips/s (min {:.0}, max {:.0}; {runs} runs of {n}, concurrency {clients})",
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1],
        );
        if !server_cpus.is_empty() {
            server_cpus.sort_by(f64::total_cmp);
            let median = server_cpus[server_cpus.len() / 2];
            println!(
                "roundtrip {mode}: emulator CPU median {median:.0} µs per round trip \
                 (min {:.0}, max {:.0}): one core's worth serves about {:.0} round trips/s",
                server_cpus[0],
                server_cpus[server_cpus.len() - 1],
                1e6 / median,
            );
        }
    }
}

/// Which client against which server.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Sdk { process: bool },
    Light { process: bool },
}

impl Mode {
    fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "sdk" => Mode::Sdk { process: false },
            "light" => Mode::Light { process: false },
            "sdk-process" => Mode::Sdk { process: true },
            "light-process" => Mode::Light { process: true },
            _ => return None,
        })
    }

    fn process(self) -> bool {
        matches!(
            self,
            Mode::Sdk { process: true } | Mode::Light { process: true }
        )
    }
}

/// Times of one run, from the first StartExecution.
struct RunTimes {
    started: Duration,
    done: Duration,
    /// CPU the emulator process used during the run (`-process` modes with a child).
    server_cpu: Option<Duration>,
    /// CPU this process used during the run (clients, and the emulator in in-process modes).
    client_cpu: Option<Duration>,
    /// The emulator process's resident memory at the end of the run.
    server_rss: Option<u64>,
}

impl RunTimes {
    fn new(started: Duration, done: Duration) -> RunTimes {
        RunTimes {
            started,
            done,
            server_cpu: None,
            client_cpu: None,
            server_rss: None,
        }
    }
}

/// The emulator a run talks to.
enum Server {
    InProcess(Emulator),
    Child(tokio::process::Child, String),
    External(String),
}

impl Server {
    async fn start(process: bool) -> Server {
        if !process {
            return Server::InProcess(
                Emulator::builder()
                    .long_poll(LONG_POLL)
                    .start()
                    .await
                    .expect("emulator starts"),
            );
        }
        if let Ok(endpoint) = std::env::var("STEFUNA_BENCH_ENDPOINT") {
            return Server::External(endpoint);
        }
        // STEFUNA_BENCH_SERVER: another stefuna-local binary (e.g. an older build) to compare.
        let binary = std::env::var("STEFUNA_BENCH_SERVER")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_stefuna-local").to_owned());
        let mut child = tokio::process::Command::new(binary)
            .args(["--port", "0", "--long-poll-seconds"])
            .arg(LONG_POLL.as_secs_f64().to_string())
            .env("STEFUNA_LOCAL_LOG", "warn,warp::server=off")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("stefuna-local binary starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines
            .next_line()
            .await
            .expect("read stefuna-local output")
            .expect("stefuna-local printed its endpoint");
        let endpoint = first
            .rsplit(' ')
            .next()
            .filter(|e| e.starts_with("http://"))
            .unwrap_or_else(|| panic!("unexpected first line from stefuna-local: {first}"))
            .to_owned();
        // Keep reading so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server::Child(child, endpoint)
    }

    /// Resident memory of the emulator process, when it is a child of this one.
    fn rss(&self) -> Option<u64> {
        let Server::Child(c, _) = self else {
            return None;
        };
        let status = std::fs::read_to_string(format!("/proc/{}/status", c.id()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// CPU time the emulator process has used, when it is a child of this one.
    fn cpu(&self) -> Option<Duration> {
        match self {
            Server::Child(c, _) => cpu_time(&c.id()?.to_string()),
            _ => None,
        }
    }

    fn endpoint(&self) -> &str {
        match self {
            Server::InProcess(e) => e.endpoint(),
            Server::Child(_, e) | Server::External(e) => e,
        }
    }

    async fn stop(self) {
        match self {
            Server::InProcess(e) => e.shutdown().await,
            Server::Child(mut c, _) => {
                let _ = c.start_kill();
                let _ = c.wait().await;
            }
            Server::External(_) => {}
        }
    }
}

/// The `host:port` of an `http://` endpoint.
fn socket_addr(endpoint: &str) -> SocketAddr {
    endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("endpoint {endpoint} is not http://IP:PORT: {e}"))
}

/// Shared progress of a run.
struct Progress {
    n: usize,
    started: AtomicUsize,
    answered: AtomicUsize,
    all_answered: Notify,
}

impl Progress {
    fn new(n: usize) -> Arc<Progress> {
        Arc::new(Progress {
            n,
            started: AtomicUsize::new(0),
            answered: AtomicUsize::new(0),
            all_answered: Notify::new(),
        })
    }

    /// Claims one execution to start; false once N are claimed.
    fn claim_start(&self) -> bool {
        self.started.fetch_add(1, Ordering::Relaxed) < self.n
    }

    /// Counts one answered task.
    fn answered(&self) {
        if self.answered.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            self.all_answered.notify_one();
        }
    }

    fn done(&self) -> bool {
        self.answered.load(Ordering::Acquire) >= self.n
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat` (Linux; the
/// kernel reports it in USER_HZ = 100 ticks a second).
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

async fn one_run(mode: Mode, n: usize, clients: usize, run: usize) -> RunTimes {
    let server = Server::start(mode.process()).await;
    // Unique names so several runs can share an external emulator.
    let name = format!("bench-{}-{run}", std::process::id());
    let (server_cpu0, client_cpu0) = (server.cpu(), cpu_time("self"));
    let mut times = match mode {
        Mode::Sdk { .. } => sdk::run(server.endpoint(), &name, n, clients).await,
        Mode::Light { .. } => run_light(socket_addr(server.endpoint()), &name, n, clients).await,
    };
    times.server_cpu = server_cpu0
        .zip(server.cpu())
        .map(|(a, b)| b.saturating_sub(a));
    times.server_rss = server.rss();
    times.client_cpu = client_cpu0
        .zip(cpu_time("self"))
        .map(|(a, b)| b.saturating_sub(a));
    server.stop().await;
    times
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    activity_arn: Option<String>,
    state_machine_arn: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Polled {
    task_token: Option<String>,
    input: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    executions: Vec<serde::de::IgnoredAny>,
    next_token: Option<String>,
}

/// One run with light clients.
async fn run_light(addr: SocketAddr, name: &str, n: usize, clients: usize) -> RunTimes {
    let mut c = Light::new(addr);
    let activity = c
        .call("CreateActivity", &format!(r#"{{"name":"{name}"}}"#))
        .await
        .json::<Created>("CreateActivity")
        .activity_arn
        .expect("activityArn");
    let definition = serde_json::json!({
        "StartAt": "Work",
        "States": { "Work": { "Type": "Task", "Resource": activity, "End": true } }
    })
    .to_string();
    let create = serde_json::json!({
        "name": name,
        "definition": definition,
        "roleArn": "arn:aws:iam::123456789012:role/bench",
    })
    .to_string();
    let machine = c
        .call("CreateStateMachine", &create)
        .await
        .json::<Created>("CreateStateMachine")
        .state_machine_arn
        .expect("stateMachineArn");

    let progress = Progress::new(n);
    let t0 = Instant::now();
    let mut starters = Vec::new();
    let start_body = Arc::new(format!(
        r#"{{"stateMachineArn":"{machine}","input":"{{\"hello\":\"world\"}}"}}"#
    ));
    for _ in 0..clients {
        let (progress, body) = (progress.clone(), start_body.clone());
        starters.push(tokio::spawn(async move {
            let mut c = Light::new(addr);
            while progress.claim_start() {
                let a = c.call("StartExecution", &body).await;
                assert_eq!(
                    a.status,
                    200,
                    "StartExecution: {}",
                    String::from_utf8_lossy(&a.body)
                );
            }
        }));
    }
    let mut pollers = Vec::new();
    for i in 0..clients {
        let progress = progress.clone();
        let poll_body = format!(r#"{{"activityArn":"{activity}","workerName":"bench-{i}"}}"#);
        pollers.push(tokio::spawn(async move {
            let mut c = Light::new(addr);
            let mut success = String::new();
            while !progress.done() {
                let a = c.call("GetActivityTask", &poll_body).await;
                let task: Polled = a.json("GetActivityTask");
                let Some(token) = task.task_token.filter(|t| !t.is_empty()) else {
                    continue;
                };
                let output = task.input.unwrap_or_default();
                success.clear();
                success.push_str(r#"{"taskToken":"#);
                success.push_str(&serde_json::to_string(&token).expect("token"));
                success.push_str(r#","output":"#);
                success.push_str(&serde_json::to_string(&output).expect("output"));
                success.push('}');
                let a = c.call("SendTaskSuccess", &success).await;
                assert_eq!(
                    a.status,
                    200,
                    "SendTaskSuccess: {}",
                    String::from_utf8_lossy(&a.body)
                );
                progress.answered();
            }
        }));
    }
    for s in starters {
        s.await.expect("starter");
    }
    let started = t0.elapsed();
    if !progress.done() {
        progress.all_answered.notified().await;
    }
    // The last executions finish just after their SendTaskSuccess is answered.
    let running =
        format!(r#"{{"stateMachineArn":"{machine}","statusFilter":"RUNNING","maxResults":1}}"#);
    loop {
        let l: Listed = c
            .call("ListExecutions", &running)
            .await
            .json("ListExecutions");
        if l.executions.is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let done = t0.elapsed();
    for p in pollers {
        p.await.expect("poller");
    }
    // Not timed: every execution must have SUCCEEDED.
    let mut succeeded = 0;
    let mut next: Option<String> = None;
    loop {
        let mut q = serde_json::json!({
            "stateMachineArn": machine, "statusFilter": "SUCCEEDED", "maxResults": 1000
        });
        if let Some(t) = &next {
            q["nextToken"] = t.as_str().into();
        }
        let a = c.call("ListExecutions", &q.to_string()).await;
        let l: Listed = a.json("ListExecutions");
        succeeded += l.executions.len();
        next = l.next_token;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(succeeded, n, "every execution SUCCEEDED");
    RunTimes::new(started, done)
}
