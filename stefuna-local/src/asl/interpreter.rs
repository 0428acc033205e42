//! Runs a parsed machine: state by state, recording history events through the [`Host`],
//! applying the input/output processing, Retry and Catch. Parallel branches and Map iterations
//! run concurrently on the caller's task (futures, no spawning).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::causes::{self, check_wait, seconds_path, timestamp_path};
use super::context::{Ctx, ExecCtx};
use super::definition::{
    Definition, Int, IoPath, Kind, Machine, MapState, Results, State, Task, Text, Transition, Wait,
};
use super::integrations::{IntegrationRequest, describe};
use super::jsonata::Env;
use super::retrying::Finished;
use super::template::Template;
use super::variables::{Assign, Frame};
use super::{ActivityRequest, ErrorCause, Event, ExecutionInfo, Host};

pub(crate) const RUNTIME: &str = "States.Runtime";
/// How AWS's runtime causes begin, followed by `'NAME' (entered at the event id #N). `.
const PREFIX: &str = "An error occurred while executing the state";
/// Step Functions' limit on a state's input or output, in bytes.
const MAX_PAYLOAD: usize = 262_144;

/// `{"truncated": false}`.
#[derive(Clone, Copy, Serialize)]
struct Truncated {
    truncated: bool,
}

const NOT_TRUNCATED: Truncated = Truncated { truncated: false };

/// `stateEnteredEventDetails` (name, input) and `stateExitedEventDetails` (name, output).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateIo<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_details: Option<Truncated>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_details: Option<Truncated>,
}

/// One running execution.
pub(crate) struct Exec {
    pub(super) host: Arc<dyn Host>,
    ctx: Arc<ExecCtx>,
    /// The scope this execution, branch or iteration assigns variables in.
    pub(super) vars: Arc<Frame>,
}

/// Runs `def` with `input` to its end.
pub(crate) async fn run(
    def: &Definition,
    input: Value,
    info: ExecutionInfo,
    host: Arc<dyn Host>,
) -> Result<Value, ErrorCause> {
    let exec = Exec {
        host,
        ctx: Arc::new(ExecCtx::new(info, input.clone())),
        vars: Frame::root(),
    };
    exec.run_machine(&def.machine, input).await
}

/// A fresh task token: opaque, unique and about as long as AWS's.
pub(crate) fn task_token() -> String {
    let mut t = String::with_capacity(112);
    t.push_str("AAAAKgAAAAIAAAAA");
    for _ in 0..3 {
        t.push_str(
            crate::names::uuid_v4()
                .simple()
                .encode_lower(&mut uuid::Uuid::encode_buffer()),
        );
    }
    t
}

fn to_json_string(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn runtime(cause: impl Into<String>) -> ErrorCause {
    ErrorCause::new(RUNTIME, cause)
}

/// The state's effective input: `InputPath`, then `Parameters` if any.
fn effective<'v>(
    input_path: &IoPath,
    parameters: Option<&Template>,
    raw: &'v Value,
    ctx: &Ctx<'_>,
) -> Result<Cow<'v, Value>, ErrorCause> {
    let selected = match input_path {
        IoPath::Null => Cow::Owned(Value::Object(Default::default())),
        IoPath::Path(p) if p.is_context() || p.var().is_some() => Cow::Owned(
            ctx.resolve(p, raw)
                .ok_or_else(|| ctx.missing(p, raw))?
                .into_owned(),
        ),
        IoPath::Path(p) => p.select(raw).ok_or_else(|| ctx.missing(p, raw))?,
    };
    match parameters {
        Some(t) => Ok(Cow::Owned(t.eval(&selected, ctx)?)),
        None => Ok(selected),
    }
}

pub(super) fn select_result(
    results: &Results,
    result: Value,
    ctx: &Ctx<'_>,
) -> Result<Value, ErrorCause> {
    match &results.result_selector {
        Some(t) => t.eval(&result, ctx),
        None => Ok(result),
    }
}

/// Resolves an integer setting; one read from the input must be at least `min`.
fn int(s: &Int, input: &Value, ctx: &Ctx<'_>, what: &str, min: u64) -> Result<u64, ErrorCause> {
    match s {
        Int::Fixed(n) => Ok(*n),
        Int::Path(p) => {
            let v = ctx.resolve(p, input).ok_or_else(|| ctx.missing(p, input))?;
            v.as_u64().filter(|n| *n >= min).ok_or_else(|| {
                runtime(format!(
                    "the value of {what} at '{}' must be an integer >= {min}, found {v}",
                    p.text()
                ))
            })
        }
    }
}

