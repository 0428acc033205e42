//! The typed model of a state machine and its parsing and validation. Transitions are resolved
//! to state indexes so running a machine never looks names up.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use time::OffsetDateTime;

use super::choice::{self, Choice};
use super::context::parse_timestamp;
use super::fields::{Fields, error, kind, schema};
use super::intrinsics::{self, Call};
use super::path::Path;
use super::retry::{self, Catcher, Retrier};
use super::template::Template;
use super::{DefinitionError, ErrorCause};

/// A transition target: the state's name and, once resolved, its index.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) idx: usize,
    at: String,
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
    fn parse(f: &Fields<'_>, key: &str) -> Result<IoPath, DefinitionError> {
        match f.get(key) {
            None => Ok(IoPath::Path(Path::root())),
            Some(Value::Null) => Ok(IoPath::Null),
            Some(_) => Ok(IoPath::Path(f.path(key)?.expect("present"))),
        }
    }

    /// Applies the path to a value.
    pub(crate) fn apply(&self, v: Value) -> Result<Value, String> {
        match self {
            IoPath::Null => Ok(Value::Object(Default::default())),
            IoPath::Path(p) if p.is_root() => Ok(v),
            IoPath::Path(p) => p
                .select(&v)
                .map(|x| x.into_owned())
                .ok_or_else(|| p.no_results()),
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
                f.reference_path("ResultPath")?.expect("present"),
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

/// A number of seconds, fixed or read from the input.
#[derive(Clone, Debug)]
pub(crate) enum Seconds {
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
    pub(crate) timeout: Option<Seconds>,
    pub(crate) heartbeat: Option<Seconds>,
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
    pub(crate) max_concurrency: u64,
    pub(crate) results: Results,
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
}

/// One state.
#[derive(Clone, Debug)]
pub(crate) struct State {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) input_path: IoPath,
    pub(crate) output_path: IoPath,
    pub(crate) transition: Transition,
    /// The AWS event type prefix, e.g. `Task` for `TaskStateEntered`.
    pub(crate) type_name: &'static str,
}

impl State {
    fn targets_mut(&mut self) -> Vec<&mut Target> {
        let mut out: Vec<&mut Target> = Vec::new();
        if let Transition::Next(t) = &mut self.transition {
            out.push(t);
        }
        match &mut self.kind {
            Kind::Choice(c) => out.extend(c.targets_mut()),
            Kind::Task(t) => out.extend(t.results.catch.iter_mut().map(|c| &mut c.next)),
            Kind::Parallel { results, .. } => {
                out.extend(results.catch.iter_mut().map(|c| &mut c.next))
            }
            Kind::Map(m) => out.extend(m.results.catch.iter_mut().map(|c| &mut c.next)),
            _ => {}
        }
        out
    }

    fn is_terminal(&self) -> bool {
        matches!(self.kind, Kind::Succeed | Kind::Fail { .. })
            || matches!(self.transition, Transition::End) && !matches!(self.kind, Kind::Choice(_))
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
        if !region.is_empty() && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty())
}

/// Parses and validates a whole definition.
pub(crate) fn parse(text: &str) -> Result<Definition, DefinitionError> {
    if text.trim().is_empty() {
        return Err(error("MISSING_DESCRIPTION", "/", "the definition is empty"));
    }
    let v: Value = serde_json::from_str(text).map_err(|e| {
        error(
            "INVALID_JSON_DESCRIPTION",
            "/",
            format!("the definition is not valid JSON: {e}"),
        )
    })?;
    if let Some((at, key)) = super::dupes::find_duplicate(text) {
        return Err(if at.ends_with("/States") {
            error(
                "DUPLICATE_STATE_NAME",
                format!("{at}/{key}"),
                format!("state name '{key}' is used more than once"),
            )
        } else {
            schema(
                format!("{at}/{key}"),
                format!("field '{key}' appears more than once"),
            )
        });
    }
    let f = Fields::new(&v, "")?;
    f.only(&[
        "StartAt",
        "States",
        "Comment",
        "TimeoutSeconds",
        "Version",
        "QueryLanguage",
    ])?;
    f.str("Comment")?;
    f.str("Version")?;
    query_language(&f)?;
    let timeout_seconds = f.uint("TimeoutSeconds", 0)?;
    let mut names = HashSet::new();
    let machine = parse_machine(&f, &mut names)?;
    Ok(Definition {
        machine,
        timeout_seconds,
    })
}

fn query_language(f: &Fields<'_>) -> Result<(), DefinitionError> {
    match f.str("QueryLanguage")? {
        None | Some("JSONPath") => Ok(()),
        Some(other) => Err(schema(
            f.at("QueryLanguage"),
            format!(
                "'QueryLanguage' '{other}' is not supported by stefuna-local; accepted: JSONPath"
            ),
        )),
    }
}

fn root_at(at: &str) -> &str {
    if at.is_empty() { "/" } else { at }
}

fn parse_machine(f: &Fields<'_>, names: &mut HashSet<String>) -> Result<Machine, DefinitionError> {
    let start_name = f.req_str("StartAt").map_err(|e| DefinitionError {
        path: root_at(&e.path).into(),
        ..e
    })?;
    let states_v = f
        .get("States")
        .ok_or_else(|| schema(root_at(&f.at), "these fields are required: [States]"))?;
    let states_f = Fields::new(states_v, f.at("States"))?;
    if states_f.obj.is_empty() {
        return Err(schema(
            f.at("States"),
            "'States' must have at least one state",
        ));
    }
    let mut states = Vec::with_capacity(states_f.obj.len());
    let mut index = HashMap::with_capacity(states_f.obj.len());
    for (name, sv) in states_f.obj {
        let at = states_f.at(name);
        if name.is_empty() || name.chars().count() > 80 {
            return Err(error(
                "INVALID_STATE_NAME",
                at,
                "state names must be 1 to 80 characters long",
            ));
        }
        if !names.insert(name.clone()) {
            return Err(error(
                "DUPLICATE_STATE_NAME",
                at,
                format!(
                    "state name '{name}' is used more than once; names must be unique in the whole state machine"
                ),
            ));
        }
        index.insert(name.clone(), states.len());
        states.push(parse_state(name, &Fields::new(sv, at)?, names)?);
    }
    let start = *index.get(start_name).ok_or_else(|| {
        error(
            "MISSING_TRANSITION_TARGET",
            f.at("StartAt"),
            format!("missing 'StartAt' target: {start_name}"),
        )
    })?;
    for st in &mut states {
        for t in st.targets_mut() {
            t.idx = *index.get(&t.name).ok_or_else(|| {
                error(
                    "MISSING_TRANSITION_TARGET",
                    t.at.clone(),
                    format!("missing 'Next' target: {}", t.name),
                )
            })?;
        }
    }
    let mut machine = Machine { states, start };
    check_reachable(&mut machine, &states_f)?;
    if !machine.states.iter().any(State::is_terminal) {
        return Err(error(
            "MISSING_END_STATE",
            root_at(&f.at),
            "the workflow has no terminal state",
        ));
    }
    Ok(machine)
}

fn check_reachable(m: &mut Machine, states_f: &Fields<'_>) -> Result<(), DefinitionError> {
    let mut seen = vec![false; m.states.len()];
    let mut stack = vec![m.start];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        stack.extend(m.states[i].targets_mut().into_iter().map(|t| t.idx));
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        let name = &m.states[i].name;
        return Err(error(
            "UNREACHABLE_STATE",
            states_f.at(name),
            format!("state '{name}' is not reachable"),
        ));
    }
    Ok(())
}

