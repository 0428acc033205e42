//! The getting-started worker: `{"name": "World"}` → `{"message": "Hello World"}`.
//!
//! ```sh
//! cargo run --example hello -- --local --input '{"name": "World"}'
//! ```

use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    name: String,
}

#[derive(Serialize)]
struct Output {
    message: String,
}

#[stefuna::activity(
    arn = "arn:aws:states:us-east-1:123456789012:activity:hello",
    heartbeat = 120
)]
async fn hello(input: Input) -> Result<Output, stefuna::TaskError> {
    Ok(Output {
        message: format!("Hello {}", input.name),
    })
}
