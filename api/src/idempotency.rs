//! `Idempotency-Key` on every POST, PATCH and DELETE: the first answer is stored
//! with a hash of the request; a repeat with the same key and the same request gets
//! that answer back and changes nothing; the same key with a different request is a
//! 422 problem. Keys are scoped to the signed-in caller (their identity, whichever
//! session they use); anonymous requests (accepting an invitation, whose link is
//! single-use anyway) are not stored, so strangers cannot fill the table, nor
//! are sign-ins (their answer is a session) and password resets (for people who
//! cannot sign in; a reset link works once anyway). The
//! request's first append is left open (`roster_commands::unit_of_work`) and the
//! answer is written in the same transaction, then both commit: a crash never
//! leaves events without their answer or the reverse. Two concurrent repeats may
//! both run, but the second's answer cannot be recorded beside the first's, so
//! its transaction (events included) rolls back and it replays the first answer.
//! Answers a client should be able to retry (lost races, throttles, outages) are
//! never stored. The rules live in `roster_commands::idempotency`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roster_commands::idempotency::{self, Found, KeyedRequest};
use roster_commands::unit_of_work::UnitOfWork;
use roster_commands::use_cases::{api_keys, sessions};
use roster_commands::UseCaseError;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::{cross_site, presented_token, Authenticated};
use crate::problem::Problem;
use crate::AppState;

/// Header clients send.
pub const HEADER: &str = "idempotency-key";

/// Longest key accepted.
pub const MAX_KEY_CHARS: usize = 200;

/// Largest answer stored for replay.
const MAX_STORED_ANSWER: usize = 1024 * 1024;

/// The lock one key's repeats take turns on.
type KeyLock = Arc<tokio::sync::Mutex<()>>;

/// The keys whose requests are running on this instance, each with a lock its
/// repeats wait on. Idle entries are swept once there are more than a few, so
/// the map holds about the keys in flight (bounded by the requests in flight).
#[derive(Default)]
pub struct KeysInFlight {
    keys: std::sync::Mutex<HashMap<(String, String), KeyLock>>,
}

impl KeysInFlight {
    /// Waits for the turn of `(scope, key)`; the next repeat's begins when the
    /// returned guard drops.
    pub async fn turn(&self, scope: &str, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let entry = {
            let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            // Drop entries nobody holds any more (only the map refers to them).
            if keys.len() > 64 {
                keys.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            keys.entry((scope.to_owned(), key.to_owned()))
                .or_default()
                .clone()
        };
        entry.lock_owned().await
    }
}

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
    // Sign-in answers carry a session token: never store them. Password resets
    // are for people who cannot sign in: a link works once anyway, and its use
    // writes credentials after its event, which a unit of work would hold back.
    let path = request.uri().path();
    if !matches!(
        *request.method(),
        Method::POST | Method::PATCH | Method::DELETE
    ) || path.starts_with("/api/sessions")
        || path.starts_with("/api/password-resets")
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
    let Some((token, source)) = presented_token(request.headers()) else {
        // Not signed in: nothing to scope the key to; the handler answers as usual.
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    if let Some(refused) = cross_site(&parts, source, state.secure_cookies) {
        return refused.into_response();
    }
    // Answers are kept per person, or per API key (a key is its own caller).
    let scope = if api_keys::looks_like_key(&token) {
        match api_keys::identify(&state.app, &token).await {
            Ok(key) => format!("api-key:{key}"),
            Err(UseCaseError::Unauthenticated) => {
                return next.run(Request::from_parts(parts, body)).await
            }
            Err(e) => return ApiError::from(e).into_response(),
        }
    } else {
        let user = match sessions::authenticate(&state.app, &token).await {
            Ok(user) => user,
            Err(UseCaseError::Unauthenticated) => {
                return next.run(Request::from_parts(parts, body)).await
            }
            Err(e) => return ApiError::from(e).into_response(),
        };
        parts.extensions.insert(Authenticated {
            user,
            token: token.clone(),
        });
        user.to_string()
    };
    let Ok(bytes) = to_bytes(body, crate::body_limit(parts.uri.path())).await else {
        return Problem::body_too_large().into_response();
    };
    let hash = request_hash(&parts.method, parts.uri.path(), &bytes);
    let keyed = KeyedRequest {
        scope: &scope,
        key: &key,
        request_hash: &hash,
    };
    // Repeats arriving at this instance together take turns: the second finds the
    // first's answer instead of running (and spending sending limits) in vain.
    let _turn = state.keys_in_flight.turn(&scope, &key).await;
    let now = state.app.clock.now();
    match idempotency::find(&state.app.read, &keyed, now).await {
        Ok(None) => {}
        Ok(Some(found)) => return earlier(found),
        Err(e) => return ApiError::from(e).into_response(),
    }

    let unit = UnitOfWork::new();
    let response = unit
        .run(next.run(Request::from_parts(parts, Body::from(bytes))))
        .await;
    // The request's first append, still uncommitted: its events and the answer
    // below commit together, or neither does.
    let open = unit.take();
    let status = response.status();
    let (resp_parts, resp_body) = response.into_parts();
    let Ok(resp_bytes) = to_bytes(resp_body, MAX_STORED_ANSWER).await else {
        drop(open);
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
    let problem_type = serde_json::from_slice::<serde_json::Value>(&resp_bytes)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned));
    let storable = content_type.contains("json")
        && !idempotency::is_retryable(status.as_u16(), problem_type.as_deref());
    let answer = idempotency::StoredAnswer {
        status: status.as_u16(),
        content_type,
        body: String::from_utf8_lossy(&resp_bytes).into_owned(),
    };
    let recorded = match (open, storable) {
        // Nothing to replay (a retry should be able to get a different answer);
        // the events, if any, stand.
        (Some(open), false) => open.commit().await.map(|()| true).map_err(committing),
        (None, false) => Ok(true),
        (Some(mut open), true) => {
            match idempotency::record(open.tx(), &keyed, &answer, now).await {
                Ok(true) => open.commit().await.map(|()| true).map_err(committing),
                // A twin of this request committed first: roll this one back.
                Ok(false) => Ok(false),
                Err(e) => Err(ApiError::from(e)),
            }
        }
        (None, true) => idempotency::record_alone(&state.app.read, &keyed, &answer, now)
            .await
            .map_err(ApiError::from),
    };
    match recorded {
        Ok(true) => Response::from_parts(resp_parts, Body::from(resp_bytes)),
        Ok(false) => match idempotency::find(&state.app.read, &keyed, now).await {
            Ok(Some(found)) => earlier(found),
            Ok(None) => ApiError::from(UseCaseError::ConcurrentChange).into_response(),
            Err(e) => ApiError::from(e).into_response(),
        },
        Err(e) => {
            tracing::warn!("a keyed request's events and answer could not be committed");
            e.into_response()
        }
    }
}

/// A commit that failed: the database is out of reach (503, retry with the same
/// key) or something else went wrong.
fn committing(e: roster_eventstore::StoreError) -> ApiError {
    ApiError::from(UseCaseError::infrastructure(
        "committing a request's events and answer",
        e,
    ))
}

/// The answer to a key used before: the same answer again, byte for byte, or a
/// refusal when the key was used for a different request.
fn earlier(found: Found) -> Response {
    match found {
        Found::Replay(answer) => {
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
            response
        }
        Found::Mismatch => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency-Key reused",
            "this Idempotency-Key was used for a different request",
        )
        .into_response(),
    }
}
