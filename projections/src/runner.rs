//! Keeping projections up to date: each follows the log from its own checkpoint,
//! applying a batch of events and advancing the checkpoint in ONE transaction, so a
//! crash at any point neither repeats nor loses an event.
//!
//! The checkpoint is advanced optimistically (`… WHERE position = <what we read>`):
//! if anything else moved it meanwhile (a second runner, a rebuild swapped in),
//! the batch is dropped and re-read, so double-running is wasteful but never
//! wrong. On PostgreSQL an advisory lock per projection still keeps exactly one
//! runner busy across instances; when its holder dies, the lock is released with
//! its connection and another instance takes over.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use roster_domain::{decode, OrgEvent, OrgId};
use roster_eventstore::{EventStore, Position, RecordedEvent};
use tokio::sync::watch;

use crate::db::{pos_i64, time_text, ReadDb};
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use crate::{exec, fetch};

/// Events per transaction while catching up.
pub const CATCH_UP_BATCH: usize = 500;

/// Where a projection stands, for `/readyz`, metrics and operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    /// The projection.
    pub name: String,
    /// The last position applied.
    pub position: Position,
    /// The last failure, while it has not been overcome.
    pub failure: Option<String>,
    /// Where it failed.
    pub failed_position: Option<Position>,
}

/// Turns a stored event into what projections take; `None` for streams they ignore.
pub fn to_projected(r: &RecordedEvent) -> Result<Option<ProjectedEvent>, ProjectionError> {
    let Some(id) = r.stream_id.as_str().strip_prefix("org-") else {
        return Ok(None);
    };
    let decode_error = |reason: String| ProjectionError::Decode {
        event_id: r.event_id,
        position: r.global_position,
        reason,
    };
    let org_id: OrgId = id
        .parse()
        .map_err(|e: uuid::Error| decode_error(e.to_string()))?;
    let event: OrgEvent = decode(&r.event_type, r.schema_version, &r.payload)
        .map_err(|e| decode_error(e.to_string()))?;
    Ok(Some(ProjectedEvent {
        org_id,
        position: r.global_position,
        event_id: r.event_id,
        recorded_at: r.recorded_at,
        metadata: r.metadata.clone(),
        event,
    }))
}

/// Creates a projection's tables and checkpoint when missing, or rebuilds them in
/// place from position 0 when the stored version differs from the code's.
pub async fn ensure_installed(db: &ReadDb, p: &dyn Projection) -> Result<(), ProjectionError> {
    let mut tx = db.begin().await?;
    let row = fetch!(
        tx &mut tx,
        fetch_optional,
        (i64,),
        "SELECT version FROM projection_checkpoints WHERE name = $1",
        p.name()
    )?;
    match row {
        Some((v,)) if v == p.version() => return Ok(()),
        Some((v,)) => {
            tracing::warn!(
                projection = p.name(),
                from = v,
                to = p.version(),
                "projection changed; rebuilding from the start"
            );
            for table in p.tables() {
                exec!(&mut tx, &format!("DROP TABLE IF EXISTS {table}"))?;
            }
            exec!(
                &mut tx,
                "DELETE FROM projection_checkpoints WHERE name = $1",
                p.name()
            )?;
        }
        None => {}
    }
    for statement in p.create_sql("") {
        exec!(&mut tx, &statement)?;
    }
    exec!(
        &mut tx,
        "INSERT INTO projection_checkpoints (name, version, position, updated_at) VALUES ($1, $2, 0, $3)",
        p.name(),
        p.version(),
        time_text(Utc::now())
    )?;
    tx.commit().await?;
    Ok(())
}

/// Applies the next batch (at most `max` events, none past `until`) to the tables
/// with `suffix`, advancing checkpoint `checkpoint`. Returns how many events were
/// consumed (0: nothing new, or another runner moved the checkpoint first).
pub async fn apply_batch(
    db: &ReadDb,
    store: &dyn EventStore,
    p: &dyn Projection,
    suffix: &str,
    checkpoint: &str,
    max: usize,
    until: Option<Position>,
) -> Result<usize, ProjectionError> {
    let Some((from,)) = fetch!(
        db db,
        fetch_optional,
        (i64,),
        "SELECT position FROM projection_checkpoints WHERE name = $1",
        checkpoint
    )?
    else {
        return Err(ProjectionError::Inconsistent(format!(
            "checkpoint {checkpoint} is missing"
        )));
    };
    let from = Position(u64::try_from(from).unwrap_or(0));
    let mut events = store.read_all(from, max).await?;
    if let Some(until) = until {
        events.retain(|e| e.global_position <= until);
    }
    let Some(last) = events.last().map(|e| e.global_position) else {
        return Ok(0);
    };
    let mut tx = db.begin().await?;
    let moved = exec!(
        &mut tx,
        "UPDATE projection_checkpoints SET position = $2, updated_at = $3, failure = NULL, failed_position = NULL \
         WHERE name = $1 AND position = $4",
        checkpoint,
        pos_i64(last),
        time_text(Utc::now()),
        pos_i64(from)
    )?;
    if moved == 0 {
        return Ok(0);
    }
    for recorded in &events {
        if let Some(event) = to_projected(recorded)? {
            p.apply(&mut tx, suffix, &event).await.map_err(|e| {
                tracing::error!(projection = p.name(), event_id = %recorded.event_id, position = %recorded.global_position, error = %e, "projection failed");
                e
            })?;
        }
    }
    tx.commit().await?;
    Ok(events.len())
}

