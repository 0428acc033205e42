//! One task from claim to delivery: invoke the activity (panics caught), beat, watch for loss
//! and shutdown, deliver exactly one result.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use serde::de::IgnoredAny;
use stefuna_core::{Context, Invocation, MAX_PAYLOAD_BYTES, TaskError, TaskToken, names};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::delivery::deliver;
use crate::heartbeat::{SfnHeartbeat, beat_every};
use crate::metrics::Event;
use crate::pool::{ActivityPool, Shared};

/// A running invocation.
enum Job {
    Async(JoinHandle<Result<String, TaskError>>),
    Blocking(JoinHandle<Result<String, TaskError>>),
    /// `invoke` itself panicked.
    Failed(Option<TaskError>),
    /// Running in a child process (`isolation = "process"`), which stops it itself when the
    /// task is cancelled: SIGTERM, then SIGKILL after `lost_task_grace`.
    Process(JoinHandle<Result<String, TaskError>>),
}

impl Job {
    async fn join(&mut self) -> Result<String, TaskError> {
        match self {
            Job::Async(h) | Job::Blocking(h) | Job::Process(h) => match h.await {
                Ok(res) => res,
                Err(e) if e.is_panic() => Err(panic_error(e.into_panic())),
                Err(e) => Err(TaskError::new(
                    names::PANIC,
                    format!("the task was cancelled: {e}"),
                )),
            },
            Job::Failed(err) => Err(err.take().unwrap_or_else(|| {
                TaskError::new(names::PANIC, "the activity panicked when invoked")
            })),
        }
    }

    fn abort(&self) {
        // A blocking closure cannot be stopped; it is left to finish on its own.
        if let Job::Async(h) = self {
            h.abort();
        }
    }
}

/// The error for a panic payload: its message when it is a `&str` or `String`.
pub(crate) fn panic_error(payload: Box<dyn Any + Send>) -> TaskError {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "the task panicked with a non-string payload".to_owned()
    };
    TaskError::new(names::PANIC, msg)
}

/// Checks what a task returned before it goes to `SendTaskSuccess`: Step Functions refuses
/// output that is not JSON or larger than 262,144 bytes, and the state machine should hear why.
pub(crate) fn check_output(result: Result<String, TaskError>) -> Result<String, TaskError> {
    let output = result?;
    if output.len() > MAX_PAYLOAD_BYTES {
        return Err(TaskError::new(
            names::OUTPUT_TOO_LARGE,
            format!(
                "task output is {} bytes of JSON; Step Functions accepts at most {MAX_PAYLOAD_BYTES}",
                output.len()
            ),
        ));
    }
    if let Err(e) = serde_json::from_str::<IgnoredAny>(&output) {
        return Err(TaskError::new(
            names::INVALID_OUTPUT,
            format!("task output is not JSON: {e}"),
        ));
    }
    Ok(output)
}

/// The input key under which a state machine may pass its context to the worker, with
/// `Parameters` such as
/// `"_stefuna": {"execution_id.$": "$$.Execution.Id", "retry_count.$": "$$.State.RetryCount"}`.
/// The task's span then carries `execution` and `attempt` (retry count + 1), and
/// `"entered_time.$": "$$.State.EnteredTime"` feeds `stefuna_schedule_to_start_seconds`
/// ([`crate::schedule`]). The key stays in the input the activity sees: serde ignores unknown
/// fields unless told otherwise (an input type with `deny_unknown_fields` declares it, e.g.
/// `#[serde(rename = "_stefuna")] _stefuna: Option<serde::de::IgnoredAny>`), and removing it
/// would mean parsing and re-writing every input that carries it.
pub(crate) const CORRELATION_KEY: &str = "_stefuna";

/// What a state machine passed under [`CORRELATION_KEY`].
#[derive(Debug, Default, PartialEq, serde::Deserialize)]
pub(crate) struct Correlation {
    /// `$$.Execution.Id`.
    #[serde(default)]
    pub(crate) execution_id: Option<String>,
    /// `$$.State.RetryCount`.
    #[serde(default)]
    pub(crate) retry_count: Option<u64>,
    /// `$$.State.EnteredTime`.
    #[serde(default)]
    pub(crate) entered_time: Option<String>,
}

