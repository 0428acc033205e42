//! Tests of the error messages: key, value and source.

use std::time::Duration;

use figment::Jail;

use super::*;

#[test]
fn wrong_type_names_key_value_and_env_var() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("STEFUNA_HEARTBEAT", "ten");
        let err = load_err(&cli(&[]), &[]);
        assert_eq!(
            err,
            "invalid value for `heartbeat`: found string \"ten\", expected an integer \
             (from env STEFUNA_HEARTBEAT)"
        );
        Ok(())
    });
}

#[test]
fn wrong_types_in_a_file_name_the_file() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("stefuna.toml", "healthcheck = 70000\nprocesses = -1")?;
        let err = load_err(&cli(&[]), &[]);
        let file = jail.directory().join("stefuna.toml");
        assert_mentions(
            &err,
            &[
                "`healthcheck`",
                "70000",
                "0 to 65535",
                &file.display().to_string(),
            ],
        );
        Ok(())
    });
}

#[test]
fn unknown_key_in_file_lists_the_accepted_keys() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("stefuna.toml", "heartbeet = 10")?;
        let err = load_err(&cli(&[]), &[]);
        let file = jail.directory().join("stefuna.toml");
        assert!(
            err.starts_with(&format!(
                "unknown key `heartbeet` in {}; expected one of `name`, `activity_arn`",
                file.display()
            )),
            "{err}"
        );
        assert_mentions(&err, &["`heartbeat`", "`processes`"]);
        Ok(())
    });
}

#[test]
fn unknown_key_in_env_names_the_variable() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("STEFUNA_HEARTBEET", 10);
        let err = load_err(&cli(&[]), &[]);
        assert_mentions(&err, &["unknown key `heartbeet`", "env STEFUNA_HEARTBEET"]);
        Ok(())
    });
}

#[test]
fn emulator_variables_are_not_worker_keys() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("STEFUNA_LOCAL_PORT", 9000);
        jail.set_env("STEFUNA_LOCAL_THROTTLE", "0.1");
        jail.set_env("STEFUNA_HEARTBEAT", 7);
        let acts = [(
            "hello".to_string(),
            ActivityDefaults::new(
                Some("arn:aws:states:us-east-1:123456789012:activity:hello".into()),
                None,
                None,
            ),
        )];
        let c = load(&cli(&[]), &acts).unwrap();
        assert_eq!(c.heartbeat, 7);
        Ok(())
    });
}

#[test]
fn unknown_key_inside_an_activity_table() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("stefuna.toml", "[activities.hello]\nheartbet = 1")?;
        let err = load_err(&cli(&[]), &two());
        assert_mentions(
            &err,
            &[
                "unknown key `activities.hello.heartbet`",
                "stefuna.toml",
                "`heartbeat`",
            ],
        );
        Ok(())
    });
}

#[test]
fn bad_enum_ip_and_filter_values_are_refused() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("stefuna.toml", "log_format = \"xml\"")?;
        let err = load_err(&cli(&[]), &[]);
        assert_mentions(
            &err,
            &[
                "`log_format`",
                "\"xml\"",
                "`text` or `json`",
                "stefuna.toml",
            ],
        );

        jail.create_file("stefuna.toml", "")?;
        jail.set_env("STEFUNA_HEALTHCHECK_HOST", "localhost");
        let err = load_err(&cli(&[]), &[]);
        assert_mentions(
            &err,
            &[
                "`healthcheck_host`",
                "\"localhost\"",
                "env STEFUNA_HEALTHCHECK_HOST",
                "IP address",
            ],
        );

        jail.clear_env();
        let err = load_err(&cli(&["--loglevel", "info,stefuna=loud"]), &[]);
        assert_mentions(&err, &["`loglevel`", "info,stefuna=loud", "--loglevel"]);
        assert!(load(&cli(&["--loglevel", "warn,stefuna_runtime=debug"]), &[]).is_ok());
        Ok(())
    });
}

#[test]
fn bad_toml_names_the_file() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("stefuna.toml", "heartbeat = = 1")?;
        let err = load_err(&cli(&[]), &[]);
        assert_mentions(&err, &["config file", "stefuna.toml", "not valid"]);
        Ok(())
    });
}

#[test]
fn state_machine_arn_is_not_an_activity_arn() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let sm = "arn:aws:states:us-east-1:123:stateMachine:x";
        let err = load_err(&cli(&["--activity-arn", sm]), &hello(Some(ARN), None, None));
        assert_eq!(
            err,
            format!(
                "`activity_arn` \"{sm}\" (from --activity-arn) is not an activity ARN; \
                 expected arn:aws:states:REGION:ACCOUNT:activity:NAME"
            )
        );
        let err = load_err(&cli(&[]), &hello(Some("hello"), None, None));
        assert_mentions(&err, &["`arn` \"hello\"", "(from #[stefuna::activity])"]);
        Ok(())
    });
}

