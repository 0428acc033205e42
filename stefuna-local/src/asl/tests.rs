//! Interpreter tests with a fake [`Host`](super::Host).
