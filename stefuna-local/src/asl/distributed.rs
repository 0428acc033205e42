//! Distributed Map: a `Map` whose `ItemProcessor.ProcessorConfig.Mode` is `DISTRIBUTED` runs
//! each item as a child execution of a Map Run. Here: reading its fields from the definition,
//! resolving them at run time (with AWS's texts, see `causes`), and the events AWS records in
//! the parent (`MapStateStarted`, then the host's `MapRunStarted` .. `MapRunSucceeded` or
//! `MapRunFailed`, then `MapStateSucceeded` or `MapStateFailed`). The host runs the children.
//!
//! Only items from the input are supported (`ItemsPath`/`ItemSelector`): `ItemReader`,
//! `ItemBatcher` and `ResultWriter` read and write S3 and are refused at create.

use std::sync::Arc;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::causes;
use super::definition::{Int, MapState, State};
use super::fields::{Fields, schema};
use super::interpreter::Exec;
use super::path::Path;
use super::{DefinitionError, ErrorCause, MapRunRequest, StateMachine};

/// The Map fields that only a Distributed Map takes.
pub(crate) const FIELDS: &[&str] = &[
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
];

/// A fixed number or one read from the input.
#[derive(Clone, Debug)]
pub(crate) enum Num {
    Fixed(f64),
    Path(Path),
}

/// What a Distributed Map adds to a Map state.
#[derive(Clone, Debug)]
pub(crate) struct Distributed {
    /// The ItemProcessor as a state machine of its own: each child execution runs it.
    pub(crate) processor: Arc<StateMachine>,
    pub(crate) label: Option<String>,
    pub(crate) tolerated_count: Option<Int>,
    pub(crate) tolerated_percentage: Option<Num>,
}

/// Reads a Map state's Distributed Map settings: `None` for an inline Map (whose
/// `ProcessorConfig.Mode` is absent or `INLINE`).
pub(crate) fn parse(
    f: &Fields<'_>,
    processor: &Fields<'_>,
) -> Result<Option<Distributed>, DefinitionError> {
    let mode = match processor.get("ProcessorConfig") {
        Some(cfg) => {
            let cf = Fields::new(cfg, processor.at("ProcessorConfig"))?;
            cf.only(&["Mode", "ExecutionType"])?;
            if !matches!(
                cf.str("ExecutionType")?,
                None | Some("STANDARD" | "EXPRESS")
            ) {
                return Err(schema(
                    cf.at("ExecutionType"),
                    "ExecutionType must be STANDARD or EXPRESS",
                ));
            }
            cf.str("Mode")?.unwrap_or("INLINE")
        }
        None => "INLINE",
    };
    match mode {
        "INLINE" => {
            if let Some(k) = FIELDS.iter().find(|k| f.has(k)) {
                return Err(schema(
                    f.at(k),
                    format!(
                        "'{k}' is only accepted in a Map whose ProcessorConfig.Mode is DISTRIBUTED"
                    ),
                ));
            }
            return Ok(None);
        }
        "DISTRIBUTED" => {}
        other => {
            return Err(schema(
                processor.at("ProcessorConfig/Mode"),
                format!("unknown Map mode '{other}'; accepted: INLINE, DISTRIBUTED"),
            ));
        }
    }
    for k in ["ItemReader", "ItemBatcher", "ResultWriter"] {
        if f.has(k) {
            return Err(schema(
                f.at(k),
                format!(
                    "'{k}' reads or writes S3, which stefuna-local does not emulate; a Distributed Map here iterates over its input (ItemsPath)"
                ),
            ));
        }
    }
    let label = f.str("Label")?.map(str::to_owned);
    if let Some(l) = &label {
        // AWS's own texts for a bad label (recorded: test_sfn_api_map_run.snapshot.json).
        if l.is_empty() {
            return Err(schema(f.at("Label"), "Label cannot be empty"));
        }
        if l.chars().count() > 40 {
            return Err(schema(f.at("Label"), "Label cannot exceed 40 characters"));
        }
        if let Some(c) = l
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "?*<>{}[]:;,\\|^~$#%&`\"".contains(*c))
        {
            return Err(schema(
                f.at("Label"),
                format!("Label contains invalid character: '{c}'"),
            ));
        }
    }
    // The child machine: the ItemProcessor without its ProcessorConfig. It was validated as a
    // part of this definition already.
    let mut child = processor.obj.clone();
    child.remove("ProcessorConfig");
    let processor = super::parse(&Value::Object(child).to_string()).map_err(|mut e| {
        e.path = format!("{}{}", processor.at, e.path);
        e
    })?;
    let tolerated_count = match (
        f.has("ToleratedFailureCount"),
        f.has("ToleratedFailureCountPath"),
    ) {
        (true, true) => {
            return Err(schema(
                f.at.clone(),
                "'ToleratedFailureCount' and 'ToleratedFailureCountPath' cannot both be set",
            ));
        }
        (true, false) => Some(Int::Fixed(
            f.uint("ToleratedFailureCount", 0)?.expect("present"),
        )),
        (false, true) => Some(Int::Path(
            f.reference_path("ToleratedFailureCountPath")?
                .expect("present"),
        )),
        (false, false) => None,
    };
    let pct = "ToleratedFailurePercentage";
    let tolerated_percentage = match (f.has(pct), f.has("ToleratedFailurePercentagePath")) {
        (true, true) => {
            return Err(schema(
                f.at.clone(),
                "'ToleratedFailurePercentage' and 'ToleratedFailurePercentagePath' cannot both be set",
            ));
        }
        (true, false) => {
            let p = f.number(pct, 0.0)?.expect("present");
            if p > 100.0 {
                return Err(schema(
                    f.at(pct),
                    "'ToleratedFailurePercentage' must be between 0 and 100",
                ));
            }
            Some(Num::Fixed(p))
        }
        (false, true) => Some(Num::Path(
            f.reference_path("ToleratedFailurePercentagePath")?
                .expect("present"),
        )),
        (false, false) => None,
    };
    Ok(Some(Distributed {
        processor,
        label,
        tolerated_count,
        tolerated_percentage,
    }))
}

