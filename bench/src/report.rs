//! One result per case: Roster's figure, the baseline's figure from the same run,
//! their ratio and the goal; printed as a JSON line when measured and as a table
//! at the end.

use serde::Serialize;
use serde_json::Value;

/// Which way a ratio must go to meet its goal.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// The ratio must be at least this (rates).
    AtLeast(f64),
    /// The ratio must be at most this (latencies, seconds, memory).
    AtMost(f64),
}

impl Goal {
    fn met(self, ratio: f64) -> bool {
        match self {
            Goal::AtLeast(g) => ratio >= g,
            Goal::AtMost(g) => ratio <= g,
        }
    }

    fn text(self) -> String {
        match self {
            Goal::AtLeast(g) => format!("≥ {g}"),
            Goal::AtMost(g) => format!("≤ {g}"),
        }
    }
}

/// A measured case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// Stable name of the case.
    pub case: String,
    /// What Roster did, in `unit`.
    pub roster: f64,
    /// What the baseline did in the same run, in `unit` (for absolute goals, the goal itself).
    pub baseline: f64,
    /// The unit of both figures.
    pub unit: String,
    /// `roster / baseline`.
    pub ratio: f64,
    /// The goal on the ratio.
    pub goal: Goal,
    /// Whether the goal (and any absolute goal in `detail`) is met.
    pub met: bool,
    /// Everything else measured (latencies, rounds, counts).
    pub detail: Value,
}

impl CaseResult {
    /// A result whose ratio is `roster / baseline`; `extra_ok` carries any absolute
    /// goal the case also has.
    pub fn new(
        case: &str,
        roster: f64,
        baseline: f64,
        unit: &str,
        goal: Goal,
        extra_ok: bool,
        detail: Value,
    ) -> Self {
        let ratio = if baseline > 0.0 {
            roster / baseline
        } else {
            f64::NAN
        };
        Self {
            case: case.to_owned(),
            roster,
            baseline,
            unit: unit.to_owned(),
            ratio,
            goal,
            met: goal.met(ratio) && extra_ok,
            detail,
        }
    }

    /// Prints the JSON line (stdout) as soon as a case is measured.
    pub fn emit(&self) {
        match serde_json::to_string(self) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("cannot print {}: {e}", self.case),
        }
    }
}

/// The closing table, in Markdown so it can go straight into docs/BENCHMARKS.md.
pub fn table(results: &[CaseResult]) -> String {
    let mut out = String::from(
        "| case | Roster | baseline (same run) | unit | ratio | goal | met |\n|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.3} | {} | {} |\n",
            r.case,
            human(r.roster),
            human(r.baseline),
            r.unit,
            r.ratio,
            r.goal.text(),
            if r.met { "yes" } else { "**no**" }
        ));
    }
    out
}

fn human(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}
