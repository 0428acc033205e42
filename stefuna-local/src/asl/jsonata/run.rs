//! Running a JSONata state. Its `Arguments` are evaluated with `$states.input`; its `Output`
//! and `Assign` with `$states.input` and `$states.result` (a Catcher's with
//! `$states.errorOutput`), all seeing the variables as they were when the state was entered.
//! Without `Output`, a state's output is its result (Task, Parallel, Map), the error output
//! (caught), or its input (Pass, Wait, Choice, Succeed).

use serde_json::{Map, Value};

use super::super::causes::check_wait;
use super::super::context::{Ctx, parse_timestamp};
use super::super::definition::{Kind, Machine, MapState, Results, State, Task};
use super::super::integrations::{IntegrationRequest, describe};
use super::super::interpreter::{Exec, task_token, until};
use super::super::retry::Catcher;
use super::super::retrying::Finished;
use super::super::variables::Assign;
use super::super::{ActivityRequest, ErrorCause};
use super::parse::{Conditions, JsonataState};
use super::{Env, JTemplate, QUERY_ERROR};

fn query_error(cause: String) -> ErrorCause {
    ErrorCause::new(QUERY_ERROR, cause)
}

/// Evaluates an integer field (`TimeoutSeconds`, `Seconds`, `MaxConcurrency`, ...).
fn int(
    t: Option<&JTemplate>,
    env: &Env<'_>,
    field: &str,
    min: u64,
) -> Result<Option<u64>, ErrorCause> {
    let Some(t) = t else { return Ok(None) };
    let v = t.eval(env, field)?;
    let n = v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
            .map(|f| f as u64)
    });
    match n {
        Some(n) if n >= min => Ok(Some(n)),
        _ => Err(query_error(format!(
            "The value of the field '{field}' must be an integer >= {min}, found {v}"
        ))),
    }
}

/// Evaluates a Fail state's `Error` or `Cause`: a string, or `""` when absent.
fn text(t: Option<&JTemplate>, env: &Env<'_>, field: &str) -> Result<String, ErrorCause> {
    match t.map(|t| t.eval(env, field)).transpose()? {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(query_error(format!(
            "The value of the field '{field}' must be a string, found {other}"
        ))),
    }
}

/// The state's end from its `Output` and `Assign`, evaluated in `env`; `default` is the
/// output when there is no `Output`.
fn finish(
    env: &Env<'_>,
    output: Option<&JTemplate>,
    assign: Option<&Assign>,
    default: &Value,
    ctx: &Ctx<'_>,
) -> Result<Finished, ErrorCause> {
    let out = match output {
        Some(t) => t.eval(env, "Output")?,
        None => default.clone(),
    };
    let vars = match assign {
        Some(a) => a.eval(default, env, ctx)?,
        None => Map::new(),
    };
    Ok(Finished::new(out, vars))
}

