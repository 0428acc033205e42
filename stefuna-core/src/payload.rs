//! Task input decoding, output encoding and Step Functions' payload limits.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{TaskError, names};

/// The largest task output Step Functions accepts, in bytes of UTF-8.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;
/// The longest error name `SendTaskFailure` accepts, in characters.
pub const MAX_ERROR_CHARS: usize = 256;
/// The longest cause `SendTaskFailure` accepts, in characters.
pub const MAX_CAUSE_CHARS: usize = 32_768;

/// Cuts `s` to at most `max` characters, never splitting a character.
pub fn truncate_chars(s: &mut String, max: usize) {
    if let Some((idx, _)) = s.char_indices().nth(max) {
        s.truncate(idx);
    }
}

/// Decodes task input JSON into `T`.
///
/// A failure is a `Stefuna.InvalidInput` error whose cause is serde's message, naming the type.
///
/// # Example
/// ```
/// #[derive(serde::Deserialize)]
/// struct Input { name: String }
///
/// let ok: Input = stefuna_core::decode_input(r#"{"name": "World"}"#).unwrap();
/// assert_eq!(ok.name, "World");
///
/// let err = stefuna_core::decode_input::<Input>("{}").err().unwrap();
/// assert_eq!(err.error(), "Stefuna.InvalidInput");
/// assert!(err.cause().contains("missing field `name`"));
/// ```
pub fn decode_input<T: DeserializeOwned>(raw: &str) -> Result<T, TaskError> {
    serde_json::from_str(raw).map_err(|e| {
        TaskError::new(
            names::INVALID_INPUT,
            format!(
                "task input does not decode into `{}`: {e}",
                short_type_name::<T>()
            ),
        )
    })
}

/// Encodes a task output as JSON for `SendTaskSuccess`.
///
/// A JSON `null` (from `()` or `None`) becomes `{}`, as stefuna 1.0.1 sent for `None`. Output
/// over [`MAX_PAYLOAD_BYTES`] is a `Stefuna.OutputTooLarge` error, and a serialization failure a
/// `Stefuna.InvalidOutput` error.
///
/// # Example
/// ```
/// assert_eq!(stefuna_core::encode_output(&()).unwrap(), "{}");
/// assert_eq!(stefuna_core::encode_output(&vec![1, 2]).unwrap(), "[1,2]");
/// let big = "x".repeat(300_000);
/// assert_eq!(stefuna_core::encode_output(&big).unwrap_err().error(), "Stefuna.OutputTooLarge");
/// ```
pub fn encode_output<U: Serialize + ?Sized>(output: &U) -> Result<String, TaskError> {
    let json = serde_json::to_string(output).map_err(|e| {
        TaskError::new(
            names::INVALID_OUTPUT,
            format!(
                "task output of type `{}` does not serialize to JSON: {e}",
                short_type_name::<U>()
            ),
        )
    })?;
    if json == "null" {
        return Ok("{}".to_owned());
    }
    if json.len() > MAX_PAYLOAD_BYTES {
        return Err(TaskError::new(
            names::OUTPUT_TOO_LARGE,
            format!(
                "task output is {} bytes of JSON; Step Functions accepts at most {MAX_PAYLOAD_BYTES}",
                json.len()
            ),
        ));
    }
    Ok(json)
}

fn short_type_name<T: ?Sized>() -> String {
    // `alloc::vec::Vec<my_crate::Input>` reads better as `Vec<Input>`.
    let full = std::any::type_name::<T>();
    let mut out = String::with_capacity(full.len());
    let mut segment = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            segment.push(c);
        } else {
            out.push_str(segment.rsplit("::").next().unwrap_or(""));
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or(""));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Input {
        name: String,
    }

    #[test]
    fn malformed_json_is_invalid_input_with_serde_message() {
        let err = decode_input::<Input>("{not json").unwrap_err();
        assert_eq!(err.error(), "Stefuna.InvalidInput");
        assert!(
            err.cause()
                .starts_with("task input does not decode into `Input`: key must be a string"),
            "{}",
            err.cause()
        );
    }

    #[test]
    fn wrong_type_is_invalid_input() {
        let err = decode_input::<Input>(r#"{"name": 5}"#).unwrap_err();
        assert!(
            err.cause().contains("invalid type: integer `5`"),
            "{}",
            err.cause()
        );
    }

    #[test]
    fn value_input_accepts_any_json() {
        let v: serde_json::Value = decode_input("[1, {\"a\": null}]").unwrap();
        assert_eq!(v[1]["a"], serde_json::Value::Null);
    }

    #[test]
    fn unit_and_none_encode_as_empty_object() {
        assert_eq!(encode_output(&()).unwrap(), "{}");
        assert_eq!(encode_output(&None::<u8>).unwrap(), "{}");
        assert_eq!(encode_output(&Some(3)).unwrap(), "3");
    }

    #[test]
    fn output_at_the_limit_passes_and_one_byte_more_fails() {
        // A JSON string adds two quote bytes.
        let at_limit = "a".repeat(MAX_PAYLOAD_BYTES - 2);
        assert_eq!(encode_output(&at_limit).unwrap().len(), MAX_PAYLOAD_BYTES);
        let over = "a".repeat(MAX_PAYLOAD_BYTES - 1);
        let err = encode_output(&over).unwrap_err();
        assert_eq!(err.error(), "Stefuna.OutputTooLarge");
        assert!(err.cause().contains("262145 bytes"), "{}", err.cause());
    }

    #[test]
    fn unserializable_output_is_invalid_output() {
        // JSON object keys must be strings.
        let mut m = BTreeMap::new();
        m.insert(vec![1u8], 1);
        let err = encode_output(&m).unwrap_err();
        assert_eq!(err.error(), "Stefuna.InvalidOutput");
        assert!(
            err.cause().contains("key must be a string"),
            "{}",
            err.cause()
        );
    }

    #[test]
    fn truncate_chars_respects_boundaries() {
        let mut s = "aé€😀".to_string();
        truncate_chars(&mut s, 3);
        assert_eq!(s, "aé€");
        let mut short = "ab".to_string();
        truncate_chars(&mut short, 5);
        assert_eq!(short, "ab");
    }

    #[test]
    fn type_names_are_shortened() {
        assert_eq!(short_type_name::<Vec<Input>>(), "Vec<Input>");
        assert_eq!(short_type_name::<serde_json::Value>(), "Value");
    }
}
