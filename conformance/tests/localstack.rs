//! The conformance scenarios against LocalStack at `STEFUNA_CONFORMANCE_ENDPOINT`, run by
//! `cargo xtask conformance`. Ignored in a plain `cargo test` (it needs LocalStack), and it fails
//! rather than passes when the endpoint is unset. It writes how many scenarios ran to
//! `STEFUNA_CONFORMANCE_REPORT` (`RAN SELECTED TOTAL`), which the xtask checks, so a run in which
//! the test or some scenario never ran cannot pass.
//!
//! The scenarios run concurrently (each creates its own activity and state machine), so the run
//! takes about as long as the slowest one instead of their sum.

use std::time::Instant;

use stefuna_conformance::{Endpoint, scenarios};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs LocalStack: run `cargo xtask conformance`"]
async fn all_scenarios_against_localstack() {
    let url = std::env::var("STEFUNA_CONFORMANCE_ENDPOINT").expect(
        "STEFUNA_CONFORMANCE_ENDPOINT is unset: run the scenarios with `cargo xtask conformance`",
    );
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
    let (selected_count, total) = (selected.len(), scenarios().len());
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let runs = selected.into_iter().map(|(name, scenario)| {
        let ran = ran.clone();
        let ep = Endpoint::localstack(url.clone())
            .with_worker_bin(env!("CARGO_BIN_EXE_conformance-worker"));
        async move {
            eprintln!("scenario {name} ...");
            let started = Instant::now();
            let result = tokio::spawn(scenario(ep)).await;
            let took = started.elapsed().as_secs_f64();
            ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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
    let ran = ran.load(std::sync::atomic::Ordering::SeqCst);
    eprintln!("conformance: {ran} of {selected_count} selected scenarios ran ({total} in all)");
    if let Ok(report) = std::env::var("STEFUNA_CONFORMANCE_REPORT") {
        std::fs::write(&report, format!("{ran} {selected_count} {total}\n"))
            .unwrap_or_else(|e| panic!("cannot write {report}: {e}"));
    }
    assert_eq!(ran, selected_count, "some scenarios never ran");
    assert!(
        failed.is_empty(),
        "scenarios failed against LocalStack: {failed:?}"
    );
}
