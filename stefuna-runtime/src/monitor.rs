//! [`Monitor`]: a server's health and metrics, to serve on a host service's own HTTP server.

use std::sync::Arc;
use std::time::Duration;

use crate::health::Health;
use crate::metrics::Metrics;

/// The health and metrics of a server, shareable before it runs: mount [`Monitor::routes`] on
/// your own warp server and put the series into your own prometheus-client registry with
/// [`Monitor::register_metrics`]. Give the same monitor to the server with
/// [`crate::ServerBuilder::monitor`].
///
/// # Example
/// ```no_run
/// use warp::Filter;
///
/// # async fn example(worker: stefuna_runtime::ServerBuilder) {
/// let monitor = stefuna_runtime::Monitor::new();
/// let api = warp::path!("hello").map(|| "hi");
/// let routes = api.or(monitor.routes());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
/// tokio::spawn(warp::serve(routes).incoming(listener).run());
/// worker.monitor(monitor).run().await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Monitor {
    health: Arc<Health>,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor::new()
    }
}

impl Monitor {
    /// A monitor in the `starting` state (`/readyz` 503 until the server polls).
    pub fn new() -> Self {
        Monitor {
            health: Arc::new(Health::new(
                Duration::from_secs(300),
                Arc::new(Metrics::default()),
            )),
        }
    }

    /// `GET /`, `/healthz`, `/readyz` and `/metrics`, as the worker's own health server answers
    /// them; any other request is rejected, so this combines with `.or()` and can sit under a
    /// prefix (`warp::path("stefuna").and(monitor.routes())`).
    pub fn routes(
        &self,
    ) -> impl warp::Filter<Extract = (warp::reply::Response,), Error = warp::Rejection>
    + Clone
    + Send
    + Sync
    + 'static {
        crate::health::routes(self.health.clone())
    }

    /// Puts the server's `stefuna_*` series into `registry`, read fresh at each scrape.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.health.metrics.register_into(registry);
    }

    /// Whether the server takes tasks (what `/readyz` answers).
    pub fn is_ready(&self) -> bool {
        self.health.is_ready()
    }

    /// Whether the server is live (what `/healthz` answers).
    pub fn is_live(&self) -> bool {
        self.health.unhealthy().is_none()
    }

    pub(crate) fn health(&self) -> &Arc<Health> {
        &self.health
    }
}
