//! `--input JSON` and `--input-file FILE` (JSON lines): the executions a local run starts.

use std::path::Path;

use super::LocalError;

/// One input to start an execution with.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Input {
    /// Execution name.
    pub(super) name: String,
    /// The JSON text.
    pub(super) json: String,
}

pub(super) fn inline_inputs(inputs: &[String]) -> Vec<Input> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, json)| Input {
            name: format!("input-{}", i + 1),
            json: json.clone(),
        })
        .collect()
}

pub(super) fn read_input_file(path: &Path) -> Result<Vec<Input>, LocalError> {
    let text = std::fs::read_to_string(path).map_err(|source| LocalError::Read {
        flag: "--input-file",
        path: path.to_owned(),
        source,
    })?;
    parse_input_lines(&text, path)
}

/// JSON lines: one document per line, blank lines skipped.
fn parse_input_lines(text: &str, path: &Path) -> Result<Vec<Input>, LocalError> {
    let mut inputs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Err(source) = serde_json::from_str::<serde_json::Value>(line) {
            return Err(LocalError::InputLine {
                path: path.to_owned(),
                line: i + 1,
                source,
            });
        }
        inputs.push(Input {
            name: format!("line-{}", i + 1),
            json: line.to_owned(),
        });
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_lines_skip_blanks_and_name_bad_lines() {
        let path = Path::new("in.jsonl");
        let inputs = parse_input_lines("{\"a\":1}\n\n  \n[2]\n", path).unwrap();
        assert_eq!(
            inputs,
            vec![
                Input {
                    name: "line-1".into(),
                    json: "{\"a\":1}".into()
                },
                Input {
                    name: "line-4".into(),
                    json: "[2]".into()
                },
            ]
        );
        let err = parse_input_lines("{}\n\n{oops\n", path)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--input-file in.jsonl line 3 is not JSON"),
            "{err}"
        );
    }

    #[test]
    fn inline_inputs_are_numbered() {
        let inputs = inline_inputs(&["{}".into(), "1".into()]);
        assert_eq!(inputs[0].name, "input-1");
        assert_eq!(
            inputs[1],
            Input {
                name: "input-2".into(),
                json: "1".into()
            }
        );
    }
}
