//! Executions: StartExecution, DescribeExecution, ListExecutions, StopExecution,
//! DescribeStateMachineForExecution, and the task that runs each one.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::history::{
    ErrorDetails, History, HistoryEvent, NOT_TRUNCATED, OutputDetails, StartedDetails, details_text,
};
use super::machines::MachineDef;
use super::tasks::{MAX_OUTPUT, Status as TaskStatus};
use super::{Call, Service, Task, lock, paging, reply, write};
use crate::asl::{self, ErrorCause, ExecutionInfo, StateMachine};
use crate::clock::{Clock, epoch};
use crate::error::{ApiError, ApiResult, panic_message};
use crate::names::{check_arn, check_name, execution_arn};

/// Longest `error` of StopExecution, in characters.
const MAX_ERROR: usize = 256;
/// Longest `cause` of StopExecution, in characters.
const MAX_CAUSE: usize = 32_768;

/// An execution's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExecStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ExecStatus::Running => "RUNNING",
            ExecStatus::Succeeded => "SUCCEEDED",
            ExecStatus::Failed => "FAILED",
            ExecStatus::TimedOut => "TIMED_OUT",
            ExecStatus::Aborted => "ABORTED",
        }
    }

    fn parse(s: &str) -> Option<ExecStatus> {
        Some(match s {
            "RUNNING" => ExecStatus::Running,
            "SUCCEEDED" => ExecStatus::Succeeded,
            "FAILED" => ExecStatus::Failed,
            "TIMED_OUT" => ExecStatus::TimedOut,
            "ABORTED" => ExecStatus::Aborted,
            _ => return None,
        })
    }
}

/// The mutable part of an execution.
pub(crate) struct ExecState {
    pub(crate) status: ExecStatus,
    output: Option<String>,
    error: Option<String>,
    cause: Option<String>,
    pub(crate) stop_date: Option<f64>,
}

/// One execution.
pub(crate) struct Execution {
    pub(crate) arn: String,
    pub(crate) name: String,
    pub(crate) machine_arn: String,
    machine_name: String,
    /// Definition and role at start (DescribeStateMachineForExecution).
    pub(crate) def: Arc<MachineDef>,
    pub(crate) input: String,
    pub(crate) start: OffsetDateTime,
    pub(crate) clock: Clock,
    pub(crate) state: Mutex<ExecState>,
    pub(crate) history: Mutex<History>,
    /// Tasks scheduled and not yet closed, by token.
    open: Mutex<super::FastMap<String, Arc<Task>>>,
    /// Fires when StopExecution ends it.
    cancel: Notify,
    /// The Map Run that started it, for a Distributed Map's child execution.
    pub(crate) map_run_arn: Option<String>,
    /// The mock test case it runs (`StartExecution` with `ARN#TESTCASE`; a Map Run's children
    /// run their parent's).
    pub(crate) mocks: Option<Arc<asl::mock::TestCase>>,
}

