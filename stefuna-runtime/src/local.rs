//! `--local`: run against an in-process stefuna-local Step Functions emulator.
//!
//! [`start`] brings the emulator up on loopback, creates the activities and a state machine for
//! them, and points the configuration at it; the worker then runs unchanged. [`LocalSession::run_inputs`]
//! starts the executions given with `--input` / `--input-file` and reports how each ended.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_sfn::config::timeout::TimeoutConfig;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::error::DisplayErrorContext;
use aws_sdk_sfn::types::ExecutionStatus;
use futures::StreamExt;
use stefuna_core::ActivityDefaults;
use stefuna_local::Emulator;

use crate::cli::Cli;
use crate::config::{Config, activity_arn_region};

/// How long a `GetActivityTask` waits on the in-process endpoint before answering empty.
const LOCAL_LONG_POLL: Duration = Duration::from_secs(1);
/// Role ARN given to local state machines (the emulator does not check it).
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/stefuna-local";
/// Name of the state machine created for the hosted activities.
const STATE_MACHINE_NAME: &str = "stefuna-local";
/// How often a running execution is described; this is the user's progress display.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Executions started and watched at once.
const IN_FLIGHT: usize = 32;

/// What went wrong in local mode.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LocalError {
    /// The emulator could not start.
    #[error("could not start the local Step Functions emulator: {0}")]
    Start(#[source] io::Error),
    /// A call to the emulator failed.
    #[error("local Step Functions emulator: could not {action}: {message}")]
    Call {
        /// What was being done, e.g. "create activity `hello`".
        action: String,
        /// The SDK's error with its causes.
        message: String,
    },
    /// An input or state machine file could not be read.
    #[error("cannot read {flag} {}: {source}", path.display())]
    Read {
        /// `--input-file` or `--state-machine`.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A line of `--input-file` is not JSON.
    #[error("--input-file {} line {line} is not JSON: {source}", path.display())]
    InputLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A `${activity:NAME}` placeholder names no hosted activity.
    #[error(
        "--state-machine {}: `${{activity:{name}}}` names no hosted activity; expected one of {known}",
        path.display()
    )]
    UnknownActivity {
        /// The file.
        path: PathBuf,
        /// The name in the placeholder.
        name: String,
        /// The accepted names, formatted.
        known: String,
    },
    /// Local mode was started without any activity.
    #[error("--local needs at least one activity to run")]
    NoActivities,
}

/// One input to start an execution with.
#[derive(Clone, Debug, PartialEq)]
struct Input {
    /// Execution name.
    name: String,
    /// The JSON text.
    json: String,
}

/// A hosted activity as created in the emulator.
#[derive(Clone, Debug)]
struct LocalActivity {
    /// The activity's name (`Activity::name`).
    name: String,
    /// The name of the activity inside Step Functions (from the user's ARN).
    sfn_name: String,
    /// The emulator's ARN for it.
    arn: String,
}

/// A running local emulator with the activities and state machine created in it.
pub(crate) struct LocalSession {
    _emulator: Emulator,
    endpoint: String,
    region: String,
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
    inputs: Vec<Input>,
    progress_bar: bool,
}

impl std::fmt::Debug for LocalSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSession")
            .field("endpoint", &self.endpoint)
            .field("state_machine_arn", &self.state_machine_arn)
            .field("inputs", &self.inputs.len())
            .finish_non_exhaustive()
    }
}

