//! Command-line flags of a stefuna worker binary.
//!
//! Each flag that sets a configuration key is the top layer of [`crate::config::load`]; absent
//! flags are left out of the layer so they never hide a value from a file or the environment.

use std::path::PathBuf;

use clap::Parser;
use serde::Serialize;

/// Flags of a stefuna worker; every configuration key can also come from `stefuna.toml` or a
/// `STEFUNA_*` environment variable.
///
/// Build one with `Cli::parse()` (clap) or `Cli::default()` and set fields; the struct is
/// `#[non_exhaustive]`, so a new flag is not a breaking change.
#[derive(Clone, Debug, Default, Parser, Serialize)]
#[command(
    about = "A stefuna AWS Step Functions activity worker.",
    long_about = "A stefuna AWS Step Functions activity worker.\n\nSettings come from, lowest first: \
                  the #[stefuna::activity] arguments, stefuna.toml (or --config), STEFUNA_* \
                  environment variables (nested keys with __), then these flags."
)]
#[non_exhaustive]
pub struct Cli {
    /// Config file to read instead of ./stefuna.toml (must exist).
    #[arg(long, value_name = "PATH")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Activity ARN to poll (arn:aws:states:REGION:ACCOUNT:activity:NAME).
    #[arg(long, value_name = "ARN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_arn: Option<String>,

    /// Tasks run at once.
    #[arg(long, visible_alias = "concurrency", value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<usize>,

    /// Most GetActivityTask long polls open at once.
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pollers: Option<usize>,

    /// Log filter: a level or tracing directives, e.g. `info` or `info,stefuna=debug`.
    #[arg(long, value_name = "FILTER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loglevel: Option<String>,

    /// Log format: `text` or `json`.
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,

    /// Heartbeat interval in seconds (0 = off).
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<u64>,

    /// Health server port (0 = off).
    #[arg(long, value_name = "PORT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<u16>,

    /// Health server bind address (an IP address).
    #[arg(long, value_name = "IP")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck_host: Option<String>,

    /// Base of the worker name `{name}-{hostname}-{pid}`.
    #[arg(long, value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,

    /// Step Functions endpoint URL (default: AWS_ENDPOINT_URL_SFN, AWS_ENDPOINT_URL, then AWS).
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,

    /// AWS region (default: the activity ARN's).
    #[arg(long, value_name = "REGION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,

    /// Seconds in-flight tasks get to finish on shutdown (default: wait for them).
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_grace: Option<u64>,

    /// Where tasks run: `thread` (in this process) or `process` (a warm child process per
    /// slot; a crash fails only its task).
    #[arg(long, value_name = "MODE", value_parser = ["thread", "process"])]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolation: Option<String>,

    /// Print what this binary would run (each activity's name, ARN, region, heartbeat and
    /// processes, after every configuration layer) as JSON, and exit; nothing starts.
    #[arg(long, conflicts_with = "local")]
    #[serde(skip)]
    pub describe: bool,

    /// Run against an in-process Step Functions emulator (no AWS account needed).
    #[arg(long)]
    #[serde(skip)]
    pub local: bool,

    /// Execution input JSON to start (repeatable; with --local).
    #[arg(long, value_name = "JSON", requires = "local", value_parser = parse_json)]
    #[serde(skip)]
    pub input: Vec<String>,

    /// File of execution inputs, one JSON document per line (with --local).
    #[arg(long, value_name = "FILE", requires = "local")]
    #[serde(skip)]
    pub input_file: Option<PathBuf>,

    /// State machine definition (ASL JSON) to run instead of one Task state per activity;
    /// `${activity:NAME}` stands for the ARN of activity NAME (with --local).
    #[arg(long, value_name = "FILE", requires = "local")]
    #[serde(skip)]
    pub state_machine: Option<PathBuf>,

    /// Mock configuration file (AWS's MockConfigFile format) answering the Task states that
    /// call service integrations (with --local; see docs/stefuna-local.md).
    #[arg(long, value_name = "FILE", requires = "local")]
    #[serde(skip)]
    pub mock_config: Option<PathBuf>,

    /// The test case of --mock-config that --input executions run: the one under
    /// `StateMachines."stefuna-local".TestCases` (with --mock-config).
    #[arg(long, value_name = "NAME", requires = "mock_config")]
    #[serde(skip)]
    pub mock_test_case: Option<String>,
}

