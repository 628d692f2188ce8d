//! `GET /api/orgs/{org}/events`: the organization's events for integrators, as
//! JSON pages (`?after=`) or as Server-Sent Events that follow the log live and
//! resume from `Last-Event-ID` (the global position) without gaps or repeats.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::ACCEPT;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::stream::{self, Stream};
use roster_commands::authorize::OwnerOf;
use roster_commands::use_cases::event_feed::{self, FeedEvent};
use roster_commands::Application;
use roster_eventstore::Position;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::OwnedOrg;
use crate::json::ApiQuery;
use crate::problem::Problem;
use crate::AppState;

/// This resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// Where to start and how much to take.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Events after this global position (0: from the beginning).
    pub after: Option<u64>,
    /// Events per page (1 to 500, default 100); JSON form only.
    pub limit: Option<usize>,
}

/// One event.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedEventBody {
    /// Its global position: pass as `after`, or it is the SSE event id.
    pub position: u64,
    /// Its id.
    pub event_id: uuid::Uuid,
    /// Its type, e.g. `UserInvited`, `RoleChanged`, `MemberRemoved`.
    pub event_type: String,
    /// When it was recorded.
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// The event's fields (no tokens or token digests).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<FeedEvent> for FeedEventBody {
    fn from(e: FeedEvent) -> Self {
        Self {
            position: e.position,
            event_id: e.event_id,
            event_type: e.event_type,
            recorded_at: e.recorded_at,
            data: e.data,
        }
    }
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedBody {
    /// In log order.
    pub events: Vec<FeedEventBody>,
    /// Pass as `after` for the next page (the last position given, or `after` itself).
    pub next_after: u64,
}

/// How long a live feed waits for a change before looking anyway.
const POLL: Duration = Duration::from_secs(5);

/// The organization's events: JSON pages, or Server-Sent Events with
/// `Accept: text/event-stream` (resumable with `Last-Event-ID`).
#[utoipa::path(get, path = "/api/orgs/{org}/events", tag = "events",
    params(("org" = uuid::Uuid, Path, description = "The organization"), FeedQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "SSE: resume after this position")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of events, or a live event stream",
            content((FeedBody = "application/json"), (String = "text/event-stream"))),
        (status = "default", description = "A problem: organization-not-found, not-an-owner", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn events(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Response, ApiError> {
    let wants_stream = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let after = Position(resume.or(q.after).unwrap_or(0));
    if wants_stream {
        return Ok(Sse::new(live(state.app.clone(), owner, after))
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    let events =
        event_feed::events_after(&state.app, &owner, after, q.limit.unwrap_or(100)).await?;
    let next_after = events.last().map_or(after.0, |e| e.position);
    Ok(Json(FeedBody {
        events: events.into_iter().map(Into::into).collect(),
        next_after,
    })
    .into_response())
}

/// Follows the organization's events from `after`, waking on log changes.
fn live(
    app: Application,
    owner: OwnerOf,
    after: Position,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let changes = app.store.changes();
    stream::unfold(
        (app, owner, after, changes, VecDeque::<FeedEvent>::new()),
        |(app, owner, mut after, mut changes, mut pending)| async move {
            loop {
                if let Some(next) = pending.pop_front() {
                    after = Position(next.position);
                    let event = Event::default()
                        .id(next.position.to_string())
                        .event(next.event_type.clone())
                        .json_data(FeedEventBody::from(next))
                        .unwrap_or_else(|_| Event::default().comment("unencodable event"));
                    return Some((Ok(event), (app, owner, after, changes, pending)));
                }
                changes.mark_seen();
                match event_feed::events_after(&app, &owner, after, event_feed::MAX_PAGE).await {
                    Ok(events) if !events.is_empty() => pending = events.into(),
                    // Nothing new, or the store failed for now: wait and look again.
                    _ => {
                        tokio::select! {
                            _ = changes.changed() => {}
                            _ = tokio::time::sleep(POLL) => {}
                        }
                    }
                }
            }
        },
    )
}
