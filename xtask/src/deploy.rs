//! `cargo xtask deploy`: activities and a state machine from an ASL definition or an example.
//!
//! Activities are written `${activity:NAME}` in the definition; each is created (CreateActivity
//! is idempotent on a name), its ARN substituted, the definition validated, and the state
//! machine created or updated. Every call is printed as it is made; on a failure the output
//! lists what was created before it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use clap::Args;
use serde_json::Value;

/// Arguments of `cargo xtask deploy`.
#[derive(Args, Clone, Debug, Default)]
pub struct DeployArgs {
    /// ASL definition (JSON) with activities written as `${activity:NAME}`.
    #[arg(long, conflicts_with = "example", required_unless_present = "example")]
    pub definition: Option<PathBuf>,
    /// Deploy the activity of `examples/NAME.rs` with a one-state state machine.
    #[arg(long)]
    pub example: Option<String>,
    /// State machine name (default: the example's or the definition file's name).
    #[arg(long)]
    pub state_machine: Option<String>,
    /// IAM role Step Functions assumes; required by AWS for CreateStateMachine.
    #[arg(long)]
    pub role_arn: Option<String>,
    /// Step Functions endpoint (stefuna-local, LocalStack); AWS when absent.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Region (default: the example ARN's, else the AWS configuration's).
    #[arg(long)]
    pub region: Option<String>,
    /// Print the resolved definition and the calls, make none.
    #[arg(long)]
    pub dry_run: bool,
}

/// What a deploy made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// Activity name → ARN.
    pub activities: BTreeMap<String, String>,
    /// The state machine's ARN.
    pub state_machine_arn: String,
    /// True when an existing state machine was updated.
    pub updated: bool,
}

/// The `#[stefuna::activity(...)]` settings of an example that deploy needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleActivity {
    /// The `arn` argument.
    pub arn: String,
    /// The `heartbeat` argument, seconds.
    pub heartbeat: Option<u64>,
}

impl ExampleActivity {
    /// The activity name: the ARN's last `:` part.
    pub fn name(&self) -> &str {
        self.arn.rsplit(':').next().unwrap_or(&self.arn)
    }

    /// The region part of the ARN.
    pub fn region(&self) -> Option<&str> {
        self.arn.split(':').nth(3).filter(|r| !r.is_empty())
    }
}

/// Finds `arn = "..."` and `heartbeat = N` in the first `#[stefuna::activity(...)]` of `source`.
pub fn parse_example(source: &str) -> anyhow::Result<ExampleActivity> {
    let start = source
        .find("#[stefuna::activity(")
        .ok_or_else(|| anyhow!("no `#[stefuna::activity(...)]` attribute found"))?;
    let rest = &source[start + "#[stefuna::activity(".len()..];
    // Arguments end at the `)]` closing the attribute; strings in them hold no `)]`.
    let args = &rest[..rest
        .find(")]")
        .ok_or_else(|| anyhow!("unterminated `#[stefuna::activity(` attribute"))?];
    let mut arn = None;
    let mut heartbeat = None;
    for part in split_args(args) {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "arn" => {
                let v = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .ok_or_else(|| anyhow!("`arn` must be a string literal, found {value}"))?;
                arn = Some(v.to_owned());
            }
            "heartbeat" => {
                let v: u64 = value.replace('_', "").parse().map_err(|_| {
                    anyhow!("`heartbeat` must be a whole number of seconds, found {value}")
                })?;
                heartbeat = Some(v).filter(|&v| v > 0);
            }
            _ => {}
        }
    }
    let arn = arn.ok_or_else(|| anyhow!("the `#[stefuna::activity]` attribute has no `arn`"))?;
    Ok(ExampleActivity { arn, heartbeat })
}

