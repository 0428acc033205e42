//! Choice rules: comparison operators, `And`/`Or`/`Not`, compiled once and evaluated against the
//! state's effective input.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;

use super::context::{Ctx, parse_timestamp};
use super::definition::Target;
use super::fields::{Fields, kind, schema};
use super::path::Path;
use super::variables::Assign;
use super::{DefinitionError, ErrorCause};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Op {
    fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Eq => o == Ordering::Equal,
            Op::Lt => o == Ordering::Less,
            Op::Gt => o == Ordering::Greater,
            Op::Le => o != Ordering::Greater,
            Op::Ge => o != Ordering::Less,
        }
    }
}

/// The right-hand side of a comparison: a literal or a path.
#[derive(Clone, Debug)]
enum Operand<T> {
    Lit(T),
    Path(Path),
}

/// One piece of a `StringMatches` pattern.
#[derive(Clone, Debug, PartialEq)]
enum Pat {
    Char(char),
    Star,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TypeTest {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

#[derive(Clone, Debug)]
enum Test {
    Str(Op, Operand<String>),
    Num(Op, Operand<f64>),
    Bool(Operand<bool>),
    Ts(Op, Operand<OffsetDateTime>),
    Matches(Vec<Pat>),
    Is(TypeTest, bool),
}

/// A (possibly nested) choice rule.
#[derive(Clone, Debug)]
enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Cmp { var: Path, test: Test },
}

/// A Choice state's body.
#[derive(Clone, Debug)]
pub(crate) struct Choice {
    choices: Vec<(Rule, Target)>,
    /// Each top-level rule's `Assign`, by the rule's index.
    assigns: Vec<Option<Assign>>,
    default: Option<Target>,
}

const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringEqualsPath",
    "StringLessThan",
    "StringLessThanPath",
    "StringGreaterThan",
    "StringGreaterThanPath",
    "StringLessThanEquals",
    "StringLessThanEqualsPath",
    "StringGreaterThanEquals",
    "StringGreaterThanEqualsPath",
    "StringMatches",
    "NumericEquals",
    "NumericEqualsPath",
    "NumericLessThan",
    "NumericLessThanPath",
    "NumericGreaterThan",
    "NumericGreaterThanPath",
    "NumericLessThanEquals",
    "NumericLessThanEqualsPath",
    "NumericGreaterThanEquals",
    "NumericGreaterThanEqualsPath",
    "BooleanEquals",
    "BooleanEqualsPath",
    "TimestampEquals",
    "TimestampEqualsPath",
    "TimestampLessThan",
    "TimestampLessThanPath",
    "TimestampGreaterThan",
    "TimestampGreaterThanPath",
    "TimestampLessThanEquals",
    "TimestampLessThanEqualsPath",
    "TimestampGreaterThanEquals",
    "TimestampGreaterThanEqualsPath",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

/// Parses a Choice state's `Choices` and `Default`.
pub(crate) fn parse(state: &Fields<'_>) -> Result<Choice, DefinitionError> {
    let at = state.at("Choices");
    let list = match state.get("Choices") {
        None => {
            return Err(schema(
                state.at.clone(),
                "these fields are required: [Choices]",
            ));
        }
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(other) => {
            return Err(schema(
                at,
                format!(
                    "'Choices' must be a non-empty array of rules, found {}",
                    kind(other)
                ),
            ));
        }
    };
    let mut choices = Vec::with_capacity(list.len());
    let mut assigns = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let f = Fields::new(v, format!("{at}/{i}"))?;
        let next = Target::new(f.req_str("Next")?, f.at("Next"));
        choices.push((parse_rule(&f, true)?, next));
        assigns.push(Assign::parse(&f, false)?);
    }
    let default = state
        .str("Default")?
        .map(|d| Target::new(d, state.at("Default")));
    Ok(Choice {
        choices,
        assigns,
        default,
    })
}

