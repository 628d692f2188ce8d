//! What "members as of an instant" asks of `rm_member_periods`.

use chrono::{DateTime, Utc};
use roster_domain::{OrgId, UserId};

use crate::models::members::queries::{member, MemberRow, MemberTuple};
use crate::queries::QueryError;
use roster_storage::db::{time_text, Db};
use roster_storage::fetch;

/// The members of `org` as they were at `at`: every period open at that instant,
/// `current_user` first, then by name and id. Exact to the event for everything
/// the projector has applied (the caller waits for it to pass the log's head).
pub async fn members_as_of(
    db: &Db,
    org: OrgId,
    current_user: Option<UserId>,
    at: DateTime<Utc>,
) -> Result<Vec<MemberRow>, QueryError> {
    let at = time_text(at);
    let rows = fetch!(
        db db,
        fetch_all,
        (String, String, String, String, String, String, String, String),
        "SELECT user_id, full_name, email, role_label, role, joined_at, sort_key, since \
         FROM rm_member_periods \
         WHERE org_id = $1 AND since <= $2 AND (until IS NULL OR until > $2) \
         ORDER BY sort_key, user_id",
        org.to_string(),
        at
    )?;
    let me = current_user.map(|u| u.to_string());
    let mut members = Vec::with_capacity(rows.len());
    let mut pinned = None;
    for (user_id, full_name, email, role_label, role, joined_at, _, since) in rows {
        let is_me = me.as_deref() == Some(user_id.as_str());
        // A period is a stretch with access: never suspended; where the member
        // came from is the member list's to say.
        let row: MemberTuple = (
            user_id,
            full_name,
            email,
            role_label,
            role,
            joined_at,
            "active".to_owned(),
            String::new(),
            None,
            since,
        );
        if is_me {
            pinned = Some(member(row)?);
        } else {
            members.push(member(row)?);
        }
    }
    if let Some(mine) = pinned {
        members.insert(0, mine);
    }
    Ok(members)
}