/// Starts the emulator on 127.0.0.1, creates each activity and a state machine (one Task state
/// per activity in order, or `--state-machine FILE`), and rewrites `config`'s endpoint, region
/// and activity ARNs to the emulator's. Inputs are read (and refused) before anything starts.
pub(crate) async fn start(
    cli: &Cli,
    config: &mut Config,
    activities: &[(String, ActivityDefaults)],
) -> Result<LocalSession, LocalError> {
    if activities.is_empty() {
        return Err(LocalError::NoActivities);
    }
    let mut inputs = inline_inputs(&cli.input);
    if let Some(path) = &cli.input_file {
        inputs.extend(read_input_file(path)?);
    }
    let definition_template = match &cli.state_machine {
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|source| LocalError::Read {
                flag: "--state-machine",
                path: path.clone(),
                source,
            })?,
        ),
        None => None,
    };

    let single = activities.len() == 1;
    let mut region = None;
    let mut planned = Vec::with_capacity(activities.len());
    for (name, defaults) in activities {
        // The name in Step Functions comes from the user's ARN, so state machines written for
        // AWS keep working; without a usable ARN the activity's own name does.
        let (sfn_name, arn_region) = match config.activity_settings(name, defaults, single) {
            Ok(s) => (
                s.arn.rsplit(':').next().unwrap_or(name).to_owned(),
                Some(s.region),
            ),
            Err(_) => (name.clone(), None),
        };
        region = region.or(arn_region);
        planned.push((name.clone(), sfn_name));
    }
    // The emulator builds ARNs in the caller's region: keep the user's so ARNs look as in AWS.
    let region = region.unwrap_or_else(|| "us-east-1".to_owned());

    // A short long poll: on shutdown the worker lets open polls finish (on AWS they may already
    // hold a task), and a local run should end within a second of its last result, not a minute.
    let emulator = Emulator::builder()
        .long_poll(LOCAL_LONG_POLL)
        .start()
        .await
        .map_err(LocalError::Start)?;
    let endpoint = emulator.endpoint().to_owned();
    let client = client(&endpoint, &region);

    let mut created = Vec::with_capacity(planned.len());
    for (name, sfn_name) in planned {
        let out = client
            .create_activity()
            .name(&sfn_name)
            .send()
            .await
            .map_err(|e| call_error(format!("create activity `{sfn_name}`"), e))?;
        created.push(LocalActivity {
            name,
            sfn_name,
            arn: out.activity_arn().to_owned(),
        });
    }

    let definition = match (&definition_template, &cli.state_machine) {
        (Some(template), Some(path)) => substitute(template, &created, path)?,
        _ => default_definition(&created),
    };
    let state_machine_arn = client
        .create_state_machine()
        .name(STATE_MACHINE_NAME)
        .role_arn(ROLE_ARN)
        .definition(definition)
        .send()
        .await
        .map_err(|e| call_error("create the state machine".to_owned(), e))?
        .state_machine_arn()
        .to_owned();

    // The worker signs with the region its ARNs are in, whatever the emulator chose.
    let region = created
        .first()
        .and_then(|a| activity_arn_region(&a.arn))
        .map_or(region, str::to_owned);
    point_config_at(config, &created, single, &endpoint, &region);
    if !inputs.is_empty() && cli.healthcheck.is_none() {
        // A one-shot run needs no probes, and must not fail because port 8080 is taken.
        config.healthcheck = 0;
    }

    println!("stefuna local: Step Functions emulator at {endpoint} (region {region})");
    for a in &created {
        println!("stefuna local: activity {} -> {}", a.name, a.arn);
    }
    println!("stefuna local: state machine {state_machine_arn}");
    if inputs.is_empty() {
        println!(
            "stefuna local: start an execution with (any AWS credentials work, e.g. \
             AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test):\n  aws stepfunctions \
             start-execution --endpoint-url {endpoint} --region {region} --state-machine-arn \
             {state_machine_arn} --input '{{}}'"
        );
    }

    Ok(LocalSession {
        _emulator: emulator,
        endpoint,
        region,
        client,
        state_machine_arn,
        progress_bar: cli.input_file.is_some(),
        inputs,
    })
}

impl LocalSession {
    /// The emulator's endpoint URL.
    #[cfg_attr(not(test), allow(dead_code))] // agreed interface; the runtime prints it via start
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether `--input` or `--input-file` gave executions to run.
    pub(crate) fn has_inputs(&self) -> bool {
        !self.inputs.is_empty()
    }

