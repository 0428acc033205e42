//! What one fleet run measured, and the side-by-side report of two runs.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use aws_sdk_sfn::types::ExecutionStatus;
use stefuna_local::{HeartbeatTimeout, QuotaCounts, TimeoutCause, TokenAnswers};

/// Results accepted so far, at a time since the workers started.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    /// Seconds since the workers were started.
    pub(crate) at: f64,
    /// Tokens with an accepted result.
    pub(crate) done: usize,
}

/// One run's numbers.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Refill rate of the binding buckets (per real second).
    rate: f64,
    /// Tasks per second once the burst was spent (`None`: the run was too short to tell).
    steady: Option<f64>,
    /// Seconds until every execution was answered (or the run gave up).
    took: f64,
    /// Throttled calls per API.
    throttled: BTreeMap<String, u64>,
    /// Accepted calls per API.
    accepted: BTreeMap<String, u64>,
    /// Executions whose task timed out (no accepted result; heartbeat timeouts).
    timeouts: usize,
    /// Heartbeat timeouts the emulator recorded, by measured cause.
    causes: BTreeMap<TimeoutCause, usize>,
    /// Over the timeouts caused by throttling: beats and results throttled in their windows.
    throttled_in_windows: (u32, u32),
    /// Over every recorded timeout: the longest time since a call for its token (`None`: some
    /// had none), in real ms.
    longest_silence_ms: Option<u64>,
    /// Executions not SUCCEEDED at the end.
    lost: usize,
    /// Executions that handed out more than one task, or whose task's result was accepted
    /// more than once.
    twice: usize,
    /// Results sent more than once for one token (a retry after a lost answer or timeout).
    resent: usize,
}

impl Outcome {
    /// Sums up a run.
    pub(crate) fn new(
        rate: f64,
        burst: f64,
        samples: Vec<Sample>,
        counts: QuotaCounts,
        answers: &HashMap<String, TokenAnswers>,
        statuses: &HashMap<String, ExecutionStatus>,
        executions: usize,
    ) -> Outcome {
        let mut per_execution: HashMap<&str, usize> = HashMap::new();
        for a in answers.values() {
            *per_execution.entry(&a.execution_arn).or_default() += 1;
        }
        let twice = per_execution.values().filter(|n| **n > 1).count()
            + answers.values().filter(|a| a.accepted > 1).count();
        let succeeded = statuses
            .values()
            .filter(|s| **s == ExecutionStatus::Succeeded)
            .count();
        Outcome {
            rate,
            steady: steady_rate(&samples, burst, executions),
            took: samples.last().map_or(0.0, |s| s.at),
            throttled: counts
                .iter()
                .map(|(api, c)| (api.clone(), c.throttled))
                .collect(),
            accepted: counts
                .iter()
                .map(|(api, c)| (api.clone(), c.accepted))
                .collect(),
            timeouts: answers.values().filter(|a| a.accepted == 0).count(),
            causes: BTreeMap::new(),
            throttled_in_windows: (0, 0),
            longest_silence_ms: None,
            lost: executions.saturating_sub(succeeded),
            twice,
            resent: answers.values().filter(|a| a.received > 1).count(),
        }
    }
}

impl Outcome {
    /// Adds the emulator's attribution of the run's heartbeat timeouts.
    pub(crate) fn with_timeouts(mut self, heartbeat_timeouts: &[HeartbeatTimeout]) -> Outcome {
        self.causes = heartbeat_timeouts.iter().fold(BTreeMap::new(), |mut m, t| {
            *m.entry(t.cause()).or_default() += 1;
            m
        });
        self.throttled_in_windows = heartbeat_timeouts
            .iter()
            .filter(|t| t.cause() == TimeoutCause::Throttled)
            .fold((0, 0), |(b, r), t| {
                (b + t.heartbeats_throttled, r + t.results_throttled)
            });
        self.longest_silence_ms = heartbeat_timeouts
            .iter()
            .map(|t| t.since_last_call_ms)
            .try_fold(0, |m, s| s.map(|s| s.max(m)));
        self
    }
}

/// Tasks/s between the moment the burst was spent (results past `burst`) and the moment 95 %
/// of the executions were answered, so neither the free burst nor the tail counts.
fn steady_rate(samples: &[Sample], burst: f64, executions: usize) -> Option<f64> {
    let from = samples.iter().find(|s| s.done as f64 >= burst)?;
    let to_count = (executions as f64 * 0.95) as usize;
    let to = samples.iter().find(|s| s.done >= to_count)?;
    (to.at > from.at).then(|| (to.done - from.done) as f64 / (to.at - from.at))
}

