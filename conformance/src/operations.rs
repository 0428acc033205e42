//! Scenarios for the operations users' tools call besides running workers:
//! ValidateStateMachineDefinition, TagResource / UntagResource / ListTagsForResource, and
//! StartSyncExecution on an EXPRESS state machine. No worker runs here; each scenario checks the
//! answers of the real aws-sdk-sfn client with what AWS's API reference documents (cited at each
//! scenario).

use anyhow::{Context as _, anyhow, ensure};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{
    StateMachineType, SyncExecutionStatus, Tag, ValidateStateMachineDefinitionResultCode,
    ValidateStateMachineDefinitionSeverity,
};
use serde_json::{Value, json};

use super::{Difference, Endpoint, unique};

/// The service error code of a failed call, or a description of a call that did not fail as a
/// service error.
fn error_code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    result: Result<T, aws_sdk_sfn::error::SdkError<E, R>>,
) -> String {
    match result {
        Ok(out) => format!("no error (answered {out:?})"),
        Err(e) => match e.as_service_error().and_then(|s| s.code()) {
            Some(code) => code.to_owned(),
            None => format!("not a service error: {e:?}"),
        },
    }
}

/// ValidateStateMachineDefinition answers `OK` without diagnostics for a valid definition, and
/// `FAIL` with an ERROR diagnostic (code, message, location) for an invalid one, never an
/// exception.
///
/// AWS: <https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinition.html>
/// (`result` OK/FAIL, `diagnostics`, `truncated`) and
/// <https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinitionDiagnostic.html>
/// (`MISSING_TRANSITION_TARGET`: the value of `Next` matches no state; `location` in the form
/// `/States/<StateName>/<FieldName>`). LocalStack checks the grammar only
/// ([`Difference::ValidationIsGrammarOnly`]).
pub async fn validate_definition(ep: Endpoint) -> anyhow::Result<()> {
    let sfn = ep.client();
    let validate = |definition: Value| {
        let sfn = sfn.clone();
        async move {
            sfn.validate_state_machine_definition()
                .definition(definition.to_string())
                .r#type(StateMachineType::Standard)
                .send()
                .await
                .with_context(|| format!("ValidateStateMachineDefinition {definition}"))
        }
    };

    let ok =
        validate(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}})).await?;
    ensure!(
        ok.result == ValidateStateMachineDefinitionResultCode::Ok
            && ok.diagnostics.is_empty()
            && ok.truncated == Some(false),
        "a valid definition: expected OK, no diagnostics, truncated false; got {ok:?}"
    );

    // An unknown state type: a grammar error every validator finds.
    let bad_type =
        validate(json!({"StartAt": "A", "States": {"A": {"Type": "Bogus", "End": true}}})).await?;
    ensure!(
        bad_type.result == ValidateStateMachineDefinitionResultCode::Fail,
        "an unknown state type: expected FAIL, got {bad_type:?}"
    );
    let d = bad_type
        .diagnostics
        .first()
        .ok_or_else(|| anyhow!("FAIL without a diagnostic: {bad_type:?}"))?;
    ensure!(
        d.severity == ValidateStateMachineDefinitionSeverity::Error
            && !d.code.is_empty()
            && !d.message.is_empty(),
        "expected an ERROR diagnostic with a code and a message, got {d:?}"
    );
    if !ep.differs(Difference::ValidationIsGrammarOnly) {
        ensure!(
            d.location
                .as_deref()
                .is_some_and(|l| l.starts_with("/States/A")),
            "expected the diagnostic located at state A, got {d:?}"
        );
    }

    // A `Next` naming no state: well-formed, but not a state machine AWS creates.
    let bad_next =
        validate(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}))
            .await?;
    if ep.differs(Difference::ValidationIsGrammarOnly) {
        ensure!(
            bad_next.result == ValidateStateMachineDefinitionResultCode::Ok,
            "LocalStack 4.9.2 validates the grammar only and answers OK for a Next naming no \
             state (Difference::ValidationIsGrammarOnly), got {bad_next:?}"
        );
    } else {
        ensure!(
            bad_next.result == ValidateStateMachineDefinitionResultCode::Fail,
            "a Next naming no state: expected FAIL, got {bad_next:?}"
        );
        let d = bad_next
            .diagnostics
            .first()
            .ok_or_else(|| anyhow!("FAIL without a diagnostic: {bad_next:?}"))?;
        ensure!(
            d.severity == ValidateStateMachineDefinitionSeverity::Error
                && d.code == "MISSING_TRANSITION_TARGET"
                && d.location.as_deref() == Some("/States/A/Next")
                && d.message.contains("Nowhere"),
            "expected MISSING_TRANSITION_TARGET at /States/A/Next naming the missing state, got \
             {d:?}"
        );
    }

    // Not JSON at all: FAIL too, not an exception.
    let not_json = sfn
        .validate_state_machine_definition()
        .definition("{")
        .send()
        .await
        .context("ValidateStateMachineDefinition of `{`")?;
    ensure!(
        not_json.result == ValidateStateMachineDefinitionResultCode::Fail
            && !not_json.diagnostics.is_empty(),
        "a definition that is not JSON: expected FAIL with a diagnostic, got {not_json:?}"
    );
    Ok(())
}

