//! The Step Functions client of `deploy` and the one-line messages for its failed calls.

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};

/// Whether `endpoint` is on this machine (stefuna-local, LocalStack): such endpoints get static
/// test credentials and need no role.
pub(crate) fn is_local(endpoint: Option<&str>) -> bool {
    endpoint.is_some_and(|e| {
        let host = e
            .split("://")
            .nth(1)
            .unwrap_or(e)
            .split(['/', ':'])
            .next()
            .unwrap_or("");
        matches!(host, "127.0.0.1" | "localhost" | "[" | "0.0.0.0") || e.contains("[::1]")
    })
}

/// One line for a failed SDK call: the service's code and message, or why the call never
/// reached it.
pub(crate) fn describe<E, R>(call: &str, endpoint: Option<&str>, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let target = endpoint.unwrap_or("AWS");
    match err {
        SdkError::ServiceError(e) => {
            let e = e.err();
            let code = e.code().unwrap_or("error");
            let msg = e.message().unwrap_or("no message");
            if code.contains("AccessDenied") || code.contains("UnrecognizedClient") {
                format!(
                    "{call} was refused ({code}): {msg}; check the credentials and the deployer's IAM policy (see README)"
                )
            } else {
                format!("{call} failed: {code}: {msg}")
            }
        }
        SdkError::DispatchFailure(_) => {
            let chain = error_chain(err);
            if chain.contains("credentials") || chain.contains("Credentials") {
                format!(
                    "{call}: no AWS credentials found ({chain}); configure a profile or AWS_ACCESS_KEY_ID, or pass --endpoint-url for a local endpoint"
                )
            } else {
                format!("{call}: cannot reach {target}: {chain}")
            }
        }
        SdkError::TimeoutError(_) => format!("{call}: {target} did not answer in time"),
        other => {
            let chain = error_chain(other);
            if chain.contains("credentials") {
                format!(
                    "{call}: no AWS credentials found ({chain}); configure a profile or AWS_ACCESS_KEY_ID, or pass --endpoint-url for a local endpoint"
                )
            } else {
                format!("{call} failed: {chain}")
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// An SDK client for `endpoint` (AWS when `None`) in `region`.
pub(crate) async fn client(endpoint: Option<&str>, region: Option<String>) -> aws_sdk_sfn::Client {
    if is_local(endpoint) && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        // Local endpoints take any credentials; do not require an AWS profile for them.
        let conf = aws_sdk_sfn::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.unwrap_or_else(|| "us-east-1".into())))
            .endpoint_url(endpoint.unwrap_or_default())
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .build();
        return aws_sdk_sfn::Client::from_conf(conf);
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(Region::new(r));
    }
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    aws_sdk_sfn::Client::new(&loader.load().await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_endpoints_are_recognised() {
        assert!(is_local(Some("http://127.0.0.1:8083")));
        assert!(is_local(Some("http://localhost:4566/")));
        assert!(is_local(Some("http://[::1]:4566")));
        assert!(!is_local(Some("https://states.us-east-1.amazonaws.com")));
        assert!(!is_local(None));
    }
}
