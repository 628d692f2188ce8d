//! Many invitations made at once, and how long after the last one was answered
//! every invitation email has been accepted by a local SMTP server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roster_eventstore::{EventStore, PgStore};
use roster_storage::Db;
use serde_json::json;

use crate::pg::Scratch;
use crate::report::{CaseResult, Goal};
use crate::seed::{self, OrgSeed};
use crate::server::{self, Server};
use crate::smtp::Sink;
use crate::Settings;

/// Organizations, invitations in all, and clients sending them.
const ORGS: usize = 10;
const INVITATIONS: usize = 1_000;
const CLIENTS: usize = 16;

/// The budget: every email accepted within this long after the last 201.
const BUDGET_S: f64 = 10.0;

/// The email case on its own database.
pub async fn run(settings: &Settings) -> anyhow::Result<CaseResult> {
    let db = Scratch::create(&settings.admin_url, "email", 8).await?;
    roster_migrations::POSTGRES.run(&db.pool).await?;
    let store: Arc<dyn EventStore> = Arc::new(PgStore::new(db.pool.clone()).await?);
    let mut streams = Vec::new();
    let mut owners = Vec::new();
    for _ in 0..ORGS {
        let s = OrgSeed::new(seed::now())?;
        owners.push((s.org, s.owner));
        streams.push((s.org, s.events));
    }
    seed::append_all(store, streams, 4).await?;
    seed::emails_already_sent(&db.pool).await?;
    let users: Vec<_> = owners.iter().map(|(_, u)| *u).collect();
    let tokens = seed::sessions_for(&Db::Pg(db.pool.clone()), &users).await?;
    let orgs: Arc<Vec<(String, String)>> = Arc::new(
        owners
            .iter()
            .zip(tokens)
            .map(|((org, _), token)| (org.to_string(), token))
            .collect(),
    );

    let sink = Sink::start().await?;
    let server = Server::start_with(
        &settings.roster,
        &db.url,
        &settings.work,
        &[("SMTP_URL", sink.url.as_str())],
    )
    .await?;
    server::caught_up(&db.pool, Duration::from_secs(120)).await?;

    let next = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (next, created, orgs, http, base) = (
            next.clone(),
            created.clone(),
            orgs.clone(),
            http.clone(),
            server.base.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut last = None;
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= INVITATIONS {
                    return last;
                }
                let (org, token) = &orgs[n % orgs.len()];
                let answer = http
                    .post(format!("{base}/api/orgs/{org}/invitations"))
                    .bearer_auth(token)
                    .json(&json!({
                        "email": format!("invitee{n}@example.com"),
                        "full_name": "Ina Vitee",
                        "role": "standard",
                    }))
                    .send()
                    .await;
                if answer.is_ok_and(|a| a.status().as_u16() == 201) {
                    created.fetch_add(1, Ordering::SeqCst);
                    last = Some(Instant::now());
                }
            }
        }));
    }
    let mut last_created = started;
    for client in clients {
        if let Some(at) = client.await? {
            last_created = last_created.max(at);
        }
    }
    let created = created.load(Ordering::SeqCst);
    let invitations_s = last_created.duration_since(started).as_secs_f64();
    let give_up = Instant::now() + Duration::from_secs(180);
    while sink.arrivals().len() < created && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let arrivals = sink.arrivals();
    let all_arrived = arrivals.len() >= created;
    let last_email = arrivals.iter().max().copied().unwrap_or(last_created);
    let after_s = last_email
        .saturating_duration_since(last_created)
        .as_secs_f64();
    server.stop().await;
    db.drop_now().await?;
    Ok(CaseResult::new(
        "invitation_emails_after_a_burst",
        after_s,
        BUDGET_S,
        "s after the last 201",
        Goal::AtMost(1.0),
        all_arrived && created == INVITATIONS,
        json!({
            "organizations": ORGS,
            "clients": CLIENTS,
            "invitations_created": created,
            "emails_accepted": arrivals.len(),
            "invitations_took_s": invitations_s,
            "emails_per_s_after_the_burst": if after_s > 0.0 { arrivals.len() as f64 / (after_s + invitations_s) } else { f64::NAN },
            "baseline_is": "the 10 s budget",
        }),
    ))
}
