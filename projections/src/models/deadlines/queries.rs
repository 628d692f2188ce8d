//! What the expiry worker asks of `rm_deadlines`.

use chrono::{DateTime, Utc};
use roster_domain::{InvitationId, OrgId};

use crate::db::{time_text, ReadDb};
use crate::fetch;
use crate::queries::{parse_column, QueryError};

/// A pending invitation whose deadline has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueInvitation {
    /// Its organization.
    pub org_id: OrgId,
    /// The invitation.
    pub invitation_id: InvitationId,
}

/// Pending invitations whose deadline is at or before `now`, earliest first.
pub async fn due_deadlines(
    db: &ReadDb,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<DueInvitation>, QueryError> {
    let rows = fetch!(
        db db,
        fetch_all,
        (String, String),
        "SELECT org_id, invitation_id FROM rm_deadlines WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
        time_text(now),
        i64::try_from(limit).unwrap_or(i64::MAX)
    )?;
    rows.into_iter()
        .map(|(org, invitation)| {
            Ok(DueInvitation {
                org_id: parse_column("rm_deadlines", "org_id", &org)?,
                invitation_id: parse_column("rm_deadlines", "invitation_id", &invitation)?,
            })
        })
        .collect()
}

/// The earliest pending deadline, for the expiry worker to sleep until.
pub async fn next_deadline(db: &ReadDb) -> Result<Option<DateTime<Utc>>, QueryError> {
    let (next,) =
        fetch!(db db, fetch_one, (Option<String>,), "SELECT min(expires_at) FROM rm_deadlines")?;
    next.map(|t| parse_column("rm_deadlines", "expires_at", &t))
        .transpose()
}