#[test]
fn missing_arn_says_where_to_set_it() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let err = load_err(&cli(&[]), &hello(None, None, None));
        assert_eq!(
            err,
            "no activity ARN: set `arn` in #[stefuna::activity], `activity_arn` in \
             stefuna.toml, STEFUNA_ACTIVITY_ARN or --activity-arn"
        );
        // --local creates the activity, so it needs no ARN; a bad one is still refused.
        assert!(load(&cli(&["--local"]), &hello(None, None, None)).is_ok());
        let err = load_err(&cli(&["--local"]), &hello(Some("nope"), None, None));
        assert_mentions(&err, &["`arn` \"nope\"", "not an activity ARN"]);
        jail.set_env("STEFUNA_ACTIVITY_ARN", ARN);
        assert_eq!(
            load(&cli(&[]), &hello(None, None, None))
                .unwrap()
                .activity_arn
                .as_deref(),
            Some(ARN)
        );
        Ok(())
    });
}

/// stefuna 1.0.1: "If 0, cpu_count is used"; only `pollers = 0` is refused.
#[test]
fn zero_processes_means_the_cpu_count() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("STEFUNA_ACTIVITIES__RESIZE__PROCESSES", "0");
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let c = load(&cli(&["--processes", "0"]), &two()).unwrap();
        assert_eq!(c.processes, cpus);
        let resize = c.activity_settings("Resize", &two()[1].1, false).unwrap();
        assert_eq!(resize.processes, cpus);

        jail.clear_env();
        let c = load(&cli(&["--processes", "0"]), &hello(Some(ARN), None, None)).unwrap();
        let s = c.activity_settings("Hello", &hello(Some(ARN), None, None)[0].1, true);
        assert_eq!(s.unwrap().processes, cpus);

        let c = Config {
            processes: 0,
            ..Config::default()
        };
        let s = c.activity_settings(
            "Hello",
            &ActivityDefaults::new(Some(ARN.into()), None, None),
            true,
        );
        assert_eq!(s.unwrap().processes, cpus, "a hand-built config too");

        let err = load_err(&cli(&["--pollers", "0"]), &[]);
        assert_mentions(&err, &["`pollers`", "found 0", "--pollers", "at least 1"]);
        Ok(())
    });
}

/// `warning`, `critical` and `fatal` (stefuna 1.0.1's levels) work; a bare word that is no level
/// is refused instead of silencing every log line.
#[test]
fn loglevel_takes_stefuna_1_0_1_levels_and_refuses_bare_words() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let c = load(&cli(&["--loglevel", "warning"]), &[]).unwrap();
        assert_eq!(c.loglevel, "warn");
        jail.set_env("STEFUNA_LOGLEVEL", "critical");
        assert_eq!(load(&cli(&[]), &[]).unwrap().loglevel, "error");
        let err = load_err(&cli(&["--loglevel", "verbose"]), &[]);
        assert_mentions(
            &err,
            &[
                "`loglevel`",
                "\"verbose\"",
                "--loglevel",
                "`warning`",
                "target=level",
            ],
        );
        Ok(())
    });
}

/// The server's own `server_config` keys are checked like every other key; the user's pass.
#[test]
fn server_config_own_keys_are_typed() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "stefuna.toml",
            "[server_config]\nlost_task_grace = \"soon\"\ndelivery_budget = -1\npool = 3\n",
        )?;
        let err = load_err(&cli(&[]), &[]);
        assert_mentions(
            &err,
            &[
                "`server_config.lost_task_grace`",
                "\"soon\"",
                "stefuna.toml",
                "non-negative number",
            ],
        );
        assert_mentions(&err, &["`server_config.delivery_budget`", "found -1"]);
        assert!(
            !err.contains("pool"),
            "user keys are not the server's: {err}"
        );

        jail.create_file(
            "stefuna.toml",
            "[server_config]\nlost_task_grace = 1.5\npool = 3\n",
        )?;
        jail.set_env("STEFUNA_SERVER_CONFIG__DELIVERY_BUDGET", "4");
        let c = load(&cli(&[]), &[]).unwrap();
        assert_eq!(
            c.server_config.lost_task_grace(),
            Duration::from_millis(1500)
        );
        assert_eq!(c.server_config.delivery_budget(), Duration::from_secs(4));
        #[derive(serde::Deserialize)]
        struct Mine {
            pool: u32,
        }
        assert_eq!(c.server_config.user::<Mine>().unwrap().pool, 3);
        Ok(())
    });
}

