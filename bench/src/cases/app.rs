//! The whole application on one large data set: rebuild every read model from the
//! log, then the real server under the command load, reads under that load, a
//! command on a long history, a directory's lookup by address, and the server's
//! memory afterwards.

use std::sync::Arc;
use std::time::Instant;

use roster_domain::{OrgId, UserId};
use roster_eventstore::{EventStore, PgStore};
use roster_storage::Db;
use serde_json::json;

use super::{connections, http, long_history, rebuild, scim};
use crate::pg::Scratch;
use crate::report::{CaseResult, Goal};
use crate::seed::{self, OrgSeed};
use crate::server::{self, Server};
use crate::Settings;

/// What the seeded data set holds, for the cases that use it.
pub struct Seeded {
    /// Organizations with a signed-in owner: (org, owner's bearer token).
    pub orgs: Vec<(OrgId, String)>,
    /// The organization with many members, and its owner's token.
    pub big: (OrgId, String),
    /// The organization with a long history: (org, owner token, a member to change).
    pub long: (OrgId, String, UserId),
    /// A fresh organization to compare with: (org, owner token, a member to change).
    pub fresh: (OrgId, String, UserId),
    /// Events in the log.
    pub events: usize,
}

/// Runs the application cases.
pub async fn run(settings: &Settings) -> anyhow::Result<Vec<CaseResult>> {
    let db = Scratch::create(&settings.admin_url, "app", 8).await?;
    roster_migrations::POSTGRES.run(&db.pool).await?;
    let store: Arc<dyn EventStore> = Arc::new(PgStore::new(db.pool.clone()).await?);
    let read = Db::Pg(db.pool.clone());
    let started = Instant::now();
    let seeded = seed_all(settings, store, &read).await?;
    seed::emails_already_sent(&db.pool).await?;
    eprintln!(
        "seeded {} events in {:.1} s",
        seeded.events,
        started.elapsed().as_secs_f64()
    );

    let mut results = vec![rebuild::run(settings, &db, seeded.events).await?];
    results[0].emit();

    let server = Server::start(&settings.roster, &db.url, &settings.work).await?;
    server::caught_up(&db.pool, std::time::Duration::from_secs(600)).await?;
    let rss_start = server.rss_mib();
    let sampler = connections::Sampler::start(db.pool.clone(), db.name.clone());
    for r in http::run(settings, &server, &db.pool, &db.url, &seeded).await? {
        r.emit();
        results.push(r);
    }
    for r in long_history::run(settings, &server, &seeded, &db.pool).await? {
        r.emit();
        results.push(r);
    }
    let lookup = scim::run(settings, &server, &db.pool, &seeded).await?;
    lookup.emit();
    results.push(lookup);
    let (most, samples) = sampler.finish().await;
    let (rest, quiet_after) = connections::at_rest(&db.pool, &db.name).await?;
    let held = connections::result(most, samples, rest, quiet_after);
    held.emit();
    results.push(held);

    let peak = server.peak_rss_mib().unwrap_or(f64::NAN);
    let rss = CaseResult::new(
        "server_peak_rss",
        peak,
        200.0,
        "MiB",
        Goal::AtMost(1.0),
        true,
        json!({
            "events_in_log": seeded.events,
            "rss_after_start_mib": rss_start,
            "rss_at_end_mib": server.rss_mib(),
            "baseline_is": "the 200 MiB budget",
        }),
    );
    rss.emit();
    results.push(rss);
    server.stop().await;
    db.drop_now().await?;
    Ok(results)
}

async fn seed_all(
    settings: &Settings,
    store: Arc<dyn EventStore>,
    read: &Db,
) -> anyhow::Result<Seeded> {
    let mut streams = Vec::new();
    let mut owners = Vec::new();
    let mut orgs = Vec::new();
    let mut events = 0usize;
    for _ in 0..settings.size.orgs {
        let s = OrgSeed::new(seed::now())?;
        orgs.push(s.org);
        owners.push(s.owner);
        events += s.events.len();
        streams.push((s.org, s.events));
    }
    let mut big = OrgSeed::new(seed::now())?;
    big.add_members(settings.size.big_org_members)?;
    let big_ids = (big.org, big.owner);
    events += big.events.len();
    streams.push((big.org, big.events));

    let mut long = OrgSeed::new(seed::now())?;
    long.add_members(1)?;
    long.churn_to(settings.size.long_history)?;
    let long_ids = (long.org, long.owner, long.members[0]);
    events += long.events.len();
    streams.push((long.org, long.events));

    let mut fresh = OrgSeed::new(seed::now())?;
    fresh.add_members(1)?;
    let fresh_ids = (fresh.org, fresh.owner, fresh.members[0]);
    events += fresh.events.len();
    streams.push((fresh.org, fresh.events));

    // Filler: organizations of about 1,000 events each, up to the log size asked.
    let written = seed::append_all(store.clone(), streams, 4).await?;
    let mut total = written;
    while total < settings.size.log_events {
        let mut batch = Vec::new();
        for _ in 0..40 {
            let mut s = OrgSeed::new(seed::now())?;
            s.add_members(50)?;
            s.churn_to(1_000)?;
            batch.push((s.org, s.events));
        }
        total += seed::append_all(store.clone(), batch, 4).await?;
    }
    debug_assert_eq!(written, events);

    let mut users: Vec<UserId> = owners.clone();
    users.extend([big_ids.1, long_ids.1, fresh_ids.1]);
    let tokens = seed::sessions_for(read, &users).await?;
    let n = orgs.len();
    Ok(Seeded {
        orgs: orgs.into_iter().zip(tokens.iter().cloned()).collect(),
        big: (big_ids.0, tokens[n].clone()),
        long: (long_ids.0, tokens[n + 1].clone(), long_ids.2),
        fresh: (fresh_ids.0, tokens[n + 2].clone(), fresh_ids.2),
        events: total,
    })
}