/// Status of every execution of `machine` (quotas off: the listing is the driver's).
pub(crate) async fn statuses(
    sfn: &aws_sdk_sfn::Client,
    machine: &str,
) -> anyhow::Result<HashMap<String, ExecutionStatus>> {
    let mut out = HashMap::new();
    let mut pages = sfn
        .list_executions()
        .state_machine_arn(machine)
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for e in page.context("ListExecutions")?.executions() {
            out.insert(e.execution_arn().to_owned(), e.status().clone());
        }
    }
    Ok(out)
}

/// How many executions of `machine` have FAILED so far (may be throttled: then an error).
pub(crate) async fn failed(sfn: &aws_sdk_sfn::Client, machine: &str) -> anyhow::Result<usize> {
    let page = sfn
        .list_executions()
        .state_machine_arn(machine)
        .status_filter(ExecutionStatus::Failed)
        .max_results(1000)
        .send()
        .await
        .context("ListExecutions")?;
    Ok(page.executions().len())
}

/// The two runs side by side.
pub(crate) fn render(setup: &str, smart: &Outcome, naive: &Outcome) -> String {
    let mut out = format!("fleet: {setup}\n\n");
    let row = |out: &mut String, what: &str, a: String, b: String| {
        out.push_str(&format!("{what:<44} {a:>22} {b:>22}\n"));
    };
    row(
        &mut out,
        "",
        "priority+jitter on".into(),
        "priority+jitter off".into(),
    );
    let rate = |o: &Outcome| match o.steady {
        Some(r) => format!("{r:.1} ({:.0} %)", 100.0 * r / o.rate),
        None => "n/a (too short)".into(),
    };
    row(
        &mut out,
        &format!("tasks/s after the burst (refill {:.0}/s)", smart.rate),
        rate(smart),
        rate(naive),
    );
    row(
        &mut out,
        "seconds to answer every execution",
        format!("{:.1}", smart.took),
        format!("{:.1}", naive.took),
    );
    let apis: Vec<&String> = smart
        .throttled
        .keys()
        .chain(naive.throttled.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for api in apis {
        let cell = |o: &Outcome| {
            format!(
                "{} / {}",
                o.throttled.get(api).copied().unwrap_or(0),
                o.accepted.get(api).copied().unwrap_or(0)
            )
        };
        row(
            &mut out,
            &format!("{api} throttled / accepted"),
            cell(smart),
            cell(naive),
        );
    }
    row(
        &mut out,
        "heartbeat timeouts (goal 0)",
        smart.timeouts.to_string(),
        naive.timeouts.to_string(),
    );
    let cause = |o: &Outcome, c: TimeoutCause| o.causes.get(&c).copied().unwrap_or(0).to_string();
    // The emulator's attribution (stefuna_local::HeartbeatTimeout): what it saw of each
    // timed-out token's calls in its last HeartbeatSeconds.
    row(
        &mut out,
        "  caused by throttling (goal 0)",
        cause(smart, TimeoutCause::Throttled),
        cause(naive, TimeoutCause::Throttled),
    );
    let windows = |o: &Outcome| {
        format!(
            "{} / {}",
            o.throttled_in_windows.0, o.throttled_in_windows.1
        )
    };
    row(
        &mut out,
        "    their throttled beats / results",
        windows(smart),
        windows(naive),
    );
    row(
        &mut out,
        "  worker silent (no call in the window)",
        cause(smart, TimeoutCause::NotAttempted),
        cause(naive, TimeoutCause::NotAttempted),
    );
    row(
        &mut out,
        "  other (calls, none throttled)",
        cause(smart, TimeoutCause::Other),
        cause(naive, TimeoutCause::Other),
    );
    let silence = |o: &Outcome| match (o.causes.is_empty(), o.longest_silence_ms) {
        (true, _) => "-".to_owned(),
        (false, Some(ms)) => format!("{:.1} s", ms as f64 / 1000.0),
        (false, None) => "never called".to_owned(),
    };
    row(
        &mut out,
        "  longest silence of a timed-out token",
        silence(smart),
        silence(naive),
    );
    row(
        &mut out,
        "executions lost, not SUCCEEDED (goal 0)",
        smart.lost.to_string(),
        naive.lost.to_string(),
    );
    row(
        &mut out,
        "executions run twice (goal 0)",
        smart.twice.to_string(),
        naive.twice.to_string(),
    );
    row(
        &mut out,
        "results sent more than once for a token",
        smart.resent.to_string(),
        naive.resent.to_string(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steady_rate_leaves_out_the_burst_and_the_tail() {
        let samples: Vec<Sample> = [(0.5, 300), (1.0, 400), (2.0, 600), (3.0, 800), (4.0, 1000)]
            .into_iter()
            .map(|(at, done)| Sample { at, done })
            .collect();
        // From 300 (the burst) at 0.5 s to 950+ at 4 s: 700 in 3.5 s.
        assert_eq!(steady_rate(&samples, 300.0, 1000), Some(200.0));
        assert_eq!(steady_rate(&samples[..2], 300.0, 1000), None);
    }
}