fn parse_rule(f: &Fields<'_>, top: bool) -> Result<Rule, DefinitionError> {
    let mut allowed: Vec<&str> = vec!["Variable", "And", "Or", "Not", "Comment"];
    if top {
        allowed.extend(["Next", "Assign"]);
    }
    allowed.extend_from_slice(OPERATORS);
    f.only(&allowed)?;
    let shapes = ["And", "Or", "Not", "Variable"]
        .iter()
        .filter(|k| f.has(k))
        .count();
    if shapes > 1 {
        return Err(schema(
            f.at.clone(),
            "a choice rule is either 'Variable' with one comparison operator, or one of And, Or, Not",
        ));
    }
    for (key, and) in [("And", true), ("Or", false)] {
        if let Some(v) = f.get(key) {
            let at = f.at(key);
            let Value::Array(list) = v else {
                return Err(schema(
                    at,
                    format!(
                        "'{key}' must be a non-empty array of rules, found {}",
                        kind(v)
                    ),
                ));
            };
            if list.is_empty() {
                return Err(schema(
                    at,
                    format!("'{key}' must be a non-empty array of rules"),
                ));
            }
            let rules = list
                .iter()
                .enumerate()
                .map(|(i, r)| parse_rule(&Fields::new(r, format!("{at}/{i}"))?, false))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(if and {
                Rule::And(rules)
            } else {
                Rule::Or(rules)
            });
        }
    }
    if let Some(v) = f.get("Not") {
        return Ok(Rule::Not(Box::new(parse_rule(
            &Fields::new(v, f.at("Not"))?,
            false,
        )?)));
    }
    let var = match f.get("Variable") {
        Some(Value::String(s)) => Path::parse_reference(s).map_err(|e| {
            schema(
                f.at("Variable"),
                format!("the value for the field 'Variable' must be a valid reference path: {e}"),
            )
        })?,
        Some(other) => {
            return Err(schema(
                f.at("Variable"),
                format!("'Variable' must be a string, found {}", kind(other)),
            ));
        }
        None => {
            return Err(schema(
                f.at.clone(),
                "a choice rule needs 'Variable' and one comparison operator, or And, Or or Not",
            ));
        }
    };
    let ops: Vec<&String> = f
        .obj
        .keys()
        .filter(|k| OPERATORS.contains(&k.as_str()))
        .collect();
    let [op] = ops.as_slice() else {
        return Err(schema(
            f.at.clone(),
            format!(
                "a choice rule needs exactly one comparison operator, found {}",
                ops.len()
            ),
        ));
    };
    let value = &f.obj[op.as_str()];
    let at = f.at(op);
    let test = parse_test(op, value, &at)?;
    Ok(Rule::Cmp { var, test })
}

fn parse_test(op: &str, value: &Value, at: &str) -> Result<Test, DefinitionError> {
    let bad = |what: &str| schema(at, format!("'{op}' must be {what}, found {}", kind(value)));
    if let Some(base) = op.strip_suffix("Path")
        && !base.starts_with("Is")
    {
        let Value::String(s) = value else {
            return Err(bad("a string holding a path"));
        };
        let p = Path::parse_reference(s).map_err(|e| {
            schema(
                at,
                format!("the value for the field '{op}' must be a valid reference path: {e}"),
            )
        })?;
        return Ok(match split_op(base) {
            ("String", o) => Test::Str(o, Operand::Path(p)),
            ("Numeric", o) => Test::Num(o, Operand::Path(p)),
            ("Boolean", _) => Test::Bool(Operand::Path(p)),
            (_, o) => Test::Ts(o, Operand::Path(p)),
        });
    }
    if let Some(t) = op.strip_prefix("Is") {
        let Value::Bool(b) = value else {
            return Err(bad("a boolean"));
        };
        let tt = match t {
            "Null" => TypeTest::Null,
            "Present" => TypeTest::Present,
            "Numeric" => TypeTest::Numeric,
            "String" => TypeTest::String,
            "Boolean" => TypeTest::Boolean,
            _ => TypeTest::Timestamp,
        };
        return Ok(Test::Is(tt, *b));
    }
    if op == "StringMatches" {
        let Value::String(s) = value else {
            return Err(bad("a string"));
        };
        return Ok(Test::Matches(pattern(s)));
    }
    Ok(match split_op(op) {
        ("String", o) => Test::Str(
            o,
            Operand::Lit(value.as_str().ok_or_else(|| bad("a string"))?.to_owned()),
        ),
        ("Numeric", o) => Test::Num(
            o,
            Operand::Lit(value.as_f64().ok_or_else(|| bad("a number"))?),
        ),
        ("Boolean", _) => Test::Bool(Operand::Lit(
            value.as_bool().ok_or_else(|| bad("a boolean"))?,
        )),
        (_, o) => {
            let s = value
                .as_str()
                .ok_or_else(|| bad("an RFC 3339 timestamp string"))?;
            let t = parse_timestamp(s).ok_or_else(|| {
                schema(
                    at,
                    format!("'{op}' must be an RFC 3339 timestamp, found '{s}'"),
                )
            })?;
            Test::Ts(o, Operand::Lit(t))
        }
    })
}

