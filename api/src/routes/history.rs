//! `GET /api/orgs/{org}/history`: the organization's audit trail. Owners only.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use roster_commands::use_cases::owner_queries;
use roster_projections::queries::{HistoryFilter, HistoryRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::after;
use crate::error::ApiError;
use crate::extract::OwnedOrg;
use crate::json::ApiQuery;
use crate::problem::Problem;
use crate::AppState;

/// This resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(history))
}

/// Filters and paging of the history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// At or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only this event type, e.g. `MemberRemoved`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Only this actor (a user id or `system`).
    pub actor: Option<String>,
    /// Only events about this user, invitation or account id.
    pub subject: Option<String>,
    /// `oldest` (the default) or `newest` first.
    pub order: Option<HistoryOrder>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Events per page (1 to 1000, default 100).
    pub limit: Option<usize>,
    /// Wait until the read models have passed this position.
    pub after: Option<u64>,
}

/// Which end of the history a page starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HistoryOrder {
    /// Oldest first, as exports and replays read it.
    Oldest,
    /// Newest first, as a person reads an activity feed.
    Newest,
}

/// One event of the history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEventBody {
    /// Global position (also the paging cursor).
    pub position: i64,
    /// The event's id.
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// Who did it (a user id or `system`).
    pub actor_id: String,
    /// Whom or what it concerned.
    pub subject: String,
    /// One line for people.
    pub summary: String,
    /// api, worker or cli.
    pub source: String,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
}

impl From<HistoryRow> for HistoryEventBody {
    fn from(r: HistoryRow) -> Self {
        Self {
            position: r.position,
            event_id: r.event_id,
            event_type: r.event_type,
            actor_id: r.actor_id,
            subject: r.subject,
            summary: r.summary,
            source: r.source,
            recorded_at: r.recorded_at,
        }
    }
}

/// A page of history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryBody {
    /// In the order asked for (oldest first by default).
    pub events: Vec<HistoryEventBody>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<i64>,
    /// True when the wait for `after` timed out.
    pub stale: bool,
}

/// The organization's events with summaries, oldest or newest first, filterable.
#[utoipa::path(get, path = "/api/orgs/{org}/history", tag = "history",
    params(("org" = uuid::Uuid, Path, description = "The organization"), HistoryQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of events", body = HistoryBody),
        (status = "default", description = "A problem: organization-not-found, not-an-owner, validation", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn history(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryBody>, ApiError> {
    let filter = HistoryFilter {
        since: q.since,
        until: q.until,
        event_type: q.event_type,
        actor: q.actor,
        subject: q.subject,
        newest_first: q.order == Some(HistoryOrder::Newest),
    };
    let read = owner_queries::history(
        &state.app,
        &owner,
        &filter,
        q.cursor.unwrap_or(0),
        q.limit,
        after(q.after),
    )
    .await?;
    Ok(Json(HistoryBody {
        events: read.value.events.into_iter().map(Into::into).collect(),
        next_cursor: read.value.next_cursor,
        stale: read.stale,
    }))
}
