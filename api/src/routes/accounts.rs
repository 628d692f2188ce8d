//! A multi-account organization's accounts: list, add and rename. Owners only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use roster_commands::use_cases::{add_account, owner_queries, rename_account};
use roster_commands::UseCaseError;
use roster_domain::{AccountId, DisplayName};
use roster_projections::queries::AccountRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{after, AfterQuery};
use crate::error::ApiError;
use crate::extract::{path_id, OwnedOrg};
use crate::json::{ApiJson, ApiQuery};
use crate::problem::Problem;
use crate::AppState;

/// This resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, add_account))
        .routes(routes!(rename))
}

/// One account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBody {
    /// Its id.
    #[schema(value_type = Uuid)]
    pub account_id: AccountId,
    /// Its name.
    pub name: String,
    /// When it was added (RFC 3339).
    pub added_at: String,
}

impl From<AccountRow> for AccountBody {
    fn from(a: AccountRow) -> Self {
        Self {
            account_id: a.account_id,
            name: a.name,
            added_at: a.added_at,
        }
    }
}

/// The organization's accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountsBody {
    /// By name.
    pub accounts: Vec<AccountBody>,
    /// True when the wait for `after` timed out.
    pub stale: bool,
}

/// The organization's accounts.
#[utoipa::path(get, path = "/api/orgs/{org}/accounts", tag = "accounts",
    params(("org" = Uuid, Path, description = "The organization"), AfterQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The accounts", body = AccountsBody),
        (status = "default", description = "A problem: organization-not-found, not-an-owner", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_accounts(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    ApiQuery(q): ApiQuery<AfterQuery>,
) -> Result<Json<AccountsBody>, ApiError> {
    let read = owner_queries::list_accounts(&state.app, &owner, after(q.after)).await?;
    Ok(Json(AccountsBody {
        accounts: read.value.into_iter().map(Into::into).collect(),
        stale: read.stale,
    }))
}

/// A new account's name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccountBody {
    /// Unique within the organization.
    pub name: String,
}

/// The account added.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountAddedBody {
    /// Its new id.
    #[schema(value_type = Uuid)]
    pub account_id: AccountId,
    /// Its name.
    pub name: String,
    /// Pass as `after` to a query to read this change.
    pub position: Option<u64>,
}

/// Add an account (multi-account organizations).
#[utoipa::path(post, path = "/api/orgs/{org}/accounts", tag = "accounts",
    params(("org" = Uuid, Path, description = "The organization")),
    request_body = NewAccountBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Added", body = AccountAddedBody),
        (status = "default", description = "A problem: not-multi-account, account-name-taken, validation", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn add_account(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    ApiJson(body): ApiJson<NewAccountBody>,
) -> Result<(StatusCode, Json<AccountAddedBody>), ApiError> {
    let name = DisplayName::parse(&body.name).map_err(|e| UseCaseError::field("name", e))?;
    let added = add_account::add_account(&state.app, &owner, name).await?;
    Ok((
        StatusCode::CREATED,
        Json(AccountAddedBody {
            account_id: added.account_id,
            name: added.name.to_string(),
            position: added.recorded.position.map(|p| p.0),
        }),
    ))
}

/// What a rename did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountRenamedBody {
    /// False when the account already had that name (nothing recorded).
    pub changed: bool,
    /// Pass as `after` to a query to read this change.
    pub position: Option<u64>,
}

/// Rename an account.
#[utoipa::path(patch, path = "/api/orgs/{org}/accounts/{account}", tag = "accounts",
    params(("org" = Uuid, Path, description = "The organization"), ("account" = Uuid, Path, description = "The account")),
    request_body = NewAccountBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The account has this name", body = AccountRenamedBody),
        (status = "default", description = "A problem: unknown-account, account-name-taken, not-multi-account, validation", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn rename(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    Path(path): Path<(String, String)>,
    ApiJson(body): ApiJson<NewAccountBody>,
) -> Result<Json<AccountRenamedBody>, ApiError> {
    let account: AccountId = path_id(&path.1, "account")?;
    let name = DisplayName::parse(&body.name).map_err(|e| UseCaseError::field("name", e))?;
    let renamed = rename_account::rename_account(&state.app, &owner, account, name).await?;
    Ok(Json(AccountRenamedBody {
        changed: renamed.changed,
        position: renamed.recorded.position.map(|p| p.0),
    }))
}