    /// The region the emulator's ARNs are in.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn region(&self) -> &str {
        &self.region
    }

    /// The ARN of the state machine created for the activities.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn state_machine_arn(&self) -> &str {
        &self.state_machine_arn
    }

    /// Starts the executions of --input/--input-file, shows progress (indicatif bar for
    /// --input-file), prints each result (output JSON, or error + cause), returns true when all
    /// SUCCEEDED.
    pub(crate) async fn run_inputs(&self) -> Result<bool, LocalError> {
        let outcomes = self.run_all().await?;
        Ok(outcomes.iter().all(|o| o.succeeded))
    }

    /// [`LocalSession::run_inputs`], returning each outcome as printed.
    async fn run_all(&self) -> Result<Vec<Outcome>, LocalError> {
        let bar = self.progress_bar.then(|| {
            let bar = indicatif::ProgressBar::new(self.inputs.len() as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} executions finished ({elapsed})",
            ) {
                bar.set_style(style);
            }
            bar
        });
        let runs = futures::stream::iter(&self.inputs).map(|input| self.run_one(input));
        let mut outcomes = Vec::with_capacity(self.inputs.len());
        let mut report = |outcome: Outcome| {
            // Results go to stdout either way; the bar (on stderr) steps aside while one prints.
            match &bar {
                Some(bar) => {
                    bar.suspend(|| println!("{}", outcome.line));
                    bar.inc(1);
                }
                None => println!("{}", outcome.line),
            }
            outcomes.push(outcome);
        };
        // With a bar, results print as they come; plain --input keeps the order given.
        if bar.is_some() {
            let mut results = runs.buffer_unordered(IN_FLIGHT);
            while let Some(outcome) = results.next().await {
                report(outcome?);
            }
        } else {
            let mut results = runs.buffered(IN_FLIGHT);
            while let Some(outcome) = results.next().await {
                report(outcome?);
            }
        }
        if let Some(bar) = &bar {
            bar.finish();
        }
        Ok(outcomes)
    }

    async fn run_one(&self, input: &Input) -> Result<Outcome, LocalError> {
        let execution_arn = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(&input.name)
            .input(&input.json)
            .send()
            .await
            .map_err(|e| call_error(format!("start execution `{}`", input.name), e))?
            .execution_arn()
            .to_owned();
        loop {
            let out = self
                .client
                .describe_execution()
                .execution_arn(&execution_arn)
                .send()
                .await
                .map_err(|e| call_error(format!("describe execution `{}`", input.name), e))?;
            let status = out.status();
            if *status == ExecutionStatus::Running || *status == ExecutionStatus::PendingRedrive {
                tokio::time::sleep(POLL_INTERVAL).await;
                continue;
            }
            return Ok(outcome(
                &input.name,
                status.as_str(),
                out.output(),
                out.error(),
                out.cause(),
            ));
        }
    }
}

/// How one execution ended, as printed.
#[derive(Debug, PartialEq)]
struct Outcome {
    succeeded: bool,
    line: String,
}

fn outcome(
    name: &str,
    status: &str,
    output: Option<&str>,
    error: Option<&str>,
    cause: Option<&str>,
) -> Outcome {
    let succeeded = status == "SUCCEEDED";
    let detail = if succeeded {
        output.unwrap_or("null").to_owned()
    } else {
        match (error, cause) {
            (Some(e), Some(c)) => format!("{e}: {c}"),
            (Some(e), None) => e.to_owned(),
            (None, Some(c)) => c.to_owned(),
            (None, None) => "(no error given)".to_owned(),
        }
    };
    Outcome {
        succeeded,
        line: format!("execution {name} {status}: {detail}"),
    }
}

fn inline_inputs(inputs: &[String]) -> Vec<Input> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, json)| Input {
            name: format!("input-{}", i + 1),
            json: json.clone(),
        })
        .collect()
}

fn read_input_file(path: &Path) -> Result<Vec<Input>, LocalError> {
    let text = std::fs::read_to_string(path).map_err(|source| LocalError::Read {
        flag: "--input-file",
        path: path.to_owned(),
        source,
    })?;
    parse_input_lines(&text, path)
}

/// JSON lines: one document per line, blank lines skipped.
fn parse_input_lines(text: &str, path: &Path) -> Result<Vec<Input>, LocalError> {
    let mut inputs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Err(source) = serde_json::from_str::<serde_json::Value>(line) {
            return Err(LocalError::InputLine {
                path: path.to_owned(),
                line: i + 1,
                source,
            });
        }
        inputs.push(Input {
            name: format!("line-{}", i + 1),
            json: line.to_owned(),
        });
    }
    Ok(inputs)
}

