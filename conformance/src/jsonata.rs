//! Scenarios for JSONata states and workflow variables, with a real worker answering the
//! activity tasks.
//!
//! LocalStack evaluates JSONata on a Java 21 runtime and JSONata JARs it downloads from Maven
//! Central on first use; neither can be installed here (Debian bookworm has no openjdk-21 and
//! Maven Central is not reachable). It also reads variables with that engine, in JSONPath states
//! too (a run failed with `PackageException: Installation of java 21 failed` on `$prefix` in a
//! `States.Format`). So every scenario here is skipped on an endpoint with
//! [`Difference::NoJsonata`], and says so.

use anyhow::ensure;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::json;

use super::{Difference, Endpoint, FnActivity, Worker, finished, setup, start};

/// Prints why a scenario does not run on `ep`; true when it should be skipped.
fn skip_without_jsonata(ep: &Endpoint, scenario: &str) -> bool {
    let skip = ep.differs(Difference::NoJsonata);
    if skip {
        eprintln!(
            "scenario {scenario}: SKIPPED on this endpoint: its JSONata (also used for variables) needs Java 21 and JARs it cannot install here"
        );
    }
    skip
}

/// A JSONata machine end to end: a Pass assigns a variable, the Task's `Arguments` reach the
/// worker, `Output` and `Assign` read `$states.result`, a Choice `Condition` routes on a
/// variable, a Map iterates `Items` with `ItemSelector`, and a Catcher shapes
/// `$states.errorOutput`.
pub async fn jsonata_end_to_end(ep: Endpoint) -> anyhow::Result<()> {
    if skip_without_jsonata(&ep, "jsonata_end_to_end") {
        return Ok(());
    }
    let definition = json!({"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"factor": "{% $states.input.factor %}"}, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": "${activity}", "TimeoutSeconds": 60,
                 "Arguments": {"name": "{% $uppercase($states.input.name) %}", "n": "{% $factor %}"},
                 "Assign": {"greeting": "{% $states.result.message %}"},
                 "Output": {"items": "{% $range(1, $states.result.n) %}"},
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught",
                            "Output": {"error": "{% $states.errorOutput.Error %}"}}],
                 "Next": "Route"},
        "Route": {"Type": "Choice", "Default": "Small", "Choices": [
            {"Condition": "{% $count($states.input.items) > 2 %}", "Next": "Each"}]},
        "Each": {"Type": "Map", "Items": "{% $states.input.items %}", "Next": "Done",
                 "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}"},
                 "ItemProcessor": {"StartAt": "Times", "States": {"Times": {"Type": "Pass",
                     "Output": "{% $states.input.v * $factor %}", "End": true}}},
                 "Output": {"greeting": "{% $greeting %}", "sum": "{% $sum($states.result) %}"}},
        "Small": {"Type": "Pass", "Output": {"small": true}, "End": true},
        "Caught": {"Type": "Pass", "End": true},
        "Done": {"Type": "Succeed"}
    }});
    let (arn, sm) = setup(&ep, "jsonata", definition).await?;
    let worker = Worker::start(
        &ep,
        &arn,
        FnActivity::new(|v, _| async move {
            match v["name"].as_str() {
                Some("FAIL") => Err(stefuna_core::TaskError::new("Custom.Error", "asked to")),
                name => {
                    Ok(json!({"message": format!("Hello {}", name.unwrap_or("")), "n": v["n"]}))
                }
            }
        }),
        2,
        0,
    );
    let big = start(&ep, &sm, json!({"name": "ada", "factor": 3})).await?;
    let small = start(&ep, &sm, json!({"name": "bob", "factor": 1})).await?;
    let failing = start(&ep, &sm, json!({"name": "fail", "factor": 1})).await?;
    let (big, small, failing) = (
        finished(&ep, &big).await?,
        finished(&ep, &small).await?,
        finished(&ep, &failing).await?,
    );
    worker.stop().await?;
    ensure!(
        big.output == Some(json!({"greeting": "Hello ADA", "sum": 18})),
        "the Map of [1, 2, 3] times 3: {big:?}"
    );
    ensure!(small.output == Some(json!({"small": true})), "{small:?}");
    ensure!(
        failing.output == Some(json!({"error": "Custom.Error"})),
        "{failing:?}"
    );
    Ok(())
}

/// A JSONata expression that cannot be evaluated (here an unknown function) fails the
/// execution with `States.QueryEvaluationError`.
pub async fn jsonata_query_evaluation_error(ep: Endpoint) -> anyhow::Result<()> {
    if skip_without_jsonata(&ep, "jsonata_query_evaluation_error") {
        return Ok(());
    }
    let definition = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": "{% $notAFunction($states.input) %}", "End": true}}});
    let (_, sm) = setup(&ep, "jsonata-error", definition).await?;
    let ended = finished(&ep, &start(&ep, &sm, json!({})).await?).await?;
    ensure!(ended.status == ExecutionStatus::Failed, "{ended:?}");
    ensure!(
        ended.error.as_deref() == Some("States.QueryEvaluationError"),
        "{ended:?}"
    );
    Ok(())
}

/// JSONPath variables: `Assign` on a Pass and on a Task (reading the result after
/// ResultSelector), `$name` in Parameters paths and intrinsic arguments, and a Map iteration
/// reading an outer variable.
pub async fn variables_jsonpath(ep: Endpoint) -> anyhow::Result<()> {
    if skip_without_jsonata(&ep, "variables_jsonpath") {
        return Ok(());
    }
    let definition = json!({"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"prefix": "order", "limit.$": "$.limit"}, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": "${activity}", "TimeoutSeconds": 60,
                 "ResultSelector": {"id.$": "$.id"},
                 "Assign": {"orderId.$": "$.id"}, "ResultPath": null, "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.labels", "Next": "Out",
                 "ItemProcessor": {"StartAt": "Label", "States": {"Label": {"Type": "Pass",
                     "Parameters": {"label.$": "States.Format('{}-{}-{}', $prefix, $orderId, $)"},
                     "OutputPath": "$.label", "End": true}}}},
        "Out": {"Type": "Pass", "Parameters": {"labels.$": "$.labels", "id.$": "$orderId",
                "limit.$": "$limit"}, "End": true}
    }});
    let (arn, sm) = setup(&ep, "variables", definition).await?;
    let worker = Worker::start(
        &ep,
        &arn,
        FnActivity::new(|_, _| async move { Ok(json!({"id": "o-7", "noise": true})) }),
        2,
        0,
    );
    let exec = start(&ep, &sm, json!({"items": ["a", "b"], "limit": 5})).await?;
    let ended = finished(&ep, &exec).await?;
    worker.stop().await?;
    ensure!(
        ended.output
            == Some(json!({"labels": ["order-o-7-a", "order-o-7-b"], "id": "o-7", "limit": 5})),
        "{ended:?}"
    );
    Ok(())
}
