//! The child's side: a worker binary re-executed with [`MARKER`] set runs this instead of its
//! server. It reads the configuration from the parent, runs the init hooks once, then runs one
//! task at a time and answers over the socket that is its stdin. It never talks to Step
//! Functions. When the socket closes (the parent retired it, or died, even by SIGKILL) it exits
//! at once; SIGTERM cancels the running task and exits when it ends.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use stefuna_core::{
    Context, Heartbeat, HeartbeatError, Invocation, SharedState, TaskError, TaskToken,
};
use tokio_util::sync::CancellationToken;

use super::protocol::{self, ToChild, ToParent};
use crate::config::Config;
use crate::init::InitContext;
use crate::server::ServerBuilder;
use crate::task::{check_output, panic_error};

/// The environment variable that makes a worker binary a child. Its name does not start with
/// `STEFUNA_`, so the configuration loader (which refuses unknown `STEFUNA_*` keys) never sees it.
pub(crate) const MARKER: &str = "__STEFUNA_ISOLATED_CHILD";

/// Exit code of a child whose parent went away.
const ORPHANED: u8 = 70;

/// Whether this process is a child of a process-isolation worker.
pub(crate) fn is_child() -> bool {
    std::env::var_os(MARKER).is_some()
}

/// The socket to the parent, shared by the task loop and manual heartbeats.
#[derive(Clone)]
struct Link(Arc<Mutex<UnixStream>>);

impl Link {
    fn send(&self, msg: &ToParent) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        protocol::write_sync(&mut *s, msg)
    }
}

/// A manual heartbeat: forwarded to the parent, which sends it to Step Functions.
struct Forward(Link);

impl Heartbeat for Forward {
    fn beat(&self) -> BoxFuture<'_, Result<(), HeartbeatError>> {
        let res = self.0.send(&ToParent::Heartbeat).map_err(|e| {
            HeartbeatError::Transient(format!("cannot reach the worker process: {e}"))
        });
        Box::pin(async move { res })
    }
}

/// Runs the child: never returns to the binary's `main` with a server.
pub(crate) fn run(builder: ServerBuilder) -> ExitCode {
    match serve(builder) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: stefuna isolated child: {e}");
            ExitCode::from(ORPHANED)
        }
    }
}

fn serve(builder: ServerBuilder) -> Result<ExitCode, String> {
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("no socket on stdin: {e}"))?;
    let mut reader = UnixStream::from(fd);
    let link = Link(Arc::new(Mutex::new(
        reader.try_clone().map_err(|e| e.to_string())?,
    )));
    let Some(ToChild::Hello {
        activity,
        arn,
        worker_name,
        config,
    }) = protocol::read_sync::<ToChild>(&mut reader).map_err(|e| e.to_string())?
    else {
        return Err("the first message from the worker was not its hello".into());
    };
    let config: Config =
        serde_json::from_value(config).map_err(|e| format!("bad configuration: {e}"))?;
    crate::logging::init(&config);
    if let Some(mb) = config.child_memory_limit_mb {
        let bytes = mb.saturating_mul(1024 * 1024);
        let limit = rustix::process::Rlimit {
            current: Some(bytes),
            maximum: Some(bytes),
        };
        rustix::process::setrlimit(rustix::process::Resource::As, limit)
            .map_err(|e| format!("cannot set the memory limit of {mb} MiB: {e}"))?;
    }
    let activity = builder
        .activities
        .iter()
        .find(|a| a.name() == activity)
        .cloned()
        .ok_or_else(|| format!("this binary hosts no activity `{activity}`"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("stefuna-child")
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;

    // Tasks come from a thread of their own, so a closed socket ends the process even while a
    // blocking task holds the runtime.
    let current = Arc::new(Mutex::new(CancellationToken::new()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
    {
        let current = current.clone();
        std::thread::Builder::new()
            .name("stefuna-child-link".into())
            .spawn(move || {
                loop {
                    match protocol::read_sync::<ToChild>(&mut reader) {
                        Ok(Some(ToChild::Task { token, input })) => {
                            if tx.send((token, input)).is_err() {
                                std::process::exit(0);
                            }
                        }
                        Ok(Some(ToChild::Cancel)) => {
                            current.lock().unwrap_or_else(|p| p.into_inner()).cancel();
                        }
                        Ok(Some(ToChild::Hello { .. })) => {}
                        // The parent closed the socket or died: nobody will read a result.
                        Ok(None) | Err(_) => std::process::exit(ORPHANED.into()),
                    }
                }
            })
            .map_err(|e| e.to_string())?;
    }

    let worker_config = Arc::new(config.worker_config.clone());
    let config = Arc::new(config);
    let worker_name: Arc<str> = worker_name.into();
    let arn: Arc<str> = arn.into();
    runtime.block_on(async move {
        let mut state = builder.state;
        for hook in builder.init {
            match hook(InitContext::new(config.clone(), worker_name.clone())).await {
                Ok(insert) => insert(&mut state),
                Err(e) => {
                    let message = crate::init::one_line(e.as_ref());
                    let _ = link.send(&ToParent::InitFailed { message });
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        let state: Arc<SharedState> = Arc::new(state);
        link.send(&ToParent::Ready).map_err(|e| e.to_string())?;
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
        loop {
            let (token, input) = tokio::select! {
                next = rx.recv() => match next {
                    Some(t) => t,
                    None => return Ok(ExitCode::SUCCESS),
                },
                _ = sigterm.recv() => return Ok(ExitCode::SUCCESS),
            };
            let cancel = CancellationToken::new();
            *current.lock().unwrap_or_else(|p| p.into_inner()) = cancel.clone();
            let ctx = Context::builder()
                .token(TaskToken::new(token))
                .worker_name(worker_name.clone())
                .activity_arn(arn.clone())
                .heartbeat(Arc::new(Forward(link.clone())))
                .cancellation(cancel.clone())
                .worker_config_shared(worker_config.clone())
                .state(state.clone())
                .build();
            let job = run_task(activity.clone(), input, ctx);
            tokio::pin!(job);
            let mut terminated = false;
            let result = loop {
                tokio::select! {
                    r = &mut job => break r,
                    _ = sigterm.recv(), if !terminated => {
                        terminated = true;
                        cancel.cancel();
                    }
                }
            };
            let (output, error, cause) = match check_output(result) {
                Ok(o) => (Some(o), None, None),
                Err(e) => (None, Some(e.error().to_owned()), Some(e.cause().to_owned())),
            };
            link.send(&ToParent::Done {
                output,
                error,
                cause,
            })
            .map_err(|e| e.to_string())?;
            if terminated {
                return Ok(ExitCode::SUCCESS);
            }
        }
    })
}

/// Invokes the activity as the thread mode does: async on the runtime, blocking on the blocking
/// pool, panics caught.
async fn run_task(
    activity: Arc<dyn stefuna_core::Activity>,
    input: String,
    ctx: Context,
) -> Result<String, TaskError> {
    let joined = match std::panic::catch_unwind(AssertUnwindSafe(|| activity.invoke(input, ctx))) {
        Ok(Invocation::Async(fut)) => tokio::spawn(fut).await,
        Ok(Invocation::Blocking(f)) => tokio::task::spawn_blocking(f).await,
        Err(payload) => return Err(panic_error(payload)),
    };
    match joined {
        Ok(r) => r,
        Err(e) if e.is_panic() => Err(panic_error(e.into_panic())),
        Err(e) => Err(TaskError::new(
            stefuna_core::names::PANIC,
            format!("the task was cancelled: {e}"),
        )),
    }
}
