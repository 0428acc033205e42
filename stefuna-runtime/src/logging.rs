//! Log output: tracing-subscriber with a filter from `loglevel` and `text` or `json` lines on
//! stderr (colours only when stderr is a terminal).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber for `config`: `loglevel` as filter directives (`info`,
/// `info,stefuna=debug`, `warn,stefuna_runtime=debug,my_worker=trace`), `log_format` `text` or
/// `json`, on stderr.
///
/// Does nothing when a subscriber is already installed (tests, or an embedding service that set
/// up its own logging).
pub fn init(config: &Config) {
    install(config, std::io::stderr, std::io::stderr().is_terminal());
}

/// Like [`init`], writing to `writer` instead of stderr (a file, a pipe, a buffer in a test).
/// No colours.
///
/// With `log_format = "json"` every event is one JSON object on one line: `timestamp`, `level`,
/// `target`, `message` and the event's fields at the top level, `span` (the innermost span with
/// its fields, e.g. the `task` span's `activity`, `worker`, `token`, `execution`, `attempt`) and
/// `spans` (all open spans, outermost first).
///
/// # Example
/// ```
/// let config = stefuna_runtime::Config::default();
/// stefuna_runtime::logging::init_with_writer(&config, std::io::stdout);
/// ```
pub fn init_with_writer<W>(config: &Config, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    install(config, writer, false);
}

fn install<W>(config: &Config, writer: W, ansi: bool)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_new(directives(&config.loglevel)).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
        // A log line that cannot be written (stderr a closed pipe) is dropped: the default
        // reports it with `eprintln!`, which panics on that same stderr and takes down whatever
        // task was logging (pollers, the signal listener), leaving a worker that neither polls
        // nor stops.
        .log_internal_errors(false);
    let _ = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}

/// `loglevel`, quieting warp's per-connection errors (a health probe or a poll that hung up is
/// not a worker error) unless the user set a level for warp.
fn directives(loglevel: &str) -> String {
    if loglevel.contains("warp") {
        loglevel.to_owned()
    } else {
        format!("{loglevel},warp::server=off")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warp_connection_errors_are_quiet_unless_asked_for() {
        assert_eq!(directives("info"), "info,warp::server=off");
        assert_eq!(directives("debug,warp=trace"), "debug,warp=trace");
        assert!(EnvFilter::try_new(directives("warn,stefuna_runtime=debug")).is_ok());
    }
}
