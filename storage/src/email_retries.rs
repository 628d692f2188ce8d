//! The `email_retries` table: sends waiting to be tried again, each with its own
//! due time, kept in the database so a restart loses none.

use chrono::{DateTime, Utc};
use roster_domain::{InvitationId, OrgId, SendId};

use crate::db::{time_text, Db};
use crate::error::StorageError;
use crate::{exec, fetch};

/// One send to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The send.
    pub send_id: SendId,
    /// Its organization.
    pub org_id: OrgId,
    /// Its invitation.
    pub invitation_id: InvitationId,
    /// Attempts made so far.
    pub attempts: u32,
}

crate::row! {
    /// A row as stored.
    struct RetryRow {
        send_id: String,
        org_id: String,
        invitation_id: String,
        attempts: i64,
    }
}

impl TryFrom<RetryRow> for Retry {
    type Error = StorageError;

    fn try_from(row: RetryRow) -> Result<Self, StorageError> {
        let bad = |column| StorageError::unreadable::<String>("email_retries", column);
        Ok(Retry {
            send_id: row
                .send_id
                .parse()
                .map_err(|e: uuid::Error| bad("send_id")(e.to_string()))?,
            org_id: row
                .org_id
                .parse()
                .map_err(|e: uuid::Error| bad("org_id")(e.to_string()))?,
            invitation_id: row
                .invitation_id
                .parse()
                .map_err(|e: uuid::Error| bad("invitation_id")(e.to_string()))?,
            attempts: u32::try_from(row.attempts).map_err(|e| bad("attempts")(e.to_string()))?,
        })
    }
}

/// Schedules (or reschedules) `retry` for `due_at`.
pub async fn schedule(db: &Db, retry: Retry, due_at: DateTime<Utc>) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "INSERT INTO email_retries (send_id, org_id, invitation_id, attempts, due_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (send_id) DO UPDATE SET attempts = excluded.attempts, due_at = excluded.due_at",
        retry.send_id.to_string(),
        retry.org_id.to_string(),
        retry.invitation_id.to_string(),
        i64::from(retry.attempts),
        time_text(due_at)
    )?;
    tx.commit().await?;
    Ok(())
}

/// Forgets `sends` (delivered, given up, or no longer current): one statement
/// for a whole batch of outcomes.
pub async fn forget(db: &Db, sends: &[SendId]) -> Result<(), StorageError> {
    if sends.is_empty() {
        return Ok(());
    }
    // Bounded by the sender's batch; SQLite allows 32,766 parameters.
    for chunk in sends.chunks(1_000) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|k| format!("${k}")).collect();
        let sql = format!(
            "DELETE FROM email_retries WHERE send_id IN ({})",
            placeholders.join(", ")
        );
        match db {
            Db::Pg(pool) => {
                let mut q = sqlx::query(&sql);
                for send in chunk {
                    q = q.bind(send.to_string());
                }
                q.execute(pool).await?;
            }
            Db::Sqlite(pool) => {
                let mut q = sqlx::query(&sql);
                for send in chunk {
                    q = q.bind(send.to_string());
                }
                q.execute(pool).await?;
            }
        }
    }
    Ok(())
}

/// Up to `limit` sends due at `now`, earliest first, at most `per_org` from any
/// one organization, so one organization's many failing addresses cannot crowd
/// out another's.
pub async fn due(
    db: &Db,
    now: DateTime<Utc>,
    limit: usize,
    per_org: usize,
) -> Result<Vec<Retry>, StorageError> {
    let rows = fetch!(
        db db,
        fetch_all,
        RetryRow,
        "SELECT send_id, org_id, invitation_id, attempts FROM email_retries WHERE due_at <= $1 \
         ORDER BY due_at LIMIT $2",
        time_text(now),
        i64::try_from(limit.saturating_mul(4)).unwrap_or(i64::MAX)
    )?;
    let mut picked: Vec<Retry> = Vec::new();
    let mut per: std::collections::HashMap<OrgId, usize> = std::collections::HashMap::new();
    for row in rows {
        let retry = Retry::try_from(row)?;
        let taken = per.entry(retry.org_id).or_default();
        if *taken < per_org && picked.len() < limit {
            *taken += 1;
            picked.push(retry);
        }
    }
    Ok(picked)
}

/// When the next retry is due, if any.
pub async fn next_due(db: &Db) -> Result<Option<DateTime<Utc>>, StorageError> {
    let (next,) =
        fetch!(db db, fetch_one, (Option<String>,), "SELECT min(due_at) FROM email_retries")?;
    next.map(|t| {
        t.parse()
            .map_err(StorageError::unreadable("email_retries", "due_at"))
    })
    .transpose()
}
