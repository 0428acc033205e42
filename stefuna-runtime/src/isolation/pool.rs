//! One activity's children: warm ones waiting for a task, started on demand, replaced after
//! `maxtasksperchild` tasks or a crash, and retired at shutdown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use stefuna_core::{Heartbeat, TaskError, TaskToken, names};
use tokio_util::sync::CancellationToken;

use super::parent::{Child, Ended, Spawn};
use crate::metrics::{Event, Metrics};

/// How long a retired child gets to exit after its socket closes before it is killed.
const RETIRE_GRACE: Duration = Duration::from_secs(5);

/// The children of one activity. At most one per slot is busy; idle ones wait here.
pub(crate) struct Children {
    spec: Spawn,
    activity: Arc<str>,
    idle: Mutex<Vec<Child>>,
    max_tasks: Option<u64>,
    /// `server_config.lost_task_grace`: SIGTERM to SIGKILL.
    grace: Duration,
    metrics: Arc<Metrics>,
}

impl Children {
    pub(crate) fn new(
        spec: Spawn,
        activity: Arc<str>,
        max_tasks: Option<u64>,
        grace: Duration,
        metrics: Arc<Metrics>,
    ) -> Children {
        Children {
            spec,
            activity,
            idle: Mutex::new(Vec::new()),
            max_tasks,
            grace,
            metrics,
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Child>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs one task in a warm child (started if none waits) and gives its answer. A child
    /// that died fails only this task with `Stefuna.WorkerCrashed`.
    pub(crate) async fn run(
        self: Arc<Self>,
        token: TaskToken,
        input: String,
        hb: Arc<dyn Heartbeat>,
        cancel: CancellationToken,
    ) -> Result<String, TaskError> {
        let warm = self.idle().pop();
        let mut child = match warm {
            Some(c) => c,
            None => {
                self.metrics.record(&*self.activity, Event::ChildStarted);
                match Child::start(&self.spec).await {
                    Ok(c) => {
                        tracing::debug!(pid = c.pid(), "child process started");
                        c
                    }
                    Err(e) => {
                        self.metrics.record(&*self.activity, Event::ChildCrashed);
                        tracing::warn!(cause = %e.cause(), "a child process failed to start");
                        return Err(e);
                    }
                }
            }
        };
        match child
            .run(token.as_str(), input, hb, &cancel, self.grace)
            .await
        {
            Ended::Answered(result) => {
                if self.max_tasks.is_some_and(|m| child.tasks >= m) {
                    tracing::debug!(
                        pid = child.pid(),
                        tasks = child.tasks,
                        "recycling child process"
                    );
                    child.retire(RETIRE_GRACE);
                } else {
                    self.idle().push(child);
                }
                result
            }
            Ended::Cancelled => Err(TaskError::new(
                names::TASK_LOST,
                "the task was cancelled and its child process stopped",
            )),
            Ended::Crashed(e) => {
                self.metrics.record(&*self.activity, Event::ChildCrashed);
                tracing::warn!(cause = %e.cause(), "a child process died running its task");
                Err(e)
            }
        }
    }

    /// Retires every idle child and waits until they exited.
    pub(crate) async fn close(&self) {
        let idle: Vec<Child> = std::mem::take(&mut *self.idle());
        let waits: Vec<_> = idle.into_iter().map(|c| c.retire(RETIRE_GRACE)).collect();
        for w in waits {
            let _ = w.await;
        }
    }
}
