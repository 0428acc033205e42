//! JSONPath as ASL uses it: `$`, `.field`, `['field']`, `[n]`, `[*]`/`.*` wildcards and
//! `[start:end]` slices, plus `$$` paths into the context object. Reference paths (ResultPath and
//! the `...Path` fields of Choice, Wait and Task) are the definite subset: fields and indexes.
//!
//! Paths are parsed once, when the definition is parsed; evaluating one walks the segments.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};

use super::filter::{self, Filter};

/// One step of a path.
#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Field(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>),
    Filter(Box<Filter>, String),
}

/// A parsed JSONPath.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Path {
    text: String,
    context: bool,
    /// `$name...`: the path reads the workflow variable `name`.
    var: Option<String>,
    segs: Vec<Seg>,
    definite: bool,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Path {
    /// Parses a JSONPath (`$...`, `$$...` for the context object, `$name...` for a variable).
    pub(crate) fn parse(text: &str) -> Result<Path, String> {
        let mut var = None;
        let (context, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            let (name, rest) = super::variables::split_name(rest);
            var = name.map(str::to_owned);
            (false, rest)
        } else {
            return Err(format!(
                "'{text}' is not a valid path: it must start with '$'"
            ));
        };
        let segs =
            parse_segments(rest).map_err(|e| format!("'{text}' is not a valid path: {e}"))?;
        let definite = segs
            .iter()
            .all(|s| matches!(s, Seg::Field(_) | Seg::Index(_)));
        Ok(Path {
            text: text.to_owned(),
            context,
            var,
            segs,
            definite,
        })
    }

    /// Parses a reference path: a path that selects a single node (no wildcards or slices).
    pub(crate) fn parse_reference(text: &str) -> Result<Path, String> {
        let p = Path::parse(text)?;
        if !p.definite {
            return Err(format!(
                "'{text}' is not a valid reference path: wildcards and slices are not allowed"
            ));
        }
        Ok(p)
    }

    /// The identity path `$`.
    pub(crate) fn root() -> Path {
        Path {
            text: "$".into(),
            context: false,
            var: None,
            segs: Vec::new(),
            definite: true,
        }
    }

    /// The path as written.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Whether the path reads the context object (`$$`).
    pub(crate) fn is_context(&self) -> bool {
        self.context
    }

    /// The variable the path reads (`$name...`), if it reads one.
    pub(crate) fn var(&self) -> Option<&str> {
        self.var.as_deref()
    }

    /// Whether the path is `$` itself.
    pub(crate) fn is_root(&self) -> bool {
        !self.context && self.var.is_none() && self.segs.is_empty()
    }

    /// The path in AWS's normalized bracket form, e.g. `$['foo'][0]`.
    pub(crate) fn normalized(&self) -> String {
        let mut s = String::from(if self.context { "$$" } else { "$" });
        if let Some(v) = &self.var {
            s.push_str(v);
        }
        for seg in &self.segs {
            match seg {
                Seg::Field(f) => {
                    s.push_str("['");
                    s.push_str(f);
                    s.push_str("']");
                }
                Seg::Index(i) => s.push_str(&format!("[{i}]")),
                Seg::Wildcard => s.push_str("[*]"),
                Seg::Filter(_, text) => {
                    s.push_str("[?(");
                    s.push_str(text);
                    s.push_str(")]");
                }
                Seg::Slice(a, b) => {
                    s.push('[');
                    if let Some(a) = a {
                        s.push_str(&a.to_string());
                    }
                    s.push(':');
                    if let Some(b) = b {
                        s.push_str(&b.to_string());
                    }
                    s.push(']');
                }
            }
        }
        s
    }

    /// The message AWS gives when a path selects nothing.
    pub(crate) fn no_results(&self) -> String {
        format!(
            "Invalid path '{}' : No results for path: {}",
            self.text,
            self.normalized()
        )
    }

    /// The message AWS gives when the path selects nothing in `root`: a property missing
    /// before the last step is named with the path up to it (recorded:
    /// `Invalid path '$.no.such.result.path' : Missing property in path $['no']`); otherwise
    /// [`Path::no_results`].
    pub(crate) fn no_results_in(&self, root: &Value) -> String {
        if self.definite {
            let mut cur = root;
            for (i, seg) in self.segs.iter().enumerate() {
                let next = match seg {
                    Seg::Field(f) => cur.as_object().and_then(|o| o.get(f)),
                    Seg::Index(n) => cur
                        .as_array()
                        .and_then(|a| resolve_index(*n, a.len()).map(|k| &a[k])),
                    _ => None,
                };
                match next {
                    Some(v) => cur = v,
                    None if i + 1 < self.segs.len() && cur.is_object() => {
                        let prefix = Path {
                            text: String::new(),
                            context: self.context,
                            var: self.var.clone(),
                            segs: self.segs[..=i].to_vec(),
                            definite: true,
                        };
                        return format!(
                            "Invalid path '{}' : Missing property in path {}",
                            self.text,
                            prefix.normalized()
                        );
                    }
                    None => break,
                }
            }
        }
        self.no_results()
    }

    /// AWS's message when a path of a payload field, `ErrorPath` or `CausePath` selects nothing
    /// in `data` (the state's input, or the context object for `$$` paths), which AWS prints as
    /// compact JSON.
    pub(crate) fn not_found(&self, field: &str, data: &Value) -> String {
        format!(
            "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
            self.text,
            serde_json::to_string(data).unwrap_or_default()
        )
    }

    /// Selects from `root`; `None` when a definite path selects nothing. Indefinite paths
    /// (wildcards, slices) give an array of what they matched.
    pub(crate) fn select<'a>(&self, root: &'a Value) -> Option<Cow<'a, Value>> {
        if self.definite {
            let mut cur = root;
            for seg in &self.segs {
                cur = match seg {
                    Seg::Field(f) => cur.as_object()?.get(f)?,
                    Seg::Index(i) => {
                        let arr = cur.as_array()?;
                        arr.get(resolve_index(*i, arr.len())?)?
                    }
                    Seg::Wildcard | Seg::Slice(..) | Seg::Filter(..) => {
                        unreachable!("definite path")
                    }
                };
            }
            return Some(Cow::Borrowed(cur));
        }
        let mut nodes: Vec<&Value> = vec![root];
        for seg in &self.segs {
            let mut next = Vec::new();
            for node in nodes {
                match seg {
                    Seg::Field(f) => next.extend(node.as_object().and_then(|o| o.get(f))),
                    Seg::Index(i) => {
                        if let Some(arr) = node.as_array() {
                            next.extend(resolve_index(*i, arr.len()).and_then(|i| arr.get(i)));
                        }
                    }
                    Seg::Wildcard => match node {
                        Value::Array(a) => next.extend(a.iter()),
                        Value::Object(o) => next.extend(o.values()),
                        _ => {}
                    },
                    Seg::Filter(f, _) => match node {
                        Value::Array(a) => next.extend(a.iter().filter(|x| f.matches(x))),
                        other if f.matches(other) => next.push(other),
                        _ => {}
                    },
                    Seg::Slice(a, b) => {
                        if let Some(arr) = node.as_array() {
                            let len = arr.len() as i64;
                            let clamp = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                            let start = a.map(clamp).unwrap_or(0);
                            let end = b.map(clamp).unwrap_or(len);
                            if start < end {
                                next.extend(arr[start as usize..end as usize].iter());
                            }
                        }
                    }
                }
            }
            nodes = next;
        }
        Some(Cow::Owned(Value::Array(
            nodes.into_iter().cloned().collect(),
        )))
    }

    /// Writes `value` at this reference path inside `target`, creating missing objects on the
    /// way. Fails when a step meets a value of the wrong kind.
    pub(crate) fn write(&self, target: &mut Value, value: Value) -> Result<(), String> {
        let mut cur = target;
        for seg in &self.segs {
            cur = match seg {
                Seg::Field(f) => {
                    let Value::Object(obj) = cur else {
                        return Err(format!("the value at '{f}' is not inside an object"));
                    };
                    obj.entry(f.clone())
                        .or_insert_with(|| Value::Object(Map::new()))
                }
                Seg::Index(i) => {
                    let Value::Array(arr) = cur else {
                        return Err(format!("index [{i}] is not applied to an array"));
                    };
                    let len = arr.len();
                    let idx = resolve_index(*i, len)
                        .filter(|&x| x < len)
                        .ok_or_else(|| format!("index [{i}] is out of bounds"))?;
                    &mut arr[idx]
                }
                Seg::Wildcard | Seg::Slice(..) | Seg::Filter(..) => {
                    return Err("not a reference path".into());
                }
            };
        }
        *cur = value;
        Ok(())
    }
}