impl Exec {
    /// One attempt of a Distributed Map state.
    pub(super) async fn distributed_attempt(
        &self,
        st: &State,
        map: &MapState,
        dist: &Distributed,
        raw: &Value,
        entered: OffsetDateTime,
        retries: u32,
    ) -> Result<Value, ErrorCause> {
        let max_concurrency = self.max_concurrency(st, map, raw, entered, retries)?;
        let items = self.map_inputs(st, map, raw, entered, retries)?;
        self.record(
            "MapStateStarted",
            Some("mapStateStartedEventDetails"),
            &json!({ "length": items.len() }),
        );
        // Recorded on AWS: a bad tolerated-failure value fails after MapStateStarted, with no
        // Map Run and no MapStateFailed.
        let (tolerated_failure_count, tolerated_failure_percentage) = {
            let ctx = self.retrying_ctx(st, entered, retries);
            let count = match &dist.tolerated_count {
                None => None,
                Some(Int::Fixed(n)) => Some(*n),
                Some(Int::Path(p)) => Some(causes::check_count(causes::int_path(
                    "ToleratedFailureCountPath",
                    p,
                    &ctx,
                    raw,
                )?)?),
            };
            let pct = match &dist.tolerated_percentage {
                None => None,
                Some(Num::Fixed(p)) => Some(*p),
                Some(Num::Path(p)) => Some(causes::check_percentage(causes::float_path(
                    "ToleratedFailurePercentagePath",
                    p,
                    &ctx,
                    raw,
                )?)?),
            };
            (count, pct)
        };
        let run = self.host.map_run(MapRunRequest {
            state_name: st.name.clone(),
            label: dist.label.clone(),
            processor: dist.processor.clone(),
            items,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
        });
        match run.await {
            Ok(outputs) => {
                self.record("MapStateSucceeded", None, &Value::Null);
                let ctx = self.retrying_ctx(st, entered, retries);
                super::interpreter::select_result(&map.results, Value::Array(outputs), &ctx)
            }
            Err(e) => {
                self.record("MapStateFailed", None, &Value::Null);
                Err(e)
            }
        }
    }
}
