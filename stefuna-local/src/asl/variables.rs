//! Workflow variables (`Assign`), in both query languages, with AWS's scoping: an execution has
//! one top-level scope; each Parallel branch and each inline Map iteration runs in a scope of its
//! own whose states read the variables of the scopes around it but cannot assign them (a
//! definition that tries is refused when it is parsed). A Distributed Map's child executions
//! start with no variables, as on AWS.
//!
//! Assignments take effect when the state has finished: every expression of a state's `Assign`
//! (and its `Output`) sees the variables as they were when the state was entered.
//!
//! AWS: <https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html>

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value};

use super::DefinitionError;
use super::ErrorCause;
use super::context::Ctx;
use super::definition::{Kind, Machine};
use super::fields::{Fields, kind, schema};
use super::jsonata::{Env, JTemplate};
use super::template::Template;

/// AWS's limit on a variable name's length.
const MAX_NAME: usize = 80;

/// Splits `name...` into a variable name (letters, digits and `_`, not starting with a digit)
/// and the rest of the path; `None` when the text does not start with a name.
pub(crate) fn split_name(s: &str) -> (Option<&str>, &str) {
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(s.len(), |(i, _)| i);
    match s.as_bytes().first() {
        Some(b) if end > 0 && (b.is_ascii_alphabetic() || *b == b'_') => {
            (Some(&s[..end]), &s[end..])
        }
        _ => (None, s),
    }
}

/// One scope of variables: the execution's, or a Parallel branch's or Map iteration's.
#[derive(Debug, Default)]
pub(crate) struct Frame {
    vars: Mutex<HashMap<String, Value>>,
    parent: Option<Arc<Frame>>,
}

impl Frame {
    /// An execution's top-level scope.
    pub(crate) fn root() -> Arc<Frame> {
        Arc::new(Frame::default())
    }

