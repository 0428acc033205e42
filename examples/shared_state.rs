//! Typed `worker_config` and shared state: the greeting comes from `[worker_config]` (in
//! `stefuna.toml`, or `STEFUNA_WORKER_CONFIG__GREETING=Hi`), and a counter shared by all tasks
//! is registered with `.state(...)`.
//!
//! ```sh
//! STEFUNA_WORKER_CONFIG__GREETING=Hi cargo run --example shared_state -- --local \
//!     --input '{"name": "Ann"}' --input '{"name": "Bob"}'
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use stefuna::{Context, TaskError};

#[derive(Deserialize)]
struct Input {
    name: String,
}

#[derive(Serialize)]
struct Output {
    message: String,
    served: u64,
}

/// This worker's `[worker_config]` table.
#[derive(Deserialize)]
struct WorkerConfig {
    #[serde(default = "default_greeting")]
    greeting: String,
}

fn default_greeting() -> String {
    "Hello".to_owned()
}

/// Counts the greetings this process has served.
#[derive(Default)]
struct Served(AtomicU64);

#[stefuna::activity(
    arn = "arn:aws:states:us-east-1:123456789012:activity:greeter",
    main = false
)]
async fn greeter(input: Input, ctx: &Context) -> Result<Output, TaskError> {
    let config: WorkerConfig = ctx
        .worker_config()
        .map_err(|e| TaskError::new("Greeter.BadConfig", e.to_string()))?;
    let served = ctx
        .state::<Served>()
        .ok_or_else(|| TaskError::msg("the Served counter is not registered"))?;
    let served = served.0.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(Output {
        message: format!("{} {}", config.greeting, input.name),
        served,
    })
}

fn main() -> std::process::ExitCode {
    stefuna::Server::builder()
        .activity(Greeter)
        .state(Served::default())
        .run_main()
}