/// The tags of `arn` as sorted `(key, value)` pairs.
async fn tags_of(sfn: &aws_sdk_sfn::Client, arn: &str) -> anyhow::Result<Vec<(String, String)>> {
    let listed = sfn
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .with_context(|| format!("ListTagsForResource {arn}"))?;
    let mut pairs: Vec<(String, String)> = listed
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    Ok(pairs)
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Tags round-trip on a state machine and on an activity: TagResource adds (and replaces a key's
/// value), ListTagsForResource lists them, UntagResource removes the keys it names. A resource
/// that does not exist is `ResourceNotFound`; an ARN that is not one is `InvalidArn`.
///
/// AWS: <https://docs.aws.amazon.com/step-functions/latest/apireference/API_TagResource.html>,
/// <https://docs.aws.amazon.com/step-functions/latest/apireference/API_UntagResource.html> and
/// <https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListTagsForResource.html>
/// ("the ARN for the Step Functions state machine or activity"; errors `InvalidArn`,
/// `ResourceNotFound`). LocalStack tags state machines only ([`Difference::NoActivityTags`]) and
/// answers a malformed ARN with `ResourceNotFound`
/// ([`Difference::MalformedArnIsResourceNotFound`]).
pub async fn tags_round_trip(ep: Endpoint) -> anyhow::Result<()> {
    let sfn = ep.client();
    let name = unique("tags");
    let machine = sfn
        .create_state_machine()
        .name(&name)
        .role_arn(ep.role())
        .definition(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}).to_string(),
        )
        .send()
        .await
        .context("CreateStateMachine")?
        .state_machine_arn()
        .to_owned();
    let activity = sfn
        .create_activity()
        .name(&name)
        .send()
        .await
        .context("CreateActivity")?
        .activity_arn()
        .to_owned();

    ensure!(
        tags_of(&sfn, &machine).await?.is_empty(),
        "a new state machine has tags"
    );
    sfn.tag_resource()
        .resource_arn(&machine)
        .tags(tag("team", "a"))
        .tags(tag("env", "dev"))
        .send()
        .await
        .context("TagResource")?;
    sfn.tag_resource()
        .resource_arn(&machine)
        .tags(tag("team", "b"))
        .send()
        .await
        .context("TagResource (replacing team)")?;
    let listed = tags_of(&sfn, &machine).await?;
    ensure!(
        listed == pairs(&[("env", "dev"), ("team", "b")]),
        "expected env=dev and team=b (replaced), got {listed:?}"
    );
    sfn.untag_resource()
        .resource_arn(&machine)
        .tag_keys("team")
        .send()
        .await
        .context("UntagResource")?;
    let listed = tags_of(&sfn, &machine).await?;
    ensure!(
        listed == pairs(&[("env", "dev")]),
        "UntagResource team: expected only env=dev left, got {listed:?}"
    );

    let tagged_activity = sfn
        .tag_resource()
        .resource_arn(&activity)
        .tags(tag("owner", "ops"))
        .send()
        .await;
    if ep.differs(Difference::NoActivityTags) {
        let code = error_code(tagged_activity);
        ensure!(
            code == "ResourceNotFound",
            "LocalStack 4.9.2 answers ResourceNotFound to tagging an activity \
             (Difference::NoActivityTags), got {code}"
        );
    } else {
        tagged_activity.context("TagResource on an activity")?;
        let listed = tags_of(&sfn, &activity).await?;
        ensure!(
            listed == pairs(&[("owner", "ops")]),
            "an activity's tags: expected owner=ops, got {listed:?}"
        );
    }

    let missing = format!(
        "arn:aws:states:{}:{}:stateMachine:{}",
        ep.region,
        ep.account_id,
        unique("no-such-machine")
    );
    let code = error_code(
        sfn.list_tags_for_resource()
            .resource_arn(&missing)
            .send()
            .await,
    );
    ensure!(
        code == "ResourceNotFound",
        "ListTagsForResource on a state machine that does not exist: expected \
         ResourceNotFound, got {code}"
    );
    let code = error_code(
        sfn.untag_resource()
            .resource_arn(&missing)
            .tag_keys("team")
            .send()
            .await,
    );
    ensure!(
        code == "ResourceNotFound",
        "UntagResource on a state machine that does not exist: expected ResourceNotFound, got \
         {code}"
    );
    let code = error_code(
        sfn.list_tags_for_resource()
            .resource_arn("not-an-arn")
            .send()
            .await,
    );
    let expected = if ep.differs(Difference::MalformedArnIsResourceNotFound) {
        "ResourceNotFound"
    } else {
        "InvalidArn"
    };
    ensure!(
        code == expected,
        "ListTagsForResource on `not-an-arn`: expected {expected}, got {code}"
    );
    Ok(())
}

