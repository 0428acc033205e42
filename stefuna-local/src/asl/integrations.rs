//! Task states whose `Resource` is a service integration (Lambda, SQS, DynamoDB, `aws-sdk:*`,
//! ...) rather than an activity: what the interpreter hands the host to run (mocked, see
//! [`super::mock`]), and how a resource ARN names its service and pattern.

use serde_json::Value;

use super::ErrorCause;

/// How the Task waits for the service (the resource ARN's suffix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pattern {
    /// Request-response: the service's answer is the result.
    RequestResponse,
    /// `.sync` (or `.sync:2`): the job's end is the result; a mock's answer stands for it.
    Sync,
    /// `.waitForTaskToken`: the result is what `SendTaskSuccess` sends with the task token.
    WaitForTaskToken,
}

/// One call of a service integration by a Task state.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IntegrationRequest {
    /// The `Resource` ARN as written.
    pub resource: String,
    /// The service, as the history's `resourceType` names it (`lambda`, `sqs`,
    /// `aws-sdk:dynamodb`, ...).
    pub resource_type: String,
    /// The action, as the history's `resource` names it (`invoke`,
    /// `sendMessage.waitForTaskToken`, `getItem`, ...).
    pub action: String,
    /// How the Task waits.
    pub pattern: Pattern,
    /// The effective parameters (after InputPath and Parameters).
    pub parameters: Value,
    /// The task token (`$$.Task.Token`).
    pub task_token: String,
    /// The state's name.
    pub state_name: String,
    /// The attempt (`$$.State.RetryCount`): which mocked response answers.
    pub attempt: u32,
    /// `HeartbeatSeconds` (or its path's value).
    pub heartbeat_seconds: Option<u64>,
    /// `TimeoutSeconds` (or its path's value).
    pub timeout_seconds: Option<u64>,
}

/// The error for a service integration with no mocked answer: names the state, the resource,
/// why no mock applied (`why`, e.g. that the execution has no test case) and how to mock it.
pub(crate) fn unmocked(req: &IntegrationRequest, why: Option<&str>) -> ErrorCause {
    let why = why.unwrap_or("this host has no mock configuration");
    ErrorCause::new(
        "States.Runtime",
        format!(
            "the Task state '{state}' calls '{resource}', a service integration that stefuna-local does not call: {why}. To mock it, give a mock configuration file (AWS's MockConfigFile format: --mock-config FILE, SFN_MOCK_CONFIG or EmulatorBuilder::mock_config) whose test case maps the state '{state}' to a mocked response, and start the execution with the stateMachineArn 'ARN#TESTCASE'",
            state = req.state_name,
            resource = req.resource,
        ),
    )
}

/// Splits a resource ARN into the history's `resourceType` and `resource`, and its pattern.
///
/// `arn:aws:states:::lambda:invoke` → (`lambda`, `invoke`);
/// `arn:aws:states:::aws-sdk:dynamodb:getItem` → (`aws-sdk:dynamodb`, `getItem`);
/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME` (a Lambda function called directly) →
/// (`lambda`, the ARN).
pub(crate) fn describe(resource: &str) -> (String, String, Pattern) {
    let pattern = if resource.ends_with(".waitForTaskToken") {
        Pattern::WaitForTaskToken
    } else if resource.ends_with(".sync") || resource.contains(".sync:") {
        Pattern::Sync
    } else {
        Pattern::RequestResponse
    };
    // arn:PARTITION:states:::SERVICE:ACTION or arn:PARTITION:states:::aws-sdk:SERVICE:ACTION
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    if let [_, _, "states", _, _, rest] = parts.as_slice() {
        let (service, action) = match rest.strip_prefix("aws-sdk:") {
            Some(sdk) => match sdk.split_once(':') {
                Some((svc, action)) => (format!("aws-sdk:{svc}"), action),
                None => (format!("aws-sdk:{sdk}"), ""),
            },
            None => match rest.split_once(':') {
                Some((svc, action)) => (svc.to_owned(), action),
                None => ((*rest).to_owned(), ""),
            },
        };
        return (service, action.to_owned(), pattern);
    }
    let service = parts.get(2).copied().unwrap_or_default().to_owned();
    (service, resource.to_owned(), pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_service_and_action_as_the_history_does() {
        let d = |r: &str| describe(r);
        assert_eq!(
            d("arn:aws:states:::lambda:invoke"),
            ("lambda".into(), "invoke".into(), Pattern::RequestResponse)
        );
        assert_eq!(
            d("arn:aws:states:::sqs:sendMessage.waitForTaskToken"),
            (
                "sqs".into(),
                "sendMessage.waitForTaskToken".into(),
                Pattern::WaitForTaskToken
            )
        );
        assert_eq!(
            d("arn:aws:states:::aws-sdk:dynamodb:getItem"),
            (
                "aws-sdk:dynamodb".into(),
                "getItem".into(),
                Pattern::RequestResponse
            )
        );
        assert_eq!(
            d("arn:aws:states:::states:startExecution.sync:2").2,
            Pattern::Sync
        );
        let f = "arn:aws:lambda:us-east-1:123456789012:function:f";
        assert_eq!(d(f), ("lambda".into(), f.into(), Pattern::RequestResponse));
    }
}
