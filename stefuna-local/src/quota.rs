//! AWS's API quotas, enforced when the emulator starts with `aws_quotas` on
//! (`--aws-quotas`): a token bucket per API and Region, the 1,000 open pollers per activity
//! ARN limit, and counts of what was accepted and throttled.
//!
//! The numbers are AWS's defaults for Standard workflows, from the Step Functions developer
//! guide, "Step Functions service quotas"
//! (<https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html>), sections
//! "Quotas related to API action throttling" and "Other quotas": us-east-1, us-west-2 and
//! eu-west-1 have the larger buckets; every other Region the smaller ones. The poller limit is
//! the "Maximum activity pollers per ARN" quota of the same guide ("1,000 pollers calling
//! GetActivityTask per ARN"), answered `ActivityWorkerLimitExceeded` as the `GetActivityTask`
//! API reference lists.
//!
//! Refill rates are multiplied by the clock's `time_scale`, so a sped-up run meets the same
//! ceiling per virtual second; bucket sizes (the burst) are left as they are. `quota_scale`
//! multiplies both (a fleet at a tenth of AWS's quotas fits on one small machine).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use http::{HeaderValue, StatusCode};
use tokio::time::Instant;
use warp::reply::Response;

use crate::error::ApiError;

/// Most `GetActivityTask` calls open at once on one activity ARN.
pub const MAX_POLLERS_PER_ARN: usize = 1_000;

/// Regions with the larger buckets.
const LARGE_REGIONS: &[&str] = &["us-east-1", "us-west-2", "eu-west-1"];

/// Per API: (bucket size, refill per second) in the large Regions, then in the others.
type Row = (&'static str, (f64, f64), (f64, f64));

/// AWS's table, for the operations stefuna-local answers.
const TABLE: &[Row] = &[
    ("StartExecution", (1_300.0, 300.0), (800.0, 150.0)),
    ("GetActivityTask", (3_000.0, 500.0), (1_500.0, 300.0)),
    ("SendTaskSuccess", (3_000.0, 500.0), (1_500.0, 300.0)),
    ("SendTaskFailure", (3_000.0, 500.0), (1_500.0, 300.0)),
    ("SendTaskHeartbeat", (3_000.0, 500.0), (1_500.0, 300.0)),
    ("StopExecution", (1_000.0, 200.0), (500.0, 25.0)),
    ("CreateActivity", (100.0, 1.0), (100.0, 1.0)),
    ("CreateStateMachine", (100.0, 1.0), (100.0, 1.0)),
    ("DeleteActivity", (100.0, 1.0), (100.0, 1.0)),
    ("DeleteStateMachine", (100.0, 1.0), (100.0, 1.0)),
    ("DescribeActivity", (200.0, 1.0), (200.0, 1.0)),
    ("DescribeExecution", (300.0, 15.0), (250.0, 10.0)),
    ("DescribeMapRun", (200.0, 1.0), (200.0, 1.0)),
    ("DescribeStateMachine", (200.0, 20.0), (200.0, 20.0)),
    (
        "DescribeStateMachineForExecution",
        (200.0, 1.0),
        (200.0, 1.0),
    ),
    ("GetExecutionHistory", (400.0, 20.0), (400.0, 20.0)),
    ("ListActivities", (100.0, 10.0), (100.0, 5.0)),
    ("ListExecutions", (200.0, 5.0), (100.0, 2.0)),
    ("ListMapRuns", (100.0, 1.0), (100.0, 1.0)),
    ("ListStateMachines", (100.0, 5.0), (100.0, 5.0)),
    ("UpdateStateMachine", (100.0, 1.0), (100.0, 1.0)),
];

/// AWS's bucket for `operation` in `region`: (size, refill per second); `None` for an
/// operation without one.
pub fn aws_bucket(operation: &str, region: &str) -> Option<(f64, f64)> {
    let (_, large, other) = TABLE.iter().find(|(op, _, _)| *op == operation)?;
    Some(if LARGE_REGIONS.contains(&region) {
        *large
    } else {
        *other
    })
}

/// Requests to one API: what its bucket let through and what it refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiCounts {
    /// Requests that found a token (and went on to be handled).
    pub accepted: u64,
    /// Requests answered `ThrottlingException`.
    pub throttled: u64,
    /// `GetActivityTask` calls answered `ActivityWorkerLimitExceeded` (1,000 pollers open).
    pub worker_limit_exceeded: u64,
}

/// Per API (operation name), its counts; what `GET /_stefuna/quotas` serves.
pub type QuotaCounts = BTreeMap<String, ApiCounts>;

/// One token bucket; refills continuously.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    size: f64,
    /// Tokens per real second (AWS's rate times `time_scale`).
    refill: f64,
    last: Instant,
}

