//! Figures of the runs, the markdown report and the tasks/s chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::anyhow;

/// The workers the bench compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    /// aws-sdk-sfn + tokio, no framework (`bench-raw`).
    Raw,
    /// The hello example.
    Stefuna,
    /// stefuna 1.0.1 from PyPI with `xtask/bench/hello_worker.py`, its defaults.
    Python,
    /// The same with its best settings for this job: `maxtasksperchild` off (no pool process
    /// is recycled) and heartbeat 0 (no heartbeat thread in its pool processes).
    PythonBest,
    /// The memory run's sleeping stefuna worker (`bench-sleep`).
    Sleep,
    /// The hello example with `--isolation process` (a child process per slot).
    Process,
}

impl Kind {
    /// The name in tables and the chart.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Raw => "raw SDK",
            Kind::Stefuna => "stefuna",
            Kind::Python => "stefuna 1.0.1 (Python)",
            Kind::PythonBest => "stefuna 1.0.1, best settings",
            Kind::Sleep => "stefuna (1,000 × sleep 5 s)",
            Kind::Process => "stefuna, isolation = process",
        }
    }
}

/// What one run measured.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Figures {
    /// Executions in the run.
    pub(crate) tasks: usize,
    /// Steady tasks/s: between the 10th and 90th percentile of completions.
    pub(crate) tasks_per_s: f64,
    /// Tasks over the time from the first task handed out to the last execution's stop.
    pub(crate) whole_per_s: f64,
    /// Worker tree CPU seconds (user + system, start-up included) per 1,000 tasks, whole run.
    pub(crate) cpu_per_1000: f64,
    /// The same over the steady window only (no start-up, no stragglers).
    pub(crate) cpu_per_1000_steady: f64,
    /// Peak PSS of the worker tree (largest sum over its processes at one sample), MiB.
    pub(crate) peak_pss_mib: f64,
    /// Process spawn to the first GetActivityTask seen by the endpoint, ms.
    pub(crate) first_poll_ms: f64,
    /// stefuna-local's CPU use over the run, in cores (1.0 = one core busy all the time).
    pub(crate) local_cores: f64,
    /// First task to last stop, seconds.
    pub(crate) window_s: f64,
}

/// Median, min and max.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Spread {
    /// The median (mean of the two middle values for an even count).
    pub(crate) median: f64,
    /// The smallest value.
    pub(crate) min: f64,
    /// The largest value.
    pub(crate) max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when empty.
    pub(crate) fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }

    /// `median (min–max)` with `digits` decimals.
    pub(crate) fn show(&self, digits: usize) -> String {
        format!(
            "{:.d$} ({:.d$}–{:.d$})",
            self.median,
            self.min,
            self.max,
            d = digits
        )
    }
}

pub(super) fn show(values: &[f64], digits: usize) -> String {
    Spread::of(values).map_or_else(|| "–".to_owned(), |s| s.show(digits))
}

/// Everything a bench run found.
#[derive(Default)]
pub(crate) struct Results {
    /// The concurrencies measured, in order.
    pub(crate) concurrencies: Vec<usize>,
    /// Rounds: at one concurrency, each worker once, back to back (ratios are taken inside one).
    pub(crate) rounds: Vec<(usize, BTreeMap<Kind, Figures>)>,
    /// The memory runs.
    pub(crate) memory: Vec<Figures>,
    /// The density runs.
    pub(crate) density: Vec<super::density::Figures>,
    /// Lines for the report's notes (skips, sizes, machine).
    pub(crate) notes: Vec<String>,
}

impl Results {
    pub(super) fn figures(&self, kind: Kind, c: usize) -> Vec<Figures> {
        self.rounds
            .iter()
            .filter(|(rc, _)| *rc == c)
            .filter_map(|(_, r)| r.get(&kind).copied())
            .collect()
    }

    /// Per-round ratios `f(a) / f(b)` at concurrency `c`, from rounds that have both.
    pub(super) fn ratios(&self, c: usize, a: Kind, b: Kind, f: fn(&Figures) -> f64) -> Vec<f64> {
        self.rounds
            .iter()
            .filter(|(rc, _)| *rc == c)
            .filter_map(|(_, r)| Some(f(r.get(&a)?) / f(r.get(&b)?)))
            .collect()
    }

    /// Median tasks/s of `kind` at each concurrency (for the chart).
    fn medians(&self, kind: Kind) -> Vec<(usize, f64)> {
        self.concurrencies
            .iter()
            .filter_map(|&c| {
                let v: Vec<f64> = self
                    .figures(kind, c)
                    .iter()
                    .map(|f| f.tasks_per_s)
                    .collect();
                Some((c, Spread::of(&v)?.median))
            })
            .collect()
    }

