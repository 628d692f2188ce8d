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

use async_trait::async_trait;
use chrono::Utc;
use roster_domain::{decode, OrgEvent, OrgId};
use roster_eventstore::{EventStore, Position, RecordedEvent};
use tokio::sync::watch;

use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use roster_storage::db::{pos_i64, time_text, Db};
use roster_storage::follower::{self, Follower, Progress, StepError};
use roster_storage::{exec, fetch};

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
pub async fn ensure_installed(db: &Db, p: &dyn Projection) -> Result<(), ProjectionError> {
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
    db: &Db,
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

async fn record_failure(db: &Db, store: &dyn EventStore, checkpoint: &str, error: &str) {
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
        error.to_owned(),
        at
    );
    let _ = tx.commit().await;
}

/// Every projection's checkpoint and failure state.
pub async fn statuses(db: &Db) -> Result<Vec<ProjectionStatus>, sqlx::Error> {
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

/// One projection as a log follower of the shared [`follower`](roster_storage::follower) runtime.
struct ProjectionFollower {
    db: Db,
    store: Arc<dyn EventStore>,
    projection: Arc<dyn Projection>,
}

/// Longest a caught-up runner waits for a change signal before looking anyway.
const IDLE_POLL: Duration = Duration::from_millis(500);

#[async_trait]
impl Follower for ProjectionFollower {
    fn name(&self) -> &str {
        self.projection.name()
    }

    async fn start(&self) -> Result<(), StepError> {
        Ok(ensure_installed(&self.db, self.projection.as_ref()).await?)
    }

    async fn step(&self) -> Result<Progress, StepError> {
        let p = self.projection.as_ref();
        match apply_batch(
            &self.db,
            self.store.as_ref(),
            p,
            "",
            p.name(),
            CATCH_UP_BATCH,
            None,
        )
        .await?
        {
            // A full batch: more is waiting. A partial one: caught up, so wait for
            // the log to move (and let a few more events gather, see `run`).
            n if n >= CATCH_UP_BATCH => Ok(Progress::Busy),
            _ => Ok(Progress::Idle {
                wake_after: IDLE_POLL,
            }),
        }
    }

    async fn failed(&self, error: &StepError) {
        record_failure(
            &self.db,
            self.store.as_ref(),
            self.projection.name(),
            &error.to_string(),
        )
        .await;
    }
}

/// Runs one projection until `shutdown` turns true: leadership, install, then
/// batches as events arrive, with backoff on failure (never skipping the event).
pub async fn run(
    db: Db,
    store: Arc<dyn EventStore>,
    p: Arc<dyn Projection>,
    shutdown: watch::Receiver<bool>,
) {
    let changes = store.changes();
    let follower = ProjectionFollower {
        db: db.clone(),
        store,
        projection: p,
    };
    follower::run(follower, db, changes, shutdown).await;
}
