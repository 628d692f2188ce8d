//! What the expiry worker asks of `rm_deadlines`.

use chrono::{DateTime, Utc};
use roster_domain::{InvitationId, OrgId};

use crate::queries::{parse_column, QueryError};
use roster_storage::db::{time_text, Db};
use roster_storage::fetch;

/// A pending invitation whose deadline has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueInvitation {
    /// Its organization.
    pub org_id: OrgId,
    /// The invitation.
    pub invitation_id: InvitationId,
    /// Its deadline.
    pub expires_at: DateTime<Utc>,
}

/// Pending invitations whose deadline is at or before `now`, earliest first (then
/// by id), starting after `after`: the expiry worker pages through all that are
/// due without waiting for this read model to drop the ones it just expired.
pub async fn due_deadlines(
    db: &Db,
    now: DateTime<Utc>,
    after: Option<&DueInvitation>,
    limit: usize,
) -> Result<Vec<DueInvitation>, QueryError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = match after {
        None => fetch!(
            db db,
            fetch_all,
            (String, String, String),
            "SELECT org_id, invitation_id, expires_at FROM rm_deadlines WHERE expires_at <= $1 \
             ORDER BY expires_at, invitation_id LIMIT $2",
            time_text(now),
            limit
        )?,
        Some(last) => fetch!(
            db db,
            fetch_all,
            (String, String, String),
            "SELECT org_id, invitation_id, expires_at FROM rm_deadlines WHERE expires_at <= $1 \
               AND (expires_at, invitation_id) > ($2, $3) \
             ORDER BY expires_at, invitation_id LIMIT $4",
            time_text(now),
            time_text(last.expires_at),
            last.invitation_id.to_string(),
            limit
        )?,
    };
    rows.into_iter()
        .map(|(org, invitation, expires)| {
            Ok(DueInvitation {
                org_id: parse_column("rm_deadlines", "org_id", &org)?,
                invitation_id: parse_column("rm_deadlines", "invitation_id", &invitation)?,
                expires_at: parse_column("rm_deadlines", "expires_at", &expires)?,
            })
        })
        .collect()
}

/// The earliest pending deadline, for the expiry worker to sleep until.
pub async fn next_deadline(db: &Db) -> Result<Option<DateTime<Utc>>, QueryError> {
    let (next,) =
        fetch!(db db, fetch_one, (Option<String>,), "SELECT min(expires_at) FROM rm_deadlines")?;
    next.map(|t| parse_column("rm_deadlines", "expires_at", &t))
        .transpose()
}
