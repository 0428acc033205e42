//! `cargo xtask bench`: stefuna against the raw SDK and stefuna 1.0.1, on one stefuna-local.
//!
//! Builds the workers in release, then for each concurrency runs rounds of the workers back to
//! back (raw SDK loops, the hello example, stefuna 1.0.1 from PyPI with its defaults and with its
//! best settings for this job: `maxtasksperchild` off, heartbeat 0), each against a fresh
//! `stefuna-local` process with its executions pre-started, and a memory run of 1,000 sleeping
//! tasks. The order of the workers rotates from round to round, so none always runs first (on a
//! cold machine) or last. Every execution's output is checked against its input. How each
//! figure is taken:
//!
//! - **tasks/s (steady)**: completions between the 10th and the 90th percentile of the
//!   executions' stop dates over that time (endpoint timestamps): no start-up ramp (stefuna
//!   1.0.1 spawns its pool then) and no stragglers. Ratios use this one.
//! - **tasks/s (whole run)**: executions / (last stop − first `ActivityStarted`).
//! - **first poll**: first `ActivityStarted` − the wall time just before the spawn. Tasks are
//!   waiting, so the first GetActivityTask is answered at once (timestamps in ms).
//! - **CPU per task**: user + system ticks of the worker's process tree (`procfs`), over the
//!   steady window (interpolated between 100 ms samples) per task completed in it, and over the
//!   whole run (start-up included) per task.
//! - **peak PSS**: largest sum of PSS (`/proc/PID/smaps_rollup`) over the tree's processes at
//!   one sample (`procfs`).
//! - **goals**: judged on the worst run, so "met" means every run met it.
//! - **stefuna-local cores**: the endpoint's CPU over the run / wall time, to see whether it
//!   was the bottleneck (the machine has as many cores as `nproc` says, shared).
//!
//! Then a density run (`density.rs`): 10,000 async tasks in flight in one worker, heartbeating.
//! `--only cpu|memory|density` runs one part alone.
//!
//! Writes `<target>/bench/report.md`, `<target>/bench/tasks-per-second.svg` and each worker's
//! log under `<target>/bench/logs/`.

mod density;
pub(crate) mod endpoint;
mod isolation;
mod procfs;
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, anyhow, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::workspace_root;
use endpoint::Local;
use report::{Figures, Kind, Results};

/// Arguments of `cargo xtask bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Concurrencies to measure (tasks at once), comma separated.
    #[arg(long, value_delimiter = ',', default_value = "2,16,64")]
    pub concurrency: Vec<usize>,
    /// Runs of each worker at each concurrency (figures are the median, with min and max).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Seconds of work each run is sized for, from a calibration run.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Most executions in one run.
    #[arg(long, default_value_t = 60_000)]
    pub max_tasks: usize,
    /// Leave stefuna 1.0.1 (Python) out.
    #[arg(long)]
    pub no_python: bool,
    /// Workers to run, comma separated, from `raw`, `stefuna`, `process` (stefuna with
    /// `isolation = "process"`), `python`, `python-best` (default: all); the raw SDK still
    /// calibrates the run sizes.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "raw,stefuna,process,python,python-best"
    )]
    pub workers: Vec<isolation::Worker>,
    /// Highest concurrency stefuna 1.0.1 runs at (one Python process per task); default: all
    /// that fit in the available memory at 100 MiB per process.
    #[arg(long)]
    pub python_max_concurrency: Option<usize>,
    /// Tasks in flight in the memory run (0 skips it).
    #[arg(long, default_value_t = 1000)]
    pub memory_tasks: usize,
    /// Tasks in flight in the density run, each heartbeating every 10 s (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    pub density_tasks: usize,
    /// Seconds the density run is measured once every task is in flight.
    #[arg(long, default_value_t = 60.0)]
    pub density_seconds: f64,
    /// Run only these parts (comma separated): `cpu` (the workers at each concurrency),
    /// `memory`, `density`; default all.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<Part>,
    /// Use the release binaries already built instead of running `cargo build --release`.
    #[arg(long)]
    pub no_build: bool,
    /// Extra argument for the stefuna hello worker (repeatable), e.g. `--stefuna-arg=--loglevel=warn`
    /// to compare a setting against the default.
    #[arg(long, allow_hyphen_values = true)]
    pub stefuna_arg: Vec<String>,
    /// Where the venv with stefuna 1.0.1 lives (default: `$STEFUNA_CACHE_DIR/bench-venv`, else
    /// `$HOME/.cache/stefuna/bench-venv`).
    #[arg(long)]
    pub venv: Option<PathBuf>,
}

