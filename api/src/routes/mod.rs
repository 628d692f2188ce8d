//! The JSON API, one module per resource, each with its own `router()`. A handler
//! parses, calls one use case and maps the answer to a typed body; the bodies
//! derive their OpenAPI schemas, and each handler's `#[utoipa::path]` puts it in
//! `/openapi.json` with the same router call that serves it.

pub mod accounts;
pub mod api_keys;
pub mod events;
pub mod history;
pub mod invitation_links;
pub mod invitations;
pub mod me;
pub mod members;
pub mod password_resets;
pub mod sessions;
pub mod sso;

use roster_commands::use_cases::Recorded;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// Every resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(sessions::router())
        .merge(me::router())
        .merge(members::router())
        .merge(invitations::router())
        .merge(invitation_links::router())
        .merge(accounts::router())
        .merge(api_keys::router())
        .merge(history::router())
        .merge(events::router())
        .merge(password_resets::router())
        .merge(sso::router())
}

/// What a command answers when it has nothing else to say: how far the log got.
#[derive(Debug, Serialize, ToSchema)]
pub struct PositionBody {
    /// Pass as `after` to a query to read this change (null: nothing was recorded).
    pub position: Option<u64>,
}

impl From<Recorded> for PositionBody {
    fn from(r: Recorded) -> Self {
        Self {
            position: r.position.map(|p| p.0),
        }
    }
}

/// `?after=` on a query: wait (up to 2 s) until the read models have passed it.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AfterQuery {
    /// A `position` a command answered.
    pub after: Option<u64>,
}

/// Shorthand for the `after` position of a query.
pub(crate) fn after(raw: Option<u64>) -> Option<roster_eventstore::Position> {
    raw.map(roster_eventstore::Position)
}
