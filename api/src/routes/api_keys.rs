//! An organization's API keys: list, create (the key is answered once) and
//! revoke. Owners, signed in, only: a key never manages keys.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use roster_commands::authorize::OwnerOf;
use roster_commands::use_cases::api_keys::{self, KeyView};
use roster_commands::use_cases::directory;
use roster_commands::{FieldError, UseCaseError};
use roster_domain::organization::Actor;
use roster_domain::{ApiKeyId, DisplayName, DomainError, Scope, Scopes};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PositionBody;
use crate::error::ApiError;
use crate::extract::{path_id, OwnedOrg};
use crate::json::ApiJson;
use crate::problem::Problem;
use crate::AppState;

/// This resource's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
        .routes(routes!(directory_sync))
}

/// Keys are managed by people who own the organization, never with a key.
fn person(owner: &OwnerOf) -> Result<(), ApiError> {
    match owner.person() {
        Some(_) => Ok(()),
        None => Err(UseCaseError::from(DomainError::KeysManagedByPeopleOnly).into()),
    }
}

/// One key (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyBody {
    /// Its id.
    #[schema(value_type = Uuid)]
    pub key_id: ApiKeyId,
    /// What it is for.
    pub name: String,
    /// What it may do: `read`, `manage`, `scim`.
    pub scopes: Vec<String>,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    /// `active`, `revoked` or `expired`.
    pub status: String,
    /// Who created it (a user id, or `system`).
    pub created_by: String,
    /// Their name, while they are a member.
    pub created_by_name: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it stops working on its own.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<KeyView> for ApiKeyBody {
    fn from(k: KeyView) -> Self {
        let status = if k.revoked_at.is_some() {
            "revoked"
        } else if k.works {
            "active"
        } else {
            "expired"
        };
        Self {
            key_id: k.key_id,
            name: k.name,
            scopes: k.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            prefix: k.prefix,
            status: status.to_owned(),
            created_by: match k.created_by {
                Actor::User(u) => u.to_string(),
                Actor::System => "system".to_owned(),
                Actor::ApiKey(k) => format!("api-key:{k}"),
            },
            created_by_name: k.created_by_name,
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
        }
    }
}

/// The organization's keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeysBody {
    /// Newest first, revoked and expired ones included.
    pub api_keys: Vec<ApiKeyBody>,
}

/// The organization's API keys (owners, signed in).
#[utoipa::path(get, path = "/api/orgs/{org}/api-keys", tag = "api-keys",
    params(("org" = Uuid, Path, description = "The organization")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The keys", body = ApiKeysBody),
        (status = "default", description = "A problem: organization-not-found, not-an-owner, keys-managed-by-people", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_keys(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
) -> Result<Json<ApiKeysBody>, ApiError> {
    person(&owner)?;
    let keys = api_keys::list_api_keys(&state.app, &owner).await?;
    Ok(Json(ApiKeysBody {
        api_keys: keys.into_iter().map(Into::into).collect(),
    }))
}

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKeyBody {
    /// What it is for (unique among the organization's working keys).
    pub name: String,
    /// At least one of `read`, `manage`, `scim`.
    pub scopes: Vec<String>,
    /// When it stops working on its own (RFC 3339, in the future); none: never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The key created: `key` is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreatedBody {
    /// Its id.
    #[schema(value_type = Uuid)]
    pub key_id: ApiKeyId,
    /// The key, to send as `Authorization: Bearer …`. It is not kept: store it now.
    pub key: String,
    /// Its first characters, as listed from now on.
    pub prefix: String,
    /// Pass as `after` to a query to read this change.
    pub position: Option<u64>,
}

/// Create an API key (owners, signed in). The answer holds the key, once.
#[utoipa::path(post, path = "/api/orgs/{org}/api-keys", tag = "api-keys",
    params(("org" = Uuid, Path, description = "The organization")),
    request_body = NewApiKeyBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Created", body = ApiKeyCreatedBody),
        (status = "default", description = "A problem: no-scopes, expiry-not-in-future, api-key-name-taken, too-many-api-keys, keys-managed-by-people, validation", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create_key(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    ApiJson(body): ApiJson<NewApiKeyBody>,
) -> Result<(StatusCode, Json<ApiKeyCreatedBody>), ApiError> {
    person(&owner)?;
    let mut errors = Vec::new();
    let name = FieldError::collect("name", Some(DisplayName::parse(&body.name)), &mut errors);
    let mut scopes = Scopes::new();
    for raw in &body.scopes {
        match Scope::parse(raw) {
            Some(scope) => {
                scopes.insert(scope);
            }
            None => errors.push(FieldError::new(
                "scopes",
                format!("“{raw}” is not a scope (read, manage or scim)"),
            )),
        }
    }
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(UseCaseError::Invalid(errors).into());
    };
    let created =
        api_keys::create_api_key(&state.app, &owner, name, scopes, body.expires_at).await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreatedBody {
            key_id: created.key_id,
            key: created.secret.expose().to_owned(),
            prefix: created.prefix,
            position: created.recorded.position.map(|p| p.0),
        }),
    ))
}

/// Revoke an API key: it is refused from the next request on, on every server.
#[utoipa::path(delete, path = "/api/orgs/{org}/api-keys/{key}", tag = "api-keys",
    params(("org" = Uuid, Path, description = "The organization"), ("key" = Uuid, Path, description = "The key")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Revoked", body = PositionBody),
        (status = "default", description = "A problem: api-key-not-found, api-key-revoked, keys-managed-by-people", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    Path(path): Path<(String, String)>,
) -> Result<Json<PositionBody>, ApiError> {
    person(&owner)?;
    let key: ApiKeyId = path_id(&path.1, "api-key")?;
    let recorded = api_keys::revoke_api_key(&state.app, &owner, key).await?;
    Ok(Json(recorded.into()))
}

/// One refused or failed SCIM request.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncErrorBody {
    /// When (RFC 3339).
    pub at: String,
    /// The HTTP status answered.
    pub status: u16,
    /// Method and path.
    pub request: String,
    /// What the answer said.
    pub detail: String,
}

/// How the organization's directory sync stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectorySyncBody {
    /// The SCIM base URL to give the identity provider.
    pub endpoint: String,
    /// The latest use of a working `scim` key, if any.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// The keys with the `scim` scope, newest first.
    pub keys: Vec<ApiKeyBody>,
    /// The latest refused or failed SCIM requests (at most 20), newest first.
    pub errors: Vec<SyncErrorBody>,
}

/// The organization's directory sync: its SCIM endpoint, keys, last sync and latest errors (owners, signed in).
#[utoipa::path(get, path = "/api/orgs/{org}/directory", tag = "api-keys",
    params(("org" = Uuid, Path, description = "The organization")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The directory sync", body = DirectorySyncBody),
        (status = "default", description = "A problem: organization-not-found, not-an-owner, keys-managed-by-people", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn directory_sync(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
) -> Result<Json<DirectorySyncBody>, ApiError> {
    person(&owner)?;
    let status = directory::sync_status(&state.app, &owner).await?;
    let last_sync_at = status
        .keys
        .iter()
        .filter(|k| k.works)
        .filter_map(|k| k.last_used_at)
        .max();
    Ok(Json(DirectorySyncBody {
        endpoint: format!("{}/scim/v2", state.public_url),
        last_sync_at,
        keys: status.keys.into_iter().map(Into::into).collect(),
        errors: status
            .errors
            .into_iter()
            .map(|e| SyncErrorBody {
                at: e.at,
                status: e.status,
                request: e.request,
                detail: e.detail,
            })
            .collect(),
    }))
}
