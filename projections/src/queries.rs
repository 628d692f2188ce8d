//! Questions that span the read models, and the shared vocabulary of queries. Each
//! read model answers its own questions in its `queries` module (re-exported here);
//! what stays here reads no read-model table: [`organization_as_of`] folds the
//! organization's own stream up to an instant (what an auditor can compute from
//! the log alone, and the oracle the membership periods are tested against), and
//! `wait_for` waits for the projections to pass a position.

use std::time::Duration;

use chrono::{DateTime, Utc};
use roster_domain::organization::{evolve, Organization};
use roster_domain::{decode, OrgEvent, OrgId};
use roster_eventstore::{EventStore, Position, StreamId};

use crate::projection::ProjectionError;
use roster_storage::db::{pos_i64, Db};
use roster_storage::fetch;

pub use crate::models::access::queries::{access_of, org_role, AccessRow, AccessScope};
pub use crate::models::deadlines::queries::{due_deadlines, next_deadline, DueInvitation};
pub use crate::models::history::queries::{history, HistoryFilter, HistoryRow};
pub use crate::models::invitations::queries::{invitations, InvitationRow, LinkTarget};
pub use crate::models::links::queries::link_target;
pub use crate::models::members::queries::{
    accounts, member_by_email_key, member_by_id, member_count, members, members_from,
    memberships_of, org_profile, organizations, AccountRow, MemberFilter, MemberPage, MemberRow,
    OrgProfile,
};
pub use crate::models::periods::queries::members_as_of;

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The cursor was not one this API handed out.
    #[error("the cursor is not valid")]
    BadCursor,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A stored row does not read back as what its projection wrote.
    #[error("unreadable {column} in {table}: {reason}")]
    Unreadable {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// What failed to parse.
        reason: String,
    },
    /// Reading the log failed.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

impl QueryError {
    /// A row of `table` whose `column` does not parse.
    pub fn unreadable(table: &'static str, column: &'static str) -> impl Fn(String) -> Self {
        move |reason| Self::Unreadable {
            table,
            column,
            reason,
        }
    }
}

/// Parses a stored id or JSON column, or says which one could not be read.
pub(crate) fn parse_column<T: std::str::FromStr>(
    table: &'static str,
    column: &'static str,
    raw: &str,
) -> Result<T, QueryError>
where
    T::Err: std::fmt::Display,
{
    raw.parse()
        .map_err(|e: T::Err| QueryError::unreadable(table, column)(format!("{raw:?}: {e}")))
}

/// Parses a stored role (JSON text).
pub(crate) fn parse_role(
    table: &'static str,
    raw: &str,
) -> Result<roster_domain::Role, QueryError> {
    serde_json::from_str(raw).map_err(|e| QueryError::unreadable(table, "role")(e.to_string()))
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
pub async fn wait_for(db: &Db, position: Position, timeout: Duration) -> Result<bool, QueryError> {
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
