//! What the pollers and tasks share: the server-wide parts and one slot pool per activity.

use std::sync::Arc;
use std::time::Duration;

use stefuna_core::{Activity, SharedState};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::client::Clients;
use crate::config::ActivitySettings;
use crate::health::Health;
use crate::metrics::Metrics;
use crate::schedule::ServiceClock;
use crate::shutdown::Shutdown;

/// The most polls one activity keeps open by default. Every free slot up to this many keeps a
/// poll open: with fewer polls than slots, a busy worker waits a loopback/network round trip per
/// task it could have had (`cargo xtask bench` at 64 slots: 0.75 × the raw SDK loop's tasks/s
/// with 16 polls, 0.91 × with 64).
pub(crate) const DEFAULT_MAX_POLLERS: usize = 64;

/// Polls open at once for an activity: `pollers` if set, else `min(processes, 64)`; never more
/// than `processes`, never less than one.
pub(crate) fn pollers_for(processes: usize, pollers: Option<usize>) -> usize {
    pollers.unwrap_or(DEFAULT_MAX_POLLERS).min(processes).max(1)
}

/// Server-wide parts every poller and task uses.
pub(crate) struct Shared {
    /// `{name}-{hostname}-{pid}`.
    pub(crate) worker_name: Arc<str>,
    /// The `worker_config` table.
    pub(crate) worker_config: Arc<serde_json::Value>,
    /// State registered with `.state(..)`.
    pub(crate) state: Arc<SharedState>,
    /// Health facts.
    pub(crate) health: Arc<Health>,
    /// Counters.
    pub(crate) metrics: Arc<Metrics>,
    /// Shutdown stages.
    pub(crate) shutdown: Shutdown,
    /// Every poller and task, so shutdown can wait for them.
    pub(crate) tracker: TaskTracker,
    /// `server_config.lost_task_grace`.
    pub(crate) lost_task_grace: Duration,
    /// Step Functions' clock, for schedule-to-start latency.
    pub(crate) service_clock: ServiceClock,
}

/// One hosted activity: its code, settings, clients and slots.
pub(crate) struct ActivityPool {
    /// The activity.
    pub(crate) activity: Arc<dyn Activity>,
    /// Its name (for logs and metrics).
    pub(crate) name: Arc<str>,
    /// Its ARN.
    pub(crate) arn: Arc<str>,
    /// Resolved settings.
    pub(crate) settings: ActivitySettings,
    /// Step Functions clients for its region.
    pub(crate) clients: Clients,
    /// One permit per task that may run at once; a poll holds one while open.
    pub(crate) slots: Arc<Semaphore>,
    /// With `isolation = "process"`: the children its tasks run in.
    pub(crate) children: Option<Arc<crate::isolation::Children>>,
    /// Its metric series, looked up once.
    pub(crate) series: crate::metrics::ActivitySeries,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pollers_default_to_processes_capped_at_64() {
        assert_eq!(pollers_for(4, None), 4);
        assert_eq!(pollers_for(64, None), 64);
        assert_eq!(pollers_for(100, None), 64);
        assert_eq!(pollers_for(4, Some(2)), 2);
        assert_eq!(pollers_for(4, Some(10)), 4);
        assert_eq!(pollers_for(4, Some(0)), 1);
    }
}