impl Exec {
    /// Runs one JSONata state: its output and the next state's index.
    pub(crate) async fn jsonata_body(
        &self,
        st: &State,
        j: &JsonataState,
        raw: Value,
        entered: time::OffsetDateTime,
    ) -> Result<(Value, Option<usize>), ErrorCause> {
        let simple = |default: &Value| {
            let ctx = self.state_ctx(&st.name, entered);
            finish(
                &Env::new(&ctx, &raw),
                j.output.as_ref(),
                st.assign.as_ref(),
                default,
                &ctx,
            )
        };
        let f = match &st.kind {
            Kind::Pass { .. } => Finished {
                next: Self::next_of(st),
                ..simple(&raw)?
            },
            Kind::Succeed => simple(&raw)?,
            Kind::Fail { .. } => {
                let ctx = self.state_ctx(&st.name, entered);
                let env = Env::new(&ctx, &raw);
                return Err(ErrorCause::new(
                    text(j.error.as_ref(), &env, "Error")?,
                    text(j.cause.as_ref(), &env, "Cause")?,
                ));
            }
            Kind::Conditions(c) => self.conditions(st, j, c, &raw, entered)?,
            Kind::Wait(_) => {
                let d = {
                    let ctx = self.state_ctx(&st.name, entered);
                    let env = Env::new(&ctx, &raw);
                    match int(j.seconds.as_ref(), &env, "Seconds", 0)? {
                        Some(s) => std::time::Duration::from_secs(s),
                        None => {
                            let v = j
                                .timestamp
                                .as_ref()
                                .map(|t| t.eval(&env, "Timestamp"))
                                .transpose()?;
                            let t = v.as_ref().and_then(Value::as_str).and_then(parse_timestamp).ok_or_else(|| {
                                query_error(format!(
                                    "The value of the field 'Timestamp' must be an RFC 3339 timestamp string, found {}",
                                    v.unwrap_or(Value::Null)
                                ))
                            })?;
                            check_wait(t, self.host.now())?;
                            until(t, self.host.now())
                        }
                    }
                };
                if !d.is_zero() {
                    self.host.sleep(d).await;
                }
                Finished {
                    next: Self::next_of(st),
                    ..simple(&raw)?
                }
            }
            Kind::Task(t) => {
                let attempt = |n| self.jsonata_task(st, t, j, &raw, entered, n);
                self.jsonata_retrying(st, j, &t.results, &raw, entered, attempt)
                    .await?
            }
            Kind::Parallel { branches, results } => {
                let attempt = |n| self.jsonata_parallel(st, j, branches, &raw, entered, n);
                self.jsonata_retrying(st, j, results, &raw, entered, attempt)
                    .await?
            }
            Kind::Map(map) => {
                let attempt = |n| self.jsonata_map(st, j, map, &raw, entered, n);
                self.jsonata_retrying(st, j, &map.results, &raw, entered, attempt)
                    .await?
            }
            Kind::Choice(_) => {
                return Err(query_error(
                    "a JSONPath Choice state cannot run as JSONata".into(),
                ));
            }
        };
        self.vars.assign(f.vars);
        self.exited(st, &f.output)?;
        Ok((f.output, f.next))
    }

    /// The first rule whose `Condition` holds, or `Default`; the rule's `Output` and `Assign`
    /// win over the state's.
    fn conditions(
        &self,
        st: &State,
        j: &JsonataState,
        c: &Conditions,
        raw: &Value,
        entered: time::OffsetDateTime,
    ) -> Result<Finished, ErrorCause> {
        let ctx = self.state_ctx(&st.name, entered);
        let env = Env::new(&ctx, raw);
        for rule in &c.rules {
            match rule.condition.eval(&env, "Condition")? {
                Value::Bool(false) => continue,
                Value::Bool(true) => {
                    let output = rule.output.as_ref().or(j.output.as_ref());
                    let assign = rule.assign.as_ref().or(st.assign.as_ref());
                    let f = finish(&env, output, assign, raw, &ctx)?;
                    return Ok(Finished {
                        next: Some(rule.next.idx),
                        ..f
                    });
                }
                other => {
                    return Err(query_error(format!(
                        "The Condition of a Choice rule of state '{}' must return a boolean, found {other}",
                        st.name
                    )));
                }
            }
        }
        let Some(default) = &c.default else {
            return Err(ErrorCause::new(
                "States.NoChoiceMatched",
                format!(
                    "no Choice rule of state '{}' matched and it has no Default",
                    st.name
                ),
            ));
        };
        let f = finish(&env, j.output.as_ref(), st.assign.as_ref(), raw, &ctx)?;
        Ok(Finished {
            next: Some(default.idx),
            ..f
        })
    }

    async fn jsonata_retrying<Fut>(
        &self,
        st: &State,
        j: &JsonataState,
        results: &Results,
        raw: &Value,
        entered: time::OffsetDateTime,
        attempt: impl Fn(u32) -> Fut,
    ) -> Result<Finished, ErrorCause>
    where
        Fut: std::future::Future<Output = Result<Value, ErrorCause>>,
    {
        let done = |result: Value, n: u32| {
            let ctx = self.retrying_ctx(st, entered, n);
            let env = Env::new(&ctx, raw).with_result(&result);
            finish(&env, j.output.as_ref(), st.assign.as_ref(), &result, &ctx)
        };
        let caught = |c: &Catcher, err: Value| {
            let ctx = self.state_ctx(&st.name, entered);
            let env = Env::new(&ctx, raw).with_error_output(&err);
            finish(&env, c.output.as_ref(), c.assign.as_ref(), &err, &ctx)
        };
        self.retrying(st, results, attempt, done, caught).await
    }

