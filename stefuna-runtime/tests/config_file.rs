//! The configuration as a worker binary sees it: a full `stefuna.toml`, flags on top, and the
//! figment extended with a layer of the application's own.
#![allow(clippy::result_large_err)] // Jail closures return figment's own (large) error type

use std::time::Duration;

use clap::Parser;
use figment::Jail;
use figment::providers::Serialized;
use stefuna_core::ActivityDefaults;
use stefuna_runtime::cli::Cli;
use stefuna_runtime::config::{self, ActivitySettings, Config, LogFormat};

const FULL: &str = r#"
name = "Resizer"
activity_arn = "arn:aws:states:eu-west-1:123456789012:activity:resize"
concurrency = 4
pollers = 2
heartbeat = 30
healthcheck = 9000
healthcheck_host = "127.0.0.1"
loglevel = "info,stefuna=debug"
log_format = "json"
shutdown_grace = 20
liveness_timeout = 120
endpoint_url = "http://127.0.0.1:8083"
maxtasksperchild = 10

[worker_config]
bucket = "images"
sizes = [64, 128]

[worker_config.limits]
max_mb = 5

[server_config]
tag = "blue"
"#;

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("resizer").chain(args.iter().copied())).unwrap()
}

fn resize() -> Vec<(String, ActivityDefaults)> {
    vec![(
        "Resize".into(),
        ActivityDefaults::new(None, Some(120), Some(1)),
    )]
}

#[test]
fn full_file_fills_every_key() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_dir("conf")?;
        jail.create_file("conf/resizer.toml", FULL)?;
        let c = config::load(&cli(&["--config", "conf/resizer.toml"]), &resize()).unwrap();
        assert_eq!(c.name, "Resizer");
        assert_eq!(c.processes, 4);
        assert_eq!(c.pollers, Some(2));
        assert_eq!(c.healthcheck, 9000);
        assert_eq!(c.healthcheck_host.to_string(), "127.0.0.1");
        assert_eq!(c.loglevel, "info,stefuna=debug");
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.shutdown_grace, Some(20));
        assert_eq!(c.liveness_timeout, 120);
        assert_eq!(c.endpoint_url.as_deref(), Some("http://127.0.0.1:8083"));
        assert_eq!(
            c.worker_config,
            serde_json::json!({"bucket": "images", "sizes": [64, 128], "limits": {"max_mb": 5}})
        );
        assert_eq!(
            c.server_config.get::<String>("tag").unwrap().as_deref(),
            Some("blue")
        );
        assert_eq!(c.maxtasksperchild, Some(10));
        let s: ActivitySettings = c.activity_settings("Resize", &resize()[0].1, true).unwrap();
        assert_eq!(
            s.arn,
            "arn:aws:states:eu-west-1:123456789012:activity:resize"
        );
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(s.processes, 4);
        assert_eq!(s.heartbeat, Some(Duration::from_secs(30)));
        Ok(())
    });
}

#[test]
fn flags_override_the_file_key_by_key() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("stefuna.toml", FULL)?;
        let c = config::load(
            &cli(&[
                "--concurrency",
                "8",
                "--log-format",
                "text",
                "--healthcheck",
                "0",
            ]),
            &resize(),
        )
        .unwrap();
        assert_eq!(
            (c.processes, c.log_format, c.healthcheck),
            (8, LogFormat::Text, 0)
        );
        assert_eq!(c.heartbeat, 30, "keys without a flag keep the file's value");
        assert_eq!(c.worker_config["bucket"], "images");
        Ok(())
    });
}

#[test]
fn applications_can_add_a_layer() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("stefuna.toml", "heartbeat = 30")?;
        jail.set_env("STEFUNA_HEARTBEAT", 40);
        let acts = resize();
        let figment = Config::figment(&cli(&[]), &acts)
            .unwrap()
            .merge(Serialized::default(
                "activity_arn",
                "arn:aws:states:us-east-2:1:activity:r",
            ));
        let c = Config::from_figment(&figment, &acts).unwrap();
        assert_eq!(c.heartbeat, 40);
        assert_eq!(
            c.activity_settings("Resize", &acts[0].1, true)
                .unwrap()
                .region,
            "us-east-2"
        );
        Ok(())
    });
}

#[test]
fn errors_carry_the_config_exit_code() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("stefuna.toml", "processes = \"four\"")?;
        let err = config::load(&cli(&[]), &resize()).unwrap_err();
        assert_eq!(config::ConfigError::EXIT_CODE, 2);
        let message = err.to_string();
        assert!(
            message.contains("`processes`") && message.contains("\"four\""),
            "{message}"
        );
        Ok(())
    });
}