const COMMON: &[&str] = &["Type", "Comment", "InputPath", "OutputPath"];

fn allowed(extra: &[&'static str]) -> Vec<&'static str> {
    COMMON.iter().chain(extra).copied().collect()
}

fn parse_state(
    name: &str,
    f: &Fields<'_>,
    names: &mut HashSet<String>,
) -> Result<State, DefinitionError> {
    let ty = f.req_str("Type")?;
    let (kind, type_name, fields): (_, &'static str, Vec<&'static str>) = match ty {
        "Pass" => {
            let fields = allowed(&["Next", "End", "Parameters", "Result", "ResultPath"]);
            f.only(&fields)?;
            let kind = Kind::Pass {
                parameters: template(f, "Parameters")?,
                result: f.get("Result").cloned(),
                result_path: ResultPath::parse(f)?,
            };
            (kind, "Pass", fields)
        }
        "Task" => {
            let fields = allowed(&[
                "Next",
                "End",
                "Resource",
                "Parameters",
                "ResultSelector",
                "ResultPath",
                "Retry",
                "Catch",
                "TimeoutSeconds",
                "TimeoutSecondsPath",
                "HeartbeatSeconds",
                "HeartbeatSecondsPath",
                "Credentials",
            ]);
            f.only(&fields)?;
            let resource = f.req_str("Resource")?;
            if !resource.starts_with("arn:") {
                return Err(error(
                    "INVALID_RESOURCE",
                    f.at("Resource"),
                    format!(
                        "'{resource}' is not a valid resource ARN; expected e.g. arn:aws:states:<region>:<account>:activity:<name>"
                    ),
                ));
            }
            let timeout = seconds(f, "TimeoutSeconds")?;
            let heartbeat = seconds(f, "HeartbeatSeconds")?;
            if let (Some(Seconds::Fixed(t)), Some(Seconds::Fixed(h))) = (&timeout, &heartbeat)
                && h >= t
            {
                return Err(schema(
                    f.at("HeartbeatSeconds"),
                    format!("'HeartbeatSeconds' ({h}) must be smaller than 'TimeoutSeconds' ({t})"),
                ));
            }
            let task = Task {
                resource: resource.to_owned(),
                is_activity: is_activity_arn(resource),
                timeout,
                heartbeat,
                results: results(f)?,
            };
            (Kind::Task(Box::new(task)), "Task", fields)
        }
        "Choice" => {
            let fields = allowed(&["Choices", "Default"]);
            f.only(&fields)?;
            (Kind::Choice(Box::new(choice::parse(f)?)), "Choice", fields)
        }
        "Wait" => {
            let fields = allowed(&[
                "Next",
                "End",
                "Seconds",
                "Timestamp",
                "SecondsPath",
                "TimestampPath",
            ]);
            f.only(&fields)?;
            let given: Vec<&&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
                .iter()
                .filter(|k| f.has(k))
                .collect();
            if given.len() != 1 {
                return Err(schema(
                    f.at.clone(),
                    "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath",
                ));
            }
            let wait = match *given[0] {
                "Seconds" => Wait::Seconds(f.uint("Seconds", 0)?.expect("present")),
                "Timestamp" => {
                    let s = f.req_str("Timestamp")?;
                    Wait::Timestamp(parse_timestamp(s).ok_or_else(|| {
                        schema(
                            f.at("Timestamp"),
                            format!("'Timestamp' must be an RFC 3339 timestamp, found '{s}'"),
                        )
                    })?)
                }
                "SecondsPath" => {
                    Wait::SecondsPath(f.reference_path("SecondsPath")?.expect("present"))
                }
                _ => Wait::TimestampPath(f.reference_path("TimestampPath")?.expect("present")),
            };
            (Kind::Wait(wait), "Wait", fields)
        }
        "Succeed" => {
            let fields = allowed(&[]);
            f.only(&fields)?;
            (Kind::Succeed, "Succeed", fields)
        }
        "Fail" => {
            let fields = vec![
                "Type",
                "Comment",
                "Error",
                "Cause",
                "ErrorPath",
                "CausePath",
            ];
            f.only(&fields)?;
            let kind = Kind::Fail {
                error: text(f, "Error")?,
                cause: text(f, "Cause")?,
            };
            (kind, "Fail", fields)
        }
        "Parallel" => {
            let fields = allowed(&[
                "Next",
                "End",
                "Branches",
                "Parameters",
                "ResultSelector",
                "ResultPath",
                "Retry",
                "Catch",
            ]);
            f.only(&fields)?;
            let at = f.at("Branches");
            let list = match f.get("Branches") {
                None => {
                    return Err(schema(
                        f.at.clone(),
                        "these fields are required: [Branches]",
                    ));
                }
                Some(Value::Array(a)) if !a.is_empty() => a,
                Some(other) => {
                    return Err(schema(
                        at,
                        format!(
                            "'Branches' must be a non-empty array, found {}",
                            kind(other)
                        ),
                    ));
                }
            };
            let mut branches = Vec::with_capacity(list.len());
            for (i, b) in list.iter().enumerate() {
                let bf = Fields::new(b, format!("{at}/{i}"))?;
                bf.only(&["StartAt", "States", "Comment"])?;
                branches.push(parse_machine(&bf, names)?);
            }
            (
                Kind::Parallel {
                    branches,
                    results: Box::new(results(f)?),
                },
                "Parallel",
                fields,
            )
        }
        "Map" => {
            let fields = allowed(&[
                "Next",
                "End",
                "Iterator",
                "ItemProcessor",
                "ItemsPath",
                "ItemSelector",
                "Parameters",
                "MaxConcurrency",
                "ResultSelector",
                "ResultPath",
                "Retry",
                "Catch",
                "Label",
            ]);
            f.only(&fields)?;
            let key = match (f.has("ItemProcessor"), f.has("Iterator")) {
                (true, false) => "ItemProcessor",
                (false, true) => "Iterator",
                _ => {
                    return Err(schema(
                        f.at.clone(),
                        "a Map state needs exactly one of ItemProcessor or Iterator",
                    ));
                }
            };
            let pf = Fields::new(f.get(key).expect("present"), f.at(key))?;
            pf.only(&["StartAt", "States", "Comment", "ProcessorConfig"])?;
            if let Some(cfg) = pf.get("ProcessorConfig") {
                let cf = Fields::new(cfg, pf.at("ProcessorConfig"))?;
                cf.only(&["Mode", "ExecutionType"])?;
                if !matches!(cf.str("Mode")?, None | Some("INLINE")) {
                    return Err(schema(
                        cf.at("Mode"),
                        "only the INLINE Map mode is supported by stefuna-local",
                    ));
                }
            }
            let processor = parse_machine(&pf, names)?;
            if f.has("ItemSelector") && f.has("Parameters") {
                return Err(schema(
                    f.at.clone(),
                    "a Map state takes ItemSelector or Parameters, not both",
                ));
            }
            let item_selector = match template(f, "ItemSelector")? {
                Some(t) => Some(t),
                None => template(f, "Parameters")?,
            };
            let map = MapState {
                processor,
                items_path: f.reference_path("ItemsPath")?.unwrap_or_else(Path::root),
                item_selector,
                max_concurrency: f.uint("MaxConcurrency", 0)?.unwrap_or(0),
                results: Results {
                    parameters: None,
                    ..results(f)?
                },
            };
            (Kind::Map(Box::new(map)), "Map", fields)
        }
        other => {
            return Err(schema(
                f.at("Type"),
                format!(
                    "unknown state type '{other}'; accepted: Task, Pass, Wait, Choice, Succeed, Fail, Parallel, Map"
                ),
            ));
        }
    };
    let _ = name;
    let transition = transition(f, &kind, &fields)?;
    Ok(State {
        name: name.to_owned(),
        kind,
        input_path: if fields.contains(&"InputPath") {
            IoPath::parse(f, "InputPath")?
        } else {
            IoPath::Path(Path::root())
        },
        output_path: if fields.contains(&"OutputPath") {
            IoPath::parse(f, "OutputPath")?
        } else {
            IoPath::Path(Path::root())
        },
        transition,
        type_name,
    })
}

fn transition(f: &Fields<'_>, kind: &Kind, fields: &[&str]) -> Result<Transition, DefinitionError> {
    if !fields.contains(&"Next") {
        return Ok(Transition::End);
    }
    let next = f.str("Next")?;
    let end = f.bool("End")?;
    let _ = kind;
    match (next, end) {
        (Some(_), Some(true)) => Err(schema(
            f.at.clone(),
            "a state cannot have both 'Next' and 'End'",
        )),
        (Some(n), _) => Ok(Transition::Next(Target::new(n, f.at("Next")))),
        (None, Some(true)) => Ok(Transition::End),
        (None, _) => Err(schema(
            f.at.clone(),
            "the state needs 'Next' or 'End': true",
        )),
    }
}

fn template(f: &Fields<'_>, key: &str) -> Result<Option<Template>, DefinitionError> {
    f.get(key)
        .map(|v| Template::compile(v, &f.at(key)).map_err(|(at, msg)| schema(at, msg)))
        .transpose()
}

fn results(f: &Fields<'_>) -> Result<Results, DefinitionError> {
    Ok(Results {
        parameters: template(f, "Parameters")?,
        result_selector: template(f, "ResultSelector")?,
        result_path: ResultPath::parse(f)?,
        retry: retry::parse_retry(f)?,
        catch: retry::parse_catch(f)?,
    })
}

fn seconds(f: &Fields<'_>, key: &str) -> Result<Option<Seconds>, DefinitionError> {
    let path_key = format!("{key}Path");
    match (f.has(key), f.has(&path_key)) {
        (true, true) => Err(schema(
            f.at.clone(),
            format!("'{key}' and '{path_key}' cannot both be set"),
        )),
        (true, false) => Ok(Some(Seconds::Fixed(f.uint(key, 1)?.expect("present")))),
        (false, true) => Ok(Some(Seconds::Path(
            f.reference_path(&path_key)?.expect("present"),
        ))),
        (false, false) => Ok(None),
    }
}

fn text(f: &Fields<'_>, key: &str) -> Result<Option<Text>, DefinitionError> {
    let path_key = format!("{key}Path");
    match (f.str(key)?, f.str(&path_key)?) {
        (Some(_), Some(_)) => Err(schema(
            f.at.clone(),
            format!("'{key}' and '{path_key}' cannot both be set"),
        )),
        (Some(s), None) => Ok(Some(Text::Lit(s.to_owned()))),
        (None, Some(s)) if intrinsics::looks_like_call(s) => {
            Ok(Some(Text::Call(intrinsics::parse(s).map_err(|e| {
                schema(f.at(&path_key), format!("invalid intrinsic function: {e}"))
            })?)))
        }
        (None, Some(_)) => Ok(Some(Text::Path(
            f.reference_or_context_path(&path_key)?.expect("present"),
        ))),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(def: Value) -> DefinitionError {
        parse(&def.to_string()).expect_err("definition should be rejected")
    }

    fn one(state: Value) -> Value {
        json!({"StartAt": "S", "States": {"S": state}})
    }

    #[test]
    fn parses_a_valid_machine_and_resolves_transitions() {
        let d = parse(
            &json!({
                "Comment": "x", "TimeoutSeconds": 30, "Version": "1.0",
                "StartAt": "A",
                "States": {
                    "A": {"Type": "Pass", "Next": "B"},
                    "B": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:hello",
                          "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}], "End": true},
                    "F": {"Type": "Fail", "Error": "E"}
                }
            })
            .to_string(),
        )
        .unwrap();
        assert_eq!(d.timeout_seconds, Some(30));
        let m = &d.machine;
        assert_eq!(m.states[m.start].name, "A");
        let Transition::Next(t) = &m.states[m.start].transition else {
            panic!("A has Next")
        };
        assert_eq!(m.states[t.idx].name, "B");
        let Kind::Task(task) = &m.states[t.idx].kind else {
            panic!("B is a task")
        };
        assert!(task.is_activity);
        assert_eq!(m.states[task.results.catch[0].next.idx].name, "F");
    }

    #[test]
    fn activity_arns() {
        assert!(is_activity_arn(
            "arn:aws:states:us-east-1:123456789012:activity:hello"
        ));
        assert!(!is_activity_arn("arn:aws:states:::lambda:invoke"));
        assert!(!is_activity_arn(
            "arn:aws:lambda:us-east-1:123456789012:function:f"
        ));
        assert!(!is_activity_arn("arn:aws:states:us-east-1:1234:activity:x"));
    }

    #[test]
    fn json_and_top_level_errors() {
        let e = parse("{nope").unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("INVALID_JSON_DESCRIPTION", "/")
        );
        let e = err(json!({"States": {"A": {"Type": "Succeed"}}}));
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("SCHEMA_VALIDATION_FAILED", "/")
        );
        assert!(e.message.contains("StartAt"));
        let e = err(json!({"StartAt": "X", "States": {"A": {"Type": "Succeed"}}}));
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("MISSING_TRANSITION_TARGET", "/StartAt")
        );
        let e = err(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}, "Bogus": 1}));
        assert_eq!(e.path, "/Bogus");
        let e = err(json!({"StartAt": "A", "States": {}}));
        assert_eq!(e.path, "/States");
        assert_eq!(
            e.to_string(),
            format!(
                "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: {} at /States'",
                e.message
            )
        );
    }

    #[test]
    fn state_level_errors_carry_their_paths() {
        let cases = [
            (
                one(json!({"Type": "Nope", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Type",
            ),
            (
                one(json!({"Type": "Pass"})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Pass", "Next": "S", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Pass", "Next": "Nowhere"})),
                "MISSING_TRANSITION_TARGET",
                "/States/S/Next",
            ),
            (
                one(json!({"Type": "Pass", "End": true, "Foo": 1})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Foo",
            ),
            (
                one(json!({"Type": "Task", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Task", "Resource": "hello", "End": true})),
                "INVALID_RESOURCE",
                "/States/S/Resource",
            ),
            (
                one(json!({"Type": "Choice"})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Choice", "Choices": []})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Choices",
            ),
            (
                one(json!({"Type": "Pass", "InputPath": "foo", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/InputPath",
            ),
            (
                one(json!({"Type": "Pass", "ResultPath": "$.a[*]", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/ResultPath",
            ),
            (
                one(json!({"Type": "Pass", "Parameters": {"a.$": "x"}, "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Parameters/a.$",
            ),
            (
                one(json!({"Type": "Wait", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Wait", "Timestamp": "tomorrow", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Timestamp",
            ),
            (
                one(json!({"Type": "Succeed", "Next": "S"})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Next",
            ),
            (
                one(json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Parallel", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(json!({"Type": "Map", "End": true})),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S",
            ),
            (
                one(
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a",
                           "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}], "End": true}),
                ),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/Retry/0/ErrorEquals",
            ),
            (
                one(
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a",
                           "Catch": [{"ErrorEquals": ["X"], "Next": "Nowhere"}], "End": true}),
                ),
                "MISSING_TRANSITION_TARGET",
                "/States/S/Catch/0/Next",
            ),
            (
                one(
                    json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:a",
                           "TimeoutSeconds": 5, "HeartbeatSeconds": 5, "End": true}),
                ),
                "SCHEMA_VALIDATION_FAILED",
                "/States/S/HeartbeatSeconds",
            ),
        ];
        for (def, code, path) in cases {
            let e = err(def.clone());
            assert_eq!(
                (e.code.as_str(), e.path.as_str()),
                (code, path),
                "{def}: {}",
                e.message
            );
        }
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let e = parse(
            r#"{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "A": {"Type": "Succeed"}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("DUPLICATE_STATE_NAME", "/States/A")
        );
        let e = parse(r#"{"StartAt": "A", "States": {"A": {"Type": "Succeed", "Type": "Pass"}}}"#)
            .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("SCHEMA_VALIDATION_FAILED", "/States/A/Type")
        );
    }

    #[test]
    fn unreachable_and_endless_machines() {
        let e = err(
            json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}),
        );
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("UNREACHABLE_STATE", "/States/B")
        );
        let e = err(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}));
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            ("MISSING_END_STATE", "/")
        );
    }

    #[test]
    fn nested_machines_are_validated_with_their_paths() {
        let e = err(one(json!({"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Next": "Gone"}}}
        ]})));
        assert_eq!(
            (e.code.as_str(), e.path.as_str()),
            (
                "MISSING_TRANSITION_TARGET",
                "/States/S/Branches/0/States/B1/Next"
            )
        );
        let e = err(one(json!({"Type": "Map", "End": true, "ItemProcessor":
            {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true, "X": 1}}}})));
        assert_eq!(e.path, "/States/S/ItemProcessor/States/I/X");
        let e = err(one(json!({"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}
        ]})));
        assert_eq!(e.code, "DUPLICATE_STATE_NAME");
        // a branch cannot jump to a state outside it
        let e = err(json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Next": "Done", "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "Done"}}}]},
            "Done": {"Type": "Succeed"}}}));
        assert_eq!(e.path, "/States/P/Branches/0/States/B/Next");
    }

    #[test]
    fn map_accepts_iterator_or_item_processor() {
        for key in ["Iterator", "ItemProcessor"] {
            let def = one(
                json!({"Type": "Map", "End": true, "ItemsPath": "$.items", "MaxConcurrency": 2,
                key: {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}),
            );
            let d = parse(&def.to_string()).unwrap();
            let Kind::Map(m) = &d.machine.states[0].kind else {
                panic!("map")
            };
            assert_eq!(m.max_concurrency, 2);
        }
    }
}