    /// The report as markdown.
    pub(crate) fn markdown(&self, command: &str) -> String {
        let mut md = String::new();
        let _ = writeln!(
            md,
            "Measured with `{command}`. Each cell: median (min–max) over the runs.\n"
        );
        md.push_str("| worker | concurrency | runs | tasks/run | tasks/s (steady) | tasks/s (whole run) | CPU s / 1,000 tasks (steady) | CPU s / 1,000 tasks (whole run) | peak PSS MiB | first poll ms | stefuna-local cores |\n");
        md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for &c in &self.concurrencies {
            for kind in ROWS {
                let f = self.figures(kind, c);
                if f.is_empty() {
                    continue;
                }
                let col = |g: fn(&Figures) -> f64, d| show(&f.iter().map(g).collect::<Vec<_>>(), d);
                let _ = writeln!(
                    md,
                    "| {} | {c} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    kind.label(),
                    f.len(),
                    show(&f.iter().map(|x| x.tasks as f64).collect::<Vec<_>>(), 0),
                    col(|x| x.tasks_per_s, 0),
                    col(|x| x.whole_per_s, 0),
                    col(|x| x.cpu_per_1000_steady, 3),
                    col(|x| x.cpu_per_1000, 3),
                    col(|x| x.peak_pss_mib, 1),
                    col(|x| x.first_poll_ms, 0),
                    col(|x| x.local_cores, 2),
                );
            }
        }
        md.push_str(
            "\nRatios, computed round by round (the workers of one round ran back to back):\n\n",
        );
        md.push_str("| concurrency | stefuna / raw tasks/s | stefuna / 1.0.1 tasks/s | stefuna / 1.0.1 best tasks/s | stefuna / 1.0.1 peak PSS | stefuna / 1.0.1 best peak PSS | stefuna / raw CPU per task (steady) |\n");
        md.push_str("|---:|---:|---:|---:|---:|---:|---:|\n");
        for &c in &self.concurrencies {
            let r = |a, b, f: fn(&Figures) -> f64, d| show(&self.ratios(c, a, b, f), d);
            let _ = writeln!(
                md,
                "| {c} | {} | {} | {} | {} | {} | {} |",
                r(Kind::Stefuna, Kind::Raw, |f| f.tasks_per_s, 2),
                r(Kind::Stefuna, Kind::Python, |f| f.tasks_per_s, 1),
                r(Kind::Stefuna, Kind::PythonBest, |f| f.tasks_per_s, 1),
                r(Kind::Stefuna, Kind::Python, |f| f.peak_pss_mib, 3),
                r(Kind::Stefuna, Kind::PythonBest, |f| f.peak_pss_mib, 3),
                r(Kind::Stefuna, Kind::Raw, |f| f.cpu_per_1000_steady, 2),
            );
        }
        if !self.memory.is_empty() {
            let m = &self.memory;
            let _ = writeln!(
                md,
                "\nMemory run: stefuna with {} tasks in flight, each sleeping 5 s (async): peak PSS {} MiB, all done {} s after the first was handed out, {} runs.",
                m[0].tasks,
                show(&m.iter().map(|f| f.peak_pss_mib).collect::<Vec<_>>(), 1),
                show(&m.iter().map(|f| f.window_s).collect::<Vec<_>>(), 2),
                m.len(),
            );
        }
        md.push_str(&super::density::markdown(&self.density));
        let first: Vec<f64> = self
            .rounds
            .iter()
            .filter_map(|(_, r)| r.get(&Kind::Stefuna).map(|f| f.first_poll_ms))
            .collect();
        if let Some(s) = Spread::of(&first) {
            let _ = writeln!(
                md,
                "\nstefuna's first poll, all runs: {} ms after spawn.",
                s.show(0)
            );
        }
        md.push_str(&self.goals());
        md.push_str(&super::isolation::section(self));
        if !self.notes.is_empty() {
            md.push_str("\nNotes:\n\n");
            for n in &self.notes {
                let _ = writeln!(md, "- {n}");
            }
        }
        md
    }

