//! Core types of [stefuna](https://crates.io/crates/stefuna): the [`Activity`] trait, the per-task
//! [`Context`], the [`TaskError`] sent to Step Functions, and the payload rules (input decoding,
//! output encoding, size and length limits).
//!
//! This crate knows nothing about the AWS SDK and starts no async runtime: it is the contract
//! between the code a user writes (by hand or through `#[stefuna::activity]`) and the worker
//! runtime that polls Step Functions.

mod activity;
mod context;
mod error;
mod json;
mod payload;

pub use activity::{Activity, ActivityDefaults, Invocation};
pub use context::{Context, ContextBuilder, Heartbeat, HeartbeatError, SharedState, TaskToken};
pub use error::{TaskError, names};
pub use json::Json;
pub use payload::{
    MAX_CAUSE_CHARS, MAX_ERROR_CHARS, MAX_PAYLOAD_BYTES, decode_input, encode_output,
    truncate_chars,
};
pub use tokio_util::sync::CancellationToken;
