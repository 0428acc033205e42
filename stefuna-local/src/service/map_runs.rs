//! Map Runs: a Distributed Map's items run as child executions (at most `MaxConcurrency` at
//! once; the run fails past `ToleratedFailureCount`/`ToleratedFailurePercentage`), and the
//! DescribeMapRun and ListMapRuns operations.
//!
//! Names as AWS makes them: the Map Run `mapRun:{machine}/{label or id}:{id}`, its children's
//! state machine `stateMachine:{machine}/{label or id}` and executions
//! `execution:{machine}/{label or id}:{uuid}`.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::executions::ExecStatus;
use super::machines::MachineDef;
use super::{Call, Execution, Service, lock, paging, read, reply, write};
use crate::asl::{ErrorCause, MapRunRequest};
use crate::clock::{Clock, epoch};
use crate::error::{ApiError, ApiResult};
use crate::names::{arn, check_arn, region_of, uuid_v4};

/// AWS's error and cause when the failures exceed the tolerated threshold (recorded:
/// `test_state_configuration.snapshot.json`, `exceeds_tolerated_failure`).
const EXCEEDED: (&str, &str) = (
    "States.ExceedToleratedFailureThreshold",
    "The specified tolerated failure threshold was exceeded",
);

/// Item or execution counts, as DescribeMapRun shows them.
#[derive(Clone, Copy, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Counts {
    pending: u64,
    running: u64,
    succeeded: u64,
    failed: u64,
    timed_out: u64,
    aborted: u64,
    total: u64,
    results_written: u64,
}

struct RunState {
    status: &'static str,
    stop: Option<f64>,
    counts: Counts,
}

/// One Map Run.
pub(crate) struct MapRun {
    arn: String,
    execution_arn: String,
    state_machine_arn: String,
    seq: u64,
    start: f64,
    max_concurrency: u64,
    tolerated_count: Option<u64>,
    tolerated_percentage: Option<f64>,
    state: Mutex<RunState>,
    /// Its child executions, oldest first (ListExecutions with `mapRunArn`).
    pub(crate) children: Mutex<Vec<Arc<Execution>>>,
}

impl MapRun {
    /// Whether `failed` of the items exceeds the tolerated threshold. Neither set: none is
    /// tolerated; both set: exceeding either fails the run (AWS's documentation).
    fn exceeded(&self, failed: u64) -> bool {
        let total = lock(&self.state).counts.total;
        match (self.tolerated_count, self.tolerated_percentage) {
            (None, None) => failed > 0,
            (count, pct) => {
                count.is_some_and(|c| failed > c)
                    || pct.is_some_and(|p| failed as f64 * 100.0 > p * total as f64)
            }
        }
    }

    fn stop(&self, status: &'static str, now: f64) {
        let mut st = lock(&self.state);
        if st.status == "RUNNING" {
            st.status = status;
            st.stop = Some(now);
        }
    }
}

/// Aborts the children still running when the Map Run ends early: its parent was stopped, or
/// the run failed.
struct AbortChildren<'a> {
    run: &'a MapRun,
    clock: Clock,
}

impl Drop for AbortChildren<'_> {
    fn drop(&mut self) {
        let children = lock(&self.run.children).clone();
        for child in children {
            if child.abort() {
                let mut st = lock(&self.run.state);
                st.counts.running = st.counts.running.saturating_sub(1);
                st.counts.aborted += 1;
            }
        }
        self.run.stop("ABORTED", epoch(self.clock.now()));
    }
}

