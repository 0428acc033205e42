//! The density run: one stefuna worker holding thousands of async tasks in flight at once, each
//! heartbeating every 10 s, measured for memory (RSS) and for the CPU of its own overhead.
//!
//! `bench-sleep` (tasks sleep with `tokio::time::sleep`, so every CPU tick the worker spends is
//! framework: polls, heartbeats, timers, logs) runs with `--processes N --heartbeat 10` against a
//! state machine with `HeartbeatSeconds` 30, so a beat that does not get through fails the task.
//! N executions are started first; once the worker's `stefuna_tasks_in_flight` reads N, CPU and
//! RSS are sampled every 500 ms for the window. Figures:
//!
//! - **peak RSS**: `VmHWM` of `/proc/PID/status` at the end (start-up and the claim of every task
//!   included); **RSS in window**: largest `VmRSS` sampled in the window.
//! - **cores**: the worker's user + system ticks over the window / the window's seconds.
//! - **heartbeats/s**: `stefuna_heartbeats_total` over the window (N / 10 expected).
//! - **lost, heartbeat errors**: `stefuna_tasks_lost_total` and `stefuna_heartbeat_errors_total`
//!   at the end (goal 0: a beat that did not get through).
//! - **raw SDK cores**: the same N tasks held and beaten every 10 s by the plain SDK
//!   (`bench-raw URL ARN N 10`, against its own stefuna-local with quotas on and scaled ×1000 so
//!   its `SendTaskHeartbeat` count can be read), measured over the same window once it prints
//!   that it holds them all: what the beats cost without stefuna.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::bail;
use indicatif::ProgressBar;

use super::endpoint::{self, Local};
use super::report::{Kind, Spread};
use super::{Bench, procfs};

/// Seconds between a task's heartbeats.
const BEAT_SECONDS: u64 = 10;
/// The state machine's `HeartbeatSeconds`: three beats may be late before a task times out.
const HEARTBEAT_TIMEOUT: u64 = 30;
/// Goals of the issue: RSS ceiling (MiB) and CPU ceiling (cores) at 10,000 tasks.
const RSS_GOAL_MIB: f64 = 128.0;
const CORES_GOAL: f64 = 0.2;

/// What one density run measured.
#[derive(Clone, Debug)]
pub(crate) struct Figures {
    /// Tasks in flight.
    pub(crate) tasks: usize,
    /// Seconds from spawn until every task was in flight.
    pub(crate) ramp_s: f64,
    /// Seconds measured once all were in flight.
    pub(crate) window_s: f64,
    /// `VmHWM` at the end, MiB.
    pub(crate) peak_rss_mib: f64,
    /// Largest `VmRSS` in the window, MiB.
    pub(crate) window_rss_mib: f64,
    /// Worker CPU over the window / its seconds.
    pub(crate) cores: f64,
    /// Heartbeats sent per second in the window.
    pub(crate) beats_per_s: f64,
    /// Tasks lost plus heartbeats failed, at the end.
    pub(crate) failures: f64,
    /// The plain SDK's CPU over the window for the same beats / the window's seconds.
    pub(crate) raw_cores: f64,
    /// The plain SDK's heartbeats per second in its window.
    pub(crate) raw_beats_per_s: f64,
}

fn input(_: usize) -> String {
    // Longer than any window: the tasks are still sleeping when the worker is stopped.
    r#"{"ms":3600000}"#.to_owned()
}

/// `VmHWM` and `VmRSS` of `pid`, KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// A series' value from a Prometheus scrape of `url` (0 when absent).
async fn metric(url: &str, series: &str) -> anyhow::Result<f64> {
    let body = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(url)
        .send()
        .await?
        .text()
        .await?;
    Ok(body
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0))
}