    /// The goals, each judged on its worst run (the minimum for a floor, the maximum for a
    /// ceiling): a goal only some runs reach is not met.
    fn goals(&self) -> String {
        let mut rows: Vec<(String, Goal, Vec<f64>)> = Vec::new();
        for &c in &self.concurrencies {
            rows.push((
                format!("stefuna / raw tasks/s at {c}"),
                Goal::AtLeast(0.9),
                self.ratios(c, Kind::Stefuna, Kind::Raw, |f| f.tasks_per_s),
            ));
            for (b, name) in [(Kind::Python, "1.0.1"), (Kind::PythonBest, "1.0.1 best")] {
                rows.push((
                    format!("stefuna / {name} tasks/s at {c}"),
                    Goal::AtLeast(20.0),
                    self.ratios(c, Kind::Stefuna, b, |f| f.tasks_per_s),
                ));
            }
        }
        for (b, name) in [(Kind::Python, "1.0.1"), (Kind::PythonBest, "1.0.1 best")] {
            rows.push((
                format!("stefuna / {name} peak PSS at 16"),
                Goal::AtMost(0.1),
                self.ratios(16, Kind::Stefuna, b, |f| f.peak_pss_mib),
            ));
        }
        rows.push((
            "memory run peak PSS, MiB".to_owned(),
            Goal::AtMost(64.0),
            self.memory.iter().map(|f| f.peak_pss_mib).collect(),
        ));
        rows.push((
            "stefuna first poll, ms".to_owned(),
            Goal::AtMost(50.0),
            self.rounds
                .iter()
                .filter_map(|(_, r)| r.get(&Kind::Stefuna).map(|f| f.first_poll_ms))
                .collect(),
        ));
        let mut md = String::from(
            "\nGoals, each judged on its worst run (met only when every run meets it):\n\n\
             | goal | target | worst run | median | runs | met |\n|---|---:|---:|---:|---:|---|\n",
        );
        for (name, goal, values) in rows {
            let Some(s) = Spread::of(&values) else {
                continue;
            };
            let (worst, met) = goal.judge(&s);
            let _ = writeln!(
                md,
                "| {name} | {} | {worst:.3} | {:.3} | {} | {} |",
                goal.show(),
                s.median,
                values.len(),
                if met { "met" } else { "not met" }
            );
        }
        md
    }

    /// Draws median tasks/s against concurrency for the three workers, as SVG.
    pub(crate) fn chart(&self, path: &Path) -> anyhow::Result<()> {
        use plotters::prelude::*;
        type Series = (Kind, Vec<(usize, f64)>, RGBColor);
        let series: Vec<Series> = [
            (Kind::Raw, RGBColor(120, 120, 120)),
            (Kind::Stefuna, RGBColor(200, 70, 20)),
            (Kind::Process, RGBColor(230, 150, 30)),
            (Kind::Python, RGBColor(40, 90, 180)),
            (Kind::PythonBest, RGBColor(90, 160, 220)),
        ]
        .into_iter()
        .map(|(k, color)| (k, self.medians(k), color))
        .filter(|(_, points, _)| !points.is_empty())
        .collect();
        let top = series
            .iter()
            .flat_map(|(_, p, _)| p.iter().map(|x| x.1))
            .fold(1.0, f64::max)
            * 1.15;
        // Concurrencies are spread evenly (2, 16, 64 on a linear axis would crowd the first two).
        let xs = &self.concurrencies;
        let at = |c: usize| xs.iter().position(|&x| x == c).unwrap_or(0) as f64;
        let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("chart: {e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .caption("tasks/s against concurrency (median)", ("sans-serif", 22))
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.3f64..(xs.len() as f64 - 0.7), 0f64..top)
            .map_err(|e| anyhow!("chart: {e}"))?;
        chart
            .configure_mesh()
            .x_labels(xs.len())
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    xs.get(i as usize)
                        .map_or_else(String::new, |c| c.to_string())
                } else {
                    String::new()
                }
            })
            .x_desc("concurrency (tasks at once)")
            .y_desc("tasks/s")
            .draw()
            .map_err(|e| anyhow!("chart: {e}"))?;
        for (kind, points, color) in &series {
            let color = *color;
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|&(c, v)| (at(c), v)),
                    color.stroke_width(2),
                ))
                .map_err(|e| anyhow!("chart: {e}"))?
                .label(kind.label())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|&(c, v)| Circle::new((at(c), v), 4, color.filled())),
                )
                .map_err(|e| anyhow!("chart: {e}"))?;
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| anyhow!("chart: {e}"))?;
        root.present().map_err(|e| anyhow!("chart: {e}"))?;
        Ok(())
    }
}

/// The rows of the main table, in order.
const ROWS: [Kind; 5] = [
    Kind::Raw,
    Kind::Stefuna,
    Kind::Process,
    Kind::Python,
    Kind::PythonBest,
];

/// A goal on a figure.
#[derive(Clone, Copy, Debug)]
enum Goal {
    /// At least this much.
    AtLeast(f64),
    /// At most this much.
    AtMost(f64),
}

