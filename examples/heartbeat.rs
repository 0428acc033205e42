//! A long task: it works in steps, sends a manual heartbeat between steps and stops early when
//! the worker cancels it (shutdown, lost task), using `tokio::select!` on `ctx.cancelled()`.
//!
//! ```sh
//! cargo run --example heartbeat -- --local --input '{"steps": 3, "step_ms": 100}'
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stefuna::{Context, TaskError};

#[derive(Deserialize)]
struct Input {
    /// How many steps to run.
    steps: u32,
    /// How long each step takes, in milliseconds.
    #[serde(default = "default_step_ms")]
    step_ms: u64,
}

fn default_step_ms() -> u64 {
    1000
}

#[derive(Serialize)]
struct Output {
    steps_done: u32,
}

#[stefuna::activity(
    arn = "arn:aws:states:us-east-1:123456789012:activity:crunch",
    heartbeat = 10
)]
async fn crunch(input: Input, ctx: &Context) -> Result<Output, TaskError> {
    let mut steps_done = 0;
    for _ in 0..input.steps {
        tokio::select! {
            () = ctx.cancelled() => {
                return Err(TaskError::new("Crunch.Cancelled", format!("stopped after {steps_done} steps")));
            }
            () = tokio::time::sleep(Duration::from_millis(input.step_ms)) => {}
        }
        steps_done += 1;
        // Tell Step Functions the task is alive; a failed beat means the task is gone.
        ctx.heartbeat()
            .await
            .map_err(|e| TaskError::new("Crunch.Lost", e.to_string()))?;
    }
    Ok(Output { steps_done })
}
