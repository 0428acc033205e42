//! The health server: `/` (stefuna 1.0.1's check), `/healthz` (liveness), `/readyz`
//! (readiness) and `/metrics` (Prometheus text). It never shows task data or tokens.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use warp::Filter;
use warp::http::StatusCode;

use crate::metrics::Metrics;

/// Where the server is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Building clients, binding ports.
    Starting = 0,
    /// Pollers running.
    Polling = 1,
    /// Shutting down: no new polls, in-flight tasks finishing.
    Draining = 2,
    /// Everything ended.
    Stopped = 3,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Polling => "polling",
            Phase::Draining => "draining",
            Phase::Stopped => "stopped",
        }
    }
}

#[derive(Debug)]
struct Times {
    /// Last successful Step Functions call, or the last moment the worker had no reason to call.
    last_ok: Instant,
    /// Last `GetActivityTask` that returned.
    last_poll: Option<Instant>,
    /// The last poll error, for humans.
    last_error: Option<String>,
    /// Last tick of the watchdog task on the runtime.
    last_tick: Instant,
}

/// How often the watchdog ticks on the runtime.
const WATCHDOG_TICK: Duration = Duration::from_secs(1);

/// How late a watchdog tick may be before the runtime counts as wedged (its worker threads
/// blocked, e.g. by blocking code in an async task).
pub(crate) const WATCHDOG_STALL: Duration = Duration::from_secs(30);

/// How long a healthy `GetActivityTask` may stay open against AWS (its attempt timeout).
const LONG_POLL_ATTEMPT: Duration = Duration::from_secs(75);

/// Why liveness fails.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Unhealthy {
    /// No Step Functions call succeeded for this long while the worker should be polling.
    NoSuccess(Duration),
    /// The watchdog task has not run for this long.
    Wedged(Duration),
}

impl std::fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unhealthy::NoSuccess(d) => write!(
                f,
                "no step functions call succeeded for {} s while polling",
                d.as_secs()
            ),
            Unhealthy::Wedged(d) => write!(
                f,
                "the async runtime has not run the watchdog for {} s (worker threads blocked?)",
                d.as_secs()
            ),
        }
    }
}

/// What the health endpoints report; shared by pollers and tasks.
#[derive(Debug)]
pub(crate) struct Health {
    phase: AtomicU8,
    times: Mutex<Times>,
    /// `liveness_timeout` in milliseconds; set from the configuration when the server starts.
    liveness_timeout_ms: AtomicU64,
    watchdog_stall: Duration,
    /// Whether a watchdog task is ticking (the server runs one for its lifetime).
    watchdog_running: AtomicBool,
    /// The counters behind `/metrics`.
    pub(crate) metrics: Arc<Metrics>,
    /// This worker's share of the account's API quotas.
    pub(crate) budget: crate::budget::Budget,
}

impl Health {
    /// Health in the `Starting` phase.
    pub(crate) fn new(liveness_timeout: Duration, metrics: Arc<Metrics>) -> Health {
        let now = Instant::now();
        Health {
            phase: AtomicU8::new(Phase::Starting as u8),
            times: Mutex::new(Times {
                last_ok: now,
                last_poll: None,
                last_error: None,
                last_tick: now,
            }),
            liveness_timeout_ms: AtomicU64::new(millis(liveness_timeout)),
            watchdog_stall: WATCHDOG_STALL,
            watchdog_running: AtomicBool::new(false),
            budget: crate::budget::Budget::new(metrics.throttled.clone()),
            metrics,
        }
    }

    /// The same health with another watchdog threshold (tests).
    #[cfg(test)]
    fn with_watchdog_stall(mut self, stall: Duration) -> Health {
        self.watchdog_stall = stall;
        self
    }

    /// Sets `liveness_timeout` (the configuration is known only once the server runs).
    pub(crate) fn set_liveness_timeout(&self, timeout: Duration) {
        self.liveness_timeout_ms
            .store(millis(timeout), Ordering::Relaxed);
    }

    fn liveness_timeout(&self) -> Duration {
        Duration::from_millis(self.liveness_timeout_ms.load(Ordering::Relaxed))
    }