impl Bucket {
    fn full(size: f64, refill: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: size,
            size,
            refill,
            last: now,
        }
    }

    /// Takes a token if there is one at `now`.
    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.refill).min(self.size);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The quota state of one emulator.
#[derive(Debug)]
pub(crate) struct Quotas {
    /// Whether requests are checked at all (switchable while running).
    enabled: std::sync::atomic::AtomicBool,
    time_scale: f64,
    /// Multiplies bucket sizes and refill rates (1 = AWS's defaults).
    quota_scale: f64,
    /// By (Region, operation): throttling quotas are per account and Region.
    buckets: Mutex<HashMap<(String, &'static str), Bucket>>,
    counts: Mutex<QuotaCounts>,
    /// Open `GetActivityTask` calls per activity ARN.
    pollers: Mutex<HashMap<String, usize>>,
    /// Per task token, its beats and results, for the cause of a heartbeat timeout.
    trace: crate::quota_trace::Trace,
}

/// An open poll, counted against its ARN until dropped.
#[derive(Debug)]
pub(crate) struct OpenPoll {
    quotas: Arc<Quotas>,
    arn: String,
}

impl Drop for OpenPoll {
    fn drop(&mut self) {
        let mut pollers = lock(&self.quotas.pollers);
        if let Some(n) = pollers.get_mut(&self.arn) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                pollers.remove(&self.arn);
            }
        }
    }
}

impl Quotas {
    /// Full buckets, refilling `time_scale` times faster than AWS's rates; enforced when
    /// `enabled`.
    pub(crate) fn new(enabled: bool, time_scale: f64, quota_scale: f64) -> Arc<Quotas> {
        let positive = |v: f64| if v.is_finite() && v > 0.0 { v } else { 1.0 };
        Arc::new(Quotas {
            enabled: enabled.into(),
            quota_scale: positive(quota_scale),
            time_scale: if time_scale.is_finite() && time_scale > 0.0 {
                time_scale
            } else {
                1.0
            },
            buckets: Mutex::default(),
            counts: Mutex::default(),
            pollers: Mutex::default(),
            trace: crate::quota_trace::Trace::default(),
        })
    }

    /// Admits or refuses one request to `operation` in `region` with `body`. A
    /// `GetActivityTask` that is admitted comes with its [`OpenPoll`], to hold until answered.
    pub(crate) fn admit(
        self: &Arc<Self>,
        operation: &str,
        region: &str,
        body: &[u8],
    ) -> Result<Option<OpenPoll>, Refused> {
        if !self.enabled() {
            return Ok(None);
        }
        let Some((name, large, other)) = TABLE.iter().find(|(op, _, _)| *op == operation) else {
            return Ok(None);
        };
        let (size, refill) = if LARGE_REGIONS.contains(&region) {
            *large
        } else {
            *other
        };
        let now = Instant::now();
        let took = lock(&self.buckets)
            .entry((region.to_owned(), name))
            .or_insert_with(|| {
                Bucket::full(
                    (size * self.quota_scale).max(1.0),
                    refill * self.quota_scale * self.time_scale,
                    now,
                )
            })
            .take(now);
        self.trace.note(name, body, took, now);
        if !took {
            self.count(name, |c| c.throttled += 1);
            return Err(Refused::Throttled);
        }
        let poll = if *name == "GetActivityTask" {
            match self.open_poll(body) {
                Ok(p) => p,
                Err(()) => {
                    self.count(name, |c| c.worker_limit_exceeded += 1);
                    return Err(Refused::WorkerLimit);
                }
            }
        } else {
            None
        };
        self.count(name, |c| c.accepted += 1);
        Ok(poll)
    }

    /// Counts a poll against its ARN, or refuses it when 1,000 are open there.
    fn open_poll(self: &Arc<Self>, body: &[u8]) -> Result<Option<OpenPoll>, ()> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Input {
            activity_arn: String,
        }
        // A body the operation will refuse anyway is left to it.
        let Ok(input) = serde_json::from_slice::<Input>(body) else {
            return Ok(None);
        };
        let mut pollers = lock(&self.pollers);
        let open = pollers.entry(input.activity_arn.clone()).or_insert(0);
        if *open >= MAX_POLLERS_PER_ARN {
            return Err(());
        }
        *open += 1;
        Ok(Some(OpenPoll {
            quotas: self.clone(),
            arn: input.activity_arn,
        }))
    }

    /// Whether quotas are enforced.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Turns enforcement on or off for requests arriving from now on.
    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn count(&self, operation: &str, f: impl FnOnce(&mut ApiCounts)) {
        let mut counts = lock(&self.counts);
        match counts.get_mut(operation) {
            Some(c) => f(c),
            None => f(counts.entry(operation.to_owned()).or_default()),
        }
    }

    /// A copy of the counts.
    pub(crate) fn counts(&self) -> QuotaCounts {
        lock(&self.counts).clone()
    }

    /// Records a heartbeat timeout of `token`'s task (while quotas are enforced): see
    /// [`crate::quota_trace`]. `window` is `heartbeat_seconds` in real time, `last_beat` the
    /// task's last accepted beat (or its delivery).
    pub(crate) fn heartbeat_timed_out(
        &self,
        token: &str,
        execution_arn: &str,
        heartbeat_seconds: u64,
        window: std::time::Duration,
        last_beat: Option<Instant>,
    ) {
        if self.enabled() {
            let now = Instant::now();
            self.trace.timed_out(
                token,
                execution_arn,
                heartbeat_seconds,
                window,
                last_beat,
                now,
            );
        }
    }

    /// The heartbeat timeouts recorded while quotas were enforced, with their causes.
    pub(crate) fn heartbeat_timeouts(&self) -> Vec<crate::quota_trace::HeartbeatTimeout> {
        self.trace.timeouts()
    }
}

