//! End-to-end worker scenarios, run against stefuna-local in `cargo test` and against LocalStack by `cargo xtask conformance`.
