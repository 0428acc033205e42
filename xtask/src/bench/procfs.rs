//! CPU time and resident memory of a process tree, read from `/proc`.
//!
//! CPU of a tree is the sum over its live processes of `utime + stime + cutime + cstime`
//! (`/proc/PID/stat`): a child that exited and was reaped is counted in its parent's `cutime`,
//! so pool processes that come and go (stefuna 1.0.1's `maxtasksperchild`) are not lost.
//! Memory is the sum over the live processes of their own peak (`VmHWM` in `/proc/PID/status`),
//! taken at each sample; the report keeps the largest sum. For a single process that is its exact
//! peak RSS, whatever the sampling period.

use std::collections::HashMap;
use std::path::Path;

/// What one look at a process tree found.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sample {
    /// CPU ticks used by the tree (see module docs).
    pub(crate) cpu_ticks: u64,
    /// Sum of the live processes' `VmHWM`, KiB.
    pub(crate) hwm_kib: u64,
    /// Processes in the tree.
    pub(crate) processes: usize,
}

/// Watches one process tree; keeps the largest CPU and memory figures seen.
pub(crate) struct Tree {
    root: u32,
    /// Largest sample values so far.
    pub(crate) peak: Sample,
}

impl Tree {
    /// Watches the tree rooted at `root`.
    pub(crate) fn new(root: u32) -> Tree {
        Tree {
            root,
            peak: Sample::default(),
        }
    }

    /// Looks at the tree now and folds the figures into `peak`.
    pub(crate) fn sample(&mut self) -> Sample {
        let s = sample_tree(self.root);
        self.peak.cpu_ticks = self.peak.cpu_ticks.max(s.cpu_ticks);
        self.peak.hwm_kib = self.peak.hwm_kib.max(s.hwm_kib);
        self.peak.processes = self.peak.processes.max(s.processes);
        s
    }
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

/// `VmHWM` of a process in KiB (0 for a zombie or a process that is gone).
fn hwm_kib(pid: u32) -> u64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    text.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
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
            sample.hwm_kib += hwm_kib(pid);
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
        sample.hwm_kib += hwm_kib(pid);
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
        assert!(s.hwm_kib > 0);
        assert!(s.cpu_ticks > 0);
        assert_eq!(tree.peak.hwm_kib, s.hwm_kib);
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