impl Goal {
    /// The worst value of the runs, and whether it meets the goal.
    fn judge(self, s: &Spread) -> (f64, bool) {
        match self {
            Goal::AtLeast(g) => (s.min, s.min >= g),
            Goal::AtMost(g) => (s.max, s.max <= g),
        }
    }

    fn show(self) -> String {
        match self {
            Goal::AtLeast(g) => format!("≥ {g}"),
            Goal::AtMost(g) => format!("≤ {g}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(tasks_per_s: f64, rss: f64) -> Figures {
        Figures {
            tasks: 100,
            tasks_per_s,
            whole_per_s: tasks_per_s,
            cpu_per_1000: 1.0,
            cpu_per_1000_steady: 0.9,
            peak_pss_mib: rss,
            first_poll_ms: 10.0,
            local_cores: 0.5,
            window_s: 1.0,
        }
    }

    #[test]
    fn spread_takes_median_min_max() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(
            s,
            Spread {
                median: 2.0,
                min: 1.0,
                max: 3.0
            }
        );
        assert_eq!(Spread::of(&[1.0, 4.0]).unwrap().median, 2.5);
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(s.show(1), "2.0 (1.0–3.0)");
    }

    #[test]
    fn ratios_pair_runs_of_the_same_round() {
        let mut r = Results {
            concurrencies: vec![2],
            ..Results::default()
        };
        // Round 1: stefuna 90 vs raw 100; round 2: stefuna 200 vs raw 100. A global median of
        // each would give 145/100; pairing gives the median of 0.9 and 2.0.
        for (s, raw) in [(90.0, 100.0), (200.0, 100.0)] {
            let mut round = BTreeMap::new();
            round.insert(Kind::Stefuna, figures(s, 5.0));
            round.insert(Kind::Raw, figures(raw, 4.0));
            r.rounds.push((2, round));
        }
        let ratios = r.ratios(2, Kind::Stefuna, Kind::Raw, |f| f.tasks_per_s);
        assert_eq!(ratios, vec![0.9, 2.0]);
        let md = r.markdown("cargo xtask bench");
        assert!(md.contains("| stefuna | 2 | 2 |"), "{md}");
        assert!(md.contains("| 2 | 1.45 (0.90–2.00) |"), "{md}");
        // The median (1.45) meets 0.9, the worst run (0.90) too.
        assert!(
            md.contains("| stefuna / raw tasks/s at 2 | ≥ 0.9 | 0.900 | 1.450 | 2 | met |"),
            "{md}"
        );
    }

    #[test]
    fn a_goal_is_met_only_when_the_worst_run_meets_it() {
        let mut r = Results {
            concurrencies: vec![2],
            ..Results::default()
        };
        // Median 0.95 meets 0.9, but one run of three is 0.85.
        for s in [95.0, 85.0, 99.0] {
            let mut round = BTreeMap::new();
            round.insert(Kind::Stefuna, figures(s, 5.0));
            round.insert(Kind::Raw, figures(100.0, 4.0));
            r.rounds.push((2, round));
        }
        let md = r.markdown("cargo xtask bench");
        assert!(
            md.contains("| stefuna / raw tasks/s at 2 | ≥ 0.9 | 0.850 | 0.950 | 3 | not met |"),
            "{md}"
        );
        // A ceiling is judged on the largest run.
        r.memory = vec![figures(1.0, 60.0), figures(1.0, 70.0), figures(1.0, 50.0)];
        let md = r.markdown("cargo xtask bench");
        assert!(
            md.contains("| memory run peak PSS, MiB | ≤ 64 | 70.000 | 60.000 | 3 | not met |"),
            "{md}"
        );
    }

    #[test]
    fn chart_is_svg_with_every_series() {
        let mut r = Results {
            concurrencies: vec![2, 16],
            ..Results::default()
        };
        for c in [2, 16] {
            let mut round = BTreeMap::new();
            round.insert(Kind::Raw, figures(100.0 * c as f64, 4.0));
            round.insert(Kind::Stefuna, figures(95.0 * c as f64, 5.0));
            round.insert(Kind::Python, figures(3.0 * c as f64, 50.0));
            r.rounds.push((c, round));
        }
        let dir = std::env::temp_dir().join(format!("stefuna-bench-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chart.svg");
        r.chart(&path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(100)]);
        for label in ["raw SDK", "stefuna 1.0.1 (Python)", "tasks/s"] {
            assert!(svg.contains(label), "no `{label}` in the chart");
        }
    }
}
