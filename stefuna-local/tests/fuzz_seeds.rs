//! Replays every input in the repository's fuzz seed folders (`fuzz/seeds/TARGET/`) and
//! regression folders (`fuzz/regressions/TARGET/`) through the same entry points the fuzz
//! targets call, with the same checks, so `cargo test` catches what the fuzzer would find
//! first. A folder for a target this file does not know fails the test: a new target needs its
//! replay here (`worker_io` is replayed by `stefuna-core/tests/fuzz_regressions.rs`).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Runs one input as the target `target` does; false for a target this file does not replay.
fn replay(target: &str, data: &[u8]) -> bool {
    let text = std::str::from_utf8(data);
    match target {
        "asl_definition" => {
            if let Ok(text) = text {
                let _ = stefuna_local::fuzzing::definition(text);
            }
        }
        "asl_path" => {
            if let Ok(text) = text {
                let (path, rest) = text.split_once('\n').unwrap_or((text, ""));
                let doc: Value = serde_json::from_str(rest).unwrap_or_else(
                    |_| json!({"a": {"b": [1, {"c": "d"}, [2, 3]]}, "e f": null, "g": "h"}),
                );
                stefuna_local::fuzzing::path(path, &doc);
            }
        }
        "local_requests" => {
            if let Ok(script) = text {
                for status in stefuna_local::fuzzing::requests(script) {
                    assert!(
                        status == 200 || status == 400,
                        "status {status} for:\n{script}"
                    );
                }
            }
        }
        _ => return false,
    }
    true
}

/// Targets whose inputs another crate's test replays.
const REPLAYED_ELSEWHERE: &[&str] = &["worker_io"];

fn folders() -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = fuzz.join(kind);
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_fuzz_seed_and_regression_replays_cleanly() {
    let mut replayed = 0;
    for folder in folders() {
        let target = folder.file_name().unwrap().to_string_lossy().into_owned();
        if REPLAYED_ELSEWHERE.contains(&target.as_str()) {
            continue;
        }
        let mut inputs = 0;
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            eprintln!("replaying {}", path.display());
            assert!(
                replay(&target, &data),
                "{}: no replay for fuzz target `{target}`; add it to this file",
                folder.display()
            );
            inputs += 1;
        }
        assert!(inputs > 0, "{} is empty", folder.display());
        replayed += inputs;
    }
    assert!(replayed > 0, "no fuzz inputs found");
    println!("replayed {replayed} fuzz inputs");
}
