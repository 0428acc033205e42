//! A crate created outside this workspace, with `stefuna` as its only stefuna dependency (a path
//! dependency, production features: no emulator, `anyhow` on), builds the init pattern
//! (`examples/init.rs`) and the embedded pattern (`examples/embedded.rs`) as its own binaries,
//! and runs both against stefuna-local.
//!
//! The crate gets this repository's Cargo.lock and builds offline into this workspace's target
//! directory, so only its own code and stefuna's crates compile.

use stefuna_testkit as support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{clean_command, machine, sfn, sigterm_and_wait, succeeded};
use tokio::io::{AsyncBufReadExt, BufReader};

const INIT: &str = include_str!("../examples/init.rs");
const EMBEDDED: &str = include_str!("../examples/embedded.rs");

/// `anyhow::Result` and raw `stefuna::Json` from an activity: the `anyhow` feature.
const ANYHOW: &str = r##"
#[stefuna::activity(arn = "arn:aws:states:us-east-1:123456789012:activity:cached", main = false)]
async fn cached(input: stefuna::Json) -> anyhow::Result<stefuna::Json> {
    anyhow::ensure!(input.as_str().starts_with('{'), "expected an object");
    Ok(stefuna::Json::new(r#"{"cached": true}"#))
}

fn main() -> std::process::ExitCode {
    stefuna::Server::builder().activity(Cached).run_main()
}
"##;

const TIMEOUT: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// This workspace's target directory: the test binary is `<target>/<profile>/deps/<test>`.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .expect("test binary under <target>/<profile>/deps")
        .to_path_buf()
}

fn write_crate(dir: &Path) {
    let manifest = format!(
        "[package]\nname = \"fresh-service\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [[bin]]\nname = \"fresh-init\"\npath = \"src/bin/init.rs\"\n\n\
         [[bin]]\nname = \"fresh-embedded\"\npath = \"src/bin/embedded.rs\"\n\n\
         [[bin]]\nname = \"fresh-anyhow\"\npath = \"src/bin/anyhow.rs\"\n\n\
         [dependencies]\n\
         stefuna = {{ path = {:?}, default-features = false, features = [\"anyhow\"] }}\n\
         anyhow = \"1\"\n\
         prometheus-client = \"0.26\"\n\
         serde = {{ version = \"1\", features = [\"derive\"] }}\n\
         tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\", \"signal\", \"net\"] }}\n\
         warp = {{ version = \"0.4\", default-features = false, features = [\"server\"] }}\n",
        repo().display().to_string()
    );
    for (path, text) in [
        ("Cargo.toml", manifest.as_str()),
        ("src/bin/init.rs", INIT),
        ("src/bin/embedded.rs", EMBEDDED),
        ("src/bin/anyhow.rs", ANYHOW),
    ] {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::copy(repo().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

/// A built binary of the fresh crate, against `endpoint`.
fn binary(name: &str, endpoint: &str) -> tokio::process::Command {
    let mut cmd = clean_command(target_dir().join("debug").join(name));
    cmd.env("STEFUNA_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stderr(std::process::Stdio::null());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crate_outside_the_workspace_runs_the_init_and_embedded_patterns() {
    let dir = std::env::temp_dir().join(format!("stefuna-fresh-crate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_crate(&dir);
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _remove = Remove(dir.clone());

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build
        .args(["build", "--bins"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_NET_OFFLINE", "true");
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_PKG") || key == "CARGO_MANIFEST_DIR" {
            build.env_remove(key);
        }
    }
    let out = build.output().unwrap();
    assert!(
        out.status.success(),
        "building the fresh crate failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let emu = stefuna_local::Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let sfn = sfn(emu.endpoint());

    // The init pattern: the pool comes from worker_config through the hook.
    let (_, lookup) = machine(&sfn, "lookup").await;
    let mut init = binary("fresh-init", emu.endpoint())
        .args(["--healthcheck", "0"])
        .env("STEFUNA_WORKER_CONFIG__DB_URL", "postgres://fresh/db")
        .spawn()
        .unwrap();
    let out = succeeded(&sfn, &lookup, r#"{"order": 42}"#).await;
    assert_eq!(out["db"], "postgres://fresh/db");
    assert_eq!(out["order"], 42);
    assert_eq!(sigterm_and_wait(&mut init).await, Some(0));

    // The embedded pattern: the service's route and stefuna's on one port.
    let (_, shout) = machine(&sfn, "shout").await;
    let mut embedded = binary("fresh-embedded", emu.endpoint())
        .env("PORT", "0")
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(embedded.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(TIMEOUT, lines.next_line())
        .await
        .expect("the service to listen")
        .unwrap()
        .unwrap();
    let base = first
        .strip_prefix("service listening on ")
        .unwrap()
        .to_owned();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let hello = http
        .get(format!("{base}/hello/fresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(hello.text().await.unwrap(), "hello fresh\n");
    let out = succeeded(&sfn, &shout, r#"{"name": "fresh"}"#).await;
    assert_eq!(out["shout"], "HELLO FRESH!");
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert_eq!(sigterm_and_wait(&mut embedded).await, Some(0));

    // anyhow::Result and raw Json.
    let (_, cached) = machine(&sfn, "cached").await;
    let mut worker = binary("fresh-anyhow", emu.endpoint())
        .args(["--healthcheck", "0"])
        .spawn()
        .unwrap();
    assert_eq!(
        succeeded(&sfn, &cached, r#"{"k": 1}"#).await,
        serde_json::json!({"cached": true})
    );
    assert_eq!(sigterm_and_wait(&mut worker).await, Some(0));
}
