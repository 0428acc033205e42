//! Replays the inputs the `worker_io` fuzz target found bugs with (`fuzz/regressions/worker_io/`)
//! through the same property checks, so each fix stays fixed in `cargo test`.

#[path = "../../fuzz/checks/worker_io.rs"]
mod worker_io;

#[test]
fn worker_io_regressions_hold() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/worker_io");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/regressions/worker_io exists") {
        let path = entry.expect("readable directory").path();
        let data = std::fs::read(&path).expect("readable seed");
        eprintln!("replaying {}", path.display());
        worker_io::check(&data);
        seen += 1;
    }
    assert!(seen > 0, "no seeds in {}", dir.display());
}

/// The bug those seeds found: a number changed between task input and task output.
#[test]
fn numbers_pass_through_unchanged() {
    for text in [
        "5.550555550550556e+44",
        "555550e55",
        "0.30000000000000004",
        "1e-7",
    ] {
        let v: serde_json::Value = stefuna_core::decode_input(text).unwrap();
        let out = stefuna_core::encode_output(&v).unwrap();
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, v, "{text} came back as {out}");
    }
}
