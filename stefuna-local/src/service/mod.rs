//! The in-memory Step Functions service: resources, executions and the operations on them.
//!
//! Locks are `std` mutexes held only for map look-ups and field updates, never across an
//! await; activity tasks are handed to waiting pollers through oneshot channels.

mod activities;
mod executions;
mod history;
mod host;
mod integrations;
mod machines;
mod map_runs;
mod operation;
mod paging;
mod sync;
mod tags;
mod tasks;
mod validate;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::Faults;
use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::ledger::Injected;

pub(crate) use activities::Activity;
pub(crate) use executions::Execution;
pub(crate) use machines::Machine;
pub(crate) use operation::Operation;
pub(crate) use tasks::{LostAnswer, Task};

/// A map keyed by ARNs or task tokens, with rustc-hash's FxHasher rather than SipHash: keys
/// come over loopback from tests, so flooding resistance buys nothing, and SipHash over
/// ~100-byte ARNs and tokens was about 4 % of a round trip's instructions.
pub(crate) type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// Settings fixed when the service starts.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// How long `GetActivityTask` waits for a task.
    pub(crate) long_poll: Duration,
    /// Clock speed-up.
    pub(crate) time_scale: f64,
    /// Test hook: operations (or `"Execution"`) that panic on purpose.
    pub(crate) panic_on: Vec<String>,
    /// Enforce AWS's API quotas (see `crate::quota`).
    pub(crate) aws_quotas: bool,
    /// Multiplies the quotas' bucket sizes and refill rates.
    pub(crate) quota_scale: f64,
    /// Mocked service integrations, for executions started with `ARN#TESTCASE`.
    pub(crate) mock_config: Option<Arc<crate::MockConfig>>,
}

/// The whole service state.
pub(crate) struct Service {
    pub(crate) settings: Settings,
    pub(crate) clock: Clock,
    pub(crate) faults: RwLock<Arc<Faults>>,
    /// Faults injected so far.
    pub(crate) injected: Injected,
    pub(crate) activities: RwLock<FastMap<String, Arc<Activity>>>,
    pub(crate) machines: RwLock<FastMap<String, Arc<Machine>>>,
    pub(crate) executions: RwLock<FastMap<String, Arc<Execution>>>,
    pub(crate) tasks: Mutex<FastMap<String, Arc<Task>>>,
    /// Distributed Map runs, by ARN.
    pub(crate) map_runs: RwLock<FastMap<String, Arc<map_runs::MapRun>>>,
    /// Tags of activities and state machines, by ARN.
    pub(crate) tags: Mutex<FastMap<String, Vec<tags::Tag>>>,
    /// Creation order for listings.
    seq: std::sync::atomic::AtomicU64,
    /// Flips to true when the service stops: pollers answer `{}` and executions end.
    pub(crate) closing: watch::Sender<bool>,
    /// AWS's API quotas (enforced when switched on).
    pub(crate) quotas: Arc<crate::quota::Quotas>,
}

/// One call: the operation's region and its JSON body.
pub(crate) struct Call<'a> {
    /// Region from the signature (or `us-east-1`).
    pub(crate) region: &'a str,
    /// The request body.
    pub(crate) body: &'a [u8],
}

impl Call<'_> {
    /// Parses the body into an operation's input shape.
    pub(crate) fn input<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            self.body
        };
        let not_json = |e: serde_json::Error| {
            ApiError::new(
                "SerializationException",
                format!("request body is not valid JSON: {e}"),
            )
        };
        serde_json::from_slice(body).map_err(|e| match e.classify() {
            // A shape error can come before a syntax error further on (`{} trailing`):
            // the syntax error is the one to report.
            serde_json::error::Category::Data => {
                match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                    Err(syntax) => not_json(syntax),
                    Ok(_) => ApiError::validation(format!("invalid request: {e}")),
                }
            }
            _ => not_json(e),
        })
    }
}

impl Service {
    /// A fresh, empty service.
    pub(crate) fn new(settings: Settings, faults: Faults) -> Arc<Service> {
        let (closing, _) = watch::channel(false);
        let settings_quotas = crate::quota::Quotas::new(
            settings.aws_quotas,
            settings.time_scale,
            settings.quota_scale,
        );
        Arc::new(Service {
            clock: Clock::new(settings.time_scale),
            settings,
            faults: RwLock::new(Arc::new(faults)),
            injected: Injected::default(),
            activities: RwLock::default(),
            machines: RwLock::default(),
            executions: RwLock::default(),
            tasks: Mutex::default(),
            map_runs: RwLock::default(),
            tags: Mutex::default(),
            seq: Default::default(),
            closing,
            quotas: settings_quotas,
        })
    }

