//! Parsing a state whose query language is JSONata: the JSONPath fields (`InputPath`,
//! `Parameters`, `ResultSelector`, `ResultPath`, `OutputPath`, `...Path`) give way to
//! `Arguments` and `Output`, Choice rules test a `Condition`, and Map reads `Items`.

use std::collections::HashSet;

use serde_json::Value;

use super::super::DefinitionError;
use super::super::definition::{
    Int, IoPath, Kind, MapState, ResultPath, Results, State, Target, Task, Wait, is_activity_arn,
};
use super::super::fields::{Fields, kind, schema};
use super::super::parse::parse_machine;
use super::super::path::Path;
use super::super::retry;
use super::super::states::transition;
use super::super::variables::Assign;
use super::JTemplate;

/// The JSONata fields of one state; which ones can be set depends on its type.
#[derive(Clone, Debug, Default)]
pub(crate) struct JsonataState {
    /// `Arguments` (Task, Parallel): the task's input; the state's input when absent.
    pub(crate) arguments: Option<JTemplate>,
    /// `Output`: the state's output; its result (Task, Parallel, Map) or input when absent.
    pub(crate) output: Option<JTemplate>,
    /// Task `TimeoutSeconds` and `HeartbeatSeconds`, as numbers or expressions.
    pub(crate) timeout: Option<JTemplate>,
    pub(crate) heartbeat: Option<JTemplate>,
    /// Map `Items` (the state's input when absent), `ItemSelector`, `MaxConcurrency`.
    pub(crate) items: Option<JTemplate>,
    pub(crate) item_selector: Option<JTemplate>,
    pub(crate) max_concurrency: Option<JTemplate>,
    /// Wait `Seconds` or `Timestamp`.
    pub(crate) seconds: Option<JTemplate>,
    pub(crate) timestamp: Option<JTemplate>,
    /// Fail `Error` and `Cause`.
    pub(crate) error: Option<JTemplate>,
    pub(crate) cause: Option<JTemplate>,
}

/// One rule of a JSONata Choice state.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    pub(crate) condition: JTemplate,
    pub(crate) next: Target,
    pub(crate) output: Option<JTemplate>,
    pub(crate) assign: Option<Assign>,
}

/// A JSONata Choice state's rules and `Default`.
#[derive(Clone, Debug)]
pub(crate) struct Conditions {
    pub(crate) rules: Vec<Rule>,
    pub(crate) default: Option<Target>,
}

impl Conditions {
    pub(crate) fn targets_mut(&mut self) -> impl Iterator<Item = &mut Target> {
        self.rules
            .iter_mut()
            .map(|r| &mut r.next)
            .chain(self.default.as_mut())
    }
}

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];

fn template(f: &Fields<'_>, key: &str) -> Result<Option<JTemplate>, DefinitionError> {
    f.get(key)
        .map(|v| JTemplate::compile(v, &f.at(key)))
        .transpose()
}

/// A field that takes a non-negative integer or an expression.
fn int(f: &Fields<'_>, key: &str, min: u64) -> Result<Option<JTemplate>, DefinitionError> {
    match f.get(key) {
        Some(Value::String(_)) => template(f, key).and_then(|t| match t {
            Some(JTemplate::Expr(_)) => Ok(t),
            _ => Err(schema(
                f.at(key),
                format!("'{key}' must be an integer or a JSONata expression ({{% ... %}})"),
            )),
        }),
        Some(_) => Ok(f.uint(key, min)?.map(|n| JTemplate::Static(n.into()))),
        None => Ok(None),
    }
}

fn results(f: &Fields<'_>) -> Result<Results, DefinitionError> {
    Ok(Results {
        parameters: None,
        result_selector: None,
        result_path: ResultPath::At(Path::root()),
        retry: retry::parse_retry(f)?,
        catch: retry::parse_catch(f, true)?,
    })
}

