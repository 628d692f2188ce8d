//! What wraps every request: an id (`x-request-id`, set when the client sent
//! none, echoed back, logged), a trace span naming the route (never the raw path,
//! which can hold an invitation token), a time limit, request metrics and security
//! headers. Empty error answers from these layers become problem documents.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use roster_commands::correlation::{self, RequestContext};

use crate::problem::Problem;
use crate::AppState;

/// Longest a request may take before it is answered with a 503 problem.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Puts the layers around `router`.
pub(crate) fn wrap(router: Router<AppState>, state: AppState) -> Router<AppState> {
    router
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::write_gate::gate_writes,
        ))
        .layer(middleware::from_fn(run_to_completion))
        .layer(middleware::from_fn(crate::body::read_whole_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(middleware::from_fn(empty_errors_as_problems))
        .layer(middleware::from_fn_with_state(state, record_metrics))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                let id = request
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", request_id = %id, method = %request.method(), route = %route)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        ))
}

/// Runs the request's handling in a task of its own, so a client that vanishes
/// (or a timeout) drops only the wait for the answer, never the work half-way:
/// a transaction that was begun is committed or rolled back, a command that was
/// decided is recorded. The work is bounded by the request timeout's caller going
/// away only in that nobody reads its answer.
async fn run_to_completion(request: Request, next: Next) -> Response {
    // Every event the request causes carries its id (see `correlation`).
    let context = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(RequestContext::for_request);
    let work = next.run(request);
    let handled = match context {
        Some(context) => tokio::spawn(correlation::scope(context, work)),
        None => tokio::spawn(work),
    };
    match handled.await {
        Ok(response) => response,
        Err(failed) => {
            let id = uuid::Uuid::now_v7();
            tracing::error!(error_id = %id, error = %failed, "request handling panicked");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                format!("something went wrong on our side; quote error id {id} when reporting it"),
            )
            .with("error_id", id)
            .into_response()
        }
    }
}

/// Counts every answer by status class and time taken.
async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .record(response.status().as_u16(), started.elapsed());
    response
}

/// An error answer without a body (the timeout layer's) becomes a problem document,
/// so clients see one error format whatever produced the error.
async fn empty_errors_as_problems(request: Request, next: Next) -> Response {
    let id = request.headers().get(&REQUEST_ID).cloned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE)
    {
        return response;
    }
    let problem = if status == StatusCode::SERVICE_UNAVAILABLE {
        Problem::new(
            status,
            "request-timeout",
            "Request timed out",
            format!(
                "the request took longer than {} seconds",
                REQUEST_TIMEOUT.as_secs()
            ),
        )
    } else {
        Problem::new(
            status,
            "http-error",
            status.canonical_reason().unwrap_or("Error"),
            format!("the request failed with status {}", status.as_u16()),
        )
    };
    let problem = match id.as_ref().and_then(|v| v.to_str().ok()) {
        Some(id) => problem.with("request_id", id),
        None => problem,
    };
    problem.into_response()
}
