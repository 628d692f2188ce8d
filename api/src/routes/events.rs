//! `GET /api/orgs/{org}/events`: the organization's events for integrators, as
//! JSON pages (`?after=`) or as Server-Sent Events that follow the log live and
//! resume from `Last-Event-ID` (the global position) without gaps or repeats.
//! Streams share one follower of the log and are re-authorized as access may
//! change (see [`crate::live_feed`]).

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::extract::State;
use axum::http::header::{ACCEPT, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::stream::{self, Stream};
use roster_commands::authorize::{self, OwnerOf};
use roster_commands::use_cases::event_feed::{self, FeedEvent};
use roster_commands::use_cases::{api_keys, sessions};
use roster_commands::{Application, UseCaseError};
use roster_domain::organization::Actor;
use roster_domain::UserId;
use roster_eventstore::Position;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{presented_token, OwnedOrg};
use crate::json::ApiQuery;
use crate::live_feed::{self, Refused, StreamSlot};
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
    /// `now`: only what happens from now on (the log's head as the request
    /// finds it), for a page that has just read the lists and follows changes.
    /// `after` and `Last-Event-ID` take precedence.
    pub from: Option<FeedStart>,
    /// Events per page (1 to 500, default 100); JSON form only.
    pub limit: Option<usize>,
}

/// Where a feed without `after` starts.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeedStart {
    /// At the log's head: only what happens from now on.
    Now,
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

/// The organization's events: JSON pages, or Server-Sent Events with
/// `Accept: text/event-stream` (resumable with `Last-Event-ID`). A stream checks
/// the caller's session and ownership again whenever they may have changed, and
/// ends with an `access-ended` event when either is gone. A stream begins with a
/// `ready` event whose data is the position it starts after.
#[utoipa::path(get, path = "/api/orgs/{org}/events", tag = "events",
    params(("org" = uuid::Uuid, Path, description = "The organization"), FeedQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "SSE: resume after this position")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of events, or a live event stream",
            content((FeedBody = "application/json"), (String = "text/event-stream"))),
        (status = "default", description = "A problem: organization-not-found, not-an-owner, too-many-streams", body = Problem, content_type = "application/problem+json"),
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
    let after = match (resume.or(q.after), q.from) {
        (Some(after), _) => Position(after),
        (None, Some(FeedStart::Now)) => state
            .app
            .store
            .head()
            .await
            .map_err(|e| UseCaseError::infrastructure("reading the log's head", e))?,
        (None, None) => Position::START,
    };
    if wants_stream {
        let (token, _) = presented_token(&headers).ok_or(UseCaseError::Unauthenticated)?;
        // A key's streams count against a cap of their own, as a person's do.
        let follower = match owner.actor() {
            Actor::User(u) => u,
            Actor::ApiKey(k) => UserId::from_uuid(k.as_uuid()),
            Actor::System => return Err(UseCaseError::Unauthenticated.into()),
        };
        let slot = match state.live.open(follower, owner.org_id()) {
            Ok(slot) => slot,
            Err(refused) => return Ok(too_many_streams(refused)),
        };
        let follow = Follow {
            app: state.app.clone(),
            owner,
            token,
            after,
            slot,
            pending: VecDeque::new(),
            must_look: true,
            ended: false,
            greeted: false,
        };
        return Ok(Sse::new(follow.into_stream())
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

fn too_many_streams(refused: Refused) -> Response {
    let detail = match refused {
        Refused::PerOwner => format!(
            "you have {} event streams open already; close one first",
            live_feed::PER_OWNER
        ),
        Refused::Full => "the server has as many event streams open as it serves".to_owned(),
    };
    let mut answer = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too-many-streams",
        "Too many event streams",
        detail,
    )
    .into_response();
    answer
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("5"));
    answer
}

/// One open event stream.
struct Follow {
    app: Application,
    owner: OwnerOf,
    token: String,
    after: Position,
    slot: StreamSlot,
    pending: VecDeque<FeedEvent>,
    /// Whether something may have changed: read, then check access.
    must_look: bool,
    ended: bool,
    /// Whether the `ready` event has been sent.
    greeted: bool,
}

impl Follow {
    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        stream::unfold(self, |mut follow| async move {
            let event = follow.next().await?;
            Some((Ok(event), follow))
        })
    }

    /// The next event to send; `None` once the stream has ended.
    async fn next(&mut self) -> Option<Event> {
        if !self.greeted {
            // First, where the stream starts: a page that read its lists before
            // the stream was open reads them again up to here, and every later
            // change arrives as an event, so none falls in between. No id: it
            // is not an event of the log, and must not move `Last-Event-ID`.
            self.greeted = true;
            return Some(
                Event::default()
                    .event("ready")
                    .data(self.after.0.to_string()),
            );
        }
        loop {
            if self.ended {
                return None;
            }
            if let Some(next) = self.pending.pop_front() {
                self.after = Position(next.position);
                return Some(
                    Event::default()
                        .id(next.position.to_string())
                        .event(next.event_type.clone())
                        .json_data(FeedEventBody::from(next))
                        .unwrap_or_else(|_| Event::default().comment("unencodable event")),
                );
            }
            if self.must_look {
                self.must_look = false;
                let read = event_feed::events_after(
                    &self.app,
                    &self.owner,
                    self.after,
                    event_feed::MAX_PAGE,
                )
                .await;
                // Access is checked after the read: every event read is older than
                // the check, so nothing recorded after a removal, a demotion or a
                // sign-out is ever sent.
                if let Some(reason) = self.access_lost().await {
                    self.ended = true;
                    return Some(Event::default().event("access-ended").data(reason));
                }
                match read {
                    Ok(events) if !events.is_empty() => {
                        // A full page may have more behind it.
                        self.must_look = events.len() == event_feed::MAX_PAGE;
                        self.pending = events.into();
                    }
                    Ok(_) => {}
                    // The store failed for now: look again at the next wake-up or check.
                    Err(e) => tracing::debug!(error = %e, "an event stream could not read"),
                }
                continue;
            }
            let woken = tokio::select! {
                changed = self.slot.organization.changed() => changed.is_ok(),
                changed = self.slot.identity.changed() => changed.is_ok(),
                () = tokio::time::sleep(live_feed::RECHECK) => true,
            };
            if !woken {
                // The wake-ups are gone (never while this stream holds its slot):
                // fall back to the periodic check.
                tokio::time::sleep(live_feed::RECHECK).await;
            }
            self.must_look = true;
        }
    }

    /// Why the caller may no longer follow this organization, if so.
    async fn access_lost(&self) -> Option<&'static str> {
        let Some(person) = self.owner.person() else {
            // A key: it must still work (its scopes never change).
            return match api_keys::identify(&self.app, &self.token).await {
                Ok(_) => None,
                Err(e) if e.is_unavailable() => None,
                Err(_) => Some("the API key was revoked or has expired"),
            };
        };
        match sessions::still_signed_in(&self.app, &self.token).await {
            Ok(user) if user == person => {}
            Ok(_) | Err(UseCaseError::Unauthenticated) => return Some("the session has ended"),
            // The database is out of reach: keep the stream, check again later.
            Err(_) => return None,
        }
        match authorize::owner_of(&self.app, person, self.owner.org_id()).await {
            Ok(_) => None,
            Err(e) if e.is_unavailable() => None,
            Err(_) => Some("you are no longer an owner of this organization"),
        }
    }
}
