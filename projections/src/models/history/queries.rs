//! What the history API and `roster history` ask of `rm_history`.

use chrono::{DateTime, Utc};
use roster_domain::OrgId;
use serde::Serialize;

use crate::queries::QueryError;
use roster_storage::db::{time_text, Db};
use roster_storage::fetch;

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
    /// Newest first (the page's order) instead of oldest first (exports, replays).
    pub newest_first: bool,
}

/// A page of an organization's history: oldest first after position `after`,
/// or, with [`HistoryFilter::newest_first`], newest first before `after` (0:
/// from the newest).
pub async fn history(
    db: &Db,
    org: OrgId,
    filter: &HistoryFilter,
    after: i64,
    limit: usize,
) -> Result<Vec<HistoryRow>, QueryError> {
    const OLDEST: &str = "SELECT position, event_id, event_type, actor_id, subject, summary, source, recorded_at \
         FROM rm_history WHERE org_id = $1 AND position > $2 \
           AND ($3 IS NULL OR recorded_at >= $3) AND ($4 IS NULL OR recorded_at < $4) \
           AND ($5 IS NULL OR event_type = $5) AND ($6 IS NULL OR actor_id = $6) AND ($7 IS NULL OR subject = $7) \
         ORDER BY position LIMIT $8";
    const NEWEST: &str = "SELECT position, event_id, event_type, actor_id, subject, summary, source, recorded_at \
         FROM rm_history WHERE org_id = $1 AND position < $2 \
           AND ($3 IS NULL OR recorded_at >= $3) AND ($4 IS NULL OR recorded_at < $4) \
           AND ($5 IS NULL OR event_type = $5) AND ($6 IS NULL OR actor_id = $6) AND ($7 IS NULL OR subject = $7) \
         ORDER BY position DESC LIMIT $8";
    let (sql, after) = match (filter.newest_first, after) {
        (true, a) if a <= 0 => (NEWEST, i64::MAX),
        (true, a) => (NEWEST, a),
        (false, a) => (OLDEST, a),
    };
    let rows = fetch!(
        db db,
        fetch_all,
        (i64, String, String, String, String, String, String, String),
        sql,
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