/// Splits attribute arguments on commas outside string literals.
fn split_args(args: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut in_str = false;
    let mut escaped = false;
    for c in args.chars() {
        match c {
            '"' if !escaped => in_str = !in_str,
            ',' if !in_str => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        escaped = c == '\\' && !escaped;
        parts.last_mut().expect("never empty").push(c);
    }
    parts
}

/// Names of `${activity:NAME}` placeholders in `text`, in order of first appearance.
pub fn placeholders(text: &str) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("${activity:") {
        let after = &rest[i + "${activity:".len()..];
        let end = after
            .find('}')
            .ok_or_else(|| anyhow!("unterminated `${{activity:` placeholder"))?;
        let name = &after[..end];
        if name.is_empty()
            || name.len() > 80
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!(
                "invalid activity name `{name}` in `${{activity:{name}}}`; names are 1-80 letters, digits, `-` or `_`"
            );
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        rest = &after[end..];
    }
    Ok(names)
}

/// Replaces every `${activity:NAME}` with its ARN from `arns`.
pub fn substitute(text: &str, arns: &BTreeMap<String, String>) -> anyhow::Result<String> {
    let mut out = text.to_owned();
    for name in placeholders(text)? {
        let arn = arns
            .get(&name)
            .ok_or_else(|| anyhow!("no ARN for activity `{name}`"))?;
        out = out.replace(&format!("${{activity:{name}}}"), arn);
    }
    Ok(out)
}

/// The Task states of a definition (nested Parallel branches and Map processors included).
fn task_states(def: &Value, out: &mut Vec<(String, Value)>) {
    let Some(states) = def.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        match state.get("Type").and_then(Value::as_str) {
            Some("Task") => out.push((name.clone(), state.clone())),
            Some("Parallel") => {
                for b in state
                    .get("Branches")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    task_states(b, out);
                }
            }
            Some("Map") => {
                for key in ["ItemProcessor", "Iterator"] {
                    if let Some(p) = state.get(key) {
                        task_states(p, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Warnings about how workers and the definition's timeouts fit together.
///
/// `workers` maps an activity name to the worker's heartbeat interval (`None`: never beats);
/// activities missing from it are not checked against a worker.
pub fn cross_check(def: &Value, workers: &BTreeMap<String, Option<u64>>) -> Vec<String> {
    let mut tasks = Vec::new();
    task_states(def, &mut tasks);
    let mut warnings = Vec::new();
    for (state, task) in tasks {
        let resource = task.get("Resource").and_then(Value::as_str).unwrap_or("");
        let activity = resource
            .strip_prefix("${activity:")
            .and_then(|r| r.strip_suffix('}'))
            .or_else(|| {
                resource
                    .contains(":activity:")
                    .then(|| resource.rsplit(':').next().unwrap_or(""))
            });
        let Some(activity) = activity else { continue };
        let hb_secs = task.get("HeartbeatSeconds").and_then(Value::as_u64);
        let has_hb = hb_secs.is_some() || task.get("HeartbeatSecondsPath").is_some();
        let has_timeout =
            task.get("TimeoutSeconds").is_some() || task.get("TimeoutSecondsPath").is_some();
        if let (Some(hb), Some(worker)) = (hb_secs, workers.get(activity)) {
            match worker {
                Some(beat) if *beat >= hb => warnings.push(format!(
                    "state `{state}`: the `{activity}` worker beats every {beat} s but HeartbeatSeconds is {hb}; tasks will time out between beats (set `heartbeat` below {hb})"
                )),
                None => warnings.push(format!(
                    "state `{state}`: HeartbeatSeconds is {hb} but the `{activity}` worker never beats (heartbeat 0); every task longer than {hb} s will time out (set `heartbeat` below {hb})"
                )),
                _ => {}
            }
        }
        if !has_hb && !has_timeout {
            warnings.push(format!(
                "state `{state}` (activity `{activity}`) has no HeartbeatSeconds and no TimeoutSeconds; a lost worker would leave executions hanging for up to a year"
            ));
        }
    }
    warnings
}

/// The one-state definition deployed for an example.
pub fn example_definition(example: &ExampleActivity) -> Value {
    let name = example.name();
    let mut task = serde_json::json!({
        "Type": "Task",
        "Resource": format!("${{activity:{name}}}"),
        "TimeoutSeconds": 3600,
        "End": true
    });
    if let Some(beat) = example.heartbeat {
        // Three beats per HeartbeatSeconds: one late beat is not a lost task.
        task["HeartbeatSeconds"] = (beat * 3).into();
    }
    serde_json::json!({
        "Comment": format!("stefuna example `{name}`, deployed by cargo xtask deploy"),
        "StartAt": name,
        "States": { name: task }
    })
}

/// The workspace root (xtask's parent directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn read_example(name: &str) -> anyhow::Result<ExampleActivity> {
    let path = workspace_root().join("examples").join(format!("{name}.rs"));
    let source = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read example `{name}` at {}; examples are files under examples/",
            path.display()
        )
    })?;
    parse_example(&source).with_context(|| format!("in {}", path.display()))
}

/// Heartbeats of every example's activity, by activity name (for the cross-check).
fn example_workers() -> BTreeMap<String, Option<u64>> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(workspace_root().join("examples")) else {
        return out;
    };
    for entry in dir.flatten() {
        if let Ok(src) = std::fs::read_to_string(entry.path())
            && let Ok(ex) = parse_example(&src)
        {
            out.insert(ex.name().to_owned(), ex.heartbeat);
        }
    }
    out
}

