//! The wire protocol: error shapes, malformed bodies, unknown operations, size limits.

use stefuna_local_testkit::*;

#[tokio::test]
async fn errors_carry_type_message_and_header() {
    let emu = emulator().await;
    let (status, head, body) = raw_post(
        emu.addr(),
        Some("AWSStepFunctions.DescribeActivity"),
        br#"{"activityArn":"arn:aws:states:us-east-1:123456789012:activity:none"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        head.contains("x-amzn-errortype: activitydoesnotexist"),
        "{head}"
    );
    assert!(
        head.contains("content-type: application/x-amz-json-1.0"),
        "{head}"
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["__type"], "ActivityDoesNotExist");
    assert!(v["message"].as_str().unwrap().contains("activity:none"));
}

#[tokio::test]
async fn malformed_json_is_a_serialization_exception() {
    let emu = emulator().await;
    let (status, _, body) = raw_post(
        emu.addr(),
        Some("AWSStepFunctions.CreateActivity"),
        br#"{"name": "#,
    )
    .await;
    assert_eq!(status, 400);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["__type"], "SerializationException");
    // A wrong type for a member is refused too, and the server carries on.
    let (status, _, body) = raw_post(
        emu.addr(),
        Some("AWSStepFunctions.CreateActivity"),
        br#"{"name": 5}"#,
    )
    .await;
    assert_eq!(status, 400);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["__type"], "ValidationException");
    let (status, _, _) = raw_post(
        emu.addr(),
        Some("AWSStepFunctions.CreateActivity"),
        br#"{"name": "ok"}"#,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn unknown_operations_are_named() {
    let emu = emulator().await;
    for target in [
        Some("AWSStepFunctions.Frobnicate"),
        Some("Other.CreateActivity"),
        None,
    ] {
        let (status, head, body) = raw_post(emu.addr(), target, b"{}").await;
        assert_eq!(status, 400, "{target:?}");
        assert!(head.contains("x-amzn-errortype: unknownoperationexception"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["__type"], "UnknownOperationException");
    }
}

#[tokio::test]
async fn oversized_requests_are_refused_and_the_server_lives_on() {
    let emu = emulator().await;
    let c = client(&emu);
    let (activity, machine) = activity_machine(&c, "big", None, None).await;
    let _ = activity;
    let huge = format!("\"{}\"", "x".repeat(1_100_000));
    let err = c
        .start_execution()
        .state_machine_arn(&machine)
        .input(huge)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let (status, _, body) = raw_post(
        emu.addr(),
        Some("AWSStepFunctions.CreateActivity"),
        &vec![b' '; 2 * 1024 * 1024],
    )
    .await;
    assert_eq!(status, 413);
    assert!(body.contains("ValidationException"));
    c.list_activities().send().await.unwrap();
}

#[tokio::test]
async fn empty_body_is_an_empty_request() {
    let emu = emulator().await;
    let (status, _, body) =
        raw_post(emu.addr(), Some("AWSStepFunctions.ListActivities"), b"").await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["activities"], serde_json::json!([]));
}

#[tokio::test]
async fn endpoint_names_the_bound_port() {
    let emu = emulator().await;
    assert_eq!(
        emu.endpoint(),
        format!("http://127.0.0.1:{}", emu.addr().port())
    );
    let addr = emu.addr();
    emu.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn every_operation_refuses_malformed_json_without_crashing() {
    let emu = emulator().await;
    let ops = [
        "CreateActivity",
        "DescribeActivity",
        "ListActivities",
        "DeleteActivity",
        "GetActivityTask",
        "SendTaskSuccess",
        "SendTaskFailure",
        "SendTaskHeartbeat",
        "CreateStateMachine",
        "DescribeStateMachine",
        "UpdateStateMachine",
        "ListStateMachines",
        "DeleteStateMachine",
        "StartExecution",
        "DescribeExecution",
        "ListExecutions",
        "StopExecution",
        "GetExecutionHistory",
        "DescribeStateMachineForExecution",
        "DescribeMapRun",
        "ListMapRuns",
    ];
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bodies: [&[u8]; 4] = [
        b"{\"name\": ",
        b"not json",
        b"\xff\xfe\x00{}",
        b"{} trailing",
    ];
    for op in ops {
        for body in bodies {
            let (status, _, answer) =
                raw_post(emu.addr(), Some(&format!("AWSStepFunctions.{op}")), body).await;
            assert_eq!(
                status,
                400,
                "{op} {:?}: {answer}",
                &body[..body.len().min(12)]
            );
            let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
            assert_eq!(v["__type"], "SerializationException", "{op}: {answer}");
            assert!(
                v["message"].as_str().unwrap().contains("not valid JSON"),
                "{op}: {answer}"
            );
        }
        // JSON of the wrong shape (deeply nested too) is a validation error instead.
        for body in [b"[1, 2]".as_slice(), deep.as_bytes()] {
            let (status, _, answer) =
                raw_post(emu.addr(), Some(&format!("AWSStepFunctions.{op}")), body).await;
            assert_eq!(status, 400, "{op}: {answer}");
            let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
            assert_eq!(v["__type"], "ValidationException", "{op}: {answer}");
        }
    }
    let c = client(&emu);
    c.list_activities().send().await.unwrap();
}

#[tokio::test]
async fn oversized_chunked_requests_are_refused_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let emu = emulator().await;
    // No Content-Length: the limit must hold on the bytes actually received.
    let mut s = tokio::net::TcpStream::connect(emu.addr()).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: AWSStepFunctions.CreateActivity\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        emu.addr()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..20 {
        s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        s.write_all(&chunk).await.unwrap();
        s.write_all(b"\r\n").await.unwrap();
    }
    s.write_all(b"0\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("ValidationException"), "{text}");
    assert!(text.contains("over the limit of 1048576 bytes"), "{text}");
    let c = client(&emu);
    c.list_activities().send().await.unwrap();
}
