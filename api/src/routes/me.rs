//! `GET /api/me`: the signed-in member's identity, organizations, roles, accounts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use roster_commands::use_cases::change_password::{self, ChangePassword};
use roster_commands::use_cases::my_profile::{self, MyOrganization};
use roster_domain::{AccountId, OrgId, OrgShape, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::json::{ApiJson, ApiQuery};
use crate::problem::Problem;
use crate::routes::{after, AfterQuery};
use crate::schema::OrgShapeDoc;
use crate::AppState;

/// This resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(change_password))
}

/// The signed-in member.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeBody {
    /// Their identity.
    #[schema(value_type = Uuid)]
    pub user_id: UserId,
    /// Their sign-in address.
    pub email: Option<String>,
    /// Their name.
    pub full_name: Option<String>,
    /// Where they are a member.
    pub organizations: Vec<MyOrganizationBody>,
    /// True when the read models had not reached `after` in time.
    pub stale: bool,
}

/// One organization the member belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyOrganizationBody {
    /// The organization.
    #[schema(value_type = Uuid)]
    pub org_id: OrgId,
    /// Its name.
    pub name: Option<String>,
    /// Its shape.
    #[schema(value_type = Option<OrgShapeDoc>)]
    pub shape: Option<OrgShape>,
    /// The org-level role: owner, admin, standard or contributor.
    pub role: Option<String>,
    /// Per-account roles (contributors).
    pub accounts: Vec<MyAccountBody>,
}

/// A per-account role.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyAccountBody {
    /// The account.
    #[schema(value_type = Uuid)]
    pub account_id: AccountId,
    /// Its name (null only while the read models catch up).
    pub name: Option<String>,
    /// admin or standard.
    pub role: String,
}

impl From<MyOrganization> for MyOrganizationBody {
    fn from(o: MyOrganization) -> Self {
        Self {
            org_id: o.org_id,
            name: o.name,
            shape: o.shape,
            role: o.role,
            accounts: o
                .accounts
                .into_iter()
                .map(|a| MyAccountBody {
                    account_id: a.account_id,
                    name: a.name,
                    role: a.role,
                })
                .collect(),
        }
    }
}

/// Identity, organizations, roles and accounts.
#[utoipa::path(get, path = "/api/me", tag = "me",
    params(AfterQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The signed-in member", body = MeBody),
        (status = "default", description = "A problem: unauthenticated", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn me(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AfterQuery>,
) -> Result<Json<MeBody>, ApiError> {
    let read = my_profile::my_profile_after(&state.app, caller.user_id, after(q.after)).await?;
    let profile = read.value;
    Ok(Json(MeBody {
        user_id: profile.user_id,
        email: profile.email,
        full_name: profile.full_name,
        organizations: profile.organizations.into_iter().map(Into::into).collect(),
        stale: read.stale,
    }))
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeBody {
    /// The password in use now.
    pub current_password: String,
    /// The new password (at least 12 characters).
    pub new_password: String,
}

/// Change the password: the current one is required; every other session ends.
#[utoipa::path(post, path = "/api/me/password", tag = "me",
    request_body = PasswordChangeBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Changed; other sessions are signed out"),
        (status = "default", description = "A problem: validation (current_password, new_password), too-many-sign-in-attempts", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<PasswordChangeBody>,
) -> Result<StatusCode, ApiError> {
    change_password::change_password(
        &state.app,
        ChangePassword {
            user_id: caller.user_id,
            session_token: caller.token,
            current: body.current_password,
            new: body.new_password,
            client,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
