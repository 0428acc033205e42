//! StartSyncExecution: runs an EXPRESS state machine to its end inside the call and answers
//! with the outcome. The execution is not kept (AWS does not describe Express executions).

use std::sync::Arc;

use serde::Deserialize;

use super::executions::{ExecStatus, Execution, start_name_and_input};
use super::{Call, Service, read, reply};
use crate::clock::epoch;
use crate::error::{ApiError, ApiResult};
use crate::names::ACCOUNT;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyncInput {
    state_machine_arn: String,
    name: Option<String>,
    input: Option<String>,
}

impl Service {
    pub(super) async fn start_sync_execution(self: &Arc<Self>, call: Call<'_>) -> ApiResult {
        let input: SyncInput = call.input()?;
        let (machine_arn, test_case) = match input.state_machine_arn.split_once('#') {
            Some((arn, case)) => (arn, Some(case)),
            None => (input.state_machine_arn.as_str(), None),
        };
        let machine = self.machine(machine_arn)?;
        if machine.kind != "EXPRESS" {
            return Err(ApiError::new(
                "StateMachineTypeNotSupported",
                format!(
                    "StartSyncExecution runs EXPRESS state machines only; '{}' is {}: use StartExecution",
                    machine.arn, machine.kind
                ),
            ));
        }
        let mocks = test_case
            .map(|case| self.mock_test_case(&machine.name, case))
            .transpose()?;
        let (name, text, value) = start_name_and_input(input.name, input.input)?;
        let arn = format!(
            "arn:aws:states:{}:{ACCOUNT}:express:{}:{name}:{}",
            machine.region,
            machine.name,
            crate::names::uuid_v4()
        );
        let def = read(&machine.def).clone();
        let exec = Execution::started(
            arn,
            name,
            machine.arn.clone(),
            machine.name.clone(),
            def.clone(),
            text,
            &self.clock,
            None,
            mocks,
        );
        self.drive(exec.clone(), def.parsed.clone(), value).await;
        let (status, output, error, cause) = exec.outcome();
        let stop = lock_stop(&exec);
        let status = match status {
            ExecStatus::Succeeded => "SUCCEEDED",
            ExecStatus::TimedOut => "TIMED_OUT",
            // The service closing or a panic also end here: reported as failed.
            _ => "FAILED",
        };
        let mut v = serde_json::json!({
            "executionArn": exec.arn,
            "stateMachineArn": machine.arn,
            "name": exec.name,
            "startDate": epoch(exec.start),
            "stopDate": stop,
            "status": status,
            "input": exec.input,
            "inputDetails": { "included": true },
            "billingDetails": {
                "billedMemoryUsedInMB": 64,
                "billedDurationInMilliseconds": 100
            },
        });
        if let Some(out) = output {
            v["output"] = out.into();
            v["outputDetails"] = serde_json::json!({ "included": true });
        }
        if let Some(e) = error.filter(|e| !e.is_empty()) {
            v["error"] = e.into();
        }
        if let Some(c) = cause.filter(|c| !c.is_empty()) {
            v["cause"] = c.into();
        }
        reply(&v)
    }
}

/// The stop date, or now if the execution did not record one (the service closing).
fn lock_stop(exec: &Execution) -> f64 {
    super::lock(&exec.state)
        .stop_date
        .unwrap_or_else(|| epoch(exec.clock.now()))
}
