//! `cargo xtask fuzz`: runs every cargo-fuzz target in `fuzz/` for a bounded time.
//!
//! cargo-fuzz is installed once into `$STEFUNA_CACHE_DIR/cargo-fuzz` (else
//! `$HOME/.cache/stefuna/cargo-fuzz`). libFuzzer's sanitizer flags need unstable options, so the
//! targets build with `RUSTC_BOOTSTRAP=1` on the stable toolchain.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use clap::Args;

/// The targets, in the order they run.
const TARGETS: &[&str] = &["worker_io", "asl_definition", "asl_path", "local_requests"];

/// Arguments of `cargo xtask fuzz`.
#[derive(Args)]
pub struct FuzzArgs {
    /// Seconds each target runs.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Run only this target.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    pub only: Option<String>,
}

/// Builds and runs the targets; fails naming each target that found a crash.
pub async fn run(args: FuzzArgs) -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let fuzz_dir = root.join("fuzz");
    let cargo_fuzz = install(&cache_dir()?)?;
    let mut failed = Vec::new();
    for target in TARGETS {
        if args.only.as_deref().is_some_and(|o| o != *target) {
            continue;
        }
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .with_context(|| format!("cannot create {}", corpus.display()))?;
        let mut cmd = Command::new(&cargo_fuzz);
        cmd.current_dir(&fuzz_dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .env_remove("STEFUNA_CACHE_DIR")
            .args(["fuzz", "run", target])
            .arg(&corpus);
        let seeds = fuzz_dir.join("seeds").join(target);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        cmd.arg("--")
            .arg(format!("-max_total_time={}", args.seconds))
            .arg("-rss_limit_mb=4096");
        eprintln!("fuzz {target}: {} s", args.seconds);
        let status = cmd
            .status()
            .with_context(|| format!("cannot run {}", cargo_fuzz.display()))?;
        if status.success() {
            eprintln!("fuzz {target}: nothing found");
        } else {
            eprintln!(
                "fuzz {target}: FAILED ({status}); the input is in fuzz/artifacts/{target}/: \
                 fix the bug, then copy it to fuzz/regressions/{target}/"
            );
            failed.push(*target);
        }
    }
    anyhow::ensure!(failed.is_empty(), "fuzz targets found crashes: {failed:?}");
    Ok(())
}

/// The cache folder for the cargo-fuzz install.
fn cache_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("STEFUNA_CACHE_DIR") {
        return Ok(PathBuf::from(dir).join("cargo-fuzz"));
    }
    let home = std::env::var_os("HOME").context("neither STEFUNA_CACHE_DIR nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache/stefuna/cargo-fuzz"))
}

/// Installs cargo-fuzz under `dir` unless it is there; returns the binary.
fn install(dir: &Path) -> anyhow::Result<PathBuf> {
    let bin = dir.join("bin/cargo-fuzz");
    if bin.is_file() {
        return Ok(bin);
    }
    eprintln!("installing cargo-fuzz into {}", dir.display());
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["install", "cargo-fuzz", "--locked", "--root"])
        .arg(dir)
        .status()
        .context("cannot run cargo install")?;
    anyhow::ensure!(
        status.success(),
        "cargo install cargo-fuzz failed ({status})"
    );
    Ok(bin)
}
