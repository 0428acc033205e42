//! A production build (`--no-default-features`) has no emulator: `--local` says which feature
//! turns it on and exits 2. Run with `cargo test -p stefuna --no-default-features --test no_local`.
#![cfg(not(feature = "local"))]

use stefuna_testkit as support;

#[tokio::test]
async fn local_mode_names_the_feature_and_exits_2() {
    let out = support::example_command("hello")
        .args(["--local", "--healthcheck", "0", "--input", "{}"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--local needs the `local` feature of stefuna"),
        "{stderr}"
    );
}
