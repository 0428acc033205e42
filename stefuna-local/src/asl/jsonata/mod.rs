//! JSONata (`"QueryLanguage": "JSONata"`): `{% %}` expressions in `Arguments`, `Output`,
//! `Assign`, Choice `Condition`, Map `Items` and the other fields AWS lets take one, evaluated
//! with `$states` (`input`, `result`, `errorOutput`, `context`) and the workflow variables bound.
//!
//! The engine is the `jsonata-core` crate: of the Rust JSONata crates it is the maintained one
//! with JSONata 2.x's whole function library (`$formatNumber`, `$toMillis`, `$type`, `$sift`,
//! `$parseInteger`, ... where `jsonata-rs` still lacks many), its host functions are closures,
//! and a parsed expression is kept in the definition and evaluated many times. AWS's own
//! functions (`$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`) are in
//! `functions`. Any failure, an unknown function included, is a `States.QueryEvaluationError`
//! naming the expression and the field; never a panic.
//!
//! AWS: <https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html>

mod functions;
pub(crate) mod parse;
pub(crate) mod run;

use std::cell::RefCell;

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorOptions};
use jsonata_core::value::JValue;
use serde_json::{Map, Value, json};

use super::context::Ctx;
use super::fields::schema;
use super::{DefinitionError, ErrorCause};

/// The error of a failed JSONata evaluation.
pub(crate) const QUERY_ERROR: &str = "States.QueryEvaluationError";

/// The body of a `{% ... %}` string, if it is one.
pub(crate) fn body(s: &str) -> Option<&str> {
    s.strip_prefix("{%")?.strip_suffix("%}")
}

/// A parsed JSONata expression.
#[derive(Clone, Debug)]
pub(crate) struct Expr {
    text: String,
    ast: AstNode,
}

impl Expr {
    /// Parses the body of a `{% %}` string; `at` locates it for the error.
    pub(crate) fn parse(text: &str, at: &str) -> Result<Expr, DefinitionError> {
        let ast = jsonata_core::parser::parse(text).map_err(|e| {
            schema(
                at,
                format!("the JSONata expression '{}' is not valid: {e}", text.trim()),
            )
        })?;
        Ok(Expr {
            text: text.trim().to_owned(),
            ast,
        })
    }

    /// Evaluates the expression; `field` names it in errors.
    pub(crate) fn eval(&self, env: &Env<'_>, field: &str) -> Result<Value, ErrorCause> {
        let fail = |msg: String| {
            ErrorCause::new(
                QUERY_ERROR,
                format!(
                    "The JSONata expression '{}' specified for the field '{field}' {msg}",
                    self.text
                ),
            )
        };
        let out = env
            .with_evaluator(|ev| ev.evaluate(&self.ast, &JValue::Undefined))
            .map_err(|e| fail(format!("could not be evaluated: {e}")))?;
        if out.is_undefined() {
            return Err(fail(
                "returned nothing (undefined), which is not JSON".into(),
            ));
        }
        if out.is_function() || out.is_regex() {
            return Err(fail("returned a function, which is not JSON".into()));
        }
        serde_json::to_value(&out)
            .map_err(|e| fail(format!("returned a value that is not JSON: {e}")))
    }
}

/// A JSON value whose `{% %}` strings (at any depth) are JSONata expressions.
#[derive(Clone, Debug)]
pub(crate) enum JTemplate {
    /// A part without any expression.
    Static(Value),
    /// One expression.
    Expr(Expr),
    /// An object with at least one expression inside.
    Object(Vec<(String, JTemplate)>),
    /// An array with at least one expression inside.
    Array(Vec<JTemplate>),
}

impl JTemplate {
    /// Compiles a template; `at` locates it for errors.
    pub(crate) fn compile(v: &Value, at: &str) -> Result<JTemplate, DefinitionError> {
        Ok(match v {
            Value::String(s) => match body(s) {
                Some(b) => JTemplate::Expr(Expr::parse(b, at)?),
                None => JTemplate::Static(v.clone()),
            },
            Value::Object(obj) => {
                let parts = obj
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), JTemplate::compile(v, &format!("{at}/{k}"))?)))
                    .collect::<Result<Vec<_>, DefinitionError>>()?;
                if parts.iter().all(|(_, t)| matches!(t, JTemplate::Static(_))) {
                    JTemplate::Static(v.clone())
                } else {
                    JTemplate::Object(parts)
                }
            }
            Value::Array(items) => {
                let parts = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| JTemplate::compile(v, &format!("{at}/{i}")))
                    .collect::<Result<Vec<_>, _>>()?;
                if parts.iter().all(|t| matches!(t, JTemplate::Static(_))) {
                    JTemplate::Static(v.clone())
                } else {
                    JTemplate::Array(parts)
                }
            }
            other => JTemplate::Static(other.clone()),
        })
    }

    /// The keys of an object template (the names an `Assign` sets).
    pub(crate) fn keys(&self) -> Vec<String> {
        match self {
            JTemplate::Object(parts) => parts.iter().map(|(k, _)| k.clone()).collect(),
            JTemplate::Static(Value::Object(o)) => o.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Builds the value; `field` names the field in errors.
    pub(crate) fn eval(&self, env: &Env<'_>, field: &str) -> Result<Value, ErrorCause> {
        match self {
            JTemplate::Static(v) => Ok(v.clone()),
            JTemplate::Expr(e) => e.eval(env, field),
            JTemplate::Object(parts) => {
                let mut out = Map::new();
                for (k, t) in parts {
                    out.insert(k.clone(), t.eval(env, field)?);
                }
                Ok(Value::Object(out))
            }
            JTemplate::Array(parts) => parts
                .iter()
                .map(|t| t.eval(env, field))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        }
    }
}

/// What an evaluation sees: `$states` and the variables. The evaluator is built once, on the
/// first expression, and reused by the state's other expressions.
pub(crate) struct Env<'a> {
    ctx: &'a Ctx<'a>,
    input: &'a Value,
    result: Option<&'a Value>,
    error_output: Option<&'a Value>,
    evaluator: RefCell<Option<Evaluator>>,
}

impl<'a> Env<'a> {
    /// `$states.input` is `input`; `$states.context` comes from `ctx`.
    pub(crate) fn new(ctx: &'a Ctx<'a>, input: &'a Value) -> Self {
        Env {
            ctx,
            input,
            result: None,
            error_output: None,
            evaluator: RefCell::new(None),
        }
    }

    /// Adds `$states.result`.
    pub(crate) fn with_result(mut self, result: &'a Value) -> Self {
        self.result = Some(result);
        self
    }

    /// Adds `$states.errorOutput`.
    pub(crate) fn with_error_output(mut self, error_output: &'a Value) -> Self {
        self.error_output = Some(error_output);
        self
    }

    fn with_evaluator<T>(&self, f: impl FnOnce(&mut Evaluator) -> T) -> T {
        let mut slot = self.evaluator.borrow_mut();
        let ev = slot.get_or_insert_with(|| {
            let mut context = Context::new();
            let mut states = json!({"input": self.input, "context": self.ctx.value()});
            if let Some(r) = self.result {
                states["result"] = r.clone();
            }
            if let Some(e) = self.error_output {
                states["errorOutput"] = e.clone();
            }
            if let Some(frame) = self.ctx.vars {
                for (k, v) in frame.visible() {
                    context.bind(k, JValue::from(v));
                }
            }
            context.bind("states".into(), JValue::from(states));
            let mut ev = Evaluator::with_options(context, EvaluatorOptions::default());
            functions::register(&mut ev);
            ev
        });
        f(ev)
    }
}