    /// A scope inside `parent` (a Parallel branch or a Map iteration).
    pub(crate) fn child(parent: &Arc<Frame>) -> Arc<Frame> {
        Arc::new(Frame {
            vars: Mutex::default(),
            parent: Some(parent.clone()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Value>> {
        self.vars.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value of `name` in this scope or the nearest scope around it.
    pub(crate) fn get(&self, name: &str) -> Option<Value> {
        let mut f = Some(self);
        while let Some(frame) = f {
            if let Some(v) = frame.lock().get(name) {
                return Some(v.clone());
            }
            f = frame.parent.as_deref();
        }
        None
    }

    /// Every variable this scope sees, inner scopes winning.
    pub(crate) fn visible(&self) -> HashMap<String, Value> {
        let mut chain = vec![self];
        while let Some(p) = chain.last().and_then(|f| f.parent.as_deref()) {
            chain.push(p);
        }
        let mut out = HashMap::new();
        for f in chain.into_iter().rev() {
            out.extend(f.lock().iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }

    /// Sets the variables of this scope.
    pub(crate) fn assign(&self, values: Map<String, Value>) {
        self.lock().extend(values);
    }
}

/// A state's (or a Catch's, or a Choice rule's) `Assign`.
#[derive(Clone, Debug)]
pub(crate) enum Assign {
    /// JSONPath: `name.$` keys take a path or an intrinsic, evaluated on the state's result.
    JsonPath(Template),
    /// JSONata: `{% %}` strings are expressions over `$states` and the variables.
    Jsonata(JTemplate),
}

impl Assign {
    /// Parses `Assign` in `f`, if present.
    pub(crate) fn parse(f: &Fields<'_>, jsonata: bool) -> Result<Option<Assign>, DefinitionError> {
        let Some(v) = f.get("Assign") else {
            return Ok(None);
        };
        let at = f.at("Assign");
        let Value::Object(obj) = v else {
            return Err(schema(
                at,
                format!("'Assign' must be an object, found {}", kind(v)),
            ));
        };
        for k in obj.keys() {
            let name = if jsonata {
                k.as_str()
            } else {
                k.strip_suffix(".$").unwrap_or(k)
            };
            if !matches!(split_name(name), (Some(n), "") if n.len() <= MAX_NAME) || name == "states"
            {
                return Err(schema(
                    format!("{at}/{k}"),
                    format!(
                        "'{name}' is not a valid variable name: use letters, digits and '_' (not first a digit), at most {MAX_NAME} characters, and not 'states'"
                    ),
                ));
            }
        }
        Ok(Some(if jsonata {
            Assign::Jsonata(JTemplate::compile(v, &at)?)
        } else {
            Assign::JsonPath(Template::compile(v, &at).map_err(|(at, msg)| schema(at, msg))?)
        }))
    }

    /// The names it assigns.
    pub(crate) fn names(&self) -> Vec<String> {
        match self {
            Assign::JsonPath(Template::Object(parts)) => {
                parts.iter().map(|(k, _)| k.clone()).collect()
            }
            Assign::JsonPath(Template::Static(Value::Object(o))) => o.keys().cloned().collect(),
            Assign::Jsonata(t) => t.keys(),
            _ => Vec::new(),
        }
    }

    /// The values to assign. JSONPath reads `data` (the state's result, its effective input or
    /// the error output, depending on where the `Assign` is); JSONata reads `env`.
    pub(crate) fn eval(
        &self,
        data: &Value,
        env: &Env<'_>,
        ctx: &Ctx<'_>,
    ) -> Result<Map<String, Value>, ErrorCause> {
        let v = match self {
            Assign::JsonPath(t) => t.eval(data, ctx)?,
            Assign::Jsonata(t) => t.eval(env, "Assign")?,
        };
        Ok(match v {
            Value::Object(m) => m,
            _ => Map::new(),
        })
    }
}

/// The `Assign`s of a state: its own, its Catchers' and its Choice rules'.
fn assigns(kind: &Kind) -> Vec<&Assign> {
    let mut out = Vec::new();
    let catch = match kind {
        Kind::Task(t) => &t.results.catch[..],
        Kind::Parallel { results, .. } => &results.catch[..],
        Kind::Map(m) => &m.results.catch[..],
        Kind::Conditions(c) => {
            out.extend(c.rules.iter().filter_map(|r| r.assign.as_ref()));
            &[]
        }
        Kind::Choice(c) => {
            out.extend(c.rule_assigns());
            &[]
        }
        _ => &[],
    };
    out.extend(catch.iter().filter_map(|c| c.assign.as_ref()));
    out
}

/// Refuses a state inside a Parallel branch or an inline Map that assigns a variable also
/// assigned in a scope around it: inner states can read outer variables but not assign them.
pub(crate) fn check_scopes(m: &Machine, outer: &HashSet<String>) -> Result<(), DefinitionError> {
    let mut mine = HashSet::new();
    for st in &m.states {
        let own = st.assign.iter().chain(assigns(&st.kind));
        for name in own.flat_map(Assign::names) {
            if outer.contains(&name) {
                return Err(schema(
                    format!("/States/{}/Assign", st.name),
                    format!(
                        "the variable '{name}' belongs to an outer scope: states inside a Parallel or Map state can read it but not assign it"
                    ),
                ));
            }
            mine.insert(name);
        }
    }
    let all: HashSet<String> = outer.union(&mine).cloned().collect();
    for st in &m.states {
        match &st.kind {
            Kind::Parallel { branches, .. } => {
                for b in branches {
                    check_scopes(b, &all)?;
                }
            }
            // A Distributed Map's children are executions of their own, without our variables.
            Kind::Map(map) if map.distributed.is_none() => check_scopes(&map.processor, &all)?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_from_paths() {
        assert_eq!(split_name("x.a"), (Some("x"), ".a"));
        assert_eq!(split_name("_n1[0]"), (Some("_n1"), "[0]"));
        assert_eq!(split_name(".a"), (None, ".a"));
        assert_eq!(split_name("1x"), (None, "1x"));
        assert_eq!(split_name(""), (None, ""));
    }

    #[test]
    fn inner_scopes_read_outer_values_and_shadow_nothing_outside() {
        let root = Frame::root();
        root.assign(Map::from_iter([("a".to_owned(), Value::from(1))]));
        let inner = Frame::child(&root);
        inner.assign(Map::from_iter([("b".to_owned(), Value::from(2))]));
        assert_eq!(inner.get("a"), Some(Value::from(1)));
        assert_eq!(inner.visible().len(), 2);
        assert_eq!(root.get("b"), None);
    }
}