impl Execution {
    /// A new running execution with its ExecutionStarted event.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn started(
        arn: String,
        name: String,
        machine_arn: String,
        machine_name: String,
        def: Arc<MachineDef>,
        input: String,
        clock: &Clock,
        map_run_arn: Option<String>,
        mocks: Option<Arc<asl::mock::TestCase>>,
    ) -> Arc<Execution> {
        let now = clock.now();
        let exec = Arc::new(Execution {
            arn,
            name,
            machine_arn,
            machine_name,
            def,
            input,
            start: now,
            clock: clock.clone(),
            state: Mutex::new(ExecState {
                status: ExecStatus::Running,
                output: None,
                error: None,
                cause: None,
                stop_date: None,
            }),
            history: Mutex::default(),
            open: Mutex::default(),
            cancel: Notify::new(),
            map_run_arn,
            mocks,
        });
        exec.record_at(
            now,
            "ExecutionStarted",
            Some("executionStartedEventDetails"),
            &StartedDetails {
                input: &exec.input,
                input_details: NOT_TRUNCATED,
                role_arn: &exec.def.role_arn,
            },
        );
        exec
    }

    /// Status, output, error and cause.
    pub(crate) fn outcome(&self) -> (ExecStatus, Option<String>, Option<String>, Option<String>) {
        let st = lock(&self.state);
        (
            st.status,
            st.output.clone(),
            st.error.clone(),
            st.cause.clone(),
        )
    }

    /// Ends a running execution as aborted (its parent stopped or failed); false if it had
    /// ended already.
    pub(crate) fn abort(&self) -> bool {
        let ended = self
            .end(
                ExecStatus::Aborted,
                None,
                None,
                None,
                "ExecutionAborted",
                "executionAbortedEventDetails",
                "{}".into(),
                TaskStatus::Aborted,
            )
            .is_some();
        if ended {
            self.cancel.notify_one();
        }
        ended
    }

    /// Appends a (non-terminal) event.
    pub(crate) fn record_at(
        &self,
        at: OffsetDateTime,
        event_type: &'static str,
        details_key: Option<&'static str>,
        details: &impl serde::Serialize,
    ) {
        self.record_text(at, event_type, details_key, details_text(details));
    }

    /// Appends a (non-terminal) event whose details are JSON text already.
    pub(crate) fn record_text(
        &self,
        at: OffsetDateTime,
        event_type: &'static str,
        details_key: Option<&'static str>,
        details: Box<str>,
    ) -> u64 {
        lock(&self.history).push(
            HistoryEvent {
                timestamp: epoch(at),
                event_type,
                details_key,
                details,
            },
            false,
        )
    }

    /// Tracks a scheduled task; false (and the task is aborted) if the execution has ended.
    pub(crate) fn track(&self, task: &Arc<Task>) -> bool {
        let st = lock(&self.state);
        if st.status != ExecStatus::Running {
            task.close(TaskStatus::Aborted);
            return false;
        }
        lock(&self.open).insert(task.token.clone(), task.clone());
        true
    }

    /// Stops tracking a closed task.
    pub(crate) fn forget_task(&self, token: &str) {
        lock(&self.open).remove(token);
    }

    /// Ends a running execution; false if it had already ended. Open tasks are closed with
    /// `task_status` so later SendTask* calls are refused.
    #[allow(clippy::too_many_arguments)]
    fn end(
        &self,
        status: ExecStatus,
        output: Option<String>,
        error: Option<String>,
        cause: Option<String>,
        event_type: &'static str,
        details_key: &'static str,
        details: Box<str>,
        task_status: TaskStatus,
    ) -> Option<f64> {
        let now = self.clock.now();
        let stop = epoch(now);
        {
            let mut st = lock(&self.state);
            if st.status != ExecStatus::Running {
                return None;
            }
            *st = ExecState {
                status,
                output,
                error,
                cause,
                stop_date: Some(stop),
            };
            // Under the state lock so no task is tracked after this.
            for (_, task) in lock(&self.open).drain() {
                task.close(task_status);
            }
        }
        lock(&self.history).push(
            HistoryEvent {
                timestamp: stop,
                event_type,
                details_key: Some(details_key),
                details,
            },
            true,
        );
        Some(stop)
    }

    /// Ends the execution with the interpreter's result.
    fn complete(&self, result: Result<Value, ErrorCause>) {
        match result {
            Ok(v) => {
                let out = v.to_string();
                let details = details_text(&OutputDetails {
                    output: &out,
                    output_details: NOT_TRUNCATED,
                });
                self.end(
                    ExecStatus::Succeeded,
                    Some(out),
                    None,
                    None,
                    "ExecutionSucceeded",
                    "executionSucceededEventDetails",
                    details,
                    TaskStatus::Aborted,
                );
            }
            Err(e) => {
                let details = details_text(&ErrorDetails {
                    error: &e.error,
                    cause: &e.cause,
                });
                self.end(
                    ExecStatus::Failed,
                    None,
                    Some(e.error),
                    Some(e.cause),
                    "ExecutionFailed",
                    "executionFailedEventDetails",
                    details,
                    TaskStatus::Aborted,
                );
            }
        }
    }

    /// Ends the execution on its own `TimeoutSeconds`.
    fn time_out(&self, seconds: u64) {
        let cause = format!("the execution ran longer than its TimeoutSeconds of {seconds}");
        let details = details_text(&ErrorDetails {
            error: "States.Timeout",
            cause: &cause,
        });
        self.end(
            ExecStatus::TimedOut,
            None,
            Some("States.Timeout".to_owned()),
            Some(cause),
            "ExecutionTimedOut",
            "executionTimedOutEventDetails",
            details,
            TaskStatus::TimedOut,
        );
    }
}

/// The interpreter's view of the service for one execution.
struct ExecHost {
    svc: Arc<Service>,
    exec: Arc<Execution>,
}

