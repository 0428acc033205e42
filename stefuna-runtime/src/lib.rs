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

pub mod cli;
mod client;
pub mod config;
mod delivery;
mod health;
mod heartbeat;
#[cfg(feature = "local")]
mod local;
pub mod logging;
mod metrics;
mod poller;
mod pool;
mod server;
mod shutdown;
mod task;
mod worker;

pub use config::{ActivitySettings, Config, ConfigError};
pub use pool::{DEFAULT_MAX_POLLERS, pollers_for};
pub use server::{Server, ServerBuilder, ServerError, run_main};
pub use worker::{MAX_WORKER_NAME_CHARS, worker_name};
