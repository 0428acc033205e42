//! The stefuna worker runtime.

pub mod config;