/// One Task state per activity, run one after the other.
fn default_definition(activities: &[LocalActivity]) -> String {
    let mut states = serde_json::Map::new();
    for (i, a) in activities.iter().enumerate() {
        let mut state = serde_json::json!({"Type": "Task", "Resource": a.arn});
        match activities.get(i + 1) {
            Some(next) => state["Next"] = next.name.clone().into(),
            None => state["End"] = true.into(),
        }
        states.insert(a.name.clone(), state);
    }
    serde_json::json!({
        "Comment": "stefuna --local: one Task state per activity",
        "StartAt": activities[0].name,
        "States": states,
    })
    .to_string()
}

/// Replaces each `${activity:NAME}` with the emulator's ARN of activity NAME (its
/// `Activity::name` or its Step Functions name, without regard to case).
fn substitute(
    template: &str,
    activities: &[LocalActivity],
    path: &Path,
) -> Result<String, LocalError> {
    const OPEN: &str = "${activity:";
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find(OPEN) {
        out.push_str(&rest[..at]);
        let after = &rest[at + OPEN.len()..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[at..]);
            rest = "";
            break;
        };
        let name = &after[..end];
        let activity = activities
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name) || a.sfn_name.eq_ignore_ascii_case(name))
            .ok_or_else(|| LocalError::UnknownActivity {
                path: path.to_owned(),
                name: name.to_owned(),
                known: activities
                    .iter()
                    .map(|a| format!("`{}`", a.name))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        out.push_str(&activity.arn);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Points the worker's configuration at the emulator.
fn point_config_at(
    config: &mut Config,
    activities: &[LocalActivity],
    single: bool,
    endpoint: &str,
    region: &str,
) {
    config.endpoint_url = Some(endpoint.to_owned());
    config.region = Some(region.to_owned());
    for a in activities {
        if single {
            config.activity_arn = Some(a.arn.clone());
        }
        let existing = config
            .activities
            .keys()
            .find(|k| k.eq_ignore_ascii_case(&a.name))
            .cloned();
        if existing.is_some() || !single {
            let key = existing.unwrap_or_else(|| a.name.to_lowercase());
            let entry = config.activities.entry(key).or_default();
            entry.activity_arn = Some(a.arn.clone());
        }
    }
}

/// An SDK client for the emulator: static test credentials, and a read timeout above the
/// 60 s `GetActivityTask` long poll. The SDK's default HTTP client reads no proxy settings, so
/// loopback calls never go through a proxy.
fn client(endpoint: &str, region: &str) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "stefuna-local",
        ))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .read_timeout(Duration::from_secs(70))
                .operation_attempt_timeout(Duration::from_secs(75))
                .build(),
        )
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