/// Checks that `--input` is one JSON document, so a typo fails before anything starts.
fn parse_json(s: &str) -> Result<String, String> {
    serde_json::from_str::<serde_json::Value>(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("not valid JSON ({e}); expected e.g. '{{\"name\": \"World\"}}'"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("worker").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?} refused: {e}"))
    }

    #[test]
    fn command_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_flags_is_all_none() {
        let cli = parse(&[]);
        assert!(cli.config.is_none() && cli.activity_arn.is_none() && !cli.local);
        assert!(cli.input.is_empty());
        assert_eq!(serde_json::to_value(&cli).unwrap(), serde_json::json!({}));
    }

    #[test]
    fn accepts_every_flag() {
        let cli = parse(&[
            "--config",
            "/etc/stefuna.toml",
            "--activity-arn",
            "arn:aws:states:eu-west-1:123456789012:activity:hello",
            "--processes",
            "3",
            "--pollers",
            "2",
            "--loglevel",
            "info,stefuna=debug",
            "--log-format",
            "json",
            "--heartbeat",
            "30",
            "--healthcheck",
            "0",
            "--healthcheck-host",
            "127.0.0.1",
            "--name",
            "Resizer",
            "--endpoint-url",
            "http://127.0.0.1:8083",
            "--region",
            "eu-west-1",
            "--shutdown-grace",
            "15",
            "--local",
            "--input",
            r#"{"name":"a"}"#,
            "--input",
            "[1,2]",
            "--input-file",
            "inputs.jsonl",
            "--state-machine",
            "machine.asl.json",
        ]);
        assert_eq!(cli.config, Some(PathBuf::from("/etc/stefuna.toml")));
        assert_eq!(
            cli.activity_arn.as_deref(),
            Some("arn:aws:states:eu-west-1:123456789012:activity:hello")
        );
        assert_eq!(cli.processes, Some(3));
        assert_eq!(cli.pollers, Some(2));
        assert_eq!(cli.loglevel.as_deref(), Some("info,stefuna=debug"));
        assert_eq!(cli.log_format.as_deref(), Some("json"));
        assert_eq!(cli.heartbeat, Some(30));
        assert_eq!(cli.healthcheck, Some(0));
        assert_eq!(cli.healthcheck_host.as_deref(), Some("127.0.0.1"));
        assert_eq!(cli.name.as_deref(), Some("Resizer"));
        assert_eq!(cli.endpoint_url.as_deref(), Some("http://127.0.0.1:8083"));
        assert_eq!(cli.region.as_deref(), Some("eu-west-1"));
        assert_eq!(cli.shutdown_grace, Some(15));
        assert!(cli.local);
        assert_eq!(
            cli.input,
            vec![r#"{"name":"a"}"#.to_owned(), "[1,2]".into()]
        );
        assert_eq!(cli.input_file, Some(PathBuf::from("inputs.jsonl")));
        assert_eq!(cli.state_machine, Some(PathBuf::from("machine.asl.json")));
    }

    #[test]
    fn concurrency_is_an_alias_of_processes() {
        assert_eq!(parse(&["--concurrency", "7"]).processes, Some(7));
    }

    #[test]
    fn only_config_keys_are_serialized() {
        let cli = parse(&[
            "--config",
            "x.toml",
            "--heartbeat",
            "5",
            "--local",
            "--input",
            "{}",
        ]);
        assert_eq!(
            serde_json::to_value(&cli).unwrap(),
            serde_json::json!({"heartbeat": 5})
        );
    }

    #[test]
    fn refuses_bad_values() {
        for args in [
            &["--processes", "many"][..],
            &["--healthcheck", "70000"],
            &["--heartbeat", "-1"],
            &["--log-format", "xml"],
            &["--local", "--input", "{not json"],
            &["--input", "{}"],
            &["--heartbeet", "3"],
            &["--describe", "--local"],
        ] {
            let argv = std::iter::once("worker").chain(args.iter().copied());
            assert!(Cli::try_parse_from(argv).is_err(), "{args:?} was accepted");
        }
    }

    #[test]
    fn input_without_local_names_the_missing_flag() {
        let err = Cli::try_parse_from(["worker", "--input", "{}"]).unwrap_err();
        assert!(err.to_string().contains("--local"), "{err}");
    }

    #[test]
    fn help_lists_every_flag() {
        let help = Cli::command().render_long_help().to_string();
        for flag in [
            "--config",
            "--activity-arn",
            "--processes",
            "concurrency",
            "--pollers",
            "--loglevel",
            "--log-format",
            "--heartbeat",
            "--healthcheck",
            "--healthcheck-host",
            "--name",
            "--endpoint-url",
            "--region",
            "--shutdown-grace",
            "--describe",
            "--local",
            "--input",
            "--input-file",
            "--state-machine",
        ] {
            assert!(help.contains(flag), "--help does not list {flag}:\n{help}");
        }
    }
}
