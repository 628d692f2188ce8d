//! The HTTP face of Roster: the axum router, its handlers and the problem+json
//! error format. Handlers authenticate, authorize and parse; decisions belong to
//! `roster-domain`, storage to `roster-eventstore`, queries to `roster-projections`.

mod error;
mod health;
pub mod identity;
mod json;
mod problem;
mod routes;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post};
use axum::Router;
use roster_commands::tokens::TokenKey;
use roster_commands::{Handler, OrgAggregate, UserAggregate};
use roster_eventstore::{Clock, EventStore};
use roster_projections::ReadDb;

pub use error::ApiError;
pub use problem::{FieldError, Problem};

/// What every handler can reach. Cheap to clone: it is all shared handles.
#[derive(Clone)]
pub struct AppState {
    /// The event log (PostgreSQL or SQLite).
    pub store: Arc<dyn EventStore>,
    /// The read models, in the same database.
    pub read: ReadDb,
    /// Runs organization commands.
    pub orgs: Arc<Handler<OrgAggregate>>,
    /// Runs identity commands.
    pub users: Arc<Handler<UserAggregate>>,
    /// Derives invitation tokens.
    pub key: TokenKey,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// How long a session lives after its last use.
    pub session_ttl: chrono::Duration,
}

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Builds the whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/api/sessions", post(routes::sign_in))
        .route(
            "/api/sessions/current",
            axum::routing::delete(routes::sign_out),
        )
        .route("/api/me", get(routes::me))
        .route("/api/orgs/{org}/members", get(routes::list_members))
        .route(
            "/api/orgs/{org}/members/{user}",
            patch(routes::change_role).delete(routes::remove_member),
        )
        .route(
            "/api/orgs/{org}/invitations",
            get(routes::list_invitations).post(routes::invite),
        )
        .route(
            "/api/orgs/{org}/invitations/{id}/resend",
            post(routes::resend),
        )
        .route(
            "/api/orgs/{org}/invitations/{id}",
            axum::routing::delete(routes::cancel),
        )
        .route("/api/invitations/accept", post(routes::accept))
        .route("/api/invitations/{token}", get(routes::preview))
        .fallback(problem::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
