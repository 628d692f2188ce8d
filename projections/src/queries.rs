//! The questions read models answer. Everything here reads tables, except the
//! "as of" queries, which fold the organization's own stream up to the instant
//! asked, so they are exact to the event whatever the projections' state.

use std::time::Duration;

use chrono::{DateTime, Utc};
use roster_domain::organization::{evolve, Organization};
use roster_domain::{decode, OrgEvent, OrgId, UserId};
use roster_eventstore::{EventStore, Position, StreamId};
use serde::Serialize;

use crate::db::{pos_i64, time_text, ReadDb};
use crate::fetch;
use crate::projection::ProjectionError;

/// One row of the member list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberRow {
    /// Their identity.
    pub user_id: String,
    /// Their name.
    pub full_name: String,
    /// Their address.
    pub email: String,
    /// owner, admin, standard or contributor.
    pub role_label: String,
    /// The full role (with account roles), as stored.
    pub role: serde_json::Value,
    /// When they joined.
    pub joined_at: String,
}

type MemberTuple = (String, String, String, String, String, String);

fn member(row: MemberTuple) -> MemberRow {
    let (user_id, full_name, email, role_label, role, joined_at) = row;
    MemberRow {
        user_id,
        full_name,
        email,
        role_label,
        role: serde_json::from_str(&role).unwrap_or(serde_json::Value::Null),
        joined_at,
    }
}

/// A page of members and the cursor for the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberPage {
    /// The rows, the current user first on the first page.
    pub members: Vec<MemberRow>,
    /// Pass back to get the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// How to narrow the member list.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Case-insensitive substring of the name or email.
    pub search: Option<String>,
    /// Only this role label.
    pub role: Option<String>,
}

fn like_pattern(s: &str) -> String {
    let escaped = s
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn encode_cursor(sort_key: &str, user_id: &str) -> String {
    let raw = format!("{sort_key}\u{1f}{user_id}");
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str) -> Option<(String, String)> {
    if cursor.len() % 2 != 0 || cursor.len() > 1024 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (k, u) = text.split_once('\u{1f}')?;
    Some((k.to_owned(), u.to_owned()))
}

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The cursor was not one this API handed out.
    #[error("the cursor is not valid")]
    BadCursor,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Reading the log failed.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

/// The member list: the current user pinned first (first page only), then by name
/// and id, `limit` per page.
pub async fn members(
    db: &ReadDb,
    org: OrgId,
    current_user: Option<UserId>,
    filter: &MemberFilter,
    cursor: Option<&str>,
    limit: usize,
) -> Result<MemberPage, QueryError> {
    let after = match cursor {
        Some(c) => Some(decode_cursor(c).ok_or(QueryError::BadCursor)?),
        None => None,
    };
    let limit = limit.clamp(1, 200);
    let me = current_user.map(|u| u.to_string()).unwrap_or_default();
    let search = filter.search.as_deref().map(like_pattern);
    let mut rows: Vec<MemberRow> = Vec::new();
    if after.is_none() && current_user.is_some() {
        let mine = fetch!(
            db db,
            fetch_optional,
            MemberTuple,
            "SELECT user_id, full_name, email, role_label, role, joined_at FROM rm_members \
             WHERE org_id = $1 AND user_id = $2 \
               AND ($3 IS NULL OR email_key LIKE $3 ESCAPE '\\' OR sort_key LIKE $3 ESCAPE '\\') \
               AND ($4 IS NULL OR role_label = $4)",
            org.to_string(),
            me.clone(),
            search.clone(),
            filter.role.clone()
        )?;
        rows.extend(mine.map(member));
    }
    let (after_key, after_user) = after.clone().unwrap_or_default();
    let fetched = fetch!(
        db db,
        fetch_all,
        (String, String, String, String, String, String, String),
        "SELECT user_id, full_name, email, role_label, role, joined_at, sort_key FROM rm_members \
         WHERE org_id = $1 AND user_id <> $2 \
           AND ($3 IS NULL OR email_key LIKE $3 ESCAPE '\\' OR sort_key LIKE $3 ESCAPE '\\') \
           AND ($4 IS NULL OR role_label = $4) \
           AND ($5 = 0 OR sort_key > $6 OR (sort_key = $6 AND user_id > $7)) \
         ORDER BY sort_key, user_id LIMIT $8",
        org.to_string(),
        me,
        search,
        filter.role.clone(),
        i64::from(after.is_some()),
        after_key,
        after_user,
        i64::try_from(limit + 1).unwrap_or(201)
    )?;
    let more = fetched.len() > limit;
    let mut last = None;
    for (u, n, e, rl, r, j, k) in fetched.into_iter().take(limit) {
        last = Some(encode_cursor(&k, &u));
        rows.push(member((u, n, e, rl, r, j)));
    }
    Ok(MemberPage {
        members: rows,
        next_cursor: if more { last } else { None },
    })
}

/// One pending or expired invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvitationRow {
    /// Its id.
    pub invitation_id: String,
    /// Who is invited.
    pub email: String,
    /// Their name.
    pub full_name: String,
    /// owner, admin, standard or contributor.
    pub role_label: String,
    /// The full role.
    pub role: serde_json::Value,
    /// Who invited them (a user id or `system`).
    pub invited_by: String,
    /// pending or expired.
    pub status: String,
    /// When it was last sent.
    pub last_sent_at: String,
    /// When the current link stops working.
    pub expires_at: String,
    /// queued, sent, retrying or failed.
    pub delivery: String,
    /// Message-ID or failure reason.
    pub delivery_detail: Option<String>,
}

