//! The whole path a new user takes: a fresh workspace outside this one (a worker package and
//! the few-line xtask, with path dependencies on this repository's `stefuna` and
//! `stefuna-xtask`), `cargo xtask deploy --bin NAME --definition FILE --endpoint-url URL`
//! against stefuna-local, then the built worker serving an execution of the deployed machine.
//!
//! The fresh workspace gets this repository's Cargo.lock and builds into this workspace's target
//! directory, offline, so only its own two crates compile. Its xtask package is `xtask`, as
//! usual, but its binary is `fresh-xtask`: a binary `xtask` would overwrite this repository's
//! `target/debug/xtask` in the shared target directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::types::ExecutionStatus;

const WORKER: &str = r#"
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Order {
    item: String,
    quantity: u32,
}

#[derive(Serialize)]
struct Packed {
    label: String,
}

#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:pack", heartbeat = 5)]
async fn pack(order: Order) -> Result<Packed, stefuna::TaskError> {
    Ok(Packed { label: format!("{} x {}", order.quantity, order.item) })
}
"#;

const XTASK: &str = "fn main() -> std::process::ExitCode {\n    stefuna_xtask::main()\n}\n";

/// `${activity:pack}` by its ARN name; the Pass state shows the rest of the ASL survives.
const DEFINITION: &str = r#"{
  "StartAt": "Pack",
  "States": {
    "Pack": {"Type": "Task", "Resource": "${activity:pack}", "HeartbeatSeconds": 30,
             "TimeoutSeconds": 300, "ResultPath": "$.packed", "Next": "Done"},
    "Done": {"Type": "Pass", "Parameters": {"label.$": "$.packed.label"}, "End": true}
  }
}"#;

/// This repository's root (stefuna-xtask's parent).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("stefuna-xtask lives in the workspace")
        .to_path_buf()
}

/// This workspace's target directory: the test binary is `<target>/<profile>/deps/<test>`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(3)
        .expect("test binary under <target>/<profile>/deps")
        .to_path_buf()
}

/// Writes the fresh workspace under `dir`.
fn write_workspace(dir: &Path) {
    let repo = repo();
    let files = [
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"worker\", \"xtask\"]\nresolver = \"3\"\n".to_owned(),
        ),
        (
            ".cargo/config.toml",
            "[alias]\nxtask = \"run --package xtask --\"\n".to_owned(),
        ),
        (
            "worker/Cargo.toml",
            format!(
                "[package]\nname = \"worker\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
                 [dependencies]\nstefuna = {{ path = {:?} }}\n\
                 serde = {{ version = \"1\", features = [\"derive\"] }}\n",
                repo.display().to_string()
            ),
        ),
        ("worker/src/main.rs", WORKER.to_owned()),
        (
            "xtask/Cargo.toml",
            format!(
                "[package]\nname = \"xtask\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\
                 publish = false\n\n[[bin]]\nname = \"fresh-xtask\"\npath = \"src/main.rs\"\n\n\
                 [dependencies]\nstefuna-xtask = {{ path = {:?} }}\n",
                repo.join("stefuna-xtask").display().to_string()
            ),
        ),
        ("xtask/src/main.rs", XTASK.to_owned()),
        ("orders.asl.json", DEFINITION.to_owned()),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::copy(repo.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

/// A command in the fresh workspace: this workspace's target dir, offline, no proxy for
/// loopback, and no `STEFUNA_*` or AWS endpoint settings from the test's environment.
fn command(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_NET_OFFLINE", "true")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("AWS_ENDPOINT_URL_SFN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ACCESS_KEY_ID")
        .stdin(Stdio::null());
    for (key, _) in std::env::vars() {
        if key.starts_with("STEFUNA_") || key == "CARGO_MANIFEST_DIR" || key == "CARGO_PKG_NAME" {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn line_value(out: &Output, prefix: &str) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("no `{prefix}` line in\n{}", text(out)))
}

/// Removes the workspace and kills the worker however the test ends.
struct Cleanup {
    dir: PathBuf,
    worker: Option<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mut w) = self.worker.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn client(endpoint: &str) -> aws_sdk_sfn::Client {
    let conf = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    aws_sdk_sfn::Client::from_conf(conf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_workspace_deploys_its_worker_and_runs_an_execution() {
    let dir = std::env::temp_dir().join(format!("stefuna-fresh-workspace-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cleanup = Cleanup {
        dir: dir.clone(),
        worker: None,
    };
    write_workspace(&dir);

    let emulator = stefuna_local::Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let url = emulator.endpoint().to_owned();

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut deploy = command(&cargo, &dir);
    deploy.args([
        "xtask",
        "deploy",
        "--bin",
        "worker",
        "--definition",
        "orders.asl.json",
        "--endpoint-url",
        &url,
    ]);
    let out = tokio::task::spawn_blocking(move || deploy.output().expect("run cargo xtask"))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for call in [
        "--bin worker",
        "--describe",
        "CreateActivity name=pack",
        "ValidateStateMachineDefinition",
        "CreateStateMachine name=orders",
    ] {
        assert!(
            stdout.contains(call),
            "`{call}` not printed:\n{}",
            text(&out)
        );
    }
    let activity = line_value(&out, "activity pack: ");
    assert_eq!(
        activity,
        "arn:aws:states:us-east-1:123456789012:activity:pack"
    );
    let machine = line_value(&out, "state machine orders: ");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning:"), "{}", text(&out));

    // The worker as built by the deploy, pointed at the emulator.
    let binary = target_dir()
        .join("debug")
        .join(format!("worker{}", std::env::consts::EXE_SUFFIX));
    let worker = command(&binary, &dir)
        .args(["--endpoint-url", &url, "--healthcheck", "0"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the worker");
    cleanup.worker = Some(worker);

    let sfn = client(&url);
    let exec = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .input(r#"{"item": "tea", "quantity": 3}"#)
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    let ended = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let d = sfn
                .describe_execution()
                .execution_arn(&exec)
                .send()
                .await
                .unwrap();
            if *d.status() != ExecutionStatus::Running {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the execution ends within 120 s");
    assert_eq!(*ended.status(), ExecutionStatus::Succeeded, "{ended:?}");
    let output: serde_json::Value = serde_json::from_str(ended.output().unwrap()).unwrap();
    assert_eq!(output, serde_json::json!({"label": "3 x tea"}));

    drop(cleanup);
    emulator.shutdown().await;
}