fn resolve_index(i: i64, len: usize) -> Option<usize> {
    if i >= 0 {
        Some(i as usize)
    } else {
        let back = i.unsigned_abs() as usize;
        len.checked_sub(back)
    }
}

fn parse_segments(s: &str) -> Result<Vec<Seg>, String> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut segs = Vec::new();
    while i < b.len() {
        match b[i] {
            b'.' => {
                i += 1;
                if i < b.len() && b[i] == b'.' {
                    return Err("recursive descent '..' is not supported".into());
                }
                if i < b.len() && b[i] == b'*' {
                    segs.push(Seg::Wildcard);
                    i += 1;
                    continue;
                }
                if i < b.len() && b[i] == b'[' {
                    // `$.a.['b c']`: AWS's documented form of a bracketed name after a dot.
                    continue;
                }
                let start = i;
                while i < b.len() && b[i] != b'.' && b[i] != b'[' {
                    i += 1;
                }
                if start == i {
                    return Err("empty field name after '.'".into());
                }
                let name = &s[start..i];
                if name.contains([' ', ']', '\'', '"', '(', ')', '@', '?']) {
                    return Err(format!(
                        "invalid field name '{name}'; use ['...'] for such names"
                    ));
                }
                segs.push(Seg::Field(name.to_owned()));
            }
            b'[' => {
                i += 1;
                if i >= b.len() {
                    return Err("unclosed '['".into());
                }
                match b[i] {
                    b'?' => {
                        let (f, text, end) = parse_filter(s, i)?;
                        segs.push(Seg::Filter(Box::new(f), text));
                        i = end;
                    }
                    q @ (b'\'' | b'"') => {
                        i += 1;
                        let mut name = String::new();
                        loop {
                            let Some(&c) = b.get(i) else {
                                return Err("unclosed quoted field name".into());
                            };
                            if c == q {
                                i += 1;
                                break;
                            }
                            // A backslash escapes the closing quote only; before anything
                            // else it is part of the name, as AWS reads `$['Test\""Name"']`
                            // (recorded: test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONPATH]).
                            if c == b'\\' && b.get(i + 1) == Some(&q) {
                                i += 1;
                            }
                            let ch = s[i..].chars().next().expect("in bounds");
                            name.push(ch);
                            i += ch.len_utf8();
                        }
                        if b.get(i) != Some(&b']') {
                            return Err("expected ']' after quoted field name".into());
                        }
                        i += 1;
                        segs.push(Seg::Field(name));
                    }
                    _ => {
                        let start = i;
                        while i < b.len() && b[i] != b']' {
                            i += 1;
                        }
                        if i >= b.len() {
                            return Err("unclosed '['".into());
                        }
                        let inner = s[start..i].trim();
                        i += 1;
                        segs.push(parse_bracket(inner)?);
                    }
                }
            }
            _ => {
                return Err(format!(
                    "unexpected character '{}'",
                    &s[i..].chars().next().unwrap_or(' ')
                ));
            }
        }
    }
    Ok(segs)
}

