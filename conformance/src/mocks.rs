//! Mocked service integration scenarios: Task states that call Lambda and SQS answer from
//! [`MOCK_CONFIG`] (AWS's MockConfigFile format), chosen per execution with
//! `stateMachineArn#TestCase`. The endpoint must have been started with that file
//! (stefuna-local: `EmulatorBuilder::mock_config`; LocalStack: `SFN_MOCK_CONFIG`). The state
//! machines have fixed names, the ones the file's `StateMachines` name.

use std::time::Duration;

use anyhow::{Context as _, anyhow, ensure};
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};

use super::{Difference, Endpoint, FnActivity, Worker, finished, start};

/// The mock configuration file the mock scenarios need the endpoint to read.
pub const MOCK_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/mocks/MockConfigFile.json");

/// Creates (or finds, with the same definition) the state machine `name`.
async fn machine(ep: &Endpoint, name: &str, definition: &Value) -> anyhow::Result<String> {
    Ok(ep
        .client()
        .create_state_machine()
        .name(name)
        .role_arn(ep.role())
        .definition(definition.to_string())
        .send()
        .await
        .with_context(|| format!("CreateStateMachine {name}"))?
        .state_machine_arn()
        .to_owned())
}

fn lambda_with_retry() -> Value {
    json!({
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": { "FunctionName": "greeter", "Payload.$": "$" },
                "ResultSelector": { "body.$": "$.Payload.body" },
                "ResultPath": "$.lambda",
                "Retry": [{
                    "ErrorEquals": ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException"],
                    "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1.0
                }],
                "Catch": [{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught" }],
                "End": true
            },
            "Caught": { "Type": "Pass", "End": true }
        }
    })
}

/// `"0"`, `"1-2"`, `"3"`: three mocked throws are retried, the fourth attempt's Return goes
/// through ResultSelector and ResultPath; a Throw on every attempt ends in Catch.
pub async fn mocked_lambda_retry_and_catch(ep: Endpoint) -> anyhow::Result<()> {
    let sm = machine(&ep, "StefunaMockRetry", &lambda_with_retry()).await?;
    let exec = start(&ep, &format!("{sm}#RetryPath"), json!({"n": 1})).await?;
    let ended = finished(&ep, &exec).await?;
    ensure!(
        ended.status == ExecutionStatus::Succeeded,
        "RetryPath: expected SUCCEEDED, got {ended:?}"
    );
    ensure!(
        ended.output == Some(json!({"n": 1, "lambda": {"body": "Hello from Lambda!"}})),
        "RetryPath: unexpected output {ended:?}"
    );
    let failures: Vec<String> = ep
        .client()
        .get_execution_history()
        .execution_arn(&exec)
        .send()
        .await
        .context("GetExecutionHistory")?
        .events()
        .iter()
        .filter_map(|e| e.task_failed_event_details())
        .map(|d| d.error().unwrap_or_default().to_owned())
        .collect();
    ensure!(
        failures
            == [
                "Lambda.ResourceNotReadyException",
                "Lambda.TimeoutException",
                "Lambda.TimeoutException"
            ],
        "RetryPath: expected three TaskFailed events, got {failures:?}"
    );

    let exec = start(&ep, &format!("{sm}#CatchPath"), json!({"n": 2})).await?;
    let ended = finished(&ep, &exec).await?;
    ensure!(
        ended.status == ExecutionStatus::Succeeded
            && ended.output
                == Some(
                    json!({"n": 2, "error": {"Error": "Lambda.ServiceException", "Cause": "boom"}})
                ),
        "CatchPath: expected the error caught into $.error, got {ended:?}"
    );
    Ok(())
}

