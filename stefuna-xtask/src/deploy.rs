//! `cargo xtask deploy`: a worker's activities and a state machine for them (see the crate
//! docs for each step).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use clap::Args;
use stefuna_runtime::definition::{self, ActivityArn, arn_name};
use stefuna_runtime::describe::Description;

use crate::build::{self, Target};
use crate::checks::{self, Worker};
use crate::sfn::{self, is_local};

/// Arguments of `cargo xtask deploy`.
#[derive(Args, Clone, Debug, Default)]
#[non_exhaustive]
pub struct DeployArgs {
    /// Worker binary to build, describe and deploy (`cargo build --bin NAME`).
    #[arg(long, value_name = "NAME", conflicts_with = "example")]
    pub bin: Option<String>,
    /// Worker example to build, describe and deploy (`cargo build --example NAME`).
    #[arg(long, value_name = "NAME")]
    pub example: Option<String>,
    /// Package of the worker (`cargo build -p PACKAGE`; alone: its one binary).
    #[arg(short, long, value_name = "PACKAGE")]
    pub package: Option<String>,
    /// ASL definition (JSON) with activities written as `${activity:NAME}` (default: one Task
    /// state per activity of the worker).
    #[arg(long, value_name = "FILE", required_unless_present_any = ["bin", "example", "package"])]
    pub definition: Option<PathBuf>,
    /// State machine name (default: the definition file's name up to its first `.`, else the
    /// worker's).
    #[arg(long, value_name = "NAME")]
    pub state_machine: Option<String>,
    /// IAM role Step Functions assumes; required by AWS for CreateStateMachine.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Step Functions endpoint (stefuna-local, LocalStack); AWS when absent.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Region (default: the worker's first activity's, else the AWS configuration's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Build and describe the worker, print the calls and the resolved definition, make none.
    #[arg(long)]
    pub dry_run: bool,
}

impl DeployArgs {
    fn target(&self) -> Target {
        Target {
            package: self.package.clone(),
            bin: self.bin.clone(),
            example: self.example.clone(),
        }
    }
}

/// What a deploy made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deployed {
    /// Step Functions activity name → ARN.
    pub activities: BTreeMap<String, String>,
    /// The state machine's ARN.
    pub state_machine_arn: String,
    /// True when an existing state machine was updated.
    pub updated: bool,
}

/// An activity to create: its `Activity::name` and the name it has in Step Functions.
#[derive(Clone, Debug)]
struct Planned {
    name: String,
    sfn_name: String,
    /// The ARN the worker polls; `None` when only the definition names the activity.
    worker_arn: Option<String>,
    heartbeat: Option<u64>,
}