#[test]
fn legacy_keys_are_accepted_and_reported() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "stefuna.toml",
            "maxtasksperchild = 100\nstart_method = \"spawn\"",
        )?;
        let c = load(&cli(&[]), &[]).unwrap();
        assert_eq!(c.legacy_keys(), ["maxtasksperchild", "start_method"]);
        c.warn_legacy_keys();
        c.warn_legacy_keys();
        assert!(Config::default().legacy_keys().is_empty());
        Ok(())
    });
}

#[test]
fn endpoint_falls_back_to_aws_env_vars() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        assert_eq!(load(&cli(&[]), &[]).unwrap().endpoint_url, None);
        jail.set_env("AWS_ENDPOINT_URL", "http://127.0.0.1:1");
        assert_eq!(
            load(&cli(&[]), &[]).unwrap().endpoint_url.as_deref(),
            Some("http://127.0.0.1:1")
        );
        jail.set_env("AWS_ENDPOINT_URL_SFN", "http://127.0.0.1:2");
        assert_eq!(
            load(&cli(&[]), &[]).unwrap().endpoint_url.as_deref(),
            Some("http://127.0.0.1:2")
        );
        jail.set_env("STEFUNA_ENDPOINT_URL", "http://127.0.0.1:3");
        assert_eq!(
            load(&cli(&[]), &[]).unwrap().endpoint_url.as_deref(),
            Some("http://127.0.0.1:3")
        );
        let c = load(&cli(&["--endpoint-url", "https://states.example"]), &[]).unwrap();
        assert_eq!(c.endpoint_url.as_deref(), Some("https://states.example"));

        jail.clear_env();
        jail.set_env("AWS_ENDPOINT_URL_SFN", "localhost:4566");
        let err = load_err(&cli(&[]), &[]);
        assert_mentions(
            &err,
            &["localhost:4566", "env AWS_ENDPOINT_URL_SFN", "http://"],
        );
        Ok(())
    });
}

#[test]
fn region_comes_from_the_arn_unless_set() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let acts = hello(Some(ARN), None, None);
        let c = load(&cli(&[]), &acts).unwrap();
        assert_eq!(c.region, None);
        assert_eq!(
            c.activity_settings("Hello", &acts[0].1, true)
                .unwrap()
                .region,
            "eu-west-1"
        );
        let c = load(&cli(&["--region", "ap-south-1"]), &acts).unwrap();
        assert_eq!(
            c.activity_settings("Hello", &acts[0].1, true)
                .unwrap()
                .region,
            "ap-south-1"
        );
        let err = load_err(&cli(&["--region", "Not A Region"]), &acts);
        assert_mentions(&err, &["`region`", "Not A Region", "--region"]);
        Ok(())
    });
}

#[test]
fn string_keys_from_env_stay_strings() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("STEFUNA_NAME", 123);
        assert_eq!(load(&cli(&[]), &[]).unwrap().name, "123");
        Ok(())
    });
}

#[test]
fn embedded_load_reads_file_and_env() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("stefuna.toml", "name = \"Embedded\"")?;
        jail.set_env("STEFUNA_HEALTHCHECK", 0);
        let c = load_embedded(&hello(Some(ARN), None, None)).unwrap();
        assert_eq!((c.name.as_str(), c.healthcheck), ("Embedded", 0));
        Ok(())
    });
}

#[test]
fn hand_built_config_takes_the_arn_from_defaults() {
    let c = Config::default();
    let d = ActivityDefaults::new(Some(ARN.into()), Some(3), None);
    let s = c.activity_settings("Hello", &d, true).unwrap();
    assert_eq!((s.arn.as_str(), s.region.as_str()), (ARN, "eu-west-1"));
    assert_eq!(s.processes, c.processes);
    let s = c.activity_settings("Hello", &d, false).unwrap();
    assert_eq!(s.heartbeat, Some(Duration::from_secs(3)));
    let err = c
        .activity_settings("Hello", &ActivityDefaults::default(), false)
        .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &[
            "no activity ARN for activity `Hello`",
            "activities.hello.activity_arn",
        ],
    );
}

#[test]
fn activity_arns_are_recognised() {
    assert_eq!(activity_arn_region(ARN), Some("eu-west-1"));
    assert_eq!(
        activity_arn_region("arn:aws-cn:states:cn-north-1:123456789012:activity:a"),
        Some("cn-north-1")
    );
    for bad in [
        "",
        "hello",
        "arn:aws:states:us-east-1:123456789012:stateMachine:a",
        "arn:aws:states:us-east-1:123456789012:activity:",
        "arn:aws:states::123456789012:activity:a",
        "arn:aws:lambda:us-east-1:123456789012:activity:a",
        "arn:aws:states:us-east-1:12x:activity:a",
        "arn:aws:states:us-east-1:123456789012:activity:a:b",
    ] {
        assert_eq!(activity_arn_region(bad), None, "{bad}");
    }
}
