//! The stefuna worker of the bench's memory run: each task sleeps `{"ms": N}` milliseconds
//! (async) and answers `{"slept_ms": N}`, so a thousand tasks can be in flight at once.
//!
//! Built by `cargo xtask bench` with `--features bench-sleep`; flags as any stefuna worker
//! (`--endpoint-url`, `--processes`, `--activity-arn`, `--help`).

use std::time::Duration;

use serde_json::{Value, json};

#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:bench-sleep")]
async fn sleep(input: Value) -> Result<Value, stefuna::TaskError> {
    let ms = input["ms"].as_u64().unwrap_or(5000);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(json!({ "slept_ms": ms }))
}
