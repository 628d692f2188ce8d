//! The HTTP face of Roster: the axum router, its handlers and the problem+json
//! error format. Handlers authenticate, authorize and parse; decisions belong to
//! `roster-domain`, storage to `roster-eventstore`, queries to `roster-projections`.

mod health;
mod problem;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use roster_eventstore::EventStore;
use roster_projections::ReadDb;

pub use problem::Problem;

/// What every handler can reach. Cheap to clone: it is all shared handles.
#[derive(Clone)]
pub struct AppState {
    /// The event log (PostgreSQL or SQLite).
    pub store: Arc<dyn EventStore>,
    /// The read models, in the same database.
    pub read: ReadDb,
}

/// Builds the whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(problem::not_found)
        .with_state(state)
}
