//! Mocked service integrations through the real SDK: AWS's MockConfigFile format, the test
//! case chosen by `stateMachineArn#TestCase`, Return/Throw with repeat ranges through Retry,
//! Catch, ResultSelector and ResultPath, and `.waitForTaskToken` answered by SendTask*.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use serde_json::{Value, json};
use stefuna_local::{Emulator, MockConfig};
use stefuna_local_testkit::*;

/// AWS's example file (the Lambda → SQS machine), plus a callback and a Map case.
const MOCKS: &str = r#"{
  "StateMachines": {
    "LambdaSQSIntegration": {
      "TestCases": {
        "HappyPath": { "LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess" },
        "RetryPath": { "LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess" },
        "CatchPath": { "LambdaState": "MockedLambdaAlwaysFails" },
        "TooFewPath": { "LambdaState": "LambdaMockedResourceNotReady" },
        "HybridPath": { "LambdaState": "MockedLambdaSuccess" }
      }
    },
    "Callback": {
      "TestCases": { "Submitted": { "Ask": "MockedSQSSuccess" } }
    },
    "Fanout": {
      "TestCases": { "Each": { "Lookup": "MockedItem" } }
    }
  },
  "MockedResponses": {
    "MockedLambdaSuccess": {
      "0": { "Return": { "StatusCode": 200, "Payload": { "StatusCode": 200, "body": "Hello from Lambda!" } } }
    },
    "LambdaMockedResourceNotReady": {
      "0": { "Throw": { "Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready." } }
    },
    "MockedLambdaAlwaysFails": {
      "0-3": { "Throw": { "Error": "Lambda.ServiceException", "Cause": "boom" } }
    },
    "MockedSQSSuccess": {
      "0": { "Return": { "MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51", "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51" } }
    },
    "MockedLambdaRetry": {
      "0": { "Throw": { "Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready." } },
      "1-2": { "Throw": { "Error": "Lambda.TimeoutException", "Cause": "Lambda timed out." } },
      "3": { "Return": { "StatusCode": 200, "Payload": { "StatusCode": 200, "body": "Hello from Lambda!" } } }
    },
    "MockedItem": {
      "0": { "Return": { "Item": { "found": { "BOOL": true } } } }
    }
  }
}"#;

fn lambda_sqs() -> String {
    json!({
        "StartAt": "LambdaState",
        "States": {
            "LambdaState": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": { "FunctionName": "HelloWorldFunction", "Payload.$": "$" },
                "ResultSelector": { "body.$": "$.Payload.body" },
                "ResultPath": "$.lambda",
                "Retry": [{
                    "ErrorEquals": ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException"],
                    "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1.0
                }],
                "Catch": [{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed" }],
                "Next": "SQSState"
            },
            "SQSState": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": { "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody.$": "$.lambda.body" },
                "ResultPath": "$.sqs",
                "End": true
            },
            "Failed": { "Type": "Pass", "End": true }
        }
    })
    .to_string()
}

async fn setup() -> (Emulator, Client) {
    let mocks = MockConfig::from_json(MOCKS).expect("mock config parses");
    // Retry back-off on a fast clock.
    let emu = builder()
        .time_scale(1000.0)
        .mock_config(mocks)
        .start()
        .await
        .expect("emulator starts");
    let c = client(&emu);
    (emu, c)
}

async fn machine(c: &Client, name: &str, definition: String) -> String {
    c.create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(ROLE)
        .send()
        .await
        .expect("create state machine")
        .state_machine_arn
}

async fn run(c: &Client, arn: &str, input: &str) -> (String, ExecutionStatus, Value) {
    let exec = c
        .start_execution()
        .state_machine_arn(arn)
        .input(input)
        .send()
        .await
        .expect("start execution")
        .execution_arn;
    let d = wait_done(c, &exec).await;
    let out = match d.output() {
        Some(o) => serde_json::from_str(o).unwrap(),
        None => json!({ "error": d.error(), "cause": d.cause() }),
    };
    (exec, d.status, out)
}

async fn history(c: &Client, exec: &str) -> Vec<HistoryEvent> {
    c.get_execution_history()
        .execution_arn(exec)
        .send()
        .await
        .expect("history")
        .events
}