type InvitationTuple = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

/// Pending and expired invitations of an organization, newest send first.
pub async fn invitations(db: &ReadDb, org: OrgId) -> Result<Vec<InvitationRow>, QueryError> {
    let rows = fetch!(
        db db,
        fetch_all,
        InvitationTuple,
        "SELECT invitation_id, email, full_name, role_label, role, invited_by, status, last_sent_at, expires_at, \
         delivery, delivery_detail FROM rm_invitations WHERE org_id = $1 ORDER BY last_sent_at DESC, invitation_id",
        org.to_string()
    )?;
    Ok(rows
        .into_iter()
        .map(
            |(
                invitation_id,
                email,
                full_name,
                role_label,
                role,
                invited_by,
                status,
                last_sent_at,
                expires_at,
                delivery,
                delivery_detail,
            )| InvitationRow {
                invitation_id,
                email,
                full_name,
                role_label,
                role: serde_json::from_str(&role).unwrap_or(serde_json::Value::Null),
                invited_by,
                status,
                last_sent_at,
                expires_at,
                delivery,
                delivery_detail,
            },
        )
        .collect())
}

/// A user's access rows: `(org_id, scope, role)` where scope is `org` or an account id.
pub async fn access_of(
    db: &ReadDb,
    user: UserId,
) -> Result<Vec<(String, String, String)>, QueryError> {
    Ok(fetch!(
        db db,
        fetch_all,
        (String, String, String),
        "SELECT org_id, scope, role FROM rm_access WHERE user_id = $1 ORDER BY org_id, scope",
        user.to_string()
    )?)
}

/// A user's org-level role in one organization (`None`: not a member).
pub async fn org_role(db: &ReadDb, org: OrgId, user: UserId) -> Result<Option<String>, QueryError> {
    Ok(fetch!(
        db db,
        fetch_optional,
        (String,),
        "SELECT role FROM rm_access WHERE org_id = $1 AND user_id = $2 AND scope = 'org'",
        org.to_string(),
        user.to_string()
    )?
    .map(|(r,)| r))
}

/// Pending invitations whose deadline is at or before `now`: `(org, invitation)`.
pub async fn due_deadlines(
    db: &ReadDb,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<(String, String)>, QueryError> {
    Ok(fetch!(
        db db,
        fetch_all,
        (String, String),
        "SELECT org_id, invitation_id FROM rm_deadlines WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
        time_text(now),
        i64::try_from(limit).unwrap_or(i64::MAX)
    )?)
}

/// The earliest pending deadline, for the expiry worker to sleep until.
pub async fn next_deadline(db: &ReadDb) -> Result<Option<String>, QueryError> {
    let (next,) =
        fetch!(db db, fetch_one, (Option<String>,), "SELECT min(expires_at) FROM rm_deadlines")?;
    Ok(next)
}

/// One line of an organization's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    /// Global position (also the paging cursor).
    pub position: i64,
    /// The event's id.
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// Who did it (user id or `system`).
    pub actor_id: String,
    /// Whom or what it concerned (user, invitation or account id).
    pub subject: String,
    /// One line for people.
    pub summary: String,
    /// api, worker or cli.
    pub source: String,
    /// When it was recorded.
    pub recorded_at: String,
}

