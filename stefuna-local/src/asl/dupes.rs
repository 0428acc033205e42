//! Finds duplicate keys in a JSON document, which `serde_json::Value` would silently collapse
//! (a definition that names two states alike must be refused, not half-run).

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// The first duplicate key: the location of its object and the key.
pub(crate) fn find_duplicate(text: &str) -> Option<(String, String)> {
    let mut found = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let _ = Walk {
        at: String::new(),
        found: &mut found,
    }
    .deserialize(&mut de);
    found
}

struct Walk<'a> {
    at: String,
    found: &'a mut Option<(String, String)>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let found = self.found;
        let mut i = 0usize;
        while seq
            .next_element_seed(Walk {
                at: format!("{}/{i}", self.at),
                found: &mut *found,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let found = self.found;
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) && found.is_none() {
                *found = Some((self.at.clone(), key.clone()));
            }
            map.next_value_seed(Walk {
                at: format!("{}/{key}", self.at),
                found: &mut *found,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_duplicates_with_their_location() {
        let text = r#"{"States": {"A": {"Type": "Pass"}, "B": [1, {"x": 1, "x": 2}], "A": {}}}"#;
        assert_eq!(
            find_duplicate(text),
            Some(("/States/B/1".into(), "x".into()))
        );
        let text = r#"{"States": {"A": 1, "A": 2}}"#;
        assert_eq!(find_duplicate(text), Some(("/States".into(), "A".into())));
        assert_eq!(
            find_duplicate(r#"{"a": [1, 2.5, "s", null, true, {"b": {}}]}"#),
            None
        );
    }
}
