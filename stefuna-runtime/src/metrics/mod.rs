//! The series behind `/metrics`, kept with `prometheus-client`: typed families whose label sets
//! are structs (so a token or an input can never become a label by accident), a registry owned
//! by the server rather than a process-global one (two servers in one test binary do not mix),
//! and its text encoders.
//!
//! Labels are bounded: `activity` is one of the hosted activities, `error` and `code` are capped
//! at [`MAX_LABEL_VALUES`] distinct values per family (more are counted as `other`).

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;

use crate::pool::ActivityPool;

mod families;
mod throttled;

pub(crate) use throttled::Throttled;

use families::{
    ActivityLabel, CodeLabels, ErrorLabels, Exported, Families, OUTCOMES, OutcomeLabels,
    PerActivity, duration_histogram, refresh, wait_histogram,
};

/// An activity whose series an event goes to: its name (looked up in a map at each event) or an
/// [`ActivitySeries`] (looked up once, when its pool was built).
pub(crate) trait Series {
    /// The activity's name (the `activity` label).
    fn name(&self) -> &str;
    /// Runs `f` on the activity's series.
    fn with<R>(&self, metrics: &Metrics, f: impl FnOnce(&PerActivity) -> R) -> R;
}

impl Series for str {
    fn name(&self) -> &str {
        self
    }

    fn with<R>(&self, metrics: &Metrics, f: impl FnOnce(&PerActivity) -> R) -> R {
        f(&metrics.activity(self))
    }
}

/// One activity's series with its name, from [`Metrics::series_of`].
#[derive(Clone, Debug)]
pub(crate) struct ActivitySeries {
    name: Arc<str>,
    series: Arc<PerActivity>,
}

impl Series for ActivitySeries {
    fn name(&self) -> &str {
        &self.name
    }

    fn with<R>(&self, _: &Metrics, f: impl FnOnce(&PerActivity) -> R) -> R {
        f(&self.series)
    }
}

/// Most distinct values of a free-form label (`error`, `code`) per family.
pub(crate) const MAX_LABEL_VALUES: usize = 64;

/// The value counted once [`MAX_LABEL_VALUES`] is reached.
pub(crate) const OTHER: &str = "other";

/// One countable event.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event<'a> {
    /// A task was claimed and started.
    Started,
    /// A task's result was sent with `SendTaskSuccess`.
    Succeeded,
    /// A task's error was sent with `SendTaskFailure`; the error name.
    Failed(&'a str),
    /// A task ended (its slot is free again).
    Finished,
    /// A `GetActivityTask` call returned; `empty` when it carried no task.
    Poll {
        /// No task in the answer.
        empty: bool,
    },
    /// A heartbeat went through.
    Heartbeat,
    /// A heartbeat failed.
    HeartbeatError,
    /// Step Functions no longer accepts a task's token.
    Lost,
    /// A `SendTask*` call is being retried.
    DeliveryRetry,
    /// A result could not be delivered (dead token or refused request).
    DeliveryDropped,
    /// Process isolation started a child process.
    ChildStarted,
    /// Process isolation: a child process died (or failed to start) while it had a task.
    ChildCrashed,
}

/// The runtime's metrics, labelled by activity name.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    exported: Exported,
    errors_seen: Seen,
    codes_seen: Seen,
    /// `stefuna_throttled_total{api}`.
    pub(crate) throttled: Throttled,
}

impl Default for Metrics {
    fn default() -> Self {
        let exported = Exported {
            families: Arc::new(Families {
                durations: Some(Family::new_with_constructor(duration_histogram)),
                schedule_to_start: Some(Family::new_with_constructor(wait_histogram)),
                ..Families::default()
            }),
            activities: Arc::default(),
        };
        let mut registry = Registry::default();
        let throttled = Throttled::default();
        let stefuna = registry.sub_registry_with_prefix("stefuna");
        stefuna.register_collector(Box::new(exported.clone()));
        throttled.register(stefuna);
        Metrics {
            registry,
            exported,
            errors_seen: Seen::default(),
            codes_seen: Seen::default(),
            throttled,
        }
    }
}

