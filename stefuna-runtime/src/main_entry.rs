//! A worker binary's `main`: flags, configuration, logging, the tokio runtime, signals and
//! `--local` around the server.

use std::process::ExitCode;
use std::time::Duration;

use stefuna_core::{Activity, ActivityDefaults};

use crate::config::{self, Config, ConfigError};
use crate::server::{Server, ServerBuilder};
use crate::shutdown::{Shutdown, listen_for_signals};

/// How long `run_main` lets the async runtime wind down: a blocking task stuck forever must not
/// keep the process alive.
const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

impl ServerBuilder {
    /// A worker binary's `main`: parses flags, loads the configuration, sets up logging, runs
    /// the server on a new tokio runtime (with `--local`, against an in-process emulator) and
    /// handles SIGTERM/SIGINT (the first drains, the second fails what still runs and exits).
    ///
    /// Exit codes: 0 after a clean shutdown (and in local mode when every `--input` execution
    /// succeeded), 1 for local executions that did not all succeed or a fatal runtime error, 2
    /// for configuration errors (the message goes to stderr and nothing starts).
    pub fn run_main(self) -> ExitCode {
        use clap::Parser;
        // A child of a process-isolation worker: flags and configuration come from the parent.
        if crate::isolation::child::is_child() {
            return crate::isolation::child::run(self);
        }
        self.run_cli(crate::cli::Cli::parse())
    }

    /// [`ServerBuilder::run_main`] with flags already parsed.
    pub fn run_cli(mut self, cli: crate::cli::Cli) -> ExitCode {
        if crate::isolation::child::is_child() {
            return crate::isolation::child::run(self);
        }
        let defaults = self.activity_defaults();
        let config = match self.config.take() {
            Some(c) => c,
            None => match config::load(&cli, &defaults) {
                Ok(c) => c,
                Err(e) => return config_error(&e.to_string()),
            },
        };
        if cli.describe {
            return crate::describe::print(&config, &defaults);
        }
        crate::logging::init(&config);
        config.warn_legacy_keys();
        if config.isolation == config::Isolation::Process {
            tracing::info!(
                maxtasksperchild = ?config.max_tasks_per_child(),
                "process isolation: each slot's task runs in a child process"
            );
        }
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("stefuna")
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: cannot start the tokio runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        let code = runtime.block_on(self.main_async(cli, config, defaults));
        runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
        code
    }

    #[cfg_attr(not(feature = "local"), allow(unused_mut, unused_variables))]
    async fn main_async(
        self,
        cli: crate::cli::Cli,
        mut config: Config,
        defaults: Vec<(String, ActivityDefaults)>,
    ) -> ExitCode {
        let shutdown = Shutdown::default();
        let signals = tokio::spawn(listen_for_signals(shutdown.clone()));

        #[cfg(feature = "local")]
        let session = if cli.local {
            match crate::local::start(&cli, &mut config, &defaults).await {
                Ok(s) => {
                    let sd = shutdown.clone();
                    tokio::spawn(async move {
                        sd.drain.cancelled().await;
                        sd.abandon_polls.cancel();
                    });
                    Some(s)
                }
                Err(e) => {
                    signals.abort();
                    return local_start_error(&e);
                }
            }
        } else {
            None
        };
        #[cfg(not(feature = "local"))]
        if cli.local {
            signals.abort();
            return config_error(
                "--local needs the `local` feature of stefuna (on by default); this binary was \
                 built without it",
            );
        }

        // `load` resolved every activity; local mode filled in ARNs and the endpoint since, so
        // it resolves them again, once. A configuration given to the builder is resolved (and
        // refused with exit 2) by the server.
        #[cfg(feature = "local")]
        if session.is_some()
            && let Err(e) = config.resolve_again(&defaults)
        {
            signals.abort();
            return config_error(&e.to_string());
        }

        let mut server = tokio::spawn(self.serve(config, shutdown.clone()));
        #[cfg(feature = "local")]
        let mut local_ok = true;
        #[cfg(feature = "local")]
        if let Some(session) = session.as_ref().filter(|s| s.has_inputs()) {
            tokio::select! {
                res = session.run_inputs() => {
                    local_ok = match res {
                        Ok(all) => all,
                        Err(e) => {
                            eprintln!("error: {e}");
                            false
                        }
                    };
                    shutdown.drain.cancel();
                }
                // The server ended first (an error, or a signal): the inputs did not all run.
                res = &mut server => {
                    signals.abort();
                    return match res {
                        Ok(Err(e)) => {
                            eprintln!("error: {e}");
                            ExitCode::from(e.exit_code())
                        }
                        Ok(Ok(())) => {
                            eprintln!("error: the worker stopped before every --input execution ended");
                            ExitCode::FAILURE
                        }
                        Err(e) => {
                            eprintln!("error: the server task failed: {e}");
                            ExitCode::FAILURE
                        }
                    };
                }
            }
        }
        let res = server.await;
        signals.abort();
        match res {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("error: {e}");
                return ExitCode::from(e.exit_code());
            }
            Err(e) => {
                eprintln!("error: the server task failed: {e}");
                return ExitCode::FAILURE;
            }
        }
        #[cfg(feature = "local")]
        if !local_ok {
            return ExitCode::FAILURE;
        }
        ExitCode::SUCCESS
    }
}

fn config_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(ConfigError::EXIT_CODE)
}

#[cfg(feature = "local")]
fn local_start_error(e: &crate::local::LocalError) -> ExitCode {
    use crate::local::LocalError;
    eprintln!("error: {e}");
    match e {
        LocalError::Start(_) | LocalError::Call { .. } => ExitCode::FAILURE,
        _ => ExitCode::from(ConfigError::EXIT_CODE),
    }
}

/// Runs `activity` as a worker binary: `Server::builder().activity(activity).run_main()`.
pub fn run_main<A: Activity>(activity: A) -> ExitCode {
    Server::builder().activity(activity).run_main()
}
