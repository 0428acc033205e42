//! The HTTP side: awsJson1_0 over warp, fault injection (before and after handling), body
//! limits, panics as 500s.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures::{FutureExt, Stream, StreamExt};
use http::{HeaderValue, StatusCode};
use warp::Filter;
use warp::reply::{Reply, Response};

use crate::error::{ApiError, panic_message};
use crate::ledger::FaultKind;
use crate::names::region_from_auth;
use crate::service::{Call, LostAnswer, Service, read};

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
    // Only the two headers used are taken (a clone shares the request's bytes), not a copy of
    // the whole header map.
    let header = |name: &'static str| {
        warp::header::value(name)
            .map(Some)
            .or(warp::any().map(|| None))
            .unify()
    };
    // The bench and the fleet read the quota counts here (`GET /_stefuna/quotas`).
    let counts_svc = svc.clone();
    let quota_counts = warp::get()
        .and(warp::path!("_stefuna" / "quotas"))
        .map(move || crate::quota::counts_response(&counts_svc));
    let operations = warp::any()
        .and(header("x-amz-target"))
        .and(header("authorization"))
        .and(warp::body::stream())
        .and(warp::any().map(move || svc.clone()))
        .then(handle)
        .recover(|_rejection: warp::Rejection| async {
            Ok::<_, Infallible>(error_response(&ApiError::validation(
                "could not read the request",
            )))
        })
        .unify();
    quota_counts.or(operations).unify()
}

/// Handles one request; a panic anywhere in it is answered 500 `InternalFailure` and the
/// server goes on serving (its locks recover from poisoning, see `service::lock`).
async fn handle<S, B>(
    target: Option<HeaderValue>,
    auth: Option<HeaderValue>,
    body: S,
    svc: Arc<Service>,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let target = target.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("");
    let op = target.strip_prefix(TARGET_PREFIX).unwrap_or(target);
    let region =
        region_from_auth(auth.as_ref().and_then(|v| v.to_str().ok())).unwrap_or(DEFAULT_REGION);
    match AssertUnwindSafe(answer(target, op, region, body, &svc))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(panic) => {
            let msg = panic_message(&*panic);
            tracing::error!(operation = %op, panic = %msg, "handler panicked");
            error_response(&ApiError::internal(format!(
                "internal error in {op}: {msg}"
            )))
        }
    }
}

/// The answer to one request: body limits, injected faults, the operation, then a lost answer
/// if one is to be injected.
async fn answer<S, B>(target: &str, op: &str, region: &str, body: S, svc: &Arc<Service>) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };

    let faults = read(&svc.faults).clone();
    if faults.applies_to(op) {
        if let Some((min, max)) = faults.latency {
            let (lo, hi) = (min.min(max), min.max(max));
            let d = lo + (hi - lo).mul_f64(fastrand::f64());
            svc.injected.note(FaultKind::Latency, op);
            tokio::time::sleep(d).await;
        }
        if roll(faults.throttle) {
            svc.injected.note(FaultKind::Throttle, op);
            return error_response(&ApiError::new("ThrottlingException", "rate exceeded"));
        }
        if roll(faults.unavailable) {
            svc.injected.note(FaultKind::Unavailable, op);
            return error_response(&ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "ServiceUnavailable",
                message: "service unavailable (injected fault)".to_owned(),
            });
        }
        if roll(faults.drop_connection) {
            svc.injected.note(FaultKind::DroppedConnection, op);
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

    // Held until the poll is answered: it counts against the activity's 1,000 pollers.
    let _open_poll = match svc.quotas.admit(op, region, &body) {
        Ok(open) => open,
        Err(refused) => return refused.response(),
    };

    match svc
        .dispatch(
            op,
            Call {
                region,
                body: &body,
            },
        )
        .await
    {
        Ok(json) => {
            if roll(faults.lose_answer_of(op)) && lose_answer(svc, op, &body, &json) {
                return dropped_connection();
            }
            ok_response(json)
        }
        Err(e) => {
            tracing::debug!(operation = %op, code = e.code, message = %e.message, "error answer");
            error_response(&e)
        }
    }
}

/// Records a lost answer to a handled `op` request (body `request`, answer `answer`); false
/// when there is nothing to lose (a poll that carried no task).
fn lose_answer(svc: &Service, op: &str, request: &[u8], answer: &str) -> bool {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Token {
        task_token: Option<String>,
    }
    let token = |json: &[u8]| {
        serde_json::from_slice::<Token>(json)
            .ok()
            .and_then(|t| t.task_token)
            .filter(|t| !t.is_empty())
    };
    let (token, what) = match op {
        "GetActivityTask" => match token(answer.as_bytes()) {
            Some(t) => (Some(t), LostAnswer::Poll),
            None => return false,
        },
        "SendTaskSuccess" | "SendTaskFailure" => (token(request), LostAnswer::Result),
        "SendTaskHeartbeat" => (token(request), LostAnswer::Heartbeat),
        _ => (None, LostAnswer::Result),
    };
    if let Some(token) = token {
        svc.note_lost_answer(&token, what);
    }
    svc.injected.note(FaultKind::LostAnswer, op);
    true
}

/// Collects the body, refusing one over [`MAX_BODY`].
async fn read_body<S, B>(body: S) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let mut body = std::pin::pin!(body);
    // A body that arrives in one chunk (the usual case) is kept as it is, without a copy.
    let mut first: Option<Bytes> = None;
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
        if first.is_none() && buf.is_empty() {
            first = Some(chunk.copy_to_bytes(chunk.remaining()));
            continue;
        }
        if let Some(f) = first.take() {
            buf.extend_from_slice(&f);
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
    Ok(first.unwrap_or_else(|| Bytes::from(buf)))
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
