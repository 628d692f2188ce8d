//! Sends waiting to be tried again, each with its own due time, kept in the
//! database so a restart loses none.

use chrono::{DateTime, Utc};
use roster_domain::{InvitationId, OrgId, SendId};
use roster_projections::db::time_text;
use roster_projections::{exec, fetch, ReadDb};

use crate::error::WorkerError;

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

fn unreadable(column: &'static str) -> impl Fn(String) -> WorkerError {
    move |reason| {
        WorkerError::Query(roster_projections::queries::QueryError::unreadable(
            "email_retries",
            column,
        )(reason))
    }
}

/// Schedules (or reschedules) `retry` for `due_at`.
pub async fn schedule(db: &ReadDb, retry: Retry, due_at: DateTime<Utc>) -> Result<(), WorkerError> {
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

/// Forgets `send` (delivered, given up, or no longer current).
pub async fn forget(db: &ReadDb, send: SendId) -> Result<(), WorkerError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "DELETE FROM email_retries WHERE send_id = $1",
        send.to_string()
    )?;
    tx.commit().await?;
    Ok(())
}

/// Up to `limit` sends due at `now`, earliest first, at most `per_org` from any
/// one organization, so one organization's many failing addresses cannot crowd
/// out another's.
pub async fn due(
    db: &ReadDb,
    now: DateTime<Utc>,
    limit: usize,
    per_org: usize,
) -> Result<Vec<Retry>, WorkerError> {
    let rows = fetch!(
        db db,
        fetch_all,
        (String, String, String, i64),
        "SELECT send_id, org_id, invitation_id, attempts FROM email_retries WHERE due_at <= $1 \
         ORDER BY due_at LIMIT $2",
        time_text(now),
        i64::try_from(limit * 4).unwrap_or(i64::MAX)
    )?;
    let mut picked: Vec<Retry> = Vec::new();
    let mut per: std::collections::HashMap<OrgId, usize> = std::collections::HashMap::new();
    for (send, org, invitation, attempts) in rows {
        let retry = Retry {
            send_id: send
                .parse()
                .map_err(|e: uuid::Error| unreadable("send_id")(e.to_string()))?,
            org_id: org
                .parse()
                .map_err(|e: uuid::Error| unreadable("org_id")(e.to_string()))?,
            invitation_id: invitation
                .parse()
                .map_err(|e: uuid::Error| unreadable("invitation_id")(e.to_string()))?,
            attempts: u32::try_from(attempts).map_err(|e| unreadable("attempts")(e.to_string()))?,
        };
        let taken = per.entry(retry.org_id).or_default();
        if *taken < per_org && picked.len() < limit {
            *taken += 1;
            picked.push(retry);
        }
    }
    Ok(picked)
}

/// When the next retry is due, if any.
pub async fn next_due(db: &ReadDb) -> Result<Option<DateTime<Utc>>, WorkerError> {
    let (next,) =
        fetch!(db db, fetch_one, (Option<String>,), "SELECT min(due_at) FROM email_retries")?;
    next.map(|t| {
        t.parse()
            .map_err(|e: chrono::ParseError| unreadable("due_at")(e.to_string()))
    })
    .transpose()
}
