//! The HTTP face of Roster: the axum router, its handlers and the problem+json
//! error format. Handlers authenticate, authorize and parse; decisions belong to
//! `roster-domain`, storage to `roster-eventstore`, queries to `roster-projections`.

mod error;
mod health;
pub mod idempotency;
pub mod identity;
mod json;
pub mod metrics;
pub mod openapi;
mod problem;
mod routes;
pub mod throttle;

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
    /// Failed sign-in counters.
    pub throttle: Arc<throttle::SignInThrottle>,
    /// Request counts and latencies.
    pub metrics: Arc<metrics::RequestMetrics>,
    /// More series to export (the workers' counters), rendered on each scrape.
    pub extra_metrics: Arc<dyn Fn() -> String + Send + Sync>,
}

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Builds the whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::serve))
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
        .route(
            "/api/orgs/{org}/accounts",
            get(routes::list_accounts).post(routes::add_account),
        )
        .route("/api/orgs/{org}/history", get(routes::history))
        .route("/api/invitations/accept", post(routes::accept))
        .route("/api/invitations/{token}", get(routes::preview))
        .fallback(problem::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotent,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_envelope,
        ))
        .with_state(state)
}

/// Longest a request may take before it is answered with a 503 problem.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Gives every request an id (echoed as `x-request-id`, logged with it), a time
/// limit, and security headers on the answer.
async fn request_envelope(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    use axum::http::HeaderValue;
    use axum::response::IntoResponse;
    use tracing::Instrument;
    let id = uuid::Uuid::now_v7().to_string();
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let mut response =
        match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request).instrument(span)).await {
            Ok(response) => response,
            Err(_) => Problem::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "request-timeout",
                "Request timed out",
                format!(
                    "the request took longer than {} seconds",
                    REQUEST_TIMEOUT.as_secs()
                ),
            )
            .with("request_id", &id)
            .into_response(),
        };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert("x-request-id", v);
    }
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    state
        .metrics
        .record(response.status().as_u16(), started.elapsed());
    response
}