/// Runs a Map Run for `parent` to its end (see [`crate::asl::Host::map_run`]).
pub(super) async fn run(
    svc: Arc<Service>,
    parent: Arc<Execution>,
    req: MapRunRequest,
) -> Result<Vec<Value>, ErrorCause> {
    let region = region_of(&parent.arn).to_owned();
    let machine = parent
        .machine_arn
        .split_once(":stateMachine:")
        .map_or(parent.machine_arn.as_str(), |(_, name)| name);
    let id = uuid_v4().to_string();
    let child_machine = format!(
        "{machine}/{}",
        req.label.clone().unwrap_or_else(|| id.clone())
    );
    let n = req.items.len() as u64;
    let run = Arc::new(MapRun {
        arn: arn(&region, "mapRun", &format!("{child_machine}:{id}")),
        execution_arn: parent.arn.clone(),
        state_machine_arn: arn(&region, "stateMachine", &child_machine),
        seq: svc.next_seq(),
        start: epoch(svc.clock.now()),
        max_concurrency: req.max_concurrency,
        tolerated_count: req.tolerated_failure_count,
        tolerated_percentage: req.tolerated_failure_percentage,
        state: Mutex::new(RunState {
            status: "RUNNING",
            stop: None,
            counts: Counts {
                pending: n,
                total: n,
                ..Counts::default()
            },
        }),
        children: Mutex::default(),
    });
    write(&svc.map_runs).insert(run.arn.clone(), run.clone());
    parent.record_at(
        svc.clock.now(),
        "MapRunStarted",
        Some("mapRunStartedEventDetails"),
        &serde_json::json!({ "mapRunArn": run.arn }),
    );
    let def = Arc::new(MachineDef {
        definition: req.processor.definition.to_string(),
        parsed: req.processor.clone(),
        role_arn: parent.def.role_arn.clone(),
        updated: None,
    });
    let mut guard = Some(AbortChildren {
        run: &run,
        clock: svc.clock.clone(),
    });
    let limit = match req.max_concurrency {
        0 => req.items.len().max(1),
        c => usize::try_from(c)
            .unwrap_or(usize::MAX)
            .min(req.items.len().max(1)),
    };
    let mut outputs = vec![Value::Null; req.items.len()];
    let mocks = parent.mocks.clone();
    let children = req.items.into_iter().enumerate().map(|(i, item)| {
        let (svc, run, def, child_machine, region, mocks) =
            (&svc, &run, &def, &child_machine, &region, &mocks);
        async move {
            let name = uuid_v4().to_string();
            let child = Execution::started(
                crate::names::execution_arn(region, child_machine, &name),
                name,
                run.state_machine_arn.clone(),
                child_machine.clone(),
                def.clone(),
                item.to_string(),
                &svc.clock,
                Some(run.arn.clone()),
                mocks.clone(),
            );
            write(&svc.executions).insert(child.arn.clone(), child.clone());
            lock(&run.children).push(child.clone());
            {
                let mut st = lock(&run.state);
                st.counts.pending -= 1;
                st.counts.running += 1;
            }
            svc.drive(child.clone(), def.parsed.clone(), item).await;
            let (status, output, ..) = child.outcome();
            let mut st = lock(&run.state);
            let c = &mut st.counts;
            c.running -= 1;
            match status {
                ExecStatus::Succeeded => {
                    c.succeeded += 1;
                    c.results_written += 1;
                }
                ExecStatus::Failed => c.failed += 1,
                ExecStatus::TimedOut => c.timed_out += 1,
                ExecStatus::Aborted | ExecStatus::Running => c.aborted += 1,
            }
            (i, status, output)
        }
    });
    let mut done = futures::stream::iter(children).buffer_unordered(limit);
    let mut failed = 0;
    while let Some((i, status, output)) = done.next().await {
        if status == ExecStatus::Succeeded {
            outputs[i] = output
                .and_then(|o| serde_json::from_str(&o).ok())
                .unwrap_or(Value::Null);
            continue;
        }
        // A failed item's output stays null, as LocalStack has it (AWS's is not recorded).
        failed += 1;
        if run.exceeded(failed) {
            drop(done);
            run.stop("FAILED", epoch(svc.clock.now()));
            // Aborts the children still running.
            drop(guard.take());
            parent.record_at(
                svc.clock.now(),
                "MapRunFailed",
                Some("mapRunFailedEventDetails"),
                &serde_json::json!({ "error": EXCEEDED.0, "cause": EXCEEDED.1 }),
            );
            return Err(ErrorCause::new(EXCEEDED.0, EXCEEDED.1));
        }
    }
    run.stop("SUCCEEDED", epoch(svc.clock.now()));
    // Every child has ended: nothing to abort, and the status stays SUCCEEDED.
    drop(guard);
    parent.record_at(svc.clock.now(), "MapRunSucceeded", None, &Value::Null);
    Ok(outputs)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeInput {
    map_run_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    execution_arn: String,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    execution_arn: &'a str,
    map_run_arn: &'a str,
    state_machine_arn: &'a str,
    start_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_date: Option<f64>,
}

impl Service {
    /// The Map Run an ARN names, or `ResourceNotFound`.
    pub(crate) fn map_run(&self, map_run_arn: &str) -> Result<Arc<MapRun>, ApiError> {
        check_arn("mapRunArn", "mapRun", map_run_arn)?;
        read(&self.map_runs)
            .get(map_run_arn)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    "ResourceNotFound",
                    format!("map run does not exist: '{map_run_arn}'"),
                )
            })
    }

    pub(super) fn describe_map_run(&self, call: Call<'_>) -> ApiResult {
        let input: DescribeInput = call.input()?;
        let run = self.map_run(&input.map_run_arn)?;
        let st = lock(&run.state);
        let mut v = serde_json::json!({
            "mapRunArn": run.arn,
            "executionArn": run.execution_arn,
            "status": st.status,
            "startDate": run.start,
            "maxConcurrency": run.max_concurrency,
            "toleratedFailurePercentage": run.tolerated_percentage.unwrap_or(0.0),
            "toleratedFailureCount": run.tolerated_count.unwrap_or(0),
            // One execution per item: the two counts are the same.
            "itemCounts": st.counts,
            "executionCounts": st.counts,
        });
        if let Some(stop) = st.stop {
            v["stopDate"] = stop.into();
        }
        drop(st);
        reply(&v)
    }

    pub(super) fn list_map_runs(&self, call: Call<'_>) -> ApiResult {
        let input: ListInput = call.input()?;
        let exec = self.execution(&input.execution_arn)?;
        let mut runs: Vec<Arc<MapRun>> = read(&self.map_runs)
            .values()
            .filter(|r| r.execution_arn == exec.arn)
            .cloned()
            .collect();
        runs.sort_unstable_by_key(|r| r.seq);
        let (page, next) =
            paging::page(&runs, input.max_results, input.next_token.as_deref(), |r| {
                Summary {
                    execution_arn: &r.execution_arn,
                    map_run_arn: &r.arn,
                    state_machine_arn: &r.state_machine_arn,
                    start_date: r.start,
                    stop_date: lock(&r.state).stop,
                }
            })?;
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Page<'a> {
            map_runs: Vec<Summary<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            next_token: Option<String>,
        }
        reply(&Page {
            map_runs: page,
            next_token: next,
        })
    }
}
