//! A stefuna worker inside an existing warp service: the service keeps its own routes and port,
//! stefuna's `/healthz`, `/readyz` and `/` are mounted beside them, stefuna's series join the
//! service's own prometheus-client registry at `/metrics`, the worker runs in the same runtime,
//! and one SIGTERM drains the worker, then stops the HTTP server.
//!
//! ```sh
//! PORT=3000 STEFUNA_ENDPOINT_URL=http://127.0.0.1:8083 cargo run --example embedded
//! curl localhost:3000/hello/Ada     # the service's own route
//! curl localhost:3000/readyz        # stefuna's readiness, on the service's port
//! ```
//!
//! The worker reads `stefuna.toml` and `STEFUNA_*` as usual, and serves no port of its own.

use std::process::ExitCode;
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use stefuna::{CancellationToken, Monitor, Server, TaskError};
use warp::Filter;

#[derive(Deserialize)]
struct Input {
    name: String,
}

#[derive(Serialize)]
struct Output {
    shout: String,
}

#[stefuna::activity(
    arn = "arn:aws:states:us-east-1:123456789012:activity:shout",
    main = false
)]
async fn shout(input: Input) -> Result<Output, TaskError> {
    Ok(Output {
        shout: format!("HELLO {}!", input.name.to_uppercase()),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    stefuna::logging::init(&stefuna::Config::default());

    // The service's own metrics registry; stefuna's series are put into it.
    let monitor = Monitor::new();
    let greetings = Counter::<u64>::default();
    let mut registry = Registry::default();
    registry.register("greetings", "Greetings served", greetings.clone());
    monitor.register_metrics(&mut registry);
    let registry = Arc::new(registry);

    // The service's routes first, then stefuna's (`/`, `/healthz`, `/readyz`).
    let hello = warp::path!("hello" / String).map(move |name: String| {
        greetings.inc();
        format!("hello {name}\n")
    });
    let metrics = warp::path!("metrics").map(move || {
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    });
    let routes = hello.or(metrics).or(monitor.routes());

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(addr) = listener.local_addr() {
        println!("service listening on http://{addr}");
    }

    // One SIGTERM (or Ctrl-C) drains the worker; the HTTP server stops once the worker has, so
    // probes see `/readyz` 503 while it drains.
    let stop = CancellationToken::new();
    tokio::spawn(wait_for_signal(stop.clone()));
    let http_done = CancellationToken::new();
    let http = tokio::spawn(
        warp::serve(routes)
            .incoming(listener)
            .graceful(http_done.clone().cancelled_owned())
            .run(),
    );

    let worker = Server::builder()
        .activity(Shout)
        .monitor(monitor)
        .shutdown(stop.cancelled_owned())
        .run()
        .await;
    http_done.cancel();
    let _ = http.await;
    match worker {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn wait_for_signal(stop: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    stop.cancel();
}
