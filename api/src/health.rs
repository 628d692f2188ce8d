//! Operations endpoints: liveness and readiness probes for orchestrators and
//! load balancers, and Prometheus metrics.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use roster_projections::runner;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::problem::Problem;
use crate::AppState;

/// The most events a scrape counts behind a projection: beyond it, the lag in
/// seconds says how far behind it is.
const LAG_COUNT_CAP: u64 = 10_000;

/// How long readiness waits for a write transaction to begin.
const WRITE_PROBE: std::time::Duration = std::time::Duration::from_secs(2);

/// The operations routes.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusBody {
    /// `ok` (liveness) or `ready` (readiness).
    pub status: &'static str,
}

/// Liveness: the process is up and serving HTTP; says nothing about the database.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is up", body = StatusBody)))]
pub(crate) async fn healthz() -> Json<StatusBody> {
    Json(StatusBody { status: "ok" })
}

/// Readiness: the database answers and no projection or worker is stuck on a
/// failing event, so requests can be served with current data. 503 otherwise, naming the cause.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = StatusBody),
        (status = "default", description = "A problem: unavailable, naming the cause", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<StatusBody>, Problem> {
    if let Err(err) = state.app.store.ping().await {
        tracing::warn!(%err, "readiness check failed");
        return Err(Problem::unavailable("the database does not answer"));
    }
    if !state.app.read.can_write(WRITE_PROBE).await {
        tracing::warn!("readiness check failed: no write transaction could begin");
        return Err(Problem::unavailable(format!(
            "the database cannot be written (no write transaction began within {} s)",
            WRITE_PROBE.as_secs()
        )));
    }
    let statuses = runner::statuses(&state.app.read).await.map_err(|err| {
        tracing::warn!(%err, "readiness check failed");
        Problem::unavailable("the read models cannot be read")
    })?;
    let failing: Vec<String> = statuses
        .iter()
        .filter_map(|s| {
            s.failure.as_ref().map(|f| {
                let at = s
                    .failed_position
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "?".into());
                format!("projection {} is stuck at position {at}: {f}", s.name)
            })
        })
        .chain((state.stalled_workers)())
        .collect();
    if failing.is_empty() {
        Ok(Json(StatusBody { status: "ready" }))
    } else {
        Err(Problem::unavailable(failing.join("; ")))
    }
}

/// Prometheus text exposition: the log's head and each projection's progress, lag
/// (events and seconds behind the head) and failure state.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
        (status = "default", description = "A problem: unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, Problem> {
    if let Some(expected) = state.metrics_token.as_deref() {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            return Err(Problem::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "metrics-token-required",
                "Metrics token required",
                "send the operator's metrics token as Authorization: Bearer …",
            ));
        }
    }
    let unavailable = |err: String| {
        tracing::warn!(%err, "metrics unavailable");
        Problem::unavailable("metrics cannot be read from the database")
    };
    let head = state
        .app
        .store
        .head()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let statuses = runner::statuses(&state.app.read)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let mut out = String::new();
    out.push_str("# HELP roster_log_head_position Highest committed global position.\n");
    out.push_str("# TYPE roster_log_head_position gauge\n");
    out.push_str(&format!("roster_log_head_position {}\n", head.0));
    out.push_str(
        "# HELP roster_projection_position Last global position applied by each projection.\n",
    );
    out.push_str("# TYPE roster_projection_position gauge\n");
    for s in &statuses {
        out.push_str(&format!(
            "roster_projection_position{{projection=\"{}\"}} {}\n",
            s.name, s.position.0
        ));
    }
    out.push_str("# HELP roster_projection_lag_events Events committed but not yet applied by each projection (counted up to 10000, so a scrape stays cheap however far behind).\n");
    out.push_str("# TYPE roster_projection_lag_events gauge\n");
    out.push_str("# HELP roster_projection_lag_seconds Age of the oldest event each projection has not applied.\n");
    out.push_str("# TYPE roster_projection_lag_seconds gauge\n");
    for s in &statuses {
        let lag_events = state
            .app
            .store
            .count_after(s.position, LAG_COUNT_CAP)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let oldest = state
            .app
            .store
            .read_all(s.position, 1)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let lag_seconds = oldest
            .first()
            .map(|e| {
                (chrono::Utc::now() - e.recorded_at)
                    .num_milliseconds()
                    .max(0) as f64
                    / 1000.0
            })
            .unwrap_or(0.0);
        out.push_str(&format!(
            "roster_projection_lag_events{{projection=\"{}\"}} {}\n",
            s.name, lag_events
        ));
        out.push_str(&format!(
            "roster_projection_lag_seconds{{projection=\"{}\"}} {lag_seconds}\n",
            s.name
        ));
    }
    out.push_str(
        "# HELP roster_projection_failing 1 while a projection is stuck on a failing event.\n",
    );
    out.push_str("# TYPE roster_projection_failing gauge\n");
    for s in &statuses {
        out.push_str(&format!(
            "roster_projection_failing{{projection=\"{}\"}} {}\n",
            s.name,
            u8::from(s.failure.is_some())
        ));
    }
    out.push_str(&state.metrics.render());
    out.push_str(&(state.extra_metrics)());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

/// Compares two secrets in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
