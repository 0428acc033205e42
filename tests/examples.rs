//! Runs the example binaries (built by `cargo test` into `target/<profile>/examples/`) in local
//! mode, as a user would, and checks what they print and how they exit.
#![cfg(feature = "local")]

use stefuna_testkit as support;

use support::example_path;

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// A hung example fails the test instead of hanging it.
const TIMEOUT: Duration = Duration::from_secs(120);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn run_example(name: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(example_path(name));
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("AWS_ENDPOINT_URL_SFN")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // STEFUNA_* from the developer's shell must not change what the examples do.
    for (key, _) in std::env::vars() {
        if key.starts_with("STEFUNA_") {
            cmd.env_remove(key);
        }
    }
    let child = cmd.spawn().expect("spawn example");
    let output = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("example {name} did not exit within {TIMEOUT:?}"))
        .expect("wait for example");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn result_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.starts_with("execution "))
        .collect()
}

#[tokio::test]
async fn hello_local_input_prints_greeting_and_exits_zero() {
    let run = run_example("hello", &["--local", "--input", r#"{"name": "World"}"#]).await;
    assert_eq!(
        run.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    let results = result_lines(&run.stdout);
    assert_eq!(results.len(), 1, "stdout:\n{}", run.stdout);
    assert!(results[0].contains("SUCCEEDED"), "{}", results[0]);
    let json = &results[0][results[0].find('{').expect("output JSON")..];
    let output: serde_json::Value = serde_json::from_str(json).expect("output is JSON");
    assert_eq!(output, serde_json::json!({"message": "Hello World"}));
}

#[tokio::test]
async fn hello_bad_input_fails_the_execution_with_exit_one() {
    let run = run_example("hello", &["--local", "--input", r#"{"nom": "World"}"#]).await;
    assert_eq!(
        run.code,
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    let results = result_lines(&run.stdout);
    assert_eq!(results.len(), 1, "stdout:\n{}", run.stdout);
    assert!(results[0].contains("FAILED"), "{}", results[0]);
    assert!(
        results[0].contains("Stefuna.InvalidInput"),
        "{}",
        results[0]
    );
}

#[tokio::test]
async fn hello_unknown_flag_is_a_usage_error() {
    let run = run_example("hello", &["--heartbeet", "3"]).await;
    assert_eq!(run.code, Some(2), "stderr:\n{}", run.stderr);
    assert!(
        run.stderr.contains("--heartbeet"),
        "stderr:\n{}",
        run.stderr
    );
}

#[tokio::test]
async fn failure_custom_error_is_caught_by_the_state_machine() {
    let run = run_example(
        "failure",
        &[
            "--local",
            "--state-machine",
            "examples/state-machines/failure.asl.json",
            "--input",
            r#"{"name": ""}"#,
            "--input",
            r#"{"name": "Ada"}"#,
        ],
    )
    .await;
    assert_eq!(
        run.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    let results = result_lines(&run.stdout);
    assert_eq!(results.len(), 2, "stdout:\n{}", run.stdout);
    let outputs: Vec<serde_json::Value> = results
        .iter()
        .map(|line| {
            assert!(line.contains("SUCCEEDED"), "{line}");
            serde_json::from_str(&line[line.find('{').expect("output JSON")..]).expect("JSON")
        })
        .collect();
    assert!(
        outputs.contains(
            &serde_json::json!({"message": "Hello stranger", "error": "Greeting.Rejected"})
        ),
        "{outputs:?}"
    );
    assert!(
        outputs.contains(&serde_json::json!({"message": "Hello Ada"})),
        "{outputs:?}"
    );
}

#[tokio::test]
async fn failure_uncaught_error_name_reaches_the_execution() {
    let run = run_example("failure", &["--local", "--input", r#"{"name": " "}"#]).await;
    assert_eq!(
        run.code,
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    let results = result_lines(&run.stdout);
    assert_eq!(results.len(), 1, "stdout:\n{}", run.stdout);
    assert!(results[0].contains("FAILED"), "{}", results[0]);
    assert!(results[0].contains("Greeting.Rejected"), "{}", results[0]);
    assert!(results[0].contains("the name is empty"), "{}", results[0]);
}
