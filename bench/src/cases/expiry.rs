//! Many invitations with one deadline: how long after it until every one is
//! expired by the real server's worker, and each exactly once.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use chrono::Utc;
use roster_domain::SingleRole;
use roster_eventstore::{EventStore, PgStore};
use serde_json::json;

use crate::pg::Scratch;
use crate::report::{CaseResult, Goal};
use crate::seed::{self, OrgSeed};
use crate::server::{self, Server};
use crate::Settings;

/// Invitations per organization (the rest of the count is spread over organizations).
const PER_ORG: usize = 100;

/// The expiry case on its own database.
pub async fn run(settings: &Settings) -> anyhow::Result<CaseResult> {
    let db = Scratch::create(&settings.admin_url, "expiry", 8).await?;
    roster_migrations::POSTGRES.run(&db.pool).await?;
    let store: Arc<dyn EventStore> = Arc::new(PgStore::new(db.pool.clone()).await?);
    let total = settings.size.expiring;
    let now = Utc::now();
    let deadline = now + settings.size.expiry_margin;
    let ctx = seed::expiring_at(now, deadline);
    let mut streams = Vec::new();
    for _ in 0..total.div_ceil(PER_ORG) {
        let mut s = OrgSeed::new(seed::now())?;
        s.retime(ctx);
        for _ in 0..PER_ORG {
            s.invite(SingleRole::Standard)?;
        }
        streams.push((s.org, s.events));
    }
    let invited = total.div_ceil(PER_ORG) * PER_ORG;
    seed::append_all(store, streams, 4).await?;
    seed::emails_already_sent(&db.pool).await?;

    let server = Server::start(&settings.roster, &db.url, &settings.work).await?;
    let catch_up = server::caught_up(&db.pool, Duration::from_secs(600)).await?;
    let ready_before_deadline = Utc::now() < deadline;
    let until = deadline + chrono::Duration::seconds(120);
    let expired = loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE event_type = 'InvitationExpired'",
        )
        .fetch_one(&db.pool)
        .await?;
        if n as usize >= invited || Utc::now() > until {
            break n as usize;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let seconds = (Utc::now() - deadline).num_milliseconds() as f64 / 1e3;
    let distinct: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT payload->>'invitation_id') FROM events WHERE event_type = 'InvitationExpired'",
    )
    .fetch_one(&db.pool)
    .await?;
    server.stop().await;
    db.drop_now().await?;
    if !ready_before_deadline {
        bail!("the server was not caught up before the deadline: raise the margin");
    }
    let exactly_once = expired == invited && distinct as usize == invited;
    Ok(CaseResult::new(
        "expire_invitations_one_deadline",
        seconds.max(0.0),
        30.0,
        "s after deadline",
        Goal::AtMost(1.0),
        exactly_once,
        json!({
            "invitations": invited,
            "expired_events": expired,
            "distinct_invitations_expired": distinct,
            "catch_up_before_deadline_s": catch_up.as_secs_f64(),
            "baseline_is": "the 30 s budget",
        }),
    ))
}
