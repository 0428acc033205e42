//! Fault injection, seen through the real SDK.

mod common;

use std::time::Duration;

use aws_sdk_sfn::config::retry::RetryConfig;
use common::*;
use stefuna_local::Faults;

#[tokio::test]
async fn throttling_one_operation_reaches_the_sdk_after_its_retries() {
    let emu = emulator().await;
    let c = client_with(
        &emu,
        "us-east-1",
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1)),
    );
    emu.set_faults(Faults {
        throttle: 1.0,
        operations: Some(vec!["ListActivities".to_owned()]),
        ..Faults::default()
    });
    let err = c.list_activities().send().await.unwrap_err();
    assert_eq!(code(&err), "ThrottlingException");
    // Other operations are untouched.
    c.create_activity().name("fine").send().await.unwrap();
    // And turning faults off heals it.
    emu.set_faults(Faults::default());
    assert_eq!(
        c.list_activities().send().await.unwrap().activities.len(),
        1
    );
}

#[tokio::test]
async fn unavailable_answers_503() {
    let emu = builder()
        .faults(Faults {
            unavailable: 1.0,
            ..Faults::default()
        })
        .start()
        .await
        .unwrap();
    let (status, head, body) =
        raw_post(emu.addr(), Some("AWSStepFunctions.ListActivities"), b"{}").await;
    assert_eq!(status, 503);
    assert!(head.contains("x-amzn-errortype: serviceunavailable"));
    assert!(body.contains("ServiceUnavailable"));
}

#[tokio::test]
async fn dropped_connections_give_no_answer() {
    let emu = builder()
        .faults(Faults {
            drop_connection: 1.0,
            ..Faults::default()
        })
        .start()
        .await
        .unwrap();
    let (status, head, body) =
        raw_post(emu.addr(), Some("AWSStepFunctions.ListActivities"), b"{}").await;
    assert_eq!((status, head.as_str(), body.as_str()), (0, "", ""));
    let c = client_with(&emu, "us-east-1", RetryConfig::disabled());
    let err = c.list_activities().send().await.unwrap_err();
    assert!(err.as_service_error().is_none(), "{err:?}");
}

#[tokio::test]
async fn latency_delays_but_answers() {
    let emu = builder()
        .faults(Faults {
            latency: Some((Duration::from_millis(1), Duration::from_millis(5))),
            ..Faults::default()
        })
        .start()
        .await
        .unwrap();
    let c = client(&emu);
    c.create_activity().name("slow").send().await.unwrap();
    assert_eq!(
        c.list_activities().send().await.unwrap().activities.len(),
        1
    );
}