/// Why a request was refused before it was handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its API's bucket was empty.
    Throttled,
    /// 1,000 polls were already open on its activity ARN.
    WorkerLimit,
}

impl Refused {
    /// The answer AWS gives.
    pub(crate) fn response(self) -> Response {
        match self {
            Refused::Throttled => throttled(),
            Refused::WorkerLimit => crate::server::error_response(&ApiError::new(
                "ActivityWorkerLimitExceeded",
                "The maximum number of workers concurrently polling for activity tasks has been \
                 reached.",
            )),
        }
    }
}

/// The answer to a throttled request, as Step Functions sends it: 400, `x-amzn-errortype`
/// and a body whose `__type` carries the namespace of AWS's throttling front end. The SDKs
/// strip the namespace (aws-sdk-sfn's `sanitize_error_code`) and read `ThrottlingException`,
/// which aws-runtime's `THROTTLING_ERRORS` classifies as a throttling error (retried, and
/// what adaptive retry mode slows down for).
fn throttled() -> Response {
    let body = r#"{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}"#;
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::BAD_REQUEST;
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    h.insert(
        "x-amzn-errortype",
        HeaderValue::from_static(
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/",
        ),
    );
    r
}

/// `GET /_stefuna/quotas`: `{"enabled": bool, "apis": {OPERATION: {accepted, throttled,
/// workerLimitExceeded}}, "heartbeatTimeouts": [{taskToken, executionArn, heartbeatSeconds,
/// windowMs, heartbeatsThrottled, heartbeatsAccepted, resultsThrottled, heartbeatsAcceptedTotal,
/// sinceLastAcceptedMs, sinceLastCallMs, cause}]}` (see [`crate::quota_trace`]).
pub(crate) fn counts_response(svc: &crate::service::Service) -> Response {
    let body = serde_json::json!({
        "enabled": svc.quotas.enabled(),
        "apis": svc.quotas.counts(),
        "heartbeatTimeouts": svc.quotas.heartbeat_timeouts().iter().map(|t| {
            let mut v = serde_json::to_value(t).unwrap_or_default();
            v["cause"] = serde_json::to_value(t.cause()).unwrap_or_default();
            v
        }).collect::<Vec<_>>(),
    })
    .to_string();
    let mut r = Response::new(body.into());
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn buckets_follow_aws_table_by_region() {
        assert_eq!(
            aws_bucket("GetActivityTask", "us-east-1"),
            Some((3_000.0, 500.0))
        );
        assert_eq!(
            aws_bucket("SendTaskHeartbeat", "eu-west-1"),
            Some((3_000.0, 500.0))
        );
        assert_eq!(
            aws_bucket("SendTaskSuccess", "eu-central-1"),
            Some((1_500.0, 300.0))
        );
        assert_eq!(
            aws_bucket("StartExecution", "us-west-2"),
            Some((1_300.0, 300.0))
        );
        assert_eq!(
            aws_bucket("StartExecution", "ap-south-1"),
            Some((800.0, 150.0))
        );
        assert_eq!(aws_bucket("NoSuchOperation", "us-east-1"), None);
    }

    #[test]
    fn a_bucket_spends_its_burst_then_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::full(3.0, 10.0, t0);
        assert!(b.take(t0) && b.take(t0) && b.take(t0));
        assert!(!b.take(t0));
        // 10 tokens/s: one more after 100 ms, never more than the size.
        assert!(b.take(t0 + Duration::from_millis(100)));
        assert!(!b.take(t0 + Duration::from_millis(100)));
        let later = t0 + Duration::from_secs(60);
        assert!(b.take(later) && b.take(later) && b.take(later));
        assert!(!b.take(later));
    }
}
