//! The store alone: appends to new streams, and to existing streams with an
//! expected version, each against pgbench doing the same on the raw table.

use std::sync::Arc;
use std::time::Duration;

use roster_eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, PgStore, StreamId};
use serde_json::json;
use uuid::Uuid;

use crate::load::{self, median};
use crate::pg::{self, Scratch};
use crate::report::{CaseResult, Goal};
use crate::Settings;

/// How many existing streams the second case spreads its appends over.
const STREAMS: usize = 10_000;

/// Both store cases on one fresh database.
pub async fn run(settings: &Settings) -> anyhow::Result<Vec<CaseResult>> {
    let db = Scratch::create(&settings.admin_url, "store", 40).await?;
    roster_migrations::POSTGRES.run(&db.pool).await?;
    sqlx::query(pg::RAW_TABLE).execute(&db.pool).await?;
    let store: Arc<dyn EventStore> = Arc::new(PgStore::new(db.pool.clone()).await?);
    let payload = super::sample_payload()?;
    let clients = settings.clients;
    let secs = settings.seconds;

    // New streams: one event each.
    let raw_new = super::raw_insert_script(&payload);
    let (mut raw, mut ours, mut via_sqlx) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = load::Samples::default();
    for _ in 0..settings.rounds {
        raw.push(pg::pgbench(&db.url, &settings.work, "new", &raw_new, clients, secs).await?);
        // The same INSERT from this process through sqlx: what the client library
        // alone costs, apart from the store's design.
        let (pool, sql) = (
            db.pool.clone(),
            Arc::new(raw_new.trim_end().trim_end_matches(';').to_owned()),
        );
        via_sqlx.push(
            load::run(clients, Duration::from_secs(secs), move |_, _| {
                let (pool, sql) = (pool.clone(), sql.clone());
                async move {
                    sqlx::query(sql.as_str())
                        .execute(&pool)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            })
            .await
            .rate(),
        );
        let s = store.clone();
        let p = payload.clone();
        last = load::run(clients, Duration::from_secs(secs), move |_, _| {
            let s = s.clone();
            let p = p.clone();
            async move {
                let stream = StreamId::new(format!("bench-{}", Uuid::now_v7()))
                    .map_err(|e| e.to_string())?;
                s.append(
                    &stream,
                    ExpectedVersion::NoStream,
                    vec![event(&p)],
                    &Metadata::default(),
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
            }
        })
        .await;
        ours.push(last.rate());
    }
    let new_streams = CaseResult::new(
        "store_append_new_streams",
        median(ours.clone()),
        median(raw.clone()),
        "events/s",
        Goal::AtLeast(0.8),
        last.failed == 0,
        json!({
            "clients": clients,
            "rounds_roster": ours,
            "rounds_raw_pgbench": raw,
            "rounds_raw_insert_via_sqlx": via_sqlx,
            "last_round": last.summary(),
        }),
    );
    new_streams.emit();

    // Existing streams, each append naming the version it expects. Each task owns
    // its share of the streams and knows their versions, as the command handler's
    // cache does; the raw baseline reads the version and inserts in one transaction.
    sqlx::query(&format!(
        "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, schema_version, payload, metadata) \
         SELECT gen_random_uuid(), 'seed-' || s, 1, 'UserInvited', 1, '{payload}', '{{}}' FROM generate_series(1, {STREAMS}) s"
    ))
    .execute(&db.pool)
    .await?;
    let names: Arc<Vec<StreamId>> = Arc::new(
        (0..STREAMS)
            .map(|i| StreamId::new(format!("seed-{i}")))
            .collect::<Result<_, _>>()?,
    );
    seed_streams(store.clone(), names.clone(), &payload, clients).await?;
    let raw_existing = format!(
        "\\set s random(1, {STREAMS})\n\
         BEGIN;\n\
         SELECT coalesce(max(stream_version), 0) + 1 AS v FROM raw_events WHERE stream_id = 'seed-' || :s \\gset\n\
         INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, schema_version, payload, metadata, hash) \
         VALUES (gen_random_uuid(), 'seed-' || :s, :v, 'UserInvited', 1, '{payload}', '{{}}', sha256(random()::text::bytea)) ON CONFLICT DO NOTHING;\n\
         END;\n"
    );
    let versions: Arc<Vec<std::sync::Mutex<u64>>> =
        Arc::new((0..STREAMS).map(|_| std::sync::Mutex::new(1)).collect());
    let (mut raw2, mut ours2) = (Vec::new(), Vec::new());
    let mut last2 = load::Samples::default();
    for _ in 0..settings.rounds {
        raw2.push(
            pg::pgbench(
                &db.url,
                &settings.work,
                "existing",
                &raw_existing,
                clients,
                secs,
            )
            .await?,
        );
        let (s, n, p, v) = (
            store.clone(),
            names.clone(),
            payload.clone(),
            versions.clone(),
        );
        last2 = load::run(clients, Duration::from_secs(secs), move |client, i| {
            let (s, n, p, v) = (s.clone(), n.clone(), p.clone(), v.clone());
            async move {
                // Spread over the task's own streams, pseudo-randomly.
                let per_task = STREAMS / clients;
                let k = client + ((i * 7919) % per_task) * clients;
                let expected = *v[k].lock().map_err(|_| "poisoned")?;
                let appended = s
                    .append(
                        &n[k],
                        ExpectedVersion::Exact(expected),
                        vec![event(&p)],
                        &Metadata::default(),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                *v[k].lock().map_err(|_| "poisoned")? = appended.last_version();
                Ok(())
            }
        })
        .await;
        ours2.push(last2.rate());
    }
    let existing = CaseResult::new(
        "store_append_existing_streams",
        median(ours2.clone()),
        median(raw2.clone()),
        "events/s",
        Goal::AtLeast(0.8),
        last2.failed == 0,
        json!({ "clients": clients, "streams": STREAMS, "rounds_roster": ours2, "rounds_raw_read_then_insert": raw2, "last_round": last2.summary() }),
    );
    existing.emit();
    db.drop_now().await?;
    Ok(vec![new_streams, existing])
}

/// Writes the first event of every `seed-N` stream, from `clients` tasks.
async fn seed_streams(
    store: Arc<dyn EventStore>,
    names: Arc<Vec<StreamId>>,
    payload: &serde_json::Value,
    clients: usize,
) -> anyhow::Result<()> {
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (s, n, p) = (store.clone(), names.clone(), payload.clone());
            tokio::spawn(async move {
                for stream in n.iter().skip(c).step_by(clients) {
                    s.append(
                        stream,
                        ExpectedVersion::NoStream,
                        vec![event(&p)],
                        &Metadata::default(),
                    )
                    .await?;
                }
                Ok::<(), anyhow::Error>(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(())
}

fn event(payload: &serde_json::Value) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "UserInvited".to_owned(),
        schema_version: 1,
        payload: payload.clone(),
        metadata: None,
    }
}
