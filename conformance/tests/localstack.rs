//! The conformance scenarios against LocalStack at `STEFUNA_CONFORMANCE_ENDPOINT` (set by
//! `cargo xtask conformance`); skipped with a note when the variable is unset.

use stefuna_conformance::{Endpoint, scenarios};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_scenarios_against_localstack() {
    let Ok(url) = std::env::var("STEFUNA_CONFORMANCE_ENDPOINT") else {
        eprintln!("note: STEFUNA_CONFORMANCE_ENDPOINT is unset; run `cargo xtask conformance`");
        return;
    };
    let only = std::env::var("STEFUNA_CONFORMANCE_ONLY").ok();
    let mut failed = Vec::new();
    for (name, scenario) in scenarios() {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        eprintln!("scenario {name} ...");
        match scenario(Endpoint::localstack(url.clone())).await {
            Ok(()) => eprintln!("scenario {name}: ok"),
            Err(e) => {
                eprintln!("scenario {name}: FAILED: {e:#}");
                failed.push(name);
            }
        }
    }
    assert!(
        failed.is_empty(),
        "scenarios failed against LocalStack: {failed:?}"
    );
}
