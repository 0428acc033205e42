//! The service's clock: wall time that `time_scale` speeds up, so tests never wait real seconds.

use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;

/// Longest virtual duration a timer honours; longer ones never fire (AWS's default task timeout
/// is 99999999 s, about three years).
const FOREVER: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Virtual time: starts at the real wall time and runs `scale` times faster.
#[derive(Clone, Debug)]
pub(crate) struct Clock {
    scale: f64,
    origin: Instant,
    origin_wall: OffsetDateTime,
}

impl Clock {
    /// A clock running `scale` times faster than real time (values ≤ 0 or not finite mean 1).
    pub(crate) fn new(scale: f64) -> Clock {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Clock {
            scale,
            origin: Instant::now(),
            origin_wall: OffsetDateTime::now_utc(),
        }
    }

    /// The current virtual time.
    pub(crate) fn now(&self) -> OffsetDateTime {
        let real = self.origin.elapsed();
        self.origin_wall + real.mul_f64(self.scale)
    }

    /// The real duration a virtual one takes.
    pub(crate) fn real(&self, virtual_d: Duration) -> Duration {
        virtual_d.min(FOREVER).div_f64(self.scale)
    }

    /// The real instant `virtual_d` of virtual time from now; `None` when it is beyond reach.
    pub(crate) fn deadline(&self, virtual_d: Duration) -> Option<Instant> {
        if virtual_d >= FOREVER {
            return None;
        }
        Instant::now().checked_add(self.real(virtual_d))
    }

    /// Sleeps for a virtual duration.
    pub(crate) async fn sleep(&self, virtual_d: Duration) {
        match self.deadline(virtual_d) {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }
}

/// Epoch seconds as awsJson sends timestamps.
pub(crate) fn epoch(t: OffsetDateTime) -> f64 {
    // Millisecond precision, as AWS returns.
    (t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

/// Sleeps until `at`, or forever when `None`.
pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_divides_real_durations() {
        let c = Clock::new(100.0);
        assert_eq!(c.real(Duration::from_secs(60)), Duration::from_millis(600));
        assert!(c.deadline(Duration::from_secs(99_999_999 * 10)).is_none());
    }

    #[test]
    fn bad_scale_means_real_time() {
        let c = Clock::new(0.0);
        assert_eq!(c.real(Duration::from_secs(3)), Duration::from_secs(3));
        let c = Clock::new(f64::NAN);
        assert_eq!(c.real(Duration::from_secs(3)), Duration::from_secs(3));
    }

    #[test]
    fn epoch_is_seconds_with_millis() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(epoch(t), 1_700_000_000.123);
    }
}
