//! Process isolation's limits, with real processes (the `isolated` example against
//! stefuna-local): a leaking task recycled by `maxtasksperchild` stays flat, a child over its
//! memory limit costs only its task, and a task still running when shutdown's grace ends is
//! killed with its child and failed with `Stefuna.WorkerShutdown`.

#![cfg(target_os = "linux")]

#[path = "support/isolated.rs"]
mod isolated;
use stefuna_testkit as support;

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use isolated::*;

/// Proportional set size of `pid` and its children, MiB (RSS where smaps_rollup is missing).
fn tree_pss_mib(pid: u32) -> f64 {
    let one = |p: u32| -> f64 {
        let read = |file: &str, key: &str| {
            std::fs::read_to_string(format!("/proc/{p}/{file}"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix(key))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                })
        };
        read("smaps_rollup", "Pss:")
            .or_else(|| read("status", "VmRSS:"))
            .unwrap_or(0.0)
            / 1024.0
    };
    one(pid) + children_of(pid).into_iter().map(one).sum::<f64>()
}

/// A task that leaks 64 KiB on purpose, recycled every 100 tasks: over 10,000 tasks (625 MiB
/// leaked in all; `ISOLATION_LEAK_TASKS` changes the count) the worker and its children stay
/// flat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaking_task_recycled_every_100_tasks_stays_flat() {
    use futures::StreamExt;
    let tasks: usize = std::env::var("ISOLATION_LEAK_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let (emu, sfn) = emulator().await;
    let (arn, sm) = machine(&sfn, "leak", serde_json::json!({})).await;
    let w = Worker::start(
        "leak",
        emu.endpoint(),
        &arn,
        &["--processes", "4", "--loglevel", "warn"],
        &[("STEFUNA_MAXTASKSPERCHILD", "100")],
    )
    .await;
    let input = serde_json::json!({"kind": "leak", "leak_kb": 64}).to_string();
    let starts = futures::stream::iter(0..tasks)
        .map(|_| {
            let (sfn, sm, input) = (sfn.clone(), sm.clone(), input.clone());
            async move {
                sfn.start_execution()
                    .state_machine_arn(sm)
                    .input(input)
                    .send()
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(16)
        .for_each(|()| async {});
    // Sample the tree's memory while the executions run (every 1,000 tasks done).
    let mut samples: Vec<(f64, f64)> = Vec::new();
    let sampler = async {
        let mut next = 1000.0;
        loop {
            let done = w.metric("stefuna_tasks_succeeded_total").await;
            if done >= next {
                samples.push((done, tree_pss_mib(w.pid)));
                next += 1000.0;
            }
            if done >= tasks as f64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(900), async {
        tokio::join!(starts, sampler)
    })
    .await
    .expect("the tasks to finish within 15 minutes");
    let started = w.metric("stefuna_children_started_total").await;
    assert!(
        started >= (tasks / 100) as f64,
        "children started: {started}"
    );
    assert_eq!(
        w.metric("stefuna_child_crashes_total").await,
        0.0,
        "{}",
        w.log()
    );
    let peak = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    let leaked_mib = tasks as f64 * 64.0 / 1024.0;
    eprintln!("samples (tasks done, PSS MiB): {samples:?}; leaked in all {leaked_mib} MiB");
    // Four children hold at most 100 leaks each (25 MiB) on top of their baseline.
    let first = samples.first().map_or(0.0, |s| s.1);
    assert!(
        peak <= first + 40.0,
        "memory grew from {first:.1} to {peak:.1} MiB: {samples:?}"
    );
    assert!(
        peak < leaked_mib / 3.0,
        "peak {peak:.1} MiB against {leaked_mib} MiB leaked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_over_its_memory_limit_fails_only_its_task() {
    let (emu, sfn) = emulator().await;
    let (arn, sm) = machine(&sfn, "memlimit", serde_json::json!({})).await;
    let w = Worker::start(
        "memlimit",
        emu.endpoint(),
        &arn,
        &["--processes", "1"],
        &[("STEFUNA_CHILD_MEMORY_LIMIT_MB", "1024")],
    )
    .await;
    // 4 GiB in one allocation: over the child's 1 GiB address-space limit.
    let big = start(
        &sfn,
        &sm,
        serde_json::json!({"kind": "leak", "leak_kb": 4 * 1024 * 1024}),
    )
    .await;
    let d = ended(&sfn, &big).await;
    assert_eq!(*d.status(), ExecutionStatus::Failed, "{d:?}");
    assert_eq!(d.error(), Some("Stefuna.WorkerCrashed"), "{d:?}");
    let cause = d.cause().unwrap_or_default();
    assert!(cause.contains("SIGABRT"), "{cause}");
    assert!(cause.contains("last stderr lines"), "{cause}");
    // The allocation failure reaches the worker's stderr (with RUST_BACKTRACE set, a backtrace
    // follows it, so the cause's last lines may be the backtrace's).
    assert!(
        w.log()
            .contains("memory allocation of 4294967296 bytes failed"),
        "{}",
        w.log()
    );
    // The worker and its one slot carry on in a new child.
    let next = output(
        &ended(
            &sfn,
            &start(
                &sfn,
                &sm,
                serde_json::json!({"kind": "leak", "leak_kb": 1024}),
            )
            .await,
        )
        .await,
    );
    assert_ne!(next["pid"].as_u64(), Some(u64::from(w.pid)));
    assert_eq!(
        w.metric("stefuna_child_crashes_total").await,
        1.0,
        "{}",
        w.log()
    );
    assert!(alive(w.pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_past_shutdown_grace_is_killed_with_its_child() {
    let (emu, sfn) = emulator().await;
    let (arn, sm) = machine(&sfn, "grace", serde_json::json!({})).await;
    let mut w = Worker::start(
        "grace",
        emu.endpoint(),
        &arn,
        &["--processes", "1", "--shutdown-grace", "1"],
        &[],
    )
    .await;
    // A task that blocks its child forever and ignores cancellation.
    let exec = start(&sfn, &sm, serde_json::json!({"kind": "block"})).await;
    let log = w.stderr.clone();
    until("the blocking child names itself on stderr", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("blocks forever"))
    })
    .await;
    let kids = children_of(w.pid);
    assert_eq!(kids.len(), 1, "{kids:?}");
    let code = crate::support::sigterm_and_wait(&mut w.child).await;
    assert!(
        code.is_some(),
        "the worker exited after its grace: {}",
        w.log()
    );
    let d = ended(&sfn, &exec).await;
    assert_eq!(*d.status(), ExecutionStatus::Failed, "{d:?}");
    assert_eq!(d.error(), Some("Stefuna.WorkerShutdown"), "{d:?}");
    until("the blocked child is gone", || !alive(kids[0])).await;
}
