//! The HTTP face of Roster: axum routers per resource over the application layer
//! (`roster-commands`), problem+json errors, and the layers every request passes.
//!
//! * [`routes`]: one module per resource; a handler parses, calls one use case
//!   and maps the answer to a typed body.
//! * [`extract`]: the caller (session), the owner of the organization in the path,
//!   the client address.
//! * [`error`] and [`problem`]: every failure is an RFC 9457 document with a
//!   stable `type` naming the rule that was broken.
//! * [`openapi`]: `/openapi.json`, collected from the same router calls that serve
//!   the routes, so the two cannot drift apart.
//! * The web page (`roster-web`) is merged beside the API and shares its outer
//!   layers (request ids, security headers, metrics), not its JSON-only ones.

pub mod body;
pub mod client_addr;
mod envelope;
pub mod error;
pub mod extract;
mod health;
pub mod idempotency;
mod json;
pub mod live_feed;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod routes;
mod schema;
pub mod scim;
pub mod write_gate;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use roster_commands::Application;

pub use error::ApiError;
pub use problem::{FieldError, Problem};

/// What every handler can reach. Cheap to clone: it is all shared handles.
#[derive(Clone)]
pub struct AppState {
    /// The use cases' shared handles.
    pub app: Application,
    /// Request counts and latencies.
    pub metrics: Arc<metrics::RequestMetrics>,
    /// More series to export (the workers' counters), rendered on each scrape.
    pub extra_metrics: Arc<dyn Fn() -> String + Send + Sync>,
    /// The background workers of this process whose steps fail, each described:
    /// readiness names them.
    pub stalled_workers: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
    /// Whether the session cookie is marked `Secure` (Roster is served over https).
    pub secure_cookies: bool,
    /// Where people reach Roster (no trailing slash): the base of absolute
    /// links the API answers with (SCIM's `meta.location`).
    pub public_url: Arc<str>,
    /// When set, `/metrics` answers only requests bearing this token.
    pub metrics_token: Option<Arc<str>>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<client_addr::TrustedProxies>,
    /// The bound on writes handled at once.
    pub writes: Arc<write_gate::WriteGate>,
    /// What open event streams share: one follower of the log, access hints, caps.
    pub live: Arc<live_feed::LiveLog>,
    /// `Idempotency-Key`s whose requests are running here, so repeats take turns.
    pub keys_in_flight: Arc<idempotency::KeysInFlight>,
}

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The body limit of a bulk invitation: up to 500 rows of up to about 1 KiB.
pub const BULK_BODY_LIMIT: usize = 512 * 1024;

/// The most a request to `path` may send: [`BODY_LIMIT`], or [`BULK_BODY_LIMIT`]
/// for the one route that takes many rows.
pub fn body_limit(path: &str) -> usize {
    if path.starts_with("/api/orgs/") && path.ends_with("/invitations/bulk") {
        BULK_BODY_LIMIT
    } else {
        BODY_LIMIT
    }
}

/// Builds the whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (api, _) = openapi::routes().split_for_parts();
    let api = api
        .merge(scim::router(state.clone()))
        .merge(routes::sso::callback_router())
        .fallback(problem::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotent,
        ))
        .layer(DefaultBodyLimit::max(BULK_BODY_LIMIT))
        // Answers carry sessions, tokens' previews and personal data: never cached.
        .layer(
            tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            ),
        );
    // The web page: static files that call the API above like any other client.
    let app = api.merge(roster_web::router());
    envelope::wrap(app, state.clone()).with_state(state)
}
