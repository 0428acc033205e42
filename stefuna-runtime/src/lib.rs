//! The stefuna worker runtime: hosts [`stefuna_core::Activity`] implementations as AWS Step
//! Functions activity workers.
//!
//! A [`Server`] long-polls `GetActivityTask` for each hosted activity (a poll is open only while
//! a free slot is held for it), runs each task (async on the runtime, blocking closures on the
//! blocking pool, panics caught), heartbeats, and answers with exactly one `SendTaskSuccess` or
//! `SendTaskFailure`, retried until it lands. A health server reports liveness, readiness and
//! Prometheus metrics; SIGTERM drains and a second signal (or the end of `shutdown_grace`) fails
//! what still runs with `Stefuna.WorkerShutdown`.
//!
//! Worker binaries call [`run_main`] (or [`ServerBuilder::run_main`]); services embedding a
//! worker call [`ServerBuilder::run`] with a [`ServerBuilder::shutdown`] future.
//!
//! # Behaviour worth knowing
//!
//! - **Polls.** Each activity gets `processes` slots and `pollers` pollers (default
//!   `min(processes, 64)`). A poller takes a free slot before it calls
//!   `GetActivityTask` and hands it to the task it receives, so a claimed task never waits and a
//!   busy worker holds no poll open. Poll errors back off from 100 ms to 30 s with jitter.
//! - **Timeouts.** `GetActivityTask` reads for 70 s (attempt 75 s); other calls 10 s. The SDK's own
//!   retries are off: the runtime retries results itself until they land or the token is dead.
//! - **Credentials** come from aws-config's default chain. With a loopback `endpoint_url`
//!   (stefuna-local, LocalStack) and no `AWS_ACCESS_KEY_ID` in the environment, placeholder
//!   static credentials are used. [`ServerBuilder::client`] supplies a ready client instead.
//!   A missing-credentials problem is logged once at start, then shows as poll errors.
//! - **Lost tasks.** When a heartbeat answers `TaskTimedOut`, `TaskDoesNotExist` or
//!   `InvalidToken`, the task's `Context::cancelled()` fires; an async task still running
//!   `server_config.lost_task_grace` seconds later (default 5) is dropped. A blocking task cannot
//!   be stopped and keeps its slot until it returns. Nothing is sent for a lost task.
//! - **Shutdown.** `/readyz` turns 503, pollers stop (a poll already open finishes and its task
//!   runs), in-flight tasks get `shutdown_grace` (none: wait). Then, or on a second signal, tasks
//!   still running are failed with `Stefuna.WorkerShutdown` and cancelled, deliveries get up to
//!   `server_config.delivery_budget` seconds (default 15), and the server returns; `run_main`
//!   gives the runtime 1 s more, so a stuck blocking task cannot keep the process alive. In
//!   `--local` mode open polls are given up at once.
//! - **Health** (`healthcheck` port, 0 = off): `GET /` → `{"status": "ok", "state",
//!   "in_flight", "last_poll_age_seconds", "last_error"}`; `/healthz` 503 once no Step Functions
//!   call succeeded for `liveness_timeout` seconds while the worker wants to poll; `/readyz` 200
//!   only while polling; `/metrics` Prometheus text (`stefuna_tasks_started_total`,
//!   `stefuna_tasks_succeeded_total`, `stefuna_tasks_failed_total{error}`,
//!   `stefuna_tasks_in_flight`, `stefuna_polls_total`, `stefuna_poll_errors_total`,
//!   `stefuna_heartbeats_total`, ... labelled by `activity`; every series is listed in the
//!   README's "Operating stefuna"); `/healthz` is also 503 when the runtime stops running its
//!   watchdog task for 30 s.
//! - **Process isolation** (`isolation = "process"`): each slot's task runs in a warm child
//!   process of the same binary (re-executed with a private marker; `run_main` serves the
//!   child), recycled after `maxtasksperchild` tasks. The parent alone talks to Step Functions;
//!   a child that dies fails only its task with `Stefuna.WorkerCrashed`, and a lost task's
//!   child gets SIGTERM, then SIGKILL after `lost_task_grace`. See `docs/process-isolation.md`.
//! - **`--describe`** prints what the binary would run (each activity's name, ARN, region,
//!   heartbeat and processes once every configuration layer is applied) as JSON and exits; see
//!   [`describe`]. Deploy tools read workers this way.
//! - **Definitions** name activities as `${activity:NAME}`; [`definition`] resolves them, for
//!   `--local --state-machine` and stefuna-xtask alike.
//! - **Logs** go to stderr, `text` or `json`, filtered by `loglevel`; each task runs in a `task`
//!   span with the activity, worker name and the token's short hash. Tokens, inputs, outputs and
//!   causes are never logged at info level.

mod budget;
pub mod cli;
mod client;
pub mod config;
pub mod definition;
mod delivery;
pub mod describe;
mod health;
mod heartbeat;
mod init;
mod isolation;
#[cfg(feature = "local")]
mod local;
pub mod logging;
mod main_entry;
mod metrics;
mod monitor;
mod poller;
mod pool;
mod schedule;
mod server;
mod shutdown;
mod task;
mod worker;

pub use config::{ActivitySettings, Config, ConfigError};
pub use init::{InitContext, InitError, InitHook};
pub use main_entry::run_main;
pub use monitor::Monitor;

pub use server::{Server, ServerBuilder, ServerError};
