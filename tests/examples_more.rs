//! Runs the heartbeat, several and shared_state examples (and hello with several inputs) as
//! child processes in local mode and checks their results and exit codes.
#![cfg(feature = "local")]

use stefuna_testkit as support;

use support::example_path;

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// A hung example fails the test instead of hanging it (the child is killed on drop).
const TIMEOUT: Duration = Duration::from_secs(120);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The `execution ...` result lines, in order.
    fn results(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("execution "))
            .collect()
    }

    /// The output JSON of every SUCCEEDED result line (panics on any other status).
    fn outputs(&self) -> Vec<serde_json::Value> {
        self.results()
            .iter()
            .map(|line| {
                assert!(line.contains(" SUCCEEDED: "), "{line}\n{}", self.stderr);
                serde_json::from_str(&line[line.find('{').expect("output JSON")..])
                    .expect("output is JSON")
            })
            .collect()
    }
}

async fn run_example(name: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(example_path(name));
    cmd.args(["--local", "--healthcheck", "0"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("AWS_ENDPOINT_URL_SFN")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("STEFUNA_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
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

fn assert_exit(run: &Run, code: i32) {
    assert_eq!(
        run.code,
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
}

#[tokio::test]
async fn hello_runs_several_inputs_and_reports_each() {
    let run = run_example(
        "hello",
        &[
            "--input",
            r#"{"name": "Ann"}"#,
            "--input",
            r#"{"name": "Bob"}"#,
        ],
        &[],
    )
    .await;
    assert_exit(&run, 0);
    let mut outputs = run.outputs();
    outputs.sort_by_key(|v| v.to_string());
    assert_eq!(
        outputs,
        [
            serde_json::json!({"message": "Hello Ann"}),
            serde_json::json!({"message": "Hello Bob"}),
        ]
    );
}

#[tokio::test]
async fn hello_input_file_with_json_lines_and_a_failing_line_exits_one() {
    let dir = std::env::temp_dir().join(format!("stefuna-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("inputs.jsonl");
    std::fs::write(&file, "{\"name\": \"World\"}\n{\"nam\": 1}\n").expect("write inputs");
    let run = run_example(
        "hello",
        &["--input-file", file.to_str().expect("utf-8 path")],
        &[],
    )
    .await;
    std::fs::remove_dir_all(&dir).ok();
    assert_exit(&run, 1);
    let results = run.results();
    assert_eq!(results.len(), 2, "stdout:\n{}", run.stdout);
    assert!(
        results
            .iter()
            .any(|l| l.contains(r#"SUCCEEDED: {"message":"Hello World"}"#)),
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|l| l.contains("FAILED") && l.contains("Stefuna.InvalidInput")),
        "{results:?}"
    );
}

#[tokio::test]
async fn heartbeat_example_beats_between_steps_and_succeeds() {
    let run = run_example(
        "heartbeat",
        &["--input", r#"{"steps": 3, "step_ms": 50}"#],
        &[],
    )
    .await;
    assert_exit(&run, 0);
    assert_eq!(run.outputs(), [serde_json::json!({"steps_done": 3})]);
}

#[tokio::test]
async fn several_example_runs_both_activities_in_one_execution() {
    let run = run_example("several", &["--input", r#"{"text": "hi there"}"#], &[]).await;
    assert_exit(&run, 0);
    assert!(
        run.stdout.contains("activity shout ->") && run.stdout.contains("activity count ->"),
        "both activities are hosted:\n{}",
        run.stdout
    );
    // shout upper-cases, then count (a plain fn on the blocking pool) counts the letters.
    assert_eq!(
        run.outputs(),
        [serde_json::json!({"shouted": "HI THERE", "letters": 7})]
    );
}

#[tokio::test]
async fn shared_state_example_reads_worker_config_from_env_and_counts_tasks() {
    let run = run_example(
        "shared_state",
        &[
            "--input",
            r#"{"name": "Ann"}"#,
            "--input",
            r#"{"name": "Bob"}"#,
        ],
        &[("STEFUNA_WORKER_CONFIG__GREETING", "Hi")],
    )
    .await;
    assert_exit(&run, 0);
    let outputs = run.outputs();
    let mut messages: Vec<&str> = outputs
        .iter()
        .map(|o| o["message"].as_str().expect("message"))
        .collect();
    messages.sort_unstable();
    assert_eq!(messages, ["Hi Ann", "Hi Bob"]);
    // One counter shared by both tasks: each saw a different count.
    let mut served: Vec<u64> = outputs
        .iter()
        .map(|o| o["served"].as_u64().expect("served"))
        .collect();
    served.sort_unstable();
    assert_eq!(served, [1, 2]);
}

#[tokio::test]
async fn shared_state_example_reads_worker_config_from_a_config_file() {
    let dir = std::env::temp_dir().join(format!("stefuna-shared-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("stefuna.toml");
    std::fs::write(&file, "[worker_config]\ngreeting = \"Howdy\"\n").expect("write config");
    let run = run_example(
        "shared_state",
        &[
            "--config",
            file.to_str().expect("utf-8 path"),
            "--input",
            r#"{"name": "Cy"}"#,
        ],
        &[],
    )
    .await;
    std::fs::remove_dir_all(&dir).ok();
    assert_exit(&run, 0);
    assert_eq!(
        run.outputs(),
        [serde_json::json!({"message": "Howdy Cy", "served": 1})]
    );
}
