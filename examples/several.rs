//! Several activities in one worker: `main = false` on each and a hand-written `main` hosting
//! both with `stefuna::Server::builder()`. One is an `async fn`, the other a plain `fn` (run on
//! the blocking pool). In local mode the state machine runs them one after the other.
//!
//! ```sh
//! cargo run --example several -- --local --input '{"text": "hello"}'
//! ```

use serde::{Deserialize, Serialize};
use stefuna::TaskError;

#[derive(Deserialize)]
struct Text {
    text: String,
}

#[derive(Serialize, Deserialize)]
struct Shouted {
    text: String,
    shouted: String,
}

#[derive(Serialize)]
struct Counted {
    shouted: String,
    letters: usize,
}

/// Upper-cases the text.
#[stefuna::activity(
    arn = "arn:aws:states:us-east-1:123456789012:activity:shout",
    main = false
)]
async fn shout(input: Text) -> Result<Shouted, TaskError> {
    Ok(Shouted {
        shouted: input.text.to_uppercase(),
        text: input.text,
    })
}

/// Counts the letters (blocking code is fine in a plain `fn`).
#[stefuna::activity(
    arn = "arn:aws:states:us-east-1:123456789012:activity:count",
    main = false,
    concurrency = 2
)]
fn count(input: Shouted) -> Result<Counted, TaskError> {
    Ok(Counted {
        letters: input.text.chars().filter(|c| c.is_alphabetic()).count(),
        shouted: input.shouted,
    })
}

fn main() -> std::process::ExitCode {
    stefuna::Server::builder()
        .activity(Shout)
        .activity(Count)
        .run_main()
}
