//! The operations this service answers, named once: the dispatcher matches on [`Operation`],
//! and the refusal of an unknown one lists [`Operation::ALL`].

macro_rules! operations {
    ($($op:ident),+ $(,)?) => {
        /// One Step Functions operation (`X-Amz-Target: AWSStepFunctions.<name>`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub(crate) enum Operation {
            $(
                #[doc = concat!("`", stringify!($op), "`.")]
                $op,
            )+
        }

        impl Operation {
            /// Every operation, in the order the documentation lists them.
            pub(crate) const ALL: &[Operation] = &[$(Operation::$op),+];

            /// The operation's wire name, e.g. `"StartExecution"`.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Operation::$op => stringify!($op),)+
                }
            }

            /// The operation a wire name names.
            pub(crate) fn parse(name: &str) -> Option<Operation> {
                match name {
                    $(stringify!($op) => Some(Operation::$op),)+
                    _ => None,
                }
            }
        }
    };
}

operations! {
    CreateActivity,
    DescribeActivity,
    ListActivities,
    DeleteActivity,
    GetActivityTask,
    SendTaskSuccess,
    SendTaskFailure,
    SendTaskHeartbeat,
    CreateStateMachine,
    DescribeStateMachine,
    UpdateStateMachine,
    ListStateMachines,
    DeleteStateMachine,
    ValidateStateMachineDefinition,
    StartExecution,
    StartSyncExecution,
    DescribeExecution,
    ListExecutions,
    StopExecution,
    GetExecutionHistory,
    DescribeStateMachineForExecution,
    DescribeMapRun,
    ListMapRuns,
    TagResource,
    UntagResource,
    ListTagsForResource,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.name()), Some(*op));
        }
        assert_eq!(Operation::parse("StartExecutions"), None);
        assert_eq!(Operation::StartExecution.to_string(), "StartExecution");
    }
}
