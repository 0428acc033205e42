//! The conformance scenarios against LocalStack at `STEFUNA_CONFORMANCE_ENDPOINT` (set by
//! `cargo xtask conformance`); skipped with a note when the variable is unset.
//!
//! The scenarios run concurrently (each creates its own activity and state machine), so the run
//! takes about as long as the slowest one instead of their sum.

use std::time::Instant;

use stefuna_conformance::{Endpoint, scenarios};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_scenarios_against_localstack() {
    let Ok(url) = std::env::var("STEFUNA_CONFORMANCE_ENDPOINT") else {
        eprintln!("note: STEFUNA_CONFORMANCE_ENDPOINT is unset; run `cargo xtask conformance`");
        return;
    };
    let only = std::env::var("STEFUNA_CONFORMANCE_ONLY").ok();
    let selected: Vec<_> = scenarios()
        .into_iter()
        .filter(|(name, _)| only.as_deref().is_none_or(|o| o == *name))
        .collect();
    assert!(
        !selected.is_empty(),
        "no scenario is named {only:?}; the scenarios are {:?}",
        scenarios().iter().map(|(n, _)| *n).collect::<Vec<_>>()
    );
    let runs = selected.into_iter().map(|(name, scenario)| {
        let ep = Endpoint::localstack(url.clone())
            .with_worker_bin(env!("CARGO_BIN_EXE_conformance-worker"));
        async move {
            eprintln!("scenario {name} ...");
            let started = Instant::now();
            let result = tokio::spawn(scenario(ep)).await;
            let took = started.elapsed().as_secs_f64();
            match result {
                Ok(Ok(())) => {
                    eprintln!("scenario {name}: ok ({took:.1} s)");
                    None
                }
                Ok(Err(e)) => {
                    eprintln!("scenario {name}: FAILED ({took:.1} s): {e:#}");
                    Some(name)
                }
                Err(e) => {
                    eprintln!("scenario {name}: PANICKED ({took:.1} s): {e}");
                    Some(name)
                }
            }
        }
    });
    let failed: Vec<&str> = futures::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(
        failed.is_empty(),
        "scenarios failed against LocalStack: {failed:?}"
    );
}