/// Runs `cargo xtask deploy`; `None` for a dry run.
///
/// # Errors
/// A bad definition or argument, a failed build or `--describe`, or a failed call (the error
/// says which, and what was created before it has been printed).
pub async fn run(args: DeployArgs) -> anyhow::Result<Option<Deployed>> {
    let local = is_local(args.endpoint_url.as_deref());
    if args.role_arn.is_none() && !local && !args.dry_run {
        bail!(
            "--role-arn is required to create a state machine on AWS (an IAM role Step Functions \
             can assume); local endpoints (--endpoint-url http://127.0.0.1:...) do not need it"
        );
    }
    let file = match &args.definition {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read definition {}", path.display()))?,
        ),
        None => None,
    };
    if let Some(text) = &file {
        checks::parse_definition(text)?;
        definition::placeholders(text).map_err(|e| anyhow!("definition: {e}"))?;
    }

    let target = args.target();
    let description = if target.is_some() {
        Some(build::describe(&build::build(&target)?)?)
    } else {
        None
    };
    let default_name = args
        .definition
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|s| state_machine_name(&s.to_string_lossy()))
        .or_else(|| target.name().map(str::to_owned))
        .unwrap_or_else(|| "stefuna".into());
    let sm_name = args.state_machine.clone().unwrap_or(default_name);
    let text = match (file, &description) {
        (Some(text), _) => text,
        (None, Some(d)) => {
            serde_json::to_string_pretty(&checks::generated_definition(&d.activities, &sm_name))?
        }
        (None, None) => bail!("give --definition FILE, or a worker with --bin, --example or -p"),
    };
    let planned = plan(&text, description.as_ref())?;
    let region = args.region.clone().or_else(|| {
        description
            .as_ref()
            .and_then(|d| d.activities.first())
            .map(|a| a.region.clone())
    });

    // The ARNs as they will look: every placeholder must resolve before anything is created.
    let r = region.clone().unwrap_or_else(|| "<region>".into());
    let preview: Vec<(String, String)> = planned
        .iter()
        .map(|p| {
            let arn = format!("arn:aws:states:{r}:<account>:activity:{}", p.sfn_name);
            (p.name.clone(), arn)
        })
        .collect();
    substitute(&text, &preview)?;

    if args.dry_run {
        for p in &planned {
            println!("would call CreateActivity name={}", p.sfn_name);
        }
        let resolved = resolve(&text, &preview, &planned)?;
        println!("would call ValidateStateMachineDefinition");
        println!(
            "would call ListStateMachines, then UpdateStateMachine if `{sm_name}` exists, else \
             CreateStateMachine name={sm_name} role={}",
            args.role_arn.as_deref().unwrap_or("<local role>")
        );
        println!("resolved definition:\n{resolved}");
        return Ok(None);
    }

    let sfn = sfn::client(args.endpoint_url.as_deref(), region).await;
    let mut created: Vec<String> = Vec::new();
    let result = deploy(&sfn, &args, &text, &planned, &sm_name, &mut created).await;
    match result {
        Ok(d) => {
            for (n, a) in &d.activities {
                println!("activity {n}: {a}");
            }
            println!("state machine {sm_name}: {}", d.state_machine_arn);
            Ok(Some(d))
        }
        Err(e) => {
            if created.is_empty() {
                eprintln!("nothing was created or changed before the failure");
            } else {
                eprintln!("created or updated before the failure:");
                for c in &created {
                    eprintln!("  {c}");
                }
            }
            Err(e)
        }
    }
}

/// The state machine name of a definition file: its name before the first `.`
/// (`orders.asl.json` → `orders`).
fn state_machine_name(file_name: &str) -> String {
    let stem = file_name.split('.').next().unwrap_or(file_name);
    if stem.is_empty() { file_name } else { stem }.to_owned()
}

/// The activities to create: the worker's when there is one, else the definition's
/// placeholders.
fn plan(text: &str, description: Option<&Description>) -> anyhow::Result<Vec<Planned>> {
    Ok(match description {
        Some(d) => d
            .activities
            .iter()
            .map(|a| Planned {
                name: a.name.clone(),
                sfn_name: arn_name(&a.arn).to_owned(),
                worker_arn: Some(a.arn.clone()),
                heartbeat: a.heartbeat,
            })
            .collect(),
        None => definition::placeholders(text)
            .map_err(|e| anyhow!("definition: {e}"))?
            .into_iter()
            .map(|name| Planned {
                sfn_name: name.clone(),
                name,
                worker_arn: None,
                heartbeat: None,
            })
            .collect(),
    })
}

/// `text` with each placeholder replaced by its ARN in `arns` (activity name → ARN), by the
/// rules of [`definition::substitute`].
fn substitute(text: &str, arns: &[(String, String)]) -> anyhow::Result<String> {
    let targets: Vec<ActivityArn<'_>> = arns
        .iter()
        .map(|(name, arn)| ActivityArn { name, arn })
        .collect();
    definition::substitute(text, &targets).map_err(|e| anyhow!("definition: {e}"))
}

