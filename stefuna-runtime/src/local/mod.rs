//! `--local`: run against an in-process stefuna-local Step Functions emulator.
//!
//! [`start`] brings the emulator up on loopback, creates the activities and a state machine for
//! them, and points the configuration at it; the worker then runs unchanged. [`LocalSession::run_inputs`]
//! starts the executions given with `--input` / `--input-file` and reports how each ended.
//!
//! Files: `inputs.rs` reads `--input` / `--input-file`, `machine.rs` builds the state machine
//! definition (placeholders go through [`crate::definition`], shared with stefuna-xtask),
//! `session.rs` runs the executions and shows their progress.

mod inputs;
mod machine;
mod session;
#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_sfn::config::timeout::TimeoutConfig;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::error::DisplayErrorContext;
use stefuna_core::ActivityDefaults;
use stefuna_local::Emulator;

use crate::cli::Cli;
use crate::config::{Config, activity_arn_region};
use crate::definition::DefinitionError;

pub(crate) use session::LocalSession;

/// How long a `GetActivityTask` waits on the in-process endpoint before answering empty.
const LOCAL_LONG_POLL: Duration = Duration::from_secs(1);
/// Role ARN given to local state machines (the emulator does not check it).
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/stefuna-local";
/// Name of the state machine created for the hosted activities.
const STATE_MACHINE_NAME: &str = "stefuna-local";

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
    /// The `--state-machine` file's `${activity:NAME}` placeholders do not resolve.
    #[error("--state-machine {}: {source}", path.display())]
    Definition {
        /// The file.
        path: PathBuf,
        /// What is wrong with its placeholders.
        source: DefinitionError,
    },
    /// The `--mock-config` file is unreadable or not a valid mock configuration.
    #[error("--mock-config: {0}")]
    MockConfig(#[source] stefuna_local::MockConfigError),
    /// Local mode was started without any activity.
    #[error("--local needs at least one activity to run")]
    NoActivities,
}

/// A hosted activity as created in the emulator.
#[derive(Clone, Debug)]
struct LocalActivity {
    /// The activity's name (`Activity::name`).
    name: String,
    /// The emulator's ARN for it; its last part is the name in Step Functions (the user's ARN's).
    arn: String,
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
    let mut inputs = inputs::inline_inputs(&cli.input);
    if let Some(path) = &cli.input_file {
        inputs.extend(inputs::read_input_file(path)?);
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
    let mut builder = Emulator::builder().long_poll(LOCAL_LONG_POLL);
    if let Some(path) = &cli.mock_config {
        let mocks = stefuna_local::MockConfig::from_file(path).map_err(LocalError::MockConfig)?;
        builder = builder.mock_config(mocks);
    }
    let emulator = builder.start().await.map_err(LocalError::Start)?;
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
            arn: out.activity_arn().to_owned(),
        });
    }

    let definition = match (&definition_template, &cli.state_machine) {
        (Some(template), Some(path)) => machine::substitute(template, &created, path)?,
        _ => machine::default_definition(&created),
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
        execution_target: match &cli.mock_test_case {
            Some(case) => format!("{state_machine_arn}#{case}"),
            None => state_machine_arn.clone(),
        },
        state_machine_arn,
        progress_bar: cli.input_file.is_some(),
        inputs,
    })
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
mod unit_tests {
    use super::*;

    pub(super) fn acts() -> Vec<LocalActivity> {
        vec![
            LocalActivity {
                name: "Hello".into(),
                arn: "arn:aws:states:us-east-1:123456789012:activity:hello-prod".into(),
            },
            LocalActivity {
                name: "Resize".into(),
                arn: "arn:aws:states:us-east-1:123456789012:activity:resize".into(),
            },
        ]
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
}
