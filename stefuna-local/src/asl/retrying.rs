//! The attempt loop of the states that can fail and recover (Task, Parallel, Map), shared by
//! both query languages: run an attempt, shape its result, and on an error wait and retry as
//! `Retry` says or hand the error to the first matching `Catch`.

use std::future::Future;

use serde_json::{Map, Value, json};

use super::ErrorCause;
use super::definition::{Results, State, Transition};
use super::interpreter::Exec;
use super::retry::{Catcher, RetryCounts, matches};

/// A state's end: its output, the variables it assigns and the state to go to.
pub(crate) struct Finished {
    pub(crate) output: Value,
    pub(crate) vars: Map<String, Value>,
    pub(crate) next: Option<usize>,
}

impl Finished {
    /// An output and its variables; `next` is filled in by [`Exec::retrying`].
    pub(crate) fn new(output: Value, vars: Map<String, Value>) -> Self {
        Finished {
            output,
            vars,
            next: None,
        }
    }
}

impl Exec {
    /// Runs `attempt` (given the retry count) until it succeeds, a `Retry` gives up or a
    /// `Catch` takes the error. `done` turns a result into the state's end (its errors are
    /// retried and caught like the attempt's, as AWS does with `ResultPath`); `caught` turns
    /// the error output (`{"Error", "Cause"}`) into the end through the Catcher.
    pub(crate) async fn retrying<Fut>(
        &self,
        st: &State,
        results: &Results,
        attempt: impl Fn(u32) -> Fut,
        done: impl Fn(Value, u32) -> Result<Finished, ErrorCause>,
        caught: impl Fn(&Catcher, Value) -> Result<Finished, ErrorCause>,
    ) -> Result<Finished, ErrorCause>
    where
        Fut: Future<Output = Result<Value, ErrorCause>>,
    {
        let mut counts = RetryCounts::default();
        let mut retry_count = 0u32;
        loop {
            let err = match attempt(retry_count)
                .await
                .and_then(|r| done(r, retry_count))
            {
                Ok(mut f) => {
                    f.next = match &st.transition {
                        Transition::Next(t) => Some(t.idx),
                        Transition::End => None,
                    };
                    return Ok(f);
                }
                Err(e) => e,
            };
            if err.error == super::interpreter::RUNTIME {
                return Err(err);
            }
            if let Some(d) = counts.next_delay(&results.retry, &err.error) {
                self.host.sleep(d).await;
                retry_count += 1;
                continue;
            }
            if let Some(c) = results
                .catch
                .iter()
                .find(|c| matches(&c.errors, &err.error))
            {
                let mut f = caught(c, json!({"Error": err.error, "Cause": err.cause}))?;
                f.next = Some(c.next.idx);
                return Ok(f);
            }
            return Err(err);
        }
    }
}
