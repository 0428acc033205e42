//! Shared by the facade's integration tests that run example binaries. A crate of its own (not
//! published) rather than a `mod support` in each test binary, so that a helper one binary does
//! not use is not dead code there.

use std::path::PathBuf;

/// The example binary `name`, which `cargo test` builds next to the test binaries
/// (`target/<profile>/examples`).
pub fn example_path(name: &str) -> PathBuf {
    // current_exe is target/<profile>/deps/<test>-<hash>.
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary under target/<profile>/deps");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "example binary {} not found; run through `cargo test`, which builds the examples",
        path.display()
    );
    path
}

/// A command for example `name`, with [`clean_command`]'s environment.
pub fn example_command(name: &str) -> tokio::process::Command {
    clean_command(example_path(name))
}

/// A command for `program` with a clean environment: no `STEFUNA_*` or AWS endpoint variables
/// from the caller, loopback without a proxy, output piped, killed when dropped.
pub fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL_SFN")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("STEFUNA_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// An SDK client for a loopback endpoint, with static test credentials.
pub fn sfn(endpoint: &str) -> aws_sdk_sfn::Client {
    let conf = aws_sdk_sfn::Config::builder()
        .behavior_version(aws_sdk_sfn::config::BehaviorVersion::latest())
        .region(aws_sdk_sfn::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sfn::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .build();
    aws_sdk_sfn::Client::from_conf(conf)
}

/// Creates activity `name` and a one-Task state machine for it; returns both ARNs.
pub async fn machine(sfn: &aws_sdk_sfn::Client, name: &str) -> (String, String) {
    machine_with(sfn, name, serde_json::json!({})).await
}

/// [`machine`] with `task` merged into the Task state (e.g. `{"TimeoutSeconds": 5}`).
pub use stefuna_runtime_testkit::machine as machine_with;
/// Shared with stefuna-runtime's tests.
pub use stefuna_runtime_testkit::{free_port, get, within};

/// Waits (at most `limit`) until execution `exec` is no longer RUNNING; panics after `limit`.
pub async fn ended(
    sfn: &aws_sdk_sfn::Client,
    exec: &str,
    limit: std::time::Duration,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    use aws_sdk_sfn::types::ExecutionStatus;
    tokio::time::timeout(limit, async {
        loop {
            let d = sfn
                .describe_execution()
                .execution_arn(exec)
                .send()
                .await
                .unwrap();
            if *d.status() != ExecutionStatus::Running {
                return d;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("execution {exec} still running after {limit:?}"))
}

/// Starts an execution of `sm` with `input`, waits (at most 60 s) until it ends, and returns
/// the output of a success (panics on any other status).
pub async fn succeeded(sfn: &aws_sdk_sfn::Client, sm: &str, input: &str) -> serde_json::Value {
    use aws_sdk_sfn::types::ExecutionStatus;
    let exec = sfn
        .start_execution()
        .state_machine_arn(sm)
        .input(input)
        .send()
        .await
        .unwrap();
    let ended = ended(
        sfn,
        exec.execution_arn(),
        std::time::Duration::from_secs(60),
    )
    .await;
    assert_eq!(*ended.status(), ExecutionStatus::Succeeded, "{ended:?}");
    serde_json::from_str(ended.output().unwrap()).unwrap()
}

/// Sends SIGTERM to `child` and waits (at most 60 s) for its exit code.
pub async fn sigterm_and_wait(child: &mut tokio::process::Child) -> Option<i32> {
    let pid = child.id().expect("the child is running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -TERM {pid}");
    tokio::time::timeout(std::time::Duration::from_secs(60), child.wait())
        .await
        .expect("the child to exit within 60 s after SIGTERM")
        .unwrap()
        .code()
}
