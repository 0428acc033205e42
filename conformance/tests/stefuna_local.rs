//! The conformance scenarios against an in-process stefuna-local.

use std::time::Duration;

use stefuna_conformance::{Endpoint, scenarios};

async fn run(name: &str) {
    let mocks = stefuna_local::MockConfig::from_file(stefuna_conformance::MOCK_CONFIG)
        .expect("the conformance mock configuration parses");
    let emu = stefuna_local::Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .mock_config(mocks)
        .start()
        .await
        .expect("emulator starts");
    let ep = Endpoint::aws_like(emu.endpoint(), stefuna_local::ACCOUNT_ID)
        .with_worker_bin(env!("CARGO_BIN_EXE_conformance-worker"));
    let scenario = scenarios()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("scenario exists")
        .1;
    let result = scenario(ep).await;
    emu.shutdown().await;
    if let Err(e) = result {
        panic!("scenario {name} failed against stefuna-local: {e:#}");
    }
}

macro_rules! scenario_tests {
    ($($name:ident),* $(,)?) => {
        /// The scenarios given a test here.
        const TESTED: &[&str] = &[$(stringify!($name)),*];
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                run(stringify!($name)).await;
            }
        )*
    };
}

scenario_tests!(
    success,
    failure_names,
    bad_input,
    oversized_output,
    heartbeats_keep_task_alive,
    heartbeat_timeout_cancels_task,
    retry_and_catch,
    drain_on_shutdown,
    drain_on_sigterm,
    concurrent_workers_exactly_once,
    heartbeat_without_heartbeat_seconds,
    stop_execution_while_task_runs,
    jsonata_end_to_end,
    jsonata_query_evaluation_error,
    variables_jsonpath,
    mocked_lambda_retry_and_catch,
    mocked_lambda_after_activity,
    mocked_wait_for_task_token,
    validate_definition,
    tags_round_trip,
    start_sync_execution,
);

#[test]
fn every_scenario_has_a_test_here() {
    let names: Vec<&str> = scenarios().into_iter().map(|(n, _)| n).collect();
    let missing: Vec<&&str> = names.iter().filter(|n| !TESTED.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "add these scenarios to scenario_tests!: {missing:?}"
    );
    assert_eq!(
        names.len(),
        TESTED.len(),
        "a test names no scenario: {TESTED:?}"
    );
}