fn is_local(endpoint: Option<&str>) -> bool {
    endpoint.is_some_and(|e| {
        let host = e
            .split("://")
            .nth(1)
            .unwrap_or(e)
            .split(['/', ':'])
            .next()
            .unwrap_or("");
        matches!(host, "127.0.0.1" | "localhost" | "[" | "0.0.0.0") || e.contains("[::1]")
    })
}

/// One line for a failed SDK call: the service's code and message, or why the call never
/// reached it.
fn describe<E, R>(call: &str, endpoint: Option<&str>, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let target = endpoint.unwrap_or("AWS");
    match err {
        SdkError::ServiceError(e) => {
            let e = e.err();
            let code = e.code().unwrap_or("error");
            let msg = e.message().unwrap_or("no message");
            if code.contains("AccessDenied") || code.contains("UnrecognizedClient") {
                format!(
                    "{call} was refused ({code}): {msg}; check the credentials and the deployer's IAM policy (see README)"
                )
            } else {
                format!("{call} failed: {code}: {msg}")
            }
        }
        SdkError::DispatchFailure(_) => {
            let chain = error_chain(err);
            if chain.contains("credentials") || chain.contains("Credentials") {
                format!(
                    "{call}: no AWS credentials found ({chain}); configure a profile or AWS_ACCESS_KEY_ID, or pass --endpoint-url for a local endpoint"
                )
            } else {
                format!("{call}: cannot reach {target}: {chain}")
            }
        }
        SdkError::TimeoutError(_) => format!("{call}: {target} did not answer in time"),
        other => {
            let chain = error_chain(other);
            if chain.contains("credentials") {
                format!(
                    "{call}: no AWS credentials found ({chain}); configure a profile or AWS_ACCESS_KEY_ID, or pass --endpoint-url for a local endpoint"
                )
            } else {
                format!("{call} failed: {chain}")
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

async fn client(args: &DeployArgs, region: Option<String>) -> aws_sdk_sfn::Client {
    if is_local(args.endpoint_url.as_deref()) && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        // Local endpoints take any credentials; do not require an AWS profile for them.
        let conf = aws_sdk_sfn::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.unwrap_or_else(|| "us-east-1".into())))
            .endpoint_url(args.endpoint_url.clone().unwrap_or_default())
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .build();
        return aws_sdk_sfn::Client::from_conf(conf);
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(Region::new(r));
    }
    if let Some(url) = &args.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    aws_sdk_sfn::Client::new(&loader.load().await)
}

/// Runs `cargo xtask deploy`; `None` for a dry run.
pub async fn run(args: DeployArgs) -> anyhow::Result<Option<Deployed>> {
    let (text, default_name, example) = match (&args.definition, &args.example) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read definition {}", path.display()))?;
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "stefuna".into());
            (text, stem, None)
        }
        (None, Some(name)) => {
            let ex = read_example(name)?;
            let def = serde_json::to_string_pretty(&example_definition(&ex))?;
            (def, name.clone(), Some(ex))
        }
        (None, None) => bail!("give --definition FILE or --example NAME"),
    };
    let parsed: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow!("the definition is not valid JSON: {e}"))?;
    if parsed.get("StartAt").and_then(Value::as_str).is_none()
        || !parsed.get("States").is_some_and(Value::is_object)
    {
        bail!("invalid definition: it needs a string `StartAt` and a `States` object");
    }
    let names = placeholders(&text)?;
    let mut workers = example_workers();
    if let Some(ex) = &example {
        workers.insert(ex.name().to_owned(), ex.heartbeat);
    }
    for w in cross_check(&parsed, &workers) {
        eprintln!("warning: {w}");
    }
    let region = args
        .region
        .clone()
        .or_else(|| example.as_ref().and_then(|e| e.region().map(str::to_owned)));
    let sm_name = args.state_machine.clone().unwrap_or(default_name);
    let local = is_local(args.endpoint_url.as_deref());
    if args.role_arn.is_none() && !local && !args.dry_run {
        bail!(
            "--role-arn is required to create a state machine on AWS (an IAM role Step Functions can assume); local endpoints (--endpoint-url http://127.0.0.1:...) do not need it"
        );
    }

    if args.dry_run {
        let r = region.clone().unwrap_or_else(|| "<region>".into());
        let mut arns = BTreeMap::new();
        for n in &names {
            println!("would call CreateActivity name={n}");
            arns.insert(
                n.clone(),
                format!("arn:aws:states:{r}:<account>:activity:{n}"),
            );
        }
        println!("would call ValidateStateMachineDefinition");
        println!(
            "would call ListStateMachines, then UpdateStateMachine if `{sm_name}` exists, else CreateStateMachine name={sm_name} role={}",
            args.role_arn.as_deref().unwrap_or("<local role>")
        );
        println!("resolved definition:\n{}", substitute(&text, &arns)?);
        return Ok(None);
    }

    let sfn = client(&args, region).await;
    let endpoint = args.endpoint_url.as_deref();
    let mut created: Vec<String> = Vec::new();
    let result = deploy(&sfn, &args, &text, &names, &sm_name, &mut created).await;
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
            let _ = endpoint;
            Err(e)
        }
    }
}

