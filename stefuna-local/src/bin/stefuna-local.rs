//! The stefuna-local binary.

fn main() {}
