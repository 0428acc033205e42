//! Shared helpers of the runtime's integration tests. A crate of its own (not published) rather
//! than a `mod support` in each test binary, so that a helper one binary does not use is not dead
//! code there.

pub mod fake_sfn;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sfn::config::timeout::TimeoutConfig;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::types::ExecutionStatus;
use stefuna_core::{Activity, Context, Invocation, TaskError};
use stefuna_runtime::{Config, ServerError};
use tokio::sync::oneshot;

/// The region of every test client and server.
pub const REGION: &str = "us-east-1";

/// The role every test state machine is created with (stefuna-local does not check it).
pub const ROLE: &str = "arn:aws:iam::123456789012:role/test";

/// An SDK client for a loopback endpoint (static credentials; the SDK's HTTP client reads no
/// proxy settings), with the long-poll timeouts.
pub fn client(endpoint: &str) -> aws_sdk_sfn::Client {
    let conf = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .timeout_config(
            TimeoutConfig::builder()
                .read_timeout(Duration::from_secs(70))
                .operation_attempt_timeout(Duration::from_secs(75))
                .build(),
        )
        .build();
    aws_sdk_sfn::Client::from_conf(conf)
}

/// A config for one activity at `arn`, health off, everything else default.
pub fn config(arn: &str, processes: usize) -> Config {
    {
        let mut c = Config::default();
        c.activity_arn = Some(arn.to_owned());
        c.processes = processes;
        c.healthcheck = 0;
        c.region = Some(REGION.to_owned());
        c
    }
}

/// A server running in this process.
pub struct Running {
    /// The base URL of its health server, `http://127.0.0.1:PORT`.
    pub health: String,
    stop: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), ServerError>>,
}

