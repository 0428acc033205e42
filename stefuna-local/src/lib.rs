//! stefuna-local: an in-memory AWS Step Functions endpoint.
//!
//! It speaks the real wire protocol (awsJson1_0: `POST /` with
//! `X-Amz-Target: AWSStepFunctions.<Operation>`), so the real aws-sdk-sfn, boto3 and the aws CLI
//! talk to it unchanged. Activities, state machines (run by an Amazon States Language
//! interpreter), executions and their history live in memory; timers run on a clock that
//! [`EmulatorBuilder::time_scale`] can speed up, and [`Faults`] injects throttling, 5xx answers,
//! dropped connections, latency and lost answers; [`Emulator::faults_injected`] and
//! [`Emulator::answers`] tell a test which of them happened and what each task token received.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let emulator = stefuna_local::Emulator::start().await?;
//! println!("Step Functions at {}", emulator.endpoint());
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub(crate) mod asl;
mod clock;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod ledger;
mod names;
mod quota;
mod quota_trace;
mod server;
mod service;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::service::{Service, Settings};

pub use crate::asl::mock::{MockConfig, MockConfigError};
pub use crate::ledger::{FaultCounts, FaultKind, TokenAnswers};
pub use crate::quota::{ApiCounts, MAX_POLLERS_PER_ARN, QuotaCounts, aws_bucket};
pub use crate::quota_trace::{HeartbeatTimeout, TimeoutCause};

/// The AWS account every ARN is made in.
pub const ACCOUNT_ID: &str = "123456789012";

/// Fault injection, decided per request. Off by default.
///
/// `throttle`, `unavailable` and `drop_connection` refuse a request before it is handled, so
/// nothing happened and a retry is safe. `lose_answer` is the hard case: the request is handled
/// (a result closes its task, a heartbeat counts, a poll hands out its task) and then the
/// connection is closed instead of answering, so the caller cannot know it landed.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Probability (0..=1) of answering 400 `ThrottlingException`.
    pub throttle: f64,
    /// Probability of answering 503 `ServiceUnavailable`.
    pub unavailable: f64,
    /// Probability of closing the connection without a complete answer.
    pub drop_connection: f64,
    /// Extra latency, uniform between the two bounds.
    pub latency: Option<(Duration, Duration)>,
    /// Operations the faults above apply to (e.g. `"GetActivityTask"`); `None` means all.
    pub operations: Option<Vec<String>>,
    /// Per operation, the probability of handling a request and then dropping its answer.
    /// Applies to every operation named here (whatever `operations` says), and only to
    /// requests that succeeded; a `GetActivityTask` answer is dropped only when it carries a
    /// task.
    pub lose_answer: Vec<(String, f64)>,
}

impl Faults {
    /// Whether faults apply to an operation.
    fn applies_to(&self, op: &str) -> bool {
        match &self.operations {
            None => true,
            Some(ops) => ops.iter().any(|o| o == op),
        }
    }

    /// The probability of dropping the answer of a handled `op` request.
    fn lose_answer_of(&self, op: &str) -> f64 {
        self.lose_answer
            .iter()
            .find(|(o, _)| o == op)
            .map_or(0.0, |(_, p)| *p)
    }
}

/// A running in-memory Step Functions endpoint; stops when dropped.
pub struct Emulator {
    addr: SocketAddr,
    endpoint: String,
    service: Arc<Service>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts an emulator on 127.0.0.1 at a free port with the defaults.
    pub async fn start() -> std::io::Result<Emulator> {
        Emulator::builder().start().await
    }

    /// A builder for non-default settings.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The endpoint URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The emulator's clock: the wall time it stamps on history events and `$$` timestamps
    /// (`$$.State.EnteredTime`, `$$.Execution.StartTime`), which `time_scale` makes run faster
    /// than the system clock. Give it to a worker that compares those timestamps with "now",
    /// e.g. stefuna's `ServerBuilder::service_clock`.
    pub fn clock(&self) -> impl Fn() -> std::time::SystemTime + Send + Sync + Clone + 'static {
        let clock = self.service.clock.clone();
        move || clock.now().into()
    }

    /// Replaces the fault injection settings; applies to requests arriving from now on.
    pub fn set_faults(&self, faults: Faults) {
        *service::write(&self.service.faults) = Arc::new(faults);
    }

    /// The faults injected so far, by kind and operation.
    pub fn faults_injected(&self) -> FaultCounts {
        self.service.injected.snapshot()
    }

    /// Every task token issued so far, with the answers it received and accepted and the
    /// answers to it that were dropped on purpose.
    pub fn answers(&self) -> std::collections::HashMap<String, TokenAnswers> {
        self.service.answers()
    }

    /// Per API, the requests AWS's quotas let through and refused (empty while quotas are off,
    /// see [`EmulatorBuilder::aws_quotas`]). The same counts are served as JSON at
    /// `GET /_stefuna/quotas`.
    pub fn quota_counts(&self) -> QuotaCounts {
        self.service.quotas.counts()
    }

    /// The heartbeat timeouts that happened while quotas were enforced, oldest first, each
    /// with the beats and results for its token that were throttled and accepted in its last
    /// `HeartbeatSeconds` ([`HeartbeatTimeout::cause`]). Also served in `GET /_stefuna/quotas`
    /// as `heartbeatTimeouts`.
    pub fn heartbeat_timeouts(&self) -> Vec<HeartbeatTimeout> {
        self.service.quotas.heartbeat_timeouts()
    }

    /// Turns AWS's API quotas on or off for requests arriving from now on (buckets keep their
    /// level). A test or a fleet run can set up its executions unthrottled, then switch the
    /// quotas on for the workers.
    pub fn set_aws_quotas(&self, on: bool) {
        self.service.quotas.set_enabled(on);
    }

    /// Stops gracefully: open polls answer `{}`, executions stop, in-flight requests finish.
    pub async fn shutdown(mut self) {
        self.begin_stop();
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    fn begin_stop(&mut self) {
        self.service.close();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.begin_stop();
    }
}