/// Parses a JSONata state.
pub(crate) fn parse_state(
    name: &str,
    f: &Fields<'_>,
    names: &mut HashSet<String>,
) -> Result<State, DefinitionError> {
    let ty = f.req_str("Type")?;
    let mut j = JsonataState {
        output: template(f, "Output")?,
        ..JsonataState::default()
    };
    let flow: &[&str] = &["Next", "End", "Output", "Assign"];
    let (kind, extra): (Kind, &[&str]) = match ty {
        "Pass" => (
            Kind::Pass {
                parameters: None,
                result: None,
                result_path: ResultPath::At(Path::root()),
            },
            &[],
        ),
        "Task" => {
            let resource = f.req_str("Resource")?;
            if !resource.starts_with("arn:") {
                return Err(schema(
                    f.at("Resource"),
                    format!("'{resource}' is not a valid resource ARN"),
                ));
            }
            j.arguments = template(f, "Arguments")?;
            j.timeout = int(f, "TimeoutSeconds", 1)?;
            j.heartbeat = int(f, "HeartbeatSeconds", 1)?;
            let task = Task {
                resource: resource.to_owned(),
                is_activity: is_activity_arn(resource),
                timeout: None,
                heartbeat: None,
                results: results(f)?,
            };
            let fields: &[&str] = &[
                "Resource",
                "Arguments",
                "Retry",
                "Catch",
                "TimeoutSeconds",
                "HeartbeatSeconds",
                "Credentials",
            ];
            (Kind::Task(Box::new(task)), fields)
        }
        "Choice" => (
            Kind::Conditions(Box::new(conditions(f)?)),
            &["Choices", "Default"],
        ),
        "Wait" => {
            j.seconds = int(f, "Seconds", 0)?;
            j.timestamp = template(f, "Timestamp")?;
            if j.seconds.is_some() == j.timestamp.is_some() {
                return Err(schema(
                    f.at.clone(),
                    "a Wait state needs exactly one of Seconds, Timestamp",
                ));
            }
            (Kind::Wait(Wait::Seconds(0)), &["Seconds", "Timestamp"])
        }
        "Succeed" => (Kind::Succeed, &[]),
        "Fail" => {
            j.error = template(f, "Error")?;
            j.cause = template(f, "Cause")?;
            (
                Kind::Fail {
                    error: None,
                    cause: None,
                },
                &["Error", "Cause"],
            )
        }
        "Parallel" => {
            j.arguments = template(f, "Arguments")?;
            let at = f.at("Branches");
            let list = match f.get("Branches") {
                Some(Value::Array(a)) if !a.is_empty() => a,
                other => {
                    return Err(schema(
                        at,
                        format!(
                            "'Branches' must be a non-empty array, found {}",
                            other.map_or("nothing", kind)
                        ),
                    ));
                }
            };
            let mut branches = Vec::with_capacity(list.len());
            for (i, b) in list.iter().enumerate() {
                let bf = Fields::new(b, format!("{at}/{i}"))?;
                bf.only(&["StartAt", "States", "Comment"])?;
                branches.push(parse_machine(&bf, names, true)?);
            }
            let kind = Kind::Parallel {
                branches,
                results: Box::new(results(f)?),
            };
            (kind, &["Branches", "Arguments", "Retry", "Catch"])
        }
        "Map" => {
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
            if super::super::distributed::parse(f, &pf)?.is_some() {
                return Err(schema(
                    pf.at("ProcessorConfig"),
                    "stefuna-local runs Distributed Map states only in JSONPath; use an inline Map or QueryLanguage JSONPath for this state",
                ));
            }
            j.items = template(f, "Items")?;
            j.item_selector = template(f, "ItemSelector")?;
            j.max_concurrency = int(f, "MaxConcurrency", 0)?;
            let map = MapState {
                processor: parse_machine(&pf, names, true)?,
                items_path: Path::root(),
                item_selector: None,
                max_concurrency: None::<Int>,
                results: results(f)?,
                distributed: None,
            };
            let fields: &[&str] = &[
                "Iterator",
                "ItemProcessor",
                "Items",
                "ItemSelector",
                "MaxConcurrency",
                "Retry",
                "Catch",
                "Label",
            ];
            (Kind::Map(Box::new(map)), fields)
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
    let mut fields: Vec<&str> = COMMON.iter().chain(extra).copied().collect();
    match ty {
        "Succeed" => fields.push("Output"),
        "Fail" => {}
        "Choice" => fields.extend(["Output", "Assign"]),
        _ => fields.extend(flow),
    }
    f.only(&fields)?;
    Ok(State {
        name: name.to_owned(),
        kind,
        input_path: IoPath::Path(Path::root()),
        output_path: IoPath::Path(Path::root()),
        transition: transition(f, &fields)?,
        assign: if fields.contains(&"Assign") {
            Assign::parse(f, true)?
        } else {
            None
        },
        jsonata: Some(Box::new(j)),
    })
}

fn conditions(f: &Fields<'_>) -> Result<Conditions, DefinitionError> {
    let at = f.at("Choices");
    let list = match f.get("Choices") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        None => return Err(schema(f.at.clone(), "these fields are required: [Choices]")),
        Some(other) => {
            return Err(schema(
                at,
                format!("'Choices' must be a non-empty array, found {}", kind(other)),
            ));
        }
    };
    let mut rules = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let rf = Fields::new(r, format!("{at}/{i}"))?;
        rf.only(&["Condition", "Next", "Output", "Assign", "Comment"])?;
        let condition = match rf.get("Condition") {
            Some(v @ (Value::String(_) | Value::Bool(_))) => {
                let t = JTemplate::compile(v, &rf.at("Condition"))?;
                if matches!(t, JTemplate::Static(Value::String(_))) {
                    return Err(schema(
                        rf.at("Condition"),
                        "'Condition' must be a JSONata expression ({% ... %}) or a boolean",
                    ));
                }
                t
            }
            Some(other) => {
                return Err(schema(
                    rf.at("Condition"),
                    format!(
                        "'Condition' must be a JSONata expression or a boolean, found {}",
                        kind(other)
                    ),
                ));
            }
            None => {
                return Err(schema(
                    rf.at.clone(),
                    "a JSONata Choice rule needs 'Condition' (JSONPath rules such as 'Variable' are not accepted here)",
                ));
            }
        };
        rules.push(Rule {
            condition,
            next: Target::new(rf.req_str("Next")?, rf.at("Next")),
            output: template(&rf, "Output")?,
            assign: Assign::parse(&rf, true)?,
        });
    }
    let default = f.str("Default")?.map(|d| Target::new(d, f.at("Default")));
    Ok(Conditions { rules, default })
}