    /// The next creation sequence number.
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the [`crate::EmulatorBuilder::panic_on`] test hook names `what`.
    pub(crate) fn panics_in(&self, what: &str) -> bool {
        !self.settings.panic_on.is_empty() && self.settings.panic_on.iter().any(|o| o == what)
    }

    /// Stops pollers and running executions.
    pub(crate) fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Runs one operation.
    pub(crate) async fn dispatch(self: &Arc<Self>, op: &str, call: Call<'_>) -> ApiResult {
        if self.panics_in(op) {
            // Holding a lock, so the test also proves a poisoned lock does not wedge anything.
            let _held = write(&self.activities);
            panic!("injected panic in {op} (EmulatorBuilder::panic_on test hook)");
        }
        let Some(operation) = Operation::parse(op) else {
            let names: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
            return Err(ApiError::new(
                "UnknownOperationException",
                format!(
                    "unknown operation '{op}'; stefuna-local supports {}",
                    names.join(", ")
                ),
            ));
        };
        match operation {
            Operation::CreateActivity => self.create_activity(call),
            Operation::DescribeActivity => self.describe_activity(call),
            Operation::ListActivities => self.list_activities(call),
            Operation::DeleteActivity => self.delete_activity(call),
            Operation::GetActivityTask => self.get_activity_task(call).await,
            Operation::SendTaskSuccess => self.send_task_success(call),
            Operation::SendTaskFailure => self.send_task_failure(call),
            Operation::SendTaskHeartbeat => self.send_task_heartbeat(call),
            Operation::CreateStateMachine => self.create_state_machine(call),
            Operation::DescribeStateMachine => self.describe_state_machine(call),
            Operation::UpdateStateMachine => self.update_state_machine(call),
            Operation::ListStateMachines => self.list_state_machines(call),
            Operation::DeleteStateMachine => self.delete_state_machine(call),
            Operation::ValidateStateMachineDefinition => {
                self.validate_state_machine_definition(call)
            }
            Operation::StartExecution => self.start_execution(call),
            Operation::StartSyncExecution => self.start_sync_execution(call).await,
            Operation::DescribeExecution => self.describe_execution(call),
            Operation::ListExecutions => self.list_executions(call),
            Operation::StopExecution => self.stop_execution(call),
            Operation::GetExecutionHistory => self.get_execution_history(call),
            Operation::DescribeStateMachineForExecution => {
                self.describe_state_machine_for_execution(call)
            }
            Operation::DescribeMapRun => self.describe_map_run(call),
            Operation::ListMapRuns => self.list_map_runs(call),
            Operation::TagResource => self.tag_resource(call),
            Operation::UntagResource => self.untag_resource(call),
            Operation::ListTagsForResource => self.list_tags_for_resource(call),
        }
    }
}

/// Serializes an answer.
pub(crate) fn reply(v: &impl serde::Serialize) -> ApiResult {
    // Most answers are a few hundred bytes: one allocation instead of a growing buffer.
    let mut out = Vec::with_capacity(256);
    serde_json::to_writer(&mut out, v)
        .map_err(|e| ApiError::internal(format!("could not encode the answer: {e}")))?;
    // serde_json writes UTF-8 only.
    String::from_utf8(out)
        .map_err(|e| ApiError::internal(format!("could not encode the answer: {e}")))
}

/// Locks a mutex, carrying on past a poisoned one (a panicking handler must not wedge the
/// service).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Read-locks an RwLock past poisoning.
pub(crate) fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

/// Write-locks an RwLock past poisoning.
pub(crate) fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_map_tells_similar_keys_apart() {
        let mut m: FastMap<String, usize> = FastMap::default();
        // Same long prefix, differing near the end, as ARNs and tokens do.
        for i in 0..10_000 {
            m.insert(
                format!("arn:aws:states:us-east-1:123456789012:execution:sm:{i}"),
                i,
            );
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(
            m["arn:aws:states:us-east-1:123456789012:execution:sm:4242"],
            4242
        );
    }
}
