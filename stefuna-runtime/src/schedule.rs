//! Schedule-to-start latency: how long a task waited between its state being entered and a
//! worker claiming it, from the `$$.State.EnteredTime` a state machine passes under
//! [`crate::task::CORRELATION_KEY`] (`"_stefuna": {"entered_time.$": "$$.State.EnteredTime"}`).
//!
//! It is what AWS's `ActivityScheduleTime` CloudWatch metric measures, seen from the worker, and
//! the signal to scale a fleet on: it grows when tasks queue for lack of free slots. The two
//! timestamps come from different clocks (Step Functions' and this host's), so the figure is as
//! good as the host's clock sync (NTP or the Amazon Time Sync Service keep it within
//! milliseconds); a negative difference (clock skew) is recorded as zero.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_sfn::primitives::{DateTime, DateTimeFormat};

/// What time it is on Step Functions' clock: the system clock, unless the worker was given
/// another one (an emulator whose clock runs faster, see [`crate::ServerBuilder::service_clock`]).
#[derive(Clone, Default)]
pub(crate) struct ServiceClock(Option<Arc<dyn Fn() -> SystemTime + Send + Sync>>);

impl fmt::Debug for ServiceClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "ServiceClock(custom)"
        } else {
            "ServiceClock(system)"
        })
    }
}

impl ServiceClock {
    /// A clock read through `now`.
    pub(crate) fn new(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> ServiceClock {
        ServiceClock(Some(Arc::new(now)))
    }

    /// The time now on this clock.
    pub(crate) fn now(&self) -> SystemTime {
        match &self.0 {
            Some(now) => now(),
            None => SystemTime::now(),
        }
    }

    /// How long ago `entered` (an ISO 8601 timestamp such as `2026-12-01T12:00:00.123Z`, as
    /// Step Functions formats `$$.State.EnteredTime`) was; zero when it is in the future (clock
    /// skew), `None` when it is not such a timestamp.
    pub(crate) fn since(&self, entered: &str) -> Option<Duration> {
        let entered = DateTime::from_str(entered, DateTimeFormat::DateTime).ok()?;
        let entered = SystemTime::try_from(entered).ok()?;
        Some(self.now().duration_since(entered).unwrap_or(Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SystemTime {
        SystemTime::try_from(DateTime::from_str(s, DateTimeFormat::DateTime).unwrap()).unwrap()
    }

    #[test]
    fn latency_is_measured_on_the_given_clock() {
        let clock = ServiceClock::new(|| at("2026-12-01T12:00:05.250Z"));
        assert_eq!(
            clock.since("2026-12-01T12:00:00.000Z"),
            Some(Duration::from_millis(5250))
        );
        assert_eq!(
            clock.since("2026-12-01T12:00:05.250Z"),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn skew_is_zero_and_garbage_is_none() {
        let clock = ServiceClock::new(|| at("2026-12-01T12:00:00Z"));
        assert_eq!(clock.since("2026-12-01T12:00:01Z"), Some(Duration::ZERO));
        for bad in ["", "yesterday", "2026-13-01T00:00:00Z", "1733054400"] {
            assert_eq!(clock.since(bad), None, "{bad}");
        }
    }

    #[test]
    fn waits_and_slot_use_are_exported() {
        use crate::metrics::{Event, Metrics};
        let m = Metrics::default();
        m.register("Hello");
        assert!(
            m.render()
                .contains("stefuna_slot_utilization{activity=\"Hello\"} 0"),
            "{}",
            m.render()
        );
        m.test_set_slots("Hello", Arc::new(tokio::sync::Semaphore::new(4)));
        m.record("Hello", Event::Started);
        m.schedule_to_start("Hello", Duration::from_millis(300));
        m.schedule_to_start("Hello", Duration::from_secs(20));
        let text = m.render();
        for line in [
            "# TYPE stefuna_slot_utilization gauge",
            "stefuna_slot_utilization{activity=\"Hello\"} 0.25",
            "# TYPE stefuna_schedule_to_start_seconds histogram",
            "stefuna_schedule_to_start_seconds_count{activity=\"Hello\"} 2",
            "stefuna_schedule_to_start_seconds_sum{activity=\"Hello\"} 20.3",
            "stefuna_schedule_to_start_seconds_bucket{activity=\"Hello\",le=\"0.25\"} 0",
            "stefuna_schedule_to_start_seconds_bucket{activity=\"Hello\",le=\"0.5\"} 1",
            "stefuna_schedule_to_start_seconds_bucket{activity=\"Hello\",le=\"30\"} 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn the_default_clock_is_the_system_clock() {
        let clock = ServiceClock::default();
        let d = clock.since("2000-01-01T00:00:00Z").unwrap();
        assert!(d > Duration::from_secs(20 * 365 * 24 * 3600), "{d:?}");
    }
}
