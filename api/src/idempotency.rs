//! `Idempotency-Key` on every POST, PATCH and DELETE: the first answer is stored
//! with a hash of the request; a repeat with the same key and the same request gets
//! that answer back and changes nothing; the same key with a different request is a
//! 422 problem. Keys are scoped to the caller (their session token's digest) and
//! live 24 hours. A key is reserved before the command runs, so two concurrent
//! repeats cannot both act: the second is told the first is still in progress.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use roster_projections::db::time_text;
use roster_projections::{exec, fetch};
use sha2::{Digest, Sha256};

use crate::problem::Problem;
use crate::{AppState, BODY_LIMIT};

/// Header clients send.
pub const HEADER: &str = "idempotency-key";

/// How long a stored answer is honoured.
pub fn lifetime() -> Duration {
    Duration::hours(24)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Middleware applying the rules above.
pub async fn idempotent(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Sign-in answers carry a session token: never store them.
    if !matches!(
        *request.method(),
        Method::POST | Method::PATCH | Method::DELETE
    ) || request.uri().path().starts_with("/api/sessions")
    {
        return next.run(request).await;
    }
    let Some(key) = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return next.run(request).await;
    };
    if key.is_empty() || key.len() > 200 {
        return Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-idempotency-key",
            "Bad Idempotency-Key",
            "use 1 to 200 characters",
        )
        .into_response();
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Body too large",
            "request bodies are limited to 64 KiB",
        )
        .into_response();
    };
    let caller = {
        let mut probe = axum::http::Request::new(());
        *probe.headers_mut() = parts.headers.clone();
        let (probe_parts, _) = probe.into_parts();
        crate::identity::presented_token(&probe_parts)
            .map(|(t, _)| hex(&Sha256::digest(t.as_bytes())))
    };
    let scope = caller.unwrap_or_else(|| "anonymous".to_owned());
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(parts.uri.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let request_hash = hex(&hasher.finalize());
    let now = state.clock.now();

    match reserve(&state, &scope, &key, &request_hash, now).await {
        Ok(Reservation::Fresh) => {}
        Ok(Reservation::Replay { status, body }) => {
            let mut response =
                (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return response;
        }
        Ok(Reservation::Mismatch) => {
            return Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was used for a different request",
            )
            .into_response()
        }
        Ok(Reservation::InProgress) => {
            return Problem::new(
                StatusCode::CONFLICT,
                "idempotent-request-in-progress",
                "Request in progress",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
            .into_response()
        }
        Err(e) => return crate::error::ApiError::Internal(e.to_string()).into_response(),
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    let (resp_parts, resp_body) = response.into_parts();
    let Ok(resp_bytes) = to_bytes(resp_body, 1024 * 1024).await else {
        release(&state, &scope, &key).await;
        return crate::error::ApiError::Internal("response too large to store".into())
            .into_response();
    };
    let content_type = resp_parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Server errors are not stored: the client should be able to retry them.
    if status.is_server_error() || (!content_type.is_empty() && !content_type.contains("json")) {
        release(&state, &scope, &key).await;
    } else {
        let body = String::from_utf8_lossy(&resp_bytes).into_owned();
        if let Err(e) = store(&state, &scope, &key, i64::from(status.as_u16()), body).await {
            tracing::warn!(error = %e, "could not store an idempotent answer");
        }
    }
    Response::from_parts(resp_parts, Body::from(resp_bytes))
}

enum Reservation {
    Fresh,
    Replay { status: u16, body: String },
    Mismatch,
    InProgress,
}

async fn reserve(
    state: &AppState,
    scope: &str,
    key: &str,
    request_hash: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Reservation, sqlx::Error> {
    let mut tx = state.read.begin().await?;
    exec!(
        &mut tx,
        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at < $3",
        scope.to_owned(),
        key.to_owned(),
        time_text(now - lifetime())
    )?;
    let inserted = exec!(
        &mut tx,
        "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (scope, key) DO NOTHING",
        scope.to_owned(),
        key.to_owned(),
        request_hash.to_owned(),
        time_text(now)
    )?;
    let outcome = if inserted == 1 {
        Reservation::Fresh
    } else {
        let row = fetch!(
            tx &mut tx,
            fetch_one,
            (String, Option<i64>, Option<String>),
            "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
            scope.to_owned(),
            key.to_owned()
        )?;
        match row {
            (hash, _, _) if hash != request_hash => Reservation::Mismatch,
            (_, Some(status), Some(body)) => Reservation::Replay {
                status: u16::try_from(status).unwrap_or(200),
                body,
            },
            _ => Reservation::InProgress,
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

async fn store(
    state: &AppState,
    scope: &str,
    key: &str,
    status: i64,
    body: String,
) -> Result<(), sqlx::Error> {
    let mut tx = state.read.begin().await?;
    exec!(
        &mut tx,
        "UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND key = $2",
        scope.to_owned(),
        key.to_owned(),
        status,
        body
    )?;
    tx.commit().await
}

async fn release(state: &AppState, scope: &str, key: &str) {
    if let Ok(mut tx) = state.read.begin().await {
        let _ = exec!(
            &mut tx,
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2",
            scope.to_owned(),
            key.to_owned()
        );
        let _ = tx.commit().await;
    }
}
