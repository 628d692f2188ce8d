//! `POST /api/sessions` (sign in) and `DELETE /api/sessions/current` (sign out).

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use roster_commands::use_cases::sessions::{self, SignIn};
use roster_domain::UserId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::extract::{Caller, SESSION_COOKIE};
use crate::json::ApiJson;
use crate::problem::Problem;
use crate::AppState;

/// This resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in, sign_out_everywhere))
        .routes(routes!(sign_out))
}

/// Email and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    /// The sign-in address.
    pub email: String,
    /// The password.
    pub password: String,
}

/// A new session: the token is shown once (it is also set as an HttpOnly cookie).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Who signed in.
    #[schema(value_type = Uuid)]
    pub user_id: UserId,
    /// When the session lapses unless used.
    pub expires_at: DateTime<Utc>,
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/sessions", tag = "sessions",
    request_body = SignInBody,
    responses(
        (status = 201, description = "Signed in; the session cookie is set too", body = SessionBody),
        (status = "default", description = "A problem: invalid-credentials, too-many-sign-in-attempts, validation", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<SignInBody>,
) -> Result<(StatusCode, HeaderMap, Json<SessionBody>), ApiError> {
    let session = sessions::sign_in_admitted(
        &state.app,
        SignIn {
            email: body.email,
            password: body.password,
            client,
        },
        // The throttle's delay is waited out first, holding no place among the writes.
        || state.writes.enter(),
    )
    .await?;
    let headers = session_cookie(&state, &session.token, state.app.session_ttl.num_seconds());
    Ok((
        StatusCode::CREATED,
        headers,
        Json(SessionBody {
            token: session.token,
            user_id: session.user_id,
            expires_at: session.expires_at,
        }),
    ))
}

/// Sign out: revoke the caller's session.
#[utoipa::path(delete, path = "/api/sessions/current", tag = "sessions",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
        (status = "default", description = "A problem: unauthenticated", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, HeaderMap), ApiError> {
    sessions::sign_out(&state.app, &caller.token).await?;
    state.live.sessions_ended(caller.user_id);
    Ok((StatusCode::NO_CONTENT, session_cookie(&state, "", 0)))
}

/// Sign out everywhere: revoke every session of the caller, on every device.
#[utoipa::path(delete, path = "/api/sessions", tag = "sessions",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Every session is revoked; the cookie is cleared"),
        (status = "default", description = "A problem: unauthenticated", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn sign_out_everywhere(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, HeaderMap), ApiError> {
    sessions::sign_out_everywhere(&state.app, caller.user_id).await?;
    state.live.sessions_ended(caller.user_id);
    Ok((StatusCode::NO_CONTENT, session_cookie(&state, "", 0)))
}

/// The session cookie: HttpOnly, SameSite=Strict, and Secure when Roster is
/// served over https (its public URL says so).
pub(crate) fn session_cookie(state: &AppState, token: &str, max_age: i64) -> HeaderMap {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let value = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    );
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(SET_COOKIE, v);
    }
    headers
}
