//! The Step Functions clients: one for the long poll, one for everything else, and the error
//! classes the runtime acts on.
//!
//! Credentials come from aws-config's default chain (environment, profile, SSO, container and
//! instance roles). When the endpoint is a loopback address (stefuna-local, LocalStack) and the
//! environment holds no `AWS_ACCESS_KEY_ID`, static placeholder credentials are used instead, so
//! local runs and tests need no AWS setup.

use std::time::Duration;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::config::timeout::TimeoutConfig;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region, StalledStreamProtectionConfig};
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Read timeout of `GetActivityTask`: above the 60 s AWS holds a long poll open.
pub(crate) const POLL_READ_TIMEOUT: Duration = Duration::from_secs(70);
/// Attempt timeout of `GetActivityTask`.
pub(crate) const POLL_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(75);
/// Read and attempt timeout of every other call.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The two clients of one region/endpoint.
///
/// The SDK's own retries are off on both: the runtime loops itself (with backoff and jitter) so a
/// poll is never silently re-sent and a result is retried until it lands or the token is dead.
#[derive(Clone, Debug)]
pub(crate) struct Clients {
    /// For `GetActivityTask`.
    pub(crate) poll: Client,
    /// For `SendTask*`.
    pub(crate) call: Client,
}

impl Clients {
    /// Clients derived from a caller's client (its credentials, region and endpoint kept).
    pub(crate) fn from_client(client: &Client) -> Clients {
        Clients::from_builder(client.config().to_builder())
    }

    /// The two clients from one config builder.
    ///
    /// Stalled-stream protection is off: it watches streaming bodies for throughput, but every
    /// body here is one JSON document of at most 256 KiB, and the read and attempt timeouts
    /// below already end a call that stalls. Its per-call timers and body wrappers cost about
    /// 5 % of a heartbeat's CPU (`perf record` of the density run, README "Density").
    fn from_builder(base: aws_sdk_sfn::config::Builder) -> Clients {
        let base = base.stalled_stream_protection(StalledStreamProtectionConfig::disabled());
        Clients {
            poll: Client::from_conf(
                base.clone()
                    .timeout_config(poll_timeouts())
                    .retry_config(RetryConfig::disabled())
                    .build(),
            ),
            call: Client::from_conf(
                base.timeout_config(call_timeouts())
                    .retry_config(RetryConfig::disabled())
                    .build(),
            ),
        }
    }

    /// Clients for `region`, with `endpoint_url` when set, credentials from the default chain.
    pub(crate) async fn load(region: &str, endpoint_url: Option<&str>) -> Clients {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned()));
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
            if is_loopback(url) && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(Credentials::new(
                    "stefuna-local",
                    "stefuna-local",
                    None,
                    None,
                    "stefuna-loopback",
                ));
            }
        }
        let sdk = loader.load().await;
        check_credentials(&sdk).await;
        // Straight from the loaded config, not through a client built only to be taken apart
        // again (`Client::new(&sdk).config().to_builder()`).
        Clients::from_builder(aws_sdk_sfn::config::Builder::from(&sdk))
    }
}

fn poll_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(POLL_READ_TIMEOUT)
        .operation_attempt_timeout(POLL_ATTEMPT_TIMEOUT)
        .operation_timeout(POLL_ATTEMPT_TIMEOUT)
        .build()
}

fn call_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(CALL_TIMEOUT)
        .operation_attempt_timeout(CALL_TIMEOUT)
        .operation_timeout(CALL_TIMEOUT)
        .build()
}

/// What a person must do when the worker has no credentials at all.
pub(crate) const NO_CREDENTIALS_HINT: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
     AWS_PROFILE (after `aws configure` or `aws sso login`), or run where an IAM role is attached \
     (EC2 instance profile, ECS task role, EKS service account); to try the worker without AWS, \
     run it with --local";

