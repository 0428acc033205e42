//! `stefuna_throttled_total{api}`: calls Step Functions answered with throttling, per API.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabel {
    api: &'static str,
}

/// The throttled-calls counter family (cheap to clone: clones share the counts).
#[derive(Clone, Debug, Default)]
pub(crate) struct Throttled(Family<ApiLabel, Counter>);

impl Throttled {
    /// Counts one throttled call to `api` (an operation name such as `GetActivityTask`).
    pub(crate) fn inc(&self, api: &'static str) {
        self.0.get_or_create(&ApiLabel { api }).inc();
    }

    /// Throttled calls to `api` so far.
    #[cfg(test)]
    pub(crate) fn get(&self, api: &'static str) -> u64 {
        self.0.get_or_create(&ApiLabel { api }).get()
    }

    /// Registers the family as `throttled` (exported `stefuna_throttled_total` under the
    /// `stefuna` prefix).
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "throttled",
            "Step Functions calls answered with throttling (ThrottlingException), by API",
            self.0.clone(),
        );
    }
}
