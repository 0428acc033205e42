//! Memory over a long run: a worker process (the `test_worker` example) runs
//! `STEFUNA_MEMORY_TASKS` tasks (default 100,000) from a fake Step Functions endpoint, and its
//! resident set size is sampled every tenth of the way. After warm-up it must stay flat.
//!
//! Minutes long, so ignored in `cargo test`; `cargo xtask chaos` runs it:
//! `cargo test -p stefuna-runtime --test reliability_memory -- --ignored --nocapture`.

#![cfg(target_os = "linux")]

use stefuna_runtime_testkit as support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use support::fake_sfn::FakeSfn;
use support::worker_binary;
use tokio::process::Command;

/// Resident set size of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes long; run by `cargo xtask chaos`"]
async fn worker_memory_stays_flat_over_100k_tasks() {
    let total: usize = std::env::var("STEFUNA_MEMORY_TASKS")
        .ok()
        .map(|v| v.parse().expect("STEFUNA_MEMORY_TASKS: a whole number"))
        .unwrap_or(100_000);
    let fake = FakeSfn::start().await;
    let mut cmd = Command::new(worker_binary!(&[]));
    cmd.args([
        "--activity-arn",
        "arn:aws:states:us-east-1:123456789012:activity:memory",
    ])
    .args(["--endpoint-url", &fake.endpoint, "--region", "us-east-1"])
    .args([
        "--healthcheck",
        "0",
        "--processes",
        "16",
        "--heartbeat",
        "1",
    ])
    .args(["--loglevel", "warn", "--name", "Memory"])
    .current_dir(std::env::temp_dir())
    .env("NO_PROXY", "127.0.0.1,localhost")
    .env_remove("AWS_ACCESS_KEY_ID")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("STEFUNA_") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd.spawn().unwrap();
    let pid = child.id().unwrap();

    let started = Instant::now();
    let step = (total / 10).max(1);
    let mut samples: Vec<(usize, u64)> = Vec::new();
    let mut pushed = 0;
    while pushed < total {
        let batch = step.min(total - pushed);
        for i in pushed..pushed + batch {
            fake.push(
                &format!("memory-{i}"),
                &format!(r#"{{"i": {i}, "pad": "{:64}"}}"#, ""),
            );
        }
        pushed += batch;
        let limit = Duration::from_secs(900);
        let waited = tokio::time::timeout(limit, async {
            while fake.calls("SendTaskSuccess") < pushed {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "{pushed} tasks not done within {limit:?}");
        let rss = rss_kib(pid);
        println!(
            "memory: {pushed:>7} tasks, worker RSS {rss:>7} KiB ({:.0?})",
            started.elapsed()
        );
        samples.push((pushed, rss));
    }
    let took = started.elapsed();
    assert_eq!(fake.calls("SendTaskSuccess"), total, "one result per task");
    for i in [0, total / 2, total - 1] {
        assert_eq!(fake.results(&format!("memory-{i}")).len(), 1, "task {i}");
    }
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the worker exits after SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0));

    let warm = samples[0].1;
    let peak = samples.iter().map(|s| s.1).max().unwrap();
    let last = samples.last().unwrap().1;
    println!(
        "memory: {total} tasks in {took:.0?} ({:.0} tasks/s); RSS after the first {} tasks {warm} \
         KiB, peak {peak} KiB, at the end {last} KiB",
        total as f64 / took.as_secs_f64(),
        samples[0].0
    );
    // Flat: after warm-up, at most 8 MiB more however many tasks ran (a leak of 100 bytes per
    // task would add ~8.6 MiB over the last 90,000).
    assert!(
        peak <= warm + 8 * 1024,
        "worker RSS grew from {warm} KiB to {peak} KiB: {samples:?}"
    );
}
