//! An activity that refuses some inputs with its own error name, `Greeting.Rejected`, which a
//! state machine can match in `Catch` or `Retry` (see `state-machines/failure.asl.json`).
//!
//! ```sh
//! cargo run --example failure -- --local \
//!     --state-machine examples/state-machines/failure.asl.json --input '{"name": ""}'
//! ```

use serde::{Deserialize, Serialize};
use stefuna::TaskError;

#[derive(Deserialize)]
struct Input {
    name: String,
}

#[derive(Serialize)]
struct Output {
    message: String,
}

/// Why a greeting was refused.
#[derive(Debug)]
enum GreetingError {
    EmptyName,
}

impl From<GreetingError> for TaskError {
    fn from(err: GreetingError) -> Self {
        match err {
            GreetingError::EmptyName => TaskError::new("Greeting.Rejected", "the name is empty"),
        }
    }
}

#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:greet")]
async fn greet(input: Input) -> Result<Output, GreetingError> {
    if input.name.trim().is_empty() {
        return Err(GreetingError::EmptyName);
    }
    Ok(Output {
        message: format!("Hello {}", input.name),
    })
}
