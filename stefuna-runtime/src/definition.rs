//! `${activity:NAME}` placeholders in state machine definitions.
//!
//! A definition file names its activities as `${activity:NAME}` instead of writing ARNs, so the
//! same file runs under `--local --state-machine FILE` (against the in-process emulator) and
//! deploys with `cargo xtask deploy --definition FILE` (stefuna-xtask). Both read it through this
//! module, so a file means the same thing to both.
//!
//! # The rules
//!
//! - `NAME` names a hosted activity by its activity name (`Activity::name`, e.g. `Hello`) or by
//!   the name in its ARN (`arn:aws:states:REGION:ACCOUNT:activity:NAME`, e.g. `hello`), **without
//!   regard to ASCII case**, the way `[activities.<name>]` keys in `stefuna.toml` are matched.
//!   A name matching two different activities is refused as ambiguous.
//! - A placeholder is `${activity:` followed by 1 to 80 ASCII letters, digits, `-` or `_` and a
//!   closing `}`. Anything else after `${activity:` (another character before the `}`, no `}`,
//!   an empty or too long name) is an error naming the line and column: a placeholder never
//!   passes through unreplaced, and an unknown name is an error too.
//! - Text that is not a placeholder (`${x}`, `$.path`, JSONata `{% ... %}`) is left as it is.
//!
//! # Example
//! ```
//! use stefuna_runtime::definition::{ActivityArn, placeholders, substitute};
//!
//! let text = r#"{"StartAt": "A", "States": {"A": {"Type": "Task",
//!     "Resource": "${activity:Hello}", "End": true}}}"#;
//! assert_eq!(placeholders(text)?, ["Hello"]);
//! let arn = "arn:aws:states:us-east-1:123456789012:activity:hello";
//! let out = substitute(text, &[ActivityArn { name: "hello", arn }])?;
//! assert!(out.contains(arn) && !out.contains("${activity:"));
//! # Ok::<(), stefuna_runtime::definition::DefinitionError>(())
//! ```

/// What opens a placeholder.
pub const PLACEHOLDER_OPEN: &str = "${activity:";

/// Longest activity name Step Functions accepts.
const MAX_NAME_CHARS: usize = 80;

/// A hosted activity a placeholder can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActivityArn<'a> {
    /// The activity's name (`Activity::name`); a placeholder may use it or the ARN's last part.
    pub name: &'a str,
    /// The ARN the placeholder becomes.
    pub arn: &'a str,
}

impl ActivityArn<'_> {
    /// Whether `${activity:NAME}` names this activity (its name or its ARN's name, any case).
    pub fn matches(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name) || arn_name(self.arn).eq_ignore_ascii_case(name)
    }
}

/// The name part of an activity ARN (after its last `:`); the whole text when it has none.
pub fn arn_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// A definition's placeholders could not be read or resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DefinitionError {
    /// `${activity:` not followed by a name and `}`.
    #[error(
        "line {line} column {column}: unterminated placeholder `${{activity:{name}`; write \
         `${{activity:NAME}}` with a NAME of 1-80 letters, digits, `-` or `_`"
    )]
    Unterminated {
        /// 1-based line of the `$`.
        line: usize,
        /// 1-based column (in characters) of the `$`.
        column: usize,
        /// The name characters before whatever stopped the placeholder.
        name: String,
    },
    /// A placeholder whose name is empty or longer than 80 characters.
    #[error(
        "line {line} column {column}: invalid activity name `{name}` in `${{activity:{name}}}`; \
         names are 1-80 letters, digits, `-` or `_`"
    )]
    InvalidName {
        /// 1-based line of the `$`.
        line: usize,
        /// 1-based column (in characters) of the `$`.
        column: usize,
        /// The text between `${activity:` and `}`.
        name: String,
    },
    /// A placeholder names no hosted activity.
    #[error(
        "`${{activity:{name}}}` names no hosted activity; expected one of {}",
        quoted(known)
    )]
    UnknownActivity {
        /// The name in the placeholder.
        name: String,
        /// The activity names it could have used.
        known: Vec<String>,
    },
    /// A placeholder matches two different activities.
    #[error("`${{activity:{name}}}` is ambiguous: it names {}", quoted(matches))]
    Ambiguous {
        /// The name in the placeholder.
        name: String,
        /// The activities it matches.
        matches: Vec<String>,
    },
}

fn quoted(names: &[String]) -> String {
    if names.is_empty() {
        return "(none: no activity is hosted)".to_owned();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One placeholder found in a text.
struct Found<'t> {
    /// Byte offset of its `$`.
    start: usize,
    /// Byte offset just past its `}`.
    end: usize,
    name: &'t str,
}

/// Finds every placeholder in `text`, in order, checking each (see the module docs).
fn scan(text: &str) -> Result<Vec<Found<'_>>, DefinitionError> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(PLACEHOLDER_OPEN) {
        let start = from + at;
        let name_start = start + PLACEHOLDER_OPEN.len();
        let (line, column) = position(text, start);
        let rest = &text[name_start..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..len];
        if !rest[len..].starts_with('}') {
            return Err(DefinitionError::Unterminated {
                line,
                column,
                name: name.to_owned(),
            });
        }
        if name.is_empty() || name.len() > MAX_NAME_CHARS {
            return Err(DefinitionError::InvalidName {
                line,
                column,
                name: name.to_owned(),
            });
        }
        let end = name_start + len + 1;
        found.push(Found { start, end, name });
        from = end;
    }
    Ok(found)
}

