//! A minimal fake of the Step Functions activity API (awsJson1_0 over HTTP) for runtime tests
//! that need to see exactly what the worker sent: queued tasks, recorded results and beats,
//! dead tokens and injected throttling. Scenario tests with real state machines use stefuna-local.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::Reply;

/// What the worker sent for a task.
#[derive(Clone, Debug, PartialEq)]
pub enum Sent {
    /// SendTaskSuccess output.
    Success(String),
    /// SendTaskFailure error and cause.
    Failure(String, String),
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, String)>,
    results: HashMap<String, Vec<Sent>>,
    beats: HashMap<String, usize>,
    dead: HashSet<String>,
    throttle: HashMap<String, usize>,
    calls: HashMap<String, usize>,
    workers: Vec<String>,
    assigned: HashMap<String, String>,
    open_polls: usize,
    max_open_polls: usize,
}

/// The fake service.
#[derive(Clone)]
pub struct FakeSfn {
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    queued: Arc<Notify>,
    /// Its URL, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    long_poll: Duration,
}

impl FakeSfn {
    /// Starts on 127.0.0.1 with a 1 s long poll.
    pub async fn start() -> FakeSfn {
        Self::start_with_long_poll(Duration::from_secs(1)).await
    }

    /// Starts on 127.0.0.1; an empty `GetActivityTask` answers after `long_poll`.
    pub async fn start_with_long_poll(long_poll: Duration) -> FakeSfn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeSfn {
            state: Arc::default(),
            changed: Arc::default(),
            queued: Arc::default(),
            endpoint,
            long_poll,
        };
        let f = fake.clone();
        let route = warp::post()
            .and(warp::header::<String>("x-amz-target"))
            .and(warp::body::bytes())
            .then(move |target: String, body: bytes::Bytes| {
                let f = f.clone();
                async move { f.handle(&target, &body).await }
            });
        tokio::spawn(warp::serve(route).incoming(listener).run());
        fake
    }

    /// Queues a task for the next poll.
    pub fn push(&self, token: &str, input: &str) {
        self.lock().queue.push_back((token.into(), input.into()));
        self.queued.notify_waiters();
    }

    /// Makes every later call with `token` answer `TaskTimedOut`.
    pub fn kill(&self, token: &str) {
        self.lock().dead.insert(token.into());
    }

    /// Makes the next `n` calls of `operation` answer `ThrottlingException`.
    pub fn throttle(&self, operation: &str, n: usize) {
        self.lock().throttle.insert(operation.into(), n);
    }

    /// Calls of `operation` received so far (throttled ones included).
    pub fn calls(&self, operation: &str) -> usize {
        self.lock().calls.get(operation).copied().unwrap_or(0)
    }

    /// Heartbeats accepted for `token`.
    pub fn beats(&self, token: &str) -> usize {
        self.lock().beats.get(token).copied().unwrap_or(0)
    }

    /// Worker names seen on polls.
    pub fn workers(&self) -> Vec<String> {
        self.lock().workers.clone()
    }

    /// `GetActivityTask` calls waiting for a task now.
    pub fn open_polls(&self) -> usize {
        self.lock().open_polls
    }

    /// The most `GetActivityTask` calls ever open at once.
    pub fn max_open_polls(&self) -> usize {
        self.lock().max_open_polls
    }

    /// The worker name whose poll received `token`.
    pub fn assigned(&self, token: &str) -> Option<String> {
        self.lock().assigned.get(token).cloned()
    }

    /// What was sent for `token` so far.
    pub fn results(&self, token: &str) -> Vec<Sent> {
        self.lock().results.get(token).cloned().unwrap_or_default()
    }

    /// Waits (at most 20 s) until `cond` holds.
    pub async fn until(&self, what: &str, mut cond: impl FnMut(&FakeSfn) -> bool) {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                if cond(self) {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    /// Waits for the one result of `token`.
    pub async fn result(&self, token: &str) -> Sent {
        self.until(&format!("a result for {token}"), |f| {
            !f.results(token).is_empty()
        })
        .await;
        let r = self.results(token);
        assert_eq!(r.len(), 1, "exactly one result per task: {r:?}");
        r[0].clone()
    }

    fn take(&self, worker: &str) -> Option<(String, String)> {
        let mut s = self.lock();
        let t = s.queue.pop_front()?;
        s.assigned.insert(t.0.clone(), worker.to_owned());
        Some(t)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    async fn handle(&self, target: &str, body: &[u8]) -> warp::reply::Response {
        let op = target.rsplit('.').next().unwrap_or("").to_owned();
        let req: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let token = req["taskToken"].as_str().unwrap_or("").to_owned();
        {
            let refusal = {
                let mut s = self.lock();
                *s.calls.entry(op.clone()).or_default() += 1;
                if let Some(n) = s.throttle.get_mut(&op).filter(|n| **n > 0) {
                    *n -= 1;
                    Some(("ThrottlingException", "rate exceeded"))
                } else if op != "GetActivityTask" && s.dead.contains(&token) {
                    Some(("TaskTimedOut", "task timed out"))
                } else {
                    None
                }
            };
            if let Some((code, message)) = refusal {
                self.changed.notify_waiters();
                return error(StatusCode::BAD_REQUEST, code, message);
            }
        }
        let reply = match op.as_str() {
            "GetActivityTask" => {
                let worker = req["workerName"].as_str().unwrap_or("").to_owned();
                {
                    let mut s = self.lock();
                    s.workers.push(worker.clone());
                    s.open_polls += 1;
                    s.max_open_polls = s.max_open_polls.max(s.open_polls);
                }
                self.changed.notify_waiters();
                let task = tokio::time::timeout(self.long_poll, async {
                    loop {
                        let queued = self.queued.notified();
                        if let Some(t) = self.take(&worker) {
                            return t;
                        }
                        queued.await;
                    }
                })
                .await;
                self.lock().open_polls -= 1;
                match task {
                    Ok((token, input)) => {
                        ok(serde_json::json!({"taskToken": token, "input": input}))
                    }
                    Err(_) => ok(serde_json::json!({})),
                }
            }
            "SendTaskSuccess" => {
                let output = req["output"].as_str().unwrap_or("").to_owned();
                self.lock()
                    .results
                    .entry(token)
                    .or_default()
                    .push(Sent::Success(output));
                ok(serde_json::json!({}))
            }
            "SendTaskFailure" => {
                let e = req["error"].as_str().unwrap_or("").to_owned();
                let c = req["cause"].as_str().unwrap_or("").to_owned();
                self.lock()
                    .results
                    .entry(token)
                    .or_default()
                    .push(Sent::Failure(e, c));
                ok(serde_json::json!({}))
            }
            "SendTaskHeartbeat" => {
                *self.lock().beats.entry(token).or_default() += 1;
                ok(serde_json::json!({}))
            }
            _ => error(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                "unknown",
            ),
        };
        self.changed.notify_waiters();
        reply
    }
}

fn ok(body: serde_json::Value) -> warp::reply::Response {
    warp::reply::with_header(
        warp::reply::json(&body),
        "content-type",
        "application/x-amz-json-1.0",
    )
    .into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> warp::reply::Response {
    let body = serde_json::json!({"__type": code, "message": message});
    warp::reply::with_status(
        warp::reply::with_header(
            warp::reply::json(&body),
            "content-type",
            "application/x-amz-json-1.0",
        ),
        status,
    )
    .into_response()
}
