//! stefuna
