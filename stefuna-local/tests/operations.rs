//! ValidateStateMachineDefinition, TagResource / UntagResource / ListTagsForResource and
//! StartSyncExecution through the real SDK, with AWS's answer and error shapes.

use aws_sdk_sfn::types::{
    StateMachineType, SyncExecutionStatus, Tag, ValidateStateMachineDefinitionResultCode,
    ValidateStateMachineDefinitionSeverity,
};
use serde_json::json;
use stefuna_local_testkit::*;

#[tokio::test]
async fn validate_answers_ok_or_fail_with_a_located_diagnostic() {
    let emu = emulator().await;
    let c = client(&emu);
    let ok = c
        .validate_state_machine_definition()
        .definition(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.result, ValidateStateMachineDefinitionResultCode::Ok);
    assert!(ok.diagnostics.is_empty());
    assert_eq!(ok.truncated, Some(false));

    let fail = c
        .validate_state_machine_definition()
        .definition(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}"#)
        .r#type(StateMachineType::Standard)
        .send()
        .await
        .unwrap();
    assert_eq!(fail.result, ValidateStateMachineDefinitionResultCode::Fail);
    let d = &fail.diagnostics[0];
    assert_eq!(d.severity, ValidateStateMachineDefinitionSeverity::Error);
    assert_eq!(d.code, "MISSING_TRANSITION_TARGET");
    assert_eq!(d.location.as_deref(), Some("/States/A/Next"));
    assert!(!d.message.is_empty());

    let not_json = c
        .validate_state_machine_definition()
        .definition("{")
        .send()
        .await
        .unwrap();
    assert_eq!(
        not_json.result,
        ValidateStateMachineDefinitionResultCode::Fail
    );
}

#[tokio::test]
async fn tags_are_added_replaced_listed_and_removed() {
    let emu = emulator().await;
    let c = client(&emu);
    let (activity, machine) = activity_machine(&c, "tagged", None, None).await;
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
    c.tag_resource()
        .resource_arn(&machine)
        .tags(tag("team", "a"))
        .tags(tag("env", "dev"))
        .send()
        .await
        .unwrap();
    c.tag_resource()
        .resource_arn(&machine)
        .tags(tag("team", "b"))
        .send()
        .await
        .unwrap();
    let listed = c
        .list_tags_for_resource()
        .resource_arn(&machine)
        .send()
        .await
        .unwrap();
    let mut pairs: Vec<(String, String)> = listed
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [("env".into(), "dev".into()), ("team".into(), "b".into())]
    );
    c.untag_resource()
        .resource_arn(&machine)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let listed = c
        .list_tags_for_resource()
        .resource_arn(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.tags().len(), 1);
    // Activities carry their own tags.
    let listed = c
        .list_tags_for_resource()
        .resource_arn(&activity)
        .send()
        .await
        .unwrap();
    assert!(listed.tags().is_empty());
}

#[tokio::test]
async fn tagging_refuses_missing_resources_bad_arns_and_too_many_tags() {
    let emu = emulator().await;
    let c = client(&emu);
    let missing = "arn:aws:states:us-east-1:123456789012:stateMachine:nope";
    let err = c
        .list_tags_for_resource()
        .resource_arn(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFound");
    let err = c
        .tag_resource()
        .resource_arn("not-an-arn")
        .tags(Tag::builder().key("k").value("v").build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArn");
    let (_, machine) = activity_machine(&c, "many", None, None).await;
    let mut req = c.tag_resource().resource_arn(&machine);
    for i in 0..51 {
        req = req.tags(Tag::builder().key(format!("k{i}")).value("v").build());
    }
    assert_eq!(code(&req.send().await.unwrap_err()), "TooManyTags");
}

/// The SDK sends StartSyncExecution to `sync-<host>` (AWS's `sync-states` endpoint), which
/// does not resolve for 127.0.0.1: this interceptor sends it to the endpoint as given, as a
/// user of a local endpoint must too.
#[derive(Debug)]
struct NoSyncPrefix;

impl aws_sdk_sfn::config::Intercept for NoSyncPrefix {
    fn name(&self) -> &'static str {
        "NoSyncPrefix"
    }

    fn modify_before_signing(
        &self,
        ctx: &mut aws_sdk_sfn::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _: &aws_sdk_sfn::config::RuntimeComponents,
        _: &mut aws_sdk_sfn::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let uri = ctx.request().uri().replacen("://sync-", "://", 1);
        ctx.request_mut().set_uri(uri)?;
        Ok(())
    }
}

fn sync_client(emu: &stefuna_local::Emulator) -> aws_sdk_sfn::Client {
    let conf = client(emu)
        .config()
        .to_builder()
        .interceptor(NoSyncPrefix)
        .build();
    aws_sdk_sfn::Client::from_conf(conf)
}

async fn express(c: &aws_sdk_sfn::Client, name: &str, definition: serde_json::Value) -> String {
    c.create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn(ROLE)
        .r#type(StateMachineType::Express)
        .send()
        .await
        .unwrap()
        .state_machine_arn
}

#[tokio::test]
async fn start_sync_execution_runs_an_express_machine_inside_the_call() {
    let emu = emulator().await;
    let c = sync_client(&emu);
    let ok = express(
        &c,
        "sync-ok",
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"done": true}, "ResultPath": "$.r", "End": true}}}),
    )
    .await;
    let out = c
        .start_sync_execution()
        .state_machine_arn(&ok)
        .name("first")
        .input(r#"{"n": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status, SyncExecutionStatus::Succeeded);
    assert_eq!(out.state_machine_arn.as_deref(), Some(ok.as_str()));
    assert!(
        out.execution_arn
            .starts_with("arn:aws:states:us-east-1:123456789012:express:sync-ok:first:"),
        "{}",
        out.execution_arn
    );
    let output: serde_json::Value = serde_json::from_str(out.output().unwrap()).unwrap();
    assert_eq!(output, json!({"n": 1, "r": {"done": true}}));
    assert!(out.stop_date >= out.start_date);
    assert!(out.billing_details().is_some());

    let failing = express(
        &c,
        "sync-fail",
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope", "Cause": "because"}}}),
    )
    .await;
    let out = c
        .start_sync_execution()
        .state_machine_arn(&failing)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status, SyncExecutionStatus::Failed);
    assert_eq!(out.error(), Some("Nope"));
    assert_eq!(out.cause(), Some("because"));
    assert_eq!(out.output(), None);
}

#[tokio::test]
async fn start_sync_execution_refuses_a_standard_machine() {
    let emu = emulator().await;
    let c = sync_client(&emu);
    let (_, machine) = activity_machine(&c, "standard", None, None).await;
    let err = c
        .start_sync_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "StateMachineTypeNotSupported");
}

#[tokio::test]
async fn an_unknown_operation_lists_the_supported_ones() {
    let emu = emulator().await;
    let (status, _, body) =
        raw_post(emu.addr(), Some("AWSStepFunctions.RedriveExecution"), b"{}").await;
    assert_eq!(status, 400);
    assert!(
        body.contains("UnknownOperationException")
            && body.contains("StartSyncExecution")
            && body.contains("ListTagsForResource"),
        "{body}"
    );
}