    async fn jsonata_task(
        &self,
        st: &State,
        task: &Task,
        j: &JsonataState,
        raw: &Value,
        entered: time::OffsetDateTime,
        retry_count: u32,
    ) -> Result<Value, ErrorCause> {
        let token = task_token();
        let (input, heartbeat_seconds, timeout_seconds) = {
            let mut ctx = self.retrying_ctx(st, entered, retry_count);
            ctx.token = Some(&token);
            let env = Env::new(&ctx, raw);
            let input = match &j.arguments {
                Some(t) => t.eval(&env, "Arguments")?,
                None => raw.clone(),
            };
            (
                input,
                int(j.heartbeat.as_ref(), &env, "HeartbeatSeconds", 1)?,
                int(j.timeout.as_ref(), &env, "TimeoutSeconds", 1)?,
            )
        };
        if task.is_activity {
            let req = ActivityRequest {
                resource: task.resource.clone(),
                input,
                task_token: token.clone(),
                heartbeat_seconds,
                timeout_seconds,
            };
            return self.host.run_activity(req).await;
        }
        let (resource_type, action, pattern) = describe(&task.resource);
        let req = IntegrationRequest {
            resource: task.resource.clone(),
            resource_type,
            action,
            pattern,
            parameters: input,
            task_token: token.clone(),
            state_name: st.name.clone(),
            attempt: retry_count,
            heartbeat_seconds,
            timeout_seconds,
        };
        self.host.run_integration(req).await
    }

    async fn jsonata_parallel(
        &self,
        st: &State,
        j: &JsonataState,
        branches: &[Machine],
        raw: &Value,
        entered: time::OffsetDateTime,
        retries: u32,
    ) -> Result<Value, ErrorCause> {
        let input = match &j.arguments {
            Some(t) => {
                let ctx = self.retrying_ctx(st, entered, retries);
                t.eval(&Env::new(&ctx, raw), "Arguments")?
            }
            None => raw.clone(),
        };
        self.record("ParallelStateStarted", None, &Value::Null);
        match self.branches(branches, &input).await {
            Ok(outs) => {
                self.record("ParallelStateSucceeded", None, &Value::Null);
                Ok(Value::Array(outs))
            }
            Err(e) => {
                self.record("ParallelStateFailed", None, &Value::Null);
                Err(e)
            }
        }
    }

    async fn jsonata_map(
        &self,
        st: &State,
        j: &JsonataState,
        map: &MapState,
        raw: &Value,
        entered: time::OffsetDateTime,
        retries: u32,
    ) -> Result<Value, ErrorCause> {
        let (inputs, max) = {
            let ctx = self.retrying_ctx(st, entered, retries);
            let env = Env::new(&ctx, raw);
            let items = match &j.items {
                Some(t) => t.eval(&env, "Items")?,
                None => raw.clone(),
            };
            let Value::Array(items) = items else {
                return Err(query_error(format!(
                    "The Items of the Map state '{}' must be a JSON array, found {items}",
                    st.name
                )));
            };
            let max = int(j.max_concurrency.as_ref(), &env, "MaxConcurrency", 0)?.unwrap_or(0);
            let inputs = match &j.item_selector {
                None => items,
                Some(sel) => {
                    let mut out = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let mut ctx = self.retrying_ctx(st, entered, retries);
                        ctx.map_item = Some((i, item));
                        out.push(sel.eval(&Env::new(&ctx, raw), "ItemSelector")?);
                    }
                    out
                }
            };
            (inputs, max)
        };
        self.run_iterations(st, map, inputs, max).await
    }
}
