//! Liveness and readiness probes for orchestrators and load balancers.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::problem::Problem;
use crate::AppState;

/// The process is up and serving HTTP; says nothing about the database.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers, so requests can be served. 503 otherwise.
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    match state.store.ping().await {
        Ok(()) => Ok(Json(json!({ "status": "ready" }))),
        Err(err) => {
            tracing::warn!(%err, "readiness check failed");
            Err(Problem::unavailable("the database does not answer"))
        }
    }
}
