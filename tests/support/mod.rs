//! Shared by the facade's integration tests that run example binaries.

#![allow(dead_code)]

use std::path::PathBuf;

/// The example binary `name`, which `cargo test` builds next to the test binaries
/// (target/<profile>/examples).
pub fn example_path(name: &str) -> PathBuf {
    // current_exe is target/<profile>/deps/<test>-<hash>.
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary under target/<profile>/deps");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "example binary {} not found; run through `cargo test`, which builds the examples",
        path.display()
    );
    path
}

/// A command for example `name` with a clean environment: no `STEFUNA_*` or AWS endpoint
/// variables from the caller, loopback without a proxy, output piped.
pub fn example_command(name: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(example_path(name));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL_SFN")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("STEFUNA_") {
            cmd.env_remove(key);
        }
    }
    cmd
}