/// How to narrow the history.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    /// At or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only this event type.
    pub event_type: Option<String>,
    /// Only this actor (user id or `system`).
    pub actor: Option<String>,
    /// Only this subject id.
    pub subject: Option<String>,
}

/// A page of an organization's history, oldest first, after `after`.
pub async fn history(
    db: &ReadDb,
    org: OrgId,
    filter: &HistoryFilter,
    after: i64,
    limit: usize,
) -> Result<Vec<HistoryRow>, QueryError> {
    let rows = fetch!(
        db db,
        fetch_all,
        (i64, String, String, String, String, String, String, String),
        "SELECT position, event_id, event_type, actor_id, subject, summary, source, recorded_at FROM rm_history \
         WHERE org_id = $1 AND position > $2 \
           AND ($3 IS NULL OR recorded_at >= $3) AND ($4 IS NULL OR recorded_at < $4) \
           AND ($5 IS NULL OR event_type = $5) AND ($6 IS NULL OR actor_id = $6) AND ($7 IS NULL OR subject = $7) \
         ORDER BY position LIMIT $8",
        org.to_string(),
        after,
        filter.since.map(time_text),
        filter.until.map(time_text),
        filter.event_type.clone(),
        filter.actor.clone(),
        filter.subject.clone(),
        i64::try_from(limit.clamp(1, 10_000)).unwrap_or(100)
    )?;
    Ok(rows
        .into_iter()
        .map(
            |(position, event_id, event_type, actor_id, subject, summary, source, recorded_at)| {
                HistoryRow {
                    position,
                    event_id,
                    event_type,
                    actor_id,
                    subject,
                    summary,
                    source,
                    recorded_at,
                }
            },
        )
        .collect())
}

/// The organization exactly as it was at `at`: its stream folded up to the last
/// event recorded at or before that instant. `None` if it did not exist yet.
pub async fn organization_as_of(
    store: &dyn EventStore,
    org: OrgId,
    at: DateTime<Utc>,
) -> Result<Option<Organization>, QueryError> {
    let stream = StreamId::new(org.stream_name())
        .map_err(|e| ProjectionError::Inconsistent(e.to_string()))?;
    let mut state = None;
    let mut from = 1;
    loop {
        let batch = store
            .read_stream(&stream, from, 5_000)
            .await
            .map_err(ProjectionError::from)?;
        let n = batch.len();
        for r in batch {
            if r.recorded_at > at {
                return Ok(state);
            }
            let event: OrgEvent =
                decode(&r.event_type, r.schema_version, &r.payload).map_err(|e| {
                    ProjectionError::Decode {
                        event_id: r.event_id,
                        position: r.global_position,
                        reason: e.to_string(),
                    }
                })?;
            state = evolve(state, &event);
            from = r.stream_version + 1;
        }
        if n < 5_000 {
            return Ok(state);
        }
    }
}

/// Waits until every projection has passed `position` (read-your-writes), for at
/// most `timeout`. Returns false if the wait timed out (the caller marks the
/// answer stale).
pub async fn wait_for(
    db: &ReadDb,
    position: Position,
    timeout: Duration,
) -> Result<bool, QueryError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        let (min,) = fetch!(
            db db,
            fetch_one,
            (Option<i64>,),
            "SELECT min(position) FROM projection_checkpoints WHERE name NOT LIKE '%_rebuild'"
        )
        .map(|(m,)| (m.unwrap_or(0),))?;
        if min >= pos_i64(position) {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = encode_cursor("zoë lee", "0190-abc");
        assert_eq!(
            decode_cursor(&c),
            Some(("zoë lee".to_owned(), "0190-abc".to_owned()))
        );
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor("abc"), None);
        assert_eq!(decode_cursor(""), None);
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("A_b%"), "%a\\_b\\%%");
    }
}
