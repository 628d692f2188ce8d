//! An organization's invitations, owner side: list, invite, correct, resend, cancel.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use roster_commands::use_cases::bulk_invite::{self, RowOutcome};
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
        .routes(routes!(invite_bulk))
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
    let input = parse_invite(body, owner.shape()).map_err(UseCaseError::Invalid)?;
    let invited = invite_user::invite_user(&state.app, &owner, input).await?;
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

/// An invitation's fields parsed for an organization of `shape`, or every bad field.
fn parse_invite(
    body: InviteBody,
    shape: roster_domain::OrgShape,
) -> Result<InviteUser, Vec<FieldError>> {
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
    let role = match RoleRequest::from(role_input).for_shape(shape) {
        Ok(r) => Some(r),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    match (email, full_name, role) {
        (Some(email), Some(full_name), Some(role)) => Ok(InviteUser {
            email,
            full_name,
            role,
        }),
        _ => Err(errors),
    }
}

/// Many invitations at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInviteBody {
    /// 1 to 500 rows, each with the fields of a single invitation. A row that
    /// is not a valid invitation is answered `invalid`; the others still go.
    #[schema(value_type = Vec<InviteBody>)]
    pub invitations: Vec<serde_json::Value>,
}

/// What became of one row.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkRowBody {
    /// The row's place in the request, from 0.
    pub row: usize,
    /// `invited`, `already-invited`, `already-member`, `invalid`,
    /// `over-sending-limit` or `refused`.
    pub outcome: String,
    /// The row's address as sent, when it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The invitation made (`invited`) or the open one (`already-invited`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Uuid>)]
    pub invitation_id: Option<InvitationId>,
    /// When the new link stops working (`invited`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The role the open invitation offers (`already-invited`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<RoleDoc>)]
    pub invitation_role: Option<Role>,
    /// The member (`already-member`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Uuid>)]
    pub user_id: Option<roster_domain::UserId>,
    /// The bad fields (`invalid`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<crate::problem::FieldErrorDoc>)]
    pub errors: Vec<FieldError>,
    /// Seconds until this address can be sent to again (`over-sending-limit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// The problem type of the rule that refused it (`refused`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<String>,
    /// What happened, for a person to read.
    pub detail: String,
}

/// One answer per row, in the request's order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkInvitedBody {
    /// The rows' outcomes.
    pub results: Vec<BulkRowBody>,
    /// How many rows were invited.
    pub invited: usize,
    /// Pass as `after` to a query to read these changes (null when none was made).
    pub position: Option<u64>,
}

/// Invite up to 500 people at once: one answer per row, one append for them all.
#[utoipa::path(post, path = "/api/orgs/{org}/invitations/bulk", tag = "invitations",
    params(("org" = Uuid, Path, description = "The organization")),
    request_body = BulkInviteBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Every row answered; those invited are recorded together", body = BulkInvitedBody),
        (status = "default", description = "A problem: validation (no rows, or more than 500), body-too-large", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn invite_bulk(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    ApiJson(body): ApiJson<BulkInviteBody>,
) -> Result<Json<BulkInvitedBody>, ApiError> {
    let emails: Vec<Option<String>> = body
        .invitations
        .iter()
        .map(|row| row.get("email").and_then(|e| e.as_str()).map(str::to_owned))
        .collect();
    let rows = body
        .invitations
        .into_iter()
        .map(|row| {
            serde_json::from_value::<InviteBody>(row)
                .map_err(|e| vec![FieldError::new("row", e)])
                .and_then(|b| parse_invite(b, owner.shape()))
        })
        .collect();
    let done = bulk_invite::bulk_invite(&state.app, &owner, rows).await?;
    let results: Vec<BulkRowBody> = done
        .rows
        .into_iter()
        .zip(emails)
        .enumerate()
        .map(|(row, (outcome, email))| bulk_row(row, outcome, email))
        .collect();
    Ok(Json(BulkInvitedBody {
        invited: results.iter().filter(|r| r.outcome == "invited").count(),
        results,
        position: done.recorded.position.map(|p| p.0),
    }))
}

fn bulk_row(row: usize, outcome: RowOutcome, email: Option<String>) -> BulkRowBody {
    let mut body = BulkRowBody {
        row,
        outcome: String::new(),
        email,
        invitation_id: None,
        expires_at: None,
        invitation_role: None,
        user_id: None,
        errors: Vec::new(),
        retry_after_seconds: None,
        problem_type: None,
        detail: String::new(),
    };
    let who = body.email.clone().unwrap_or_else(|| "this row".to_owned());
    match outcome {
        RowOutcome::Invited {
            invitation_id,
            expires_at,
        } => {
            body.outcome = "invited".into();
            body.invitation_id = Some(invitation_id);
            body.expires_at = Some(expires_at);
            body.detail = format!("{who} is invited; the email is on its way");
        }
        RowOutcome::AlreadyInvited {
            invitation_id,
            role,
        } => {
            body.outcome = "already-invited".into();
            body.invitation_id = Some(invitation_id);
            body.invitation_role = Some(role);
            body.detail = format!(
                "{who} already has an open invitation; resend it, or change the role it offers"
            );
        }
        RowOutcome::AlreadyMember { user_id } => {
            body.outcome = "already-member".into();
            body.user_id = Some(user_id);
            body.detail = format!("{who} is already a member");
        }
        RowOutcome::Invalid { errors } => {
            body.outcome = "invalid".into();
            body.detail = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            body.errors = errors;
        }
        RowOutcome::OverSendingLimit { retry_after } => {
            body.outcome = "over-sending-limit".into();
            body.retry_after_seconds = Some(retry_after.as_secs().max(1));
            body.detail = format!(
                "too many invitation emails to {who}; try again in {} seconds",
                retry_after.as_secs().max(1)
            );
        }
        RowOutcome::Refused(refusal) => {
            let problem = crate::error::domain_problem(&refusal);
            body.outcome = "refused".into();
            body.problem_type = Some(problem.type_uri);
            body.detail = problem.detail;
        }
    }
    body
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