impl Metrics {
    /// Registers an activity so its series show before its first task.
    pub(crate) fn register(&self, activity: &str) {
        self.activity(activity);
    }

    /// Counts `event` for `activity`.
    pub(crate) fn record<A: Series + ?Sized>(&self, activity: &A, event: Event<'_>) {
        activity.with(self, |a| self.record_in(a, activity.name(), event));
    }

    fn record_in(&self, a: &PerActivity, activity: &str, event: Event<'_>) {
        match event {
            Event::Started => {
                a.started.inc();
                a.in_flight.inc();
            }
            Event::Finished => {
                a.in_flight.dec();
            }
            Event::Succeeded => {
                a.succeeded.inc();
            }
            Event::Failed(name) => {
                let labels = ErrorLabels {
                    activity: activity.to_owned(),
                    error: self.errors_seen.admit(activity, name).to_owned(),
                };
                self.exported.families.failed.get_or_create(&labels).inc();
            }
            Event::Poll { empty } => {
                a.polls.inc();
                if empty {
                    a.polls_empty.inc();
                }
                *lock(&a.last_poll) = Instant::now();
            }
            Event::Heartbeat => {
                a.heartbeats.inc();
            }
            Event::HeartbeatError => {
                a.heartbeat_errors.inc();
            }
            Event::Lost => {
                a.lost.inc();
            }
            Event::DeliveryRetry => {
                a.delivery_retries.inc();
            }
            Event::DeliveryDropped => {
                a.delivery_dropped.inc();
            }
            Event::ChildStarted | Event::ChildCrashed => {
                let f = &self.exported.families;
                let family = if matches!(event, Event::ChildStarted) {
                    &f.children_started
                } else {
                    &f.child_crashes
                };
                family
                    .get_or_create(&families::ActivityLabel {
                        activity: activity.to_owned(),
                    })
                    .inc();
            }
        }
    }

    /// Counts a `GetActivityTask` that returned, empty or with a task.
    pub(crate) fn polled<A: Series + ?Sized>(
        &self,
        activity: &A,
        out: &aws_sdk_sfn::operation::get_activity_task::GetActivityTaskOutput,
    ) {
        let empty = out.task_token().is_none_or(str::is_empty);
        self.record(activity, Event::Poll { empty });
    }

    /// Counts a failed `GetActivityTask` by its error code: the service's (`ThrottlingException`,
    /// `AccessDeniedException`, ...) or, when it sent none, `timeout`, `network`, `response` or
    /// `construction` from the SDK's error kind.
    pub(crate) fn poll_failed<E, R>(&self, activity: &str, err: &aws_sdk_sfn::error::SdkError<E, R>)
    where
        E: aws_sdk_sfn::error::ProvideErrorMetadata,
    {
        use aws_sdk_sfn::error::SdkError;
        let code = match err {
            SdkError::ServiceError(se) => se.err().code().unwrap_or("unknown"),
            SdkError::TimeoutError(_) => "timeout",
            SdkError::DispatchFailure(_) => "network",
            SdkError::ResponseError(_) => "response",
            SdkError::ConstructionFailure(_) => "construction",
            _ => "unknown",
        };
        self.activity(activity).poll_errors.inc();
        let labels = CodeLabels {
            activity: activity.to_owned(),
            code: self.codes_seen.admit(activity, code).to_owned(),
        };
        self.exported
            .families
            .poll_errors_by_code
            .get_or_create(&labels)
            .inc();
    }

    /// `call` (a `GetActivityTask`), counted in `stefuna_polls_open` while it is open. Also
    /// learns the pool's slots for `stefuna_slots_free`.
    pub(crate) fn track_poll<F: Future>(
        &self,
        pool: &ActivityPool,
        call: F,
    ) -> impl Future<Output = F::Output> + use<F> {
        let a = self.activity(&pool.name);
        learn_slots(&a, pool.settings.processes, &pool.slots);
        let open = a.polls_open.clone();
        async move {
            open.inc();
            let _close = DecOnDrop(open);
            call.await
        }
    }

