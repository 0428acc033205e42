//! Building the worker with cargo and asking the built binary `--describe`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;
use stefuna_runtime::describe::Description;

/// Which worker binary to build: cargo's own target selection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Target {
    /// `-p PACKAGE`.
    pub(crate) package: Option<String>,
    /// `--bin NAME`.
    pub(crate) bin: Option<String>,
    /// `--example NAME`.
    pub(crate) example: Option<String>,
}

impl Target {
    /// Whether a worker was named at all.
    pub(crate) fn is_some(&self) -> bool {
        self.package.is_some() || self.bin.is_some() || self.example.is_some()
    }

    /// The name a deployed state machine gets by default.
    pub(crate) fn name(&self) -> Option<&str> {
        self.bin
            .as_deref()
            .or(self.example.as_deref())
            .or(self.package.as_deref())
    }

    /// `cargo build` arguments selecting this target.
    pub(crate) fn cargo_args(&self) -> Vec<String> {
        let mut args = vec![
            "build".to_owned(),
            "--message-format=json-render-diagnostics".to_owned(),
        ];
        for (flag, value) in [
            ("--package", &self.package),
            ("--bin", &self.bin),
            ("--example", &self.example),
        ] {
            if let Some(v) = value {
                args.extend([flag.to_owned(), v.clone()]);
            }
        }
        args
    }
}

/// The cargo running this xtask (cargo sets `CARGO` for `cargo run`), else `cargo` on PATH.
fn cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

/// The directory of the workspace's root `Cargo.toml`, where target selection means what it
/// means at the top of the workspace whatever directory the xtask runs in.
fn workspace_root() -> anyhow::Result<PathBuf> {
    let out = Command::new(cargo())
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run `cargo locate-project`")?;
    if !out.status.success() {
        bail!("`cargo locate-project --workspace` failed; run the xtask inside a cargo workspace");
    }
    let manifest = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    manifest
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow!("cargo located the workspace at {}", manifest.display()))
}

/// Builds `target` (printing the command; cargo's progress goes to stderr) and returns the
/// path of its executable.
pub(crate) fn build(target: &Target) -> anyhow::Result<PathBuf> {
    let root = workspace_root()?;
    let args = target.cargo_args();
    println!("cargo {} (in {})", args.join(" "), root.display());
    let out = Command::new(cargo())
        .args(&args)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo")?;
    if !out.status.success() {
        bail!("`cargo {}` failed (see its errors above)", args.join(" "));
    }
    pick_executable(&String::from_utf8_lossy(&out.stdout), target)
}

/// The one bin or example executable among cargo's JSON messages.
fn pick_executable(messages: &str, target: &Target) -> anyhow::Result<PathBuf> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for line in messages.lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(exe) = msg["executable"].as_str() else {
            continue;
        };
        let kinds = msg["target"]["kind"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if kinds.iter().any(|k| k == "bin" || k == "example") {
            let name = msg["target"]["name"].as_str().unwrap_or("?").to_owned();
            found.push((name, PathBuf::from(exe)));
        }
    }
    match found.len() {
        1 => Ok(found.remove(0).1),
        0 => bail!(
            "cargo built no binary for {}; name one with --bin or --example",
            describe_target(target)
        ),
        _ => bail!(
            "cargo built several binaries for {} ({}); name one with --bin or --example",
            describe_target(target),
            found
                .iter()
                .map(|(n, _)| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn describe_target(target: &Target) -> String {
    let args = target.cargo_args();
    let selection = args[2..].join(" ");
    if selection.is_empty() {
        "the workspace".to_owned()
    } else {
        selection
    }
}

/// Runs `binary --describe` (printing the command) in the current directory, with this
/// process's environment, so the worker's stefuna.toml and `STEFUNA_*` variables apply.
pub(crate) fn describe(binary: &Path) -> anyhow::Result<Description> {
    println!("{} --describe", binary.display());
    let out = Command::new(binary)
        .arg("--describe")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !out.status.success() {
        bail!(
            "`{} --describe` failed ({}; its error is above); a stefuna worker binary describes \
             itself once its configuration is valid",
            binary.display(),
            out.status
        );
    }
    parse_description(&String::from_utf8_lossy(&out.stdout))
        .with_context(|| format!("`{} --describe` printed no description", binary.display()))
}

/// Reads a `--describe` document.
pub(crate) fn parse_description(text: &str) -> anyhow::Result<Description> {
    let d: Description =
        serde_json::from_str(text).map_err(|e| anyhow!("not a description: {e}"))?;
    if d.format != stefuna_runtime::describe::FORMAT {
        bail!(
            "description format {} is not the {} this xtask reads; build the xtask and the worker \
             with the same stefuna version",
            d.format,
            stefuna_runtime::describe::FORMAT
        );
    }
    if d.activities.is_empty() {
        bail!("the worker hosts no activity");
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(name: &str, kind: &str, exe: Option<&str>) -> String {
        serde_json::json!({"reason": "compiler-artifact", "executable": exe,
            "target": {"name": name, "kind": [kind]}})
        .to_string()
    }

    #[test]
    fn cargo_args_select_the_target() {
        let t = Target {
            package: Some("workers".into()),
            bin: Some("resize".into()),
            example: None,
        };
        assert_eq!(
            t.cargo_args()[2..],
            ["--package", "workers", "--bin", "resize"]
        );
        assert_eq!(t.name(), Some("resize"));
        assert!(!Target::default().is_some());
    }

    #[test]
    fn the_one_executable_is_picked() {
        let messages = [
            artifact("serde", "lib", None),
            r#"{"reason":"build-finished","success":true}"#.to_owned(),
            artifact("hello", "example", Some("/t/debug/examples/hello")),
        ]
        .join("\n");
        let t = Target {
            example: Some("hello".into()),
            ..Target::default()
        };
        assert_eq!(
            pick_executable(&messages, &t).unwrap(),
            PathBuf::from("/t/debug/examples/hello")
        );
        let two = [
            artifact("a", "bin", Some("/t/a")),
            artifact("b", "bin", Some("/t/b")),
        ]
        .join("\n");
        let p = Target {
            package: Some("w".into()),
            ..Target::default()
        };
        let err = pick_executable(&two, &p).unwrap_err().to_string();
        assert!(
            err.contains("`a`, `b`") && err.contains("--package w"),
            "{err}"
        );
        let err = pick_executable("", &p).unwrap_err().to_string();
        assert!(err.contains("built no binary"), "{err}");
    }

    #[test]
    fn descriptions_are_checked() {
        let one = r#"{"format": 1, "worker": {"name": "W", "endpoint_url": null, "region": null},
            "activities": [{"name": "Hello", "arn": "arn:aws:states:us-east-1:1:activity:hello",
            "region": "us-east-1", "heartbeat": null, "processes": 2}], "later": true}"#;
        let d = parse_description(one).unwrap();
        assert_eq!(d.activities[0].name, "Hello");
        assert_eq!(d.activities[0].heartbeat, None);
        let err = parse_description(&one.replace("\"format\": 1", "\"format\": 9"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("format 9"), "{err}");
        assert!(parse_description("Usage: worker [OPTIONS]").is_err());
    }
}