/// A real machine's shape: an activity answered by a stefuna worker, then a mocked Lambda.
pub async fn mocked_lambda_after_activity(ep: Endpoint) -> anyhow::Result<()> {
    let activity = ep
        .client()
        .create_activity()
        .name("StefunaMockActivity")
        .send()
        .await
        .context("CreateActivity")?
        .activity_arn()
        .to_owned();
    let definition = json!({
        "StartAt": "Greet",
        "States": {
            "Greet": { "Type": "Task", "Resource": activity, "ResultPath": "$.greeting", "Next": "Notify" },
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": { "FunctionName": "notifier", "Payload.$": "$.greeting" },
                "ResultSelector": { "sent.$": "$.Payload.sent" },
                "ResultPath": "$.notified",
                "End": true
            }
        }
    });
    let sm = machine(&ep, "StefunaMockMixed", &definition).await?;
    let worker = Worker::start(
        &ep,
        &activity,
        FnActivity::new(|input: Value, _| async move {
            Ok(json!({ "text": format!("Hello {}", input["name"].as_str().unwrap_or("?")) }))
        }),
        1,
        0,
    );
    let exec = start(&ep, &format!("{sm}#HappyPath"), json!({"name": "World"})).await;
    let ended = match exec {
        Ok(exec) => finished(&ep, &exec).await,
        Err(e) => Err(e),
    };
    worker.stop().await?;
    let ended = ended?;
    ensure!(
        ended.output
            == Some(json!({
                "name": "World",
                "greeting": {"text": "Hello World"},
                "notified": {"sent": true}
            })),
        "expected the worker's greeting and the mocked Lambda's answer, got {ended:?}"
    );
    Ok(())
}

/// A mocked `.waitForTaskToken` SQS Task: its Return is the send's answer, and the Task waits
/// for SendTaskSuccess with the `$$.Task.Token` it put in the message, as on AWS. LocalStack
/// takes the Return as the result at once ([`Difference::MockedCallbackDoesNotWait`]).
pub async fn mocked_wait_for_task_token(ep: Endpoint) -> anyhow::Result<()> {
    let definition = json!({
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": format!("https://sqs.{}.amazonaws.com/{}/questions", ep.region, ep.account_id),
                    "MessageBody": { "token.$": "$$.Task.Token", "question.$": "$.q" }
                },
                "ResultPath": "$.answer",
                "End": true
            }
        }
    });
    let sm = machine(&ep, "StefunaMockCallback", &definition).await?;
    let exec = start(&ep, &format!("{sm}#Submitted"), json!({"q": "ok?"})).await?;
    if ep.differs(Difference::MockedCallbackDoesNotWait) {
        let ended = finished(&ep, &exec).await?;
        ensure!(
            ended.output
                == Some(
                    json!({"q": "ok?", "answer": {"MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"}})
                ),
            "expected the mocked Return as the result, got {ended:?}"
        );
        return Ok(());
    }
    let token = submitted_token(&ep, &exec).await?;
    ep.client()
        .send_task_success()
        .task_token(&token)
        .output(r#"{"yes": true}"#)
        .send()
        .await
        .context("SendTaskSuccess with the Task's token")?;
    let ended = finished(&ep, &exec).await?;
    ensure!(
        ended.output == Some(json!({"q": "ok?", "answer": {"yes": true}})),
        "expected SendTaskSuccess's output as the result, got {ended:?}"
    );
    Ok(())
}

/// Waits until the callback Task is submitted; gives the token it put in its message.
async fn submitted_token(ep: &Endpoint, exec: &str) -> anyhow::Result<String> {
    let sfn = ep.client();
    tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            let h = sfn
                .get_execution_history()
                .execution_arn(exec)
                .send()
                .await
                .context("GetExecutionHistory")?;
            let events = h.events();
            if events
                .iter()
                .any(|e| e.task_submitted_event_details().is_some())
            {
                let params = events
                    .iter()
                    .find_map(|e| e.task_scheduled_event_details())
                    .ok_or_else(|| anyhow!("TaskSubmitted without TaskScheduled"))?
                    .parameters();
                let params: Value = serde_json::from_str(params)?;
                return params["MessageBody"]["token"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("no token in the Task's parameters: {params}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .map_err(|_| anyhow!("execution {exec}: no TaskSubmitted within 90 s"))?
}
