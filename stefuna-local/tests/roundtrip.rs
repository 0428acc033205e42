//! The basic activity round trip through the real SDK.

use aws_sdk_sfn::types::ExecutionStatus;
use stefuna_local_testkit::*;

#[tokio::test]
async fn activity_round_trip_succeeds_execution() {
    let emu = emulator().await;
    let c = client(&emu);
    let (activity, machine) = activity_machine(&c, "hello", None, None).await;
    let start = c
        .start_execution()
        .state_machine_arn(&machine)
        .input(r#"{"name":"world"}"#)
        .send()
        .await
        .unwrap();
    let (token, input) = poll_task(&c, &activity).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&input).unwrap(),
        serde_json::json!({"name": "world"})
    );
    c.send_task_success()
        .task_token(&token)
        .output(r#"{"message":"Hello world"}"#)
        .send()
        .await
        .unwrap();
    let done = wait_done(&c, &start.execution_arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(done.output.as_deref().unwrap()).unwrap(),
        serde_json::json!({"message": "Hello world"})
    );
    assert!(done.stop_date.is_some());
    emu.shutdown().await;
}
