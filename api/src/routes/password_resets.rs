//! Forgotten passwords: ask for a reset link by email, then use it once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use roster_commands::use_cases::password_reset::{self, CompleteReset};
use roster_domain::UserId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::problem::Problem;
use crate::AppState;

/// This resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_reset))
        .routes(routes!(complete_reset))
}

/// Whose password to reset.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestBody {
    /// The sign-in address.
    pub email: String,
}

/// The same answer whether or not the address has an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetRequestedBody {
    /// What happens next.
    pub status: &'static str,
}

/// Ask for a password reset link (sent by email; valid 30 minutes).
#[utoipa::path(post, path = "/api/password-resets", tag = "sessions",
    request_body = ResetRequestBody,
    responses(
        (status = 202, description = "If the address has an account, a link is on its way", body = ResetRequestedBody),
        (status = "default", description = "A problem: too-many-invitations (too many emails to this address)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn request_reset(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<ResetRequestBody>,
) -> Result<(StatusCode, Json<ResetRequestedBody>), ApiError> {
    password_reset::request_reset(&state.app, &body.email, client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ResetRequestedBody {
            status: "if this address has an account, a reset link is on its way",
        }),
    ))
}

/// A reset link used.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// The identity in the link.
    #[schema(value_type = uuid::Uuid)]
    pub user_id: UserId,
    /// The token in the link.
    pub token: String,
    /// The new password (at least 12 characters).
    pub new_password: String,
}

/// Set a new password with a reset link; every session ends.
#[utoipa::path(post, path = "/api/password-resets/complete", tag = "sessions",
    request_body = ResetBody,
    responses(
        (status = 204, description = "The password is changed; sign in with it"),
        (status = "default", description = "A problem: invalid-reset-link, validation", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn complete_reset(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<StatusCode, ApiError> {
    password_reset::complete_reset(
        &state.app,
        CompleteReset {
            user_id: body.user_id,
            token: body.token,
            new_password: body.new_password,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
