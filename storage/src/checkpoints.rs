//! The `worker_checkpoints` table: how far each worker that follows the log
//! (the email senders) has got. Projections keep theirs with their read models,
//! in `projection_checkpoints`, so a batch and its checkpoint commit together.

use chrono::{DateTime, Utc};
use roster_eventstore::Position;

use crate::db::{pos_i64, time_text, Db};
use crate::error::StorageError;
use crate::{exec, fetch};

/// Where worker `name` stands (position 0 before its first step).
pub async fn position(db: &Db, name: &str) -> Result<Position, StorageError> {
    let row = fetch!(
        db db,
        fetch_optional,
        (i64,),
        "SELECT position FROM worker_checkpoints WHERE name = $1",
        name.to_owned()
    )?;
    row.map_or(Ok(Position(0)), |(p,)| {
        u64::try_from(p)
            .map(Position)
            .map_err(StorageError::unreadable("worker_checkpoints", "position"))
    })
}

/// Moves worker `name` to `to`.
pub async fn advance(
    db: &Db,
    name: &str,
    to: Position,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "INSERT INTO worker_checkpoints (name, position, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
        name.to_owned(),
        pos_i64(to),
        time_text(now)
    )?;
    tx.commit().await?;
    Ok(())
}
