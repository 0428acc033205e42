//! Process isolation (`isolation = "process"`): each slot's task runs in a warm child process
//! of the same executable, re-executed with a private marker. The parent keeps everything that
//! talks to Step Functions; a child only decodes the input, runs the function and answers over
//! a small framed protocol on a Unix socket (its stdin).
//!
//! - [`protocol`]: the frames and their size bound.
//! - [`child`]: the child's loop (init hooks once per child, one task at a time).
//! - [`parent`]: one child seen from the worker: start, run a task, cancel, crash errors.
//! - [`pool`]: one activity's warm children, recycled after `maxtasksperchild` tasks.

pub(crate) mod child;
pub(crate) mod parent;
pub(crate) mod pool;
pub(crate) mod protocol;

pub(crate) use pool::Children;
