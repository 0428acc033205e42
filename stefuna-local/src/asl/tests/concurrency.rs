//! Parallel branches and Map items run at once, in order, within MaxConcurrency.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::channel::oneshot;
use futures::executor::LocalPool;
use futures::future::BoxFuture;
use futures::task::LocalSpawnExt;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::*;
use crate::asl::{ActivityRequest, ErrorCause, Event, Host, run};

type Gate = (Value, oneshot::Sender<Result<Value, ErrorCause>>);

/// A host whose activities finish only when the test says so, to observe concurrency.
struct GatedHost {
    pending: Mutex<Vec<Gate>>,
    events: Mutex<Vec<super::Seen>>,
}

impl GatedHost {
    fn new() -> Arc<Self> {
        Arc::new(GatedHost {
            pending: Mutex::new(Vec::new()),
            events: Mutex::new(Vec::new()),
        })
    }
}

impl Host for GatedHost {
    fn run_activity(&self, req: ActivityRequest) -> BoxFuture<'static, Result<Value, ErrorCause>> {
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().push((req.input, tx));
        async move {
            rx.await
                .unwrap_or_else(|_| Err(ErrorCause::new("Dropped", "")))
        }
        .boxed()
    }
    fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
        futures::future::ready(()).boxed()
    }
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH
    }
    fn record(&self, event: Event) -> u64 {
        let mut events = self.events.lock().unwrap();
        events.push(event.into());
        events.len() as u64 + 1
    }
}

/// Runs `def` on a local pool; answers activities in reverse order of arrival, `batch` at a
/// time, and returns the result plus the largest number of activities seen pending at once.
fn run_gated(def: Value, input: Value) -> (Result<Value, ErrorCause>, usize) {
    let host = GatedHost::new();
    let result = Arc::new(Mutex::new(None));
    let mut pool = LocalPool::new();
    let (h, r) = (host.clone() as Arc<dyn Host>, result.clone());
    let m = machine(def);
    pool.spawner()
        .spawn_local(async move {
            let out = run(m, input, info(), h).await;
            *r.lock().unwrap() = Some(out);
        })
        .unwrap();
    let mut max_pending = 0;
    loop {
        pool.run_until_stalled();
        if let Some(out) = result.lock().unwrap().take() {
            return (out, max_pending);
        }
        let mut pending = std::mem::take(&mut *host.pending.lock().unwrap());
        assert!(
            !pending.is_empty(),
            "execution stalled with no pending activity"
        );
        max_pending = max_pending.max(pending.len());
        while let Some((input, tx)) = pending.pop() {
            let _ = tx.send(Ok(json!({"done": input})));
        }
    }
}

#[test]
fn map_runs_concurrently_and_keeps_item_order() {
    let (out, max_pending) = run_gated(map_def(json!({})), json!({"items": [0, 1, 2, 3, 4]}));
    assert_eq!(
        out.unwrap(),
        json!([{"done": 0}, {"done": 1}, {"done": 2}, {"done": 3}, {"done": 4}])
    );
    assert_eq!(
        max_pending, 5,
        "all items should run at once without MaxConcurrency"
    );
}

#[test]
fn map_max_concurrency_limits_items_in_flight() {
    let (out, max_pending) = run_gated(
        map_def(json!({"MaxConcurrency": 2})),
        json!({"items": [0, 1, 2, 3, 4]}),
    );
    assert_eq!(out.unwrap().as_array().unwrap().len(), 5);
    assert_eq!(max_pending, 2);
}

#[test]
fn parallel_branches_run_concurrently_in_branch_order() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": ARN, "Parameters": {"b": "a"}, "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": ARN, "Parameters": {"b": "b"}, "End": true}}}
    ]}}});
    let (out, max_pending) = run_gated(def, json!({}));
    assert_eq!(
        out.unwrap(),
        json!([{"done": {"b": "a"}}, {"done": {"b": "b"}}])
    );
    assert_eq!(max_pending, 2);
}

#[test]
fn a_failed_map_item_aborts_the_items_still_running() {
    let host = GatedHost::new();
    let result = Arc::new(Mutex::new(None));
    let mut pool = LocalPool::new();
    let (h, r) = (host.clone() as Arc<dyn Host>, result.clone());
    let m = machine(map_def(json!({})));
    pool.spawner()
        .spawn_local(async move {
            *r.lock().unwrap() = Some(run(m, json!({"items": [0, 1]}), info(), h).await);
        })
        .unwrap();
    pool.run_until_stalled();
    let mut pending = std::mem::take(&mut *host.pending.lock().unwrap());
    assert_eq!(pending.len(), 2);
    let failing = pending
        .iter()
        .position(|(input, _)| *input == json!(1))
        .unwrap();
    let (_, tx) = pending.remove(failing);
    tx.send(Err(ErrorCause::new("Item.Failed", "no"))).unwrap();
    pool.run_until_stalled();
    let out = result
        .lock()
        .unwrap()
        .take()
        .expect("the map should have failed");
    assert_eq!(out.unwrap_err().error, "Item.Failed");
    let events = host.events.lock().unwrap();
    let aborted: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "MapIterationAborted")
        .collect();
    assert_eq!(aborted.len(), 1);
    assert_eq!(aborted[0].details, json!({"name": "M", "index": 0}));
    assert!(events.iter().any(|e| e.event_type == "TaskStateAborted"));
    assert_eq!(events.last().unwrap().event_type, "MapStateFailed");
    // the item still running was dropped, not answered
    drop(pending);
}

#[test]
fn max_concurrency_path_reads_the_limit_from_the_input() {
    let def = map_def(json!({"MaxConcurrencyPath": "$.limit"}));
    let (out, max_pending) = run_gated(def, json!({"limit": 3, "items": [0, 1, 2, 3, 4, 5]}));
    assert_eq!(out.unwrap().as_array().unwrap().len(), 6);
    assert_eq!(max_pending, 3);
}
