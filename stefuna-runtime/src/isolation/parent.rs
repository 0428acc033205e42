//! One child process seen from the worker: started from this executable with the marker, its
//! stderr kept (the last lines name a crash) and forwarded, a task sent and its answer read,
//! SIGTERM then SIGKILL when the task is cancelled, and the crash error when it dies.

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stefuna_core::{Heartbeat, TaskError, names};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::child::MARKER;
use super::protocol::{self, ToChild, ToParent};

/// Lines of a child's stderr kept for the crash cause.
const STDERR_LINES: usize = 20;

/// What a child is started with.
pub(crate) struct Spawn {
    /// The first frame it gets.
    pub(crate) activity: String,
    pub(crate) arn: String,
    pub(crate) worker_name: String,
    pub(crate) config: serde_json::Value,
}

/// A warm child.
pub(crate) struct Child {
    process: tokio::process::Child,
    /// `None` once a task's read was given up (the child is not reused then).
    reader: Option<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    tail: Arc<Mutex<VecDeque<String>>>,
    stderr: Option<tokio::task::JoinHandle<()>>,
    /// Tasks it has run.
    pub(crate) tasks: u64,
}

/// How a task in a child ended.
pub(crate) enum Ended {
    /// It answered; the child can take another task.
    Answered(Result<String, TaskError>),
    /// It was cancelled (lost task or shutdown); the child is gone or going.
    Cancelled,
    /// The child died; the error for `SendTaskFailure`.
    Crashed(TaskError),
}

impl Child {
    /// Starts a child and waits until its init hooks ran.
    pub(crate) async fn start(spec: &Spawn) -> Result<Child, TaskError> {
        let exe = std::env::current_exe()
            .map_err(|e| crashed(format!("cannot find this executable to start a child: {e}")))?;
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| crashed(format!("cannot make a socket for a child: {e}")))?;
        let mut cmd = Command::new(exe);
        cmd.env(MARKER, "1")
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            // The child's stdout is not the protocol: user prints join the worker's stderr.
            .stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::piped())
            // A terminal's Ctrl-C goes to the worker, which drains its children itself.
            .process_group(0)
            .kill_on_drop(true);
        let mut process = cmd
            .spawn()
            .map_err(|e| crashed(format!("cannot start a child process: {e}")))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr = process.stderr.take().map(|err| {
            let tail = tail.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    eprintln!("{line}");
                    let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                    if t.len() == STDERR_LINES {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            })
        });
        ours.set_nonblocking(true)
            .map_err(|e| crashed(format!("cannot use the child's socket: {e}")))?;
        let sock = UnixStream::from_std(ours)
            .map_err(|e| crashed(format!("cannot use the child's socket: {e}")))?;
        let (reader, writer) = sock.into_split();
        let mut child = Child {
            process,
            reader: Some(reader),
            writer,
            tail,
            stderr,
            tasks: 0,
        };
        let hello = ToChild::Hello {
            activity: spec.activity.clone(),
            arn: spec.arn.clone(),
            worker_name: spec.worker_name.clone(),
            config: spec.config.clone(),
        };
        if protocol::write(&mut child.writer, &hello).await.is_err() {
            return Err(child.crash_error("while starting").await);
        }
        let ready = match child.reader.as_mut() {
            Some(r) => protocol::read::<ToParent>(r).await,
            None => Ok(None),
        };
        match ready {
            Ok(Some(ToParent::Ready)) => Ok(child),
            Ok(Some(ToParent::InitFailed { message })) => Err(crashed(format!(
                "the child process's init hook failed: {message}"
            ))),
            _ => Err(child.crash_error("while starting").await),
        }
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.process.id()
    }

    /// Runs one task. `cancel` fires when the task is lost or shutdown's grace ran out: the
    /// child gets `Cancel` and SIGTERM, then SIGKILL after `grace`.
    pub(crate) async fn run(
        &mut self,
        token: &str,
        input: String,
        hb: Arc<dyn Heartbeat>,
        cancel: &CancellationToken,
        grace: Duration,
    ) -> Ended {
        self.tasks += 1;
        let task = ToChild::Task {
            token: token.to_owned(),
            input,
        };
        if protocol::write(&mut self.writer, &task).await.is_err() {
            return Ended::Crashed(self.crash_error("before it got its task").await);
        }
        let Some(reader) = self.reader.take() else {
            return Ended::Crashed(crashed("the child's socket was lost".into()));
        };
        // The read owns the reader and gives it back, so a frame is never half read when the
        // cancellation branch wins.
        let mut pending = Box::pin(read_owned(reader));
        let mut cancelled = false;
        let kill_at = tokio::time::sleep(Duration::from_secs(86_400 * 365));
        tokio::pin!(kill_at);
        loop {
            tokio::select! {
                (reader, msg) = &mut pending => match msg {
                    Ok(Some(ToParent::Heartbeat)) => {
                        let hb = hb.clone();
                        tokio::spawn(async move { let _ = hb.beat().await; });
                        pending = Box::pin(read_owned(reader));
                    }
                    Ok(Some(ToParent::Done { output, error, cause })) => {
                        if cancelled {
                            return Ended::Cancelled;
                        }
                        self.reader = Some(reader);
                        return Ended::Answered(match output {
                            Some(o) => Ok(o),
                            None => Err(TaskError::new(
                                error.unwrap_or_else(|| names::TASK_FAILURE.into()),
                                cause.unwrap_or_default(),
                            )),
                        });
                    }
                    Ok(Some(_)) => pending = Box::pin(read_owned(reader)),
                    Ok(None) | Err(_) => {
                        if cancelled {
                            let _ = self.process.wait().await;
                            return Ended::Cancelled;
                        }
                        return Ended::Crashed(self.crash_error("while running its task").await);
                    }
                },
                () = cancel.cancelled(), if !cancelled => {
                    cancelled = true;
                    let _ = protocol::write(&mut self.writer, &ToChild::Cancel).await;
                    self.signal(rustix::process::Signal::TERM);
                    kill_at.as_mut().reset(tokio::time::Instant::now() + grace);
                }
                () = &mut kill_at, if cancelled => {
                    tracing::warn!(pid = self.pid(), ?grace, "child did not stop within its grace; killing it");
                    let _ = self.process.start_kill();
                    let _ = self.process.wait().await;
                    return Ended::Cancelled;
                }
            }
        }
    }

    fn signal(&self, sig: rustix::process::Signal) {
        let pid = self
            .pid()
            .and_then(|p| i32::try_from(p).ok())
            .and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, sig);
        }
    }

    /// Retires an idle child: closing its socket makes it exit; it is killed if it has not
    /// within `grace`.
    pub(crate) fn retire(self, grace: Duration) -> tokio::task::JoinHandle<()> {
        let Child {
            mut process,
            reader,
            writer,
            stderr,
            ..
        } = self;
        drop((reader, writer));
        tokio::spawn(async move {
            if tokio::time::timeout(grace, process.wait()).await.is_err() {
                let _ = process.kill().await;
            }
            if let Some(s) = stderr {
                let _ = tokio::time::timeout(Duration::from_secs(1), s).await;
            }
        })
    }

    /// The child died: waits for its status and the rest of its stderr, and names both.
    async fn crash_error(&mut self, when: &str) -> TaskError {
        let pid = self.pid();
        let status = match tokio::time::timeout(Duration::from_secs(5), self.process.wait()).await {
            Ok(Ok(s)) => describe_status(s),
            _ => {
                let _ = self.process.start_kill();
                "it closed its socket and was killed".to_owned()
            }
        };
        if let Some(s) = self.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), s).await;
        }
        let tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        let mut cause = format!(
            "the worker's child process{} died {when}: {status}",
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        );
        if tail.is_empty() {
            cause.push_str("; it wrote nothing to stderr");
        } else {
            cause.push_str("; its last stderr lines:\n");
            cause.push_str(&tail.iter().cloned().collect::<Vec<_>>().join("\n"));
        }
        crashed(cause)
    }
}

