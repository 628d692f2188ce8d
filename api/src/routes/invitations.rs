//! An organization's invitations, owner side: list, invite, correct, resend, cancel.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use roster_commands::use_cases::invite_user::{self, InviteUser};
use roster_commands::use_cases::roles::RoleRequest;
use roster_commands::use_cases::{cancel_invite, change_invitation, owner_queries, resend_invite};
use roster_commands::{FieldError, UseCaseError};
use roster_domain::{Email, InvitationId, OrgRole, PersonName, Role, SingleRole};
use roster_projections::queries::InvitationRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::members::{AccountRoleInput, RoleInput};
use super::{after, AfterQuery, PositionBody};
use crate::error::ApiError;
use crate::extract::{path_id, OwnedOrg};
use crate::json::{ApiJson, ApiQuery};
use crate::problem::Problem;
use crate::schema::{OrgRoleDoc, RoleDoc, SingleRoleDoc};
use crate::AppState;

/// This resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_invitations, invite))
        .routes(routes!(resend))
        .routes(routes!(cancel, change))
}

/// One pending or expired invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationBody {
    /// Its id.
    #[schema(value_type = Uuid)]
    pub invitation_id: InvitationId,
    /// Who is invited.
    pub email: String,
    /// Their name.
    pub full_name: String,
    /// owner, admin, standard or contributor.
    pub role_label: String,
    /// The full role.
    #[schema(value_type = RoleDoc)]
    pub role: Role,
    /// Who invited them (a user id or `system`).
    pub invited_by: String,
    /// pending or expired.
    pub status: String,
    /// When it was last sent (RFC 3339).
    pub last_sent_at: String,
    /// Seconds until a resend is accepted (0: now): a minute after the last
    /// send. Relative to the server's clock, so a client's own clock being off
    /// does not matter; the page counts down from when it got the answer.
    pub resend_in_seconds: u64,
    /// When the current link stops working (RFC 3339).
    pub expires_at: String,
    /// Email delivery: queued, sent, retrying or failed.
    pub delivery: String,
    /// Message-ID or failure reason.
    pub delivery_detail: Option<String>,
}

impl InvitationBody {
    /// The row as the API shows it at `now`.
    fn at(i: InvitationRow, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            invitation_id: i.invitation_id,
            email: i.email,
            full_name: i.full_name,
            role_label: i.role_label,
            role: i.role,
            invited_by: i.invited_by,
            status: i.status,
            resend_in_seconds: resend_in_seconds(&i.last_sent_at, now),
            last_sent_at: i.last_sent_at,
            expires_at: i.expires_at,
            delivery: i.delivery,
            delivery_detail: i.delivery_detail,
        }
    }
}

/// Whole seconds from `now` until `last_sent_at` plus the resend cooldown. The
/// read model writes its times in RFC 3339, so the parse cannot fail on its own
/// rows; were it to, the answer is 0 and the rule still refuses an early resend.
fn resend_in_seconds(last_sent_at: &str, now: chrono::DateTime<chrono::Utc>) -> u64 {
    chrono::DateTime::parse_from_rfc3339(last_sent_at).map_or(0, |sent| {
        let ready =
            sent.with_timezone(&chrono::Utc) + roster_commands::sending_limits::RESEND_COOLDOWN;
        let millis = (ready - now).num_milliseconds().max(0);
        u64::try_from(millis).unwrap_or(0).div_ceil(1000)
    })
}

/// Pending and expired invitations.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationsBody {
    /// Newest send first.
    pub invitations: Vec<InvitationBody>,
    /// True when the wait for `after` timed out.
    pub stale: bool,
}

/// Pending and expired invitations, newest send first.
#[utoipa::path(get, path = "/api/orgs/{org}/invitations", tag = "invitations",
    params(("org" = Uuid, Path, description = "The organization"), AfterQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The invitations", body = InvitationsBody),
        (status = "default", description = "A problem: organization-not-found, not-an-owner", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_invitations(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    ApiQuery(q): ApiQuery<AfterQuery>,
) -> Result<Json<InvitationsBody>, ApiError> {
    let read = owner_queries::list_invitations(&state.app, &owner, after(q.after)).await?;
    Ok(Json(InvitationsBody {
        invitations: {
            let now = state.app.clock.now();
            read.value
                .into_iter()
                .map(|i| InvitationBody::at(i, now))
                .collect()
        },
        stale: read.stale,
    }))
}

/// Whom to invite, as what. Every field is required except a contributor's accounts
/// where the role does not take them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    /// Their address.
    pub email: Option<String>,
    /// Their name.
    pub full_name: Option<String>,
    /// owner, admin or standard (single-account).
    #[schema(value_type = Option<SingleRoleDoc>)]
    pub role: Option<SingleRole>,
    /// owner or contributor (multi-account).
    #[schema(value_type = Option<OrgRoleDoc>)]
    pub org_role: Option<OrgRole>,
    /// A contributor's accounts and roles.
    pub accounts: Option<Vec<AccountRoleInput>>,
}

/// The invitation made.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitedBody {
    /// Its id.
    #[schema(value_type = Uuid)]
    pub invitation_id: InvitationId,
    /// Whom.
    pub email: String,
    /// Their name.
    pub full_name: String,
    /// As what.
    #[schema(value_type = RoleDoc)]
    pub role: Role,
    /// Always `pending`.
    pub status: String,
    /// When the emailed link stops working.
    pub expires_at: DateTime<Utc>,
    /// Pass as `after` to a query to read this change.
    pub position: Option<u64>,
}

