//! Tests of loading and layering.

mod errors;

use clap::Parser;
use std::time::Duration;

use figment::Jail;

use super::*;

pub(super) const ARN: &str = "arn:aws:states:eu-west-1:123456789012:activity:hello";
pub(super) const RESIZE_ARN: &str = "arn:aws:states:us-east-1:123456789012:activity:resize";

pub(super) fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("worker").chain(args.iter().copied())).unwrap()
}

pub(super) fn hello(
    arn: Option<&str>,
    heartbeat: Option<u64>,
    concurrency: Option<usize>,
) -> Vec<(String, ActivityDefaults)> {
    vec![(
        "Hello".to_owned(),
        ActivityDefaults::new(arn.map(str::to_owned), heartbeat, concurrency),
    )]
}

pub(super) fn two() -> Vec<(String, ActivityDefaults)> {
    vec![
        (
            "Hello".to_owned(),
            ActivityDefaults::new(Some(ARN.into()), Some(60), None),
        ),
        (
            "Resize".to_owned(),
            ActivityDefaults::new(Some(RESIZE_ARN.into()), None, Some(2)),
        ),
    ]
}

/// The error message of `load`, which must fail.
pub(super) fn load_err(cli: &Cli, activities: &[(String, ActivityDefaults)]) -> String {
    match load(cli, activities) {
        Ok(c) => panic!("loaded {c:?}"),
        Err(e) => e.to_string(),
    }
}

pub(super) fn assert_mentions(message: &str, parts: &[&str]) {
    eprintln!("{message}");
    for part in parts {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
}

#[test]
fn nothing_set_gives_the_defaults() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let config = load(&cli(&[]), &[]).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.name, "StefunaWorker");
        assert_eq!(config.healthcheck, 8080);
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(config.processes >= 1);
        assert_eq!(config.worker_config, serde_json::json!({}));
        Ok(())
    });
}

#[test]
fn config_is_a_provider_of_its_defaults() {
    let config: Config = Figment::from(Config::default()).extract().unwrap();
    assert_eq!(config, Config::default());
}

#[test]
fn each_layer_overrides_the_one_below() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let acts = hello(Some(ARN), Some(10), Some(2));
        let c = load(&cli(&[]), &acts).unwrap();
        assert_eq!(
            (c.heartbeat, c.processes, c.activity_arn.as_deref()),
            (10, 2, Some(ARN))
        );
        assert_eq!(c.name, "StefunaWorker", "built-in default below everything");

        jail.create_file(
            "stefuna.toml",
            "heartbeat = 20\nprocesses = 3\nname = \"FromFile\"",
        )?;
        let c = load(&cli(&[]), &acts).unwrap();
        assert_eq!(
            (c.heartbeat, c.processes, c.name.as_str()),
            (20, 3, "FromFile")
        );

        jail.set_env("STEFUNA_HEARTBEAT", 30);
        jail.set_env("STEFUNA_PROCESSES", 4);
        let c = load(&cli(&[]), &acts).unwrap();
        assert_eq!(
            (c.heartbeat, c.processes, c.name.as_str()),
            (30, 4, "FromFile")
        );

        let c = load(&cli(&["--heartbeat", "40"]), &acts).unwrap();
        assert_eq!(
            (c.heartbeat, c.processes),
            (40, 4),
            "an absent flag keeps the env value"
        );

        let s = c.activity_settings("Hello", &acts[0].1, true).unwrap();
        assert_eq!(s.heartbeat, Some(Duration::from_secs(40)));
        assert_eq!(s.processes, 4);
        Ok(())
    });
}

#[test]
fn explicit_zero_heartbeat_overrides_the_attribute() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let acts = hello(Some(ARN), Some(120), None);
        let c = load(&cli(&["--heartbeat", "0"]), &acts).unwrap();
        let s = c.activity_settings("Hello", &acts[0].1, true).unwrap();
        assert_eq!(s.heartbeat, None);
        Ok(())
    });
}

#[test]
fn config_flag_replaces_the_default_file() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("stefuna.toml", "heartbeat = 1")?;
        jail.create_file("other.toml", "heartbeat = 2")?;
        let c = load(&cli(&["--config", "other.toml"]), &[]).unwrap();
        assert_eq!(c.heartbeat, 2);
        assert_eq!(load(&cli(&[]), &[]).unwrap().heartbeat, 1);
        Ok(())
    });
}

#[test]
fn missing_config_file_is_refused() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let err = load_err(&cli(&["--config", "nope/y.toml"]), &[]);
        let path = jail.directory().join("nope/y.toml");
        assert_eq!(
            err,
            format!(
                "config file {} (from --config) does not exist",
                path.display()
            )
        );
        Ok(())
    });
}

#[test]
fn concurrency_is_an_alias_of_processes() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("stefuna.toml", "concurrency = 3")?;
        assert_eq!(load(&cli(&[]), &[]).unwrap().processes, 3);
        assert_eq!(load(&cli(&["--processes", "7"]), &[]).unwrap().processes, 7);
        jail.set_env("STEFUNA_CONCURRENCY", 5);
        assert_eq!(load(&cli(&[]), &[]).unwrap().processes, 5);

        jail.create_file("stefuna.toml", "concurrency = 3\nprocesses = 4")?;
        let err = load_err(&cli(&[]), &[]);
        assert_mentions(&err, &["`processes`", "`concurrency`", "keep one"]);
        Ok(())
    });
}

