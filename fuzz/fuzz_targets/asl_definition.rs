//! stefuna-local's Amazon States Language parser and validator: never panics, whatever the
//! definition.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = stefuna_local::fuzzing::definition(text);
    }
});