impl asl::Host for ExecHost {
    fn run_activity(
        &self,
        req: asl::ActivityRequest,
    ) -> futures::future::BoxFuture<'static, Result<Value, ErrorCause>> {
        Box::pin(super::host::run_activity(
            self.svc.clone(),
            self.exec.clone(),
            req,
        ))
    }

    fn sleep(&self, d: Duration) -> futures::future::BoxFuture<'static, ()> {
        let clock = self.svc.clock.clone();
        Box::pin(async move { clock.sleep(d).await })
    }

    fn now(&self) -> OffsetDateTime {
        self.svc.clock.now()
    }

    fn run_integration(
        &self,
        req: asl::IntegrationRequest,
    ) -> futures::future::BoxFuture<'static, Result<Value, ErrorCause>> {
        Box::pin(super::integrations::run_integration(
            self.svc.clone(),
            self.exec.clone(),
            req,
        ))
    }

    fn map_run(
        &self,
        run: asl::MapRunRequest,
    ) -> futures::future::BoxFuture<'static, Result<Vec<Value>, ErrorCause>> {
        Box::pin(super::map_runs::run(
            self.svc.clone(),
            self.exec.clone(),
            run,
        ))
    }

    fn record(&self, event: asl::Event) -> u64 {
        self.exec.record_text(
            self.svc.clock.now(),
            event.event_type,
            event.details_key,
            event.details,
        )
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartInput {
    state_machine_arn: String,
    name: Option<String>,
    input: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArnInput {
    execution_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    state_machine_arn: Option<String>,
    map_run_arn: Option<String>,
    status_filter: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopInput {
    execution_arn: String,
    error: Option<String>,
    cause: Option<String>,
}

/// The list-item form of an execution.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    execution_arn: &'a str,
    state_machine_arn: &'a str,
    name: &'a str,
    status: &'static str,
    start_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    map_run_arn: Option<&'a str>,
}

fn summary(e: &Execution) -> Summary<'_> {
    let st = lock(&e.state);
    Summary {
        execution_arn: &e.arn,
        state_machine_arn: &e.machine_arn,
        name: &e.name,
        status: st.status.as_str(),
        start_date: epoch(e.start),
        stop_date: st.stop_date,
        map_run_arn: e.map_run_arn.as_deref(),
    }
}

impl Service {
    /// The execution an ARN names, or `ExecutionDoesNotExist`.
    pub(crate) fn execution(&self, execution_arn: &str) -> Result<Arc<Execution>, ApiError> {
        check_arn("executionArn", "execution", execution_arn)?;
        super::read(&self.executions)
            .get(execution_arn)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    "ExecutionDoesNotExist",
                    format!("execution does not exist: '{execution_arn}'"),
                )
            })
    }

    /// The mock test case `case` of the state machine `machine`: `InvalidName` (the error
    /// LocalStack's provider raises) when there is no mock configuration or no such test case.
    pub(super) fn mock_test_case(
        &self,
        machine: &str,
        case: &str,
    ) -> Result<Arc<asl::mock::TestCase>, ApiError> {
        let Some(config) = &self.settings.mock_config else {
            return Err(ApiError::new(
                "InvalidName",
                format!(
                    "invalid stateMachineArn: '#{case}' names a mock test case, but stefuna-local was started without a mock configuration (--mock-config FILE, SFN_MOCK_CONFIG or EmulatorBuilder::mock_config)"
                ),
            ));
        };
        config
            .test_case(machine, case)
            .map_err(|e| ApiError::new("InvalidName", format!("invalid stateMachineArn: {e}")))
    }

    pub(super) fn start_execution(self: &Arc<Self>, call: Call<'_>) -> ApiResult {
        let input: StartInput = call.input()?;
        let (machine_arn, test_case) = match input.state_machine_arn.split_once('#') {
            Some((arn, case)) => (arn, Some(case)),
            None => (input.state_machine_arn.as_str(), None),
        };
        let machine = self.machine(machine_arn)?;
        let mocks = test_case
            .map(|case| self.mock_test_case(&machine.name, case))
            .transpose()?;
        let (name, text, value) = start_name_and_input(input.name, input.input)?;
        let exec_arn = execution_arn(&machine.region, &machine.name, &name);
        let def = super::read(&machine.def).clone();
        let exec = {
            let mut map = write(&self.executions);
            if let Some(existing) = map.get(&exec_arn) {
                let running = lock(&existing.state).status == ExecStatus::Running;
                if running && existing.input == text {
                    return reply(&serde_json::json!({
                        "executionArn": existing.arn,
                        "startDate": epoch(existing.start),
                    }));
                }
                return Err(ApiError::new(
                    "ExecutionAlreadyExists",
                    format!(
                        "execution already exists: '{exec_arn}' (an execution name is reusable only while it runs, with the same input)"
                    ),
                ));
            }
            let exec = Execution::started(
                exec_arn.clone(),
                name,
                machine.arn.clone(),
                machine.name.clone(),
                def.clone(),
                text,
                &self.clock,
                None,
                mocks,
            );
            map.insert(exec_arn, exec.clone());
            exec
        };
        lock(&machine.executions).push(exec.clone());
        self.spawn_execution(exec.clone(), def.parsed.clone(), value);
        reply(&serde_json::json!({
            "executionArn": exec.arn,
            "startDate": epoch(exec.start),
        }))
    }

    /// Runs the interpreter for an execution on its own task.
    fn spawn_execution(
        self: &Arc<Self>,
        exec: Arc<Execution>,
        sm: Arc<StateMachine>,
        input: Value,
    ) {
        tokio::spawn(self.drive(exec, sm, input));
    }

    /// Runs an execution to its end (success, failure, timeout, stop or the service closing).
    pub(crate) fn drive(
        self: &Arc<Self>,
        exec: Arc<Execution>,
        sm: Arc<StateMachine>,
        input: Value,
    ) -> impl Future<Output = ()> + Send + 'static {
        let info = ExecutionInfo {
            id: exec.arn.clone(),
            name: exec.name.clone(),
            start_time: exec.start,
            role_arn: exec.def.role_arn.clone(),
            state_machine_id: exec.machine_arn.clone(),
            state_machine_name: exec.machine_name.clone(),
        };
        let host: Arc<dyn asl::Host> = Arc::new(ExecHost {
            svc: self.clone(),
            exec: exec.clone(),
        });
        let mut closing = self.closing.subscribe();
        let clock = self.clock.clone();
        let timeout = sm.timeout_seconds();
        let panic = self.panics_in("Execution");
        async move {
            // A panic in the interpreter fails the execution rather than leaving it RUNNING.
            let run = AssertUnwindSafe(async move {
                if panic {
                    panic!("injected panic in an execution (EmulatorBuilder::panic_on test hook)");
                }
                asl::run(sm, input, info, host).await
            })
            .catch_unwind()
            .map(|r| {
                r.unwrap_or_else(|panic| {
                    let msg = panic_message(&*panic);
                    tracing::error!(panic = %msg, "execution interpreter panicked");
                    Err(ErrorCause::new(
                        "States.Runtime",
                        format!("internal error in stefuna-local: {msg}"),
                    ))
                })
            });
            let limit = async {
                match timeout {
                    Some(s) => clock.sleep(Duration::from_secs(s)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                result = run => exec.complete(result),
                () = limit => exec.time_out(timeout.unwrap_or_default()),
                () = exec.cancel.notified() => {}
                _ = closing.wait_for(|c| *c) => {}
            }
        }
    }

    pub(super) fn describe_execution(&self, call: Call<'_>) -> ApiResult {
        let input: ArnInput = call.input()?;
        let e = self.execution(&input.execution_arn)?;
        let st = lock(&e.state);
        let mut v = serde_json::json!({
            "executionArn": e.arn,
            "stateMachineArn": e.machine_arn,
            "name": e.name,
            "status": st.status.as_str(),
            "startDate": epoch(e.start),
            "input": e.input,
            "inputDetails": { "included": true },
        });
        if let Some(stop) = st.stop_date {
            v["stopDate"] = stop.into();
        }
        if let Some(m) = &e.map_run_arn {
            v["mapRunArn"] = m.as_str().into();
        }
        if let Some(out) = &st.output {
            v["output"] = out.as_str().into();
            v["outputDetails"] = serde_json::json!({ "included": true });
        }
        // An empty error or cause is absent (see `ErrorDetails`).
        if let Some(err) = st.error.as_ref().filter(|e| !e.is_empty()) {
            v["error"] = err.as_str().into();
        }
        if let Some(cause) = st.cause.as_ref().filter(|c| !c.is_empty()) {
            v["cause"] = cause.as_str().into();
        }
        drop(st);
        reply(&v)
    }

    pub(super) fn list_executions(&self, call: Call<'_>) -> ApiResult {
        let input: ListInput = call.input()?;
        // One of the two: a state machine's executions, or a Map Run's children.
        let (machine, run);
        let all = match (&input.state_machine_arn, &input.map_run_arn) {
            (Some(arn), None) => {
                machine = self.machine(arn)?;
                lock(&machine.executions)
            }
            (None, Some(arn)) => {
                run = self.map_run(arn)?;
                lock(&run.children)
            }
            _ => {
                return Err(ApiError::validation(
                    "ListExecutions takes exactly one of stateMachineArn and mapRunArn",
                ));
            }
        };
        let filter = input
            .status_filter
            .as_deref()
            .map(|s| {
                ExecStatus::parse(s).ok_or_else(|| {
                    ApiError::validation(format!(
                        "invalid statusFilter '{s}': expected RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED"
                    ))
                })
            })
            .transpose()?;
        let size = paging::page_size(input.max_results)?;
        // Scanned in place (no copy of the list): a statusFilter over many finished
        // executions is a walk over the whole list.
        // Newest first; the token is the index (from the oldest) to continue below, so
        // executions started meanwhile do not shift pages.
        let upper = paging::position(input.next_token.as_deref())?
            .unwrap_or(all.len())
            .min(all.len());
        let mut page = Vec::new();
        let mut next = None;
        for i in (0..upper).rev() {
            let e = &all[i];
            if filter.is_some_and(|f| lock(&e.state).status != f) {
                continue;
            }
            if page.len() == size {
                next = Some(paging::token(i + 1));
                break;
            }
            page.push(summary(e));
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Page<'a> {
            executions: Vec<Summary<'a>>,
            next_token: Option<String>,
        }
        reply(&Page {
            executions: page,
            next_token: next,
        })
    }

    pub(super) fn stop_execution(&self, call: Call<'_>) -> ApiResult {
        let input: StopInput = call.input()?;
        if let Some(e) = &input.error
            && e.chars().count() > MAX_ERROR
        {
            return Err(ApiError::validation(format!(
                "invalid error: at most {MAX_ERROR} characters, found {}",
                e.chars().count()
            )));
        }
        if let Some(c) = &input.cause
            && c.chars().count() > MAX_CAUSE
        {
            return Err(ApiError::validation(format!(
                "invalid cause: at most {MAX_CAUSE} characters, found {}",
                c.chars().count()
            )));
        }
        let exec = self.execution(&input.execution_arn)?;
        let mut details = serde_json::Map::new();
        if let Some(e) = &input.error {
            details.insert("error".into(), e.as_str().into());
        }
        if let Some(c) = &input.cause {
            details.insert("cause".into(), c.as_str().into());
        }
        let stop = exec.end(
            ExecStatus::Aborted,
            None,
            input.error,
            input.cause,
            "ExecutionAborted",
            "executionAbortedEventDetails",
            details_text(&details),
            TaskStatus::Aborted,
        );
        let stop = match stop {
            Some(s) => {
                exec.cancel.notify_one();
                s
            }
            // Already ended: AWS answers with the time it stopped.
            None => lock(&exec.state)
                .stop_date
                .unwrap_or_else(|| epoch(self.clock.now())),
        };
        reply(&serde_json::json!({ "stopDate": stop }))
    }

    pub(super) fn describe_state_machine_for_execution(&self, call: Call<'_>) -> ApiResult {
        let input: ArnInput = call.input()?;
        let e = self.execution(&input.execution_arn)?;
        reply(&serde_json::json!({
            "stateMachineArn": e.machine_arn,
            "name": e.machine_name,
            "definition": e.def.definition,
            "roleArn": e.def.role_arn,
            "updateDate": e.def.updated.unwrap_or_else(|| epoch(e.start)),
        }))
    }
}

/// StartExecution's and StartSyncExecution's checks of a new execution: its name (a UUID when
/// none is given) and its input (`{}` when none), with AWS's errors.
pub(super) fn start_name_and_input(
    name: Option<String>,
    input: Option<String>,
) -> Result<(String, String, Value), ApiError> {
    let name = match name {
        Some(n) => {
            check_name("execution", &n)?;
            n
        }
        None => crate::names::uuid_v4().to_string(),
    };
    let text = input.unwrap_or_else(|| "{}".to_owned());
    if text.len() > MAX_OUTPUT {
        return Err(ApiError::new(
            "InvalidExecutionInput",
            format!(
                "invalid input: {} bytes is over the limit of {MAX_OUTPUT} bytes",
                text.len()
            ),
        ));
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        ApiError::new(
            "InvalidExecutionInput",
            format!("invalid input: not JSON: {e}"),
        )
    })?;
    Ok((name, text, value))
}