#[test]
fn nested_env_keys_fill_tables() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "stefuna.toml",
            "[worker_config]\nregion = \"eu\"\n\n[activities.Resize]\nheartbeat = 9",
        )?;
        jail.set_env("STEFUNA_WORKER_CONFIG__BUCKET", "x");
        jail.set_env("STEFUNA_ACTIVITIES__RESIZE__PROCESSES", 4);
        let acts = two();
        let c = load(&cli(&[]), &acts).unwrap();
        assert_eq!(
            c.worker_config,
            serde_json::json!({"region": "eu", "bucket": "x"})
        );
        let s = c.activity_settings("Resize", &acts[1].1, false).unwrap();
        assert_eq!(s.processes, 4);
        assert_eq!(s.heartbeat, Some(Duration::from_secs(9)));
        assert_eq!(s.arn, RESIZE_ARN);

        jail.set_env("STEFUNA_ACTIVITIES__RESIZE__PROCESSES", "x");
        let err = load_err(&cli(&[]), &acts);
        assert_eq!(
            err,
            "invalid value for `activities.resize.processes`: found string \"x\", expected \
             an integer (from env STEFUNA_ACTIVITIES__RESIZE__PROCESSES)"
        );
        Ok(())
    });
}

#[test]
fn several_activities_resolve_separately() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let acts = two();
        let c = load(&cli(&[]), &acts).unwrap();
        let h = c.activity_settings("Hello", &acts[0].1, false).unwrap();
        let r = c.activity_settings("Resize", &acts[1].1, false).unwrap();
        assert_eq!(
            h,
            ActivitySettings {
                arn: ARN.into(),
                region: "eu-west-1".into(),
                processes: Config::default().processes,
                heartbeat: Some(Duration::from_secs(60)),
            }
        );
        assert_eq!(
            r,
            ActivitySettings {
                arn: RESIZE_ARN.into(),
                region: "us-east-1".into(),
                processes: 2,
                heartbeat: None,
            }
        );

        // Top-level keys from a file beat the attribute arguments of every activity.
        jail.create_file("stefuna.toml", "processes = 5\nheartbeat = 7")?;
        let c = load(&cli(&[]), &acts).unwrap();
        for (name, d) in &acts {
            let s = c.activity_settings(name, d, false).unwrap();
            assert_eq!(
                (s.processes, s.heartbeat),
                (5, Some(Duration::from_secs(7)))
            );
        }
        Ok(())
    });
}

#[test]
fn a_later_top_level_value_beats_an_earlier_per_activity_one() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "stefuna.toml",
            "processes = 9\n[activities.Resize]\nprocesses = 3\n[activities.hello]\nheartbeat = 4",
        )?;
        let acts = two();
        let c = load(&cli(&[]), &acts).unwrap();
        // Same layer: the activity's own table wins; a file beats the attribute.
        let r = c.activity_settings("Resize", &acts[1].1, false).unwrap();
        let h = c.activity_settings("Hello", &acts[0].1, false).unwrap();
        assert_eq!((r.processes, h.processes), (3, 9));
        assert_eq!(h.heartbeat, Some(Duration::from_secs(4)));

        jail.set_env("STEFUNA_PROCESSES", 6);
        let c = load(&cli(&["--heartbeat", "11"]), &acts).unwrap();
        let r = c.activity_settings("Resize", &acts[1].1, false).unwrap();
        let h = c.activity_settings("Hello", &acts[0].1, false).unwrap();
        assert_eq!((r.processes, h.processes), (6, 6));
        assert_eq!(h.heartbeat, Some(Duration::from_secs(11)));
        assert_eq!(r.heartbeat, Some(Duration::from_secs(11)));

        // One activity: a flag beats its [activities.hello] table too.
        jail.create_file("stefuna.toml", "[activities.hello]\nheartbeat = 4")?;
        let acts = hello(Some(ARN), None, None);
        let c = load(&cli(&["--heartbeat", "2"]), &acts).unwrap();
        let s = c.activity_settings("Hello", &acts[0].1, true).unwrap();
        assert_eq!(s.heartbeat, Some(Duration::from_secs(2)));
        Ok(())
    });
}

#[test]
fn several_activities_refuse_a_top_level_arn_and_unknown_names() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let err = load_err(&cli(&["--activity-arn", ARN]), &two());
        assert_mentions(
            &err,
            &[
                "`activity_arn`",
                ARN,
                "--activity-arn",
                "`hello`",
                "`resize`",
            ],
        );

        jail.create_file("stefuna.toml", "[activities.resze]\nprocesses = 2")?;
        let err = load_err(&cli(&[]), &two());
        assert_mentions(
            &err,
            &["unknown activity `resze`", "stefuna.toml", "`resize`"],
        );
        Ok(())
    });
}

#[test]
fn activities_table_applies_to_a_single_activity() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "stefuna.toml",
            "heartbeat = 5\n[activities.Hello]\nheartbeat = 8",
        )?;
        let acts = hello(Some(ARN), None, None);
        let c = load(&cli(&[]), &acts).unwrap();
        let s = c.activity_settings("hello", &acts[0].1, true).unwrap();
        assert_eq!(s.heartbeat, Some(Duration::from_secs(8)));
        Ok(())
    });
}