async fn record_failure(
    db: &ReadDb,
    store: &dyn EventStore,
    checkpoint: &str,
    error: &ProjectionError,
) {
    let at = match fetch!(
        db db,
        fetch_optional,
        (i64,),
        "SELECT position FROM projection_checkpoints WHERE name = $1",
        checkpoint
    ) {
        Ok(Some((p,))) => store
            .read_all(Position(u64::try_from(p).unwrap_or(0)), 1)
            .await
            .ok()
            .and_then(|e| e.first().map(|e| pos_i64(e.global_position))),
        _ => None,
    };
    let Ok(mut tx) = db.begin().await else { return };
    let _ = exec!(
        &mut tx,
        "UPDATE projection_checkpoints SET failure = $2, failed_position = $3 WHERE name = $1",
        checkpoint,
        error.to_string(),
        at
    );
    let _ = tx.commit().await;
}

/// Every projection's checkpoint and failure state.
pub async fn statuses(db: &ReadDb) -> Result<Vec<ProjectionStatus>, sqlx::Error> {
    let rows = fetch!(
        db db,
        fetch_all,
        (String, i64, Option<String>, Option<i64>),
        "SELECT name, position, failure, failed_position FROM projection_checkpoints ORDER BY name"
    )?;
    Ok(rows
        .into_iter()
        .map(|(name, position, failure, failed)| ProjectionStatus {
            name,
            position: Position(u64::try_from(position).unwrap_or(0)),
            failure,
            failed_position: failed.map(|p| Position(u64::try_from(p).unwrap_or(0))),
        })
        .collect())
}

/// Runs one projection until `shutdown` turns true: leadership, install, then
/// batches as events arrive, with backoff on failure (never skipping the event).
pub async fn run(
    db: ReadDb,
    store: Arc<dyn EventStore>,
    p: Arc<dyn Projection>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _leader = match lead(&db, p.name(), &mut shutdown).await {
        Some(guard) => guard,
        None => return,
    };
    let mut backoff = Duration::from_millis(100);
    while let Err(e) = ensure_installed(&db, p.as_ref()).await {
        tracing::error!(projection = p.name(), error = %e, "cannot install projection; retrying");
        if sleep_or_stop(backoff, &mut shutdown).await {
            return;
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
    let mut changes = store.changes();
    backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return;
        }
        changes.mark_seen();
        match apply_batch(
            &db,
            store.as_ref(),
            p.as_ref(),
            "",
            p.name(),
            CATCH_UP_BATCH,
            None,
        )
        .await
        {
            Ok(0) => {
                backoff = Duration::from_millis(100);
                tokio::select! {
                    _ = changes.changed() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Ok(_) => backoff = Duration::from_millis(100),
            Err(e) => {
                record_failure(&db, store.as_ref(), p.name(), &e).await;
                if sleep_or_stop(backoff, &mut shutdown).await {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// Sleeps for `d` unless shutdown comes first; true when it is time to stop.
pub async fn sleep_or_stop(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

/// Holds leadership for one projection or worker named `name`: a PostgreSQL
/// session advisory lock kept on a dedicated connection (released when it closes,
/// so another instance takes over when this one dies). SQLite runs in one process.
/// `None` when `shutdown` fired while waiting.
pub async fn lead(
    db: &ReadDb,
    name: &str,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Option<sqlx::PgConnection>> {
    let ReadDb::Pg(pool) = db else {
        return Some(None);
    };
    loop {
        // Detached from the pool: the lock belongs to this session, and dropping
        // the connection closes it, so leadership ends with the holder and never
        // lingers on a pooled connection.
        if let Ok(mut conn) = pool.acquire().await.map(|c| c.detach()) {
            let got: Result<bool, _> = sqlx::query_scalar(
                "SELECT pg_try_advisory_lock(hashtextextended('roster.projection.' || current_schema() || '.' || $1, 0))",
            )
            .bind(name)
            .fetch_one(&mut conn)
            .await;
            if let Ok(true) = got {
                return Some(Some(conn));
            }
        }
        if sleep_or_stop(Duration::from_secs(2), shutdown).await {
            return None;
        }
    }
}
