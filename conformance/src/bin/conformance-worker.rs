//! The worker process of the `drain_on_sigterm` scenario: one activity, `Gated`, which prints
//! `task started` on stdout when a task begins and finishes it with `{"drained": true}` once a
//! line arrives on stdin. Flags and configuration are a worker binary's (`run_main`).

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use stefuna_core::{Activity, Context, Invocation, TaskError};
use stefuna_runtime::Server;

/// Holds each task until the test writes a line on stdin.
struct Gated;

impl Activity for Gated {
    fn name(&self) -> &str {
        "Gated"
    }

    fn invoke(self: Arc<Self>, _input: String, _ctx: Context) -> Invocation {
        Invocation::Blocking(Box::new(|| {
            let mut out = std::io::stdout().lock();
            writeln!(out, "task started")
                .and_then(|()| out.flush())
                .map_err(|e| TaskError::msg(format!("cannot write stdout: {e}")))?;
            drop(out);
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| TaskError::msg(format!("cannot read stdin: {e}")))?;
            Ok(r#"{"drained":true}"#.to_owned())
        }))
    }
}

fn main() -> ExitCode {
    Server::builder().activity(Gated).run_main()
}
