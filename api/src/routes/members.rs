//! The member list (`GET /api/orgs/{org}/members`, also "as of" an instant), role
//! changes and removal. Owners only.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use roster_commands::use_cases::roles::RoleRequest;
use roster_commands::use_cases::{change_role, leave_organization, owner_queries, remove_member};
use roster_commands::UseCaseError;
use roster_domain::{AccountId, AccountRole, OrgRole, Role, SingleRole, UserId};
use roster_projections::queries::{MemberFilter, MemberRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{after, PositionBody};
use crate::error::ApiError;
use crate::extract::{path_id, Caller, OwnedOrg};
use crate::json::{ApiJson, ApiQuery};
use crate::problem::Problem;
use crate::schema::{AccountRoleDoc, OrgRoleDoc, RoleDoc, SingleRoleDoc};
use crate::AppState;

/// This resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(change_role, remove_member))
        .routes(routes!(leave))
}

/// Role fields as clients send them: `role` in a single-account organization,
/// `org_role` (and a contributor's `accounts`) in a multi-account one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    /// owner, admin or standard (single-account).
    #[schema(value_type = Option<SingleRoleDoc>)]
    pub role: Option<SingleRole>,
    /// owner or contributor (multi-account).
    #[schema(value_type = Option<OrgRoleDoc>)]
    pub org_role: Option<OrgRole>,
    /// A contributor's accounts and roles.
    pub accounts: Option<Vec<AccountRoleInput>>,
}

/// One account role as clients send it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountRoleInput {
    /// The account.
    #[schema(value_type = Uuid)]
    pub account_id: AccountId,
    /// admin or standard.
    #[schema(value_type = AccountRoleDoc)]
    pub role: AccountRole,
}

impl From<RoleInput> for RoleRequest {
    fn from(input: RoleInput) -> Self {
        RoleRequest {
            role: input.role,
            org_role: input.org_role,
            accounts: input
                .accounts
                .map(|list| list.into_iter().map(|a| (a.account_id, a.role)).collect()),
        }
    }
}

/// Longest search text: names and emails are at most 100 characters, so a longer
/// search can match nothing and only costs a scan.
pub const MAX_SEARCH_CHARS: usize = 100;

/// Narrowing and paging of the member list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// The list as it was at this instant (from membership periods; no paging).
    pub as_of: Option<DateTime<Utc>>,
    /// Case-insensitive part of a name or email.
    pub search: Option<String>,
    /// Only this role: owner, admin, standard or contributor.
    pub role: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Rows per page (1 to 200, default 50).
    pub limit: Option<usize>,
    /// Wait until the read models have passed this position.
    pub after: Option<u64>,
}

/// One member.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberBody {
    /// Their identity.
    #[schema(value_type = Uuid)]
    pub user_id: UserId,
    /// Their name.
    pub full_name: String,
    /// Their address.
    pub email: String,
    /// owner, admin, standard or contributor.
    pub role_label: String,
    /// The full role.
    #[schema(value_type = RoleDoc)]
    pub role: Role,
    /// When they joined (RFC 3339).
    pub joined_at: String,
    /// Suspended by the organization's directory: listed, without access.
    pub suspended: bool,
    /// Added by the organization's directory (SCIM), not by an invitation.
    pub managed: bool,
}

impl From<MemberRow> for MemberBody {
    fn from(m: MemberRow) -> Self {
        Self {
            user_id: m.user_id,
            full_name: m.full_name,
            email: m.email,
            role_label: m.role_label,
            role: m.role,
            joined_at: m.joined_at,
            suspended: m.suspended,
            managed: m.managed,
        }
    }
}

/// A page of members, the caller first on the first page.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembersBody {
    /// The members.
    pub members: Vec<MemberBody>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
    /// True when the wait for `after` timed out.
    pub stale: bool,
    /// The instant asked for with `as_of`, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
}

