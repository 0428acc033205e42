//! The worker of the chaos suite (`tests/chaos.rs`, `cargo xtask chaos`): a task's input says
//! how it behaves, and with `CHAOS_RUN_LOG=PATH` every run appends one line when it starts and
//! one when it ends, so a test can count how many times each task ran.
//!
//! Input (the state machine wraps the execution input with `Parameters`):
//!
//! ```json
//! {"exec": "execution name", "retry": 0, "job": {"n": 7, "kind": "ok", "sleep_ms": 20}}
//! ```
//!
//! - `kind`: `ok` (sleep `sleep_ms`, answer `{"exec", "n": 2n}`), `panic`, `slow` (like `ok` but
//!   stops early when the worker cancels it), `block_thread` (ignores cancellation and blocks its
//!   runtime thread forever);
//! - an `n` that is not a number does not decode: the worker answers `Stefuna.InvalidInput`.
//!
//! Log lines: `start|end|cancelled EXEC RETRY PID TOKEN_HASH`.
//!
//! ```sh
//! cargo run --example chaos_worker -- --activity-arn ARN --endpoint-url http://127.0.0.1:8083
//! ```

use std::fs::File;
use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stefuna::{Context, TaskError};

#[derive(Deserialize)]
struct Input {
    /// The execution's name (`$$.Execution.Name`).
    exec: String,
    /// The attempt (`$$.State.RetryCount`).
    #[serde(default)]
    retry: u32,
    /// What to do.
    job: Job,
}

#[derive(Deserialize)]
struct Job {
    n: u64,
    #[serde(default)]
    kind: Kind,
    #[serde(default)]
    sleep_ms: u64,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Kind {
    #[default]
    Ok,
    Panic,
    Slow,
    BlockThread,
}

#[derive(Serialize)]
struct Output {
    exec: String,
    n: u64,
}

/// The run log, opened once in append mode (one `write` per line, so lines from several
/// processes never interleave).
fn run_log() -> Option<&'static File> {
    static LOG: OnceLock<Option<File>> = OnceLock::new();
    LOG.get_or_init(|| {
        let path = std::env::var_os("CHAOS_RUN_LOG")?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open CHAOS_RUN_LOG {path:?}: {e}"));
        Some(file)
    })
    .as_ref()
}

fn note(event: &str, input: &Input, ctx: &Context) {
    if let Some(mut file) = run_log() {
        let line = format!(
            "{event} {} {} {} {}\n",
            input.exec,
            input.retry,
            std::process::id(),
            ctx.token().short_hash()
        );
        // A lost line would show as a task that never ran: fail loudly instead.
        file.write_all(line.as_bytes())
            .expect("cannot write CHAOS_RUN_LOG");
    }
}

#[stefuna::activity(
    arn = "arn:aws:states:us-east-1:123456789012:activity:chaos",
    heartbeat = 1
)]
async fn chaos(input: Input, ctx: &Context) -> Result<Output, TaskError> {
    note("start", &input, ctx);
    match input.job.kind {
        Kind::Panic => panic!("chaos: task {} panics as asked", input.exec),
        Kind::BlockThread => loop {
            // Deliberately wrong: blocks a runtime thread and never looks at cancellation.
            std::thread::sleep(Duration::from_secs(3600));
        },
        Kind::Ok | Kind::Slow => {}
    }
    let sleep = tokio::time::sleep(Duration::from_millis(input.job.sleep_ms));
    if input.job.kind == Kind::Slow {
        tokio::select! {
            () = sleep => {}
            () = ctx.cancelled() => {
                note("cancelled", &input, ctx);
                return Err(TaskError::new("Chaos.Cancelled", "the worker cancelled the task"));
            }
        }
    } else {
        sleep.await;
    }
    note("end", &input, ctx);
    Ok(Output {
        n: input.job.n * 2,
        exec: input.exec,
    })
}