impl Running {
    /// Starts `builder` (activities and config already set) against `endpoint`.
    pub async fn start(builder: stefuna_runtime::ServerBuilder, endpoint: &str) -> Running {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let health = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(
            builder
                .client(client(endpoint))
                .health_listener(listener)
                .shutdown(async move {
                    let _ = rx.await;
                })
                .run(),
        );
        let r = Running {
            health,
            stop: Some(tx),
            handle,
        };
        r.wait_ready().await;
        r
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        within(Duration::from_secs(20), "readiness", async {
            loop {
                if let Ok((200, _)) = get(&format!("{}/readyz", self.health)).await {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }

    /// Asks for shutdown (the first signal).
    pub fn request_shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Asks for shutdown and waits (at most 30 s) for `run` to return.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        self.request_shutdown();
        within(Duration::from_secs(30), "the server to stop", self.handle)
            .await
            .expect("server task panicked")
    }

    /// Waits (at most 30 s) for `run` to return without asking.
    pub async fn join(self) -> Result<(), ServerError> {
        within(Duration::from_secs(30), "the server to stop", self.handle)
            .await
            .expect("server task panicked")
    }

    /// The value of a metric line `name{labels}` in `/metrics`, 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let (_, body) = get(&format!("{}/metrics", self.health)).await.unwrap();
        body.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }
}

/// GET `url` without proxies, giving up after 5 s: status and body.
pub async fn get(url: &str) -> Result<(u16, String), reqwest::Error> {
    let c = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()?;
    let r = c.get(url).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

/// `fut`, or a panic naming `what` after `limit`.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?} waiting for {what}"))
}

type Handler = dyn Fn(String, Context) -> Invocation + Send + Sync;

/// An activity made of a closure.
pub struct FnActivity {
    /// The activity's name.
    pub name: String,
    /// What a task runs.
    pub handler: Box<Handler>,
}

impl FnActivity {
    /// An async activity.
    pub fn new<F, Fut>(name: &str, f: F) -> FnActivity
    where
        F: Fn(String, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, TaskError>> + Send + 'static,
    {
        FnActivity {
            name: name.to_owned(),
            handler: Box::new(move |input, ctx| Invocation::Async(Box::pin(f(input, ctx)))),
        }
    }

    /// A blocking activity.
    pub fn blocking<F>(name: &str, f: F) -> FnActivity
    where
        F: Fn(String, Context) -> Result<String, TaskError> + Send + Sync + Clone + 'static,
    {
        FnActivity {
            name: name.to_owned(),
            handler: Box::new(move |input, ctx| {
                let f = f.clone();
                Invocation::Blocking(Box::new(move || f(input, ctx)))
            }),
        }
    }
}

impl Activity for FnActivity {
    fn name(&self) -> &str {
        &self.name
    }

    fn invoke(self: Arc<Self>, input: String, ctx: Context) -> Invocation {
        (self.handler)(input, ctx)
    }
}

/// Creates activity `name` and a one-Task state machine (`task` merged into the Task state).
pub async fn machine(
    sfn: &aws_sdk_sfn::Client,
    name: &str,
    task: serde_json::Value,
) -> (String, String) {
    let arn = sfn
        .create_activity()
        .name(name)
        .send()
        .await
        .unwrap()
        .activity_arn()
        .to_owned();
    let mut state = serde_json::json!({"Type": "Task", "Resource": arn, "End": true});
    state
        .as_object_mut()
        .unwrap()
        .extend(task.as_object().unwrap().clone());
    let definition = serde_json::json!({"StartAt": "T", "States": {"T": state}});
    let sm = sfn
        .create_state_machine()
        .name(format!("{name}-machine"))
        .role_arn(ROLE)
        .definition(definition.to_string())
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    (arn, sm)
}

/// Waits until `url` answers `code` (at most `limit`); returns the body.
pub async fn until_status(url: &str, code: u16, limit: Duration) -> String {
    within(limit, &format!("{url} to answer {code}"), async {
        loop {
            if let Ok((c, body)) = get(url).await
                && c == code
            {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Whether a worker claimed a task of `exec` (an `ActivityStarted` event in its history).
pub async fn claimed(sfn: &aws_sdk_sfn::Client, exec: &str) -> bool {
    activity_starts(sfn, exec).await > 0
}

/// How many times a task of `exec` was handed to a worker (`ActivityStarted` events).
pub async fn activity_starts(sfn: &aws_sdk_sfn::Client, exec: &str) -> usize {
    sfn.get_execution_history()
        .execution_arn(exec)
        .send()
        .await
        .unwrap()
        .events()
        .iter()
        .filter(|e| e.activity_started_event_details().is_some())
        .count()
}

/// How an execution ended.
#[derive(Debug)]
pub struct Ended {
    /// The final status.
    pub status: ExecutionStatus,
    /// The output of a success.
    pub output: Option<String>,
    /// The error of a failure.
    pub error: Option<String>,
    /// The cause of a failure.
    pub cause: Option<String>,
}

/// Waits (at most 30 s) until execution `exec` ends.
pub async fn finished(sfn: &aws_sdk_sfn::Client, exec: &str) -> Ended {
    finished_within(sfn, exec, Duration::from_secs(30)).await
}

/// [`finished`] with another limit.
pub async fn finished_within(sfn: &aws_sdk_sfn::Client, exec: &str, limit: Duration) -> Ended {
    within(limit, "the execution to end", async {
        loop {
            let d = sfn
                .describe_execution()
                .execution_arn(exec)
                .send()
                .await
                .unwrap();
            if *d.status() != ExecutionStatus::Running {
                return Ended {
                    status: d.status().clone(),
                    output: d.output().map(str::to_owned),
                    error: d.error().map(str::to_owned),
                    cause: d.cause().map(str::to_owned),
                };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await
}

/// Starts an execution of `sm` with `input`; returns its ARN.
pub async fn start(sfn: &aws_sdk_sfn::Client, sm: &str, input: &str) -> String {
    sfn.start_execution()
        .state_machine_arn(sm)
        .input(input)
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned()
}

/// The `test_worker` example next to this test binary, (re)built once per test process with
/// `features` plus the features this test binary was built with (`--release` for a release
/// test binary), so a stale binary or one built with other features is never run. When cargo
/// already built it for this test run, the build is a no-op check.
///
/// A macro so that `cfg!(feature = "local")` is the test binary's (stefuna-runtime's) feature,
/// not this crate's.
#[macro_export]
macro_rules! worker_binary {
    ($features:expr) => {
        $crate::worker_binary_with($features, cfg!(feature = "local"))
    };
}

/// [`worker_binary!`] with the test binary's `local` feature given as `local`.
pub fn worker_binary_with(features: &[&str], local: bool) -> std::path::PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(std::path::Path::parent).unwrap();
    let bin = profile_dir.join("examples").join("test_worker");
    let mut wanted: Vec<&str> = features.to_vec();
    if local {
        wanted.push("local");
    }
    wanted.sort_unstable();
    wanted.dedup();
    let key = wanted.join(",");
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.last() != Some(&key) {
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "-q",
            "-p",
            "stefuna-runtime",
            "--example",
            "test_worker",
        ])
        .arg("--target-dir")
        .arg(profile_dir.parent().unwrap());
        if !wanted.is_empty() {
            cmd.args(["--features", &key]);
        }
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().unwrap();
        assert!(
            status.success(),
            "building the test_worker example (features: {key:?}) failed"
        );
        built.push(key);
    }
    bin
}

/// Starts a process that listens on a loopback port picked here: `spawn(port)` starts it and
/// `child` gives its process. A port free when picked can be taken by another process before
/// the child binds it; then the child exits at once and the port is in use, and the process is
/// started again on another port (up to 10 tries). Returns once the child listens or exits for
/// another reason (the test then sees that).
pub async fn spawn_listening<T>(
    mut spawn: impl FnMut(u16) -> T,
    child: impl Fn(&mut T) -> &mut tokio::process::Child,
) -> T {
    for _ in 0..10 {
        let port = free_port();
        let mut started = spawn(port);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(_)) = child(&mut started).try_wait() {
                if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                    break; // taken by someone else: try another port
                }
                return started;
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
                || std::time::Instant::now() > deadline
            {
                return started;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    panic!("no free port stayed free long enough for the child to bind it, 10 times");
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
