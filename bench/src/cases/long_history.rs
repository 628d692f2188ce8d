//! The same command on an organization with a long history and on a fresh one,
//! interleaved over HTTP: a long history must not make commands slower.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::json;

use super::app::Seeded;
use crate::load::Samples;
use crate::report::{CaseResult, Goal};
use crate::server::Server;
use crate::Settings;

/// Changes a member's role back and forth on both organizations, alternately.
pub async fn run(
    settings: &Settings,
    server: &Server,
    seeded: &Seeded,
) -> anyhow::Result<CaseResult> {
    let client = reqwest::Client::new();
    let change = |(org, token, user): &(roster_domain::OrgId, String, roster_domain::UserId),
                  n: usize| {
        let request = client
            .patch(format!("{}/api/orgs/{org}/members/{user}", server.base))
            .bearer_auth(token)
            .json(&json!({ "role": if n % 2 == 0 { "admin" } else { "standard" } }));
        async move {
            let t = Instant::now();
            let response = request.send().await?;
            let status = response.status();
            let body = response.text().await?;
            if !status.is_success() {
                bail!("ChangeRole answered {status}: {body}");
            }
            Ok::<Duration, anyhow::Error>(t.elapsed())
        }
    };
    let cold_long = change(&seeded.long, 0).await?;
    let cold_fresh = change(&seeded.fresh, 0).await?;
    let (mut long, mut fresh) = (Samples::default(), Samples::default());
    let t = Instant::now();
    for n in 1..=settings.size.long_rounds {
        long.ok.push(change(&seeded.long, n).await?);
        fresh.ok.push(change(&seeded.fresh, n).await?);
    }
    long.elapsed = t.elapsed();
    fresh.elapsed = t.elapsed();
    let ratio_p99 = long.quantile_ms(0.99) / fresh.quantile_ms(0.99);
    Ok(CaseResult::new(
        "command_on_long_history",
        long.mean_ms(),
        fresh.mean_ms(),
        "mean ms",
        Goal::AtMost(1.2),
        ratio_p99 <= 1.2,
        json!({
            "history_events": settings.size.long_history,
            "rounds": settings.size.long_rounds,
            "long": long.summary(),
            "fresh": fresh.summary(),
            "ratio_p99": ratio_p99,
            "first_command_long_ms": cold_long.as_secs_f64() * 1e3,
            "first_command_fresh_ms": cold_fresh.as_secs_f64() * 1e3,
        }),
    ))
}
