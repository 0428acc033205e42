//! The ASL parsers as the fuzz targets in the repository's `fuzz/` folder call them.

use serde_json::Value;

use super::intrinsics;
use super::parse::parse;
use super::path::Path;

/// Parses and validates a state machine definition; `true` when it is valid.
pub fn definition(text: &str) -> bool {
    parse(text).is_ok()
}

/// Parses `text` as a path, a reference path and an intrinsic function call, and uses what
/// parses on `doc`: selects from it and writes into a copy of it.
pub fn path(text: &str, doc: &Value) {
    if let Ok(p) = Path::parse(text) {
        let _ = p.select(doc);
        let _ = p.normalized();
    }
    if let Ok(p) = Path::parse_reference(text) {
        let mut copy = doc.clone();
        let _ = p.write(&mut copy, Value::Bool(true));
        let _ = p.select(&copy);
    }
    let _ = intrinsics::parse(text);
}
