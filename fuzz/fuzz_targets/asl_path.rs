//! stefuna-local's JSONPath (paths, reference paths) and intrinsic function parsers, used on a
//! document: the first line is the path, the rest the JSON document (a fixed one when it does
//! not parse). Never panics.
#![no_main]

use serde_json::{Value, json};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (path, rest) = text.split_once('\n').unwrap_or((text, ""));
    let doc: Value = serde_json::from_str(rest)
        .unwrap_or_else(|_| json!({"a": {"b": [1, {"c": "d"}, [2, 3]]}, "e f": null, "g": "h"}));
    stefuna_local::fuzzing::path(path, &doc);
});
