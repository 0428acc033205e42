//! The HTTP side: awsJson1_0 over warp, fault injection, body limits, panics as 500s.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures::{FutureExt, Stream, StreamExt};
use http::{HeaderMap, HeaderValue, StatusCode};
use warp::Filter;
use warp::reply::{Reply, Response};

use crate::error::ApiError;
use crate::names::region_from_auth;
use crate::service::{Call, Service, read};

/// Largest request body handled, in bytes (AWS's limit for a request).
pub(crate) const MAX_BODY: usize = 1024 * 1024;
/// Beyond this an oversized body is no longer drained; the connection is closed instead.
const MAX_DRAIN: usize = 16 * 1024 * 1024;
/// Region when the request carries no SigV4 credential scope.
const DEFAULT_REGION: &str = "us-east-1";
/// The `X-Amz-Target` prefix of Step Functions operations.
const TARGET_PREFIX: &str = "AWSStepFunctions.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// The single route: every request is an operation call.
pub(crate) fn routes(
    svc: Arc<Service>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    warp::any()
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .and(warp::any().map(move || svc.clone()))
        .then(handle)
        .recover(|_rejection: warp::Rejection| async {
            Ok::<_, Infallible>(error_response(&ApiError::validation(
                "could not read the request",
            )))
        })
        .unify()
}

/// Handles one request.
async fn handle<S, B>(headers: HeaderMap, body: S, svc: Arc<Service>) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let op = target
        .strip_prefix(TARGET_PREFIX)
        .unwrap_or(target)
        .to_owned();
    let region = region_from_auth(headers.get("authorization").and_then(|v| v.to_str().ok()))
        .unwrap_or(DEFAULT_REGION)
        .to_owned();

    let body = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };

    let faults = read(&svc.faults).clone();
    if faults.applies_to(&op) {
        if let Some((min, max)) = faults.latency {
            let (lo, hi) = (min.min(max), min.max(max));
            let d = lo + (hi - lo).mul_f64(fastrand::f64());
            tokio::time::sleep(d).await;
        }
        if roll(faults.throttle) {
            return error_response(&ApiError::new("ThrottlingException", "rate exceeded"));
        }
        if roll(faults.unavailable) {
            return error_response(&ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "ServiceUnavailable",
                message: "service unavailable (injected fault)".to_owned(),
            });
        }
        if roll(faults.drop_connection) {
            return dropped_connection();
        }
    }

    if !target.starts_with(TARGET_PREFIX) {
        return error_response(&ApiError::new(
            "UnknownOperationException",
            format!(
                "unknown operation: X-Amz-Target must be '{TARGET_PREFIX}<Operation>', found '{target}'"
            ),
        ));
    }

    let result = AssertUnwindSafe(svc.dispatch(
        &op,
        Call {
            region: &region,
            body: &body,
        },
    ))
    .catch_unwind()
    .await;
    match result {
        Ok(Ok(json)) => ok_response(json),
        Ok(Err(e)) => {
            tracing::debug!(operation = %op, code = e.code, message = %e.message, "error answer");
            error_response(&e)
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            tracing::error!(operation = %op, panic = %msg, "handler panicked");
            error_response(&ApiError::internal(format!(
                "internal error in {op}: {msg}"
            )))
        }
    }
}

/// Collects the body, refusing one over [`MAX_BODY`].
async fn read_body<S, B>(body: S) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let mut body = std::pin::pin!(body);
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| {
            ApiError::new(
                "SerializationException",
                format!("could not read the request body: {e}"),
            )
        })?;
        total += chunk.remaining();
        if total > MAX_BODY {
            // Keep draining (up to a point) so the client reads the answer rather than a reset.
            chunk.advance(chunk.remaining());
            if total > MAX_DRAIN {
                break;
            }
            continue;
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            buf.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    if total > MAX_BODY {
        return Err(ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "ValidationException",
            message: format!(
                "request too large: {total}{} bytes is over the limit of {MAX_BODY} bytes",
                if total > MAX_DRAIN { "+" } else { "" }
            ),
        });
    }
    Ok(Bytes::from(buf))
}

/// True with probability `p`.
fn roll(p: f64) -> bool {
    p > 0.0 && fastrand::f64() < p
}

/// A 200 answer.
fn ok_response(json: String) -> Response {
    let mut r = Response::new(json.into());
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    r
}

/// An error answer with `__type`, `message` and `x-amzn-errortype`.
pub(crate) fn error_response(e: &ApiError) -> Response {
    let mut r = Response::new(e.body().into());
    *r.status_mut() = e.status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    r.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(e.code));
    r
}

/// An answer whose body fails at once, which makes hyper close the connection mid-response.
fn dropped_connection() -> Response {
    let failing = futures::stream::iter([Err::<Bytes, std::io::Error>(std::io::Error::other(
        "connection dropped (injected fault)",
    ))]);
    warp::reply::stream(failing).into_response()
}
