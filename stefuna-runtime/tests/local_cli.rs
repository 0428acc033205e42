//! `--local` as a user runs it: a real worker process (the `test_worker` example, which echoes its
//! input and sets no ARN) against the in-process emulator, results on stdout, exit codes.

#![cfg(all(unix, feature = "local"))]

use stefuna_runtime_testkit as support;

use std::path::{Path, PathBuf};

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::worker_binary;

/// A fresh empty working directory, so no `stefuna.toml` is picked up.
fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stefuna-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the worker with `args` in `dir` and returns its output; a run that hangs is killed
/// after a minute so the test fails instead of blocking the suite.
fn run(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(worker_binary!(&["local"]))
        .args([
            "--local",
            "--healthcheck",
            "0",
            "--loglevel",
            "warn,warp=off",
        ])
        .args(args)
        .current_dir(dir)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_SFN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn inputs_run_and_print_their_results() {
    let dir = work_dir("local-inputs");
    let out = run(&dir, &["--input", r#"{"a":1}"#, "--input", "[2,3]"]);
    std::fs::remove_dir_all(&dir).unwrap();
    let lines = stdout_lines(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {lines:?}\nstderr: {stderr}"
    );
    assert!(
        lines[0].starts_with("stefuna local: Step Functions emulator at http://127.0.0.1:"),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"stefuna local: activity TestWorker -> arn:aws:states:us-east-1:123456789012:activity:TestWorker".to_owned()),
        "{lines:?}"
    );
    let results: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("execution "))
        .collect();
    assert_eq!(
        results,
        [
            r#"execution input-1 SUCCEEDED: {"a":1}"#,
            "execution input-2 SUCCEEDED: [2,3]"
        ]
    );
}

#[test]
fn input_file_results_reach_stdout_without_a_terminal() {
    let dir = work_dir("local-file");
    std::fs::write(dir.join("in.jsonl"), "{\"n\":1}\n\n{\"n\":2}\n").unwrap();
    let out = run(&dir, &["--input-file", "in.jsonl"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(0));
    let mut results: Vec<String> = stdout_lines(&out)
        .into_iter()
        .filter(|l| l.starts_with("execution "))
        .collect();
    results.sort();
    assert_eq!(
        results,
        [
            r#"execution line-1 SUCCEEDED: {"n":1}"#,
            r#"execution line-3 SUCCEEDED: {"n":2}"#
        ]
    );
}

#[test]
fn a_bad_input_line_is_refused_before_anything_starts() {
    let dir = work_dir("local-bad");
    std::fs::write(dir.join("in.jsonl"), "{\"n\":1}\n{oops\n").unwrap();
    let out = run(&dir, &["--input-file", "in.jsonl"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--input-file in.jsonl line 2 is not JSON"),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("emulator at"),
        "the emulator started"
    );
}
