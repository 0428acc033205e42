//! The process-isolation rows of `cargo xtask bench`: the hello example with
//! `--isolation process` beside thread mode and stefuna 1.0.1 at the same concurrency, on the
//! same endpoint, and what a task costs more in a child process than in a thread.

use std::fmt::Write as _;

use super::report::{Figures, Kind, Results, Spread, show};

/// A worker the bench can run (`--workers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Worker {
    /// aws-sdk-sfn + tokio, no framework.
    Raw,
    /// The hello example (thread mode).
    Stefuna,
    /// The hello example with `--isolation process`.
    Process,
    /// stefuna 1.0.1 with its defaults.
    Python,
    /// stefuna 1.0.1 with its best settings.
    PythonBest,
}

/// Whether `kind` is among the selected workers.
pub(super) fn selected(workers: &[Worker], kind: Kind) -> bool {
    let w = match kind {
        Kind::Raw => Worker::Raw,
        Kind::Stefuna => Worker::Stefuna,
        Kind::Process => Worker::Process,
        Kind::Python => Worker::Python,
        Kind::PythonBest => Worker::PythonBest,
        Kind::Sleep => return true,
    };
    workers.contains(&w)
}

/// The report's process-isolation section; empty when process mode did not run.
pub(super) fn section(r: &Results) -> String {
    if r.concurrencies
        .iter()
        .all(|&c| r.figures(Kind::Process, c).is_empty())
    {
        return String::new();
    }
    let mut md = String::from(
        "\nProcess isolation (`--isolation process`) against thread mode and stefuna 1.0.1, \
         round by round:\n\n\
         | concurrency | process / thread tasks/s | extra CPU ms per task (process − thread, steady) | process / thread peak PSS | process / 1.0.1 tasks/s | process / 1.0.1 peak PSS |\n\
         |---:|---:|---:|---:|---:|---:|\n",
    );
    for &c in &r.concurrencies {
        let extra: Vec<f64> = r
            .rounds
            .iter()
            .filter(|(rc, _)| *rc == c)
            .filter_map(|(_, round)| {
                let p = round.get(&Kind::Process)?;
                let t = round.get(&Kind::Stefuna)?;
                // CPU seconds per 1,000 tasks is CPU milliseconds per task.
                Some(p.cpu_per_1000_steady - t.cpu_per_1000_steady)
            })
            .collect();
        let ratio = |b, f: fn(&Figures) -> f64, d| show(&r.ratios(c, Kind::Process, b, f), d);
        let _ = writeln!(
            md,
            "| {c} | {} | {} | {} | {} | {} |",
            ratio(Kind::Stefuna, |f| f.tasks_per_s, 2),
            show(&extra, 3),
            ratio(Kind::Stefuna, |f| f.peak_pss_mib, 2),
            ratio(Kind::Python, |f| f.tasks_per_s, 1),
            ratio(Kind::Python, |f| f.peak_pss_mib, 3),
        );
    }
    let goal = |name: &str, values: Vec<f64>, floor: Option<f64>, ceiling: Option<f64>| {
        let Some(s) = Spread::of(&values) else {
            return format!("| {name} | – | – | not measured |\n");
        };
        let (target, worst, met) = match (floor, ceiling) {
            (Some(g), _) => (format!("≥ {g}"), s.min, s.min >= g),
            (_, Some(g)) => (format!("≤ {g}"), s.max, s.max <= g),
            _ => (String::new(), s.median, true),
        };
        format!(
            "| {name} | {target} | {worst:.3} | {} |\n",
            if met { "met" } else { "not met" }
        )
    };
    md.push_str(
        "\nProcess-isolation goals at 16, judged on the worst run:\n\n\
         | goal | target | worst run | met |\n|---|---:|---:|---|\n",
    );
    md.push_str(&goal(
        "process / 1.0.1 tasks/s at 16",
        r.ratios(16, Kind::Process, Kind::Python, |f| f.tasks_per_s),
        Some(10.0),
        None,
    ));
    md.push_str(&goal(
        "process / 1.0.1 peak PSS at 16",
        r.ratios(16, Kind::Process, Kind::Python, |f| f.peak_pss_mib),
        None,
        Some(0.25),
    ));
    md
}
