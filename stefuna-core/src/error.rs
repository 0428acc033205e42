//! The error value sent to Step Functions with `SendTaskFailure`.

use std::fmt;

use crate::payload::{MAX_CAUSE_CHARS, MAX_ERROR_CHARS, truncate_chars};

/// Error names the framework itself sends, prefixed `Stefuna.` the way AWS's own are `States.`.
///
/// A state machine can `Retry` or `Catch` each of them by name.
pub mod names {
    /// The default name of an error returned by an activity function (stefuna 1.0.1's name).
    pub const TASK_FAILURE: &str = "Task.Failure";
    /// The task input was not valid JSON or did not decode into the function's input type.
    pub const INVALID_INPUT: &str = "Stefuna.InvalidInput";
    /// The function's output could not be serialized to JSON.
    pub const INVALID_OUTPUT: &str = "Stefuna.InvalidOutput";
    /// The serialized output is larger than Step Functions accepts (262,144 bytes).
    pub const OUTPUT_TOO_LARGE: &str = "Stefuna.OutputTooLarge";
    /// The function panicked.
    pub const PANIC: &str = "Stefuna.Panic";
    /// The worker shut down before the task finished; retry it on another worker.
    pub const WORKER_SHUTDOWN: &str = "Stefuna.WorkerShutdown";
    /// The child process running the task (process isolation) died: a signal, an abort, a
    /// non-zero exit or a kill for memory. The cause names it and the child's last stderr lines.
    pub const WORKER_CRASHED: &str = "Stefuna.WorkerCrashed";
    /// The task was cancelled because Step Functions no longer accepts its token.
    pub const TASK_LOST: &str = "Stefuna.TaskLost";
}

/// What a failed task sends to Step Functions: an error name and a cause.
///
/// The name is what a state machine's `Retry`/`Catch` `ErrorEquals` matches; the cause is free
/// text shown in the execution history. Both are cut to Step Functions' limits (256 and 32,768
/// characters) when sent.
///
/// `TaskError` converts from strings (name `Task.Failure`), from
/// `Box<dyn std::error::Error + Send + Sync>` and from the common error types, so `?` works in
/// activity functions. Implement `From<YourError> for TaskError` to give your own errors their
/// own names.
///
/// # Example
/// ```
/// use stefuna_core::TaskError;
///
/// let e = TaskError::new("Resize.TooLarge", "image is 9000 pixels wide");
/// assert_eq!(e.error(), "Resize.TooLarge");
///
/// let e: TaskError = "disk full".into();
/// assert_eq!(e.error(), "Task.Failure");
/// assert_eq!(e.cause(), "disk full");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskError {
    error: String,
    cause: String,
}

impl TaskError {
    /// An error with the given name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskError {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// An error named `Task.Failure` (stefuna 1.0.1's name) with the given cause.
    pub fn msg(cause: impl Into<String>) -> Self {
        Self::new(names::TASK_FAILURE, cause)
    }

    /// An error named `Task.Failure` whose cause is the error's message followed by its
    /// `source()` chain, joined with `: `.
    pub fn from_error(err: &(dyn std::error::Error + 'static)) -> Self {
        let mut cause = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            cause.push_str(": ");
            cause.push_str(&s.to_string());
            source = s.source();
        }
        Self::msg(cause)
    }

    /// The error name matched by `Retry`/`Catch` `ErrorEquals`.
    pub fn error(&self) -> &str {
        &self.error
    }

    /// The human-readable cause.
    pub fn cause(&self) -> &str {
        &self.cause
    }

    /// The same error with another name.
    pub fn with_error(mut self, error: impl Into<String>) -> Self {
        self.error = error.into();
        self
    }

    /// The error cut to Step Functions' limits (256 characters of name, 32,768 of cause), on
    /// character boundaries.
    pub fn truncated(mut self) -> Self {
        truncate_chars(&mut self.error, MAX_ERROR_CHARS);
        truncate_chars(&mut self.cause, MAX_CAUSE_CHARS);
        self
    }

    /// Splits into `(error, cause)`.
    pub fn into_parts(self) -> (String, String) {
        (self.error, self.cause)
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl From<String> for TaskError {
    fn from(cause: String) -> Self {
        Self::msg(cause)
    }
}

impl From<&str> for TaskError {
    fn from(cause: &str) -> Self {
        Self::msg(cause)
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for TaskError {
    fn from(err: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Self::from_error(err.as_ref())
    }
}

impl From<Box<dyn std::error::Error>> for TaskError {
    fn from(err: Box<dyn std::error::Error>) -> Self {
        Self::from_error(err.as_ref())
    }
}

impl From<std::io::Error> for TaskError {
    fn from(err: std::io::Error) -> Self {
        Self::from_error(&err)
    }
}

impl From<serde_json::Error> for TaskError {
    fn from(err: serde_json::Error) -> Self {
        Self::from_error(&err)
    }
}

impl From<std::fmt::Error> for TaskError {
    fn from(err: std::fmt::Error) -> Self {
        Self::from_error(&err)
    }
}

impl From<std::convert::Infallible> for TaskError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

#[cfg(feature = "anyhow")]
impl From<anyhow::Error> for TaskError {
    fn from(err: anyhow::Error) -> Self {
        Self::msg(format!("{err:#}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("reading the manifest")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn from_error_joins_the_source_chain() {
        let e = TaskError::from_error(&Outer(std::io::Error::other("permission denied")));
        assert_eq!(e.error(), "Task.Failure");
        assert_eq!(e.cause(), "reading the manifest: permission denied");
    }

    #[test]
    fn boxed_errors_convert_with_the_default_name() {
        let boxed: Box<dyn std::error::Error + Send + Sync> = "bad".into();
        let e = TaskError::from(boxed);
        assert_eq!((e.error(), e.cause()), ("Task.Failure", "bad"));
    }

    #[test]
    fn truncated_cuts_name_and_cause_on_char_boundaries() {
        let e = TaskError::new("é".repeat(300), "ß".repeat(40_000)).truncated();
        assert_eq!(e.error().chars().count(), 256);
        assert_eq!(e.cause().chars().count(), 32_768);
        assert!(e.error().chars().all(|c| c == 'é'));
    }

    #[test]
    fn display_shows_name_and_cause() {
        assert_eq!(TaskError::new("A.B", "c").to_string(), "A.B: c");
    }
}