/// Members, current user first; search, filter, pages, or `as_of` an instant.
#[utoipa::path(get, path = "/api/orgs/{org}/members", tag = "members",
    params(("org" = Uuid, Path, description = "The organization"), MembersQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of members", body = MembersBody),
        (status = "default", description = "A problem: organization-not-found, not-an-owner, validation", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_members(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    ApiQuery(q): ApiQuery<MembersQuery>,
) -> Result<Json<MembersBody>, ApiError> {
    if let Some(at) = q.as_of {
        let read = owner_queries::members_as_of(&state.app, &owner, at, after(q.after)).await?;
        return Ok(Json(MembersBody {
            members: read.value.into_iter().map(Into::into).collect(),
            next_cursor: None,
            stale: read.stale,
            as_of: Some(at),
        }));
    }
    if q.search
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS)
    {
        return Err(UseCaseError::field(
            "search",
            format!("use at most {MAX_SEARCH_CHARS} characters"),
        )
        .into());
    }
    let filter = MemberFilter {
        search: q.search.filter(|s| !s.trim().is_empty()),
        role: q.role,
    };
    let read = owner_queries::list_members(
        &state.app,
        &owner,
        &filter,
        q.cursor.as_deref(),
        q.limit.unwrap_or(50),
        after(q.after),
    )
    .await?;
    Ok(Json(MembersBody {
        members: read.value.members.into_iter().map(Into::into).collect(),
        next_cursor: read.value.next_cursor,
        stale: read.stale,
        as_of: None,
    }))
}

/// What a role change did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleChangedBody {
    /// Pass as `after` to a query to read this change.
    pub position: Option<u64>,
    /// False when the member already had that role.
    pub changed: bool,
}

/// Change a member's role(s).
#[utoipa::path(patch, path = "/api/orgs/{org}/members/{user}", tag = "members",
    params(("org" = Uuid, Path, description = "The organization"), ("user" = Uuid, Path, description = "The member")),
    request_body = RoleInput,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The role is now as asked", body = RoleChangedBody),
        (status = "default", description = "A problem: member-not-found, last-owner, role-does-not-fit, unknown-account, validation", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn change_role(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    Path(path): Path<(String, String)>,
    ApiJson(body): ApiJson<RoleInput>,
) -> Result<Json<RoleChangedBody>, ApiError> {
    let member: UserId = path_id(&path.1, "member")?;
    let role = RoleRequest::from(body)
        .for_shape(owner.shape())
        .map_err(|e| UseCaseError::Invalid(vec![e]))?;
    let changed = change_role::change_role(&state.app, &owner, member, role).await?;
    Ok(Json(RoleChangedBody {
        position: changed.recorded.position.map(|p| p.0),
        changed: changed.changed,
    }))
}

/// Remove a member.
#[utoipa::path(delete, path = "/api/orgs/{org}/members/{user}", tag = "members",
    params(("org" = Uuid, Path, description = "The organization"), ("user" = Uuid, Path, description = "The member")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Removed", body = PositionBody),
        (status = "default", description = "A problem: member-not-found, last-owner", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    Path(path): Path<(String, String)>,
) -> Result<Json<PositionBody>, ApiError> {
    let member: UserId = path_id(&path.1, "member")?;
    let recorded = remove_member::remove_member(&state.app, &owner, member).await?;
    Ok(Json(recorded.into()))
}

/// Leave the organization (any member; the last owner cannot).
#[utoipa::path(delete, path = "/api/orgs/{org}/membership", tag = "members",
    params(("org" = Uuid, Path, description = "The organization")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Left", body = PositionBody),
        (status = "default", description = "A problem: organization-not-found, last-owner", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn leave(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<PositionBody>, ApiError> {
    let org = path_id(&org, "organization")?;
    let recorded = leave_organization::leave_organization(&state.app, caller.user_id, org).await?;
    Ok(Json(recorded.into()))
}