/// Substitutes the created ARNs (`arns`: activity name → ARN, in `planned` order) into `text`
/// and prints the heartbeat warnings for the result.
fn resolve(text: &str, arns: &[(String, String)], planned: &[Planned]) -> anyhow::Result<String> {
    let resolved = substitute(text, arns)?;
    let workers: Vec<Worker> = planned
        .iter()
        .zip(arns)
        .filter(|(p, _)| p.worker_arn.is_some())
        .map(|(p, (_, arn))| Worker {
            arn: arn.clone(),
            name: p.name.clone(),
            heartbeat: p.heartbeat,
        })
        .collect();
    for w in checks::cross_check(&checks::parse_definition(&resolved)?, &workers) {
        eprintln!("warning: {w}");
    }
    Ok(resolved)
}

async fn deploy(
    sfn: &aws_sdk_sfn::Client,
    args: &DeployArgs,
    text: &str,
    planned: &[Planned],
    sm_name: &str,
    created: &mut Vec<String>,
) -> anyhow::Result<Deployed> {
    let endpoint = args.endpoint_url.as_deref();
    let mut arns = Vec::new();
    for p in planned {
        println!("CreateActivity name={}", p.sfn_name);
        let out = sfn
            .create_activity()
            .name(&p.sfn_name)
            .send()
            .await
            .map_err(|e| anyhow!(sfn::describe("CreateActivity", endpoint, &e)))?;
        let arn = out.activity_arn().to_owned();
        created.push(format!("activity {}: {arn}", p.sfn_name));
        if let Some(polled) = p.worker_arn.as_deref().filter(|w| *w != arn) {
            eprintln!(
                "warning: the worker polls {polled} for `{}`, but the activity is {arn}; run it \
                 with --activity-arn {arn} (or STEFUNA_ACTIVITY_ARN, or \
                 STEFUNA_ACTIVITIES__{}__ACTIVITY_ARN when it hosts several)",
                p.name,
                p.name.to_uppercase()
            );
        }
        arns.push((p.name.clone(), arn));
    }
    let definition = resolve(text, &arns, planned)?;

    println!("ValidateStateMachineDefinition");
    match sfn
        .validate_state_machine_definition()
        .definition(&definition)
        .send()
        .await
    {
        Ok(v) => {
            let problems: Vec<String> = v
                .diagnostics()
                .iter()
                .filter(|d| d.severity().as_str() == "ERROR")
                .map(|d| format!("{}: {}", d.code(), d.message()))
                .collect();
            if !problems.is_empty() {
                bail!("invalid definition: {}", problems.join("; "));
            }
        }
        Err(SdkError::ServiceError(e))
            if e.err().code().is_some_and(|c| {
                c.contains("UnknownOperation")
                    || c.contains("NotImplemented")
                    || c.contains("InvalidAction")
            }) =>
        {
            println!("  (the endpoint does not offer it; CreateStateMachine validates instead)");
        }
        Err(e) => bail!(sfn::describe(
            "ValidateStateMachineDefinition",
            endpoint,
            &e
        )),
    }

    let activities: BTreeMap<String, String> = planned
        .iter()
        .zip(&arns)
        .map(|(p, (_, arn))| (p.sfn_name.clone(), arn.clone()))
        .collect();
    println!("ListStateMachines");
    let mut existing = None;
    let mut pages = sfn.list_state_machines().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!(sfn::describe("ListStateMachines", endpoint, &e)))?;
        if let Some(sm) = page.state_machines().iter().find(|s| s.name() == sm_name) {
            existing = Some(sm.state_machine_arn().to_owned());
            break;
        }
    }
    if let Some(arn) = existing {
        println!("UpdateStateMachine {arn}");
        sfn.update_state_machine()
            .state_machine_arn(&arn)
            .definition(&definition)
            .set_role_arn(args.role_arn.clone())
            .send()
            .await
            .map_err(|e| anyhow!(sfn::describe("UpdateStateMachine", endpoint, &e)))?;
        created.push(format!("state machine {sm_name} updated: {arn}"));
        return Ok(Deployed {
            activities,
            state_machine_arn: arn,
            updated: true,
        });
    }
    let role = match &args.role_arn {
        Some(r) => r.clone(),
        None => {
            // Local endpoints accept any role; use the target's account from an activity ARN.
            let account = arns
                .first()
                .and_then(|(_, a)| a.split(':').nth(4))
                .unwrap_or("123456789012");
            format!("arn:aws:iam::{account}:role/stefuna-local")
        }
    };
    println!("CreateStateMachine name={sm_name} role={role}");
    let out = sfn
        .create_state_machine()
        .name(sm_name)
        .role_arn(role)
        .definition(&definition)
        .send()
        .await
        .map_err(|e| anyhow!(sfn::describe("CreateStateMachine", endpoint, &e)))?;
    created.push(format!(
        "state machine {sm_name}: {}",
        out.state_machine_arn()
    ));
    Ok(Deployed {
        activities,
        state_machine_arn: out.state_machine_arn().to_owned(),
        updated: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described() -> Description {
        crate::build::parse_description(
            r#"{"format": 1, "worker": {"name": "W", "endpoint_url": null, "region": null},
            "activities": [
              {"name": "Shout", "arn": "arn:aws:states:us-east-1:1:activity:shout",
               "region": "us-east-1", "heartbeat": 60, "processes": 2},
              {"name": "Count", "arn": "arn:aws:states:us-east-1:1:activity:count",
               "region": "us-east-1", "heartbeat": null, "processes": 2}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn definition_files_name_their_state_machine() {
        assert_eq!(state_machine_name("orders.asl.json"), "orders");
        assert_eq!(state_machine_name("pipeline.json"), "pipeline");
        assert_eq!(state_machine_name(".hidden.json"), ".hidden.json");
    }

    #[test]
    fn a_worker_plans_its_activities_by_their_arn_names() {
        let p = plan("", Some(&described())).unwrap();
        let names: Vec<(&str, &str)> = p
            .iter()
            .map(|p| (p.name.as_str(), p.sfn_name.as_str()))
            .collect();
        assert_eq!(names, [("Shout", "shout"), ("Count", "count")]);
        assert_eq!(p[0].heartbeat, Some(60));
    }

    #[test]
    fn without_a_worker_the_placeholders_are_the_activities() {
        let p = plan(
            r#"{"a": "${activity:resize}", "b": "${activity:store}"}"#,
            None,
        )
        .unwrap();
        let names: Vec<&str> = p.iter().map(|p| p.sfn_name.as_str()).collect();
        assert_eq!(names, ["resize", "store"]);
        assert!(plan("${activity:open", None).is_err());
    }

    #[test]
    fn resolve_uses_the_shared_substitution() {
        let planned = plan("", Some(&described())).unwrap();
        let arns = vec![
            (
                "Shout".to_owned(),
                "arn:aws:states:eu-west-1:2:activity:shout".to_owned(),
            ),
            (
                "Count".to_owned(),
                "arn:aws:states:eu-west-1:2:activity:count".to_owned(),
            ),
        ];
        let text = r#"{"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "${activity:SHOUT}", "TimeoutSeconds": 5, "Next": "B"},
            "B": {"Type": "Task", "Resource": "${activity:Count}", "TimeoutSeconds": 5, "End": true}}}"#;
        let out = resolve(text, &arns, &planned).unwrap();
        assert!(
            out.contains("arn:aws:states:eu-west-1:2:activity:shout"),
            "{out}"
        );
        assert!(
            out.contains("arn:aws:states:eu-west-1:2:activity:count"),
            "{out}"
        );
        let err = resolve(&text.replace("Count}", "nope}"), &arns, &planned)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`Shout`, `Count`"), "{err}");
    }
}
