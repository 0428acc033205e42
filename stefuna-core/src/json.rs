//! [`Json`]: JSON text a task already has, sent to Step Functions as it is.

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// JSON text passed through as it is, neither parsed into a value nor encoded a second time.
///
/// Return it from an activity that already holds its result as JSON text (stefuna 1.0.1's
/// `return json.dumps(result)`); take it as the input type to get the task's input text
/// unparsed. On the way out it is checked: text that is not JSON fails the task with
/// `Stefuna.InvalidOutput`, and more than 262,144 bytes with `Stefuna.OutputTooLarge`.
///
/// # Example
/// ```
/// use stefuna_core::{Json, encode_output};
///
/// let cached = r#"{"id": 7, "sizes": [64, 128]}"#.to_owned();
/// assert_eq!(encode_output(&Json::new(cached.clone())).unwrap(), cached);
/// // A String would have been encoded again, as a JSON string:
/// assert_eq!(encode_output(&cached).unwrap(), r#""{\"id\": 7, \"sizes\": [64, 128]}""#);
///
/// let broken = encode_output(&Json::new("{not json")).unwrap_err();
/// assert_eq!(broken.error(), "Stefuna.InvalidOutput");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Json(String);

impl Json {
    /// Wraps JSON text; it is checked when it is sent.
    pub fn new(text: impl Into<String>) -> Self {
        Json(text.into())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl From<String> for Json {
    fn from(text: String) -> Self {
        Json(text)
    }
}

impl From<&str> for Json {
    fn from(text: &str) -> Self {
        Json(text.to_owned())
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(&self.0)
            .map_err(|e| S::Error::custom(format!("the `Json` text is not JSON: {e}")))?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)
            .map_err(|e| D::Error::custom(format!("not JSON: {e}")))?;
        Ok(Json(raw.get().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::Json;
    use crate::{MAX_PAYLOAD_BYTES, decode_input, encode_output};

    #[test]
    fn raw_json_is_sent_as_written() {
        let text = r#"{"b":1,"a":[true,null,"x"],"n":1.50}"#;
        assert_eq!(encode_output(&Json::new(text)).unwrap(), text);
    }

    #[test]
    fn raw_json_is_checked() {
        let e = encode_output(&Json::new("{\"a\": }")).unwrap_err();
        assert_eq!(e.error(), "Stefuna.InvalidOutput");
        assert!(e.cause().contains("not JSON"), "{}", e.cause());
        let big = format!("\"{}\"", "x".repeat(MAX_PAYLOAD_BYTES));
        let e = encode_output(&Json::new(big)).unwrap_err();
        assert_eq!(e.error(), "Stefuna.OutputTooLarge");
    }

    #[test]
    fn raw_json_input_keeps_the_text() {
        let input: Json = decode_input(r#"{"z": 1, "a": 2.50}"#).unwrap();
        assert_eq!(input.as_str(), r#"{"z": 1, "a": 2.50}"#);
    }
}