#[tokio::test]
async fn happy_path_returns_the_mock_through_result_selector_and_result_path() {
    let (_emu, c) = setup().await;
    let arn = machine(&c, "LambdaSQSIntegration", lambda_sqs()).await;
    let (exec, status, out) = run(&c, &format!("{arn}#HappyPath"), r#"{"n": 1}"#).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(
        out,
        json!({
            "n": 1,
            "lambda": { "body": "Hello from Lambda!" },
            "sqs": {
                "MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
                "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"
            }
        })
    );
    let events = history(&c, &exec).await;
    let scheduled = events
        .iter()
        .find_map(|e| e.task_scheduled_event_details())
        .expect("TaskScheduled");
    assert_eq!(scheduled.resource_type, "lambda");
    assert_eq!(scheduled.resource, "invoke");
    assert_eq!(scheduled.region, "us-east-1");
    let params: Value = serde_json::from_str(&scheduled.parameters).unwrap();
    assert_eq!(
        params,
        json!({ "FunctionName": "HelloWorldFunction", "Payload": { "n": 1 } })
    );
    let types: Vec<_> = events.iter().map(|e| e.r#type.clone()).collect();
    for t in [
        HistoryEventType::TaskScheduled,
        HistoryEventType::TaskStarted,
        HistoryEventType::TaskSucceeded,
    ] {
        assert_eq!(
            types.iter().filter(|x| **x == t).count(),
            2,
            "{t:?} in {types:?}"
        );
    }
}

#[tokio::test]
async fn repeat_ranges_answer_each_retry_in_turn() {
    let (_emu, c) = setup().await;
    let arn = machine(&c, "LambdaSQSIntegration", lambda_sqs()).await;
    let (exec, status, out) = run(&c, &format!("{arn}#RetryPath"), "{}").await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(out["lambda"], json!({ "body": "Hello from Lambda!" }));
    let failures: Vec<String> = history(&c, &exec)
        .await
        .iter()
        .filter_map(|e| e.task_failed_event_details())
        .map(|d| d.error().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        failures,
        [
            "Lambda.ResourceNotReadyException",
            "Lambda.TimeoutException",
            "Lambda.TimeoutException"
        ]
    );
}

#[tokio::test]
async fn a_throw_past_its_retries_goes_to_catch() {
    let (_emu, c) = setup().await;
    let arn = machine(&c, "LambdaSQSIntegration", lambda_sqs()).await;
    let (_, status, out) = run(&c, &format!("{arn}#CatchPath"), r#"{"n": 2}"#).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(
        out,
        json!({ "n": 2, "error": { "Error": "Lambda.ServiceException", "Cause": "boom" } })
    );
}

#[tokio::test]
async fn running_out_of_mocked_responses_names_the_attempt() {
    let (_emu, c) = setup().await;
    let arn = machine(&c, "LambdaSQSIntegration", lambda_sqs()).await;
    let (_, status, out) = run(&c, &format!("{arn}#TooFewPath"), "{}").await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(out["error"], "States.Runtime");
    let cause = out["cause"].as_str().unwrap();
    assert!(
        cause.contains("mocked responses for 1 attempt(s) of the state 'LambdaState'")
            && cause.contains("this is attempt 1"),
        "{cause}"
    );
}

#[tokio::test]
async fn an_unmocked_state_fails_naming_the_state_and_how_to_mock_it() {
    let (_emu, c) = setup().await;
    let arn = machine(&c, "LambdaSQSIntegration", lambda_sqs()).await;
    // HybridPath mocks the Lambda but not the SQS state.
    let (_, status, out) = run(&c, &format!("{arn}#HybridPath"), "{}").await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(out["error"], "States.Runtime");
    let cause = out["cause"].as_str().unwrap();
    assert!(
        cause.contains("the Task state 'SQSState' calls 'arn:aws:states:::sqs:sendMessage'")
            && cause.contains("the test case 'HybridPath' does not name the state 'SQSState'")
            && cause.contains("MockConfigFile"),
        "{cause}"
    );
    // Without a test case nothing is mocked (Retry and Catch do not see States.Runtime).
    let (_, status, out) = run(&c, &arn, "{}").await;
    assert_eq!(status, ExecutionStatus::Failed);
    let cause = out["cause"].as_str().unwrap();
    assert!(
        cause.contains("'LambdaState'") && cause.contains("without a test case"),
        "{cause}"
    );
}

#[tokio::test]
async fn without_a_mock_configuration_a_service_task_fails_naming_the_state() {
    let emu = emulator().await;
    let c = client(&emu);
    let arn = machine(&c, "NoMocks", lambda_sqs()).await;
    let (_, status, out) = run(&c, &arn, "{}").await;
    assert_eq!(status, ExecutionStatus::Failed);
    let cause = out["cause"].as_str().unwrap();
    assert!(
        cause.contains("the Task state 'LambdaState'")
            && cause.contains("started without a mock configuration")
            && cause.contains("--mock-config FILE"),
        "{cause}"
    );
    let err = c
        .start_execution()
        .state_machine_arn(format!("{arn}#HappyPath"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidName");
}

#[tokio::test]
async fn an_unknown_test_case_is_refused_at_start() {
    let (_emu, c) = setup().await;
    let arn = machine(&c, "LambdaSQSIntegration", lambda_sqs()).await;
    let err = c
        .start_execution()
        .state_machine_arn(format!("{arn}#Nope"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidName");
    let msg = err
        .as_service_error()
        .and_then(|e| e.message())
        .unwrap_or_default()
        .to_owned();
    assert!(msg.contains("no test case 'Nope'"), "{msg}");
}

fn callback() -> String {
    json!({
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                    "MessageBody": { "token.$": "$$.Task.Token", "q.$": "$.q" }
                },
                "ResultPath": "$.answer",
                "Catch": [{ "ErrorEquals": ["Rejected"], "ResultPath": "$.rejected", "Next": "Done" }],
                "Next": "Done"
            },
            "Done": { "Type": "Pass", "End": true }
        }
    })
    .to_string()
}

/// Waits (one GetExecutionHistory per look) until the task is submitted; gives the token the
/// Task put in its parameters.
async fn submitted_token(c: &Client, exec: &str) -> String {
    loop {
        let events = history(c, exec).await;
        if events
            .iter()
            .any(|e| e.task_submitted_event_details().is_some())
        {
            let scheduled = events
                .iter()
                .find_map(|e| e.task_scheduled_event_details())
                .expect("TaskScheduled before TaskSubmitted");
            let params: Value = serde_json::from_str(&scheduled.parameters).unwrap();
            return params["MessageBody"]["token"].as_str().unwrap().to_owned();
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_mocked_wait_for_task_token_waits_for_send_task_success() {
    let (_emu, c) = setup().await;
    let arn = machine(&c, "Callback", callback()).await;
    let exec = c
        .start_execution()
        .state_machine_arn(format!("{arn}#Submitted"))
        .input(r#"{"q": "ok?"}"#)
        .send()
        .await
        .unwrap()
        .execution_arn;
    let token = submitted_token(&c, &exec).await;
    let d = c
        .describe_execution()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap();
    assert_eq!(d.status, ExecutionStatus::Running);
    c.send_task_success()
        .task_token(&token)
        .output(r#"{"yes": true}"#)
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, &exec).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(out, json!({ "q": "ok?", "answer": { "yes": true } }));
    let events = history(&c, &exec).await;
    let submitted = events
        .iter()
        .find_map(|e| e.task_submitted_event_details())
        .unwrap();
    assert_eq!(submitted.resource, "sendMessage.waitForTaskToken");
    let sent: Value = serde_json::from_str(submitted.output().unwrap()).unwrap();
    assert_eq!(sent["MessageId"], "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51");
    assert!(
        events
            .iter()
            .any(|e| e.task_succeeded_event_details().is_some())
    );
    // The token is spent.
    let err = c
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "TaskDoesNotExist");
}

#[tokio::test]
async fn a_mocked_wait_for_task_token_fails_with_send_task_failure() {
    let (_emu, c) = setup().await;
    let arn = machine(&c, "Callback", callback()).await;
    let exec = c
        .start_execution()
        .state_machine_arn(format!("{arn}#Submitted"))
        .input(r#"{"q": "ok?"}"#)
        .send()
        .await
        .unwrap()
        .execution_arn;
    let token = submitted_token(&c, &exec).await;
    c.send_task_failure()
        .task_token(&token)
        .error("Rejected")
        .cause("no")
        .send()
        .await
        .unwrap();
    let d = wait_done(&c, &exec).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(
        out["rejected"],
        json!({ "Error": "Rejected", "Cause": "no" })
    );
    let failed = history(&c, &exec)
        .await
        .iter()
        .find_map(|e| e.task_failed_event_details().cloned())
        .unwrap();
    assert_eq!(failed.resource_type, "sqs");
    assert_eq!(failed.error(), Some("Rejected"));
}

#[tokio::test]
async fn a_mocked_task_inside_a_map_answers_every_iteration() {
    let (_emu, c) = setup().await;
    let def = json!({
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Lookup",
                    "States": {
                        "Lookup": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
                            "Parameters": { "TableName": "t", "Key": { "id": { "S.$": "$" } } },
                            "OutputPath": "$.Item.found.BOOL",
                            "End": true
                        }
                    }
                },
                "End": true
            }
        }
    })
    .to_string();
    let arn = machine(&c, "Fanout", def).await;
    let (exec, status, out) = run(&c, &format!("{arn}#Each"), r#"["a", "b", "c"]"#).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(out, json!([true, true, true]));
    let scheduled = history(&c, &exec)
        .await
        .iter()
        .filter_map(|e| e.task_scheduled_event_details().cloned())
        .collect::<Vec<_>>();
    assert_eq!(scheduled.len(), 3);
    assert_eq!(scheduled[0].resource_type, "aws-sdk:dynamodb");
    assert_eq!(scheduled[0].resource, "getItem");
}