/// Logs one clear line when no credentials can be found; the pollers then keep retrying with
/// backoff (credentials may appear later, e.g. an instance role still being attached).
async fn check_credentials(sdk: &aws_config::SdkConfig) {
    use aws_credential_types::provider::ProvideCredentials;
    match sdk.credentials_provider() {
        None => tracing::error!(
            "no AWS credentials provider configured; Step Functions calls will fail until there \
             are credentials: {NO_CREDENTIALS_HINT}"
        ),
        Some(p) => {
            if let Err(e) = p.provide_credentials().await {
                tracing::error!(
                    "no AWS credentials found; Step Functions calls will fail until there are \
                     credentials: {NO_CREDENTIALS_HINT}"
                );
                // The chain's own account (which providers were tried) is for whoever debugs it.
                tracing::debug!(error = %one_line(&DisplayErrorContext(&e).to_string()), "credential chain");
            }
        }
    }
}

/// `text` on one line: log shippers and `grep` see one entry per line.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a failed call failed because no credentials could be loaded.
pub(crate) fn is_missing_credentials<E, R>(err: &SdkError<E, R>) -> bool
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_credential_types::provider::error::CredentialsError;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(s) = source {
        if s.downcast_ref::<CredentialsError>().is_some() {
            return true;
        }
        source = s.source();
    }
    false
}

/// What a person must do about a refusal no retry will fix, by error code.
pub(crate) fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "ExpiredToken"
        | "ExpiredTokenException" => {
            "step functions rejected the worker's AWS credentials: check AWS_ACCESS_KEY_ID / \
             AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or AWS_PROFILE (expired session? wrong \
             account?), and that the region matches the activity's"
        }
        "AccessDeniedException" | "AccessDenied" => {
            "the worker's AWS credentials lack permission: allow states:GetActivityTask, \
             states:SendTaskSuccess, states:SendTaskFailure and states:SendTaskHeartbeat on the \
             activity"
        }
        "ActivityDoesNotExist" => {
            "no activity has this ARN: create it (e.g. `cargo xtask deploy`) or set \
             `activity_arn` (--activity-arn, STEFUNA_ACTIVITY_ARN) to one that exists in this \
             account and region"
        }
        _ => return None,
    })
}

/// Whether `url`'s host is a loopback address or `localhost`.
pub(crate) fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What the runtime does about a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// The task token is no longer accepted (`TaskTimedOut`, `TaskDoesNotExist`, `InvalidToken`).
    TokenDead,
    /// Throttling, 5xx, timeouts, network: try again later.
    Transient,
    /// A request Step Functions will never accept (validation, access denied).
    Permanent,
}

const DEAD_TOKEN_CODES: &[&str] = &["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"];
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServerError",
];

/// Classifies a failed SDK call.
pub(crate) fn classify<E, R>(err: &SdkError<E, R>) -> ErrorClass
where
    E: ProvideErrorMetadata,
    R: HasStatus,
{
    match err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("");
            if DEAD_TOKEN_CODES.contains(&code) {
                ErrorClass::TokenDead
            } else if THROTTLING_CODES.contains(&code)
                || se.raw().status() >= 500
                || se.raw().status() == 429
            {
                ErrorClass::Transient
            } else {
                ErrorClass::Permanent
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorClass::Transient
        }
        // Construction failures include missing credentials, which may appear later.
        _ => ErrorClass::Transient,
    }
}

/// The error code of a service error, if any (for logs and metrics).
pub(crate) fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<String> {
    match err {
        SdkError::ServiceError(se) => se.err().code().map(str::to_owned),
        _ => None,
    }
}

/// A one-line description of a failed call: its message and its causes, joined with `: `
/// (the service's code and message for service errors).
pub(crate) fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    if is_missing_credentials(err) {
        return "no AWS credentials found".to_owned();
    }
    if let SdkError::ServiceError(se) = err {
        let e = se.err();
        return match (e.code(), e.message()) {
            (Some(code), Some(msg)) => format!("{code}: {msg}"),
            (Some(code), None) => code.to_owned(),
            _ => chain(e),
        };
    }
    chain(err)
}

fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    one_line(&parts.join(": "))
}

/// The HTTP status of a raw response.
pub(crate) trait HasStatus {
    /// The status code.
    fn status(&self) -> u16;
}

