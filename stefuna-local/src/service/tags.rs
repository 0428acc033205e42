//! TagResource, UntagResource and ListTagsForResource on activities and state machines.

use serde::{Deserialize, Serialize};

use super::{Call, Service, lock, read, reply};
use crate::error::{ApiError, ApiResult};

/// Most tags a resource carries (AWS's limit).
const MAX_TAGS: usize = 50;
/// Longest tag key, in characters.
const MAX_KEY: usize = 128;
/// Longest tag value, in characters.
const MAX_VALUE: usize = 256;

/// One tag, as the API writes it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub(crate) struct Tag {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagInput {
    resource_arn: String,
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UntagInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    resource_arn: String,
}

impl Service {
    /// Checks that an ARN names an existing activity or state machine: `InvalidArn` for a
    /// malformed one, `ResourceNotFound` for one that does not exist.
    fn taggable(&self, resource_arn: &str) -> Result<(), ApiError> {
        let kind = resource_arn.split(':').nth(5).unwrap_or_default();
        let exists = match kind {
            "activity" => {
                crate::names::check_arn("resourceArn", "activity", resource_arn)?;
                read(&self.activities).contains_key(resource_arn)
            }
            "stateMachine" => {
                crate::names::check_arn("resourceArn", "stateMachine", resource_arn)?;
                read(&self.machines).contains_key(resource_arn)
            }
            _ => {
                return Err(ApiError::new(
                    "InvalidArn",
                    format!(
                        "invalid resourceArn '{resource_arn}': expected the ARN of an activity or a state machine"
                    ),
                ));
            }
        };
        if exists {
            Ok(())
        } else {
            Err(ApiError::new(
                "ResourceNotFound",
                format!("resource not found: '{resource_arn}'"),
            ))
        }
    }

    pub(super) fn tag_resource(&self, call: Call<'_>) -> ApiResult {
        let input: TagInput = call.input()?;
        self.taggable(&input.resource_arn)?;
        for t in &input.tags {
            let (k, v) = (t.key.chars().count(), t.value.chars().count());
            if k == 0 || k > MAX_KEY || v > MAX_VALUE {
                return Err(ApiError::validation(format!(
                    "invalid tag '{}': a key has 1 to {MAX_KEY} characters and a value at most {MAX_VALUE}",
                    t.key
                )));
            }
        }
        let mut all = lock(&self.tags);
        let tags = all.entry(input.resource_arn.clone()).or_default();
        let mut merged = tags.clone();
        for t in input.tags {
            match merged.iter_mut().find(|m| m.key == t.key) {
                Some(m) => m.value = t.value,
                None => merged.push(t),
            }
        }
        if merged.len() > MAX_TAGS {
            return Err(ApiError::new(
                "TooManyTags",
                format!(
                    "too many tags: '{}' would carry {}, over the limit of {MAX_TAGS}",
                    input.resource_arn,
                    merged.len()
                ),
            ));
        }
        *tags = merged;
        Ok("{}".to_owned())
    }

    pub(super) fn untag_resource(&self, call: Call<'_>) -> ApiResult {
        let input: UntagInput = call.input()?;
        self.taggable(&input.resource_arn)?;
        if let Some(tags) = lock(&self.tags).get_mut(&input.resource_arn) {
            tags.retain(|t| !input.tag_keys.contains(&t.key));
        }
        Ok("{}".to_owned())
    }

    pub(super) fn list_tags_for_resource(&self, call: Call<'_>) -> ApiResult {
        let input: ListInput = call.input()?;
        self.taggable(&input.resource_arn)?;
        let tags = lock(&self.tags)
            .get(&input.resource_arn)
            .cloned()
            .unwrap_or_default();
        reply(&serde_json::json!({ "tags": tags }))
    }
}
