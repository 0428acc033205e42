//! CPU time and memory of a process tree, read from `/proc`.
//!
//! CPU of a tree is the sum over its live processes of `utime + stime + cutime + cstime`
//! (`/proc/PID/stat`): a child that exited and was reaped is counted in its parent's `cutime`,
//! so pool processes that come and go (stefuna 1.0.1's `maxtasksperchild`) are not lost. Each
//! sample keeps its time, so the CPU of any window of the run can be read back.
//! Memory is PSS (`Pss:` of `/proc/PID/smaps_rollup`) summed over the tree's processes at each
//! sample; the report keeps the largest sum. PSS splits each shared page between the processes
//! mapping it, so forked workers sharing an interpreter are not counted once per process (a sum
//! of RSS would), and a sum taken at one instant is memory the tree really held at once (a sum
//! of per-process peaks would add peaks reached at different times).

use std::collections::HashMap;
use std::path::Path;

/// What one look at a process tree found.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sample {
    /// CPU ticks used by the tree (see module docs).
    pub(crate) cpu_ticks: u64,
    /// Sum of the live processes' PSS, KiB.
    pub(crate) pss_kib: u64,
    /// Processes in the tree.
    pub(crate) processes: usize,
}

/// Watches one process tree; keeps the largest CPU and memory figures seen.
pub(crate) struct Tree {
    root: u32,
    /// Largest sample values so far.
    pub(crate) peak: Sample,
    /// Every sample's CPU ticks with its time (seconds since the Unix epoch).
    pub(crate) cpu_at: Vec<(f64, u64)>,
}

impl Tree {
    /// Watches the tree rooted at `root`.
    pub(crate) fn new(root: u32) -> Tree {
        Tree {
            root,
            peak: Sample::default(),
            cpu_at: Vec::new(),
        }
    }

    /// Looks at the tree now and folds the figures into `peak`.
    pub(crate) fn sample(&mut self) -> Sample {
        let s = sample_tree(self.root);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        // CPU ticks of a live tree only grow; a smaller sum means a process left the tree.
        let ticks = self
            .cpu_at
            .last()
            .map_or(s.cpu_ticks, |l| l.1.max(s.cpu_ticks));
        self.cpu_at.push((now, ticks));
        self.peak.cpu_ticks = self.peak.cpu_ticks.max(s.cpu_ticks);
        self.peak.pss_kib = self.peak.pss_kib.max(s.pss_kib);
        self.peak.processes = self.peak.processes.max(s.processes);
        s
    }
}

impl Tree {
    /// CPU ticks the tree used between two times (seconds since the epoch), interpolated
    /// between the samples around them; `None` without samples covering both.
    pub(crate) fn cpu_between(&self, from: f64, to: f64) -> Option<f64> {
        Some(ticks_at(&self.cpu_at, to)? - ticks_at(&self.cpu_at, from)?)
    }
}

/// Ticks at time `t`, linear between the two samples around it.
fn ticks_at(samples: &[(f64, u64)], t: f64) -> Option<f64> {
    let after = samples.iter().position(|s| s.0 >= t)?;
    let (t1, c1) = samples[after];
    if after == 0 {
        return (t1 - t < 0.5).then_some(c1 as f64);
    }
    let (t0, c0) = samples[after - 1];
    let f = if t1 > t0 { (t - t0) / (t1 - t0) } else { 1.0 };
    Some(c0 as f64 + f * (c1 as f64 - c0 as f64))
}

/// Whether this kernel gives PSS (`/proc/self/smaps_rollup`, Linux 4.14+).
pub(crate) fn has_pss() -> bool {
    pss_kib(std::process::id()) > 0
}

/// Clock ticks per second of `/proc/PID/stat` times (`getconf CLK_TCK`, 100 on Linux).
pub(crate) fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// `(ppid, utime + stime + cutime + cstime)` of a process, or `None` once it is gone.
fn stat(pid: u32) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let cpu = fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<u64>().unwrap_or(0))
        .sum();
    Some((ppid, cpu))
}

/// PSS of a process in KiB (0 for a zombie or a process that is gone).
fn pss_kib(pid: u32) -> u64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
        return 0;
    };
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The children of `pid` from `/proc/PID/task/*/children`; `None` when the kernel has no such
/// file (then the caller scans all of `/proc`).
fn children_of(pid: u32) -> Option<Vec<u32>> {
    let mut kids = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let text = std::fs::read_to_string(task.path().join("children")).ok()?;
        kids.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    Some(kids)
}

fn sample_tree(root: u32) -> Sample {
    if Path::new("/proc/self/task").exists() && children_of(std::process::id()).is_some() {
        // Cheap path: walk down from the root only.
        let mut sample = Sample::default();
        let mut stack = vec![root];
        while let Some(pid) = stack.pop() {
            let Some((_, ticks)) = stat(pid) else {
                continue;
            };
            sample.cpu_ticks += ticks;
            sample.pss_kib += pss_kib(pid);
            sample.processes += 1;
            stack.extend(children_of(pid).unwrap_or_default());
        }
        return sample;
    }
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut cpu: HashMap<u32, u64> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((ppid, ticks)) = stat(pid) {
                children.entry(ppid).or_default().push(pid);
                cpu.insert(pid, ticks);
            }
        }
    }
    let mut sample = Sample::default();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        let Some(ticks) = cpu.get(&pid) else {
            continue;
        };
        sample.cpu_ticks += ticks;
        sample.pss_kib += pss_kib(pid);
        sample.processes += 1;
        if let Some(kids) = children.get(&pid) {
            stack.extend(kids);
        }
    }
    sample
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_has_cpu_and_memory() {
        let mut tree = Tree::new(std::process::id());
        // Burn a little CPU so the tick count cannot be zero.
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let s = tree.sample();
        assert!(s.processes >= 1);
        assert!(s.pss_kib > 0);
        assert!(s.cpu_ticks > 0);
        assert_eq!(tree.peak.pss_kib, s.pss_kib);
    }

    #[test]
    fn cpu_of_a_window_is_interpolated_between_samples() {
        let samples = [(10.0, 100), (11.0, 200), (12.0, 400)];
        assert_eq!(ticks_at(&samples, 10.5), Some(150.0));
        assert_eq!(ticks_at(&samples, 11.5), Some(300.0));
        assert_eq!(ticks_at(&samples, 13.0), None, "after the last sample");
        assert_eq!(ticks_at(&samples, 2.0), None, "long before the first");
        let tree = Tree {
            root: 0,
            peak: Sample::default(),
            cpu_at: samples.to_vec(),
        };
        assert_eq!(tree.cpu_between(10.5, 11.5), Some(150.0));
    }

    #[test]
    fn pss_counts_shared_pages_once_across_a_tree() {
        // A forked child shares its parent's pages: the tree's PSS stays near one process's,
        // far below the sum of the two RSS.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep runs");
        let pid = child.id();
        let (pss, rss) = (pss_kib(pid), {
            let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
            text.lines()
                .find_map(|l| l.strip_prefix("Rss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap()
        });
        let _ = child.kill();
        let _ = child.wait();
        assert!(pss > 0 && pss <= rss, "pss {pss} rss {rss}");
    }

    #[test]
    fn tree_counts_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep runs");
        let s = sample_tree(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(s.processes >= 2, "child not counted: {s:?}");
    }

    #[test]
    fn gone_process_is_empty() {
        // PID 0 never has a /proc entry.
        let s = sample_tree(0);
        assert_eq!(s.processes, 0);
        assert_eq!(s.cpu_ticks, 0);
    }
}
