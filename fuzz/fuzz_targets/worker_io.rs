//! The worker's side of a task's data: input decoding, output encoding and the truncation of
//! error names and causes (properties in `checks/worker_io.rs`).
#![no_main]

#[path = "../checks/worker_io.rs"]
mod worker_io;

libfuzzer_sys::fuzz_target!(|data: &[u8]| worker_io::check(data));