impl Correlation {
    /// The correlation in `input`, if it has [`CORRELATION_KEY`]; anything malformed is ignored
    /// (the activity, not the span, decides what a bad input is).
    pub(crate) fn from_input(input: &str) -> Correlation {
        #[derive(serde::Deserialize)]
        struct Envelope {
            #[serde(rename = "_stefuna", default)]
            stefuna: Option<Correlation>,
        }
        // Most inputs do not carry it: skip the parse.
        if !input.contains(CORRELATION_KEY) {
            return Correlation::default();
        }
        serde_json::from_str::<Envelope>(input)
            .ok()
            .and_then(|e| e.stefuna)
            .unwrap_or_default()
    }
}

/// Runs one claimed task to the end; `permit` is its slot, freed when this returns.
pub(crate) async fn run(
    shared: Arc<Shared>,
    pool: Arc<ActivityPool>,
    token: TaskToken,
    input: String,
    permit: OwnedSemaphorePermit,
) {
    let span = tracing::info_span!(
        "task",
        activity = %pool.name,
        worker = %shared.worker_name,
        token = %token.short_hash(),
        execution = tracing::field::Empty,
        attempt = tracing::field::Empty,
    );
    let correlation = Correlation::from_input(&input);
    if let Some(execution) = &correlation.execution_id {
        span.record("execution", execution.as_str());
    }
    if let Some(retries) = correlation.retry_count {
        span.record("attempt", retries.saturating_add(1));
    }
    if let Some(waited) = (correlation.entered_time.as_deref())
        .and_then(|entered| shared.service_clock.since(entered))
    {
        shared.metrics.schedule_to_start(&pool.series, waited);
    }
    run_in_span(shared, pool, token, input, permit)
        .instrument(span)
        .await
}

async fn run_in_span(
    shared: Arc<Shared>,
    pool: Arc<ActivityPool>,
    token: TaskToken,
    input: String,
    permit: OwnedSemaphorePermit,
) {
    let started = Instant::now();
    shared.metrics.record(&pool.series, Event::Started);
    tracing::info!("task started");
    let cancel = CancellationToken::new();
    let hb = Arc::new(SfnHeartbeat::new(
        pool.clients.call.clone(),
        token.clone(),
        pool.series.clone(),
        shared.health.clone(),
        cancel.clone(),
    ));
    let ctx = Context::builder()
        .token(token.clone())
        .worker_name(shared.worker_name.clone())
        .activity_arn(pool.arn.clone())
        .heartbeat(hb.clone())
        .cancellation(cancel.clone())
        .worker_config_shared(shared.worker_config.clone())
        .state(shared.state.clone())
        .build();

    let span = tracing::Span::current();
    let activity = pool.activity.clone();
    let mut job = match &pool.children {
        Some(children) => Job::Process(tokio::spawn(
            children
                .clone()
                .run(token.clone(), input, hb.clone(), cancel.clone())
                .instrument(span),
        )),
        None => match std::panic::catch_unwind(AssertUnwindSafe(|| activity.invoke(input, ctx))) {
            Ok(Invocation::Async(fut)) => Job::Async(tokio::spawn(fut.instrument(span))),
            Ok(Invocation::Blocking(f)) => {
                Job::Blocking(tokio::task::spawn_blocking(move || span.in_scope(f)))
            }
            Err(payload) => Job::Failed(Some(panic_error(payload))),
        },
    };
    let beats = pool
        .settings
        .heartbeat
        .filter(|i| !i.is_zero())
        .map(|i| AbortOnDrop(tokio::spawn(beat_every(hb.clone(), i).in_current_span())));

    let took = |outcome| {
        let took = started.elapsed();
        shared.metrics.task_duration(&pool.series, outcome, took);
        took
    };
    let force = &shared.shutdown.force;
    tokio::select! {
        biased;
        result = job.join() => {
            if hb.lost().is_cancelled() {
                took("lost");
                tracing::warn!("task finished after step functions lost it; result not sent");
            } else {
                let result = check_output(result);
                let outcome = if result.is_ok() { "succeeded" } else { "failed" };
                let took = took(outcome);
                if let Err(e) = &result {
                    tracing::debug!(
                        error = %e.error(),
                        took_seconds = took.as_secs_f64(),
                        "task returned an error"
                    );
                } else {
                    tracing::debug!(took_seconds = took.as_secs_f64(), "task returned");
                }
                // Beats go on while a throttled delivery retries, so the task does not time out.
                hb.set_delivering();
                // Boxed: the SDK call's future is kilobytes, and inline it would sit in every
                // task's future for the task's whole life (10,000 sleeping tasks).
                Box::pin(deliver(&shared, &pool, &token, result)).await;
            }
            drop(beats);
        }
        () = hb.lost().cancelled() => {
            drop(beats);
            finish_lost(&shared, &mut job).await;
            took("lost");
        }
        () = force.cancelled() => {
            hb.set_delivering();
            cancel.cancel();
            took("shutdown");
            tracing::warn!("worker shutting down before the task finished; failing it");
            let err = TaskError::new(
                names::WORKER_SHUTDOWN,
                "the worker shut down before the task finished; retry it on another worker",
            );
            Box::pin(deliver(&shared, &pool, &token, Err(err))).await;
            drop(beats);
            job.abort();
        }
    }
    shared.metrics.record(&pool.series, Event::Finished);
    drop(permit);
}

