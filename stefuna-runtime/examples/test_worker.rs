//! A worker for the runtime's child-process tests (`tests/shutdown.rs`), driven by its input:
//!
//! - `{"wait_for_file": PATH}`: an async task that finishes (output `{"done": PATH}`) once the
//!   file exists, or stops when its `Context` is cancelled;
//! - `{"block_forever": true}`: a blocking task that never returns;
//! - anything else: echoed back.
//!
//! Run it with the usual flags: `test_worker --activity-arn ARN --endpoint-url URL`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use stefuna_core::{Activity, Context, Invocation, TaskError};

struct TestWorker;

impl Activity for TestWorker {
    fn name(&self) -> &str {
        "TestWorker"
    }

    fn invoke(self: Arc<Self>, input: String, ctx: Context) -> Invocation {
        let value: serde_json::Value = match stefuna_core::decode_input(&input) {
            Ok(v) => v,
            Err(e) => return Invocation::Async(Box::pin(async move { Err(e) })),
        };
        if value["block_forever"] == true {
            return Invocation::Blocking(Box::new(|| {
                loop {
                    std::thread::park();
                }
            }));
        }
        if let Some(path) = value["wait_for_file"].as_str().map(PathBuf::from) {
            return Invocation::Async(Box::pin(async move {
                loop {
                    if path.exists() {
                        return Ok(serde_json::json!({ "done": path }).to_string());
                    }
                    tokio::select! {
                        () = ctx.cancelled() => return Err(TaskError::msg("cancelled")),
                        () = tokio::time::sleep(Duration::from_millis(20)) => {}
                    }
                }
            }));
        }
        Invocation::Async(Box::pin(async move { Ok(input) }))
    }
}

fn main() -> ExitCode {
    stefuna_runtime::run_main(TestWorker)
}