/// A part of the bench, for `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// The workers at each concurrency (tasks/s, CPU per task, PSS).
    Cpu,
    /// The memory run (1,000 sleeping tasks).
    Memory,
    /// The density run (10,000 heartbeating tasks).
    Density,
}

/// What every run needs.
struct Bench {
    target: PathBuf,
    venv: Option<PathBuf>,
    out: PathBuf,
    ticks: f64,
    bars: indicatif::MultiProgress,
    stefuna_args: Vec<String>,
}

/// Runs the command.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.concurrency.contains(&0) {
        bail!("--concurrency takes numbers above 0, e.g. 2,16,64");
    }
    if !Path::new("/proc/self/stat").exists() {
        bail!("the bench reads CPU and memory from /proc; it runs on Linux only");
    }
    if !procfs::has_pss() {
        bail!(
            "the bench reads memory as PSS from /proc/PID/smaps_rollup (Linux 4.14+), which this system does not give"
        );
    }
    let started = Instant::now();
    let target = target_dir()?;
    if !args.no_build {
        let build_started = Instant::now();
        build()?;
        // The harness drives thousands of SDK calls while the workers are measured: run it from
        // the release build too (its dependencies were just built for bench-raw), so a debug
        // SDK does not take the CPU the workers compete for.
        let release = target.join("release/xtask");
        println!("$ {} bench ... --no-build", release.display());
        let status = std::process::Command::new(&release)
            .args(std::env::args_os().skip(1))
            .arg("--no-build")
            .env("XTASK_BENCH_COMMAND", command_line())
            .env(
                "XTASK_BENCH_BUILD_SECONDS",
                format!("{:.0}", build_started.elapsed().as_secs_f64()),
            )
            .status()
            .with_context(|| format!("cannot run {}", release.display()))?;
        if !status.success() {
            bail!("the bench failed ({status})");
        }
        return Ok(());
    }
    let venv = if args.no_python {
        None
    } else {
        Some(python_venv(args.venv.clone())?)
    };
    let out = target.join("bench");
    std::fs::create_dir_all(out.join("logs"))?;
    let bench = Bench {
        target,
        venv,
        out,
        ticks: procfs::ticks_per_second(),
        bars: indicatif::MultiProgress::new(),
        stefuna_args: args.stefuna_arg.clone(),
    };
    let mut results = Results {
        concurrencies: args.concurrency.clone(),
        ..Results::default()
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    results.notes.push(format!(
        "machine: {cores} cores (shared with other work while measuring), {} MiB available memory at start",
        available_mib().unwrap_or(0)
    ));
    let python_max = args.python_max_concurrency.unwrap_or_else(|| {
        // stefuna 1.0.1 forks one Python process per task slot (about 40-60 MiB each).
        available_mib().map_or(64, |m| (m / 100) as usize)
    });

    // Size each concurrency's runs from one short calibration run of the fastest worker, and of
    // stefuna 1.0.1 (whose 10 s of work is far fewer tasks: see the notes).
    let runs = |part| args.only.is_empty() || args.only.contains(&part);
    let cpu_part = if runs(Part::Cpu) {
        args.concurrency.as_slice()
    } else {
        &[]
    };
    results.concurrencies = cpu_part.to_vec();
    let mut sizes = BTreeMap::new();
    for &c in cpu_part {
        let raw = bench
            .run(Kind::Raw, c, 1500.max(200 * c), "calibration")
            .await?;
        let fast = size(raw.tasks_per_s, args.seconds, args.max_tasks);
        let py = if bench.venv.is_some()
            && c <= python_max
            && (args.workers.contains(&isolation::Worker::Python)
                || args.workers.contains(&isolation::Worker::PythonBest))
        {
            let p = bench
                .run(Kind::Python, c, (50 * c).clamp(200, 600), "calibration")
                .await?;
            Some(size(p.tasks_per_s, args.seconds, args.max_tasks))
        } else {
            None
        };
        sizes.insert(c, (fast, py));
    }
    for &c in cpu_part {
        let (fast, py) = sizes[&c];
        let mut line = format!("concurrency {c}: raw and stefuna runs have {fast} executions each");
        match py {
            Some(p) => line.push_str(&format!(
                ", stefuna 1.0.1 runs {p} (sized for {} s of its own work; {fast} would take it minutes per run)",
                args.seconds
            )),
            None if bench.venv.is_some() => line.push_str(&format!(
                "; stefuna 1.0.1 skipped: {c} Python processes do not fit (limit {python_max}, --python-max-concurrency)"
            )),
            None => {}
        }
        results.notes.push(line);
    }

    let mut turn = 0;
    for rep in 1..=args.runs {
        for &c in cpu_part {
            let (fast, py) = sizes[&c];
            let mut round = BTreeMap::new();
            let tag = format!("run {rep}/{}", args.runs);
            let mut kinds = vec![
                (Kind::Raw, fast),
                (Kind::Stefuna, fast),
                (Kind::Process, fast),
            ];
            if let Some(p) = py {
                kinds.extend([(Kind::Python, p), (Kind::PythonBest, p)]);
            }
            kinds.retain(|(k, _)| isolation::selected(&args.workers, *k));
            for (kind, tasks) in rotated(&kinds, turn) {
                round.insert(kind, bench.run(kind, c, tasks, &tag).await?);
            }
            turn += 1;
            results.rounds.push((c, round));
        }
    }
    if args.memory_tasks > 0 && runs(Part::Memory) {
        for rep in 1..=args.runs {
            let tag = format!("memory {rep}/{}", args.runs);
            let m = bench
                .run(Kind::Sleep, args.memory_tasks, args.memory_tasks, &tag)
                .await?;
            results.memory.push(m);
        }
    }
    if args.density_tasks > 0 && runs(Part::Density) {
        for rep in 1..=args.runs {
            let tag = format!("density {rep}/{}", args.runs);
            let d = bench
                .density(args.density_tasks, args.density_seconds, &tag)
                .await?;
            results.density.push(d);
        }
    }
    results
        .notes
        .push(match std::env::var("XTASK_BENCH_BUILD_SECONDS") {
            Ok(build) => format!(
                "whole command: {build} s of `cargo build --release`, then {:.0} s of measuring",
                started.elapsed().as_secs_f64()
            ),
            Err(_) => format!(
                "whole command: {:.0} s of measuring (binaries built before, `--no-build`)",
                started.elapsed().as_secs_f64()
            ),
        });

    let command = command_line();
    let md = results.markdown(&command);
    let report = bench.out.join("report.md");
    std::fs::write(&report, &md).with_context(|| format!("cannot write {}", report.display()))?;
    let chart = bench.out.join("tasks-per-second.svg");
    results.chart(&chart)?;
    println!("\n{md}");
    println!("wrote {} and {}", report.display(), chart.display());
    Ok(())
}

