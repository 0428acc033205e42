//! The state machine a local run creates: one Task state per activity, or the
//! `--state-machine` file with its `${activity:NAME}` placeholders resolved.

use std::path::Path;

use super::{LocalActivity, LocalError};
use crate::definition::{self, ActivityArn};

/// One Task state per activity, run one after the other.
pub(super) fn default_definition(activities: &[LocalActivity]) -> String {
    let mut states = serde_json::Map::new();
    for (i, a) in activities.iter().enumerate() {
        let mut state = serde_json::json!({"Type": "Task", "Resource": a.arn});
        match activities.get(i + 1) {
            Some(next) => state["Next"] = next.name.clone().into(),
            None => state["End"] = true.into(),
        }
        states.insert(a.name.clone(), state);
    }
    serde_json::json!({
        "Comment": "stefuna --local: one Task state per activity",
        "StartAt": activities[0].name,
        "States": states,
    })
    .to_string()
}

/// Replaces each `${activity:NAME}` of the `--state-machine` file at `path` with the emulator's
/// ARN of activity NAME, by the rules of [`crate::definition`] (its `Activity::name` or its
/// Step Functions name, without regard to ASCII case; an unterminated placeholder is an error).
pub(super) fn substitute(
    template: &str,
    activities: &[LocalActivity],
    path: &Path,
) -> Result<String, LocalError> {
    // The emulator's ARN ends in the Step Functions name, so `definition` matches both names.
    let arns: Vec<ActivityArn<'_>> = activities
        .iter()
        .map(|a| ActivityArn {
            name: &a.name,
            arn: &a.arn,
        })
        .collect();
    definition::substitute(template, &arns).map_err(|source| LocalError::Definition {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::unit_tests::acts;

    #[test]
    fn default_definition_chains_one_task_per_activity() {
        let def: serde_json::Value = serde_json::from_str(&default_definition(&acts())).unwrap();
        assert_eq!(def["StartAt"], "Hello");
        assert_eq!(def["States"]["Hello"]["Type"], "Task");
        assert_eq!(def["States"]["Hello"]["Resource"], acts()[0].arn);
        assert_eq!(def["States"]["Hello"]["Next"], "Resize");
        assert_eq!(def["States"]["Resize"]["End"], true);
        let one: serde_json::Value =
            serde_json::from_str(&default_definition(&acts()[1..])).unwrap();
        assert_eq!(one["StartAt"], "Resize");
        assert_eq!(one["States"]["Resize"]["End"], true);
    }

    #[test]
    fn placeholders_become_activity_arns() {
        let path = Path::new("m.json");
        let out = substitute(
            r#"{"a":"${activity:hello}","b":"${activity:RESIZE}","c":"${activity:hello-prod}","d":"${x}"}"#,
            &acts(),
            path,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["a"], acts()[0].arn);
        assert_eq!(v["b"], acts()[1].arn);
        assert_eq!(v["c"], acts()[0].arn);
        assert_eq!(v["d"], "${x}");
        let err = substitute("${activity:nope}", &acts(), path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`${activity:nope}`") && err.contains("`Hello`, `Resize`"),
            "{err}"
        );
    }
}