async fn read_owned(mut r: OwnedReadHalf) -> (OwnedReadHalf, std::io::Result<Option<ToParent>>) {
    let msg = protocol::read::<ToParent>(&mut r).await;
    (r, msg)
}

fn crashed(cause: String) -> TaskError {
    TaskError::new(names::WORKER_CRASHED, cause)
}

/// "killed by signal 6 (SIGABRT)", "exited with status 3".
fn describe_status(s: ExitStatus) -> String {
    if let Some(sig) = s.signal() {
        let name = match sig {
            1 => "SIGHUP",
            2 => "SIGINT",
            4 => "SIGILL",
            6 => "SIGABRT",
            7 => "SIGBUS",
            8 => "SIGFPE",
            9 => "SIGKILL (the kernel's OOM killer sends this too)",
            11 => "SIGSEGV",
            13 => "SIGPIPE",
            15 => "SIGTERM",
            _ => "",
        };
        let core = if s.core_dumped() { ", core dumped" } else { "" };
        if name.is_empty() {
            format!("killed by signal {sig}{core}")
        } else {
            format!("killed by signal {sig} ({name}){core}")
        }
    } else {
        match s.code() {
            Some(c) => format!("exited with status {c}"),
            None => format!("ended: {s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_named() {
        assert_eq!(
            describe_status(ExitStatus::from_raw(6)),
            "killed by signal 6 (SIGABRT)"
        );
        assert_eq!(
            describe_status(ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
        assert_eq!(
            describe_status(ExitStatus::from_raw(64)),
            "killed by signal 64"
        );
    }
}
