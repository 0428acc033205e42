//! Payload templates (`Parameters`, `ResultSelector`, `ItemSelector`): keys ending in `.$` take a
//! path or an intrinsic call; everything else is copied. Compiled once; parts without any `.$`
//! stay a plain value that is cloned as a whole.

use serde_json::{Map, Value};

use super::ErrorCause;
use super::context::Ctx;
use super::intrinsics::{self, Call};
use super::path::Path;

/// A compiled payload template.
#[derive(Clone, Debug)]
pub(crate) enum Template {
    /// A part without any `.$` key.
    Static(Value),
    /// An object with at least one dynamic part.
    Object(Vec<(String, Template)>),
    /// An array with at least one dynamic part.
    Array(Vec<Template>),
    /// A path (`$.x` or `$$.x`).
    Path(Path),
    /// An intrinsic function call.
    Call(Call),
}

impl Template {
    /// Compiles a template; `at` is the location used in error messages.
    pub(crate) fn compile(v: &Value, at: &str) -> Result<Template, (String, String)> {
        match v {
            Value::Object(obj) => {
                let mut parts = Vec::with_capacity(obj.len());
                let mut dynamic = false;
                for (k, v) in obj {
                    let here = format!("{at}/{k}");
                    if let Some(name) = k.strip_suffix(".$") {
                        if obj.contains_key(name) {
                            return Err((
                                here,
                                format!("'{k}' and '{name}' both set the field '{name}'; keep one"),
                            ));
                        }
                        let Value::String(s) = v else {
                            return Err((
                                here,
                                format!(
                                    "the value of '{k}' must be a string holding a path or an intrinsic function"
                                ),
                            ));
                        };
                        let t = if intrinsics::looks_like_call(s) {
                            Template::Call(intrinsics::parse(s).map_err(|e| {
                                (
                                    here.clone(),
                                    format!(
                                        "the value of '{k}' is not a valid intrinsic function: {e}"
                                    ),
                                )
                            })?)
                        } else {
                            Template::Path(Path::parse(s).map_err(|e| {
                                (
                                    here.clone(),
                                    format!("the value of '{k}' must be a valid JSONPath: {e}"),
                                )
                            })?)
                        };
                        dynamic = true;
                        parts.push((name.to_owned(), t));
                    } else {
                        let t = Template::compile(v, &here)?;
                        dynamic |= !matches!(t, Template::Static(_));
                        parts.push((k.clone(), t));
                    }
                }
                if dynamic {
                    Ok(Template::Object(parts))
                } else {
                    Ok(Template::Static(v.clone()))
                }
            }
            Value::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    parts.push(Template::compile(item, &format!("{at}/{i}"))?);
                }
                if parts.iter().all(|t| matches!(t, Template::Static(_))) {
                    Ok(Template::Static(v.clone()))
                } else {
                    Ok(Template::Array(parts))
                }
            }
            other => Ok(Template::Static(other.clone())),
        }
    }

    /// Builds the payload from the input and the context object.
    pub(crate) fn eval(&self, input: &Value, ctx: &Ctx<'_>) -> Result<Value, ErrorCause> {
        match self {
            Template::Static(v) => Ok(v.clone()),
            Template::Object(parts) => {
                let mut out = Map::new();
                for (k, t) in parts {
                    let v = match t {
                        // AWS names the field in this case (recorded:
                        // test_invalid_jsonpath[INVALID_JSONPATH_IN_STRING_EXPR_JSONPATH]).
                        Template::Path(p) => ctx
                            .resolve(p, input)
                            .map(|v| v.into_owned())
                            .ok_or_else(|| {
                                let data = if p.is_context() { ctx.value() } else { input };
                                ErrorCause::new(
                                    "States.Runtime",
                                    p.not_found(&format!("{k}.$"), data),
                                )
                            })?,
                        t => t.eval(input, ctx)?,
                    };
                    out.insert(k.clone(), v);
                }
                Ok(Value::Object(out))
            }
            Template::Array(parts) => parts
                .iter()
                .map(|t| t.eval(input, ctx))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Path(p) => ctx
                .resolve(p, input)
                .map(|v| v.into_owned())
                .ok_or_else(|| ctx.missing(p, input)),
            Template::Call(c) => c.eval(input, ctx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::ExecutionInfo;
    use crate::asl::context::ExecCtx;
    use serde_json::json;
    use time::OffsetDateTime;

    fn exec() -> ExecCtx {
        ExecCtx::new(
            ExecutionInfo {
                id: "arn:exec".into(),
                name: "e".into(),
                start_time: OffsetDateTime::UNIX_EPOCH,
                role_arn: String::new(),
                state_machine_id: String::new(),
                state_machine_name: "sm".into(),
            },
            json!({"orig": true}),
        )
    }

    #[test]
    fn resolves_paths_context_intrinsics_and_nesting() {
        let e = exec();
        let ctx = Ctx::new(&e, "S", OffsetDateTime::UNIX_EPOCH);
        let t = Template::compile(
            &json!({
                "static": {"k": [1, 2]},
                "name.$": "$.name",
                "sm.$": "$$.StateMachine.Name",
                "greet.$": "States.Format('hi {}', $.name)",
                "nested": {"orig.$": "$$.Execution.Input.orig"},
                "list": [{"n.$": "$.name"}, 3]
            }),
            "/P",
        )
        .unwrap();
        let out = t.eval(&json!({"name": "Bo"}), &ctx).unwrap();
        assert_eq!(
            out,
            json!({
                "static": {"k": [1, 2]},
                "name": "Bo",
                "sm": "sm",
                "greet": "hi Bo",
                "nested": {"orig": true},
                "list": [{"n": "Bo"}, 3]
            })
        );
    }

    #[test]
    fn static_templates_stay_static() {
        let t = Template::compile(&json!({"a": [1, {"b": 2}]}), "/P").unwrap();
        assert!(matches!(t, Template::Static(_)));
    }

    #[test]
    fn missing_path_is_runtime_error() {
        let e = exec();
        let ctx = Ctx::new(&e, "S", OffsetDateTime::UNIX_EPOCH);
        let t = Template::compile(&json!({"x.$": "$.foo"}), "/P").unwrap();
        let err = t.eval(&json!({}), &ctx).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert_eq!(
            err.cause,
            "The JSONPath '$.foo' specified for the field 'x.$' could not be found in the input '{}'"
        );
    }

    #[test]
    fn compile_errors_name_the_location() {
        let (at, msg) =
            Template::compile(&json!({"a": {"x.$": 5}}), "/States/S/Parameters").unwrap_err();
        assert_eq!(at, "/States/S/Parameters/a/x.$");
        assert!(msg.contains("must be a string"));
        let (at, _) = Template::compile(&json!({"x.$": "nope"}), "/P").unwrap_err();
        assert_eq!(at, "/P/x.$");
        assert!(Template::compile(&json!({"x.$": "States.Bad()"}), "/P").is_err());
        let (at, msg) = Template::compile(&json!({"c": {"x.$": "$.a", "x": 1}}), "/P").unwrap_err();
        assert_eq!(at, "/P/c/x.$");
        assert!(msg.contains("both set"), "{msg}");
    }
}
