//! Process isolation: every task runs in a warm child process of this binary, so an `abort()`,
//! a segfault or a leak in native code costs one task, not the worker. The input says what the
//! task does; the output names the child that ran it. `tests/isolation.rs` drives it.
//!
//! ```sh
//! cargo run --example isolated -- --local --input '{"kind": "ok"}'
//! ```
//!
//! Input: `{"kind": "ok" | "abort" | "leak" | "block", "leak_kb": 64, "sleep_ms": 0}`:
//! `abort` calls `std::process::abort()`, `leak` leaks `leak_kb` KiB on purpose, `block` blocks
//! its thread forever and ignores cancellation (only a kill stops it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stefuna::{Context, InitContext, InitError, TaskError};

#[derive(Deserialize, Default)]
#[serde(rename_all = "snake_case")]
enum Kind {
    #[default]
    Ok,
    Abort,
    Leak,
    Block,
}

#[derive(Deserialize)]
struct Input {
    #[serde(default)]
    kind: Kind,
    #[serde(default)]
    leak_kb: usize,
    #[serde(default)]
    sleep_ms: u64,
}

#[derive(Serialize)]
struct Output {
    /// The process that ran the task.
    pid: u32,
    /// The process the init hook ran in (the same one: the hook runs once per child).
    init_pid: u32,
    /// Tasks this process ran, this one included.
    tasks: u64,
}

/// State built once per child by the init hook.
struct PerChild {
    pid: u32,
    tasks: AtomicU64,
}

async fn init(_ctx: InitContext) -> Result<PerChild, InitError> {
    Ok(PerChild {
        pid: std::process::id(),
        tasks: AtomicU64::new(0),
    })
}

#[stefuna::activity(
    arn = "arn:aws:states:us-east-1:123456789012:activity:isolated",
    isolation = "process",
    init = init
)]
fn isolated(input: Input, ctx: &Context) -> Result<Output, TaskError> {
    let state = ctx
        .state::<PerChild>()
        .ok_or_else(|| TaskError::msg("the init hook did not run"))?;
    let tasks = state.tasks.fetch_add(1, Ordering::Relaxed) + 1;
    if input.sleep_ms > 0 {
        std::thread::sleep(Duration::from_millis(input.sleep_ms));
    }
    match input.kind {
        Kind::Ok => {}
        Kind::Abort => {
            eprintln!("isolated: aborting on purpose");
            std::process::abort();
        }
        Kind::Leak => {
            // Touch every page, so the leak is resident memory and not just address space.
            std::mem::forget(vec![1u8; input.leak_kb * 1024]);
        }
        Kind::Block => {
            eprintln!("isolated: pid {} blocks forever", std::process::id());
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    }
    Ok(Output {
        pid: std::process::id(),
        init_pid: state.pid,
        tasks,
    })
}