/// 1-based line and character column of byte offset `at`.
fn position(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The names of the `${activity:NAME}` placeholders in `text`, in order of first appearance,
/// each once (as written; names differing only in case are listed once, as first written).
///
/// # Errors
/// An unterminated placeholder or an invalid name ([`DefinitionError`]).
pub fn placeholders(text: &str) -> Result<Vec<String>, DefinitionError> {
    let mut names: Vec<String> = Vec::new();
    for f in scan(text)? {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(f.name)) {
            names.push(f.name.to_owned());
        }
    }
    Ok(names)
}

/// Replaces every `${activity:NAME}` in `text` with the ARN of the activity it names.
///
/// # Errors
/// An unterminated placeholder, an invalid name, a name that matches no activity (the error
/// lists the names it could use) or two of them.
pub fn substitute(text: &str, activities: &[ActivityArn<'_>]) -> Result<String, DefinitionError> {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for f in scan(text)? {
        out.push_str(&text[copied..f.start]);
        out.push_str(resolve(f.name, activities)?.arn);
        copied = f.end;
    }
    out.push_str(&text[copied..]);
    Ok(out)
}

/// The one activity `name` matches.
fn resolve<'a>(
    name: &str,
    activities: &[ActivityArn<'a>],
) -> Result<ActivityArn<'a>, DefinitionError> {
    let mut matching = activities.iter().filter(|a| a.matches(name));
    let Some(first) = matching.next() else {
        return Err(DefinitionError::UnknownActivity {
            name: name.to_owned(),
            known: activities.iter().map(|a| a.name.to_owned()).collect(),
        });
    };
    let others: Vec<&ActivityArn<'a>> = matching.filter(|a| a.arn != first.arn).collect();
    if !others.is_empty() {
        return Err(DefinitionError::Ambiguous {
            name: name.to_owned(),
            matches: std::iter::once(first)
                .chain(others)
                .map(|a| a.name.to_owned())
                .collect(),
        });
    }
    Ok(*first)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "arn:aws:states:us-east-1:123456789012:activity:hello-prod";
    const RESIZE: &str = "arn:aws:states:us-east-1:123456789012:activity:resize";

    fn acts() -> [ActivityArn<'static>; 2] {
        [
            ActivityArn {
                name: "Hello",
                arn: HELLO,
            },
            ActivityArn {
                name: "Resize",
                arn: RESIZE,
            },
        ]
    }

    #[test]
    fn names_and_arn_names_match_without_regard_to_case() {
        let out = substitute(
            r#"{"a":"${activity:hello}","b":"${activity:RESIZE}","c":"${activity:Hello-Prod}"}"#,
            &acts(),
        )
        .unwrap();
        assert_eq!(
            out,
            format!(r#"{{"a":"{HELLO}","b":"{RESIZE}","c":"{HELLO}"}}"#)
        );
    }

    #[test]
    fn other_dollar_text_is_left_alone() {
        let text = r#"{"d":"${x}","e":"$.path","f":"{% $states.input %}","g":"$activity:x"}"#;
        assert_eq!(substitute(text, &acts()).unwrap(), text);
        assert!(placeholders(text).unwrap().is_empty());
    }

    #[test]
    fn placeholders_are_listed_once_in_order() {
        let text = "${activity:b} ${activity:a} ${activity:B} ${activity:b}";
        assert_eq!(placeholders(text).unwrap(), ["b", "a"]);
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let err = substitute("${activity:nope}", &acts()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`${activity:nope}` names no hosted activity; expected one of `Hello`, `Resize`"
        );
    }

    #[test]
    fn an_unterminated_placeholder_is_refused_with_its_position() {
        // JSON always has a `}` further on: the name must be closed right after it.
        let text = "{\n  \"a\": \"${activity:hello\", \"b\": {}\n}";
        for err in [
            substitute(text, &acts()).unwrap_err(),
            placeholders(text).unwrap_err(),
        ] {
            assert_eq!(
                err,
                DefinitionError::Unterminated {
                    line: 2,
                    column: 9,
                    name: "hello".into()
                }
            );
            assert_eq!(
                err.to_string(),
                "line 2 column 9: unterminated placeholder `${activity:hello`; write \
                 `${activity:NAME}` with a NAME of 1-80 letters, digits, `-` or `_`"
            );
        }
        for text in ["${activity:", "${activity:bad name}", "x${activity:a.b}"] {
            let err = placeholders(text).unwrap_err();
            assert!(
                matches!(err, DefinitionError::Unterminated { line: 1, .. }),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn empty_and_long_names_are_refused() {
        for text in ["${activity:}", &format!("${{activity:{}}}", "a".repeat(81))] {
            let err = placeholders(text).unwrap_err();
            assert!(
                matches!(
                    err,
                    DefinitionError::InvalidName {
                        line: 1,
                        column: 1,
                        ..
                    }
                ),
                "{text}: {err}"
            );
        }
        let eighty = format!("${{activity:{}}}", "a".repeat(80));
        assert_eq!(placeholders(&eighty).unwrap(), ["a".repeat(80)]);
    }

    #[test]
    fn a_name_matching_two_activities_is_ambiguous() {
        let two = [
            ActivityArn {
                name: "Hello",
                arn: "arn:aws:states:us-east-1:1:activity:a",
            },
            ActivityArn {
                name: "Other",
                arn: "arn:aws:states:us-east-1:1:activity:hello",
            },
        ];
        let err = substitute("${activity:hello}", &two).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`${activity:hello}` is ambiguous: it names `Hello`, `Other`"
        );
        // The same activity matched by name and by ARN is not ambiguous.
        assert!(substitute("${activity:resize}", &acts()).is_ok());
    }
}
