//! stefuna-local's request handling: a script of `Operation {json}` lines runs on a fresh
//! service. Nothing panics, and every answer is a success or a client error (400): a 500
//! would mean the emulator failed on its own.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(script) = std::str::from_utf8(data) else {
        return;
    };
    for status in stefuna_local::fuzzing::requests(script) {
        assert!(
            status == 200 || status == 400,
            "status {status} for:\n{script}"
        );
    }
});
