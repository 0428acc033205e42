//! Parsing one state of each type into the model, with AWS's field rules.

use std::collections::HashSet;

use serde_json::Value;

use super::DefinitionError;
use super::choice;
use super::context::parse_timestamp;
use super::definition::{
    Int, IoPath, Kind, MapState, ResultPath, Results, State, Target, Task, Text, Transition, Wait,
    is_activity_arn,
};
use super::fields::{Fields, error, kind, schema};
use super::intrinsics;
use super::parse::parse_machine;
use super::path::Path;
use super::retry;
use super::template::Template;
use super::variables::Assign;

const COMMON: &[&str] = &[
    "Type",
    "Comment",
    "QueryLanguage",
    "InputPath",
    "OutputPath",
];

fn allowed(extra: &[&'static str]) -> Vec<&'static str> {
    // Every state with a `Next` may assign variables.
    let assign: &[&str] = if extra.contains(&"Next") || extra.contains(&"Choices") {
        &["Assign"]
    } else {
        &[]
    };
    COMMON.iter().chain(extra).chain(assign).copied().collect()
}

pub(crate) fn parse_state(
    name: &str,
    f: &Fields<'_>,
    names: &mut HashSet<String>,
    inherited_jsonata: bool,
) -> Result<State, DefinitionError> {
    let ty = f.req_str("Type")?;
    if super::parse::query_language(f, inherited_jsonata)? {
        return super::jsonata::parse::parse_state(name, f, names);
    }
    let (kind, fields): (_, Vec<&'static str>) = match ty {
        "Pass" => {
            let fields = allowed(&["Next", "End", "Parameters", "Result", "ResultPath"]);
            f.only(&fields)?;
            let kind = Kind::Pass {
                parameters: template(f, "Parameters")?,
                result: f.get("Result").cloned(),
                result_path: ResultPath::parse(f)?,
            };
            (kind, fields)
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
            let timeout = int(f, "TimeoutSeconds", 1)?;
            let heartbeat = int(f, "HeartbeatSeconds", 1)?;
            if let (Some(Int::Fixed(t)), Some(Int::Fixed(h))) = (&timeout, &heartbeat)
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
            (Kind::Task(Box::new(task)), fields)
        }
        "Choice" => {
            let fields = allowed(&["Choices", "Default"]);
            f.only(&fields)?;
            (Kind::Choice(Box::new(choice::parse(f)?)), fields)
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
            (Kind::Wait(wait), fields)
        }
        "Succeed" => {
            let fields = allowed(&[]);
            f.only(&fields)?;
            (Kind::Succeed, fields)
        }
        "Fail" => {
            let fields = vec![
                "Type",
                "Comment",
                "QueryLanguage",
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
            (kind, fields)
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
                branches.push(parse_machine(&bf, names, false)?);
            }
            (
                Kind::Parallel {
                    branches,
                    results: Box::new(results(f)?),
                },
                fields,
            )
        }
        "Map" => {
            let mut fields = allowed(&[
                "Next",
                "End",
                "Iterator",
                "ItemProcessor",
                "ItemsPath",
                "ItemSelector",
                "Parameters",
                "MaxConcurrency",
                "MaxConcurrencyPath",
                "ResultSelector",
                "ResultPath",
                "Retry",
                "Catch",
                "Label",
            ]);
            fields.extend_from_slice(super::distributed::FIELDS);
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
            let processor = parse_machine(&pf, names, false)?;
            let distributed = super::distributed::parse(f, &pf)?;
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
                max_concurrency: int(f, "MaxConcurrency", 0)?,
                distributed,
                results: Results {
                    parameters: None,
                    ..results(f)?
                },
            };
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
    let transition = transition(f, &fields)?;
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
        assign: if fields.contains(&"Assign") {
            Assign::parse(f, false)?
        } else {
            None
        },
        jsonata: None,
    })
}

pub(crate) fn transition(f: &Fields<'_>, fields: &[&str]) -> Result<Transition, DefinitionError> {
    if !fields.contains(&"Next") {
        return Ok(Transition::End);
    }
    let next = f.str("Next")?;
    let end = f.bool("End")?;
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
        catch: retry::parse_catch(f, false)?,
    })
}

fn int(f: &Fields<'_>, key: &str, min: u64) -> Result<Option<Int>, DefinitionError> {
    let path_key = format!("{key}Path");
    match (f.has(key), f.has(&path_key)) {
        (true, true) => Err(schema(
            f.at.clone(),
            format!("'{key}' and '{path_key}' cannot both be set"),
        )),
        (true, false) => Ok(Some(Int::Fixed(f.uint(key, min)?.expect("present")))),
        (false, true) => Ok(Some(Int::Path(
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
            f.reference_path(&path_key)?.expect("present"),
        ))),
        (None, None) => Ok(None),
    }
}