impl HasStatus for aws_smithy_runtime_api::http::Response {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Exponential backoff with full jitter: attempt 0 waits up to `base`, doubling up to `cap`.
pub(crate) fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(2u32.saturating_pow(attempt.min(20)));
    let ceiling = exp.min(cap);
    // Full jitter, but never less than half the ceiling, so retries never turn into a hot loop.
    let half = ceiling / 2;
    half + ceiling.mul_f64(fastrand::f64()) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_recognised() {
        for url in [
            "http://127.0.0.1:4566",
            "http://localhost:8083/",
            "http://[::1]:9/x",
            "https://user@127.0.0.2",
            "127.0.0.1:80",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://states.us-east-1.amazonaws.com",
            "http://10.0.0.1:4566",
            "http://localhost.example.com",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    type Err = SdkError<
        aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError,
        aws_smithy_runtime_api::http::Response,
    >;

    fn service_error(status: u16, code: &str) -> Err {
        let meta = aws_smithy_types::error::ErrorMetadata::builder()
            .code(code)
            .message("it went wrong")
            .build();
        let raw = aws_smithy_runtime_api::http::Response::new(
            status.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::empty(),
        );
        SdkError::service_error(
            aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError::generic(meta),
            raw,
        )
    }

    #[test]
    fn errors_are_classified_by_code_and_status() {
        for code in ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"] {
            assert_eq!(
                classify(&service_error(400, code)),
                ErrorClass::TokenDead,
                "{code}"
            );
        }
        assert_eq!(
            classify(&service_error(400, "ThrottlingException")),
            ErrorClass::Transient
        );
        assert_eq!(
            classify(&service_error(503, "Whatever")),
            ErrorClass::Transient
        );
        assert_eq!(
            classify(&service_error(429, "Whatever")),
            ErrorClass::Transient
        );
        assert_eq!(
            classify(&service_error(400, "InvalidOutput")),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify(&service_error(403, "AccessDeniedException")),
            ErrorClass::Permanent
        );
        let timeout: Err = SdkError::timeout_error("read timed out");
        assert_eq!(classify(&timeout), ErrorClass::Transient);
        assert_eq!(
            error_code(&service_error(400, "InvalidToken")).as_deref(),
            Some("InvalidToken")
        );
        assert_eq!(
            describe(&service_error(400, "InvalidOutput")),
            "InvalidOutput: it went wrong"
        );
        assert_eq!(describe(&timeout), "request has timed out: read timed out");
    }

    #[test]
    fn refusals_a_person_must_fix_come_with_a_hint() {
        assert!(
            hint("ActivityDoesNotExist")
                .unwrap()
                .contains("`activity_arn`")
        );
        assert!(
            hint("UnrecognizedClientException")
                .unwrap()
                .contains("credentials")
        );
        assert!(
            hint("ExpiredTokenException")
                .unwrap()
                .contains("AWS_PROFILE")
        );
        assert!(
            hint("AccessDeniedException")
                .unwrap()
                .contains("states:GetActivityTask")
        );
        assert_eq!(hint("ThrottlingException"), None);
        assert_eq!(hint("TaskTimedOut"), None);
        assert_eq!(
            one_line("no credentials:\n  Environment: not set\tx"),
            "no credentials: Environment: not set x"
        );
    }

    #[test]
    fn missing_credentials_are_recognised_and_described_in_a_few_words() {
        use aws_credential_types::provider::error::CredentialsError;
        let missing: Err = SdkError::construction_failure(CredentialsError::not_loaded(
            "no credentials found in chain.\n  Attempted:\n  Environment: not set",
        ));
        assert!(is_missing_credentials(&missing));
        assert_eq!(describe(&missing), "no AWS credentials found");
        assert!(!is_missing_credentials(&service_error(
            400,
            "UnrecognizedClientException"
        )));
        let timeout: Err = SdkError::timeout_error("read timed out");
        assert!(!is_missing_credentials(&timeout));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(30);
        for _ in 0..100 {
            let first = backoff(0, base, cap);
            assert!(first >= base / 2 && first <= base, "{first:?}");
            let tenth = backoff(10, base, cap);
            assert!(tenth >= cap / 2 && tenth <= cap, "{tenth:?}");
            assert!(backoff(u32::MAX, base, cap) <= cap);
        }
        let third = backoff(3, base, cap);
        assert!(third >= Duration::from_millis(400) && third <= Duration::from_millis(800));
    }
}
