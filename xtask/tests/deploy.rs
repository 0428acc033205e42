//! `cargo xtask deploy` against an in-process stefuna-local: deploy, redeploy (updates), dry run,
//! the `--role-arn` rule for AWS, an execution round trip with a worker, activities read from the
//! built binary (`--describe`), and definitions refused before any call.

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::types::ExecutionStatus;
use stefuna_core::{Activity, Context, Invocation, TaskError};
use stefuna_local::Emulator;

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("AWS_ACCESS_KEY_ID")
        .output()
        .expect("xtask runs")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `xtask` off the async runtime (the emulator lives on it).
async fn xtask_async(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        xtask(&a)
    })
    .await
    .unwrap()
}

fn client(endpoint: &str) -> aws_sdk_sfn::Client {
    let conf = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .timeout_config(
            aws_sdk_sfn::config::timeout::TimeoutConfig::builder()
                .read_timeout(Duration::from_secs(70))
                .operation_attempt_timeout(Duration::from_secs(75))
                .build(),
        )
        .build();
    aws_sdk_sfn::Client::from_conf(conf)
}

fn line_value(out: &Output, prefix: &str) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("no `{prefix}` line in\n{}", text(out)))
}

struct Hello;

impl Activity for Hello {
    fn name(&self) -> &str {
        "Hello"
    }
    fn invoke(self: Arc<Self>, input: String, _ctx: Context) -> Invocation {
        Invocation::Async(Box::pin(async move {
            let v: serde_json::Value = serde_json::from_str(&input)?;
            let name = v["name"].as_str().unwrap_or("nobody").to_owned();
            Ok::<_, TaskError>(serde_json::json!({"message": format!("Hello {name}")}).to_string())
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_example_then_redeploy_updates_and_an_execution_round_trips() {
    let emu = Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let url = emu.endpoint().to_owned();
    let args: Vec<String> = ["deploy", "--example", "hello", "--endpoint-url", &url]
        .iter()
        .map(|s| s.to_string())
        .collect();

    let first = xtask_async(args.clone()).await;
    assert!(first.status.success(), "{}", text(&first));
    let activity = line_value(&first, "activity hello: ");
    let machine = line_value(&first, "state machine hello: ");
    assert_eq!(
        activity,
        format!(
            "arn:aws:states:us-east-1:{}:activity:hello",
            stefuna_local::ACCOUNT_ID
        )
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("CreateStateMachine"));

    let second = xtask_async(args).await;
    assert!(second.status.success(), "{}", text(&second));
    assert_eq!(line_value(&second, "activity hello: "), activity);
    assert_eq!(line_value(&second, "state machine hello: "), machine);
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("UpdateStateMachine"),
        "{}",
        text(&second)
    );

    let sfn = client(&url);
    let described = sfn
        .describe_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    let def: serde_json::Value = serde_json::from_str(described.definition()).unwrap();
    assert_eq!(def["States"]["hello"]["Resource"], activity.as_str());
    assert_eq!(def["States"]["hello"]["HeartbeatSeconds"], 360);

    // A worker on the deployed activity completes an execution of the deployed machine.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = {
        let mut c = stefuna_runtime::Config::default();
        c.activity_arn = Some(activity.clone());
        c.processes = 1;
        c.healthcheck = 0;
        c.region = Some("us-east-1".into());
        c
    };
    let server = tokio::spawn(
        stefuna_runtime::Server::builder()
            .activity(Hello)
            .config(config)
            .client(client(&url))
            .shutdown(async move {
                let _ = stopped.await;
            })
            .run(),
    );
    let exec = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .input(r#"{"name": "World"}"#)
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
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
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await
    .expect("the execution ends within 30 s");
    assert_eq!(*ended.status(), ExecutionStatus::Succeeded, "{ended:?}");
    let output: serde_json::Value = serde_json::from_str(ended.output().unwrap()).unwrap();
    assert_eq!(output, serde_json::json!({"message": "Hello World"}));

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("worker stops")
        .unwrap()
        .unwrap();
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_definition_substitutes_placeholders_and_reports_invalid_definitions() {
    let emu = Emulator::start().await.unwrap();
    let url = emu.endpoint().to_owned();
    let dir = std::env::temp_dir().join(format!("xtask-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("pipeline.json");
    std::fs::write(
        &good,
        r#"{"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "${activity:resize}", "Next": "B"},
            "B": {"Type": "Task", "Resource": "${activity:store}", "TimeoutSeconds": 60, "End": true}}}"#,
    )
    .unwrap();
    let out = xtask_async(vec![
        "deploy".into(),
        "--definition".into(),
        good.display().to_string(),
        "--endpoint-url".into(),
        url.clone(),
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let resize = line_value(&out, "activity resize: ");
    assert!(resize.ends_with(":activity:resize"), "{resize}");
    line_value(&out, "activity store: ");
    let machine = line_value(&out, "state machine pipeline: ");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("state `A`") && stderr.contains("up to a year"),
        "{}",
        text(&out)
    );
    assert!(!stderr.contains("state `B`"), "{}", text(&out));
    let def = client(&url)
        .describe_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap()
        .definition()
        .to_owned();
    assert!(!def.contains("${activity:"), "{def}");

    // An invalid definition fails with the service's message and lists what was created first.
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"StartAt": "Missing", "States": {"A": {"Type": "Task", "Resource": "${activity:lonely}", "TimeoutSeconds": 5, "End": true}}}"#,
    )
    .unwrap();
    let out = xtask_async(vec![
        "deploy".into(),
        "--definition".into(),
        bad.display().to_string(),
        "--endpoint-url".into(),
        url.clone(),
    ])
    .await;
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("activity lonely: arn:"), "{}", text(&out));
    assert!(
        stderr.contains("InvalidDefinition") || stderr.contains("invalid definition"),
        "{}",
        text(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    emu.shutdown().await;
}

#[test]
fn dry_run_prints_the_resolved_definition_and_makes_no_call() {
    // An endpoint nobody listens on: a dry run must not try it.
    let out = xtask(&[
        "deploy",
        "--example",
        "hello",
        "--dry-run",
        "--endpoint-url",
        "http://127.0.0.1:9",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("would call CreateActivity name=hello"),
        "{stdout}"
    );
    assert!(
        stdout.contains("arn:aws:states:us-east-1:<account>:activity:hello"),
        "{stdout}"
    );
}

#[test]
fn aws_without_role_arn_is_refused_in_one_line() {
    let out = xtask(&["deploy", "--example", "hello"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--role-arn is required"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn unreachable_endpoint_is_one_clear_line() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}");
    let out = xtask(&["deploy", "--example", "hello", "--endpoint-url", &url]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing was created"), "{stderr}");
    assert!(
        stderr.contains(&format!("CreateActivity: cannot reach {url}")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_reads_several_activities_from_the_binary_and_warns_about_heartbeats() {
    let emu = Emulator::start().await.unwrap();
    let url = emu.endpoint().to_owned();
    let dir = std::env::temp_dir().join(format!("xtask-deploy-several-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let def = dir.join("shouting.json");
    // `Shout` and `count` match the activities `shout` and `count` whatever the case: the rules of
    // --local --state-machine.
    std::fs::write(
        &def,
        r#"{"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "${activity:Shout}", "HeartbeatSeconds": 30, "TimeoutSeconds": 60, "Next": "B"},
            "B": {"Type": "Task", "Resource": "${activity:count}", "TimeoutSeconds": 60, "End": true}}}"#,
    )
    .unwrap();
    let out = xtask_async(vec![
        "deploy".into(),
        "--example".into(),
        "several".into(),
        "--definition".into(),
        def.display().to_string(),
        "--endpoint-url".into(),
        url.clone(),
    ])
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("--describe"), "{}", text(&out));
    let shout = line_value(&out, "activity shout: ");
    let count = line_value(&out, "activity count: ");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("state `A`: HeartbeatSeconds is 30 but the `shout` worker never beats"),
        "{}",
        text(&out)
    );
    let machine = line_value(&out, "state machine shouting: ");
    let def: serde_json::Value = serde_json::from_str(
        client(&url)
            .describe_state_machine()
            .state_machine_arn(&machine)
            .send()
            .await
            .unwrap()
            .definition(),
    )
    .unwrap();
    assert_eq!(def["States"]["A"]["Resource"], shout.as_str());
    assert_eq!(def["States"]["B"]["Resource"], count.as_str());
    emu.shutdown().await;
}

#[test]
fn an_unterminated_placeholder_is_refused_before_anything_is_built() {
    let dir = std::env::temp_dir().join(format!("xtask-deploy-open-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let def = dir.join("open.json");
    std::fs::write(
        &def,
        "{\"StartAt\": \"A\", \"States\": {\"A\": {\"Type\": \"Task\",\n \"Resource\": \"${activity:hello\", \"End\": true}}}",
    )
    .unwrap();
    let out = xtask(&[
        "deploy",
        "--example",
        "hello",
        "--definition",
        def.to_str().unwrap(),
        "--endpoint-url",
        "http://127.0.0.1:9",
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "error: definition: line 2 column 15: unterminated placeholder `${activity:hello`; write `${activity:NAME}` with a NAME of 1-80 letters, digits, `-` or `_`",
        "{}",
        text(&out)
    );
}

#[test]
fn a_placeholder_naming_no_hosted_activity_is_refused_before_any_call() {
    // An endpoint nobody listens on: reaching it would fail differently.
    let def = workspace_file("examples/state-machines/failure.asl.json");
    let out = xtask(&[
        "deploy",
        "--example",
        "several",
        "--definition",
        &def,
        "--endpoint-url",
        "http://127.0.0.1:9",
    ]);
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "error: definition: `${activity:greet}` names no hosted activity; expected one of \
             `shout`, `count`"
        ),
        "{}",
        text(&out)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("CreateActivity"));
}

fn workspace_file(path: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arn_from_the_environment_is_deployed_and_a_different_account_is_pointed_out() {
    let emu = Emulator::start().await.unwrap();
    let url = emu.endpoint().to_owned();
    let polled = "arn:aws:states:us-east-1:210987654321:activity:hello-prod";
    let out = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_xtask"))
                .args(["deploy", "--example", "hello", "--endpoint-url", &url])
                .env("NO_PROXY", "127.0.0.1,localhost")
                .env("STEFUNA_ACTIVITY_ARN", polled)
                .env_remove("AWS_ACCESS_KEY_ID")
                .output()
                .expect("xtask runs")
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // The name comes from the configured ARN; stefuna-local's account differs from it.
    let created = line_value(&out, "activity hello-prod: ");
    assert_eq!(
        created,
        "arn:aws:states:us-east-1:123456789012:activity:hello-prod"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "warning: the worker polls {polled} for `hello`, but the activity is {created}; run it with --activity-arn {created}"
        )),
        "{}",
        text(&out)
    );
    emu.shutdown().await;
}