/// The AWS SDKs send StartSyncExecution to the host `sync-<endpoint host>` (AWS's `sync-states`
/// endpoint), which does not resolve for a local endpoint such as 127.0.0.1: this interceptor
/// sends it to the endpoint as given (the aws-sdk-sfn form of boto3's
/// `inject_host_prefix=False`).
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

/// An SDK client that sends StartSyncExecution to the endpoint itself.
fn sync_client(ep: &Endpoint) -> aws_sdk_sfn::Client {
    let conf = ep
        .client()
        .config()
        .to_builder()
        .interceptor(NoSyncPrefix)
        .build();
    aws_sdk_sfn::Client::from_conf(conf)
}

async fn create_machine(
    ep: &Endpoint,
    sfn: &aws_sdk_sfn::Client,
    name: &str,
    kind: StateMachineType,
    definition: Value,
) -> anyhow::Result<String> {
    Ok(sfn
        .create_state_machine()
        .name(name)
        .role_arn(ep.role())
        .r#type(kind)
        .definition(definition.to_string())
        .send()
        .await
        .with_context(|| format!("CreateStateMachine {name}"))?
        .state_machine_arn()
        .to_owned())
}

/// StartSyncExecution runs an EXPRESS state machine inside the call: a succeeding one answers
/// `SUCCEEDED` with its output and an `...:express:MACHINE:NAME:...` execution ARN, a failing one
/// answers 200 with `FAILED` and its `error` and `cause`. A STANDARD machine is refused with
/// `StateMachineTypeNotSupported`, a machine that does not exist with `StateMachineDoesNotExist`.
///
/// AWS: <https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartSyncExecution.html>
/// ("not available for STANDARD workflows"; "will return a 200 OK response, even if your
/// execution fails"; errors include `StateMachineTypeNotSupported` and
/// `StateMachineDoesNotExist`).
pub async fn start_sync_execution(ep: Endpoint) -> anyhow::Result<()> {
    let sfn = sync_client(&ep);
    let name = unique("sync");
    let ok = create_machine(
        &ep,
        &sfn,
        &format!("{name}-ok"),
        StateMachineType::Express,
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"done": true},
                                                "ResultPath": "$.r", "End": true}}}),
    )
    .await?;
    let out = sfn
        .start_sync_execution()
        .state_machine_arn(&ok)
        .name("first")
        .input(json!({"n": 1}).to_string())
        .send()
        .await
        .context("StartSyncExecution of a succeeding EXPRESS machine")?;
    ensure!(
        out.status == SyncExecutionStatus::Succeeded,
        "expected SUCCEEDED, got {out:?}"
    );
    let output: Option<Value> = out.output().map(serde_json::from_str).transpose()?;
    ensure!(
        output == Some(json!({"n": 1, "r": {"done": true}})),
        "expected the Pass state's output, got {out:?}"
    );
    ensure!(
        out.state_machine_arn() == Some(ok.as_str()) && out.name() == Some("first"),
        "expected the machine's ARN and the execution's name, got {out:?}"
    );
    let prefix = format!(
        "arn:aws:states:{}:{}:express:{name}-ok:first:",
        ep.region, ep.account_id
    );
    ensure!(
        out.execution_arn.starts_with(&prefix),
        "expected an execution ARN starting {prefix}, got {}",
        out.execution_arn
    );
    ensure!(
        out.stop_date >= out.start_date,
        "stop before start: {out:?}"
    );

    let failing = create_machine(
        &ep,
        &sfn,
        &format!("{name}-fail"),
        StateMachineType::Express,
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Conformance.Nope",
                                                "Cause": "asked to fail"}}}),
    )
    .await?;
    let out = sfn
        .start_sync_execution()
        .state_machine_arn(&failing)
        .send()
        .await
        .context("StartSyncExecution of a failing EXPRESS machine (AWS answers 200)")?;
    ensure!(
        out.status == SyncExecutionStatus::Failed
            && out.error() == Some("Conformance.Nope")
            && out.cause() == Some("asked to fail")
            && out.output().is_none(),
        "expected FAILED with the Fail state's error and cause and no output, got {out:?}"
    );

    let standard = create_machine(
        &ep,
        &sfn,
        &format!("{name}-std"),
        StateMachineType::Standard,
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}),
    )
    .await?;
    let code = error_code(
        sfn.start_sync_execution()
            .state_machine_arn(&standard)
            .send()
            .await,
    );
    ensure!(
        code == "StateMachineTypeNotSupported",
        "StartSyncExecution of a STANDARD machine: expected StateMachineTypeNotSupported, got \
         {code}"
    );
    let missing = format!(
        "arn:aws:states:{}:{}:stateMachine:{name}-missing",
        ep.region, ep.account_id
    );
    let code = error_code(
        sfn.start_sync_execution()
            .state_machine_arn(&missing)
            .send()
            .await,
    );
    ensure!(
        code == "StateMachineDoesNotExist",
        "StartSyncExecution of a machine that does not exist: expected \
         StateMachineDoesNotExist, got {code}"
    );
    Ok(())
}
