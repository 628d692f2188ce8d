//! SCIM 2.0 (RFC 7643/7644) at `/scim/v2`, for a company's identity provider.
//! The organization is the one of the API key presented (`Authorization: Bearer
//! rst_…` with the `scim` scope); answers are `application/scim+json`, refusals
//! SCIM error bodies with a `scimType` where one applies.
//!
//! Served: the discovery resources (`ServiceProviderConfig`, `ResourceTypes`,
//! `Schemas`); `Users` (the organization's members) read with `filter`,
//! `startIndex`/`count`, `attributes`/`excludedAttributes`, created (a member at
//! once), replaced and patched (`active`: suspend and restore), and deleted
//! (removed), honouring `If-Match`; `Groups` (its roles) read, and patched or
//! replaced to change who holds a role. Groups are neither created nor deleted
//! (501): the roles are fixed.

pub mod filter;
mod groups;
mod resources;
mod writes;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use roster_commands::authorize::OwnerOf;
use roster_commands::use_cases::api_keys;
use roster_commands::UseCaseError;
use roster_domain::{OrgShape, Scope, UserId};
use roster_projections::queries;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::extract::{presented_token, TokenSource};
use crate::AppState;

/// The media type of every SCIM answer.
pub const MEDIA_TYPE: &str = "application/scim+json";

/// The most resources one page holds.
pub const MAX_COUNT: u64 = 1_000;

/// The most members a filter other than an address lookup is evaluated over.
pub const MAX_SCANNED: u64 = 50_000;

/// Whole-organization reads (a filter other than an address lookup, the
/// groups with their members) held at once: each may hold up to
/// [`MAX_SCANNED`] members in memory, so they are few.
static SCANS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A place for one whole-organization read, or a 503 to retry shortly.
pub(crate) async fn scan_place() -> Result<tokio::sync::SemaphorePermit<'static>, ScimError> {
    match tokio::time::timeout(std::time::Duration::from_secs(2), SCANS.acquire()).await {
        Ok(Ok(place)) => Ok(place),
        _ => Err(ScimError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "the service is busy with other directory reads; retry shortly",
        )),
    }
}

const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// The SCIM routes, under `/scim/v2`; refused and failed requests are recorded
/// for the organization's owners (see [`record_errors`]).
pub fn router(state: AppState) -> Router<AppState> {
    let v2 = Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/.search", axum::routing::post(search_everything))
        .route("/Users/.search", axum::routing::post(search_users))
        .route("/Groups/.search", axum::routing::post(search_groups))
        .route("/Users", get(list_users).post(writes::create_user))
        .route(
            "/Users/{id}",
            get(get_user)
                .put(writes::replace_user)
                .patch(writes::patch_user)
                .delete(writes::delete_user),
        )
        .route("/Groups", get(list_groups).post(not_yet))
        .route(
            "/Groups/{id}",
            get(get_group)
                .put(groups::replace_group)
                .patch(groups::patch_group)
                .delete(not_yet),
        )
        .fallback(unknown);
    Router::new()
        .nest("/scim/v2", v2)
        .layer(axum::middleware::from_fn_with_state(state, record_errors))
}

/// The organization a SCIM request was authorized for, once [`ScimOrg`] knows it.
#[derive(Clone, Default)]
struct Authorized(std::sync::Arc<std::sync::Mutex<Option<roster_domain::OrgId>>>);

/// Records, for the organization's owners, every SCIM answer of 400 or more
/// to a request its key was authorized for (not a stranger's: a forged key
/// cannot fill an organization's list), except a lookup of what is not there.
async fn record_errors(
    State(state): State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let slot = Authorized::default();
    request.extensions_mut().insert(slot.clone());
    let lookup = request.method() == axum::http::Method::GET;
    let what = format!("{} {}", request.method(), request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    let org = *slot.0.lock().unwrap_or_else(|p| p.into_inner());
    let Some(org) =
        org.filter(|_| status.as_u16() >= 400 && !(lookup && status == StatusCode::NOT_FOUND))
    else {
        return response;
    };
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let detail = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_owned))
        .unwrap_or_default();
    if let Err(e) = roster_commands::use_cases::directory::record_error(
        &state.app,
        org,
        status.as_u16(),
        &what,
        &detail,
    )
    .await
    {
        tracing::warn!(%org, error = %e, "a SCIM error was not recorded");
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// A SCIM error answer.
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            None,
            format!("no such {what} in this organization"),
        )
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        scim_json(self.status, &body)
    }
}

