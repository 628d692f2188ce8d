//! How fast do read models rebuild from the log? Writes `ROSTER_BENCH_EVENTS`
//! (default 200,000) organization events into a fresh PostgreSQL schema, then
//! times (1) a plain read of the whole log — the baseline — and (2) rebuilding each
//! projection. Prints one JSON object; the budget is ≥ 50,000 events/s.
//!
//! `cargo bench -p roster-projections --bench rebuild`

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use roster_domain::organization::{decide, evolve, Actor, Context, Envelope, OrgCommand, OrgEvent};
use roster_domain::*;
use roster_eventstore::{
    EventStore, ExpectedVersion, Metadata, NewEvent, PgStore, Position, StreamId,
};
use roster_projections::rebuild::{rebuild, rebuild_many};
use roster_storage::Db;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

/// Counts heap allocations, so the bench can say how many each event costs.
struct Counting;

static ALLOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { std::alloc::System.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("ROSTER_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let target: usize = std::env::var("ROSTER_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
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
    let store: Arc<dyn EventStore> = Arc::new(PgStore::new(pool.clone()).await?);
    let db = Db::Pg(pool);

    let mut written = 0usize;
    while written < target {
        written += seed_org(store.as_ref(), 1_000).await?;
    }

    // One untimed pass first: the first read after a bulk load also sets the
    // rows' hint bits (writes), which no later read pays.
    let mut after = Position::START;
    loop {
        let batch = store.read_all(after, 2_000).await?;
        let Some(last) = batch.last() else { break };
        after = last.global_position;
    }

    let started = Instant::now();
    let allocations_before_read = allocations();
    let mut after = Position::START;
    let mut read = 0usize;
    loop {
        let batch = store.read_all(after, 2_000).await?;
        let Some(last) = batch.last() else { break };
        after = last.global_position;
        read += batch.len();
    }
    let read_rate = read as f64 / started.elapsed().as_secs_f64();
    let read_allocations = allocations() - allocations_before_read;

    // One untimed pass of the rebuild's read too: a statement's first runs on
    // each pooled connection are slower (about 60k events/s, then 190k).
    read_raw_through(store.as_ref()).await?;
    let raw_started = Instant::now();
    let allocations_before_raw = allocations();
    read_raw_through(store.as_ref()).await?;
    let raw_rate = read as f64 / raw_started.elapsed().as_secs_f64();
    let raw_allocations = allocations() - allocations_before_raw;

    // Reading and decoding alone: a rebuild of no read model.
    let decode_before = allocations();
    rebuild_many(&db, store.as_ref(), &[], false, |_, _| {}).await?;
    let decode_allocations = allocations() - decode_before;

    let mut per_projection = serde_json::Map::new();
    let mut per_projection_allocations = serde_json::Map::new();
    for p in roster_projections::all() {
        let before = allocations();
        let report = rebuild(&db, store.as_ref(), p.as_ref(), false, |_, _| {}).await?;
        per_projection.insert(
            p.name().to_owned(),
            serde_json::json!(report.events as f64 / report.seconds),
        );
        per_projection_allocations.insert(
            p.name().to_owned(),
            serde_json::json!((allocations() - before) as f64 / read as f64),
        );
    }
    let all = roster_projections::all();
    let refs: Vec<&dyn roster_projections::Projection> = all.iter().map(|p| p.as_ref()).collect();
    let all_started = Instant::now();
    let allocations_before_all = allocations();
    rebuild_many(&db, store.as_ref(), &refs, false, |_, _| {}).await?;
    let all_seconds = all_started.elapsed().as_secs_f64();
    let all_allocations = allocations() - allocations_before_all;
    let all_rate = read as f64 / all_seconds;
    println!(
        "{}",
        serde_json::json!({
            "bench": "rebuild_read_models",
            "events": read,
            "baseline_read_all_events_per_s": read_rate,
            "events_per_s_by_projection": per_projection,
            "all_projections_events_per_s": all_rate,
            "all_projections_vs_read_all": all_rate / read_rate,
            "read_all_allocations_per_event": read_allocations as f64 / read as f64,
            "read_all_raw_events_per_s": raw_rate,
            "read_all_raw_allocations_per_event": raw_allocations as f64 / read as f64,
            "all_projections_allocations_per_event": all_allocations as f64 / read as f64,
            "read_and_decode_allocations_per_event": decode_allocations as f64 / read as f64,
            "allocations_per_event_by_projection": per_projection_allocations,
            "budget_events_per_s": 50_000,
        })
    );
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await?;
    Ok(())
}

/// Reads the whole log as a rebuild does, into one reused batch.
async fn read_raw_through(store: &dyn EventStore) -> anyhow::Result<()> {
    let mut after = Position::START;
    let mut raw = roster_eventstore::RawBatch::default();
    loop {
        store.read_all_raw(after, 2_000, &mut raw).await?;
        let Some(last) = raw.last_position() else {
            return Ok(());
        };
        after = last;
    }
}

/// One single-account org with an owner and invite/accept/role-change/remove
/// churn, about `size` events, appended in large batches.
async fn seed_org(store: &dyn EventStore, size: usize) -> anyhow::Result<usize> {
    let org = OrgId::from_uuid(Uuid::now_v7());
    let owner = UserId::from_uuid(Uuid::now_v7());
    let mut state = None;
    let mut events: Vec<OrgEvent> = Vec::new();
    let mut run = |actor: Actor, command: OrgCommand| -> anyhow::Result<usize> {
        let new = decide(
            state.as_ref(),
            &Envelope { actor, command },
            &Context::at(Utc::now()),
        )?;
        for e in &new {
            state = evolve(state.take(), e);
        }
        events.extend(new);
        Ok(events.len())
    };
    let digest = TokenDigest::from_bytes([9; 32]);
    run(
        Actor::System,
        OrgCommand::CreateOrganization {
            org_id: org,
            name: DisplayName::parse("Bench")?,
            shape: OrgShape::Single,
            accounts: vec![],
        },
    )?;
    let mut n = 0usize;
    loop {
        let id = InvitationId::from_uuid(Uuid::now_v7());
        let user = if n == 0 {
            owner
        } else {
            UserId::from_uuid(Uuid::now_v7())
        };
        let role = Role::Single(if n == 0 {
            SingleRole::Owner
        } else {
            SingleRole::Standard
        });
        run(
            Actor::System,
            OrgCommand::InviteUser {
                invitation_id: id,
                send_id: SendId::from_uuid(Uuid::now_v7()),
                email: Email::parse(&format!("p{n}@bench.io"))?,
                full_name: PersonName::parse(&format!("Person {n}"))?,
                role,
                token_digest: digest,
            },
        )?;
        let mut len = run(
            Actor::System,
            OrgCommand::AcceptInvite {
                invitation_id: id,
                token_digest: digest,
                user_id: user,
                full_name: PersonName::parse(&format!("Person {n}"))?,
            },
        )?;
        if n > 0 {
            len = run(
                Actor::User(owner),
                OrgCommand::ChangeRole {
                    user_id: user,
                    role: Role::Single(SingleRole::Admin),
                },
            )?;
            if n % 3 == 0 {
                len = run(Actor::User(owner), OrgCommand::RemoveUser { user_id: user })?;
            }
        }
        n += 1;
        if len >= size {
            break;
        }
    }
    let stream = StreamId::new(org.stream_name())?;
    let mut version = 0;
    for chunk in events.chunks(2_000) {
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
            .append(
                &stream,
                expected,
                batch,
                // As a request's appends carry it: who, which request, which intent.
                &Metadata {
                    actor: Some(owner.to_string()),
                    correlation_id: Some(Uuid::now_v7()),
                    request_id: Some(format!("req-{version}")),
                    ..Metadata::default()
                },
            )
            .await?
            .last_version();
    }
    Ok(events.len())
}
