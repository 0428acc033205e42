//! The `stefuna-local` binary: binds loopback unless told otherwise, and serves.

use std::process::Stdio;

use stefuna_local_testkit::*;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn binary_binds_loopback_by_default() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stefuna-local"))
        .args(["--port", "0"])
        .env_remove("STEFUNA_LOCAL_HOST")
        .env_remove("STEFUNA_LOCAL_PORT")
        .env("STEFUNA_LOCAL_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("stefuna-local starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().expect("a first line");
    let endpoint = first
        .strip_prefix("stefuna-local: Step Functions endpoint at ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"));
    let addr: std::net::SocketAddr = endpoint.trim_start_matches("http://").parse().unwrap();
    assert!(addr.ip().is_loopback(), "{addr}");
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0);

    let (status, _, body) = raw_post(addr, Some("AWSStepFunctions.ListActivities"), b"{}").await;
    assert_eq!(status, 200, "{body}");

    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

#[tokio::test]
async fn library_binds_loopback_by_default() {
    let emu = stefuna_local::Emulator::start().await.unwrap();
    assert!(emu.addr().ip().is_loopback());
    assert!(emu.endpoint().starts_with("http://127.0.0.1:"));
    emu.shutdown().await;
}