/// A Fail state's error or cause; `""` when absent (AWS then leaves the field out).
fn text(t: &Option<Text>, input: &Value, ctx: &Ctx<'_>, field: &str) -> Result<String, ErrorCause> {
    let v = match t {
        None => return Ok(String::new()),
        Some(Text::Lit(s)) => return Ok(s.clone()),
        Some(Text::Path(p)) => ctx
            .resolve(p, input)
            .ok_or_else(|| {
                let data = if p.is_context() { ctx.value() } else { input };
                runtime(p.not_found(field, data))
            })?
            .into_owned(),
        Some(Text::Call(c)) => c.eval(input, ctx)?,
    };
    match v {
        Value::String(s) => Ok(s),
        other => Err(runtime(format!(
            "the error and cause of a Fail state must be strings, found {other}"
        ))),
    }
}

impl Exec {
    /// The context of one state's evaluation, seeing this scope's variables.
    pub(super) fn state_ctx<'a>(&'a self, name: &'a str, entered: OffsetDateTime) -> Ctx<'a> {
        let mut ctx = Ctx::new(&self.ctx, name, entered);
        ctx.vars = Some(&self.vars);
        ctx
    }

    /// The execution as a Parallel branch or a Map iteration runs it: in a scope of its own.
    pub(super) fn child(&self) -> Exec {
        Exec {
            host: self.host.clone(),
            ctx: self.ctx.clone(),
            vars: Frame::child(&self.vars),
        }
    }

    /// The values of a JSONPath state's `Assign` (or a Catcher's), read from `data`.
    fn assigned(
        &self,
        assign: Option<&Assign>,
        data: &Value,
        ctx: &Ctx<'_>,
    ) -> Result<Map<String, Value>, ErrorCause> {
        match assign {
            Some(a) => a.eval(data, &Env::new(ctx, data), ctx),
            None => Ok(Map::new()),
        }
    }

    pub(super) fn record(
        &self,
        event_type: &'static str,
        details_key: Option<&'static str>,
        details: &impl Serialize,
    ) -> u64 {
        // Plain data: serializing it cannot fail.
        let details = serde_json::to_string(details)
            .unwrap_or_else(|_| "null".to_owned())
            .into_boxed_str();
        self.host.record(Event {
            event_type,
            details_key,
            details,
        })
    }

