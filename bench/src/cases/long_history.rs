//! The same command on an organization with a long history and on a fresh one,
//! interleaved over HTTP: a long history must not make commands slower. Then the
//! member list *as of* moments of that stretch, which must not grow with history.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::json;

use super::app::Seeded;
use crate::load::Samples;
use crate::report::{CaseResult, Goal};
use crate::server::{self, Server};
use crate::Settings;

/// Changes a member's role back and forth on both organizations, alternately;
/// then reads the members as of moments of that stretch.
pub async fn run(
    settings: &Settings,
    server: &Server,
    seeded: &Seeded,
    pool: &sqlx::PgPool,
) -> anyhow::Result<Vec<CaseResult>> {
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
    let from = chrono::Utc::now();
    let t = Instant::now();
    for n in 1..=settings.size.long_rounds {
        long.ok.push(change(&seeded.long, n).await?);
        fresh.ok.push(change(&seeded.fresh, n).await?);
    }
    long.elapsed = t.elapsed();
    fresh.elapsed = t.elapsed();
    let until = chrono::Utc::now();
    let ratio_p99 = long.quantile_ms(0.99) / fresh.quantile_ms(0.99);
    let command = CaseResult::new(
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
    );
    // The invite case's emails may still be going out (outcomes appended):
    // an as-of read waits for the projector to pass the head, so measure the
    // query once the log is still.
    let settled = server::settled(pool, Duration::from_secs(120)).await?;
    let mut as_of = members_as_of(settings, server, seeded, from, until).await?;
    as_of.detail["waited_for_a_still_log_s"] = json!(settled.as_secs_f64());
    Ok(vec![command, as_of])
}

/// `GET /members?as_of=` at moments spread over `from..until` (the member whose
/// role the command case flipped has a period per change), on the long history
/// and, for comparison, on the fresh organization. The goal is the budget itself:
/// p99 at most 20 ms whatever the history's length.
async fn members_as_of(
    settings: &Settings,
    server: &Server,
    seeded: &Seeded,
    from: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<CaseResult> {
    const BUDGET_MS: f64 = 20.0;
    let client = reqwest::Client::new();
    let span = (until - from).num_microseconds().unwrap_or(1).max(1);
    let read = |(org, token, _): &(roster_domain::OrgId, String, roster_domain::UserId),
                k: usize| {
        let rounds = settings.size.long_rounds.max(1) as i64;
        let at = from + chrono::Duration::microseconds(span * (k as i64 % rounds) / rounds);
        let request = client
            .get(format!("{}/api/orgs/{org}/members", server.base))
            .query(&[("as_of", at.to_rfc3339())])
            .bearer_auth(token);
        async move {
            let t = Instant::now();
            let response = request.send().await?;
            let status = response.status();
            let body: serde_json::Value = response.json().await?;
            if !status.is_success() || body["members"].as_array().is_none_or(|m| m.is_empty()) {
                bail!("members as of {at} answered {status}: {body}");
            }
            Ok::<Duration, anyhow::Error>(t.elapsed())
        }
    };
    // The first read waits for the projector to apply the role changes just
    // made; the budget is for the query, so that wait is not counted.
    read(&seeded.long, 0).await?;
    read(&seeded.fresh, 0).await?;
    let (mut long, mut fresh) = (Samples::default(), Samples::default());
    let t = Instant::now();
    for k in 0..settings.size.long_rounds * 2 {
        long.ok.push(read(&seeded.long, k).await?);
        fresh.ok.push(read(&seeded.fresh, k).await?);
    }
    long.elapsed = t.elapsed();
    fresh.elapsed = t.elapsed();
    let p99 = long.quantile_ms(0.99);
    Ok(CaseResult::new(
        "members_as_of_long_history",
        p99,
        BUDGET_MS,
        "p99 ms",
        Goal::AtMost(1.0),
        p99 <= BUDGET_MS,
        json!({
            "history_events": settings.size.long_history,
            "periods_of_the_changed_member": settings.size.long_rounds + 1,
            "baseline_is": "the 20 ms budget",
            "long": long.summary(),
            "fresh": fresh.summary(),
            "p99_ratio_long_to_fresh": p99 / fresh.quantile_ms(0.99),
        }),
    ))
}