/// `items` started at position `turn` (modulo their count) and wrapped around.
fn rotated<T: Copy>(items: &[T], turn: usize) -> Vec<T> {
    if items.is_empty() {
        return Vec::new();
    }
    let k = turn % items.len();
    items[k..].iter().chain(&items[..k]).copied().collect()
}

/// Executions for `seconds` of work at `rate`, within 100..=`max`.
fn size(rate: f64, seconds: f64, max: usize) -> usize {
    ((rate * seconds * 1.1).ceil() as usize).clamp(100, max.max(100))
}

/// The command as typed, for the report (the release re-run gets it from its parent).
fn command_line() -> String {
    if let Ok(c) = std::env::var("XTASK_BENCH_COMMAND") {
        return c;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo xtask {}", args.join(" "))
}

/// MemAvailable from /proc/meminfo, MiB.
fn available_mib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024)
}

/// Cargo's target directory (honours CARGO_TARGET_DIR and .cargo/config.toml).
fn target_dir() -> anyhow::Result<PathBuf> {
    let out = std::process::Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed");
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| anyhow!("cargo metadata gave no target_directory"))
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// `cargo build --release` of stefuna-local, the hello example and the bench's own workers.
fn build() -> anyhow::Result<()> {
    let args = [
        "build",
        "--release",
        "-p",
        "stefuna-local",
        "--bin",
        "stefuna-local",
        "-p",
        "stefuna",
        "--example",
        "hello",
        "-p",
        "xtask",
        "--bin",
        "xtask",
        "--bin",
        "bench-raw",
        "--bin",
        "bench-sleep",
        "--features",
        "xtask/bench-sleep",
    ];
    println!("$ cargo {}", args.join(" "));
    let status = std::process::Command::new(cargo())
        .args(args)
        .current_dir(workspace_root())
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("cargo build --release failed ({status})");
    }
    Ok(())
}