fn split_op(op: &str) -> (&str, Op) {
    for family in ["String", "Numeric", "Boolean", "Timestamp"] {
        if let Some(rest) = op.strip_prefix(family) {
            let o = match rest {
                "Equals" => Op::Eq,
                "LessThan" => Op::Lt,
                "GreaterThan" => Op::Gt,
                "LessThanEquals" => Op::Le,
                _ => Op::Ge,
            };
            return (family, o);
        }
    }
    ("Timestamp", Op::Eq)
}

fn pattern(s: &str) -> Vec<Pat> {
    let mut out = Vec::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) => out.push(Pat::Char(e)),
                None => out.push(Pat::Char('\\')),
            },
            '*' => out.push(Pat::Star),
            c => out.push(Pat::Char(c)),
        }
    }
    out
}

/// Wildcard match with backtracking to the last star.
fn wildcard(pat: &[Pat], s: &str) -> bool {
    let text: Vec<char> = s.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(Pat::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            Some(Pat::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|x| *x == Pat::Star)
}

fn invalid(path: &Path) -> ErrorCause {
    ErrorCause::new(
        "States.Runtime",
        format!(
            "Invalid path '{}': The choice state's condition path references an invalid value.",
            path.text()
        ),
    )
}

fn operand<'v, T>(
    o: &'v Operand<T>,
    input: &'v Value,
    ctx: &'v Ctx<'_>,
    convert: impl Fn(&Value) -> Option<T>,
) -> Result<Option<std::borrow::Cow<'v, T>>, ErrorCause>
where
    T: Clone,
{
    match o {
        Operand::Lit(v) => Ok(Some(std::borrow::Cow::Borrowed(v))),
        Operand::Path(p) => {
            let v = ctx.resolve(p, input).ok_or_else(|| invalid(p))?;
            Ok(convert(&v).map(std::borrow::Cow::Owned))
        }
    }
}