/// Settings for an [`Emulator`].
#[derive(Clone, Debug)]
pub struct EmulatorBuilder {
    host: IpAddr,
    port: u16,
    long_poll: Duration,
    time_scale: f64,
    faults: Faults,
    panic_on: Vec<String>,
    aws_quotas: bool,
    quota_scale: f64,
    mock_config: Option<Arc<MockConfig>>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            long_poll: Duration::from_secs(60),
            time_scale: 1.0,
            faults: Faults::default(),
            panic_on: Vec::new(),
            aws_quotas: false,
            quota_scale: 1.0,
            mock_config: None,
        }
    }
}

impl EmulatorBuilder {
    /// Address to bind (default 127.0.0.1).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// Port to bind (default 0: a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// How long `GetActivityTask` waits for a task before answering `{}` (default 60 s).
    pub fn long_poll(mut self, long_poll: Duration) -> Self {
        self.long_poll = long_poll;
        self
    }

    /// Clock speed-up for Wait states, task and execution timeouts and retry back-off
    /// (default 1; 100 turns a 60 s heartbeat timeout into 0.6 s).
    pub fn time_scale(mut self, time_scale: f64) -> Self {
        self.time_scale = time_scale;
        self
    }

    /// Initial fault injection (default: none).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Enforces AWS's API quotas (default off): a token bucket per API and Region with AWS's
    /// sizes and refill rates (refills sped up by [`EmulatorBuilder::time_scale`]), answering
    /// `ThrottlingException` as AWS does when one is empty, and `ActivityWorkerLimitExceeded`
    /// to a poll beyond [`MAX_POLLERS_PER_ARN`] open on one activity. See
    /// [`Emulator::quota_counts`].
    pub fn aws_quotas(mut self, on: bool) -> Self {
        self.aws_quotas = on;
        self
    }

    /// Multiplies every quota's bucket size and refill rate (default 1: AWS's numbers), to
    /// model a fleet at a fraction of AWS's quotas on one machine (0.1: a tenth). Only matters
    /// with [`EmulatorBuilder::aws_quotas`].
    pub fn quota_scale(mut self, scale: f64) -> Self {
        self.quota_scale = scale;
        self
    }

    /// Mocked service integrations (AWS's MockConfigFile format, see [`MockConfig`]): a Task
    /// state whose `Resource` is not an activity answers from the test case its execution
    /// names (`StartExecution` with `stateMachineArn` `ARN#TESTCASE`). Without one, such a
    /// Task fails with `States.Runtime` naming the state.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let mocks = stefuna_local::MockConfig::from_file("MockConfigFile.json")?;
    /// let emulator = stefuna_local::Emulator::builder().mock_config(mocks).start().await?;
    /// # drop(emulator);
    /// # Ok(())
    /// # }
    /// ```
    pub fn mock_config(mut self, config: MockConfig) -> Self {
        self.mock_config = Some(Arc::new(config));
        self
    }

    /// Test hook: makes the emulator panic on purpose, to prove a panic never takes it down.
    ///
    /// `operation` is an operation name (e.g. `"DescribeActivity"`): its requests panic inside
    /// the handler while holding the service's activity table lock, and must be answered
    /// 500 `InternalFailure` while other requests go on being served. The name `"Execution"`
    /// makes every execution's interpreter task panic when it starts: the execution must end
    /// `FAILED` with `States.Runtime`. May be called several times. Not for normal use.
    pub fn panic_on(mut self, operation: impl Into<String>) -> Self {
        self.panic_on.push(operation.into());
        self
    }

    /// Binds and starts serving.
    pub async fn start(self) -> std::io::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(self.host, self.port)).await?;
        let addr = listener.local_addr()?;
        let service = Service::new(
            Settings {
                long_poll: self.long_poll,
                time_scale: self.time_scale,
                panic_on: self.panic_on,
                aws_quotas: self.aws_quotas,
                quota_scale: self.quota_scale,
                mock_config: self.mock_config,
            },
            self.faults,
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let server = warp::serve(server::routes(service.clone()))
            .incoming(listener)
            .graceful(async move {
                let _ = stopped.await;
            })
            .run();
        let server = tokio::spawn(server);
        let host = match addr.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        Ok(Emulator {
            endpoint: format!("http://{host}:{}", addr.port()),
            addr,
            service,
            stop: Some(stop),
            server: Some(server),
        })
    }
}