impl Bench {
    /// One density run of `tasks` tasks in flight, measured for `window` seconds.
    pub(super) async fn density(
        &self,
        tasks: usize,
        window: f64,
        tag: &str,
    ) -> anyhow::Result<Figures> {
        let local = Local::start(&self.target.join("release/stefuna-local")).await?;
        let activity = prepare(&local, tasks, &self.bars, tag).await?;
        let bar = self.bars.add(ProgressBar::new(tasks as u64));
        bar.set_prefix(format!("density ×{tasks} {tag}"));

        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let metrics = format!("http://127.0.0.1:{port}/metrics");
        let log = self
            .out
            .join(format!("logs/density-{}.log", tag.replace([' ', '/'], "-")));
        let extra = [
            format!("--heartbeat={BEAT_SECONDS}"),
            format!("--healthcheck={port}"),
            "--healthcheck-host=127.0.0.1".to_owned(),
        ];
        let spawned = Instant::now();
        let mut worker =
            self.spawn_with(Kind::Sleep, tasks, &local.url, &activity, &log, &extra)?;
        let in_flight = "stefuna_tasks_in_flight{activity=\"sleep\"}";
        bar.set_position(0);
        bar.set_message("claiming");
        loop {
            if let Some(status) = worker.child.try_wait()? {
                bail!("bench-sleep exited ({status}); see {}", log.display());
            }
            let n = metric(&metrics, in_flight).await.unwrap_or(0.0);
            bar.set_position(n as u64);
            if n as usize >= tasks {
                break;
            }
            if spawned.elapsed() > Duration::from_secs(300) {
                bail!("bench-sleep did not claim {tasks} tasks in 5 minutes");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let ramp_s = spawned.elapsed().as_secs_f64();
        bar.set_message("measuring");

        let beats = "stefuna_heartbeats_total{activity=\"sleep\"}";
        let mut tree = procfs::Tree::new(worker.pid);
        let beats_before = metric(&metrics, beats).await?;
        let cpu_before = tree.sample().cpu_ticks;
        let from = Instant::now();
        let mut window_rss = 0;
        while from.elapsed().as_secs_f64() < window {
            tokio::time::sleep(Duration::from_millis(500)).await;
            window_rss = window_rss.max(rss_kib(worker.pid).1);
        }
        let cpu = tree.sample().cpu_ticks.saturating_sub(cpu_before);
        let window_s = from.elapsed().as_secs_f64();
        let beats_after = metric(&metrics, beats).await?;
        let lost = metric(&metrics, "stefuna_tasks_lost_total{activity=\"sleep\"}").await?;
        let errors = metric(
            &metrics,
            "stefuna_heartbeat_errors_total{activity=\"sleep\"}",
        )
        .await?;
        let (hwm, _) = rss_kib(worker.pid);
        if let Some(status) = worker.child.try_wait()? {
            bail!("bench-sleep exited ({status}); see {}", log.display());
        }
        drop(worker);
        local.stop().await;
        bar.set_message("raw SDK");
        let (raw_cores, raw_beats_per_s) = self.density_raw(tasks, window, tag).await?;
        bar.finish_with_message("done");
        Ok(Figures {
            tasks,
            ramp_s,
            window_s,
            peak_rss_mib: hwm as f64 / 1024.0,
            window_rss_mib: window_rss as f64 / 1024.0,
            cores: cpu as f64 / self.ticks / window_s,
            beats_per_s: (beats_after - beats_before) / window_s,
            failures: lost + errors,
            raw_cores,
            raw_beats_per_s,
        })
    }

    /// The baseline of a density run: `bench-raw` holding `tasks` tasks and beating each every
    /// 10 s; its cores and heartbeats per second over `window` seconds.
    async fn density_raw(
        &self,
        tasks: usize,
        window: f64,
        tag: &str,
    ) -> anyhow::Result<(f64, f64)> {
        let bin = self.target.join("release/stefuna-local");
        let local = Local::start_with(&bin, &["--aws-quotas", "--quota-scale", "1000"]).await?;
        let activity = prepare(&local, tasks, &self.bars, tag).await?;
        let log = self.out.join(format!(
            "logs/density-raw-{}.log",
            tag.replace([' ', '/'], "-")
        ));
        let extra = [BEAT_SECONDS.to_string()];
        let spawned = Instant::now();
        let mut worker = self.spawn_with(Kind::Raw, tasks, &local.url, &activity, &log, &extra)?;
        while !std::fs::read_to_string(&log)?.contains("bench-raw: holding") {
            if let Some(status) = worker.child.try_wait()? {
                bail!("bench-raw exited ({status}); see {}", log.display());
            }
            if spawned.elapsed() > Duration::from_secs(300) {
                bail!("bench-raw did not claim {tasks} tasks in 5 minutes");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let quotas = format!("{}/_stefuna/quotas", local.url);
        let mut tree = procfs::Tree::new(worker.pid);
        let beats_before = accepted(&quotas, "SendTaskHeartbeat").await?;
        let cpu_before = tree.sample().cpu_ticks;
        let from = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(window)).await;
        let cpu = tree.sample().cpu_ticks.saturating_sub(cpu_before);
        let window_s = from.elapsed().as_secs_f64();
        let beats = accepted(&quotas, "SendTaskHeartbeat").await? - beats_before;
        if let Some(status) = worker.child.try_wait()? {
            bail!("bench-raw exited ({status}); see {}", log.display());
        }
        drop(worker);
        local.stop().await;
        Ok((cpu as f64 / self.ticks / window_s, beats / window_s))
    }
}

/// On `local`: an activity, a state machine with `HeartbeatSeconds` for it, and `tasks`
/// executions started; the activity's ARN.
async fn prepare(
    local: &Local,
    tasks: usize,
    bars: &indicatif::MultiProgress,
    tag: &str,
) -> anyhow::Result<String> {
    let client = endpoint::client(&local.url);
    let task = serde_json::json!({ "HeartbeatSeconds": HEARTBEAT_TIMEOUT });
    let (activity, machine) = endpoint::setup_with(&client, "bench-density", task).await?;
    let bar = bars.add(ProgressBar::new(tasks as u64));
    bar.set_prefix(format!("starting ×{tasks} {tag}"));
    endpoint::start_executions(&client, &machine, tasks, input, &bar).await?;
    bar.finish_and_clear();
    Ok(activity)
}

/// `accepted` of `api` in stefuna-local's `GET /_stefuna/quotas`.
async fn accepted(url: &str, api: &str) -> anyhow::Result<f64> {
    let body: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(url)
        .send()
        .await?
        .json()
        .await?;
    Ok(body["apis"][api]["accepted"].as_f64().unwrap_or(0.0))
}

/// The density section of the report.
pub(crate) fn markdown(runs: &[Figures]) -> String {
    let mut md = String::new();
    let Some(first) = runs.first() else {
        return md;
    };
    let col = |f: fn(&Figures) -> f64, d: usize| {
        Spread::of(&runs.iter().map(f).collect::<Vec<_>>()).map_or("–".into(), |s| s.show(d))
    };
    let _ = writeln!(
        md,
        "\nDensity run: one stefuna worker (`bench-sleep`) with {} async tasks in flight, each \
         heartbeating every {BEAT_SECONDS} s (`HeartbeatSeconds` {HEARTBEAT_TIMEOUT}), measured \
         for {:.0} s once all were claimed; median (min–max) of {} runs:\n",
        first.tasks,
        first.window_s,
        runs.len()
    );
    md.push_str("| peak RSS MiB (VmHWM) | RSS in window MiB | worker cores | heartbeats/s | lost + heartbeat errors | s to claim all | raw SDK cores, same beats | raw SDK heartbeats/s | stefuna / raw SDK cores |\n");
    md.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let _ = writeln!(
        md,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        col(|f| f.peak_rss_mib, 1),
        col(|f| f.window_rss_mib, 1),
        col(|f| f.cores, 3),
        col(|f| f.beats_per_s, 0),
        col(|f| f.failures, 0),
        col(|f| f.ramp_s, 1),
        col(|f| f.raw_cores, 3),
        col(|f| f.raw_beats_per_s, 0),
        col(|f| f.cores / f.raw_cores, 2),
    );
    let worst_rss = runs.iter().map(|f| f.peak_rss_mib).fold(0.0, f64::max);
    let worst_cores = runs.iter().map(|f| f.cores).fold(0.0, f64::max);
    let met = |ok: bool| if ok { "met" } else { "not met" };
    let _ = writeln!(
        md,
        "\nDensity goals (worst run): peak RSS ≤ {RSS_GOAL_MIB} MiB: {worst_rss:.1}, {}; \
         overhead ≤ {CORES_GOAL} cores: {worst_cores:.3}, {}.",
        met(worst_rss <= RSS_GOAL_MIB),
        met(worst_cores <= CORES_GOAL),
    );
    let floor = runs
        .iter()
        .map(|f| f.raw_cores)
        .fold(f64::INFINITY, f64::min);
    if worst_cores > CORES_GOAL && floor > CORES_GOAL {
        let _ = writeln!(
            md,
            "\nWhat limits it: the plain SDK alone needed {floor:.3} cores or more for the same \
             beats (`bench-raw`, no framework), above the goal before stefuna adds anything."
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rss: f64, cores: f64) -> Figures {
        Figures {
            tasks: 10_000,
            ramp_s: 3.0,
            window_s: 60.0,
            peak_rss_mib: rss,
            window_rss_mib: rss,
            cores,
            beats_per_s: 1000.0,
            failures: 0.0,
            raw_cores: 0.4,
            raw_beats_per_s: 1000.0,
        }
    }

    #[test]
    fn goals_are_judged_on_the_worst_run() {
        let md = markdown(&[run(100.0, 0.1), run(130.0, 0.05)]);
        assert!(md.contains("10000 async tasks"), "{md}");
        assert!(md.contains("≤ 128 MiB: 130.0, not met"), "{md}");
        assert!(md.contains("≤ 0.2 cores: 0.100, met"), "{md}");
        assert!(
            md.contains("| 0.400 (0.400–0.400) | 1000 (1000–1000) | 0.19 (0.12–0.25) |"),
            "{md}"
        );
        assert!(!md.contains("What limits it"), "{md}");
        let over = markdown(&[run(100.0, 0.3)]);
        assert!(
            over.contains("not met") && over.contains("needed 0.400 cores"),
            "{over}"
        );
        assert!(markdown(&[]).is_empty());
    }

    #[test]
    fn own_rss_is_read() {
        let (hwm, rss) = rss_kib(std::process::id());
        assert!(rss > 0 && hwm >= rss, "{hwm} {rss}");
    }
}