async fn deploy(
    sfn: &aws_sdk_sfn::Client,
    args: &DeployArgs,
    text: &str,
    names: &[String],
    sm_name: &str,
    created: &mut Vec<String>,
) -> anyhow::Result<Deployed> {
    let endpoint = args.endpoint_url.as_deref();
    let mut arns = BTreeMap::new();
    for name in names {
        println!("CreateActivity name={name}");
        let out = sfn
            .create_activity()
            .name(name)
            .send()
            .await
            .map_err(|e| anyhow!(describe("CreateActivity", endpoint, &e)))?;
        created.push(format!("activity {name}: {}", out.activity_arn()));
        arns.insert(name.clone(), out.activity_arn().to_owned());
    }
    let definition = substitute(text, &arns)?;

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
        Err(e) => bail!(describe("ValidateStateMachineDefinition", endpoint, &e)),
    }

    println!("ListStateMachines");
    let mut existing = None;
    let mut pages = sfn.list_state_machines().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!(describe("ListStateMachines", endpoint, &e)))?;
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
            .map_err(|e| anyhow!(describe("UpdateStateMachine", endpoint, &e)))?;
        created.push(format!("state machine {sm_name} updated: {arn}"));
        return Ok(Deployed {
            activities: arns,
            state_machine_arn: arn,
            updated: true,
        });
    }
    let role = match &args.role_arn {
        Some(r) => r.clone(),
        None => {
            // Local endpoints accept any role; use the target's account from an activity ARN.
            let account = arns
                .values()
                .next()
                .and_then(|a| a.split(':').nth(4))
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
        .map_err(|e| anyhow!(describe("CreateStateMachine", endpoint, &e)))?;
    created.push(format!(
        "state machine {sm_name}: {}",
        out.state_machine_arn()
    ));
    Ok(Deployed {
        activities: arns,
        state_machine_arn: out.state_machine_arn().to_owned(),
        updated: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_hello_example() {
        let src = std::fs::read_to_string(workspace_root().join("examples/hello.rs")).unwrap();
        let ex = parse_example(&src).unwrap();
        assert_eq!(
            ex.arn,
            "arn:aws:states:us-east-1:123456789012:activity:hello"
        );
        assert_eq!(ex.heartbeat, Some(120));
        assert_eq!(ex.name(), "hello");
        assert_eq!(ex.region(), Some("us-east-1"));
    }

    #[test]
    fn example_parsing_handles_order_commas_and_errors() {
        let ex = parse_example(
            r#"#[stefuna::activity(heartbeat = 1_0, name = "a,b", arn = "arn:aws:states:eu-west-1:1:activity:x")]"#,
        )
        .unwrap();
        assert_eq!(ex.heartbeat, Some(10));
        assert_eq!(ex.name(), "x");
        assert!(
            parse_example("fn main() {}")
                .unwrap_err()
                .to_string()
                .contains("no `#[stefuna::activity")
        );
        assert!(
            parse_example(r#"#[stefuna::activity(heartbeat = 3)]"#)
                .unwrap_err()
                .to_string()
                .contains("no `arn`")
        );
        assert!(
            parse_example(r#"#[stefuna::activity(arn = "a:b", heartbeat = x)]"#)
                .unwrap_err()
                .to_string()
                .contains("whole number")
        );
    }

    #[test]
    fn placeholders_are_found_once_and_substituted_everywhere() {
        let text = r#"{"A": "${activity:one}", "B": "${activity:two}", "C": "${activity:one}"}"#;
        assert_eq!(placeholders(text).unwrap(), ["one", "two"]);
        let arns = BTreeMap::from([
            ("one".to_owned(), "arn:1".to_owned()),
            ("two".to_owned(), "arn:2".to_owned()),
        ]);
        assert_eq!(
            substitute(text, &arns).unwrap(),
            r#"{"A": "arn:1", "B": "arn:2", "C": "arn:1"}"#
        );
        assert!(substitute(text, &BTreeMap::new()).is_err());
        assert!(placeholders("${activity:bad name}").is_err());
        assert!(placeholders("${activity:open").is_err());
    }

    #[test]
    fn cross_check_warns_about_heartbeats_and_missing_timeouts() {
        let def = serde_json::json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "${activity:slow}", "HeartbeatSeconds": 100, "Next": "B"},
            "B": {"Type": "Task", "Resource": "${activity:silent}", "HeartbeatSeconds": 30, "Next": "C"},
            "C": {"Type": "Parallel", "Branches": [{"StartAt": "D", "States": {
                "D": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:1:activity:ok", "End": true}}}], "Next": "E"},
            "E": {"Type": "Task", "Resource": "${activity:fine}", "HeartbeatSeconds": 60, "End": true}
        }});
        let workers = BTreeMap::from([
            ("slow".to_owned(), Some(120)),
            ("silent".to_owned(), None),
            ("fine".to_owned(), Some(20)),
        ]);
        let w = cross_check(&def, &workers);
        assert_eq!(w.len(), 3, "{w:#?}");
        assert!(
            w[0].contains("every 120 s") && w[0].contains("HeartbeatSeconds is 100"),
            "{w:#?}"
        );
        assert!(
            w[1].contains("never beats") && w[1].contains("30"),
            "{w:#?}"
        );
        assert!(
            w[2].contains("`D`") && w[2].contains("up to a year"),
            "{w:#?}"
        );
    }

    #[test]
    fn example_definition_gives_heartbeat_margin_and_a_timeout() {
        let ex = ExampleActivity {
            arn: "arn:aws:states:us-east-1:1:activity:hello".into(),
            heartbeat: Some(120),
        };
        let def = example_definition(&ex);
        assert_eq!(def["States"]["hello"]["HeartbeatSeconds"], 360);
        assert_eq!(def["States"]["hello"]["Resource"], "${activity:hello}");
        let workers = BTreeMap::from([("hello".to_owned(), ex.heartbeat)]);
        assert!(cross_check(&def, &workers).is_empty());
    }

    #[test]
    fn local_endpoints_are_recognised() {
        assert!(is_local(Some("http://127.0.0.1:8083")));
        assert!(is_local(Some("http://localhost:4566/")));
        assert!(!is_local(Some("https://states.us-east-1.amazonaws.com")));
        assert!(!is_local(None));
    }
}