/// Parses `?(...)]` starting at `start` (the `?`): the filter, its text and the index after `]`.
fn parse_filter(s: &str, start: usize) -> Result<(Filter, String, usize), String> {
    let rest = &s[start..];
    if !rest.starts_with("?(") {
        return Err("a filter must be written [?(...)]".into());
    }
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in rest.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    if !rest[i + 1..].starts_with(']') {
                        return Err("expected ']' after the filter's ')'".into());
                    }
                    let text = &rest[2..i];
                    let f = filter::parse(text)?;
                    return Ok((f, text.to_owned(), start + i + 2));
                }
            }
            _ => {}
        }
    }
    Err("unclosed filter expression".into())
}

fn parse_bracket(inner: &str) -> Result<Seg, String> {
    if inner == "*" {
        return Ok(Seg::Wildcard);
    }
    if inner.starts_with('?') {
        return Err("filter expressions ([?(...)]) are not supported by stefuna-local".into());
    }
    if inner.contains(',') {
        return Err("unions ([a,b]) are not supported by stefuna-local".into());
    }
    let int = |t: &str| -> Result<Option<i64>, String> {
        let t = t.trim();
        if t.is_empty() {
            Ok(None)
        } else {
            t.parse::<i64>()
                .map(Some)
                .map_err(|_| format!("'[{inner}]' is not an index, slice or '*'"))
        }
    };
    if let Some((a, b)) = inner.split_once(':') {
        return Ok(Seg::Slice(int(a)?, int(b)?));
    }
    match int(inner)? {
        Some(n) => Ok(Seg::Index(n)),
        None => Err("empty '[]'".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(p: &str, v: &Value) -> Option<Value> {
        Path::parse(p).unwrap().select(v).map(Cow::into_owned)
    }

    #[test]
    fn selects_fields_indexes_and_brackets() {
        let v = json!({"a": {"b": [10, 20, {"c d": true}]}, "x": 1});
        assert_eq!(sel("$", &v), Some(v.clone()));
        assert_eq!(sel("$.x", &v), Some(json!(1)));
        assert_eq!(sel("$.a.b[1]", &v), Some(json!(20)));
        assert_eq!(sel("$['a']['b'][2]['c d']", &v), Some(json!(true)));
        assert_eq!(sel("$[\"a\"].b[-1]['c d']", &v), Some(json!(true)));
        assert_eq!(sel("$.a.b[7]", &v), None);
        assert_eq!(sel("$.nope", &v), None);
        assert_eq!(sel("$.x.y", &v), None);
    }

    #[test]
    fn wildcards_and_slices_give_arrays() {
        let v = json!({"items": [{"id": 1}, {"id": 2}, {"id": 3}]});
        assert_eq!(sel("$.items[*].id", &v), Some(json!([1, 2, 3])));
        assert_eq!(sel("$.items.*.id", &v), Some(json!([1, 2, 3])));
        assert_eq!(sel("$.items[1:].id", &v), Some(json!([2, 3])));
        assert_eq!(sel("$.items[:-1].id", &v), Some(json!([1, 2])));
    }

    #[test]
    fn filters_select_matching_elements() {
        let v = json!({"outs": [
            {"k": "FooBar", "v": "1", "n": 5},
            {"k": "Fizz", "v": "2", "n": 50},
            {"k": "x)]", "v": "3"}
        ]});
        assert_eq!(sel("$.outs[?(@.k == 'FooBar')].v", &v), Some(json!(["1"])));
        assert_eq!(sel("$.outs[?(@.k == FooBar)].v", &v), Some(json!(["1"])));
        assert_eq!(sel("$.outs[?(@.n > 10)].k", &v), Some(json!(["Fizz"])));
        assert_eq!(sel("$.outs[?(@.n)].v", &v), Some(json!(["1", "2"])));
        assert_eq!(sel("$.outs[?(@.k == 'x)]')].v", &v), Some(json!(["3"])));
        assert_eq!(sel("$.outs[?(@.n < 0)]", &v), Some(json!([])));
        let p = Path::parse("$.outs[?(@.n > 1)]").unwrap();
        assert_eq!(p.normalized(), "$['outs'][?(@.n > 1)]");
        assert!(Path::parse_reference("$.outs[?(@.n > 1)]").is_err());
    }

    #[test]
    fn dot_before_bracket_is_accepted() {
        let v = json!({"abc": {"def ghi": 1}});
        assert_eq!(sel("$.abc.['def ghi']", &v), Some(json!(1)));
    }

    #[test]
    fn rejects_invalid_paths() {
        for p in ["foo", "$.", "$..a", "$[", "$[abc]", "$['a'", "$.a b", "$[]"] {
            assert!(Path::parse(p).is_err(), "{p} should be rejected");
        }
        assert!(Path::parse_reference("$.a[*]").is_err());
        assert!(Path::parse("$.a[0,1]").unwrap_err().contains("unions"));
        assert!(Path::parse_reference("$.a[0].b").is_ok());
    }

    #[test]
    fn context_paths_are_marked() {
        let p = Path::parse("$$.Execution.Id").unwrap();
        assert!(p.is_context());
        assert_eq!(p.normalized(), "$$['Execution']['Id']");
        assert!(!Path::parse("$.a").unwrap().is_context());
    }

    #[test]
    fn no_results_message_matches_aws() {
        let p = Path::parse("$.foo").unwrap();
        assert_eq!(
            p.no_results(),
            "Invalid path '$.foo' : No results for path: $['foo']"
        );
    }

    #[test]
    fn write_creates_missing_objects() {
        let mut v = json!({"a": 1});
        Path::parse_reference("$.b.c")
            .unwrap()
            .write(&mut v, json!(2))
            .unwrap();
        assert_eq!(v, json!({"a": 1, "b": {"c": 2}}));
        Path::parse_reference("$.a")
            .unwrap()
            .write(&mut v, json!("x"))
            .unwrap();
        assert_eq!(v["a"], json!("x"));
        let mut arr = json!({"l": [1, 2]});
        Path::parse_reference("$.l[1]")
            .unwrap()
            .write(&mut arr, json!(9))
            .unwrap();
        assert_eq!(arr, json!({"l": [1, 9]}));
        assert!(
            Path::parse_reference("$.l[5]")
                .unwrap()
                .write(&mut arr, json!(0))
                .is_err()
        );
        let mut s = json!("str");
        assert!(
            Path::parse_reference("$.x")
                .unwrap()
                .write(&mut s, json!(0))
                .is_err()
        );
        Path::root().write(&mut s, json!(5)).unwrap();
        assert_eq!(s, json!(5));
    }
}
