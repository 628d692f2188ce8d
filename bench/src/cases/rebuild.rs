//! Rebuilding every read model from the log (`roster replay`, the real binary)
//! against PostgreSQL copying the same table to /dev/null.

use std::time::Instant;

use anyhow::bail;
use serde_json::json;

use crate::pg::Scratch;
use crate::report::{CaseResult, Goal};
use crate::Settings;

/// The rebuild case on the seeded database.
pub async fn run(settings: &Settings, db: &Scratch, events: usize) -> anyhow::Result<CaseResult> {
    let t = Instant::now();
    sqlx::query("COPY events TO '/dev/null'")
        .execute(&db.pool)
        .await?;
    let copy_rate = events as f64 / t.elapsed().as_secs_f64();

    let t = Instant::now();
    let output = tokio::process::Command::new(&settings.roster)
        .arg("replay")
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .await?;
    let seconds = t.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "roster replay failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let rate = events as f64 / seconds;
    Ok(CaseResult::new(
        "rebuild_all_read_models",
        rate,
        copy_rate,
        "events/s",
        Goal::AtLeast(0.25),
        rate >= 50_000.0,
        json!({ "events": events, "seconds": seconds, "absolute_goal_events_per_s": 50_000 }),
    ))
}
