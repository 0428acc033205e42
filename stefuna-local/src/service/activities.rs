//! Activities: CreateActivity, DescribeActivity, ListActivities, DeleteActivity and the
//! per-activity FIFO queue behind GetActivityTask.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::{Call, Service, Task, lock, paging, read, reply, write};
use crate::clock::{epoch, sleep_until};
use crate::error::{ApiError, ApiResult};
use crate::names::{arn, check_arn, check_name, region_of};

/// One activity and its queue of scheduled tasks.
pub(crate) struct Activity {
    pub(crate) arn: String,
    pub(crate) name: String,
    pub(crate) created: f64,
    seq: u64,
    queue: Mutex<Queue>,
}

/// Tasks not yet delivered, and pollers waiting for one (both FIFO).
#[derive(Default)]
struct Queue {
    pending: VecDeque<Arc<Task>>,
    waiters: VecDeque<oneshot::Sender<Arc<Task>>>,
}

impl Activity {
    /// Queues a task: straight to the longest-waiting live poller, else at the back.
    pub(crate) fn enqueue(&self, mut task: Arc<Task>) {
        let mut q = lock(&self.queue);
        while let Some(waiter) = q.waiters.pop_front() {
            match waiter.send(task) {
                Ok(()) => return,
                // That poller gave up (timed out or disconnected): try the next.
                Err(t) => task = t,
            }
        }
        q.pending.push_back(task);
    }

    /// A queued task, or a receiver a later [`Activity::enqueue`] hands one to.
    fn take_or_wait(self: &Arc<Self>) -> Result<Arc<Task>, Waiter> {
        let mut q = lock(&self.queue);
        if let Some(t) = q.pending.pop_front() {
            return Ok(t);
        }
        if q.waiters.len() >= 64 {
            q.waiters.retain(|w| !w.is_closed());
        }
        let (tx, rx) = oneshot::channel();
        q.waiters.push_back(tx);
        Err(Waiter {
            rx,
            activity: self.clone(),
        })
    }
}

/// A poller's place in the queue. If the poll ends (timeout, client gone) with a task handed
/// over but not taken, the task goes back to the queue rather than being lost.
struct Waiter {
    rx: oneshot::Receiver<Arc<Task>>,
    activity: Arc<Activity>,
}

impl Waiter {
    /// Ends the wait, giving a task handed over meanwhile.
    fn close(&mut self) -> Option<Arc<Task>> {
        self.rx.close();
        self.rx.try_recv().ok()
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(task) = self.close() {
            self.activity.enqueue(task);
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateActivityInput {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivityArnInput {
    activity_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetActivityTaskInput {
    activity_arn: String,
    worker_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ActivityListItem<'a> {
    activity_arn: &'a str,
    name: &'a str,
    creation_date: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskOutput<'a> {
    task_token: &'a str,
    input: &'a str,
}

impl Service {
    pub(super) fn create_activity(&self, call: Call<'_>) -> ApiResult {
        let input: CreateActivityInput = call.input()?;
        check_name("activity", &input.name)?;
        let arn = arn(call.region, "activity", &input.name);
        let activity = {
            let mut map = write(&self.activities);
            map.entry(arn.clone())
                .or_insert_with(|| {
                    Arc::new(Activity {
                        arn,
                        name: input.name,
                        created: epoch(self.clock.now()),
                        seq: self.next_seq(),
                        queue: Mutex::default(),
                    })
                })
                .clone()
        };
        reply(&serde_json::json!({
            "activityArn": activity.arn,
            "creationDate": activity.created,
        }))
    }

    /// The activity an ARN names, or `ActivityDoesNotExist`.
    fn activity(&self, activity_arn: &str) -> Result<Arc<Activity>, ApiError> {
        check_arn("activityArn", "activity", activity_arn)?;
        read(&self.activities)
            .get(activity_arn)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    "ActivityDoesNotExist",
                    format!("activity does not exist: '{activity_arn}'"),
                )
            })
    }

    pub(super) fn describe_activity(&self, call: Call<'_>) -> ApiResult {
        let input: ActivityArnInput = call.input()?;
        let a = self.activity(&input.activity_arn)?;
        reply(&ActivityListItem {
            activity_arn: &a.arn,
            name: &a.name,
            creation_date: a.created,
        })
    }

    pub(super) fn list_activities(&self, call: Call<'_>) -> ApiResult {
        let input: ListInput = call.input()?;
        let mut all: Vec<Arc<Activity>> = read(&self.activities)
            .values()
            .filter(|a| region_of(&a.arn) == call.region)
            .cloned()
            .collect();
        all.sort_by_key(|a| a.seq);
        let (page, next) =
            paging::page(&all, input.max_results, input.next_token.as_deref(), |a| {
                ActivityListItem {
                    activity_arn: &a.arn,
                    name: &a.name,
                    creation_date: a.created,
                }
            })?;
        reply(&serde_json::json!({ "activities": page, "nextToken": next }))
    }

    pub(super) fn delete_activity(&self, call: Call<'_>) -> ApiResult {
        let input: ActivityArnInput = call.input()?;
        check_arn("activityArn", "activity", &input.activity_arn)?;
        // AWS answers success for an activity that is already gone.
        write(&self.activities).remove(&input.activity_arn);
        Ok("{}".to_owned())
    }

    pub(super) async fn get_activity_task(&self, call: Call<'_>) -> ApiResult {
        let input: GetActivityTaskInput = call.input()?;
        let worker = input.worker_name.unwrap_or_default();
        if worker.chars().count() > 80 {
            return Err(ApiError::validation(format!(
                "invalid workerName: at most 80 characters, found {}",
                worker.chars().count()
            )));
        }
        let activity = self.activity(&input.activity_arn)?;
        let deadline = tokio::time::Instant::now().checked_add(self.settings.long_poll);
        let mut closing = self.closing.subscribe();
        loop {
            if *closing.borrow_and_update() {
                return Ok("{}".to_owned());
            }
            let task = match activity.take_or_wait() {
                Ok(task) => task,
                Err(mut waiter) => {
                    tokio::select! {
                        got = &mut waiter.rx => match got {
                            Ok(task) => task,
                            Err(_) => continue,
                        },
                        _ = sleep_until(deadline) => {
                            // A task sent just before the timer fired is still ours.
                            match waiter.close() {
                                Some(task) => task,
                                None => return Ok("{}".to_owned()),
                            }
                        }
                        _ = closing.changed() => {
                            match waiter.close() {
                                Some(task) => task,
                                None => return Ok("{}".to_owned()),
                            }
                        }
                    }
                }
            };
            // A task stopped or timed out while queued is skipped.
            if task.start(&worker, self.clock.now()) {
                return reply(&TaskOutput {
                    task_token: &task.token,
                    input: &task.input,
                });
            }
            if deadline.is_some_and(|d| d <= tokio::time::Instant::now()) {
                return Ok("{}".to_owned());
            }
        }
    }
}
