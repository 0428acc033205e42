//! The families behind `/metrics` and the collector that encodes them: label sets as structs,
//! one family per series, each activity's handles, and the gauges read at scrape time.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Unit;
use tokio::sync::Semaphore;

use super::{lock, saturating_i64};

/// Task duration buckets, seconds: from quick lookups to hour-long jobs.
const DURATION_BUCKETS: [f64; 16] = [
    0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0,
    3600.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ActivityLabel {
    pub(super) activity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ErrorLabels {
    pub(super) activity: String,
    pub(super) error: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct CodeLabels {
    pub(super) activity: String,
    pub(super) code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct OutcomeLabels {
    pub(super) activity: String,
    pub(super) outcome: String,
}

pub(super) type Counters<L = ActivityLabel> = Family<L, Counter>;
pub(super) type Gauges = Family<ActivityLabel, Gauge>;
pub(super) type FloatGauges = Family<ActivityLabel, Gauge<f64, AtomicU64>>;
pub(super) type Durations = Family<OutcomeLabels, Histogram, fn() -> Histogram>;

pub(super) fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// How a task can end, the `outcome` label of `task_duration`.
pub(super) const OUTCOMES: [&str; 4] = ["succeeded", "failed", "lost", "shutdown"];

/// Schedule-to-start buckets, seconds: from a free slot claiming at once to an hour's queue.
const WAIT_BUCKETS: [f64; 16] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
];

pub(super) type Waits = Family<ActivityLabel, Histogram, fn() -> Histogram>;

pub(super) fn wait_histogram() -> Histogram {
    Histogram::new(WAIT_BUCKETS)
}

/// The families, each registered once.
#[derive(Debug, Default)]
pub(super) struct Families {
    pub(super) started: Counters,
    pub(super) succeeded: Counters,
    pub(super) failed: Counters<ErrorLabels>,
    pub(super) in_flight: Gauges,
    pub(super) slots: Gauges,
    pub(super) slots_free: Gauges,
    pub(super) polls_open: Gauges,
    pub(super) polls: Counters,
    pub(super) polls_empty: Counters,
    pub(super) poll_errors: Counters,
    pub(super) poll_errors_by_code: Counters<CodeLabels>,
    pub(super) last_poll_age: FloatGauges,
    pub(super) heartbeats: Counters,
    pub(super) heartbeat_errors: Counters,
    pub(super) lost: Counters,
    pub(super) delivery_retries: Counters,
    pub(super) delivery_dropped: Counters,
    /// Process isolation: children started (rare, so not in `PerActivity`).
    pub(super) children_started: Counters,
    /// Process isolation: children that died with a task.
    pub(super) child_crashes: Counters,
    pub(super) slot_utilization: FloatGauges,
    /// Always set; an `Option` only so the rest can derive `Default`.
    pub(super) durations: Option<Durations>,
    /// Always set, as `durations`.
    pub(super) schedule_to_start: Option<Waits>,
}

/// One activity's handles (cheap clones of the family members) and what is computed at scrape.
#[derive(Debug)]
pub(crate) struct PerActivity {
    pub(super) started: Counter,
    pub(super) succeeded: Counter,
    pub(super) in_flight: Gauge,
    pub(super) slots: Gauge,
    pub(super) slots_free: Gauge,
    pub(super) polls_open: Gauge,
    pub(super) polls: Counter,
    pub(super) polls_empty: Counter,
    pub(super) poll_errors: Counter,
    pub(super) last_poll_age: Gauge<f64, AtomicU64>,
    pub(super) heartbeats: Counter,
    pub(super) heartbeat_errors: Counter,
    pub(super) lost: Counter,
    pub(super) delivery_retries: Counter,
    pub(super) delivery_dropped: Counter,
    pub(super) slot_utilization: Gauge<f64, AtomicU64>,
    pub(super) schedule_to_start: Histogram,
    /// `task_duration`'s series by outcome ([`OUTCOMES`]), each made on first use so an outcome
    /// that never happened shows no series.
    pub(super) durations: [OnceLock<Histogram>; OUTCOMES.len()],
    /// The slot pool, known from the first poll on.
    pub(super) semaphore: Mutex<Option<Arc<Semaphore>>>,
    /// Last `GetActivityTask` that returned (registration time until then).
    pub(super) last_poll: Mutex<Instant>,
}

/// What a scrape reads: the families and the per-activity state behind the gauges computed at
/// scrape time. A `Collector`, so the same series can also be put into a host service's registry
/// ([`super::Metrics::register_into`]) and still be fresh there.
#[derive(Clone, Debug)]
pub(super) struct Exported {
    pub(super) families: Arc<Families>,
    pub(super) activities: Arc<RwLock<HashMap<String, Arc<PerActivity>>>>,
}

impl Families {
    /// Every family with its name (without the `stefuna_` prefix), help and unit.
    fn series(&self) -> Vec<(&'static str, &'static str, Option<Unit>, &dyn EncodeMetric)> {
        let f = self;
        let mut v: Vec<(&'static str, &'static str, Option<Unit>, &dyn EncodeMetric)> = vec![
            (
                "tasks_started",
                "Tasks claimed and started",
                None,
                &f.started,
            ),
            (
                "tasks_succeeded",
                "Tasks answered with SendTaskSuccess",
                None,
                &f.succeeded,
            ),
            (
                "tasks_failed",
                "Tasks answered with SendTaskFailure, by error name",
                None,
                &f.failed,
            ),
            ("tasks_in_flight", "Tasks running now", None, &f.in_flight),
            (
                "slots",
                "Tasks that may run at once (processes)",
                None,
                &f.slots,
            ),
            (
                "slots_free",
                "Slots held by neither a task nor an open poll",
                None,
                &f.slots_free,
            ),
            (
                "polls_open",
                "GetActivityTask calls open now",
                None,
                &f.polls_open,
            ),
            (
                "polls",
                "GetActivityTask calls that returned",
                None,
                &f.polls,
            ),
            (
                "polls_empty",
                "GetActivityTask calls that returned no task",
                None,
                &f.polls_empty,
            ),
            (
                "poll_errors",
                "GetActivityTask calls that failed",
                None,
                &f.poll_errors,
            ),
            (
                "poll_errors_by_code",
                "GetActivityTask calls that failed, by error code (timeout, network, ... when the \
                 service sent none)",
                None,
                &f.poll_errors_by_code,
            ),
            (
                "last_poll_age",
                "Time since a GetActivityTask call last returned (since start when none has)",
                Some(Unit::Seconds),
                &f.last_poll_age,
            ),
            ("heartbeats", "Heartbeats sent", None, &f.heartbeats),
            (
                "heartbeat_errors",
                "Heartbeats that failed",
                None,
                &f.heartbeat_errors,
            ),
            (
                "children_started",
                "Child processes started (isolation = \"process\")",
                None,
                &f.children_started,
            ),
            (
                "child_crashes",
                "Child processes that died (or failed to start) with a task; the task failed \
                 with Stefuna.WorkerCrashed",
                None,
                &f.child_crashes,
            ),
            (
                "tasks_lost",
                "Tasks whose token Step Functions no longer accepts",
                None,
                &f.lost,
            ),
            (
                "delivery_retries",
                "SendTaskSuccess/SendTaskFailure calls retried",
                None,
                &f.delivery_retries,
            ),
            (
                "delivery_dropped",
                "Results that could not be delivered",
                None,
                &f.delivery_dropped,
            ),
        ];
        v.push((
            "slot_utilization",
            "Share of the slots running a task now (tasks_in_flight / slots, 0 to 1; 0 before the \
             first poll)",
            None,
            &f.slot_utilization,
        ));
        if let Some(w) = &f.schedule_to_start {
            v.push((
                "schedule_to_start",
                "Time a task waited for a worker: from $$.State.EnteredTime, passed as \
                 _stefuna.entered_time, to its claim",
                Some(Unit::Seconds),
                w,
            ));
        }
        if let Some(d) = &f.durations {
            v.push((
                "task_duration",
                "Time from a task's start to its result, by outcome (succeeded, failed, lost, \
                 shutdown)",
                Some(Unit::Seconds),
                d,
            ));
        }
        v
    }
}

impl Collector for Exported {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        refresh(&self.activities);
        for (name, help, unit, metric) in self.families.series() {
            if metric.is_empty() {
                continue;
            }
            // The registry's own descriptors end their help with a full stop; keep that shape.
            let help = format!("{help}.");
            let m = encoder.encode_descriptor(name, &help, unit.as_ref(), metric.metric_type())?;
            metric.encode(m)?;
        }
        Ok(())
    }
}

/// Sets the gauges that are read rather than counted.
pub(super) fn refresh(activities: &RwLock<HashMap<String, Arc<PerActivity>>>) {
    let all: Vec<Arc<PerActivity>> = activities
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .collect();
    for a in all {
        if let Some(s) = lock(&a.semaphore).as_ref() {
            a.slots_free.set(saturating_i64(s.available_permits()));
        }
        let slots = a.slots.get();
        if slots > 0 {
            a.slot_utilization
                .set((a.in_flight.get() as f64 / slots as f64).clamp(0.0, 1.0));
        }
        a.last_poll_age
            .set(lock(&a.last_poll).elapsed().as_secs_f64());
    }
}
