//! A directory's lookup by `userName` (`GET /scim/v2/Users?filter=userName eq
//! "…"`) in the organization of 10,000 members, at rest, against the budget of
//! 20 ms at p99; the same lookup's SQL run directly is recorded beside it.

use std::sync::Arc;
use std::time::Duration;

use roster_projections::queries;
use roster_storage::Db;
use serde_json::json;

use super::app::Seeded;
use crate::load::{self, Samples};
use crate::report::{CaseResult, Goal};
use crate::server::Server;
use crate::Settings;

/// The p99 budget of a lookup, in milliseconds.
const BUDGET_MS: f64 = 20.0;

/// Runs the case.
pub async fn run(
    settings: &Settings,
    server: &Server,
    pool: &sqlx::PgPool,
    seeded: &Seeded,
) -> anyhow::Result<CaseResult> {
    let client = reqwest::Client::new();
    let (org, owner) = seeded.big.clone();
    let created: serde_json::Value = client
        .post(format!("{}/api/orgs/{org}/api-keys", server.base))
        .bearer_auth(&owner)
        .json(&json!({ "name": "bench directory", "scopes": ["scim"] }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let key = created["key"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no key in {created}"))?
        .to_owned();
    let members = settings.size.big_org_members.max(1);
    let address = move |n: usize| format!("p{}.{org}@bench.example", 1 + (n * 7919) % members);
    let length = Duration::from_secs(settings.seconds);
    let base = server.base.clone();
    let http: Samples = {
        let client = client.clone();
        let key = Arc::new(key);
        load::run(4, length, move |c, n| {
            let (client, key, base) = (client.clone(), key.clone(), base.clone());
            let wanted = address(c * 100_000 + n);
            async move {
                let response = client
                    .get(format!("{base}/scim/v2/Users"))
                    .query(&[("filter", format!("userName eq \"{wanted}\""))])
                    .bearer_auth(key.as_str())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let body: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
                (body["totalResults"] == 1)
                    .then_some(())
                    .ok_or(format!("{} found", body["totalResults"]))
            }
        })
        .await
    };
    let read = Db::Pg(pool.clone());
    let direct: Samples = load::run(4, length, move |c, n| {
        let read = read.clone();
        let wanted = address(c * 100_000 + n);
        async move {
            queries::member_by_email_key(&read, org, &wanted)
                .await
                .map_err(|e| e.to_string())?
                .map(|_| ())
                .ok_or_else(|| "not found".to_owned())
        }
    })
    .await;
    let p99 = http.quantile_ms(0.99);
    Ok(CaseResult::new(
        "scim_username_lookup_of_10000",
        p99,
        BUDGET_MS,
        "p99 ms vs budget",
        Goal::AtMost(1.0),
        http.failed == 0 && direct.failed == 0,
        json!({
            "members": members,
            "clients": 4,
            "http": http.summary(),
            "direct_sql": direct.summary(),
            "baseline_is": "the 20 ms budget; direct_sql is the same indexed lookup without HTTP",
        }),
    ))
}