fn call_error<E, R>(action: String, e: aws_sdk_sfn::error::SdkError<E, R>) -> LocalError
where
    E: std::error::Error + aws_sdk_sfn::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    // A service error reads best as AWS words it: `InvalidDefinition: ...`.
    let message = match e.as_service_error() {
        Some(service) if service.code().is_some() => format!(
            "{}: {}",
            service.code().unwrap_or_default(),
            service.message().unwrap_or("(no message)")
        ),
        _ => DisplayErrorContext(&e).to_string(),
    };
    LocalError::Call { action, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acts() -> Vec<LocalActivity> {
        vec![
            LocalActivity {
                name: "Hello".into(),
                sfn_name: "hello-prod".into(),
                arn: "arn:aws:states:us-east-1:123456789012:activity:hello-prod".into(),
            },
            LocalActivity {
                name: "Resize".into(),
                sfn_name: "resize".into(),
                arn: "arn:aws:states:us-east-1:123456789012:activity:resize".into(),
            },
        ]
    }

    #[test]
    fn input_lines_skip_blanks_and_name_bad_lines() {
        let path = Path::new("in.jsonl");
        let inputs = parse_input_lines("{\"a\":1}\n\n  \n[2]\n", path).unwrap();
        assert_eq!(
            inputs,
            vec![
                Input {
                    name: "line-1".into(),
                    json: "{\"a\":1}".into()
                },
                Input {
                    name: "line-4".into(),
                    json: "[2]".into()
                },
            ]
        );
        let err = parse_input_lines("{}\n\n{oops\n", path)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--input-file in.jsonl line 3 is not JSON"),
            "{err}"
        );
    }

    #[test]
    fn inline_inputs_are_numbered() {
        let inputs = inline_inputs(&["{}".into(), "1".into()]);
        assert_eq!(inputs[0].name, "input-1");
        assert_eq!(
            inputs[1],
            Input {
                name: "input-2".into(),
                json: "1".into()
            }
        );
    }

    #[test]
    fn default_definition_chains_one_task_per_activity() {
        let def: serde_json::Value = serde_json::from_str(&default_definition(&acts())).unwrap();
        assert_eq!(def["StartAt"], "Hello");
        assert_eq!(def["States"]["Hello"]["Type"], "Task");
        assert_eq!(def["States"]["Hello"]["Resource"], acts()[0].arn);
        assert_eq!(def["States"]["Hello"]["Next"], "Resize");
        assert_eq!(def["States"]["Resize"]["End"], true);
        let one: serde_json::Value =
            serde_json::from_str(&default_definition(&acts()[1..])).unwrap();
        assert_eq!(one["StartAt"], "Resize");
        assert_eq!(one["States"]["Resize"]["End"], true);
    }

    #[test]
    fn placeholders_become_activity_arns() {
        let path = Path::new("m.json");
        let out = substitute(
            r#"{"a":"${activity:hello}","b":"${activity:RESIZE}","c":"${activity:hello-prod}","d":"${x}"}"#,
            &acts(),
            path,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["a"], acts()[0].arn);
        assert_eq!(v["b"], acts()[1].arn);
        assert_eq!(v["c"], acts()[0].arn);
        assert_eq!(v["d"], "${x}");
        let err = substitute("${activity:nope}", &acts(), path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`${activity:nope}`") && err.contains("`Hello`, `Resize`"),
            "{err}"
        );
    }

    #[test]
    fn outcomes_print_output_or_error_and_cause() {
        let ok = outcome(
            "input-1",
            "SUCCEEDED",
            Some(r#"{"message":"Hello World"}"#),
            None,
            None,
        );
        assert!(ok.succeeded);
        assert_eq!(
            ok.line,
            r#"execution input-1 SUCCEEDED: {"message":"Hello World"}"#
        );
        let failed = outcome(
            "input-2",
            "FAILED",
            None,
            Some("Task.Failure"),
            Some("boom"),
        );
        assert!(!failed.succeeded);
        assert_eq!(failed.line, "execution input-2 FAILED: Task.Failure: boom");
        assert!(!outcome("x", "TIMED_OUT", None, Some("States.Timeout"), None).succeeded);
    }

    #[test]
    fn config_points_at_the_emulator() {
        let mut config = Config::default();
        point_config_at(
            &mut config,
            &acts()[..1],
            true,
            "http://127.0.0.1:9",
            "us-east-1",
        );
        assert_eq!(config.endpoint_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(config.region.as_deref(), Some("us-east-1"));
        assert_eq!(config.activity_arn.as_deref(), Some(acts()[0].arn.as_str()));
        assert!(config.activities.is_empty());

        let mut config = Config::default();
        point_config_at(
            &mut config,
            &acts(),
            false,
            "http://127.0.0.1:9",
            "us-east-1",
        );
        let d = ActivityDefaults::default();
        assert_eq!(
            config.activity_settings("Resize", &d, false).unwrap().arn,
            acts()[1].arn
        );
        assert_eq!(
            config.activity_settings("Hello", &d, false).unwrap().arn,
            acts()[0].arn
        );
    }

    // End to end against the real emulator; this test plays the worker with raw SDK calls.

    const HELLO_ARN: &str = "arn:aws:states:eu-west-1:123456789012:activity:hello";

    fn local_cli(args: &[&str]) -> Cli {
        use clap::Parser;
        Cli::try_parse_from(
            ["worker", "--local"]
                .into_iter()
                .chain(args.iter().copied()),
        )
        .unwrap()
    }

    /// Answers `tasks` tasks of `arn`: output `{"message": "<greeting> <name>"}`, or a
    /// `Task.Failure` when the input's name is "fail".
    async fn fake_worker(client: aws_sdk_sfn::Client, arn: String, greeting: &str, tasks: usize) {
        let mut done = 0;
        while done < tasks {
            let task = client
                .get_activity_task()
                .activity_arn(&arn)
                .worker_name("test")
                .send()
                .await
                .unwrap();
            let Some(token) = task.task_token().filter(|t| !t.is_empty()) else {
                continue;
            };
            let input: serde_json::Value = serde_json::from_str(task.input().unwrap()).unwrap();
            let name = input["name"].as_str().unwrap_or("?");
            if name == "fail" {
                client
                    .send_task_failure()
                    .task_token(token)
                    .error("Task.Failure")
                    .cause("boom")
                    .send()
                    .await
                    .unwrap();
            } else {
                let output = serde_json::json!({"name": format!("{greeting} {name}")});
                client
                    .send_task_success()
                    .task_token(token)
                    .output(output.to_string())
                    .send()
                    .await
                    .unwrap();
            }
            done += 1;
        }
    }

    #[tokio::test]
    async fn inputs_run_and_report_success_and_failure() {
        let cli = local_cli(&[
            "--input",
            r#"{"name":"World"}"#,
            "--input",
            r#"{"name":"fail"}"#,
        ]);
        let mut config = {
            let mut c = Config::default();
            c.activity_arn = Some(HELLO_ARN.into());
            c
        };
        let acts = vec![("Hello".to_owned(), ActivityDefaults::default())];
        let session = start(&cli, &mut config, &acts).await.unwrap();
        assert!(session.has_inputs());
        assert!(session.endpoint().starts_with("http://127.0.0.1:"));
        assert_eq!(config.endpoint_url.as_deref(), Some(session.endpoint()));
        assert_eq!(config.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            config.healthcheck, 0,
            "a one-shot run serves no health port"
        );
        let settings = config.activity_settings("Hello", &acts[0].1, true).unwrap();
        assert_eq!(
            settings.arn, HELLO_ARN,
            "the emulator keeps the user's name and region"
        );

        let worker = tokio::spawn(fake_worker(
            client(session.endpoint(), session.region()),
            settings.arn,
            "Hello",
            2,
        ));
        let outcomes = session.run_all().await.unwrap();
        worker.await.unwrap();
        let lines: Vec<&str> = outcomes.iter().map(|o| o.line.as_str()).collect();
        assert_eq!(
            lines,
            [
                r#"execution input-1 SUCCEEDED: {"name":"Hello World"}"#,
                "execution input-2 FAILED: Task.Failure: boom",
            ]
        );
        assert!(outcomes[0].succeeded && !outcomes[1].succeeded);
    }

    #[tokio::test]
    async fn state_machine_file_and_input_file_chain_two_activities() {
        let dir = std::env::temp_dir().join(format!("stefuna-local-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let machine = dir.join("machine.json");
        std::fs::write(
            &machine,
            r#"{"StartAt": "Greet", "States": {
                "Greet": {"Type": "Task", "Resource": "${activity:Hello}", "Next": "Shout"},
                "Shout": {"Type": "Task", "Resource": "${activity:shout}", "End": true}}}"#,
        )
        .unwrap();
        let inputs = dir.join("inputs.jsonl");
        std::fs::write(&inputs, "{\"name\":\"a\"}\n\n{\"name\":\"b\"}\n").unwrap();
        let cli = local_cli(&[
            "--state-machine",
            machine.to_str().unwrap(),
            "--input-file",
            inputs.to_str().unwrap(),
        ]);
        // No ARNs at all: the activities are named after themselves, in us-east-1.
        let acts = vec![
            ("Hello".to_owned(), ActivityDefaults::default()),
            ("Shout".to_owned(), ActivityDefaults::default()),
        ];
        let mut config = Config::default();
        let session = start(&cli, &mut config, &acts).await;
        std::fs::remove_dir_all(&dir).unwrap();
        let session = session.unwrap();
        assert_eq!(session.region(), "us-east-1");
        let hello = config
            .activity_settings("Hello", &acts[0].1, false)
            .unwrap();
        let shout = config
            .activity_settings("Shout", &acts[1].1, false)
            .unwrap();
        assert_eq!(
            hello.arn,
            "arn:aws:states:us-east-1:123456789012:activity:Hello"
        );

        let c = client(session.endpoint(), session.region());
        let workers = [
            tokio::spawn(fake_worker(c.clone(), hello.arn, "hi", 2)),
            tokio::spawn(fake_worker(c, shout.arn, "HEY", 2)),
        ];
        let mut lines: Vec<String> = session
            .run_all()
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.line)
            .collect();
        for w in workers {
            w.await.unwrap();
        }
        lines.sort();
        assert_eq!(
            lines,
            [
                r#"execution line-1 SUCCEEDED: {"name":"HEY hi a"}"#,
                r#"execution line-3 SUCCEEDED: {"name":"HEY hi b"}"#,
            ]
        );
    }

    #[tokio::test]
    async fn without_inputs_the_machine_is_ready_for_executions() {
        let mut config = Config::default();
        let acts = vec![(
            "Hello".to_owned(),
            ActivityDefaults::new(Some(HELLO_ARN.into()), None, None),
        )];
        let session = start(&local_cli(&[]), &mut config, &acts).await.unwrap();
        assert!(!session.has_inputs());
        assert_eq!(
            config.healthcheck, 8080,
            "a serving local worker keeps its health port"
        );
        let c = client(session.endpoint(), session.region());
        let started = c
            .start_execution()
            .state_machine_arn(session.state_machine_arn())
            .input("{}")
            .send()
            .await
            .unwrap();
        let described = c
            .describe_execution()
            .execution_arn(started.execution_arn())
            .send()
            .await
            .unwrap();
        assert_eq!(*described.status(), ExecutionStatus::Running);
        let task = c
            .get_activity_task()
            .activity_arn(
                config
                    .activity_settings("Hello", &acts[0].1, true)
                    .unwrap()
                    .arn,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(task.input(), Some("{}"));
    }

    #[tokio::test]
    async fn bad_files_are_refused_with_their_names() {
        let acts = vec![("Hello".to_owned(), ActivityDefaults::default())];
        let missing = local_cli(&["--input-file", "/nonexistent/inputs.jsonl"]);
        let err = start(&missing, &mut Config::default(), &acts)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read --input-file /nonexistent/inputs.jsonl"),
            "{err}"
        );

        let dir = std::env::temp_dir().join(format!("stefuna-local-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let machine = dir.join("m.json");
        std::fs::write(&machine, r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${activity:Nope}","End":true}}}"#).unwrap();
        let cli = local_cli(&["--state-machine", machine.to_str().unwrap()]);
        let err = start(&cli, &mut Config::default(), &acts)
            .await
            .unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.to_string().contains("`${activity:Nope}`"), "{err}");
        assert!(err.to_string().contains("`Hello`"), "{err}");
    }

    #[tokio::test]
    async fn an_invalid_state_machine_is_reported_with_the_service_error() {
        let dir = std::env::temp_dir().join(format!("stefuna-local-asl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let machine = dir.join("m.json");
        std::fs::write(&machine, r#"{"StartAt":"Missing","States":{}}"#).unwrap();
        let cli = local_cli(&["--state-machine", machine.to_str().unwrap()]);
        let acts = vec![("Hello".to_owned(), ActivityDefaults::default())];
        let err = start(&cli, &mut Config::default(), &acts)
            .await
            .unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        let err = err.to_string();
        eprintln!("{err}");
        assert!(
            err.starts_with(
                "local Step Functions emulator: could not create the state machine: \
                 InvalidDefinition: "
            ),
            "{err}"
        );
    }
}
