//! ValidateStateMachineDefinition: the definition checked as CreateStateMachine checks it,
//! answered in AWS's shape (`result`, `diagnostics`, `truncated`).

use serde::{Deserialize, Serialize};

use super::{Call, Service, reply};
use crate::asl;
use crate::error::{ApiError, ApiResult};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidateInput {
    definition: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    severity: Option<String>,
    max_results: Option<i64>,
}

/// One finding.
#[derive(Serialize)]
struct Diagnostic {
    severity: &'static str,
    code: String,
    message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    location: String,
}

#[derive(Serialize)]
struct Answer {
    result: &'static str,
    diagnostics: Vec<Diagnostic>,
    truncated: bool,
}

impl Service {
    pub(super) fn validate_state_machine_definition(&self, call: Call<'_>) -> ApiResult {
        let input: ValidateInput = call.input()?;
        if let Some(k) = input.kind.as_deref()
            && k != "STANDARD"
            && k != "EXPRESS"
        {
            return Err(ApiError::validation(format!(
                "invalid type '{k}': expected STANDARD or EXPRESS"
            )));
        }
        if let Some(s) = input.severity.as_deref()
            && s != "ERROR"
            && s != "WARNING"
        {
            return Err(ApiError::validation(format!(
                "invalid severity '{s}': expected ERROR or WARNING"
            )));
        }
        let max = match input.max_results {
            None | Some(0) => 100,
            Some(n @ 1..=100) => n as usize,
            Some(n) => {
                return Err(ApiError::validation(format!(
                    "invalid maxResults {n}: must be between 0 and 100"
                )));
            }
        };
        if input.definition.is_empty() || input.definition.len() > 1_048_576 {
            return Err(ApiError::validation(
                "invalid definition: must be 1 to 1048576 characters",
            ));
        }
        // The checker stops at the first problem, so there is at most one diagnostic (an
        // ERROR; stefuna-local finds no WARNINGs).
        let diagnostics: Vec<Diagnostic> = match asl::parse(&input.definition) {
            Ok(_) => Vec::new(),
            Err(e) => vec![Diagnostic {
                severity: "ERROR",
                code: e.code,
                message: e.message,
                location: e.path,
            }],
        };
        let truncated = diagnostics.len() > max;
        reply(&Answer {
            result: if diagnostics.is_empty() { "OK" } else { "FAIL" },
            diagnostics: diagnostics.into_iter().take(max).collect(),
            truncated,
        })
    }
}