/// The venv with stefuna 1.0.1, created with `python3 -m venv` and `pip install` if missing.
fn python_venv(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match flag {
        Some(d) => d,
        None => match std::env::var_os("STEFUNA_CACHE_DIR") {
            Some(d) => PathBuf::from(d).join("bench-venv"),
            None => PathBuf::from(std::env::var_os("HOME").ok_or_else(|| {
                anyhow!("neither STEFUNA_CACHE_DIR nor HOME is set; pass --venv")
            })?)
            .join(".cache/stefuna/bench-venv"),
        },
    };
    if dir.join("bin/stefuna").exists() {
        println!("stefuna 1.0.1 venv: {}", dir.display());
        return Ok(dir);
    }
    let run = |program: &Path, args: &[&str]| -> anyhow::Result<()> {
        println!("$ {} {}", program.display(), args.join(" "));
        let status = std::process::Command::new(program)
            .args(args)
            .status()
            .with_context(|| {
                format!(
                    "cannot run {}; pass --no-python to skip stefuna 1.0.1",
                    program.display()
                )
            })?;
        if !status.success() {
            bail!(
                "{} failed ({status}); pass --no-python to skip stefuna 1.0.1",
                program.display()
            );
        }
        Ok(())
    };
    let dir_str = dir
        .to_str()
        .ok_or_else(|| anyhow!("venv path is not UTF-8"))?;
    run(Path::new("python3"), &["-m", "venv", dir_str])?;
    run(
        &dir.join("bin/pip"),
        &["install", "--quiet", "stefuna==1.0.1"],
    )?;
    Ok(dir)
}

/// A worker process in its own process group; the whole group is SIGKILLed on drop.
struct Worker {
    child: tokio::process::Child,
    pid: u32,
}

impl Drop for Worker {
    fn drop(&mut self) {
        endpoint::signal(self.pid, "KILL", true);
    }
}

