//! Shutdown coordination: a first request drains, a second one (or the end of the grace period)
//! forces, and a last deadline bounds how long the server waits for deliveries before it exits.
//!
//! A worker binary (`run_main`) receives its signals on a thread of its own, outside the async
//! runtime: a task that blocks every runtime thread forever must not make the process deaf to
//! SIGTERM. That thread also keeps a last-resort deadline: once forced, a process still alive
//! `delivery_budget` + [`EXIT_SLACK`] later exits with status 1.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How long the server waits, after forcing, for results to be delivered before it returns
/// (`server_config.delivery_budget`, seconds).
pub(crate) const EXIT_BUDGET: Duration = Duration::from_secs(15);

/// How long after `shutdown_grace` the signal thread forces a drain the server did not force
/// itself (its runtime is blocked).
pub(crate) const GRACE_SLACK: Duration = Duration::from_secs(5);

/// Beyond the delivery budget, how long a forced process is given before the signal thread ends
/// it: more than the server needs after its budget (1 s for the retry loops, 2 s for the health
/// server, 1 s for the runtime to wind down).
pub(crate) const EXIT_SLACK: Duration = Duration::from_secs(10);

/// The shutdown stages every part of the server watches.
#[derive(Clone, Debug, Default)]
pub(crate) struct Shutdown {
    /// Stop polling; let in-flight tasks finish.
    pub(crate) drain: CancellationToken,
    /// Fail the tasks still running with `Stefuna.WorkerShutdown`.
    pub(crate) force: CancellationToken,
    /// The server is returning: stop retrying deliveries.
    pub(crate) exit: CancellationToken,
    /// Give up open polls instead of letting them finish (local mode: the in-process emulator
    /// goes away with the process, so no task handed to an open poll can be lost to another
    /// worker).
    pub(crate) abandon_polls: CancellationToken,
    /// `shutdown_grace` and the delivery budget, once the server has read its configuration.
    limits: Arc<OnceLock<Limits>>,
}

/// The server's shutdown deadlines.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// `shutdown_grace` (`None`: wait for in-flight tasks).
    pub(crate) grace: Option<Duration>,
    /// How long deliveries may take once forced.
    pub(crate) budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            grace: None,
            budget: EXIT_BUDGET,
        }
    }
}

impl Shutdown {
    /// Asks for a drain; a second call forces.
    pub(crate) fn request(&self) {
        if self.drain.is_cancelled() {
            self.force.cancel();
        } else {
            self.drain.cancel();
        }
    }

    /// Records the deadlines the server runs with (the first call wins).
    pub(crate) fn set_limits(&self, limits: Limits) {
        let _ = self.limits.set(limits);
    }

    fn limits(&self) -> Limits {
        self.limits.get().copied().unwrap_or_default()
    }
}

/// Turns SIGTERM/SIGINT into shutdown requests: the first drains, the second forces, a third
/// exits at once. Signals are received on a thread of their own (with a small runtime), so a
/// worker whose async runtime is blocked by a task still hears them and still exits: see
/// [`last_resort`].
pub(crate) async fn listen_for_signals(shutdown: Shutdown) {
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let sd = shutdown.clone();
    let spawned = std::thread::Builder::new()
        .name("stefuna-signals".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(signal_loop(sd, true)),
                Err(e) => tracing::error!(error = %e, "cannot start the signal thread's runtime"),
            }
            let _ = done.send(());
        });
    match spawned {
        Ok(_) => {
            let _ = finished.await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the signal thread; listening on the runtime");
            signal_loop(shutdown, false).await;
        }
    }
}

async fn signal_loop(shutdown: Shutdown, own_thread: bool) {
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM/SIGINT; stop the worker with SIGKILL");
            return;
        }
    };
    loop {
        let name = signals.next().await;
        if shutdown.force.is_cancelled() {
            if own_thread {
                tracing::error!(signal = name, "third signal: exiting now");
                std::process::exit(1);
            }
            continue;
        }
        if shutdown.drain.is_cancelled() {
            tracing::warn!(
                signal = name,
                "second signal: failing tasks still running and exiting (a third signal exits \
                 at once)"
            );
        } else {
            tracing::info!(
                signal = name,
                "shutting down: no new tasks; waiting for in-flight tasks (send the signal again \
                 to stop them now)"
            );
            if own_thread {
                tokio::spawn(last_resort(shutdown.clone()));
            }
        }
        shutdown.request();
    }
}

/// Runs on the signal thread from the first signal on. The server forces itself when
/// `shutdown_grace` runs out and returns within its delivery budget; if the async runtime is
/// blocked (a task spinning or sleeping on every runtime thread), nothing of that happens, so
/// this forces at the end of the grace too, and ends the process with status 1 when it is
/// still alive `delivery_budget` + [`EXIT_SLACK`] after being forced. Its tasks were not
/// answered; Step Functions times them out (`HeartbeatSeconds`) and the state machine retries.
async fn last_resort(shutdown: Shutdown) {
    let grace = shutdown.limits().grace;
    match grace {
        Some(grace) => tokio::select! {
            () = tokio::time::sleep(grace + GRACE_SLACK) => shutdown.force.cancel(),
            () = shutdown.force.cancelled() => {}
        },
        None => shutdown.force.cancelled().await,
    }
    let deadline = shutdown.limits().budget + EXIT_SLACK;
    tokio::time::sleep(deadline).await;
    tracing::error!(
        waited = ?deadline,
        "the worker did not stop after being forced (is a task blocking the async runtime's \
         threads?); exiting now, leaving its tasks to time out"
    );
    std::process::exit(1);
}

#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    async fn next(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "ctrl-c"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_request_drains_second_forces() {
        let s = Shutdown::default();
        s.request();
        assert!(s.drain.is_cancelled() && !s.force.is_cancelled());
        s.request();
        assert!(s.force.is_cancelled());
        assert!(!s.exit.is_cancelled());
    }
}
