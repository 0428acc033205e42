//! `start` and a session end to end against the real emulator; the tests play the worker with
//! raw SDK calls.

use aws_sdk_sfn::types::ExecutionStatus;
use stefuna_core::ActivityDefaults;

use super::*;

const HELLO_ARN: &str = "arn:aws:states:eu-west-1:123456789012:activity:hello";

fn local_cli(args: &[&str]) -> Cli {
    use clap::Parser;
    Cli::try_parse_from(
        ["worker", "--local"]
            .into_iter()
            .chain(args.iter().copied()),
    )
    .unwrap()
}

/// Answers `tasks` tasks of `arn`: output `{"message": "<greeting> <name>"}`, or a
/// `Task.Failure` when the input's name is "fail".
async fn fake_worker(client: aws_sdk_sfn::Client, arn: String, greeting: &str, tasks: usize) {
    let mut done = 0;
    while done < tasks {
        let task = client
            .get_activity_task()
            .activity_arn(&arn)
            .worker_name("test")
            .send()
            .await
            .unwrap();
        let Some(token) = task.task_token().filter(|t| !t.is_empty()) else {
            continue;
        };
        let input: serde_json::Value = serde_json::from_str(task.input().unwrap()).unwrap();
        let name = input["name"].as_str().unwrap_or("?");
        if name == "fail" {
            client
                .send_task_failure()
                .task_token(token)
                .error("Task.Failure")
                .cause("boom")
                .send()
                .await
                .unwrap();
        } else {
            let output = serde_json::json!({"name": format!("{greeting} {name}")});
            client
                .send_task_success()
                .task_token(token)
                .output(output.to_string())
                .send()
                .await
                .unwrap();
        }
        done += 1;
    }
}

#[tokio::test]
async fn inputs_run_and_report_success_and_failure() {
    let cli = local_cli(&[
        "--input",
        r#"{"name":"World"}"#,
        "--input",
        r#"{"name":"fail"}"#,
    ]);
    let mut config = Config {
        activity_arn: Some(HELLO_ARN.into()),
        ..Config::default()
    };
    let acts = vec![("Hello".to_owned(), ActivityDefaults::default())];
    let session = start(&cli, &mut config, &acts).await.unwrap();
    assert!(session.has_inputs());
    assert!(session.endpoint().starts_with("http://127.0.0.1:"));
    assert_eq!(config.endpoint_url.as_deref(), Some(session.endpoint()));
    assert_eq!(config.region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        config.healthcheck, 0,
        "a one-shot run serves no health port"
    );
    let settings = config.activity_settings("Hello", &acts[0].1, true).unwrap();
    assert_eq!(
        settings.arn, HELLO_ARN,
        "the emulator keeps the user's name and region"
    );

    let worker = tokio::spawn(fake_worker(
        client(session.endpoint(), session.region()),
        settings.arn,
        "Hello",
        2,
    ));
    let outcomes = session.run_all().await.unwrap();
    worker.await.unwrap();
    let lines: Vec<&str> = outcomes.iter().map(|o| o.line.as_str()).collect();
    assert_eq!(
        lines,
        [
            r#"execution input-1 SUCCEEDED: {"name":"Hello World"}"#,
            "execution input-2 FAILED: Task.Failure: boom",
        ]
    );
    assert!(outcomes[0].succeeded && !outcomes[1].succeeded);
}

#[tokio::test]
async fn state_machine_file_and_input_file_chain_two_activities() {
    let dir = std::env::temp_dir().join(format!("stefuna-local-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let machine = dir.join("machine.json");
    std::fs::write(
        &machine,
        r#"{"StartAt": "Greet", "States": {
            "Greet": {"Type": "Task", "Resource": "${activity:Hello}", "Next": "Shout"},
            "Shout": {"Type": "Task", "Resource": "${activity:shout}", "End": true}}}"#,
    )
    .unwrap();
    let inputs = dir.join("inputs.jsonl");
    std::fs::write(&inputs, "{\"name\":\"a\"}\n\n{\"name\":\"b\"}\n").unwrap();
    let cli = local_cli(&[
        "--state-machine",
        machine.to_str().unwrap(),
        "--input-file",
        inputs.to_str().unwrap(),
    ]);
    // No ARNs at all: the activities are named after themselves, in us-east-1.
    let acts = vec![
        ("Hello".to_owned(), ActivityDefaults::default()),
        ("Shout".to_owned(), ActivityDefaults::default()),
    ];
    let mut config = Config::default();
    let session = start(&cli, &mut config, &acts).await;
    std::fs::remove_dir_all(&dir).unwrap();
    let session = session.unwrap();
    assert_eq!(session.region(), "us-east-1");
    let hello = config
        .activity_settings("Hello", &acts[0].1, false)
        .unwrap();
    let shout = config
        .activity_settings("Shout", &acts[1].1, false)
        .unwrap();
    assert_eq!(
        hello.arn,
        "arn:aws:states:us-east-1:123456789012:activity:Hello"
    );

    let c = client(session.endpoint(), session.region());
    let workers = [
        tokio::spawn(fake_worker(c.clone(), hello.arn, "hi", 2)),
        tokio::spawn(fake_worker(c, shout.arn, "HEY", 2)),
    ];
    let mut lines: Vec<String> = session
        .run_all()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.line)
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    lines.sort();
    assert_eq!(
        lines,
        [
            r#"execution line-1 SUCCEEDED: {"name":"HEY hi a"}"#,
            r#"execution line-3 SUCCEEDED: {"name":"HEY hi b"}"#,
        ]
    );
}