impl From<UseCaseError> for ScimError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::Unauthenticated | UseCaseError::OrganizationNotFound => Self::new(
                StatusCode::UNAUTHORIZED,
                None,
                "present a working API key of the organization with the scim scope, as `Authorization: Bearer rst_…`",
            ),
            UseCaseError::KeyScope { .. } => Self::new(
                StatusCode::FORBIDDEN,
                None,
                "this API key lacks the scim scope; an owner can create one that has it",
            ),
            e if e.is_unavailable() => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the service is busy or its database is out of reach for a moment; retry shortly",
            ),
            e => {
                let id = uuid::Uuid::now_v7();
                tracing::error!(error_id = %id, cause = %roster_domain::error_chain(&e), "SCIM request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    format!("something went wrong on our side; quote error id {id} when reporting it"),
                )
            }
        }
    }
}

impl From<roster_projections::queries::QueryError> for ScimError {
    fn from(e: roster_projections::queries::QueryError) -> Self {
        UseCaseError::from(e).into()
    }
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, MEDIA_TYPE)],
        body.to_string(),
    )
        .into_response()
}

/// The organization a SCIM request acts for: the one of its key.
pub struct ScimOrg(pub OwnerOf);

impl FromRequestParts<AppState> for ScimOrg {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let token = match presented_token(&parts.headers) {
            Some((token, TokenSource::Bearer)) if api_keys::looks_like_key(&token) => token,
            _ => return Err(UseCaseError::Unauthenticated.into()),
        };
        let org = api_keys::parse_key(&token)
            .ok_or(UseCaseError::Unauthenticated)?
            .org;
        let owner = api_keys::authorize(&state.app, &token, org, Scope::Scim).await?;
        if let Some(slot) = parts.extensions.get::<Authorized>() {
            *slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(org);
        }
        Ok(ScimOrg(owner))
    }
}

async fn unknown() -> ScimError {
    ScimError::new(StatusCode::NOT_FOUND, None, "no such SCIM endpoint")
}

async fn not_yet(_: ScimOrg) -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "a group is one of the organization's roles: roles are neither created nor deleted over SCIM",
    )
}

async fn service_provider_config(_: ScimOrg) -> Response {
    scim_json(StatusCode::OK, &resources::service_provider_config())
}

async fn resource_types(_: ScimOrg) -> Response {
    scim_json(StatusCode::OK, &list(resources::resource_types(), None, 1))
}

async fn resource_type(_: ScimOrg, Path(id): Path<String>) -> Result<Response, ScimError> {
    resources::resource_types()
        .into_iter()
        .find(|t| t["id"] == id.as_str())
        .map(|t| scim_json(StatusCode::OK, &t))
        .ok_or_else(|| ScimError::not_found("resource type"))
}

async fn schemas(_: ScimOrg) -> Response {
    scim_json(StatusCode::OK, &list(resources::schemas(), None, 1))
}

async fn schema(_: ScimOrg, Path(id): Path<String>) -> Result<Response, ScimError> {
    resources::schemas()
        .into_iter()
        .find(|s| s["id"] == id.as_str())
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found("schema"))
}

/// A list response: `resources` of `total` (all of them when `None`), from `start`.
fn list(resources: Vec<Value>, total: Option<u64>, start: u64) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total.unwrap_or(resources.len() as u64),
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// The query of a list request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

/// Which attributes an answer holds (`attributes` / `excludedAttributes`).
struct Shown {
    only: Vec<String>,
    except: Vec<String>,
}

impl Shown {
    fn from(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, ScimError> {
        let split = |s: Option<&str>| -> Result<Vec<String>, ScimError> {
            let names: Vec<String> = s
                .unwrap_or_default()
                .split(',')
                .map(|a| a.trim())
                .filter(|a| !a.is_empty())
                .map(|a| {
                    a.rsplit_once(':')
                        .map_or(a, |(_, n)| n)
                        .to_ascii_lowercase()
                })
                .collect();
            if names.len() > 64 || names.iter().any(|n| n.len() > 130) {
                return Err(ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("invalidValue"),
                    "name at most 64 attributes",
                ));
            }
            Ok(names)
        };
        Ok(Self {
            only: split(attributes)?,
            except: split(excluded)?,
        })
    }