/// The token is dead: the task was cancelled by its heartbeat; give it a short grace to stop,
/// then drop an async task. A blocking task keeps its slot until it returns (it cannot be
/// stopped from outside), unless the worker is forced to shut down.
async fn finish_lost(shared: &Shared, job: &mut Job) {
    match job {
        // The child gets SIGTERM, then SIGKILL after the grace (isolation/parent.rs).
        Job::Process(_) => {
            let _ = job.join().await;
        }
        Job::Async(_) => {
            let done = tokio::time::timeout(shared.lost_task_grace, job.join()).await;
            if done.is_err() {
                tracing::warn!(
                    grace = ?shared.lost_task_grace,
                    "lost task did not stop within its grace; dropping it"
                );
                job.abort();
            }
        }
        Job::Blocking(_) => {
            tokio::select! {
                _ = job.join() => {}
                () = shared.shutdown.force.cancelled() => {}
            }
        }
        Job::Failed(_) => {}
    }
    tracing::info!("lost task ended; its result was not sent");
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_payloads_become_messages() {
        let e = panic_error(Box::new("boom"));
        assert_eq!((e.error(), e.cause()), ("Stefuna.Panic", "boom"));
        let e = panic_error(Box::new(String::from("owned boom")));
        assert_eq!(e.cause(), "owned boom");
        let e = panic_error(Box::new(42u8));
        assert!(e.cause().contains("non-string"), "{}", e.cause());
    }

    #[test]
    fn output_is_checked_before_sending() {
        assert_eq!(check_output(Ok("{\"a\":1}".into())).unwrap(), "{\"a\":1}");
        let e = check_output(Ok("not json".into())).unwrap_err();
        assert_eq!(e.error(), "Stefuna.InvalidOutput");
        let big = format!("\"{}\"", "a".repeat(MAX_PAYLOAD_BYTES));
        assert_eq!(
            check_output(Ok(big)).unwrap_err().error(),
            "Stefuna.OutputTooLarge"
        );
        let e = TaskError::msg("x");
        assert_eq!(check_output(Err(e.clone())).unwrap_err(), e);
    }

    #[test]
    fn correlation_comes_from_the_documented_key() {
        let c = Correlation::from_input(
            r#"{"n": 1, "_stefuna": {"execution_id": "arn:exec", "retry_count": 2,
                "entered_time": "2026-12-01T12:00:00.123Z"}}"#,
        );
        assert_eq!(c.execution_id.as_deref(), Some("arn:exec"));
        assert_eq!(c.retry_count, Some(2));
        assert_eq!(c.entered_time.as_deref(), Some("2026-12-01T12:00:00.123Z"));
        for input in [
            r#"{"n": 1}"#,
            r#"[1, 2]"#,
            r#"{"_stefuna": "not an object"}"#,
            r#"{"_stefuna": {"retry_count": "two"}}"#,
            "not json _stefuna",
        ] {
            assert_eq!(
                Correlation::from_input(input),
                Correlation::default(),
                "{input}"
            );
        }
    }

    #[tokio::test]
    async fn async_and_blocking_panics_are_caught() {
        let mut j = Job::Async(tokio::spawn(async { panic!("async boom") }));
        assert_eq!(j.join().await.unwrap_err().cause(), "async boom");
        let mut j = Job::Blocking(tokio::task::spawn_blocking(|| {
            let n = 3;
            panic!("blocking boom {n}")
        }));
        let e = j.join().await.unwrap_err();
        assert_eq!((e.error(), e.cause()), ("Stefuna.Panic", "blocking boom 3"));
    }
}
