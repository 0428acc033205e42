//! `--describe` on the built example binaries (built by `cargo test` into
//! `target/<profile>/examples/`): one activity, several, and ARNs from the environment, with
//! nothing started.

use stefuna_testkit as support;

use support::example_path;

use std::net::TcpListener;
use std::process::{Command, Output};

use serde_json::{Value, json};

/// Runs `example --describe ARGS` with only `env` as its `STEFUNA_*` environment, in a
/// directory without a stefuna.toml.
fn describe(example: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(example_path(example));
    cmd.arg("--describe")
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_remove("AWS_ENDPOINT_URL_SFN")
        .env_remove("AWS_ENDPOINT_URL");
    for (key, _) in std::env::vars() {
        if key.starts_with("STEFUNA_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run the example")
}

fn json_of(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--describe prints one JSON document")
}

#[test]
fn one_activity_is_described_after_every_layer_and_nothing_starts() {
    // Held ports: the worker can neither bind the health port nor poll without touching them.
    let health = TcpListener::bind("127.0.0.1:0").unwrap();
    let sfn = TcpListener::bind("127.0.0.1:0").unwrap();
    sfn.set_nonblocking(true).unwrap();
    let health_port = health.local_addr().unwrap().port().to_string();
    let endpoint = format!("http://{}", sfn.local_addr().unwrap());
    let out = describe(
        "hello",
        &[
            "--processes",
            "3",
            "--healthcheck",
            &health_port,
            "--healthcheck-host",
            "127.0.0.1",
            "--endpoint-url",
            &endpoint,
        ],
        &[("STEFUNA_HEARTBEAT", "45"), ("STEFUNA_NAME", "Greeter")],
    );
    assert_eq!(
        json_of(&out),
        json!({
            "format": 1,
            "worker": {"name": "Greeter", "endpoint_url": endpoint, "region": null},
            "activities": [{
                "name": "hello",
                "arn": "arn:aws:states:us-east-1:123456789012:activity:hello",
                "region": "us-east-1",
                "heartbeat": 45,
                "processes": 3
            }]
        })
    );
    assert_eq!(
        sfn.accept().map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::WouldBlock),
        "--describe made no call to the endpoint"
    );
}

#[test]
fn several_activities_are_described_in_order() {
    let d = json_of(&describe("several", &[], &[]));
    let acts = d["activities"].as_array().unwrap();
    let names: Vec<(&str, &str)> = acts
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["arn"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            (
                "shout",
                "arn:aws:states:us-east-1:123456789012:activity:shout"
            ),
            (
                "count",
                "arn:aws:states:us-east-1:123456789012:activity:count"
            ),
        ]
    );
    assert_eq!(acts[1]["processes"], 2, "`concurrency = 2` of count");
    assert_eq!(acts[0]["heartbeat"], Value::Null, "no heartbeat: null");
}

#[test]
fn the_environment_overrides_the_attribute_arn() {
    let prod = "arn:aws:states:eu-west-1:210987654321:activity:hello-prod";
    let d = json_of(&describe("hello", &[], &[("STEFUNA_ACTIVITY_ARN", prod)]));
    assert_eq!(d["activities"][0]["arn"], prod);
    assert_eq!(d["activities"][0]["region"], "eu-west-1");

    let shout = "arn:aws:states:ap-south-1:210987654321:activity:shout-prod";
    let d = json_of(&describe(
        "several",
        &[],
        &[("STEFUNA_ACTIVITIES__SHOUT__ACTIVITY_ARN", shout)],
    ));
    assert_eq!(d["activities"][0]["arn"], shout);
    assert_eq!(d["activities"][0]["region"], "ap-south-1");
    assert_eq!(
        d["activities"][1]["arn"],
        "arn:aws:states:us-east-1:123456789012:activity:count"
    );
}

#[test]
fn a_bad_configuration_exits_2_and_describes_nothing() {
    let out = describe("hello", &[], &[("STEFUNA_ACTIVITY_ARN", "not-an-arn")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not-an-arn") && stderr.contains("STEFUNA_ACTIVITY_ARN"),
        "{stderr}"
    );
}