    /// `resource` with only the attributes asked for (`id`, `schemas` and
    /// `meta` always stay, as RFC 7643 §7 says of attributes returned always).
    fn apply(&self, mut resource: Value) -> Value {
        let Some(object) = resource.as_object_mut() else {
            return resource;
        };
        let always = ["id", "schemas", "meta"];
        if !self.only.is_empty() {
            let keep: Vec<String> = object
                .keys()
                .filter(|k| {
                    let k = k.to_ascii_lowercase();
                    always.contains(&k.as_str())
                        || self
                            .only
                            .iter()
                            .any(|a| *a == k || a.split('.').next() == Some(k.as_str()))
                })
                .cloned()
                .collect();
            object.retain(|k, _| keep.contains(k));
            // `name.formatted` keeps only that sub-attribute of `name`.
            for a in &self.only {
                if let Some((top, sub)) = a.split_once('.') {
                    if let Some(Value::Object(inner)) = object
                        .iter_mut()
                        .find(|(k, _)| k.eq_ignore_ascii_case(top))
                        .map(|(_, v)| v)
                    {
                        if !self.only.iter().any(|o| o == top) {
                            inner.retain(|k, _| k.eq_ignore_ascii_case(sub));
                        }
                    }
                }
            }
        }
        for a in &self.except {
            if !always.contains(&a.as_str()) {
                object.retain(|k, _| !k.eq_ignore_ascii_case(a));
            }
        }
        resource
    }
}

/// `startIndex` (1-based, below 1 read as 1) and `count` (0 to [`MAX_COUNT`],
/// default 100).
fn paging(q: &ListQuery) -> (u64, u64) {
    let start = u64::try_from(q.start_index.unwrap_or(1).max(1)).unwrap_or(1);
    let count = u64::try_from(q.count.unwrap_or(100).clamp(0, MAX_COUNT as i64)).unwrap_or(100);
    (start, count)
}

/// Waits (up to 2 s) until the read models hold every change committed before
/// this request: a directory reads right after it writes, on any instance.
pub(crate) async fn fresh(state: &AppState) -> Result<(), ScimError> {
    let head = state
        .app
        .store
        .head()
        .await
        .map_err(|e| UseCaseError::infrastructure("reading the log's head", e))?;
    state
        .app
        .wait_for_read_models(head, std::time::Duration::from_secs(2))
        .await?;
    Ok(())
}

pub(crate) async fn context(
    state: &AppState,
    owner: &OwnerOf,
) -> Result<resources::Context, ScimError> {
    fresh(state).await?;
    let accounts = if owner.shape() == OrgShape::Multi {
        queries::accounts(&state.app.read, owner.org_id()).await?
    } else {
        Vec::new()
    };
    Ok(resources::Context {
        base: format!("{}/scim/v2", state.public_url),
        shape: owner.shape(),
        accounts: accounts
            .into_iter()
            .map(|a| (a.account_id, a.name))
            .collect(),
    })
}

fn parse_filter(q: &ListQuery) -> Result<Option<filter::Filter>, ScimError> {
    q.filter
        .as_deref()
        .map(filter::parse)
        .transpose()
        .map_err(|e| ScimError::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), e.0))
}

async fn search_everything(_: ScimOrg) -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "search one resource type at a time: POST /Users/.search or /Groups/.search",
    )
}

