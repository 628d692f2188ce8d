//! Keeping projections up to date: one projector follows the log for all of them,
//! applying each batch to every read model and advancing their checkpoints in ONE
//! transaction, so a crash at any point neither repeats nor loses an event.
//!
//! The checkpoint is advanced optimistically (`… WHERE position = <what we read>`):
//! if anything else moved it meanwhile (a second runner, a rebuild swapped in),
//! the batch is dropped and re-read, so double-running is wasteful but never
//! wrong. On PostgreSQL an advisory lock still keeps exactly one projector busy
//! across instances; when its holder dies, the lock is released with
//! its connection and another instance takes over.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use roster_domain::{decode, decode_text, OrgEvent, OrgId};
use roster_eventstore::{EventStore, Position, RawEvent, RecordedEvent};
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
        source: r.metadata.source,
        event,
    }))
}

/// [`to_projected`] for an event of a raw batch (a rebuild's read): decoded
/// straight from its JSON text.
pub fn to_projected_raw(r: RawEvent<'_>) -> Result<Option<ProjectedEvent>, ProjectionError> {
    let Some(id) = r.stream_id.strip_prefix("org-") else {
        return Ok(None);
    };
    let decode_error = |reason: String| ProjectionError::Decode {
        event_id: r.event_id,
        position: r.position,
        reason,
    };
    let org_id: OrgId = id
        .parse()
        .map_err(|e: uuid::Error| decode_error(e.to_string()))?;
    let event: OrgEvent = decode_text(r.event_type, r.schema_version, r.payload)
        .map_err(|e| decode_error(e.to_string()))?;
    // Only the source: the other fields are skipped, not copied.
    #[derive(serde::Deserialize)]
    struct SourceOnly {
        #[serde(default)]
        source: roster_eventstore::Source,
    }
    let SourceOnly { source } =
        serde_json::from_str(r.metadata).map_err(|e| decode_error(e.to_string()))?;
    Ok(Some(ProjectedEvent {
        org_id,
        position: r.position,
        event_id: r.event_id,
        recorded_at: r.recorded_at,
        source,
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
                exec!(&mut tx, &format!("DROP TABLE IF EXISTS {}", table.name))?;
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

/// The checkpoint of `p`'s tables with `suffix` (`members`, `members_rebuild`).
pub fn checkpoint_name(p: &dyn Projection, suffix: &str) -> String {
    format!("{}{suffix}", p.name())
}

/// Applies the next batch of the log (at most `max` events, none past `until`) to
/// every projection in `projections` whose tables carry `suffix`, in ONE
/// transaction that also advances their checkpoints: the log is read once for all
/// of them, and one commit makes the batch visible everywhere at once.
///
/// A projection behind the others (a changed one rebuilding from 0) receives only
/// the events past its own checkpoint, and the others' checkpoints stay where they
/// are until the batch reaches them. Returns how many events were consumed (0:
/// nothing new, or another runner moved a checkpoint first).
pub async fn apply_batch(
    db: &Db,
    store: &dyn EventStore,
    projections: &[&dyn Projection],
    suffix: &str,
    max: usize,
    until: Option<Position>,
) -> Result<usize, ProjectionError> {
    let stored: std::collections::HashMap<String, i64> = fetch!(
        db db,
        fetch_all,
        (String, i64),
        "SELECT name, position FROM projection_checkpoints"
    )?
    .into_iter()
    .collect();
    let mut targets = Vec::with_capacity(projections.len());
    for p in projections {
        let name = checkpoint_name(*p, suffix);
        let Some(&at) = stored.get(&name) else {
            return Err(ProjectionError::Inconsistent(format!(
                "checkpoint {name} is missing"
            )));
        };
        targets.push((*p, name, Position(u64::try_from(at).unwrap_or(0))));
    }
    let Some(from) = targets.iter().map(|(_, _, at)| *at).min() else {
        return Ok(0);
    };
    if until.is_some_and(|until| from >= until) {
        return Ok(0);
    }
    let mut events = store.read_all(from, max).await?;
    if let Some(until) = until {
        events.retain(|e| e.global_position <= until);
    }
    let Some(last) = events.last().map(|e| e.global_position) else {
        return Ok(0);
    };
    let mut decoded = Vec::with_capacity(events.len());
    for recorded in &events {
        if let Some(event) = to_projected(recorded)? {
            decoded.push(event);
        }
    }
    // Only the projections the batch reaches take part.
    targets.retain(|(_, _, at)| *at < last);
    let mut tx = db.begin().await?;
    // One statement per distinct starting point: in the steady state, one.
    let mut starts: Vec<Position> = targets.iter().map(|(_, _, at)| *at).collect();
    starts.sort();
    starts.dedup();
    for start in starts {
        let names: Vec<&str> = targets
            .iter()
            .filter(|(_, _, at)| *at == start)
            .map(|(_, name, _)| name.as_str())
            .collect();
        let moved = exec!(
            &mut tx,
            &format!(
                "UPDATE projection_checkpoints SET position = $1, updated_at = $2, failure = NULL, \
                 failed_position = NULL WHERE position = $3 AND name IN ({})",
                sql_names(&names)?
            ),
            pos_i64(last),
            time_text(Utc::now()),
            pos_i64(start)
        )?;
        if moved != names.len() as u64 {
            // Someone else moved one of them: drop the batch (rolled back) and re-read.
            return Ok(0);
        }
    }
    for (p, _, at) in &targets {
        let events: Vec<&ProjectedEvent> = decoded.iter().filter(|e| e.position > *at).collect();
        crate::rows::apply_batch(&mut tx, suffix, *p, &events)
            .await
            .map_err(|e| {
                tracing::error!(projection = p.name(), from = %at, to = %last, error = %e, "projection failed");
                ProjectionError::Failed {
                    projection: p.name(),
                    source: Box::new(e),
                }
            })?;
    }
    tx.commit().await?;
    Ok(events.len())
}

/// Checkpoint names as SQL string literals. They come from code (a projection's
/// name and a suffix), never from input; anything but `[a-z0-9_.-]` is refused
/// rather than quoted.
fn sql_names(names: &[&str]) -> Result<String, ProjectionError> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
        {
            return Err(ProjectionError::Inconsistent(format!(
                "checkpoint name {name:?} is not a plain name"
            )));
        }
        out.push(format!("'{name}'"));
    }
    Ok(out.join(", "))
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

/// Every read model as ONE log follower of the shared
/// [`follower`](roster_storage::follower) runtime: one leadership lock, one read
/// of the log and one transaction per batch for all of them.
struct Projector {
    db: Db,
    store: Arc<dyn EventStore>,
    projections: Vec<Arc<dyn Projection>>,
}

/// Longest a caught-up projector waits for a change signal before looking anyway.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// The projector's leadership name.
pub const PROJECTOR: &str = "projector";

#[async_trait]
impl Follower for Projector {
    fn name(&self) -> &str {
        PROJECTOR
    }

    async fn start(&self) -> Result<(), StepError> {
        for p in &self.projections {
            ensure_installed(&self.db, p.as_ref()).await?;
        }
        Ok(())
    }

    async fn step(&self) -> Result<Progress, StepError> {
        let projections: Vec<&dyn Projection> =
            self.projections.iter().map(|p| p.as_ref()).collect();
        match apply_batch(
            &self.db,
            self.store.as_ref(),
            &projections,
            "",
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
        // One transaction carries every read model, so all of them are held back.
        for p in &self.projections {
            record_failure(&self.db, self.store.as_ref(), p.name(), &error.to_string()).await;
        }
    }
}

/// Runs the projector over `projections` until `shutdown` turns true:
/// leadership, install, then batches as events arrive, with backoff on failure
/// (never skipping the event).
pub async fn run(
    db: Db,
    store: Arc<dyn EventStore>,
    projections: Vec<Arc<dyn Projection>>,
    shutdown: watch::Receiver<bool>,
) {
    let changes = store.changes();
    let projector = Projector {
        db: db.clone(),
        store,
        projections,
    };
    follower::run(projector, db, changes, shutdown).await;
}
