//! Interpreter tests with a fake [`Host`](super::Host): activities answer from a closure, sleeps
//! return at once and are recorded, events are collected.

mod aws_errors;
mod aws_intrinsics;
mod concurrency;
mod errors;
mod flow;
mod io;
mod jsonata;
mod variables;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::executor::block_on;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{ActivityRequest, ErrorCause, Event, ExecutionInfo, Host, StateMachine, parse, run};

pub(super) const ARN: &str = "arn:aws:states:us-east-1:123456789012:activity:work";

pub(super) type Responder = Box<dyn FnMut(&ActivityRequest) -> Result<Value, ErrorCause> + Send>;

/// An event as a test reads it: its details parsed back into a `Value`.
#[derive(Clone, Debug)]
pub(super) struct Seen {
    pub(super) event_type: &'static str,
    pub(super) details_key: Option<&'static str>,
    pub(super) details: Value,
}

impl From<Event> for Seen {
    fn from(e: Event) -> Seen {
        Seen {
            event_type: e.event_type,
            details_key: e.details_key,
            details: serde_json::from_str(&e.details).expect("event details are JSON"),
        }
    }
}

pub(super) struct FakeHost {
    responder: Mutex<Responder>,
    requests: Mutex<Vec<ActivityRequest>>,
    sleeps: Mutex<Vec<Duration>>,
    events: Mutex<Vec<Seen>>,
    now: OffsetDateTime,
    /// Sleeps never end (to stop an execution in the middle of a Wait).
    hang_sleeps: AtomicBool,
}

impl FakeHost {
    fn new(
        responder: impl FnMut(&ActivityRequest) -> Result<Value, ErrorCause> + Send + 'static,
    ) -> Arc<Self> {
        Arc::new(FakeHost {
            responder: Mutex::new(Box::new(responder)),
            requests: Mutex::new(Vec::new()),
            sleeps: Mutex::new(Vec::new()),
            events: Mutex::new(Vec::new()),
            now: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            hang_sleeps: AtomicBool::new(false),
        })
    }

    /// Echoes the activity input back.
    fn echo() -> Arc<Self> {
        FakeHost::new(|r| Ok(r.input.clone()))
    }

    fn sleeps(&self) -> Vec<f64> {
        self.sleeps
            .lock()
            .unwrap()
            .iter()
            .map(Duration::as_secs_f64)
            .collect()
    }

    fn requests(&self) -> Vec<ActivityRequest> {
        self.requests.lock().unwrap().clone()
    }

    fn event_types(&self) -> Vec<&'static str> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.event_type)
            .collect()
    }
}

impl Host for FakeHost {
    fn run_activity(&self, req: ActivityRequest) -> BoxFuture<'static, Result<Value, ErrorCause>> {
        let res = (self.responder.lock().unwrap())(&req);
        self.requests.lock().unwrap().push(req);
        futures::future::ready(res).boxed()
    }

    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        self.sleeps.lock().unwrap().push(d);
        if self.hang_sleeps.load(Ordering::SeqCst) {
            return futures::future::pending().boxed();
        }
        futures::future::ready(()).boxed()
    }

    fn now(&self) -> OffsetDateTime {
        self.now
    }

    fn record(&self, event: Event) -> u64 {
        let mut events = self.events.lock().unwrap();
        events.push(event.into());
        // The host's own ExecutionStarted is event 1.
        events.len() as u64 + 1
    }
}

pub(super) fn info() -> ExecutionInfo {
    ExecutionInfo {
        id: "arn:aws:states:us-east-1:123456789012:execution:sm:ex1".into(),
        name: "ex1".into(),
        start_time: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        state_machine_id: "arn:aws:states:us-east-1:123456789012:stateMachine:sm".into(),
        state_machine_name: "sm".into(),
    }
}

pub(super) fn machine(def: Value) -> Arc<StateMachine> {
    parse(&def.to_string()).unwrap_or_else(|e| panic!("definition should parse: {e}"))
}

pub(super) fn exec(def: Value, input: Value, host: &Arc<FakeHost>) -> Result<Value, ErrorCause> {
    let host: Arc<dyn Host> = host.clone();
    block_on(run(machine(def), input, info(), host))
}

pub(super) fn task(extra: Value) -> Value {
    let mut t = json!({"Type": "Task", "Resource": ARN, "End": true});
    t.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"StartAt": "T", "States": {"T": t}})
}

pub(super) fn fail_with(error: &str) -> ErrorCause {
    ErrorCause::new(error, "boom")
}

#[test]
fn timeout_seconds_is_exposed() {
    let m = machine(
        json!({"TimeoutSeconds": 9, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
    );
    assert_eq!(m.timeout_seconds(), Some(9));
    assert_eq!(m.definition["StartAt"], "P");
}

pub(super) fn map_def(extra: Value) -> Value {
    let mut m = json!({"Type": "Map", "End": true, "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Task", "Resource": ARN, "End": true}}}});
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"StartAt": "M", "States": {"M": m}})
}

#[test]
fn run_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let host: Arc<dyn Host> = FakeHost::echo();
    let fut = run(machine(task(json!({}))), json!({}), info(), host);
    assert_send(&fut);
}