    /// Observes how long a task ran, with how it ended (`succeeded`, `failed`, `lost`,
    /// `shutdown`).
    pub(crate) fn task_duration<A: Series + ?Sized>(
        &self,
        activity: &A,
        outcome: &'static str,
        took: Duration,
    ) {
        let Some(d) = &self.exported.families.durations else {
            return;
        };
        let new = || {
            d.get_or_create_owned(&OutcomeLabels {
                activity: activity.name().to_owned(),
                outcome: outcome.to_owned(),
            })
        };
        // Once per activity and outcome, not per task: the label strings and the family lookup.
        match OUTCOMES.iter().position(|o| *o == outcome) {
            Some(i) => activity.with(self, |a| {
                a.durations[i].get_or_init(new).observe(took.as_secs_f64());
            }),
            None => new().observe(took.as_secs_f64()),
        }
    }

    /// Observes how long a task waited for a worker (see [`crate::schedule`]).
    pub(crate) fn schedule_to_start<A: Series + ?Sized>(&self, activity: &A, waited: Duration) {
        activity.with(self, |a| a.schedule_to_start.observe(waited.as_secs_f64()));
    }

    /// `activity`'s series, looked up once: what a pool keeps so its events skip the lookup.
    pub(crate) fn series_of(&self, activity: &str) -> ActivitySeries {
        ActivitySeries {
            name: activity.into(),
            series: self.activity(activity),
        }
    }

    /// Tasks running now, over all activities.
    pub(crate) fn in_flight(&self) -> i64 {
        self.each(|a| a.in_flight.get()).map(|(_, n)| n).sum()
    }

    /// Whether every activity's slots are all taken by running tasks: the worker then has no
    /// reason to call Step Functions until a task ends. A slot held by an open poll does not
    /// count (a poll hanging on a dead endpoint is exactly what liveness must catch). False
    /// before the first poll, while the slots are unknown.
    pub(crate) fn all_slots_busy(&self) -> bool {
        let busy: Vec<bool> = self
            .each(|a| {
                let slots = a.slots.get();
                slots > 0 && a.in_flight.get() >= slots
            })
            .map(|(_, b)| b)
            .collect();
        !busy.is_empty() && busy.iter().all(|b| *b)
    }

