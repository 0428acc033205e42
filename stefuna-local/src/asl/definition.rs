//! The typed model of a parsed state machine. Transitions are resolved to state indexes (by
//! `parse`) so running a machine never looks names up.

use serde_json::Value;
use time::OffsetDateTime;

use super::choice::Choice;
use super::context::Ctx;
use super::fields::Fields;
use super::intrinsics::Call;
use super::path::Path;
use super::retry::{Catcher, Retrier};
use super::template::Template;
use super::{DefinitionError, ErrorCause};

/// A transition target: the state's name and, once resolved, its index.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) idx: usize,
    pub(crate) at: String,
}

impl Target {
    pub(crate) fn new(name: &str, at: String) -> Self {
        Target {
            name: name.to_owned(),
            idx: usize::MAX,
            at,
        }
    }
}

/// Where a state goes next.
#[derive(Clone, Debug)]
pub(crate) enum Transition {
    Next(Target),
    End,
}

/// `InputPath`/`OutputPath`: a path, or `null` for `{}`.
#[derive(Clone, Debug)]
pub(crate) enum IoPath {
    Null,
    Path(Path),
}

impl IoPath {
    pub(crate) fn parse(f: &Fields<'_>, key: &str) -> Result<IoPath, DefinitionError> {
        match f.get(key) {
            None => Ok(IoPath::Path(Path::root())),
            Some(Value::Null) => Ok(IoPath::Null),
            Some(_) => Ok(IoPath::Path(f.path(key)?.expect("present"))),
        }
    }

    /// Applies the path to a value (`$$` paths read the context object instead).
    pub(crate) fn apply(&self, v: Value, ctx: &Ctx<'_>) -> Result<Value, ErrorCause> {
        match self {
            IoPath::Null => Ok(Value::Object(Default::default())),
            IoPath::Path(p) if p.is_root() => Ok(v),
            IoPath::Path(p) => ctx
                .resolve(p, &v)
                .map(|x| x.into_owned())
                .ok_or_else(|| ctx.missing(p, &v)),
        }
    }
}

/// `ResultPath`: where the result goes in the state's input.
#[derive(Clone, Debug)]
pub(crate) enum ResultPath {
    /// `null`: the result is discarded and the input passes through.
    Discard,
    /// A reference path (`$` replaces the input).
    At(Path),
}

impl ResultPath {
    pub(crate) fn parse(f: &Fields<'_>) -> Result<ResultPath, DefinitionError> {
        match f.get("ResultPath") {
            None => Ok(ResultPath::At(Path::root())),
            Some(Value::Null) => Ok(ResultPath::Discard),
            Some(_) => Ok(ResultPath::At(
                f.writable_path("ResultPath")?.expect("present"),
            )),
        }
    }

    /// Combines the state's input with its result.
    pub(crate) fn apply(&self, input: &Value, result: Value) -> Result<Value, ErrorCause> {
        match self {
            ResultPath::Discard => Ok(input.clone()),
            ResultPath::At(p) if p.is_root() => Ok(result),
            ResultPath::At(p) => {
                let mut out = input.clone();
                match p.write(&mut out, result) {
                    Ok(()) => Ok(out),
                    Err(e) => Err(ErrorCause::new(
                        "States.ResultPathMatchFailure",
                        format!(
                            "Unable to apply ResultPath \"{}\" to input {input}: {e}",
                            p.text()
                        ),
                    )),
                }
            }
        }
    }
}

/// A non-negative integer setting (seconds, a concurrency), fixed or read from the input.
#[derive(Clone, Debug)]
pub(crate) enum Int {
    Fixed(u64),
    Path(Path),
}

/// A string, fixed or computed (Fail's `Error`/`ErrorPath`, `Cause`/`CausePath`).
#[derive(Clone, Debug)]
pub(crate) enum Text {
    Lit(String),
    Path(Path),
    Call(Call),
}

/// The fields that shape a state's result (Task, Parallel, Map).
#[derive(Clone, Debug)]
pub(crate) struct Results {
    pub(crate) parameters: Option<Template>,
    pub(crate) result_selector: Option<Template>,
    pub(crate) result_path: ResultPath,
    pub(crate) retry: Vec<Retrier>,
    pub(crate) catch: Vec<Catcher>,
}

/// A Task state's body.
#[derive(Clone, Debug)]
pub(crate) struct Task {
    pub(crate) resource: String,
    pub(crate) is_activity: bool,
    pub(crate) timeout: Option<Int>,
    pub(crate) heartbeat: Option<Int>,
    pub(crate) results: Results,
}

/// How a Wait state waits.
#[derive(Clone, Debug)]
pub(crate) enum Wait {
    Seconds(u64),
    Timestamp(OffsetDateTime),
    SecondsPath(Path),
    TimestampPath(Path),
}

/// A Map state's body.
#[derive(Clone, Debug)]
pub(crate) struct MapState {
    pub(crate) processor: Machine,
    pub(crate) items_path: Path,
    pub(crate) item_selector: Option<Template>,
    /// `MaxConcurrency` or `MaxConcurrencyPath`; 0 means no limit.
    pub(crate) max_concurrency: Option<Int>,
    pub(crate) results: Results,
    /// Set for a Distributed Map (`ProcessorConfig.Mode` `DISTRIBUTED`).
    pub(crate) distributed: Option<super::distributed::Distributed>,
}

