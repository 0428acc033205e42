//! Errors as the awsJson1_0 protocol sends them: a status, `__type` and `message`.

use http::StatusCode;

/// One error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// HTTP status (400 for client errors).
    pub(crate) status: StatusCode,
    /// The error code, e.g. `ActivityDoesNotExist`.
    pub(crate) code: &'static str,
    /// The message.
    pub(crate) message: String,
}

impl ApiError {
    /// A 400 error with a code and message.
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    /// `ValidationException`.
    pub(crate) fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new("ValidationException", message)
    }

    /// A 500 for a fault inside the service.
    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalFailure",
            message: message.into(),
        }
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> String {
        serde_json::json!({ "__type": self.code, "message": self.message }).to_string()
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Result of one operation: the JSON body of the answer.
pub(crate) type ApiResult = Result<String, ApiError>;
