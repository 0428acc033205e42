//! Shutdown coordination: a first request drains, a second one (or the end of the grace period)
//! forces, and a last deadline bounds how long the server waits for deliveries before it exits.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How long the server waits, after forcing, for results to be delivered before it returns
/// (`server_config.delivery_budget`, seconds).
pub(crate) const EXIT_BUDGET: Duration = Duration::from_secs(15);

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
}

/// Turns SIGTERM/SIGINT into shutdown requests: the first drains, the second forces.
pub(crate) async fn listen_for_signals(shutdown: Shutdown) {
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM/SIGINT; stop the worker with SIGKILL");
            return;
        }
    };
    while !shutdown.force.is_cancelled() {
        let name = signals.next().await;
        if shutdown.drain.is_cancelled() {
            tracing::warn!(
                signal = name,
                "second signal: failing tasks still running and exiting"
            );
        } else {
            tracing::info!(
                signal = name,
                "shutting down: no new tasks; waiting for in-flight tasks (send the signal again \
                 to stop them now)"
            );
        }
        shutdown.request();
    }
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