/// What a state does.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Pass {
        parameters: Option<Template>,
        result: Option<Value>,
        result_path: ResultPath,
    },
    Task(Box<Task>),
    Choice(Box<Choice>),
    Wait(Wait),
    Succeed,
    Fail {
        error: Option<Text>,
        cause: Option<Text>,
    },
    Parallel {
        branches: Vec<Machine>,
        results: Box<Results>,
    },
    Map(Box<MapState>),
    /// A JSONata Choice state: `Condition` rules.
    Conditions(Box<super::jsonata::parse::Conditions>),
}

/// The type of a state, as AWS names it in event types (`TaskStateEntered`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StateType {
    Task,
    Pass,
    Wait,
    Choice,
    Succeed,
    Fail,
    Parallel,
    Map,
}

impl StateType {
    /// `<Type>StateEntered`.
    pub(crate) fn entered(self) -> &'static str {
        match self {
            StateType::Task => "TaskStateEntered",
            StateType::Pass => "PassStateEntered",
            StateType::Wait => "WaitStateEntered",
            StateType::Choice => "ChoiceStateEntered",
            StateType::Succeed => "SucceedStateEntered",
            StateType::Fail => "FailStateEntered",
            StateType::Parallel => "ParallelStateEntered",
            StateType::Map => "MapStateEntered",
        }
    }

    /// `<Type>StateExited`.
    pub(crate) fn exited(self) -> &'static str {
        match self {
            StateType::Task => "TaskStateExited",
            StateType::Pass => "PassStateExited",
            StateType::Wait => "WaitStateExited",
            StateType::Choice => "ChoiceStateExited",
            StateType::Succeed => "SucceedStateExited",
            StateType::Fail => "FailStateExited",
            StateType::Parallel => "ParallelStateExited",
            StateType::Map => "MapStateExited",
        }
    }

    /// The event for a state still running when the execution ends; only states that wait
    /// have one.
    pub(crate) fn aborted(self) -> Option<&'static str> {
        match self {
            StateType::Task => Some("TaskStateAborted"),
            StateType::Wait => Some("WaitStateAborted"),
            StateType::Parallel => Some("ParallelStateAborted"),
            StateType::Map => Some("MapStateAborted"),
            _ => None,
        }
    }
}

impl Kind {
    /// The state's type.
    pub(crate) fn state_type(&self) -> StateType {
        match self {
            Kind::Pass { .. } => StateType::Pass,
            Kind::Task(_) => StateType::Task,
            Kind::Choice(_) | Kind::Conditions(_) => StateType::Choice,
            Kind::Wait(_) => StateType::Wait,
            Kind::Succeed => StateType::Succeed,
            Kind::Fail { .. } => StateType::Fail,
            Kind::Parallel { .. } => StateType::Parallel,
            Kind::Map(_) => StateType::Map,
        }
    }
}

/// One state.
#[derive(Clone, Debug)]
pub(crate) struct State {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) input_path: IoPath,
    pub(crate) output_path: IoPath,
    pub(crate) transition: Transition,
    /// `Assign`, in either query language.
    pub(crate) assign: Option<super::variables::Assign>,
    /// The JSONata fields of a state whose query language is JSONata.
    pub(crate) jsonata: Option<Box<super::jsonata::parse::JsonataState>>,
}

impl State {
    /// Every transition target of the state (Next, Choice rules and Default, Catch).
    pub(crate) fn targets_mut(&mut self) -> Vec<&mut Target> {
        let mut out: Vec<&mut Target> = Vec::new();
        if let Transition::Next(t) = &mut self.transition {
            out.push(t);
        }
        match &mut self.kind {
            Kind::Choice(c) => out.extend(c.targets_mut()),
            Kind::Conditions(c) => out.extend(c.targets_mut()),
            Kind::Task(t) => out.extend(t.results.catch.iter_mut().map(|c| &mut c.next)),
            Kind::Parallel { results, .. } => {
                out.extend(results.catch.iter_mut().map(|c| &mut c.next))
            }
            Kind::Map(m) => out.extend(m.results.catch.iter_mut().map(|c| &mut c.next)),
            _ => {}
        }
        out
    }

    /// Whether the state can end its machine.
    pub(crate) fn is_terminal(&self) -> bool {
        matches!(self.kind, Kind::Succeed | Kind::Fail { .. })
            || matches!(self.transition, Transition::End)
                && !matches!(self.kind, Kind::Choice(_) | Kind::Conditions(_))
    }
}

/// A set of states with a start: the top level, a Parallel branch or a Map item processor.
#[derive(Clone, Debug)]
pub(crate) struct Machine {
    pub(crate) states: Vec<State>,
    pub(crate) start: usize,
}

/// The parsed definition.
#[derive(Clone, Debug)]
pub(crate) struct Definition {
    pub(crate) machine: Machine,
    pub(crate) timeout_seconds: Option<u64>,
    /// The definition as parsed JSON.
    pub(crate) json: Value,
}

const ACTIVITY_PREFIXES: &[&str] = &[
    "arn:aws:states:",
    "arn:aws-cn:states:",
    "arn:aws-us-gov:states:",
];

/// Whether `resource` is an activity ARN: `arn:aws:states:<region>:<account>:activity:<name>`.
pub(crate) fn is_activity_arn(resource: &str) -> bool {
    let Some(rest) = ACTIVITY_PREFIXES
        .iter()
        .find_map(|p| resource.strip_prefix(p))
    else {
        return false;
    };
    let parts: Vec<&str> = rest.splitn(4, ':').collect();
    matches!(parts.as_slice(), [region, account, "activity", name]
        if !region.is_empty() && !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty())
}
