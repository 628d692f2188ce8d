//! The invitee's side of an invitation: preview the link (never uses it up) and accept.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use roster_commands::use_cases::accept_invite::{self, AcceptInvite};
use roster_commands::use_cases::invitation_link;
use roster_domain::{AccountId, OrgId, OrgShape, Role, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::MaybeCaller;
use crate::json::ApiJson;
use crate::problem::Problem;
use crate::schema::{OrgShapeDoc, RoleDoc};
use crate::AppState;

/// This resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(preview))
        .routes(routes!(accept))
}

/// The organization an invitation is to.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitingOrganization {
    /// Its id.
    #[schema(value_type = Uuid)]
    pub org_id: OrgId,
    /// Its name.
    pub name: String,
    /// Its shape.
    #[schema(value_type = OrgShapeDoc)]
    pub shape: OrgShape,
}

/// An account the offered role names.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamedAccount {
    /// The account.
    #[schema(value_type = Uuid)]
    pub account_id: AccountId,
    /// Its name.
    pub name: String,
}

/// What an invitation link offers.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewBody {
    /// The organization.
    pub organization: InvitingOrganization,
    /// The inviting owner's name (null when the operator invited).
    pub invited_by: Option<String>,
    /// Whom it is for.
    pub email: String,
    /// Their name as the owner typed it.
    pub full_name: String,
    /// The role offered.
    #[schema(value_type = RoleDoc)]
    pub role: Role,
    /// The accounts the role names, with their names.
    pub accounts: Vec<NamedAccount>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// pending, expired, accepted or cancelled.
    pub status: String,
    /// True when the invitee must sign in to accept (they have an identity).
    pub existing_account: bool,
    /// `optional` when the invitee may accept by signing in with the
    /// organization's single sign-on, `required` when they must; null: not offered.
    pub single_sign_on: Option<String>,
}

/// Preview an invitation link (does not use it).
#[utoipa::path(get, path = "/api/invitations/{token}", tag = "invitation links",
    params(("token" = String, Path, description = "The token from the emailed link")),
    responses(
        (status = 200, description = "What the link offers", body = PreviewBody),
        (status = "default", description = "A problem: invalid-invitation-link", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn preview(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<PreviewBody>, ApiError> {
    let p = invitation_link::preview(&state.app, &token).await?;
    Ok(Json(PreviewBody {
        organization: InvitingOrganization {
            org_id: p.org_id,
            name: p.org_name,
            shape: p.shape,
        },
        invited_by: p.invited_by,
        email: p.email.to_string(),
        full_name: p.full_name.to_string(),
        role: p.role,
        accounts: p
            .accounts
            .into_iter()
            .map(|(account_id, name)| NamedAccount { account_id, name })
            .collect(),
        expires_at: p.expires_at,
        status: p.status,
        existing_account: p.existing_account,
        single_sign_on: p
            .single_sign_on
            .map(|required| if required { "required" } else { "optional" }.to_owned()),
    }))
}

/// An acceptance: a new person also sends their name and a password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    /// The token from the emailed link.
    pub token: String,
    /// A new person's full name.
    pub full_name: Option<String>,
    /// A new person's password (at least 12 characters).
    pub password: Option<String>,
}

/// The membership that began.
#[derive(Debug, Serialize, ToSchema)]
pub struct JoinedBody {
    /// The member's identity.
    #[schema(value_type = Uuid)]
    pub user_id: UserId,
    /// The organization joined.
    #[schema(value_type = Uuid)]
    pub org_id: OrgId,
    /// Pass as `after` to a query to read this change.
    pub position: Option<u64>,
}

/// Accept an invitation: a new person sets name and password; a known person must
/// be signed in as the invitee.
#[utoipa::path(post, path = "/api/invitations/accept", tag = "invitation links",
    request_body = AcceptBody,
    responses(
        (status = 201, description = "Joined", body = JoinedBody),
        (status = "default", description = "A problem: invalid-invitation-link, invitation-expired, invitation-cancelled, invitation-already-accepted, sign-in-to-accept, wrong-identity, validation", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn accept(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiJson(body): ApiJson<AcceptBody>,
) -> Result<(StatusCode, Json<JoinedBody>), ApiError> {
    let joined = accept_invite::accept_invite(
        &state.app,
        AcceptInvite {
            token: body.token,
            full_name: body.full_name,
            password: body.password,
            signed_in: caller.map(|c| c.user_id),
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(JoinedBody {
            user_id: joined.user_id,
            org_id: joined.org_id,
            position: joined.recorded.position.map(|p| p.0),
        }),
    ))
}
