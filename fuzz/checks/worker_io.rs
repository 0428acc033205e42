//! The properties of the worker's task data handling, shared by the `worker_io` fuzz target and
//! the regression test that replays `fuzz/regressions/worker_io/` in `cargo test`.

use serde_json::Value;
use stefuna_core::{
    MAX_CAUSE_CHARS, MAX_ERROR_CHARS, MAX_PAYLOAD_BYTES, TaskError, decode_input, encode_output,
    names, truncate_chars,
};

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Input {
    name: String,
    count: Option<u32>,
    tags: Vec<String>,
}

/// Checks every property on one input; panics with the broken one.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    // Decoding into a user's type fails only as Stefuna.InvalidInput, with a cause that fits.
    if let Err(e) = decode_input::<Input>(text) {
        assert_eq!(e.error(), names::INVALID_INPUT);
        assert!(e.truncated().cause().chars().count() <= MAX_CAUSE_CHARS);
    }

    // Any JSON value goes back out unchanged (numbers included), or is refused as too large.
    if let Ok(value) = decode_input::<Value>(text) {
        match encode_output(&value) {
            Ok(json) => {
                assert!(json.len() <= MAX_PAYLOAD_BYTES);
                let back: Value = serde_json::from_str(&json).expect("encoded output is JSON");
                if value.is_null() {
                    assert_eq!(json, "{}");
                } else {
                    assert_eq!(back, value, "output does not round-trip: {json}");
                }
            }
            Err(e) => assert_eq!(e.error(), names::OUTPUT_TOO_LARGE),
        }
    }

    // Error names and causes are cut to Step Functions' limits, keeping a prefix.
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid -= 1;
    }
    let (error, cause) = text.split_at(mid);
    let t = TaskError::new(error, cause).truncated();
    assert!(t.error().chars().count() <= MAX_ERROR_CHARS);
    assert!(t.cause().chars().count() <= MAX_CAUSE_CHARS);
    assert!(error.starts_with(t.error()) && cause.starts_with(t.cause()));

    for max in [0, 1, 2, 7, 256] {
        let mut cut = text.to_owned();
        truncate_chars(&mut cut, max);
        assert!(cut.chars().count() <= max);
        assert!(text.starts_with(&cut));
        if text.chars().count() <= max {
            assert_eq!(cut, text);
        }
    }
}
