//! stefuna-local: an in-memory AWS Step Functions endpoint.

#[allow(dead_code)]
pub(crate) mod asl;
