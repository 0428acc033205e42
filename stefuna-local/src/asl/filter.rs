//! JSONPath filter expressions (`[?(@.price < 10 && @.kind == 'book')]`), the subset people use
//! in state machines: comparisons of `@`-relative paths with literals or other `@` paths,
//! existence tests, `!`, `&&`, `||` and parentheses.

use std::cmp::Ordering;

use serde_json::Value;

use super::path::Path;

/// A compiled filter expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Filter {
    Or(Vec<Filter>),
    And(Vec<Filter>),
    Not(Box<Filter>),
    Exists(Path),
    Cmp(Operand, CmpOp, Operand),
}

/// One side of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Operand {
    Rel(Path),
    Lit(Value),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Parses the text between `[?(` and `)]`.
pub(crate) fn parse(text: &str) -> Result<Filter, String> {
    let mut p = Parser { s: text, i: 0 };
    let f = p.or()?;
    p.ws();
    if p.i != text.len() {
        return Err(format!(
            "unexpected '{}' in filter expression",
            &text[p.i..]
        ));
    }
    Ok(f)
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s[self.i..].starts_with(|c: char| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, tok: &str) -> bool {
        self.ws();
        if self.s[self.i..].starts_with(tok) {
            self.i += tok.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut parts = vec![self.and()?];
        while self.eat("||") {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one")
        } else {
            Filter::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut parts = vec![self.unary()?];
        while self.eat("&&") {
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one")
        } else {
            Filter::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.eat("!") {
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let f = self.or()?;
            if !self.eat(")") {
                return Err("missing ')' in filter expression".into());
            }
            return Ok(f);
        }
        let left = self.operand()?;
        self.ws();
        let op = [
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
        ]
        .into_iter()
        .find(|(t, _)| self.s[self.i..].starts_with(t));
        let Some((tok, op)) = op else {
            let rest = self.s[self.i..].trim_start();
            if rest.is_empty()
                || rest.starts_with("&&")
                || rest.starts_with("||")
                || rest.starts_with(')')
            {
                return match left {
                    Operand::Rel(p) => Ok(Filter::Exists(p)),
                    Operand::Lit(v) => Err(format!("a filter cannot test the literal {v} alone")),
                };
            }
            return Err(format!(
                "unsupported filter operator at '{rest}'; accepted: == != < <= > >="
            ));
        };
        self.i += tok.len();
        let right = self.operand()?;
        Ok(Filter::Cmp(left, op, right))
    }

    fn operand(&mut self) -> Result<Operand, String> {
        self.ws();
        let rest = &self.s[self.i..];
        if let Some(after) = rest.strip_prefix('@') {
            let len = path_len(after);
            self.i += 1 + len;
            return Path::parse(&format!("${}", &after[..len])).map(Operand::Rel);
        }
        if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
            let mut out = String::new();
            let mut chars = rest[1..].char_indices();
            while let Some((at, c)) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next().map(|(_, e)| e)),
                    c if c == q => {
                        self.i += 1 + at + 1;
                        return Ok(Operand::Lit(Value::String(out)));
                    }
                    c => out.push(c),
                }
            }
            return Err("unterminated string in filter expression".into());
        }
        let len = rest
            .find(|c: char| c.is_ascii_whitespace() || "=!<>&|)".contains(c))
            .unwrap_or(rest.len());
        let word = &rest[..len];
        if word.is_empty() {
            return Err("missing operand in filter expression".into());
        }
        self.i += len;
        Ok(Operand::Lit(match word {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            w => match serde_json::from_str::<serde_json::Number>(w) {
                Ok(n) => Value::Number(n),
                // Jayway reads a bare word as a string.
                Err(_) => Value::String(w.to_owned()),
            },
        }))
    }
}

/// The length of the path after `@`: up to an operator or whitespace outside brackets.
fn path_len(s: &str) -> usize {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => depth = depth.saturating_sub(1),
            (None, c) if depth == 0 && (c.is_ascii_whitespace() || "=!<>&|)".contains(c)) => {
                return i;
            }
            _ => {}
        }
    }
    s.len()
}

impl Filter {
    /// Whether `node` passes the filter.
    pub(crate) fn matches(&self, node: &Value) -> bool {
        match self {
            Filter::Or(parts) => parts.iter().any(|f| f.matches(node)),
            Filter::And(parts) => parts.iter().all(|f| f.matches(node)),
            Filter::Not(f) => !f.matches(node),
            Filter::Exists(p) => p.select(node).is_some(),
            Filter::Cmp(l, op, r) => {
                let (Some(a), Some(b)) = (l.value(node), r.value(node)) else {
                    return *op == CmpOp::Ne;
                };
                let ord = match (a.as_ref(), b.as_ref()) {
                    (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()),
                    (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
                    (x, y) if x == y => Some(Ordering::Equal),
                    _ => None,
                };
                match op {
                    CmpOp::Eq => ord == Some(Ordering::Equal),
                    CmpOp::Ne => ord != Some(Ordering::Equal),
                    CmpOp::Lt => ord == Some(Ordering::Less),
                    CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                    CmpOp::Gt => ord == Some(Ordering::Greater),
                    CmpOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                }
            }
        }
    }
}

impl Operand {
    fn value<'v>(&'v self, node: &'v Value) -> Option<std::borrow::Cow<'v, Value>> {
        match self {
            Operand::Rel(p) => p.select(node),
            Operand::Lit(v) => Some(std::borrow::Cow::Borrowed(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(expr: &str, v: Value) -> bool {
        parse(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
            .matches(&v)
    }

    #[test]
    fn comparisons_with_literals_and_paths() {
        let v = json!({"price": 8, "max": 10, "kind": "book", "tags": {"a": true}});
        assert!(m("@.price < 10", v.clone()));
        assert!(m("@.price <= 8", v.clone()));
        assert!(!m("@.price > 8", v.clone()));
        assert!(m("@.price >= 8", v.clone()));
        assert!(m("@.price < @.max", v.clone()));
        assert!(m("@.kind == 'book'", v.clone()));
        assert!(m("@.kind == \"book\"", v.clone()));
        assert!(m("@.kind == book", v.clone()));
        assert!(m("@.kind != 'pen'", v.clone()));
        assert!(m("@['tags'].a == true", v.clone()));
        assert!(!m("@.missing == 1", v.clone()));
        assert!(m("@.missing != 1", v));
    }

    #[test]
    fn existence_and_boolean_logic() {
        let v = json!({"a": 1, "b": null});
        assert!(m("@.a", v.clone()));
        assert!(m("@.b", v.clone()));
        assert!(!m("@.c", v.clone()));
        assert!(m("@.a && !@.c", v.clone()));
        assert!(m("@.c || @.a == 1", v.clone()));
        assert!(!m("(@.c || @.a == 2) && @.a", v));
    }

    #[test]
    fn unsupported_operators_are_rejected() {
        assert!(parse("@.a =~ /x/").is_err());
        assert!(parse("@.a in ['x']").is_err());
        assert!(parse("'x'").is_err());
        assert!(parse("@.a == 'x").is_err());
    }
}
