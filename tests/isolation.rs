//! Process isolation (`isolation = "process"`) with real processes: the `isolated` example
//! against stefuna-local. A crash costs one task, a lost blocking task's child is killed,
//! children are recycled after `maxtasksperchild` tasks, a SIGKILLed worker leaves no child,
//! and `--local --input` works in process mode. Limits (leaks, memory, shutdown's grace) are in
//! `isolation_limits.rs`.

#![cfg(target_os = "linux")]

#[path = "support/isolated.rs"]
mod isolated;
use stefuna_testkit as support;

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use isolated::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_fails_only_its_task_with_worker_crashed_and_is_retried() {
    let (emu, sfn) = emulator().await;
    let retry = serde_json::json!({"Retry": [{"ErrorEquals": ["Stefuna.WorkerCrashed"], "MaxAttempts": 1, "IntervalSeconds": 1}]});
    let (arn, sm) = machine(&sfn, "crash", retry).await;
    let w = Worker::start("crash", emu.endpoint(), &arn, &["--processes", "8"], &[]).await;

    // Seven tasks in flight (they sleep until the crash is over), then one that aborts.
    let mut slow = Vec::new();
    for _ in 0..7 {
        slow.push(start(&sfn, &sm, serde_json::json!({"sleep_ms": 3000})).await);
    }
    let crash = start(&sfn, &sm, serde_json::json!({"kind": "abort"})).await;
    let crashed = ended(&sfn, &crash).await;
    assert_eq!(*crashed.status(), ExecutionStatus::Failed, "{crashed:?}");
    assert_eq!(
        crashed.error(),
        Some("Stefuna.WorkerCrashed"),
        "{crashed:?}"
    );
    let cause = crashed.cause().unwrap_or_default();
    assert!(cause.contains("SIGABRT"), "{cause}");
    assert!(
        cause.contains("aborting on purpose"),
        "the cause carries the child's stderr: {cause}"
    );

    let mut pids = std::collections::HashSet::new();
    for exec in &slow {
        let out = output(&ended(&sfn, exec).await);
        assert_ne!(
            out["pid"].as_u64(),
            Some(u64::from(w.pid)),
            "tasks run in children"
        );
        assert_eq!(
            out["pid"], out["init_pid"],
            "the init hook ran in the task's child"
        );
        pids.insert(out["pid"].as_u64().unwrap());
    }
    assert_eq!(pids.len(), 7, "seven tasks in flight ran in seven children");
    // The state machine retried the crashed task once: two crashes, each replaced.
    assert_eq!(
        w.metric("stefuna_child_crashes_total").await,
        2.0,
        "{}",
        w.log()
    );
    let after = output(&ended(&sfn, &start(&sfn, &sm, serde_json::json!({})).await).await);
    assert!(
        pids.contains(&after["pid"].as_u64().unwrap()),
        "a warm child took the next task"
    );
    assert!(alive(w.pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxtasksperchild_3_over_10_tasks_on_one_slot_starts_4_children() {
    let (emu, sfn) = emulator().await;
    let (arn, sm) = machine(&sfn, "recycle", serde_json::json!({})).await;
    let w = Worker::start(
        "recycle",
        emu.endpoint(),
        &arn,
        &["--processes", "1"],
        &[("STEFUNA_MAXTASKSPERCHILD", "3")],
    )
    .await;
    let mut runs = Vec::new();
    for _ in 0..10 {
        let out = output(&ended(&sfn, &start(&sfn, &sm, serde_json::json!({})).await).await);
        runs.push((out["pid"].as_u64().unwrap(), out["tasks"].as_u64().unwrap()));
    }
    assert_eq!(
        w.metric("stefuna_children_started_total").await,
        4.0,
        "{}",
        w.log()
    );
    assert_eq!(
        runs.iter().map(|r| r.1).collect::<Vec<_>>(),
        [1, 2, 3, 1, 2, 3, 1, 2, 3, 1]
    );
    let distinct: std::collections::HashSet<_> = runs.iter().map(|r| r.0).collect();
    assert_eq!(distinct.len(), 4, "{runs:?}");
    assert_eq!(w.metric("stefuna_child_crashes_total").await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_blocking_task_is_killed_and_frees_its_slot() {
    let (emu, sfn) = emulator().await;
    // HeartbeatSeconds 2 emulated (0.2 s real); the worker beats every second, so its first beat
    // finds the task timed out.
    let (arn, sm) = machine(&sfn, "lost", serde_json::json!({"HeartbeatSeconds": 2})).await;
    let w = Worker::start(
        "lost",
        emu.endpoint(),
        &arn,
        &["--processes", "1", "--heartbeat", "1"],
        &[("STEFUNA_SERVER_CONFIG__LOST_TASK_GRACE", "1")],
    )
    .await;
    let blocked = start(&sfn, &sm, serde_json::json!({"kind": "block"})).await;
    let d = ended(&sfn, &blocked).await;
    assert!(
        d.error()
            .is_some_and(|e| e.starts_with("States.") && e.contains("Timeout")),
        "{d:?}"
    );
    let mut blocker = None;
    until("the blocking child names itself on stderr", || {
        blocker = w.log().lines().find_map(|l| {
            l.split("isolated: pid ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u32>()
                .ok()
        });
        blocker.is_some()
    })
    .await;
    let blocker = blocker.unwrap();
    // The one slot is free again only once the blocking child is gone: a thread could not be
    // stopped, a process is killed.
    let next = output(&ended(&sfn, &start(&sfn, &sm, serde_json::json!({})).await).await);
    assert_ne!(next["pid"].as_u64(), Some(u64::from(blocker)));
    assert!(
        !alive(blocker),
        "the blocking child {blocker} is still alive"
    );
    assert!(
        w.log()
            .contains("child did not stop within its grace; killing it"),
        "{}",
        w.log()
    );
    assert_eq!(w.metric("stefuna_tasks_lost_total").await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_worker_leaves_no_child() {
    let (emu, sfn) = emulator().await;
    let (arn, sm) = machine(&sfn, "orphans", serde_json::json!({})).await;
    let mut w = Worker::start("orphans", emu.endpoint(), &arn, &["--processes", "3"], &[]).await;
    for _ in 0..3 {
        start(&sfn, &sm, serde_json::json!({"kind": "block"})).await;
    }
    let mut kids = Vec::new();
    until("three children run blocking tasks", || {
        kids = children_of(w.pid);
        kids.len() == 3
    })
    .await;
    w.child.start_kill().unwrap();
    w.child.wait().await.unwrap();
    until("every child exited after its parent was SIGKILLed", || {
        kids.iter().all(|p| !alive(*p))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mode_runs_inputs_in_children() {
    let out = support::example_command("isolated")
        .args(["--local", "--input", r#"{"kind": "ok"}"#, "--input", "{}"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("\"init_pid\"").count(), 2, "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_children() {
    let (emu, sfn) = emulator().await;
    let (arn, sm) = machine(&sfn, "drain", serde_json::json!({})).await;
    let mut w = Worker::start("drain", emu.endpoint(), &arn, &["--processes", "2"], &[]).await;
    // Warm one child, then put a task in flight and SIGTERM the worker while it runs.
    output(&ended(&sfn, &start(&sfn, &sm, serde_json::json!({})).await).await);
    let exec = start(&sfn, &sm, serde_json::json!({"sleep_ms": 1500})).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while w.metric("stefuna_tasks_in_flight").await < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the task did not start within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let kids = children_of(w.pid);
    assert!(!kids.is_empty());
    assert_eq!(
        support::sigterm_and_wait(&mut w.child).await,
        Some(0),
        "{}",
        w.log()
    );
    let out = output(&ended(&sfn, &exec).await);
    assert!(
        kids.contains(&(out["pid"].as_u64().unwrap() as u32)),
        "{out} {kids:?}"
    );
    for pid in kids {
        assert!(!alive(pid), "child {pid} outlived the drained worker");
    }
}
