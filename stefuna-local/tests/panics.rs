//! Panic safety: a panic while handling a request is a 500 and the server lives on; a panic
//! in an execution's interpreter fails that execution. Both are provoked through the
//! `EmulatorBuilder::panic_on` test hook.

use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::types::ExecutionStatus;
use stefuna_local_testkit::*;

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_lives_on() {
    let emu = builder()
        .panic_on("DescribeActivity")
        .start()
        .await
        .unwrap();
    let c = client(&emu);
    let activity = c
        .create_activity()
        .name("before")
        .send()
        .await
        .unwrap()
        .activity_arn;
    let describe = format!(r#"{{"activityArn":"{activity}"}}"#);

    // Twice: the second panic comes after the first one poisoned the lock it held.
    for _ in 0..2 {
        let (status, head, body) = raw_post(
            emu.addr(),
            Some("AWSStepFunctions.DescribeActivity"),
            describe.as_bytes(),
        )
        .await;
        assert_eq!(status, 500, "{head}\n{body}");
        assert!(head.contains("x-amzn-errortype: internalfailure"), "{head}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["__type"], "InternalFailure");
        let message = v["message"].as_str().unwrap();
        assert!(message.contains("DescribeActivity"), "{message}");
        assert!(message.contains("injected panic"), "{message}");
    }

    // The SDK sees a service error (500 InternalFailure), not a broken connection.
    let c1 = client_with(&emu, "us-east-1", RetryConfig::disabled());
    let err = c1
        .describe_activity()
        .activity_arn(&activity)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InternalFailure");

    // Everything else, including the table the panic held locked, still works.
    c.create_activity().name("after").send().await.unwrap();
    let names: Vec<String> = c
        .list_activities()
        .send()
        .await
        .unwrap()
        .activities
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["before", "after"]);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_panicking_interpreter_fails_the_execution() {
    let emu = builder().panic_on("Execution").start().await.unwrap();
    let c = client(&emu);
    let (_, machine) = activity_machine(&c, "doomed", None, None).await;
    let exec = c
        .start_execution()
        .state_machine_arn(&machine)
        .input("{}")
        .send()
        .await
        .unwrap()
        .execution_arn;
    // A guard against a hang (an execution left RUNNING), not a timing assertion.
    let done = tokio::time::timeout(std::time::Duration::from_secs(60), wait_done(&c, &exec))
        .await
        .expect("the execution ended");
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    let cause = done.cause.unwrap_or_default();
    assert!(cause.contains("injected panic"), "{cause}");
    // And the service carries on.
    c.list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap();
    emu.shutdown().await;
}
