//! The stefuna worker runtime.

pub mod cli;
pub mod config;
#[cfg(feature = "local")]
mod local;