fn execution_input(i: usize) -> String {
    format!(r#"{{"name":"bench-{i}"}}"#)
}

fn sleep_input(_: usize) -> String {
    r#"{"ms":5000}"#.to_owned()
}

/// The hello workers' answer to `input`.
fn greeted(input: &serde_json::Value) -> serde_json::Value {
    let name = input["name"].as_str().unwrap_or_default();
    serde_json::json!({ "message": format!("Hello {name}") })
}

/// The sleep worker's answer to `input`.
fn slept(input: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "slept_ms": input["ms"] })
}

impl Bench {
    /// One run: fresh stefuna-local, `tasks` executions pre-started, the worker spawned at
    /// `concurrency`, measured until every execution SUCCEEDED.
    async fn run(
        &self,
        kind: Kind,
        concurrency: usize,
        tasks: usize,
        tag: &str,
    ) -> anyhow::Result<Figures> {
        let local = Local::start(&self.target.join("release/stefuna-local")).await?;
        let client = endpoint::client(&local.url);
        let name = format!("bench-{kind:?}-{concurrency}").to_lowercase();
        let (activity, machine) = endpoint::setup(&client, &name).await?;
        let bar = self.bars.add(ProgressBar::new(tasks as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>44} {msg:<9} [{bar:30}] {pos}/{len} {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{} ×{concurrency} {tag}", kind.label()));
        bar.set_message("starting");
        let input = if kind == Kind::Sleep {
            sleep_input
        } else {
            execution_input
        };
        let arns =
            Arc::new(endpoint::start_executions(&client, &machine, tasks, input, &bar).await?);
        bar.set_position(0);
        bar.set_message("working");

        let log_path = self
            .out
            .join(format!("logs/{name}-{}.log", tag.replace([' ', '/'], "-")));
        let local_before = procfs::Tree::new(local.pid).sample().cpu_ticks;
        let spawned_at = SystemTime::now();
        let spawned = Instant::now();
        let mut worker = self.spawn(kind, concurrency, &local.url, &activity, &log_path)?;
        let mut tree = procfs::Tree::new(worker.pid);
        let mut ticks = 0u64;
        loop {
            tree.sample();
            if let Some(status) = worker.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before its tasks were done; see {}",
                    kind.label(),
                    log_path.display()
                );
            }
            ticks += 1;
            if ticks.is_multiple_of(5) {
                bar.set_position(endpoint::finished_estimate(&client, &arns).await? as u64);
                if endpoint::all_finished(&client, &machine).await? {
                    break;
                }
            }
            if spawned.elapsed() > Duration::from_secs(900) {
                bail!(
                    "{} did not finish {tasks} tasks in 15 minutes",
                    kind.label()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let final_sample = tree.sample();
        let wall = spawned.elapsed().as_secs_f64();
        let local_cpu = procfs::Tree::new(local.pid).sample().cpu_ticks - local_before;
        drop(worker);
        bar.set_position(tasks as u64);
        bar.set_message("checking");

        let expect = if kind == Kind::Sleep { slept } else { greeted };
        let timing = endpoint::timing(
            &client,
            &machine,
            tasks,
            (2 * concurrency + 16).min(tasks),
            expect,
        )
        .await?;
        local.stop().await;
        bar.finish_with_message("done");
        let cpu_s = tree.peak.cpu_ticks.max(final_sample.cpu_ticks) as f64 / self.ticks;
        let window = (timing.last_stop - timing.first_task).max(1e-3);
        let (from, to, steady_tasks) = timing.steady_window;
        let cpu_per_1000_steady = match tree.cpu_between(from, to) {
            Some(ticks) if steady_tasks > 0 => ticks / self.ticks / steady_tasks as f64 * 1000.0,
            _ => f64::NAN,
        };
        Ok(Figures {
            tasks,
            tasks_per_s: timing.steady_rate,
            whole_per_s: tasks as f64 / window,
            cpu_per_1000: cpu_s / tasks as f64 * 1000.0,
            cpu_per_1000_steady,
            peak_pss_mib: tree.peak.pss_kib as f64 / 1024.0,
            first_poll_ms: (timing.first_task - endpoint::epoch_secs(spawned_at)) * 1000.0,
            local_cores: local_cpu as f64 / self.ticks / wall,
            window_s: window,
        })
    }

    /// Starts the worker of `kind` against `url`, output to `log`.
    fn spawn(
        &self,
        kind: Kind,
        concurrency: usize,
        url: &str,
        activity: &str,
        log: &Path,
    ) -> anyhow::Result<Worker> {
        self.spawn_with(kind, concurrency, url, activity, log, &[])
    }

    /// [`Bench::spawn`] with `extra` arguments for a stefuna worker.
    fn spawn_with(
        &self,
        kind: Kind,
        concurrency: usize,
        url: &str,
        activity: &str,
        log: &Path,
        extra: &[String],
    ) -> anyhow::Result<Worker> {
        let n = concurrency.to_string();
        let release = self.target.join("release");
        let mut cmd = match kind {
            Kind::Raw => {
                let mut c = tokio::process::Command::new(release.join("bench-raw"));
                c.args([url, activity, &n]).args(extra);
                c
            }
            Kind::Stefuna | Kind::Sleep | Kind::Process => {
                let bin = if kind != Kind::Sleep {
                    release.join("examples/hello")
                } else {
                    release.join("bench-sleep")
                };
                let mut c = tokio::process::Command::new(bin);
                c.args([
                    "--endpoint-url",
                    url,
                    "--activity-arn",
                    activity,
                    "--processes",
                    &n,
                ]);
                if extra.is_empty() {
                    c.args(["--healthcheck", "0"]);
                }
                c.args(extra);
                if kind != Kind::Sleep {
                    c.args(&self.stefuna_args);
                }
                if kind == Kind::Process {
                    c.args(["--isolation", "process"]);
                }
                c
            }
            Kind::Python | Kind::PythonBest => {
                let venv = self
                    .venv
                    .as_ref()
                    .ok_or_else(|| anyhow!("no Python venv"))?;
                let dir = workspace_root().join("xtask/bench");
                let mut c = tokio::process::Command::new(venv.join("bin/stefuna"));
                c.args([
                    "--config",
                    "bench_config",
                    "--worker",
                    "hello_worker.HelloWorker",
                    "--activity-arn",
                    activity,
                    "--processes",
                    &n,
                ])
                .current_dir(&dir)
                .env("PYTHONPATH", &dir)
                .env("PYTHONDONTWRITEBYTECODE", "1");
                if kind == Kind::PythonBest {
                    c.env("BENCH_MAXTASKSPERCHILD", "none")
                        .env("BENCH_HEARTBEAT", "0");
                }
                c
            }
        };
        // Nothing of the caller's AWS or stefuna settings leaks in (unknown STEFUNA_* keys are
        // refused by the worker), and loopback never goes through a proxy.
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy().to_ascii_uppercase();
            if k.starts_with("STEFUNA_") || k.starts_with("AWS_") || k.ends_with("_PROXY") {
                cmd.env_remove(&key);
            }
        }
        let log_file = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        cmd.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL_SFN", url)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", kind.label()))?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("{} exited at once", kind.label()))?;
        Ok(Worker { child, pid })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_cover_the_seconds_asked() {
        assert_eq!(size(1000.0, 10.0, 60_000), 11_000);
        assert_eq!(size(1.0, 10.0, 60_000), 100);
        assert_eq!(size(1e9, 10.0, 60_000), 60_000);
    }

    #[test]
    fn each_turn_starts_with_the_next_worker() {
        let kinds = [1, 2, 3];
        assert_eq!(rotated(&kinds, 0), vec![1, 2, 3]);
        assert_eq!(rotated(&kinds, 1), vec![2, 3, 1]);
        assert_eq!(rotated(&kinds, 4), vec![2, 3, 1]);
        assert!(rotated::<u8>(&[], 3).is_empty());
    }
}
