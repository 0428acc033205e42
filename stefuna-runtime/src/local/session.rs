//! A running local session: the emulator, its client and state machine, and the executions of
//! `--input` / `--input-file` with their progress (an indicatif bar for `--input-file`).

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use futures::StreamExt;
use stefuna_local::Emulator;

use super::inputs::Input;
use super::{LocalError, call_error};

/// How often a running execution is described; this is the user's progress display.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Executions started and watched at once.
const IN_FLIGHT: usize = 32;

/// A running local emulator with the activities and state machine created in it.
pub(crate) struct LocalSession {
    pub(super) _emulator: Emulator,
    pub(super) endpoint: String,
    pub(super) region: String,
    pub(super) client: aws_sdk_sfn::Client,
    pub(super) state_machine_arn: String,
    /// What `--input` executions start: the state machine ARN, with `#TESTCASE` for
    /// `--mock-test-case`.
    pub(super) execution_target: String,
    pub(super) inputs: Vec<Input>,
    pub(super) progress_bar: bool,
}

impl std::fmt::Debug for LocalSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSession")
            .field("endpoint", &self.endpoint)
            .field("state_machine_arn", &self.state_machine_arn)
            .field("inputs", &self.inputs.len())
            .finish_non_exhaustive()
    }
}

impl LocalSession {
    /// The emulator's endpoint URL.
    #[cfg_attr(not(test), allow(dead_code))] // agreed interface; the runtime prints it via start
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether `--input` or `--input-file` gave executions to run.
    pub(crate) fn has_inputs(&self) -> bool {
        !self.inputs.is_empty()
    }

    /// The region the emulator's ARNs are in.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn region(&self) -> &str {
        &self.region
    }

    /// The ARN of the state machine created for the activities.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn state_machine_arn(&self) -> &str {
        &self.state_machine_arn
    }

    /// Starts the executions of --input/--input-file, shows progress (indicatif bar for
    /// --input-file), prints each result (output JSON, or error + cause), returns true when all
    /// SUCCEEDED.
    pub(crate) async fn run_inputs(&self) -> Result<bool, LocalError> {
        let outcomes = self.run_all().await?;
        Ok(outcomes.iter().all(|o| o.succeeded))
    }

    /// [`LocalSession::run_inputs`], returning each outcome as printed.
    pub(super) async fn run_all(&self) -> Result<Vec<Outcome>, LocalError> {
        let bar = self.progress_bar.then(|| {
            let bar = indicatif::ProgressBar::new(self.inputs.len() as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} executions finished ({elapsed})",
            ) {
                bar.set_style(style);
            }
            bar
        });
        let runs = futures::stream::iter(&self.inputs).map(|input| self.run_one(input));
        let mut outcomes = Vec::with_capacity(self.inputs.len());
        let mut report = |outcome: Outcome| {
            // Results go to stdout either way; the bar (on stderr) steps aside while one prints.
            match &bar {
                Some(bar) => {
                    bar.suspend(|| println!("{}", outcome.line));
                    bar.inc(1);
                }
                None => println!("{}", outcome.line),
            }
            outcomes.push(outcome);
        };
        // With a bar, results print as they come; plain --input keeps the order given.
        if bar.is_some() {
            let mut results = runs.buffer_unordered(IN_FLIGHT);
            while let Some(outcome) = results.next().await {
                report(outcome?);
            }
        } else {
            let mut results = runs.buffered(IN_FLIGHT);
            while let Some(outcome) = results.next().await {
                report(outcome?);
            }
        }
        if let Some(bar) = &bar {
            bar.finish();
        }
        Ok(outcomes)
    }

    async fn run_one(&self, input: &Input) -> Result<Outcome, LocalError> {
        let execution_arn = self
            .client
            .start_execution()
            .state_machine_arn(&self.execution_target)
            .name(&input.name)
            .input(&input.json)
            .send()
            .await
            .map_err(|e| call_error(format!("start execution `{}`", input.name), e))?
            .execution_arn()
            .to_owned();
        loop {
            let out = self
                .client
                .describe_execution()
                .execution_arn(&execution_arn)
                .send()
                .await
                .map_err(|e| call_error(format!("describe execution `{}`", input.name), e))?;
            let status = out.status();
            if *status == ExecutionStatus::Running || *status == ExecutionStatus::PendingRedrive {
                tokio::time::sleep(POLL_INTERVAL).await;
                continue;
            }
            return Ok(outcome(
                &input.name,
                status.as_str(),
                out.output(),
                out.error(),
                out.cause(),
            ));
        }
    }
}

/// How one execution ended, as printed.
#[derive(Debug, PartialEq)]
pub(super) struct Outcome {
    pub(super) succeeded: bool,
    pub(super) line: String,
}

fn outcome(
    name: &str,
    status: &str,
    output: Option<&str>,
    error: Option<&str>,
    cause: Option<&str>,
) -> Outcome {
    let succeeded = status == "SUCCEEDED";
    let detail = if succeeded {
        output.unwrap_or("null").to_owned()
    } else {
        match (error, cause) {
            (Some(e), Some(c)) => format!("{e}: {c}"),
            (Some(e), None) => e.to_owned(),
            (None, Some(c)) => c.to_owned(),
            (None, None) => "(no error given)".to_owned(),
        }
    };
    Outcome {
        succeeded,
        line: format!("execution {name} {status}: {detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_print_output_or_error_and_cause() {
        let ok = outcome(
            "input-1",
            "SUCCEEDED",
            Some(r#"{"message":"Hello World"}"#),
            None,
            None,
        );
        assert!(ok.succeeded);
        assert_eq!(
            ok.line,
            r#"execution input-1 SUCCEEDED: {"message":"Hello World"}"#
        );
        let failed = outcome(
            "input-2",
            "FAILED",
            None,
            Some("Task.Failure"),
            Some("boom"),
        );
        assert!(!failed.succeeded);
        assert_eq!(failed.line, "execution input-2 FAILED: Task.Failure: boom");
        assert!(!outcome("x", "TIMED_OUT", None, Some("States.Timeout"), None).succeeded);
    }
}
