//! Entry points for the fuzz targets in the repository's `fuzz/` folder (`cargo fuzz`). Not a
//! stable API: they reach parts of the emulator the HTTP server hides.

use std::time::Duration;

use crate::Faults;
use crate::service::{Call, Service, Settings};

pub use crate::asl::fuzzing::{definition, path};

/// Runs a script of requests on a fresh service, as the HTTP server dispatches them (without
/// injected faults), and returns each answer's HTTP status. One request per line:
/// `Operation {"json": "body"}`. Executions the script starts run for a few scheduler turns,
/// then the service is closed.
pub fn requests(script: &str) -> Vec<u16> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let svc = Service::new(
            Settings {
                long_poll: Duration::ZERO,
                time_scale: 1000.0,
                panic_on: Vec::new(),
                aws_quotas: false,
                quota_scale: 1.0,
                mock_config: None,
            },
            Faults::default(),
        );
        let mut statuses = Vec::new();
        for line in script.lines() {
            let (op, body) = line.split_once(' ').unwrap_or((line, ""));
            let call = Call {
                region: "us-east-1",
                body: body.as_bytes(),
            };
            statuses.push(match svc.dispatch(op, call).await {
                Ok(_) => 200,
                Err(e) => e.status.as_u16(),
            });
            for _ in 0..16 {
                tokio::task::yield_now().await;
            }
        }
        svc.close();
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
        statuses
    })
}