impl Rule {
    /// Whether the rule holds for `input`.
    pub(crate) fn eval(&self, input: &Value, ctx: &Ctx<'_>) -> Result<bool, ErrorCause> {
        match self {
            Rule::And(rules) => {
                for r in rules {
                    if !r.eval(input, ctx)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for r in rules {
                    if r.eval(input, ctx)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(r) => Ok(!r.eval(input, ctx)?),
            Rule::Cmp { var, test } => {
                let value = ctx.resolve(var, input);
                if let Test::Is(TypeTest::Present, want) = test {
                    return Ok(value.is_some() == *want);
                }
                let value = value.ok_or_else(|| invalid(var))?;
                let v: &Value = &value;
                Ok(match test {
                    Test::Is(tt, want) => {
                        let is = match tt {
                            TypeTest::Null => v.is_null(),
                            TypeTest::Numeric => v.is_number(),
                            TypeTest::String => v.is_string(),
                            TypeTest::Boolean => v.is_boolean(),
                            TypeTest::Timestamp => v.as_str().and_then(parse_timestamp).is_some(),
                            TypeTest::Present => true,
                        };
                        is == *want
                    }
                    Test::Str(op, o) => {
                        let rhs = operand(o, input, ctx, |x| x.as_str().map(str::to_owned))?;
                        match (v.as_str(), rhs) {
                            (Some(a), Some(b)) => op.holds(a.cmp(b.as_str())),
                            _ => false,
                        }
                    }
                    Test::Num(op, o) => {
                        let rhs = operand(o, input, ctx, Value::as_f64)?;
                        match (v.as_f64(), rhs) {
                            (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(|o| op.holds(o)),
                            _ => false,
                        }
                    }
                    Test::Bool(o) => {
                        let rhs = operand(o, input, ctx, Value::as_bool)?;
                        matches!((v.as_bool(), rhs), (Some(a), Some(b)) if a == *b)
                    }
                    Test::Ts(op, o) => {
                        let rhs = operand(o, input, ctx, |x| x.as_str().and_then(parse_timestamp))?;
                        match (v.as_str().and_then(parse_timestamp), rhs) {
                            (Some(a), Some(b)) => op.holds(a.cmp(&b)),
                            _ => false,
                        }
                    }
                    Test::Matches(pat) => v.as_str().is_some_and(|s| wildcard(pat, s)),
                })
            }
        }
    }
}

impl Choice {
    /// Every transition target, with its location.
    pub(crate) fn targets_mut(&mut self) -> impl Iterator<Item = &mut Target> {
        self.choices
            .iter_mut()
            .map(|(_, t)| t)
            .chain(self.default.as_mut())
    }

    /// The index of the first rule that holds, with that rule's `Assign`, else the default (no
    /// rule `Assign`); `None` when neither.
    pub(crate) fn select(
        &self,
        input: &Value,
        ctx: &Ctx<'_>,
    ) -> Result<Option<(usize, Option<&Assign>)>, ErrorCause> {
        for ((rule, next), assign) in self.choices.iter().zip(&self.assigns) {
            if rule.eval(input, ctx)? {
                return Ok(Some((next.idx, assign.as_ref())));
            }
        }
        Ok(self.default.as_ref().map(|d| (d.idx, None)))
    }

    /// The `Assign`s of its rules.
    pub(crate) fn rule_assigns(&self) -> impl Iterator<Item = &Assign> {
        self.assigns.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::ExecutionInfo;
    use crate::asl::context::ExecCtx;
    use serde_json::json;

    fn holds(rule: Value, input: Value) -> Result<bool, ErrorCause> {
        let exec = ExecCtx::new(
            ExecutionInfo {
                id: String::new(),
                name: String::new(),
                start_time: OffsetDateTime::UNIX_EPOCH,
                role_arn: String::new(),
                state_machine_id: String::new(),
                state_machine_name: String::new(),
            },
            Value::Null,
        );
        let ctx = Ctx::new(&exec, "C", OffsetDateTime::UNIX_EPOCH);
        let r = parse_rule(&Fields::new(&rule, "/r").unwrap(), false).unwrap();
        r.eval(&input, &ctx)
    }

    #[test]
    fn string_operators() {
        let i = json!({"s": "b", "o": "c"});
        assert!(holds(json!({"Variable": "$.s", "StringEquals": "b"}), i.clone()).unwrap());
        assert!(holds(json!({"Variable": "$.s", "StringLessThan": "c"}), i.clone()).unwrap());
        assert!(
            !holds(
                json!({"Variable": "$.s", "StringGreaterThan": "c"}),
                i.clone()
            )
            .unwrap()
        );
        assert!(
            holds(
                json!({"Variable": "$.s", "StringLessThanEquals": "b"}),
                i.clone()
            )
            .unwrap()
        );
        assert!(
            holds(
                json!({"Variable": "$.s", "StringGreaterThanEquals": "a"}),
                i.clone()
            )
            .unwrap()
        );
        assert!(
            holds(
                json!({"Variable": "$.s", "StringLessThanPath": "$.o"}),
                i.clone()
            )
            .unwrap()
        );
        assert!(
            !holds(
                json!({"Variable": "$.s", "StringEqualsPath": "$.o"}),
                i.clone()
            )
            .unwrap()
        );
        // a number is not a string: the comparison is false, not an error
        assert!(
            !holds(
                json!({"Variable": "$.n", "StringEquals": "1"}),
                json!({"n": 1})
            )
            .unwrap()
        );
    }

    #[test]
    fn numeric_boolean_timestamp_operators() {
        let i = json!({"n": 5, "m": 5.0, "b": true, "t": "2020-01-01T00:00:00Z", "u": "2021-01-01T00:00:00Z"});
        assert!(holds(json!({"Variable": "$.n", "NumericEquals": 5}), i.clone()).unwrap());
        assert!(
            holds(
                json!({"Variable": "$.n", "NumericEqualsPath": "$.m"}),
                i.clone()
            )
            .unwrap()
        );
        assert!(
            holds(
                json!({"Variable": "$.n", "NumericLessThan": 5.5}),
                i.clone()
            )
            .unwrap()
        );
        assert!(
            !holds(
                json!({"Variable": "$.n", "NumericGreaterThan": 5}),
                i.clone()
            )
            .unwrap()
        );
        assert!(
            holds(
                json!({"Variable": "$.n", "NumericGreaterThanEquals": 5}),
                i.clone()
            )
            .unwrap()
        );
        assert!(
            holds(
                json!({"Variable": "$.n", "NumericLessThanEqualsPath": "$.m"}),
                i.clone()
            )
            .unwrap()
        );
        assert!(holds(json!({"Variable": "$.b", "BooleanEquals": true}), i.clone()).unwrap());
        assert!(
            holds(
                json!({"Variable": "$.b", "BooleanEqualsPath": "$.b"}),
                i.clone()
            )
            .unwrap()
        );
        assert!(
            holds(
                json!({"Variable": "$.t", "TimestampLessThanPath": "$.u"}),
                i.clone()
            )
            .unwrap()
        );
        assert!(
            holds(
                json!({"Variable": "$.t", "TimestampEquals": "2020-01-01T01:00:00+01:00"}),
                i.clone()
            )
            .unwrap()
        );
        assert!(
            holds(
                json!({"Variable": "$.u", "TimestampGreaterThan": "2020-06-01T00:00:00Z"}),
                i.clone()
            )
            .unwrap()
        );
        assert!(
            !holds(
                json!({"Variable": "$.b", "TimestampEquals": "2020-01-01T00:00:00Z"}),
                i
            )
            .unwrap()
        );
    }

    #[test]
    fn string_matches_wildcards_and_escapes() {
        let m = |p: &str, s: &str| {
            holds(json!({"Variable": "$", "StringMatches": p}), json!(s)).unwrap()
        };
        assert!(m("log-*.txt", "log-2020.txt"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("*.log", "x.log.log"));
    }

    #[test]
    fn type_tests_and_presence() {
        let i = json!({"z": null, "n": 1, "s": "x", "b": false, "t": "2020-01-01T00:00:00Z"});
        assert!(holds(json!({"Variable": "$.z", "IsNull": true}), i.clone()).unwrap());
        assert!(holds(json!({"Variable": "$.n", "IsNumeric": true}), i.clone()).unwrap());
        assert!(holds(json!({"Variable": "$.s", "IsString": true}), i.clone()).unwrap());
        assert!(holds(json!({"Variable": "$.b", "IsBoolean": true}), i.clone()).unwrap());
        assert!(holds(json!({"Variable": "$.t", "IsTimestamp": true}), i.clone()).unwrap());
        assert!(holds(json!({"Variable": "$.s", "IsTimestamp": false}), i.clone()).unwrap());
        assert!(
            holds(
                json!({"Variable": "$.missing", "IsPresent": false}),
                i.clone()
            )
            .unwrap()
        );
        assert!(
            !holds(
                json!({"Variable": "$.missing", "IsPresent": true}),
                i.clone()
            )
            .unwrap()
        );
        let err = holds(json!({"Variable": "$.missing", "IsNull": true}), i).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
    }

    #[test]
    fn and_or_not() {
        let i = json!({"n": 3});
        let gt1 = json!({"Variable": "$.n", "NumericGreaterThan": 1});
        let gt5 = json!({"Variable": "$.n", "NumericGreaterThan": 5});
        assert!(holds(json!({"And": [gt1, {"Not": gt5}]}), i.clone()).unwrap());
        assert!(!holds(json!({"And": [gt1, gt5]}), i.clone()).unwrap());
        assert!(holds(json!({"Or": [gt5, gt1]}), i.clone()).unwrap());
        assert!(!holds(json!({"Not": gt1}), i).unwrap());
    }

    #[test]
    fn malformed_rules_are_rejected_with_paths() {
        let bad = |rule: Value| parse_rule(&Fields::new(&rule, "/r").unwrap(), false).unwrap_err();
        assert_eq!(bad(json!({"Variable": "$.a"})).path, "/r");
        assert_eq!(
            bad(json!({"Variable": "$.a", "StringEquals": 1})).path,
            "/r/StringEquals"
        );
        assert_eq!(
            bad(json!({"Variable": "$.a", "NumericEquals": "1"})).path,
            "/r/NumericEquals"
        );
        assert_eq!(
            bad(json!({"Variable": "$.a", "TimestampEquals": "nope"})).path,
            "/r/TimestampEquals"
        );
        assert_eq!(
            bad(json!({"Variable": "$.a", "IsNull": "yes"})).path,
            "/r/IsNull"
        );
        assert_eq!(
            bad(json!({"Variable": "a", "IsNull": true})).path,
            "/r/Variable"
        );
        let intrinsic = json!({"Variable": "States.ArrayLength($.a)", "NumericEquals": 1});
        assert_eq!(bad(intrinsic).path, "/r/Variable");
        assert_eq!(
            bad(json!({"Variable": "$.a[*]", "IsNull": true})).path,
            "/r/Variable"
        );
        let wild = json!({"Variable": "$.a", "NumericEqualsPath": "$.b[*]"});
        assert_eq!(bad(wild).path, "/r/NumericEqualsPath");
        assert_eq!(
            bad(json!({"Variable": "$.a", "StringEquals": "x", "IsNull": true})).path,
            "/r"
        );
        assert_eq!(bad(json!({"Variable": "$.a", "Foo": 1})).path, "/r/Foo");
        assert_eq!(bad(json!({"And": []})).path, "/r/And");
        let and_var = json!({"Variable": "$.a", "And": [{"Variable": "$.a", "IsNull": true}]});
        assert_eq!(bad(and_var).path, "/r");
        // Next is only allowed at the top level
        assert_eq!(
            bad(json!({"Variable": "$.a", "IsNull": true, "Next": "X"})).path,
            "/r/Next"
        );
    }
}
