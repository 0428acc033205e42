//! Log output: tracing-subscriber with a filter from `loglevel` and `text` or `json` lines on
//! stderr (colours only when stderr is a terminal).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber for `config`: `loglevel` as filter directives (`info`,
/// `warn,stefuna_runtime=debug`), `log_format` `text` or `json`.
///
/// Does nothing when a subscriber is already installed (tests, or an embedding service that set
/// up its own logging).
pub fn init(config: &Config) {
    let filter =
        EnvFilter::try_new(directives(&config.loglevel)).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
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
