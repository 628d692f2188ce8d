//! `Idempotency-Key` on every POST, PATCH and DELETE: the first answer is stored
//! with a hash of the request; a repeat with the same key and the same request gets
//! that answer back and changes nothing; the same key with a different request is a
//! 422 problem. Keys are scoped to the signed-in caller (their identity, whichever
//! session they use); anonymous requests (accepting an invitation, whose link is
//! single-use anyway) are not stored, so strangers cannot fill the table. A key is
//! reserved before the command runs, so two concurrent repeats cannot both act:
//! the second is told the first is still in progress. Answers a client should be
//! able to retry (lost races, throttles, outages) are never stored. Storage lives
//! in `roster_commands::idempotency`.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roster_commands::idempotency::{self, KeyedRequest, Reservation};
use roster_commands::use_cases::sessions;
use roster_commands::UseCaseError;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::{presented_token, Authenticated};
use crate::problem::Problem;
use crate::{AppState, BODY_LIMIT};

/// Header clients send.
pub const HEADER: &str = "idempotency-key";

/// Longest key accepted.
pub const MAX_KEY_CHARS: usize = 200;

/// Largest answer stored for replay.
const MAX_STORED_ANSWER: usize = 1024 * 1024;

/// What tells a repeat from a reuse: method, path and body, hashed.
pub fn request_hash(method: &Method, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(hasher.finalize())
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
    if key.is_empty() || key.len() > MAX_KEY_CHARS {
        return Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-idempotency-key",
            "Bad Idempotency-Key",
            format!("use 1 to {MAX_KEY_CHARS} characters"),
        )
        .into_response();
    }
    // The caller is authenticated here, once: the handler's extractor finds the
    // identity in the request's extensions instead of looking the session up again.
    let Some((token, _)) = presented_token(request.headers()) else {
        // Not signed in: nothing to scope the key to; the handler answers as usual.
        return next.run(request).await;
    };
    let user = match sessions::authenticate(&state.app, &token).await {
        Ok(user) => user,
        Err(UseCaseError::Unauthenticated) => return next.run(request).await,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let scope = user.to_string();
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(Authenticated { user, token });
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return Problem::body_too_large().into_response();
    };
    let hash = request_hash(&parts.method, parts.uri.path(), &bytes);
    let keyed = KeyedRequest {
        scope: &scope,
        key: &key,
        request_hash: &hash,
    };
    match idempotency::reserve(&state.app.read, &keyed, state.app.clock.now()).await {
        Ok(Reservation::Fresh) => {}
        Ok(Reservation::Replay(answer)) => {
            let mut response = (
                StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK),
                answer.body,
            )
                .into_response();
            let headers = response.headers_mut();
            headers.insert(
                "content-type",
                HeaderValue::from_str(&answer.content_type)
                    .unwrap_or(HeaderValue::from_static("application/json")),
            );
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
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
        Err(e) => return ApiError::from(e).into_response(),
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    let (resp_parts, resp_body) = response.into_parts();
    let release = || async {
        if let Err(e) = idempotency::release(&state.app.read, &scope, &key).await {
            tracing::warn!(error = %e, "could not release an Idempotency-Key");
        }
    };
    let Ok(resp_bytes) = to_bytes(resp_body, MAX_STORED_ANSWER).await else {
        release().await;
        return ApiError::from(UseCaseError::infrastructure(
            "storing an idempotent answer",
            "the answer is too large to store",
        ))
        .into_response();
    };
    let content_type = resp_parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let is_json = content_type.contains("json");
    let problem_type = serde_json::from_slice::<serde_json::Value>(&resp_bytes)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned));
    if idempotency::is_retryable(status.as_u16(), problem_type.as_deref()) || !is_json {
        release().await;
    } else {
        let answer = idempotency::StoredAnswer {
            status: status.as_u16(),
            content_type,
            body: String::from_utf8_lossy(&resp_bytes).into_owned(),
        };
        if let Err(e) = idempotency::store_answer(&state.app.read, &scope, &key, &answer).await {
            tracing::warn!(error = %e, "could not store an idempotent answer");
        }
    }
    Response::from_parts(resp_parts, Body::from(resp_bytes))
}
