//! Counters for `/metrics` (Prometheus text format).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Per-activity counters.
#[derive(Clone, Debug, Default)]
struct ActivityCounters {
    started: u64,
    succeeded: u64,
    failed: BTreeMap<String, u64>,
    in_flight: i64,
    polls: u64,
    poll_errors: u64,
    heartbeats: u64,
    heartbeat_errors: u64,
    lost: u64,
    delivery_retries: u64,
    delivery_dropped: u64,
}

/// A series: name, type, help, and how to read it from the counters.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ActivityCounters) -> i64,
);

/// The runtime's counters, labelled by activity name.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    by_activity: Mutex<BTreeMap<String, ActivityCounters>>,
}

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
    /// A `GetActivityTask` call returned.
    Poll,
    /// A `GetActivityTask` call failed.
    PollError,
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
}

impl Metrics {
    /// Registers an activity so its series show before its first task.
    pub(crate) fn register(&self, activity: &str) {
        self.lock().entry(activity.to_owned()).or_default();
    }

    /// Counts `event` for `activity`.
    pub(crate) fn record(&self, activity: &str, event: Event<'_>) {
        let mut map = self.lock();
        let c = map.entry(activity.to_owned()).or_default();
        match event {
            Event::Started => {
                c.started += 1;
                c.in_flight += 1;
            }
            Event::Finished => c.in_flight -= 1,
            Event::Succeeded => c.succeeded += 1,
            Event::Failed(name) => *c.failed.entry(name.to_owned()).or_default() += 1,
            Event::Poll => c.polls += 1,
            Event::PollError => c.poll_errors += 1,
            Event::Heartbeat => c.heartbeats += 1,
            Event::HeartbeatError => c.heartbeat_errors += 1,
            Event::Lost => c.lost += 1,
            Event::DeliveryRetry => c.delivery_retries += 1,
            Event::DeliveryDropped => c.delivery_dropped += 1,
        }
    }

    /// Tasks running now, over all activities.
    pub(crate) fn in_flight(&self) -> i64 {
        self.lock().values().map(|c| c.in_flight).sum()
    }

    /// The Prometheus text exposition.
    pub(crate) fn render(&self) -> String {
        let map = self.lock();
        let mut out = String::new();
        let simple: [Series; 10] = [
            (
                "stefuna_tasks_started_total",
                "counter",
                "Tasks claimed and started.",
                |c| c.started as i64,
            ),
            (
                "stefuna_tasks_succeeded_total",
                "counter",
                "Tasks answered with SendTaskSuccess.",
                |c| c.succeeded as i64,
            ),
            (
                "stefuna_tasks_in_flight",
                "gauge",
                "Tasks running now.",
                |c| c.in_flight,
            ),
            (
                "stefuna_polls_total",
                "counter",
                "GetActivityTask calls that returned.",
                |c| c.polls as i64,
            ),
            (
                "stefuna_poll_errors_total",
                "counter",
                "GetActivityTask calls that failed.",
                |c| c.poll_errors as i64,
            ),
            (
                "stefuna_heartbeats_total",
                "counter",
                "Heartbeats sent.",
                |c| c.heartbeats as i64,
            ),
            (
                "stefuna_heartbeat_errors_total",
                "counter",
                "Heartbeats that failed.",
                |c| c.heartbeat_errors as i64,
            ),
            (
                "stefuna_tasks_lost_total",
                "counter",
                "Tasks whose token Step Functions no longer accepts.",
                |c| c.lost as i64,
            ),
            (
                "stefuna_delivery_retries_total",
                "counter",
                "SendTaskSuccess/SendTaskFailure calls retried.",
                |c| c.delivery_retries as i64,
            ),
            (
                "stefuna_delivery_dropped_total",
                "counter",
                "Results that could not be delivered.",
                |c| c.delivery_dropped as i64,
            ),
        ];
        for (name, kind, help, get) in simple {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (activity, c) in map.iter() {
                let _ = writeln!(
                    out,
                    "{name}{{activity=\"{}\"}} {}",
                    escape(activity),
                    get(c)
                );
            }
        }
        let name = "stefuna_tasks_failed_total";
        let _ = writeln!(
            out,
            "# HELP {name} Tasks answered with SendTaskFailure, by error name.\n# TYPE {name} counter"
        );
        for (activity, c) in map.iter() {
            for (error, n) in &c.failed {
                let _ = writeln!(
                    out,
                    "{name}{{activity=\"{}\",error=\"{}\"}} {n}",
                    escape(activity),
                    escape(error)
                );
            }
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ActivityCounters>> {
        // A panic while holding this lock leaves plain counters behind: still usable.
        self.by_activity
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_counters_by_activity_and_error() {
        let m = Metrics::default();
        m.register("Idle");
        m.record("Hello", Event::Started);
        m.record("Hello", Event::Started);
        m.record("Hello", Event::Succeeded);
        m.record("Hello", Event::Finished);
        m.record("Hello", Event::Failed("Task.Failure"));
        m.record("Hello", Event::Failed("My \"Error\""));
        m.record("Hello", Event::Poll);
        m.record("Hello", Event::Heartbeat);
        let text = m.render();
        for line in [
            "stefuna_tasks_started_total{activity=\"Hello\"} 2",
            "stefuna_tasks_succeeded_total{activity=\"Hello\"} 1",
            "stefuna_tasks_in_flight{activity=\"Hello\"} 1",
            "stefuna_tasks_in_flight{activity=\"Idle\"} 0",
            "stefuna_tasks_failed_total{activity=\"Hello\",error=\"Task.Failure\"} 1",
            "stefuna_tasks_failed_total{activity=\"Hello\",error=\"My \\\"Error\\\"\"} 1",
            "stefuna_polls_total{activity=\"Hello\"} 1",
            "stefuna_heartbeats_total{activity=\"Hello\"} 1",
            "# TYPE stefuna_tasks_in_flight gauge",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(m.in_flight(), 1);
    }
}