    pub(super) fn run_machine<'a>(
        &'a self,
        m: &'a Machine,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, ErrorCause>> {
        async move {
            let mut idx = m.start;
            let mut input = input;
            loop {
                let st = &m.states[idx];
                let (output, next) = self.step(st, input).await?;
                match next {
                    Some(n) => {
                        idx = n;
                        input = output;
                    }
                    None => return Ok(output),
                }
            }
        }
        .boxed()
    }

    /// Records the entered event: the time entered and the event's id.
    fn entered(&self, st: &State, input: &Value) -> (OffsetDateTime, u64) {
        let id = self.record(
            st.kind.state_type().entered(),
            Some("stateEnteredEventDetails"),
            &StateIo {
                name: &st.name,
                input: Some(&to_json_string(input)),
                input_details: Some(NOT_TRUNCATED),
                output: None,
                output_details: None,
            },
        );
        (self.host.now(), id)
    }

    pub(super) fn exited(&self, st: &State, output: &Value) -> Result<(), ErrorCause> {
        let text = to_json_string(output);
        if text.len() > MAX_PAYLOAD {
            return Err(ErrorCause::new(
                "States.DataLimitExceeded",
                format!(
                    "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                    st.name
                ),
            ));
        }
        self.record(
            st.kind.state_type().exited(),
            Some("stateExitedEventDetails"),
            &StateIo {
                name: &st.name,
                input: None,
                input_details: None,
                output: Some(&text),
                output_details: Some(NOT_TRUNCATED),
            },
        );
        Ok(())
    }

    pub(super) fn next_of(st: &State) -> Option<usize> {
        match &st.transition {
            Transition::Next(t) => Some(t.idx),
            Transition::End => None,
        }
    }

    /// Runs one state: its output and the next state's index (`None` at the end).
    async fn step(&self, st: &State, raw: Value) -> Result<(Value, Option<usize>), ErrorCause> {
        let Some(aborted) = st.kind.state_type().aborted() else {
            return self.step_inner(st, raw).await;
        };
        let mut guard = AbortGuard::new(self, aborted, None, Value::Null);
        let result = self.step_inner(st, raw).await;
        guard.disarm();
        result
    }

    async fn step_inner(
        &self,
        st: &State,
        raw: Value,
    ) -> Result<(Value, Option<usize>), ErrorCause> {
        let (entered, id) = self.entered(st, &raw);
        let body = match &st.jsonata {
            Some(j) => self.jsonata_body(st, j, raw, entered).await,
            None => self.state_body(st, raw, entered).await,
        };
        body.map_err(|mut e| {
            // AWS's prefix, word for word, on the runtime errors of this state (an error
            // from a nested state already has its own).
            if e.error == RUNTIME && !e.cause.starts_with(PREFIX) {
                e.cause = format!(
                    "{PREFIX} '{}' (entered at the event id #{id}). {}",
                    st.name, e.cause
                );
            }
            e
        })
    }

    async fn state_body(
        &self,
        st: &State,
        raw: Value,
        entered: OffsetDateTime,
    ) -> Result<(Value, Option<usize>), ErrorCause> {
        let assign = st.assign.as_ref();
        let (output, vars, next) = match &st.kind {
            Kind::Pass {
                parameters,
                result,
                result_path,
            } => {
                let ctx = self.state_ctx(&st.name, entered);
                let res = match result {
                    Some(r) => r.clone(),
                    None => {
                        effective(&st.input_path, parameters.as_ref(), &raw, &ctx)?.into_owned()
                    }
                };
                let vars = self.assigned(assign, &res, &ctx)?;
                let out = result_path.apply(&raw, res)?;
                (output(self, st, entered, out)?, vars, Self::next_of(st))
            }
            Kind::Succeed => {
                let out = st
                    .input_path
                    .apply(raw, &self.state_ctx(&st.name, entered))?;
                (output(self, st, entered, out)?, Map::new(), None)
            }
            Kind::Fail { error, cause } => {
                let ctx = self.state_ctx(&st.name, entered);
                let e = ErrorCause::new(
                    text(error, &raw, &ctx, "ErrorPath")?,
                    text(cause, &raw, &ctx, "CausePath")?,
                );
                return Err(e);
            }
            Kind::Choice(choice) => {
                let ctx = self.state_ctx(&st.name, entered);
                let eff = st.input_path.apply(raw, &ctx)?;
                let Some((next, rule_assign)) = choice.select(&eff, &ctx)? else {
                    return Err(ErrorCause::new(
                        "States.NoChoiceMatched",
                        format!(
                            "no Choice rule of state '{}' matched and it has no Default",
                            st.name
                        ),
                    ));
                };
                // A matched rule's own `Assign` replaces the state's, as in JSONata.
                let vars = self.assigned(rule_assign.or(assign), &eff, &ctx)?;
                (output(self, st, entered, eff)?, vars, Some(next))
            }
            Kind::Wait(wait) => {
                let eff = st
                    .input_path
                    .apply(raw, &self.state_ctx(&st.name, entered))?;
                let d = self.wait_duration(st, wait, &eff, entered)?;
                if !d.is_zero() {
                    self.host.sleep(d).await;
                }
                let vars = self.assigned(assign, &eff, &self.state_ctx(&st.name, entered))?;
                (output(self, st, entered, eff)?, vars, Self::next_of(st))
            }
            Kind::Task(t) => {
                let attempt = |n| self.task_attempt(st, t, &raw, entered, n);
                self.jsonpath_retrying(st, &t.results, &raw, entered, attempt)
                    .await?
            }
            Kind::Parallel { branches, results } => {
                let attempt = |n| self.parallel_attempt(st, branches, results, &raw, entered, n);
                self.jsonpath_retrying(st, results, &raw, entered, attempt)
                    .await?
            }
            Kind::Map(map) => {
                let attempt = |n| self.map_attempt(st, map, &raw, entered, n);
                self.jsonpath_retrying(st, &map.results, &raw, entered, attempt)
                    .await?
            }
            Kind::Conditions(_) => {
                return Err(runtime(
                    "a JSONata Choice state in a JSONPath state machine",
                ));
            }
        };
        self.vars.assign(vars);
        self.exited(st, &output)?;
        Ok((output, next))
    }

    /// A JSONPath Task, Parallel or Map state's attempts: `Assign` reads the result (after
    /// ResultSelector), then ResultPath and OutputPath shape the output; a Catcher's
    /// `Assign` reads the error output, its ResultPath puts it into the input.
    async fn jsonpath_retrying<Fut>(
        &self,
        st: &State,
        results: &Results,
        raw: &Value,
        entered: OffsetDateTime,
        attempt: impl Fn(u32) -> Fut,
    ) -> Result<(Value, Map<String, Value>, Option<usize>), ErrorCause>
    where
        Fut: std::future::Future<Output = Result<Value, ErrorCause>>,
    {
        let done = |r: Value, n: u32| {
            let vars = self.assigned(st.assign.as_ref(), &r, &self.retrying_ctx(st, entered, n))?;
            let out = results.result_path.apply(raw, r)?;
            Ok(Finished::new(output(self, st, entered, out)?, vars))
        };
        let caught = |c: &super::retry::Catcher, err: Value| {
            let ctx = self.state_ctx(&st.name, entered);
            let vars = self.assigned(c.assign.as_ref(), &err, &ctx)?;
            Ok(Finished::new(c.result_path.apply(raw, err)?, vars))
        };
        let f = self.retrying(st, results, attempt, done, caught).await?;
        Ok((f.output, f.vars, f.next))
    }

    /// How long a Wait state waits, from now on the host's clock.
    fn wait_duration(
        &self,
        st: &State,
        wait: &Wait,
        eff: &Value,
        entered: OffsetDateTime,
    ) -> Result<Duration, ErrorCause> {
        let ctx = self.state_ctx(&st.name, entered);
        Ok(match wait {
            Wait::Seconds(s) => Duration::from_secs(*s),
            Wait::SecondsPath(p) => Duration::from_secs(seconds_path(p, &ctx, eff)?),
            Wait::Timestamp(t) => {
                check_wait(*t, self.host.now())?;
                until(*t, self.host.now())
            }
            Wait::TimestampPath(p) => {
                let t = timestamp_path(p, &ctx, eff)?;
                check_wait(t, self.host.now())?;
                until(t, self.host.now())
            }
        })
    }

    async fn task_attempt(
        &self,
        st: &State,
        task: &Task,
        raw: &Value,
        entered: OffsetDateTime,
        retry_count: u32,
    ) -> Result<Value, ErrorCause> {
        let token = task_token();
        let (eff, heartbeat_seconds, timeout_seconds) = {
            let mut ctx = self.state_ctx(&st.name, entered);
            ctx.retry_count = Some(retry_count);
            ctx.token = Some(&token);
            let eff = effective(&st.input_path, task.results.parameters.as_ref(), raw, &ctx)?
                .into_owned();
            let heartbeat = task
                .heartbeat
                .as_ref()
                .map(|s| int(s, raw, &ctx, "HeartbeatSecondsPath", 1))
                .transpose()?;
            let timeout = task
                .timeout
                .as_ref()
                .map(|s| int(s, raw, &ctx, "TimeoutSecondsPath", 1))
                .transpose()?;
            (eff, heartbeat, timeout)
        };
        let result = if task.is_activity {
            let req = ActivityRequest {
                resource: task.resource.clone(),
                input: eff,
                task_token: token.clone(),
                heartbeat_seconds,
                timeout_seconds,
            };
            self.host.run_activity(req).await?
        } else {
            let (resource_type, action, pattern) = describe(&task.resource);
            let req = IntegrationRequest {
                resource: task.resource.clone(),
                resource_type,
                action,
                pattern,
                parameters: eff,
                task_token: token.clone(),
                state_name: st.name.clone(),
                attempt: retry_count,
                heartbeat_seconds,
                timeout_seconds,
            };
            self.host.run_integration(req).await?
        };
        let mut ctx = self.state_ctx(&st.name, entered);
        ctx.retry_count = Some(retry_count);
        ctx.token = Some(&token);
        select_result(&task.results, result, &ctx)
    }

    /// The context of a state that can retry: it has `$$.State.RetryCount`.
    pub(super) fn retrying_ctx<'a>(
        &'a self,
        st: &'a State,
        entered: OffsetDateTime,
        retries: u32,
    ) -> Ctx<'a> {
        let mut ctx = self.state_ctx(&st.name, entered);
        ctx.retry_count = Some(retries);
        ctx
    }

    async fn parallel_attempt(
        &self,
        st: &State,
        branches: &[Machine],
        results: &Results,
        raw: &Value,
        entered: OffsetDateTime,
        retries: u32,
    ) -> Result<Value, ErrorCause> {
        let eff = {
            let ctx = self.retrying_ctx(st, entered, retries);
            effective(&st.input_path, results.parameters.as_ref(), raw, &ctx)?.into_owned()
        };
        self.record("ParallelStateStarted", None, &Value::Null);
        match self.branches(branches, &eff).await {
            Ok(outs) => {
                self.record("ParallelStateSucceeded", None, &Value::Null);
                select_result(
                    results,
                    Value::Array(outs),
                    &self.retrying_ctx(st, entered, retries),
                )
            }
            Err(e) => {
                self.record("ParallelStateFailed", None, &Value::Null);
                Err(e)
            }
        }
    }

    /// Each Map iteration's input: the items at ItemsPath, through ItemSelector if any.
    pub(super) fn map_inputs(
        &self,
        st: &State,
        map: &MapState,
        raw: &Value,
        entered: OffsetDateTime,
        retries: u32,
    ) -> Result<Vec<Value>, ErrorCause> {
        let ctx = self.retrying_ctx(st, entered, retries);
        let eff = st.input_path.apply(raw.clone(), &ctx)?;
        let items = match ctx.resolve(&map.items_path, &eff) {
            Some(Cow::Borrowed(Value::Array(a))) => a.clone(),
            Some(Cow::Owned(Value::Array(a))) => a,
            Some(other) => return Err(causes::not_an_array(&other)),
            None => return Err(ctx.missing(&map.items_path, &eff)),
        };
        let Some(sel) = &map.item_selector else {
            return Ok(items);
        };
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let mut ctx = self.retrying_ctx(st, entered, retries);
            ctx.map_item = Some((i, item));
            inputs.push(sel.eval(&eff, &ctx)?);
        }
        Ok(inputs)
    }

    /// A Map state's `MaxConcurrency` (or its path's value); 0 means no limit.
    pub(super) fn max_concurrency(
        &self,
        st: &State,
        map: &MapState,
        raw: &Value,
        entered: OffsetDateTime,
        retries: u32,
    ) -> Result<u64, ErrorCause> {
        Ok(match &map.max_concurrency {
            Some(Int::Fixed(n)) => *n,
            // A negative value hangs the execution on AWS (recorded:
            // test_max_concurrency_path_negative); here it fails with the message AWS
            // gives for a value that is not an integer.
            Some(Int::Path(p)) => {
                let ctx = self.retrying_ctx(st, entered, retries);
                let n = causes::int_path("MaxConcurrencyPath", p, &ctx, raw)?;
                u64::try_from(n).map_err(|_| {
                    runtime(format!(
                        "The MaxConcurrencyPath field refers to value \"{n}\" which is not a valid integer: {}",
                        p.text()
                    ))
                })?
            }
            None => 0,
        })
    }

    async fn map_attempt(
        &self,
        st: &State,
        map: &MapState,
        raw: &Value,
        entered: OffsetDateTime,
        retries: u32,
    ) -> Result<Value, ErrorCause> {
        if let Some(dist) = &map.distributed {
            return self
                .distributed_attempt(st, map, dist, raw, entered, retries)
                .await;
        }
        let max_concurrency = self.max_concurrency(st, map, raw, entered, retries)?;
        let inputs = self.map_inputs(st, map, raw, entered, retries)?;
        let arr = self
            .run_iterations(st, map, inputs, max_concurrency)
            .await?;
        select_result(&map.results, arr, &self.retrying_ctx(st, entered, retries))
    }
}

pub(super) fn output(
    ex: &Exec,
    st: &State,
    entered: OffsetDateTime,
    v: Value,
) -> Result<Value, ErrorCause> {
    st.output_path.apply(v, &ex.state_ctx(&st.name, entered))
}

pub(super) fn until(t: time::OffsetDateTime, now: time::OffsetDateTime) -> Duration {
    let d = t - now;
    if d.is_positive() {
        Duration::try_from(d).unwrap_or_default()
    } else {
        Duration::ZERO
    }
}

/// Records `event` if dropped while armed: the state (or Map iteration) was still running when
/// the execution was stopped, timed out, or a sibling branch or iteration failed.
pub(super) struct AbortGuard<'a> {
    exec: &'a Exec,
    event: &'static str,
    details_key: Option<&'static str>,
    details: Value,
    armed: bool,
}

impl<'a> AbortGuard<'a> {
    pub(super) fn new(
        exec: &'a Exec,
        event: &'static str,
        details_key: Option<&'static str>,
        details: Value,
    ) -> Self {
        AbortGuard {
            exec,
            event,
            details_key,
            details,
            armed: true,
        }
    }

    pub(super) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for AbortGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.exec
                .record(self.event, self.details_key, &self.details);
        }
    }
}
