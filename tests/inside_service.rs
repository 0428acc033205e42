//! The examples of a worker inside a service, and stefuna 1.0.1 habits on a real binary:
//! `examples/embedded.rs` (a warp service with stefuna's routes mounted, one SIGTERM drains
//! both), `examples/init.rs` (an init hook fed by `worker_config`), `--loglevel warning`.

use stefuna_testkit as support;

use std::time::Duration;

use support::{example_command, machine, sfn, sigterm_and_wait, succeeded};
use tokio::io::{AsyncBufReadExt, BufReader};

/// A hung example fails the test instead of hanging it.
const TIMEOUT: Duration = Duration::from_secs(60);

async fn get(url: &str) -> (u16, String) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let res = client.get(url).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test]
async fn embedded_service_serves_its_routes_runs_tasks_and_drains_on_sigterm() {
    let emu = stefuna_local::Emulator::builder()
        .long_poll(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let sfn = sfn(emu.endpoint());
    let (arn, sm) = machine(&sfn, "shout").await;
    assert_eq!(arn, "arn:aws:states:us-east-1:123456789012:activity:shout");

    let mut child = example_command("embedded")
        .env("PORT", "0")
        .env("STEFUNA_ENDPOINT_URL", emu.endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = within("the service to listen", lines.next_line())
        .await
        .unwrap()
        .expect("a first line");
    let base = first
        .strip_prefix("service listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();

    assert_eq!(
        get(&format!("{base}/hello/Ada")).await,
        (200, "hello Ada\n".into())
    );
    within("readiness", async {
        while get(&format!("{base}/readyz")).await.0 != 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    for name in ["ada", "grace", "linus"] {
        let input = serde_json::json!({"name": name}).to_string();
        let out = succeeded(&sfn, &sm, &input).await;
        assert_eq!(out["shout"], format!("HELLO {}!", name.to_uppercase()));
    }
    let (code, metrics) = get(&format!("{base}/metrics")).await;
    assert_eq!(code, 200);
    assert!(metrics.contains("greetings_total 1"), "{metrics}");
    assert!(
        metrics.contains("stefuna_tasks_succeeded_total{activity=\"shout\"} 3"),
        "{metrics}"
    );

    assert_eq!(sigterm_and_wait(&mut child).await, Some(0));
    assert!(
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_err(),
        "the HTTP server stopped with the worker"
    );
}

#[cfg(feature = "local")]
#[tokio::test]
async fn init_example_builds_its_pool_from_worker_config() {
    let out = within(
        "the init example",
        example_command("init")
            .args(["--local", "--healthcheck", "0"])
            .args(["--input", r#"{"order": 7}"#, "--input", r#"{"order": 8}"#])
            .env(
                "STEFUNA_WORKER_CONFIG__DB_URL",
                "postgres://orders-db/orders",
            )
            .env("STEFUNA_WORKER_CONFIG__POOL_SIZE", "3")
            .output(),
    )
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with("execution ") && l.contains(" SUCCEEDED: "))
        .map(|l| serde_json::from_str(&l[l.find('{').unwrap()..]).unwrap())
        .collect();
    assert_eq!(results.len(), 2, "{stdout}");
    for r in &results {
        assert_eq!(r["db"], "postgres://orders-db/orders");
        assert_eq!(r["pool_size"], 3);
    }
    let mut orders: Vec<u64> = results
        .iter()
        .map(|r| r["order"].as_u64().unwrap())
        .collect();
    orders.sort_unstable();
    assert_eq!(orders, [7, 8]);
}

#[cfg(feature = "local")]
#[tokio::test]
async fn a_failing_init_hook_prints_one_line_and_exits_1() {
    let out = within(
        "the init example",
        example_command("init")
            .args(["--local", "--healthcheck", "0", "--input", "{}"])
            .env("STEFUNA_WORKER_CONFIG__DB_URL", "mysql://orders")
            .output(),
    )
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(
        errors,
        ["error: init failed: worker_config.db_url \"mysql://orders\" is not a postgres:// URL"],
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("SUCCEEDED"));
}

/// stefuna 1.0.1's `--loglevel warning` shows warnings (it used to be read as a tracing target
/// and silenced everything); a word that is no level is refused with exit 2.
#[tokio::test]
async fn loglevel_warning_shows_poll_errors() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = example_command("hello")
        .args(["--endpoint-url", &format!("http://127.0.0.1:{closed}")])
        .args(["--healthcheck", "0", "--loglevel", "warning"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let warning = within("a poll error warning", async {
        loop {
            let line = lines.next_line().await.unwrap().expect("stderr open");
            if line.contains("WARN") {
                return line;
            }
        }
    })
    .await;
    assert!(warning.contains("poll"), "{warning}");
    child.kill().await.unwrap();

    let out = example_command("hello")
        .args(["--loglevel", "verbose", "--healthcheck", "0"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`loglevel`") && stderr.contains("`warning`"),
        "{stderr}"
    );
}
