//! Does a command on an organization with a long history cost the same as on a
//! fresh one? Builds an org with 50,000 events and a fresh org in one PostgreSQL
//! schema, then times the same command on both, interleaved, with one handler.
//! Prints one JSON object; the number that matters is `ratio_mean` (budget ≤ 1.2).
//!
//! `cargo bench -p roster-commands --bench handler` (PostgreSQL from
//! `ROSTER_BENCH_DATABASE_URL`, default the local test server).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use roster_commands::{Handler, HandlerConfig, OrgAggregate, SystemClock};
use roster_domain::organization::{self, Actor, Context, Envelope, OrgCommand, OrgEvent};
use roster_domain::*;
use roster_eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, PgStore, StreamId};
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

const HISTORY: usize = 50_000;
const ROUNDS: usize = 400;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("ROSTER_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("bench_{}", Uuid::now_v7().simple());
    let admin = sqlx::PgPool::connect(&url).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await?;
    let options = PgStore::connect_options(&url)?.options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    roster_migrations::POSTGRES.run(&pool).await?;
    let store: Arc<dyn EventStore> = Arc::new(PgStore::new(pool).await?);

    let (big, member_big) = seed(&store, HISTORY).await?;
    let (fresh, member_fresh) = seed(&store, 0).await?;
    let handler: Handler<OrgAggregate> = Handler::new(
        store.clone(),
        Arc::new(SystemClock),
        HandlerConfig::default(),
    );

    let started = Instant::now();
    toggle(&handler, big.0, member_big, 0).await?;
    let cold_load_big = started.elapsed();
    toggle(&handler, fresh.0, member_fresh, 0).await?;

    let (mut on_big, mut on_fresh) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let t = Instant::now();
        toggle(&handler, big.0, member_big, round).await?;
        on_big.push(t.elapsed());
        let t = Instant::now();
        toggle(&handler, fresh.0, member_fresh, round).await?;
        on_fresh.push(t.elapsed());
    }
    let (big_stats, fresh_stats) = (stats(&mut on_big), stats(&mut on_fresh));
    let report = serde_json::json!({
        "bench": "command_on_long_history",
        "history_events": big.1,
        "rounds": ROUNDS,
        "command": "ChangeRole",
        "long_history": big_stats,
        "fresh": fresh_stats,
        "ratio_mean": big_stats["mean_us"].as_f64().unwrap_or(0.0) / fresh_stats["mean_us"].as_f64().unwrap_or(1.0),
        "ratio_p99": big_stats["p99_us"].as_f64().unwrap_or(0.0) / fresh_stats["p99_us"].as_f64().unwrap_or(1.0),
        "cold_load_long_history_ms": cold_load_big.as_secs_f64() * 1e3,
    });
    println!("{report}");
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await?;
    Ok(())
}

/// Writes an org with an owner, a member, and `extra` more events (invite/cancel
/// pairs), in big appends. Returns ((org, events written), member).
async fn seed(
    store: &Arc<dyn EventStore>,
    extra: usize,
) -> anyhow::Result<((OrgId, usize), UserId)> {
    let org = OrgId::from_uuid(Uuid::now_v7());
    let owner = UserId::from_uuid(Uuid::now_v7());
    let member = UserId::from_uuid(Uuid::now_v7());
    let mut state = None;
    let mut events: Vec<OrgEvent> = Vec::new();
    let mut run = |actor: Actor, command: OrgCommand| -> anyhow::Result<usize> {
        let ctx = Context::at(Utc::now());
        let new = organization::decide(state.as_ref(), &Envelope { actor, command }, &ctx)?;
        for e in &new {
            state = organization::evolve(state.take(), e);
        }
        events.extend(new);
        Ok(events.len())
    };
    let token = |n: usize| TokenDigest::from_bytes([(n % 251) as u8; 32]);
    let invite =
        |n: usize, email: String, role: SingleRole| -> anyhow::Result<(InvitationId, OrgCommand)> {
            let id = InvitationId::from_uuid(Uuid::now_v7());
            Ok((
                id,
                OrgCommand::InviteUser {
                    invitation_id: id,
                    send_id: SendId::from_uuid(Uuid::now_v7()),
                    email: Email::parse(&email)?,
                    full_name: PersonName::parse("Bench Person")?,
                    role: Role::Single(role),
                    token_digest: token(n),
                },
            ))
        };
    run(
        Actor::System,
        OrgCommand::CreateOrganization {
            org_id: org,
            name: DisplayName::parse("Bench Org")?,
            shape: OrgShape::Single,
            accounts: vec![],
        },
    )?;
    for (n, (user, role)) in [(owner, SingleRole::Owner), (member, SingleRole::Admin)]
        .into_iter()
        .enumerate()
    {
        let (id, cmd) = invite(n, format!("p{n}@bench.io"), role)?;
        run(Actor::System, cmd)?;
        run(
            Actor::System,
            OrgCommand::AcceptInvite {
                invitation_id: id,
                token_digest: token(n),
                user_id: user,
                full_name: PersonName::parse("Bench Person")?,
            },
        )?;
    }
    let mut n = 2;
    let mut written = 0;
    while written < extra {
        let (id, cmd) = invite(n, format!("guest{n}@bench.io"), SingleRole::Standard)?;
        run(Actor::User(owner), cmd)?;
        written = run(
            Actor::User(owner),
            OrgCommand::CancelInvite { invitation_id: id },
        )?;
        n += 1;
    }
    let stream = StreamId::new(org.stream_name())?;
    let mut version = 0u64;
    for chunk in events.chunks(5_000) {
        let batch: Vec<NewEvent> = chunk
            .iter()
            .map(|e| {
                let (t, v, p) = encode(e).expect("events encode");
                NewEvent {
                    event_id: Uuid::now_v7(),
                    event_type: t.to_owned(),
                    schema_version: v,
                    payload: p,
                    metadata: None,
                }
            })
            .collect();
        let expected = if version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(version)
        };
        version = store
            .append(&stream, expected, batch, &Metadata::default())
            .await?
            .last_version();
    }
    Ok(((org, events.len()), member))
}

async fn toggle(
    handler: &Handler<OrgAggregate>,
    org: OrgId,
    member: UserId,
    round: usize,
) -> anyhow::Result<()> {
    let role = if round % 2 == 0 {
        SingleRole::Standard
    } else {
        SingleRole::Admin
    };
    let cmd = Envelope {
        actor: Actor::System,
        command: OrgCommand::ChangeRole {
            user_id: member,
            role: Role::Single(role),
        },
    };
    let outcome = handler.execute(org, &cmd, &Metadata::default()).await?;
    anyhow::ensure!(
        !outcome.events.is_empty(),
        "the benchmark command must write"
    );
    Ok(())
}

fn stats(samples: &mut [Duration]) -> serde_json::Value {
    samples.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = samples.iter().map(|d| us(*d)).sum::<f64>() / samples.len() as f64;
    let pct = |p: f64| us(samples[((samples.len() as f64 - 1.0) * p).round() as usize]);
    serde_json::json!({ "mean_us": mean, "p50_us": pct(0.5), "p99_us": pct(0.99) })
}
