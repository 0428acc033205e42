//! Running the insides of inline Parallel and Map states, for both query languages: each
//! branch and each iteration runs in a variable scope of its own.

use futures::future::try_join_all;
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};

use super::ErrorCause;
use super::definition::{Machine, MapState, State};
use super::interpreter::{AbortGuard, Exec};

impl Exec {
    /// Runs a Parallel state's branches on `input`: their outputs in branch order.
    pub(super) async fn branches(
        &self,
        branches: &[Machine],
        input: &Value,
    ) -> Result<Vec<Value>, ErrorCause> {
        let runs = branches.iter().map(|b| {
            let child = self.child();
            let input = input.clone();
            async move { child.run_machine(b, input).await }
        });
        try_join_all(runs).await
    }

    /// Runs an inline Map state's iterations, at most `max_concurrency` at once (0: no
    /// limit), recording the Map events: the outputs as an array in item order.
    pub(super) async fn run_iterations(
        &self,
        st: &State,
        map: &MapState,
        inputs: Vec<Value>,
        max_concurrency: u64,
    ) -> Result<Value, ErrorCause> {
        let n = inputs.len();
        self.record(
            "MapStateStarted",
            Some("mapStateStartedEventDetails"),
            &json!({ "length": n }),
        );
        let limit = match max_concurrency {
            0 => n.max(1),
            c => usize::try_from(c).unwrap_or(usize::MAX).min(n.max(1)),
        };
        let name = &st.name;
        let runs = inputs.into_iter().enumerate().map(|(i, input)| async move {
            let details = json!({"name": name, "index": i});
            self.record(
                "MapIterationStarted",
                Some("mapIterationStartedEventDetails"),
                &details,
            );
            let mut guard = AbortGuard::new(
                self,
                "MapIterationAborted",
                Some("mapIterationAbortedEventDetails"),
                details.clone(),
            );
            let result = self.child().run_machine(&map.processor, input).await;
            guard.disarm();
            match result {
                Ok(v) => {
                    self.record(
                        "MapIterationSucceeded",
                        Some("mapIterationSucceededEventDetails"),
                        &details,
                    );
                    Ok((i, v))
                }
                Err(e) => {
                    self.record(
                        "MapIterationFailed",
                        Some("mapIterationFailedEventDetails"),
                        &details,
                    );
                    Err(e)
                }
            }
        });
        let done: Result<Vec<(usize, Value)>, ErrorCause> = stream::iter(runs)
            .buffer_unordered(limit)
            .try_collect()
            .await;
        match done {
            Ok(mut outs) => {
                outs.sort_unstable_by_key(|(i, _)| *i);
                self.record("MapStateSucceeded", None, &Value::Null);
                Ok(Value::Array(outs.into_iter().map(|(_, v)| v).collect()))
            }
            Err(e) => {
                self.record("MapStateFailed", None, &Value::Null);
                Err(e)
            }
        }
    }
}