#[tokio::test]
async fn without_inputs_the_machine_is_ready_for_executions() {
    let mut config = Config::default();
    let acts = vec![(
        "Hello".to_owned(),
        ActivityDefaults::new(Some(HELLO_ARN.into()), None, None),
    )];
    let session = start(&local_cli(&[]), &mut config, &acts).await.unwrap();
    assert!(!session.has_inputs());
    assert_eq!(
        config.healthcheck, 8080,
        "a serving local worker keeps its health port"
    );
    let c = client(session.endpoint(), session.region());
    let started = c
        .start_execution()
        .state_machine_arn(session.state_machine_arn())
        .input("{}")
        .send()
        .await
        .unwrap();
    let described = c
        .describe_execution()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(*described.status(), ExecutionStatus::Running);
    let task = c
        .get_activity_task()
        .activity_arn(
            config
                .activity_settings("Hello", &acts[0].1, true)
                .unwrap()
                .arn,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(task.input(), Some("{}"));
}

#[tokio::test]
async fn bad_files_are_refused_with_their_names() {
    let acts = vec![("Hello".to_owned(), ActivityDefaults::default())];
    let missing = local_cli(&["--input-file", "/nonexistent/inputs.jsonl"]);
    let err = start(&missing, &mut Config::default(), &acts)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read --input-file /nonexistent/inputs.jsonl"),
        "{err}"
    );

    let dir = std::env::temp_dir().join(format!("stefuna-local-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let machine = dir.join("m.json");
    std::fs::write(&machine, r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${activity:Nope}","End":true}}}"#).unwrap();
    let cli = local_cli(&["--state-machine", machine.to_str().unwrap()]);
    let err = start(&cli, &mut Config::default(), &acts)
        .await
        .unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(err.to_string().contains("`${activity:Nope}`"), "{err}");
    assert!(err.to_string().contains("`Hello`"), "{err}");
}

#[tokio::test]
async fn an_invalid_state_machine_is_reported_with_the_service_error() {
    let dir = std::env::temp_dir().join(format!("stefuna-local-asl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let machine = dir.join("m.json");
    std::fs::write(&machine, r#"{"StartAt":"Missing","States":{}}"#).unwrap();
    let cli = local_cli(&["--state-machine", machine.to_str().unwrap()]);
    let acts = vec![("Hello".to_owned(), ActivityDefaults::default())];
    let err = start(&cli, &mut Config::default(), &acts)
        .await
        .unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    let err = err.to_string();
    eprintln!("{err}");
    assert!(
        err.starts_with(
            "local Step Functions emulator: could not create the state machine: \
             InvalidDefinition: "
        ),
        "{err}"
    );
}

#[tokio::test]
async fn mock_config_answers_service_tasks_of_the_input_executions() {
    let dir = std::env::temp_dir().join(format!("stefuna-local-mock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let machine = dir.join("machine.json");
    std::fs::write(
        &machine,
        r#"{"StartAt": "Greet", "States": {
            "Greet": {"Type": "Task", "Resource": "${activity:hello}", "Next": "Notify"},
            "Notify": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                       "ResultSelector": {"sent.$": "$.Payload.sent"}, "End": true}}}"#,
    )
    .unwrap();
    let mocks = dir.join("mocks.json");
    std::fs::write(
        &mocks,
        r#"{"StateMachines": {"stefuna-local": {"TestCases": {"Sent": {"Notify": "Ok"}}}},
            "MockedResponses": {"Ok": {"0": {"Return": {"Payload": {"sent": true}}}}}}"#,
    )
    .unwrap();
    let cli = local_cli(&[
        "--state-machine",
        machine.to_str().unwrap(),
        "--mock-config",
        mocks.to_str().unwrap(),
        "--mock-test-case",
        "Sent",
        "--input",
        r#"{"name": "World"}"#,
    ]);
    let acts = vec![("hello".to_owned(), ActivityDefaults::default())];
    let mut config = Config::default();
    let session = start(&cli, &mut config, &acts).await;
    std::fs::remove_dir_all(&dir).unwrap();
    let session = session.unwrap();
    let arn = config
        .activity_settings("hello", &acts[0].1, true)
        .unwrap()
        .arn;
    let c = client(session.endpoint(), session.region());
    let worker = tokio::spawn(fake_worker(c, arn, "Hello", 1));
    let outcomes = session.run_all().await.unwrap();
    worker.await.unwrap();
    assert_eq!(
        outcomes[0].line,
        r#"execution input-1 SUCCEEDED: {"sent":true}"#
    );
}

#[tokio::test]
async fn an_invalid_mock_config_is_refused_before_anything_starts() {
    let cli = local_cli(&["--mock-config", "/nonexistent/mocks.json"]);
    let acts = vec![("hello".to_owned(), ActivityDefaults::default())];
    let err = start(&cli, &mut Config::default(), &acts)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("--mock-config: ") && text.contains("/nonexistent/mocks.json"),
        "{text}"
    );
}