    /// Moves to `phase`.
    pub(crate) fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::SeqCst);
    }

    /// The current phase.
    pub(crate) fn phase(&self) -> Phase {
        match self.phase.load(Ordering::SeqCst) {
            0 => Phase::Starting,
            1 => Phase::Polling,
            2 => Phase::Draining,
            _ => Phase::Stopped,
        }
    }

    /// A Step Functions call succeeded (or the worker was idle by design, e.g. all slots busy).
    pub(crate) fn note_ok(&self) {
        self.times().last_ok = Instant::now();
    }

    /// A `GetActivityTask` call returned.
    pub(crate) fn note_poll(&self) {
        let mut t = self.times();
        let now = Instant::now();
        t.last_ok = now;
        t.last_poll = Some(now);
        t.last_error = None;
    }

    /// A `GetActivityTask` call failed.
    pub(crate) fn note_poll_error(&self, error: String) {
        self.times().last_error = Some(error);
    }

    /// Why liveness fails, if it does: the runtime is wedged, or the worker should be polling
    /// (phase `polling`, a slot free) and no call succeeded within `liveness_timeout`.
    pub(crate) fn unhealthy(&self) -> Option<Unhealthy> {
        let (since_ok, since_tick) = {
            let t = self.times();
            (t.last_ok.elapsed(), t.last_tick.elapsed())
        };
        if self.watchdog_running.load(Ordering::Relaxed) && since_tick > self.watchdog_stall {
            return Some(Unhealthy::Wedged(since_tick));
        }
        // With every slot busy the worker has no reason to call Step Functions: a long task
        // without heartbeats is not a dead worker.
        let should_poll = self.phase() == Phase::Polling && !self.metrics.all_slots_busy();
        (should_poll && since_ok > self.liveness_timeout())
            .then_some(Unhealthy::NoSuccess(since_ok))
    }

    /// Whether the worker takes tasks.
    pub(crate) fn is_ready(&self) -> bool {
        self.phase() == Phase::Polling
    }

    /// Ticks until dropped, so `/healthz` can tell a runtime whose threads are all blocked.
    pub(crate) async fn watchdog(self: Arc<Self>) {
        struct Running<'a>(&'a AtomicBool);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Relaxed);
            }
        }
        self.times().last_tick = Instant::now();
        self.watchdog_running.store(true, Ordering::Relaxed);
        let _running = Running(&self.watchdog_running);
        let mut ticks = tokio::time::interval(WATCHDOG_TICK.min(self.watchdog_stall / 4));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.times().last_tick = Instant::now();
        }
    }

    /// The facts of `GET /`: stefuna 1.0.1's `{"status": "ok"}` plus the state, tasks in flight,
    /// poll age, liveness and per-activity slots. No task data.
    pub(crate) fn facts(&self) -> serde_json::Value {
        let unhealthy = self.unhealthy();
        let t = self.times();
        serde_json::json!({
            "status": "ok",
            "state": self.phase().name(),
            "live": unhealthy.is_none(),
            "ready": self.is_ready(),
            "unhealthy": unhealthy.map(|u| u.to_string()),
            "in_flight": self.metrics.in_flight(),
            "last_poll_age_seconds": t.last_poll.map(|p| p.elapsed().as_secs_f64()),
            "last_ok_age_seconds": t.last_ok.elapsed().as_secs_f64(),
            "last_error": t.last_error,
            "liveness_timeout_seconds": self.liveness_timeout().as_secs(),
            "activities": self.metrics.facts(),
        })
    }

    fn times(&self) -> std::sync::MutexGuard<'_, Times> {
        self.times
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The health server's routes: [`routes`], and a GET on any other path answers as `GET /` does
/// (stefuna 1.0.1 answered its healthcheck on any path, so probes at `/health` or `/ping` keep
/// working). Other methods get 405 naming the routes.
pub(crate) fn standalone(
    health: Arc<Health>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone + Send + Sync + 'static
{
    use warp::Reply;
    let h = health.clone();
    let any_get = warp::get().map(move || warp::reply::json(&h.facts()).into_response());
    routes(health)
        .or(any_get)
        .unify()
        .recover(|_rej: warp::Rejection| async {
            Ok::<_, Infallible>(
                warp::reply::with_status(
                    "only GET is served: /, /healthz, /readyz or /metrics",
                    StatusCode::METHOD_NOT_ALLOWED,
                )
                .into_response(),
            )
        })
        .unify()
}

/// `/`, `/healthz`, `/readyz` and `/metrics`; any other request is rejected, so the filter can
/// be combined with a host service's own routes.
pub(crate) fn routes(
    health: Arc<Health>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection>
+ Clone
+ Send
+ Sync
+ 'static {
    use warp::Reply;
    let with = move || {
        let h = health.clone();
        warp::any().map(move || h.clone())
    };
    let root = warp::path::end()
        .and(warp::get())
        .and(with())
        .map(|h: Arc<Health>| warp::reply::json(&h.facts()).into_response());
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .and(with())
        .map(|h: Arc<Health>| match h.unhealthy() {
            None => status_json(StatusCode::OK, "ok", None, &h),
            Some(why) => status_json(StatusCode::SERVICE_UNAVAILABLE, "unhealthy", Some(why), &h),
        });
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with())
        .map(|h: Arc<Health>| {
            if h.is_ready() {
                status_json(StatusCode::OK, "ready", None, &h)
            } else {
                status_json(StatusCode::SERVICE_UNAVAILABLE, "not ready", None, &h)
            }
        });
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(warp::header::optional::<String>("accept"))
        .and(with())
        .map(|accept: Option<String>, h: Arc<Health>| {
            let (body, kind) = if accept.is_some_and(|a| a.contains("application/openmetrics-text"))
            {
                (
                    h.metrics.render_openmetrics(),
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )
            } else {
                (
                    h.metrics.render(),
                    prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                )
            };
            warp::reply::with_header(body, "content-type", kind).into_response()
        });
    root.or(healthz)
        .unify()
        .or(readyz)
        .unify()
        .or(metrics)
        .unify()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn status_json(
    code: StatusCode,
    status: &str,
    why: Option<Unhealthy>,
    h: &Health,
) -> warp::reply::Response {
    use warp::Reply;
    let mut body = serde_json::json!({"status": status, "state": h.phase().name()});
    if let Some(why) = why {
        body["reason"] = why.to_string().into();
    }
    warp::reply::with_status(warp::reply::json(&body), code).into_response()
}

/// Serves the routes on `listener` until `stop` completes (the server runs the watchdog).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    health: Arc<Health>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    if health.liveness_timeout() < LONG_POLL_ATTEMPT {
        tracing::warn!(
            liveness_timeout = health.liveness_timeout().as_secs(),
            "liveness_timeout is shorter than a GetActivityTask long poll (up to 75 s against \
             AWS): an idle worker may be reported dead; use at least 90 s"
        );
    }
    warp::serve(standalone(health))
        .incoming(listener)
        .graceful(stop)
        .run()
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(timeout: Duration) -> Arc<Health> {
        Arc::new(Health::new(timeout, Arc::new(Metrics::default())))
    }

    /// Serves `h` on a loopback port; returns the base URL and the stopper.
    async fn start(h: Arc<Health>) -> (String, tokio::sync::oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, h, async move {
            let _ = rx.await;
        }));
        (url, tx)
    }

    async fn get(url: &str) -> (u16, String) {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let res = client.get(url).send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    #[tokio::test]
    async fn readiness_follows_the_phase() {
        let h = health(Duration::from_secs(60));
        let (url, _stop) = start(h.clone()).await;
        assert_eq!(get(&format!("{url}/readyz")).await.0, 503);
        h.set_phase(Phase::Polling);
        assert_eq!(get(&format!("{url}/readyz")).await.0, 200);
        h.set_phase(Phase::Draining);
        assert_eq!(get(&format!("{url}/readyz")).await.0, 503);
        let (code, body) = get(&format!("{url}/")).await;
        assert_eq!(code, 200);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["status"], "ok");
        assert_eq!(body["state"], "draining");
        assert_eq!(body["in_flight"], 0);
        // stefuna 1.0.1 answered any path: probes at /health or /ping keep working.
        for path in ["/health", "/ping", "/a/b?c=d"] {
            let (code, body) = get(&format!("{url}{path}")).await;
            assert_eq!(code, 200, "{path}");
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["status"], "ok", "{path}");
            assert_eq!(body["state"], "draining", "{path}");
        }
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let res = client.post(format!("{url}/health")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 405);
    }

    #[tokio::test]
    async fn liveness_fails_when_polling_without_success() {
        let h = health(Duration::ZERO);
        let (url, _stop) = start(h.clone()).await;
        // Not polling yet: nothing is expected to succeed.
        assert_eq!(get(&format!("{url}/healthz")).await.0, 200);
        h.set_phase(Phase::Polling);
        assert_eq!(get(&format!("{url}/healthz")).await.0, 503);

        let h = health(Duration::from_secs(3600));
        h.set_phase(Phase::Polling);
        h.note_poll();
        let (url, _stop) = start(h.clone()).await;
        assert_eq!(get(&format!("{url}/healthz")).await.0, 200);
    }

    /// Polls `url` until it answers `code` (at most 20 s); returns the body.
    async fn until_status(url: &str, code: u16) -> String {
        let wait = async {
            loop {
                let (c, body) = get(url).await;
                if c == code {
                    return body;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .unwrap_or_else(|_| panic!("{url} never answered {code}"))
    }

    #[test]
    fn a_blocked_runtime_fails_liveness_until_it_runs_again() {
        let h = Arc::new(
            Health::new(Duration::from_secs(3600), Arc::new(Metrics::default()))
                .with_watchdog_stall(Duration::from_millis(400)),
        );
        // The "worker" runtime runs only the watchdog; its one thread is blocked on command.
        let (block_tx, block_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let watched = h.clone();
        let worker = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            rt.block_on(async move {
                tokio::spawn(watched.watchdog());
                let _ = block_rx.await;
                // Blocking code on a runtime thread: nothing else on this runtime can run.
                let _ = release_rx.recv();
                let _ = stop_rx.await;
            });
        });
        // The health server runs on another runtime, as a probe would still reach it while
        // some worker threads are stuck.
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/healthz", listener.local_addr().unwrap());
            tokio::spawn(warp::serve(standalone(h.clone())).incoming(listener).run());
            until_status(&url, 200).await;
            block_tx.send(()).unwrap();
            let body = until_status(&url, 503).await;
            assert!(body.contains("async runtime"), "{body}");
            let (_, facts) = get(&url.replace("/healthz", "/")).await;
            let facts: serde_json::Value = serde_json::from_str(&facts).unwrap();
            assert_eq!(facts["live"], false, "{facts}");
            assert_eq!(facts["status"], "ok", "stefuna's shape stays: {facts}");
            release_tx.send(()).unwrap();
            until_status(&url, 200).await;
        });
        stop_tx.send(()).unwrap();
        worker.join().unwrap();
    }

    #[tokio::test]
    async fn liveness_holds_while_every_slot_is_busy() {
        let h = health(Duration::ZERO);
        h.set_phase(Phase::Polling);
        assert!(matches!(h.unhealthy(), Some(Unhealthy::NoSuccess(_))));
        // One activity, one slot, taken by a long task: nothing to call Step Functions for.
        h.metrics
            .test_set_slots("Busy", Arc::new(tokio::sync::Semaphore::new(1)));
        h.metrics.record("Busy", crate::metrics::Event::Started);
        assert_eq!(h.unhealthy(), None);
        h.metrics.record("Busy", crate::metrics::Event::Finished);
        assert!(matches!(h.unhealthy(), Some(Unhealthy::NoSuccess(_))));
    }

    #[tokio::test]
    async fn metrics_are_prometheus_text() {
        let h = health(Duration::from_secs(60));
        h.metrics
            .record("Hello", crate::metrics::Event::Poll { empty: true });
        let (url, _stop) = start(h).await;
        let (code, body) = get(&format!("{url}/metrics")).await;
        assert_eq!(code, 200);
        assert!(
            body.contains("stefuna_polls_total{activity=\"Hello\"} 1"),
            "{body}"
        );
    }
}
