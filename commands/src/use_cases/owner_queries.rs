//! What an owner reads about their organization: members (now or as of an
//! instant), invitations, accounts and history. Each can first wait (bounded) for
//! the read models to pass a position the owner's last command reached.

use std::time::Duration;

use chrono::{DateTime, Utc};
use roster_eventstore::Position;
use roster_projections::queries::{
    self, AccountRow, HistoryFilter, HistoryRow, InvitationRow, MemberFilter, MemberPage, MemberRow,
};

use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::UseCaseError;

/// Longest a query waits for the read models to reach `after`.
pub const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(2);

/// Default and largest history page.
pub const HISTORY_PAGE: (usize, usize) = (100, 1000);

/// A query's answer and whether the read models had reached `after` (`stale`
/// answers may miss the owner's latest change).
#[derive(Debug, Clone)]
pub struct Read<T> {
    /// The answer.
    pub value: T,
    /// True when the wait for `after` timed out.
    pub stale: bool,
}

pub(crate) async fn read_after<T>(
    app: &Application,
    after: Option<Position>,
    query: impl std::future::Future<Output = Result<T, UseCaseError>>,
) -> Result<Read<T>, UseCaseError> {
    let fresh = match after {
        Some(p) => app.wait_for_read_models(p, READ_YOUR_WRITES_WAIT).await?,
        None => true,
    };
    Ok(Read {
        value: query.await?,
        stale: !fresh,
    })
}

/// A page of the member list, the owner pinned first.
pub async fn list_members(
    app: &Application,
    owner: &OwnerOf,
    filter: &MemberFilter,
    cursor: Option<&str>,
    limit: usize,
    after: Option<Position>,
) -> Result<Read<MemberPage>, UseCaseError> {
    read_after(app, after, async {
        Ok(queries::members(
            &app.read,
            owner.org_id(),
            owner.person(),
            filter,
            cursor,
            limit,
        )
        .await?)
    })
    .await
}

/// The members as they were at `at`, from the membership periods (exact to the
/// event), the owner first, then by name. Without `after`, it first waits for the
/// projector to pass the log's head as this request found it, so an answer about
/// "now" includes every change committed before the question.
pub async fn members_as_of(
    app: &Application,
    owner: &OwnerOf,
    at: DateTime<Utc>,
    after: Option<Position>,
) -> Result<Read<Vec<MemberRow>>, UseCaseError> {
    let after = match after {
        Some(p) => p,
        None => app
            .store
            .head()
            .await
            .map_err(|e| UseCaseError::infrastructure("reading the log's head", e))?,
    };
    read_after(app, Some(after), async {
        Ok(queries::members_as_of(&app.read, owner.org_id(), owner.person(), at).await?)
    })
    .await
}

/// Pending and expired invitations, newest send first.
pub async fn list_invitations(
    app: &Application,
    owner: &OwnerOf,
    after: Option<Position>,
) -> Result<Read<Vec<InvitationRow>>, UseCaseError> {
    read_after(app, after, async {
        Ok(queries::invitations(&app.read, owner.org_id()).await?)
    })
    .await
}

/// The organization's accounts, by name.
pub async fn list_accounts(
    app: &Application,
    owner: &OwnerOf,
    after: Option<Position>,
) -> Result<Read<Vec<AccountRow>>, UseCaseError> {
    read_after(app, after, async {
        Ok(queries::accounts(&app.read, owner.org_id()).await?)
    })
    .await
}

/// A page of history after `cursor` (a position), and the cursor of the next page.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// The events, oldest first.
    pub events: Vec<HistoryRow>,
    /// Pass back to get the next page; `None` on the last.
    pub next_cursor: Option<i64>,
}

/// The organization's history, oldest first, filtered.
pub async fn history(
    app: &Application,
    owner: &OwnerOf,
    filter: &HistoryFilter,
    cursor: i64,
    limit: Option<usize>,
    after: Option<Position>,
) -> Result<Read<HistoryPage>, UseCaseError> {
    let limit = limit.unwrap_or(HISTORY_PAGE.0).clamp(1, HISTORY_PAGE.1);
    read_after(app, after, async {
        let events = queries::history(&app.read, owner.org_id(), filter, cursor, limit).await?;
        let next_cursor = if events.len() == limit {
            events.last().map(|r| r.position)
        } else {
            None
        };
        Ok(HistoryPage {
            events,
            next_cursor,
        })
    })
    .await
}