/// Invite a person with a role.
#[utoipa::path(post, path = "/api/orgs/{org}/invitations", tag = "invitations",
    params(("org" = Uuid, Path, description = "The organization")),
    request_body = InviteBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Invited; the email is on its way", body = InvitedBody),
        (status = "default", description = "A problem: already-member, already-invited (with invitation_id, to resend), role-does-not-fit, unknown-account, validation", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn invite(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<(StatusCode, Json<InvitedBody>), ApiError> {
    let mut errors = Vec::new();
    let email = FieldError::collect(
        "email",
        body.email.as_deref().map(Email::parse),
        &mut errors,
    );
    let full_name = FieldError::collect(
        "full_name",
        body.full_name.as_deref().map(PersonName::parse),
        &mut errors,
    );
    let role_input = RoleInput {
        role: body.role,
        org_role: body.org_role,
        accounts: body.accounts,
    };
    let role = match RoleRequest::from(role_input).for_shape(owner.shape()) {
        Ok(r) => Some(r),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let (Some(email), Some(full_name), Some(role)) = (email, full_name, role) else {
        return Err(UseCaseError::Invalid(errors).into());
    };
    let invited = invite_user::invite_user(
        &state.app,
        &owner,
        InviteUser {
            email,
            full_name,
            role,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitedBody {
            invitation_id: invited.invitation_id,
            email: invited.email.to_string(),
            full_name: invited.full_name.to_string(),
            role: invited.role,
            status: "pending".to_owned(),
            expires_at: invited.expires_at,
            position: invited.recorded.position.map(|p| p.0),
        }),
    ))
}

/// The resend made.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResentBody {
    /// The invitation.
    #[schema(value_type = Uuid)]
    pub invitation_id: InvitationId,
    /// When the new link stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Pass as `after` to a query to read this change.
    pub position: Option<u64>,
}

/// Resend: a new link (the old one stops working) and a new deadline.
#[utoipa::path(post, path = "/api/orgs/{org}/invitations/{id}/resend", tag = "invitations",
    params(("org" = Uuid, Path, description = "The organization"), ("id" = Uuid, Path, description = "The invitation")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Resent", body = ResentBody),
        (status = "default", description = "A problem: invitation-not-found, invitation-closed", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn resend(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    Path(path): Path<(String, String)>,
) -> Result<Json<ResentBody>, ApiError> {
    let invitation: InvitationId = path_id(&path.1, "invitation")?;
    let resent = resend_invite::resend_invite(&state.app, &owner, invitation).await?;
    Ok(Json(ResentBody {
        invitation_id: resent.invitation_id,
        expires_at: resent.expires_at,
        position: resent.recorded.position.map(|p| p.0),
    }))
}

/// Cancel an invitation.
#[utoipa::path(delete, path = "/api/orgs/{org}/invitations/{id}", tag = "invitations",
    params(("org" = Uuid, Path, description = "The organization"), ("id" = Uuid, Path, description = "The invitation")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Cancelled", body = PositionBody),
        (status = "default", description = "A problem: invitation-not-found, invitation-closed", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    Path(path): Path<(String, String)>,
) -> Result<Json<PositionBody>, ApiError> {
    let invitation: InvitationId = path_id(&path.1, "invitation")?;
    let recorded = cancel_invite::cancel_invite(&state.app, &owner, invitation).await?;
    Ok(Json(recorded.into()))
}

/// What a correction did.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationChangedBody {
    /// False when the invitation already offered that role (nothing recorded, no email).
    pub changed: bool,
    /// When the new link stops working (when changed).
    pub expires_at: Option<DateTime<Utc>>,
    /// Pass as `after` to a query to read this change.
    pub position: Option<u64>,
}

/// Correct the role an open invitation offers: a fresh link is emailed and the old one stops working.
#[utoipa::path(patch, path = "/api/orgs/{org}/invitations/{id}", tag = "invitations",
    params(("org" = Uuid, Path, description = "The organization"), ("id" = Uuid, Path, description = "The invitation")),
    request_body = RoleInput,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The invitation now offers this role", body = InvitationChangedBody),
        (status = "default", description = "A problem: invitation-not-found, invitation-closed, role-does-not-fit, unknown-account, too-many-invitations, validation", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn change(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    Path(path): Path<(String, String)>,
    ApiJson(body): ApiJson<RoleInput>,
) -> Result<Json<InvitationChangedBody>, ApiError> {
    let invitation: InvitationId = path_id(&path.1, "invitation")?;
    let role = RoleRequest::from(body)
        .for_shape(owner.shape())
        .map_err(|e| UseCaseError::Invalid(vec![e]))?;
    let changed =
        change_invitation::change_invitation(&state.app, &owner, invitation, role).await?;
    Ok(Json(InvitationChangedBody {
        changed: changed.changed,
        expires_at: changed.expires_at,
        position: changed.recorded.position.map(|p| p.0),
    }))
}