/// A `POST …/.search` body as the query of a list (RFC 7644 §3.4.3).
fn search_query(
    headers: &axum::http::HeaderMap,
    body: &axum::body::Bytes,
) -> Result<ListQuery, ScimError> {
    let body = writes::body_json(headers, body)?;
    let text = |name: &str| {
        writes::field(&body, name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let list = |name: &str| {
        writes::field(&body, name).map(|v| match v {
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            Value::String(s) => s.clone(),
            _ => String::new(),
        })
    };
    let number = |name: &str| writes::field(&body, name).and_then(Value::as_i64);
    Ok(ListQuery {
        filter: text("filter"),
        start_index: number("startIndex"),
        count: number("count"),
        attributes: list("attributes"),
        excluded_attributes: list("excludedAttributes"),
    })
}

async fn search_users(
    state: State<AppState>,
    scim: ScimOrg,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ScimError> {
    let q = search_query(&headers, &body)?;
    list_users(state, scim, Query(q)).await
}

async fn search_groups(
    state: State<AppState>,
    scim: ScimOrg,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ScimError> {
    let q = search_query(&headers, &body)?;
    list_groups(state, scim, Query(q)).await
}

async fn list_users(
    State(state): State<AppState>,
    ScimOrg(owner): ScimOrg,
    Query(q): Query<ListQuery>,
) -> Result<Response, ScimError> {
    let shown = Shown::from(q.attributes.as_deref(), q.excluded_attributes.as_deref())?;
    let wanted = parse_filter(&q)?;
    let (start, count) = paging(&q);
    let ctx = context(&state, &owner).await?;
    let org = owner.org_id();
    let db = &state.app.read;
    let (page, total) = match &wanted {
        None => {
            let total = queries::member_count(db, org).await?;
            let rows = queries::members_from(db, org, start - 1, count).await?;
            (rows.iter().map(|m| ctx.user(m)).collect::<Vec<_>>(), total)
        }
        Some(f) => {
            let matching: Vec<Value> = match filter::wanted_address(f) {
                // One indexed lookup; the whole filter still has to hold.
                Some(address) => queries::member_by_email_key(db, org, &address.to_lowercase())
                    .await?
                    .map(|m| ctx.user(&m))
                    .into_iter()
                    .filter(|u| filter::matches(f, u))
                    .collect(),
                None => {
                    let _place = scan_place().await?;
                    if queries::member_count(db, org).await? > MAX_SCANNED {
                        return Err(ScimError::new(
                            StatusCode::BAD_REQUEST,
                            Some("tooMany"),
                            format!("this organization has more than {MAX_SCANNED} members: filter by userName, emails.value or id"),
                        ));
                    }
                    queries::members_from(db, org, 0, MAX_SCANNED)
                        .await?
                        .iter()
                        .map(|m| ctx.user(m))
                        .filter(|u| filter::matches(f, u))
                        .collect()
                }
            };
            let total = matching.len() as u64;
            let page = matching
                .into_iter()
                .skip(usize::try_from(start - 1).unwrap_or(usize::MAX))
                .take(usize::try_from(count).unwrap_or(0))
                .collect();
            (page, total)
        }
    };
    let resources = page.into_iter().map(|u| shown.apply(u)).collect();
    Ok(scim_json(
        StatusCode::OK,
        &list(resources, Some(total), start),
    ))
}

async fn get_user(
    State(state): State<AppState>,
    ScimOrg(owner): ScimOrg,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ScimError> {
    let shown = Shown::from(q.attributes.as_deref(), q.excluded_attributes.as_deref())?;
    let user: UserId = id.parse().map_err(|_| ScimError::not_found("user"))?;
    let ctx = context(&state, &owner).await?;
    let member = queries::member_by_id(&state.app.read, owner.org_id(), user)
        .await?
        .ok_or_else(|| ScimError::not_found("user"))?;
    let resource = ctx.user(&member);
    Ok(with_etag(shown.apply(resource)))
}

/// A single resource, with its version as `ETag`.
pub(crate) fn with_etag(resource: Value) -> Response {
    let etag = resource["meta"]["version"].as_str().map(str::to_owned);
    let mut response = scim_json(StatusCode::OK, &resource);
    if let Some(etag) = etag.and_then(|e| e.parse().ok()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

async fn all_groups(
    state: &AppState,
    owner: &OwnerOf,
    ctx: &resources::Context,
) -> Result<Vec<Value>, ScimError> {
    let _place = scan_place().await?;
    let members = queries::members_from(&state.app.read, owner.org_id(), 0, MAX_SCANNED).await?;
    Ok(ctx.groups(&members))
}

async fn list_groups(
    State(state): State<AppState>,
    ScimOrg(owner): ScimOrg,
    Query(q): Query<ListQuery>,
) -> Result<Response, ScimError> {
    let shown = Shown::from(q.attributes.as_deref(), q.excluded_attributes.as_deref())?;
    let wanted = parse_filter(&q)?;
    let (start, count) = paging(&q);
    let ctx = context(&state, &owner).await?;
    let groups: Vec<Value> = all_groups(&state, &owner, &ctx)
        .await?
        .into_iter()
        .filter(|g| wanted.as_ref().is_none_or(|f| filter::matches(f, g)))
        .collect();
    let total = groups.len() as u64;
    let page = groups
        .into_iter()
        .skip(usize::try_from(start - 1).unwrap_or(usize::MAX))
        .take(usize::try_from(count).unwrap_or(0))
        .map(|g| shown.apply(g))
        .collect();
    Ok(scim_json(StatusCode::OK, &list(page, Some(total), start)))
}

async fn get_group(
    State(state): State<AppState>,
    ScimOrg(owner): ScimOrg,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ScimError> {
    let shown = Shown::from(q.attributes.as_deref(), q.excluded_attributes.as_deref())?;
    let ctx = context(&state, &owner).await?;
    all_groups(&state, &owner, &ctx)
        .await?
        .into_iter()
        .find(|g| g["id"] == id.as_str())
        .map(|g| with_etag(shown.apply(g)))
        .ok_or_else(|| ScimError::not_found("group"))
}