    /// Per-activity facts for `GET /`, by activity name.
    pub(crate) fn facts(&self) -> serde_json::Map<String, serde_json::Value> {
        refresh(&self.exported.activities);
        self.each(|a| {
            serde_json::json!({
                "in_flight": a.in_flight.get(),
                "slots": a.slots.get(),
                "slots_free": a.slots_free.get(),
                "polls_open": a.polls_open.get(),
                "last_poll_age_seconds": a.last_poll_age.get(),
            })
        })
        .collect()
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub(crate) fn render(&self) -> String {
        refresh(&self.exported.activities);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// The OpenMetrics text exposition, for scrapers that ask for it.
    pub(crate) fn render_openmetrics(&self) -> String {
        refresh(&self.exported.activities);
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Puts this server's series into `registry` (a host service's), as `stefuna_*`.
    pub(crate) fn register_into(&self, registry: &mut Registry) {
        let stefuna = registry.sub_registry_with_prefix("stefuna");
        stefuna.register_collector(Box::new(self.exported.clone()));
        self.throttled.register(stefuna);
    }

    /// Gives `activity` this slot pool, as its first poll would (tests).
    #[cfg(test)]
    pub(crate) fn test_set_slots(&self, activity: &str, slots: Arc<Semaphore>) {
        learn_slots(&self.activity(activity), slots.available_permits(), &slots);
    }

    /// `f` of every activity, with its name.
    fn each<T>(&self, f: impl Fn(&Arc<PerActivity>) -> T) -> impl Iterator<Item = (String, T)> {
        let map = self
            .exported
            .activities
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<(String, T)> = map.iter().map(|(k, a)| (k.clone(), f(a))).collect();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v.into_iter()
    }

    fn activity(&self, name: &str) -> Arc<PerActivity> {
        if let Some(a) = self
            .exported
            .activities
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return a.clone();
        }
        let mut map = self
            .exported
            .activities
            .write()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(name.to_owned())
            .or_insert_with(|| Arc::new(self.new_activity(name)))
            .clone()
    }

    fn new_activity(&self, name: &str) -> PerActivity {
        let l = ActivityLabel {
            activity: name.to_owned(),
        };
        let f = &self.exported.families;
        PerActivity {
            started: f.started.get_or_create_owned(&l),
            succeeded: f.succeeded.get_or_create_owned(&l),
            in_flight: f.in_flight.get_or_create_owned(&l),
            slots: f.slots.get_or_create_owned(&l),
            slots_free: f.slots_free.get_or_create_owned(&l),
            polls_open: f.polls_open.get_or_create_owned(&l),
            polls: f.polls.get_or_create_owned(&l),
            polls_empty: f.polls_empty.get_or_create_owned(&l),
            poll_errors: f.poll_errors.get_or_create_owned(&l),
            last_poll_age: f.last_poll_age.get_or_create_owned(&l),
            heartbeats: f.heartbeats.get_or_create_owned(&l),
            heartbeat_errors: f.heartbeat_errors.get_or_create_owned(&l),
            lost: f.lost.get_or_create_owned(&l),
            delivery_retries: f.delivery_retries.get_or_create_owned(&l),
            delivery_dropped: f.delivery_dropped.get_or_create_owned(&l),
            slot_utilization: f.slot_utilization.get_or_create_owned(&l),
            schedule_to_start: f
                .schedule_to_start
                .as_ref()
                .map_or_else(wait_histogram, |w| w.get_or_create_owned(&l)),
            durations: Default::default(),
            semaphore: Mutex::new(None),
            last_poll: Mutex::new(Instant::now()),
        }
    }
}

/// The free-form label values a family has admitted, to cap them at [`MAX_LABEL_VALUES`].
#[derive(Debug, Default)]
struct Seen(Mutex<HashSet<(String, String)>>);

impl Seen {
    /// `value`, or [`OTHER`] once the family holds its most values and `value` is new.
    fn admit<'a>(&self, activity: &str, value: &'a str) -> &'a str {
        let mut seen = lock(&self.0);
        let key = (activity.to_owned(), value.to_owned());
        if seen.contains(&key) {
            value
        } else if seen.len() >= MAX_LABEL_VALUES {
            OTHER
        } else {
            seen.insert(key);
            value
        }
    }
}

/// Remembers an activity's slot pool and its size, once.
fn learn_slots(a: &PerActivity, processes: usize, slots: &Arc<Semaphore>) {
    lock(&a.semaphore).get_or_insert_with(|| {
        a.slots.set(saturating_i64(processes));
        slots.clone()
    });
}

fn saturating_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these leaves a plain value behind: still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Closes a poll in `stefuna_polls_open` however its future ends (answer, error, drop).
struct DecOnDrop(Gauge);

impl Drop for DecOnDrop {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(text: &str, line: &str) {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }

    #[test]
    fn render_lists_series_by_activity_and_error() {
        let m = Metrics::default();
        m.register("Idle");
        // A handle taken once and the name looked up each time count into the same series.
        let hello = m.series_of("Hello");
        m.record(&hello, Event::Started);
        m.record("Hello", Event::Started);
        m.record(&hello, Event::Succeeded);
        m.record("Hello", Event::Finished);
        m.record(&hello, Event::Failed("Task.Failure"));
        m.record("Hello", Event::Failed("My \"Error\""));
        m.record("Hello", Event::Poll { empty: false });
        m.record("Hello", Event::Poll { empty: true });
        m.record("Hello", Event::Heartbeat);
        m.task_duration(&hello, "succeeded", Duration::from_millis(300));
        let text = m.render();
        for line in [
            "stefuna_tasks_started_total{activity=\"Hello\"} 2",
            "stefuna_tasks_succeeded_total{activity=\"Hello\"} 1",
            "stefuna_tasks_in_flight{activity=\"Hello\"} 1",
            "stefuna_tasks_in_flight{activity=\"Idle\"} 0",
            "stefuna_tasks_failed_total{activity=\"Hello\",error=\"Task.Failure\"} 1",
            "stefuna_tasks_failed_total{activity=\"Hello\",error=\"My \\\"Error\\\"\"} 1",
            "stefuna_polls_total{activity=\"Hello\"} 2",
            "stefuna_polls_empty_total{activity=\"Hello\"} 1",
            "stefuna_heartbeats_total{activity=\"Hello\"} 1",
            "# TYPE stefuna_tasks_in_flight gauge",
            "# TYPE stefuna_task_duration_seconds histogram",
            "stefuna_task_duration_seconds_count{activity=\"Hello\",outcome=\"succeeded\"} 1",
            "stefuna_task_duration_seconds_bucket{activity=\"Hello\",outcome=\"succeeded\",le=\"0.25\"} 0",
            "stefuna_task_duration_seconds_bucket{activity=\"Hello\",outcome=\"succeeded\",le=\"0.5\"} 1",
        ] {
            has(&text, line);
        }
        assert!(
            text.lines()
                .any(|l| l.starts_with("stefuna_last_poll_age_seconds{activity=\"Idle\"} ")),
            "{text}"
        );
        assert_eq!(m.in_flight(), 1);
        assert!(!text.contains("# EOF"), "{text}");
        assert!(m.render_openmetrics().ends_with("# EOF\n"));
    }

    #[test]
    fn free_form_labels_are_capped() {
        let m = Metrics::default();
        for i in 0..MAX_LABEL_VALUES + 10 {
            m.record("Hello", Event::Failed(&format!("Error{i}")));
        }
        m.record("Hello", Event::Failed("Error0"));
        let text = m.render();
        has(
            &text,
            "stefuna_tasks_failed_total{activity=\"Hello\",error=\"Error0\"} 2",
        );
        has(
            &text,
            "stefuna_tasks_failed_total{activity=\"Hello\",error=\"other\"} 10",
        );
        let series = text
            .lines()
            .filter(|l| l.starts_with("stefuna_tasks_failed_total{"))
            .count();
        assert_eq!(series, MAX_LABEL_VALUES + 1);
    }

    #[test]
    fn poll_errors_are_counted_by_code() {
        use aws_sdk_sfn::error::SdkError;
        use aws_sdk_sfn::operation::get_activity_task::GetActivityTaskError;
        let m = Metrics::default();
        let timeout: SdkError<GetActivityTaskError, ()> = SdkError::timeout_error("slow");
        m.poll_failed("Hello", &timeout);
        m.poll_failed("Hello", &timeout);
        let text = m.render();
        has(&text, "stefuna_poll_errors_total{activity=\"Hello\"} 2");
        has(
            &text,
            "stefuna_poll_errors_by_code_total{activity=\"Hello\",code=\"timeout\"} 2",
        );
    }

    #[test]
    fn all_slots_busy_needs_known_slots() {
        let m = Metrics::default();
        m.register("Hello");
        assert!(!m.all_slots_busy(), "unknown slots count as free");
        let sem = Arc::new(Semaphore::new(1));
        m.test_set_slots("Hello", sem.clone());
        assert!(!m.all_slots_busy());
        // A poll holds the slot: not busy, the worker is (trying to be) polling.
        let poll = sem.try_acquire().unwrap();
        assert!(!m.all_slots_busy());
        let facts = m.facts();
        assert_eq!(facts["Hello"]["slots_free"], 0);
        assert_eq!(facts["Hello"]["slots"], 1);
        // The poll hands its slot to a task.
        drop(poll);
        let _task = sem.try_acquire().unwrap();
        m.record("Hello", Event::Started);
        assert!(m.all_slots_busy());
        m.record("Hello", Event::Finished);
        assert!(!m.all_slots_busy());
    }
}
