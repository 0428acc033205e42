//! State machines: CreateStateMachine, DescribeStateMachine, UpdateStateMachine,
//! ListStateMachines, DeleteStateMachine.

use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use super::{Call, Execution, Service, paging, read, reply, write};
use crate::asl::{self, StateMachine};
use crate::clock::epoch;
use crate::error::{ApiError, ApiResult};
use crate::names::{arn, check_arn, check_name};

/// One state machine.
pub(crate) struct Machine {
    pub(crate) arn: String,
    pub(crate) name: String,
    /// Region the machine (and its executions) live in.
    pub(crate) region: String,
    pub(crate) created: f64,
    pub(crate) kind: String,
    seq: u64,
    /// Replaced whole by UpdateStateMachine; executions keep the one they started with.
    pub(crate) def: RwLock<Arc<MachineDef>>,
    /// Its executions, oldest first.
    pub(crate) executions: Mutex<Vec<Arc<Execution>>>,
}

/// The parts UpdateStateMachine changes.
#[derive(Clone)]
pub(crate) struct MachineDef {
    pub(crate) definition: String,
    pub(crate) parsed: Arc<StateMachine>,
    pub(crate) role_arn: String,
    pub(crate) updated: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    name: String,
    definition: String,
    role_arn: String,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArnInput {
    state_machine_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateInput {
    state_machine_arn: String,
    definition: Option<String>,
    role_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListItem<'a> {
    state_machine_arn: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    creation_date: f64,
}

/// Parses a definition, mapping its error to `InvalidDefinition`.
fn parse_definition(definition: &str) -> Result<Arc<StateMachine>, ApiError> {
    asl::parse(definition).map_err(|e| ApiError::new("InvalidDefinition", e.to_string()))
}

/// Checks a role ARN's shape.
fn check_role(role_arn: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    if parts.len() == 6 && parts[0] == "arn" && parts[2] == "iam" && !parts[5].is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(
            "InvalidArn",
            format!(
                "invalid roleArn '{role_arn}': expected an IAM role ARN like arn:aws:iam::<account>:role/<name>"
            ),
        ))
    }
}

impl Service {
    pub(super) fn create_state_machine(&self, call: Call<'_>) -> ApiResult {
        let input: CreateInput = call.input()?;
        check_name("state machine", &input.name)?;
        check_role(&input.role_arn)?;
        let kind = input.kind.unwrap_or_else(|| "STANDARD".to_owned());
        if kind != "STANDARD" && kind != "EXPRESS" {
            return Err(ApiError::validation(format!(
                "invalid type '{kind}': expected STANDARD or EXPRESS"
            )));
        }
        let parsed = parse_definition(&input.definition)?;
        let arn = arn(call.region, "stateMachine", &input.name);
        let mut map = write(&self.machines);
        if let Some(existing) = map.get(&arn) {
            let def = read(&existing.def);
            if def.definition == input.definition && def.role_arn == input.role_arn {
                return reply(&serde_json::json!({
                    "stateMachineArn": existing.arn,
                    "creationDate": existing.created,
                }));
            }
            return Err(ApiError::new(
                "StateMachineAlreadyExists",
                format!(
                    "state machine already exists with a different definition or role: '{arn}'"
                ),
            ));
        }
        let machine = Arc::new(Machine {
            arn: arn.clone(),
            name: input.name,
            region: call.region.to_owned(),
            created: epoch(self.clock.now()),
            kind,
            seq: self.next_seq(),
            def: RwLock::new(Arc::new(MachineDef {
                definition: input.definition,
                parsed,
                role_arn: input.role_arn,
                updated: None,
            })),
            executions: Mutex::default(),
        });
        map.insert(arn, machine.clone());
        drop(map);
        reply(&serde_json::json!({
            "stateMachineArn": machine.arn,
            "creationDate": machine.created,
        }))
    }

    /// The state machine an ARN names, or `StateMachineDoesNotExist`.
    pub(crate) fn machine(&self, machine_arn: &str) -> Result<Arc<Machine>, ApiError> {
        check_arn("stateMachineArn", "stateMachine", machine_arn)?;
        read(&self.machines)
            .get(machine_arn)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    "StateMachineDoesNotExist",
                    format!("state machine does not exist: '{machine_arn}'"),
                )
            })
    }

    pub(super) fn describe_state_machine(&self, call: Call<'_>) -> ApiResult {
        let input: ArnInput = call.input()?;
        let m = self.machine(&input.state_machine_arn)?;
        let def = read(&m.def).clone();
        reply(&serde_json::json!({
            "stateMachineArn": m.arn,
            "name": m.name,
            "status": "ACTIVE",
            "definition": def.definition,
            "roleArn": def.role_arn,
            "type": m.kind,
            "creationDate": m.created,
            "loggingConfiguration": { "level": "OFF", "includeExecutionData": false },
            "tracingConfiguration": { "enabled": false },
        }))
    }

    pub(super) fn update_state_machine(&self, call: Call<'_>) -> ApiResult {
        let input: UpdateInput = call.input()?;
        let m = self.machine(&input.state_machine_arn)?;
        if input.definition.is_none() && input.role_arn.is_none() {
            return Err(ApiError::new(
                "MissingRequiredParameter",
                "nothing to update: give definition and/or roleArn",
            ));
        }
        if let Some(role) = &input.role_arn {
            check_role(role)?;
        }
        let parsed = input
            .definition
            .as_deref()
            .map(parse_definition)
            .transpose()?;
        let updated = epoch(self.clock.now());
        {
            let mut current = write(&m.def);
            let mut def = MachineDef::clone(&current);
            if let (Some(d), Some(p)) = (input.definition, parsed) {
                def.definition = d;
                def.parsed = p;
            }
            if let Some(r) = input.role_arn {
                def.role_arn = r;
            }
            def.updated = Some(updated);
            *current = Arc::new(def);
        }
        reply(&serde_json::json!({ "updateDate": updated }))
    }

    pub(super) fn list_state_machines(&self, call: Call<'_>) -> ApiResult {
        let input: ListInput = call.input()?;
        let mut all: Vec<Arc<Machine>> = read(&self.machines)
            .values()
            .filter(|m| m.region == call.region)
            .cloned()
            .collect();
        all.sort_by_key(|m| m.seq);
        let (page, next) =
            paging::page(&all, input.max_results, input.next_token.as_deref(), |m| {
                ListItem {
                    state_machine_arn: &m.arn,
                    name: &m.name,
                    kind: &m.kind,
                    creation_date: m.created,
                }
            })?;
        reply(&serde_json::json!({ "stateMachines": page, "nextToken": next }))
    }

    pub(super) fn delete_state_machine(&self, call: Call<'_>) -> ApiResult {
        let input: ArnInput = call.input()?;
        check_arn("stateMachineArn", "stateMachine", &input.state_machine_arn)?;
        // Running executions carry on, as in AWS; the machine is gone from listings at once.
        write(&self.machines).remove(&input.state_machine_arn);
        Ok("{}".to_owned())
    }
}
