//! Single sign-on: an organization's connection to its OpenID Connect provider
//! (owners, signed in), and the sign-in through it.
//!
//! * `GET|PUT|DELETE /api/orgs/{org}/sso`: the connection.
//! * `POST /api/sso/method`: how an address signs in (the sign-in page asks
//!   for the email first).
//! * `POST /api/sso/start`: where to send the browser; sets the cookie that binds
//!   the sign-in to it (the page then navigates there: a form post would be
//!   stopped by the page's `form-action 'self'`).
//! * `GET /sso/callback`: the provider sends the browser back here; the answer
//!   is a page that moves on (signed in, a password to confirm, or the sign-in
//!   page naming what went wrong), never a server error.
//! * `POST /api/sso/confirm`: a person who belongs to other organizations too
//!   confirms the identity once with their Roster password.

use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use roster_commands::use_cases::roles::RoleRequest;
use roster_commands::use_cases::sso::{
    self, Callback, Configure, Finished, Method, SsoSettings, Start,
};
use roster_commands::UseCaseError;
use roster_domain::{OrgId, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::members::RoleInput;
use super::sessions::{session_cookie, SessionBody};
use super::PositionBody;
use crate::client_addr::ClientAddr;
use crate::error::{sso_problem, ApiError};
use crate::extract::OwnedOrg;
use crate::json::ApiJson;
use crate::problem::Problem;
use crate::schema::RoleDoc;
use crate::AppState;

/// The cookie binding a sign-in in flight to the browser that started it.
const BROWSER_COOKIE: &str = "roster_sso";
/// The cookie holding a provider identity that waits for its password.
const LINK_COOKIE: &str = "roster_sso_link";

/// This resource's routes (the callback, a page, is in [`callback_router`]).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_connection, put_connection, delete_connection))
        .routes(routes!(sign_in_method))
        .routes(routes!(start))
        .routes(routes!(confirm))
}

/// The provider's way back: a browser navigation, answered with a page.
pub fn callback_router() -> axum::Router<AppState> {
    axum::Router::new().route("/sso/callback", get(callback))
}

/// The address providers send browsers back to (register it at the provider).
fn callback_url(state: &AppState) -> String {
    format!("{}/sso/callback", state.public_url)
}

/// An organization's connection (never its client secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct SsoBody {
    /// Whether a provider is connected.
    pub connected: bool,
    /// The provider's issuer.
    pub issuer: Option<String>,
    /// Roster's client id there.
    pub client_id: Option<String>,
    /// The email domains it answers for.
    pub domains: Vec<String>,
    /// Members at these domains must sign in with it.
    pub enforced: bool,
    /// The role people join with without an invitation; null: they need one.
    #[schema(value_type = Option<RoleDoc>)]
    pub join_role: Option<Role>,
    /// The redirect URI to register at the provider.
    pub callback_url: String,
    /// A sign-in address that names this organization (for people joining).
    pub sign_in_url: String,
}

fn body(state: &AppState, org: OrgId, settings: Option<SsoSettings>) -> SsoBody {
    let sign_in_url = format!("{}/sign-in?org={org}", state.public_url);
    match settings {
        Some(s) => SsoBody {
            connected: true,
            issuer: Some(s.issuer),
            client_id: Some(s.client_id),
            domains: s.domains,
            enforced: s.enforced,
            join_role: s.join_role,
            callback_url: callback_url(state),
            sign_in_url,
        },
        None => SsoBody {
            connected: false,
            issuer: None,
            client_id: None,
            domains: Vec::new(),
            enforced: false,
            join_role: None,
            callback_url: callback_url(state),
            sign_in_url,
        },
    }
}

/// The organization's single sign-on connection (owners, signed in).
#[utoipa::path(get, path = "/api/orgs/{org}/sso", tag = "sso",
    params(("org" = Uuid, Path, description = "The organization")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The connection (connected: false when none)", body = SsoBody),
        (status = "default", description = "A problem: organization-not-found, not-an-owner, sso-managed-by-people", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_connection(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
) -> Result<Json<SsoBody>, ApiError> {
    person(&owner)?;
    let settings = sso::settings(&state.app, &owner).await?;
    Ok(Json(body(&state, owner.org_id(), settings)))
}

fn person(owner: &roster_commands::authorize::OwnerOf) -> Result<(), ApiError> {
    match owner.person() {
        Some(_) => Ok(()),
        None => Err(UseCaseError::from(roster_domain::DomainError::SsoManagedByPeopleOnly).into()),
    }
}

/// A connection as an owner sets it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoInput {
    /// The provider's issuer URL (its `/.well-known/openid-configuration` is fetched and checked).
    pub issuer: String,
    /// Roster's client id at the provider.
    pub client_id: String,
    /// Roster's client secret there; leave out to keep the current one.
    pub client_secret: Option<String>,
    /// The email domains the provider answers for (1 to 20; no public mailbox domains).
    pub domains: Vec<String>,
    /// Require it: members at these domains cannot sign in or reset with a password.
    #[serde(default)]
    pub enforced: bool,
    /// Let people at these domains join without an invitation, with this role (never owner).
    pub join_role: Option<RoleInput>,
}

/// Connect or change the organization's provider (owners, signed in).
#[utoipa::path(put, path = "/api/orgs/{org}/sso", tag = "sso",
    params(("org" = Uuid, Path, description = "The organization")),
    request_body = SsoInput,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The connection as it is now", body = SsoBody),
        (status = "default", description = "A problem: validation (issuer: the provider's discovery failed), sso-domain-count, sso-join-as-owner, role-does-not-fit, sso-managed-by-people", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn put_connection(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
    ApiJson(input): ApiJson<SsoInput>,
) -> Result<Json<SsoBody>, ApiError> {
    person(&owner)?;
    let join_role =
        match input.join_role {
            Some(role) => Some(RoleRequest::from(role).for_shape(owner.shape()).map_err(
                |mut e| {
                    e.field = "join_role".into();
                    UseCaseError::Invalid(vec![e])
                },
            )?),
            None => None,
        };
    sso::configure(
        &state.app,
        &owner,
        Configure {
            issuer: input.issuer,
            client_id: input.client_id,
            client_secret: input.client_secret,
            domains: input.domains,
            enforced: input.enforced,
            join_role,
        },
    )
    .await?;
    let settings = sso::settings(&state.app, &owner).await?;
    Ok(Json(body(&state, owner.org_id(), settings)))
}

/// Disconnect the organization's provider (owners, signed in).
#[utoipa::path(delete, path = "/api/orgs/{org}/sso", tag = "sso",
    params(("org" = Uuid, Path, description = "The organization")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Disconnected", body = PositionBody),
        (status = "default", description = "A problem: no-sso-connection, not-an-owner, sso-managed-by-people", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete_connection(
    State(state): State<AppState>,
    OwnedOrg(owner): OwnedOrg,
) -> Result<Json<PositionBody>, ApiError> {
    person(&owner)?;
    Ok(Json(sso::remove(&state.app, &owner).await?.into()))
}

/// An address, and the organization a sign-in link names.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MethodInput {
    /// The address typed.
    pub email: String,
    /// The organization of a sign-in link (`/sign-in?org=`).
    #[schema(value_type = Option<Uuid>)]
    pub org: Option<OrgId>,
}

/// How an address signs in.
#[derive(Debug, Serialize, ToSchema)]
pub struct MethodBody {
    /// `password` or `sso`.
    pub method: String,
    /// With `sso`: the organization whose provider it is.
    #[schema(value_type = Option<Uuid>)]
    pub org_id: Option<OrgId>,
    /// With `sso`: its name.
    pub organization: Option<String>,
    /// With `sso`: whether the organization requires it (no password then).
    pub required: bool,
}

/// How this address signs in: with a password, or with an organization's provider.
#[utoipa::path(post, path = "/api/sso/method", tag = "sso",
    request_body = MethodInput,
    responses(
        (status = 200, description = "The method", body = MethodBody),
    ))]
pub(crate) async fn sign_in_method(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<MethodInput>,
) -> Result<Json<MethodBody>, ApiError> {
    let found = sso::method(&state.app, &input.email, input.org).await?;
    Ok(Json(match found {
        Method::Password => MethodBody {
            method: "password".into(),
            org_id: None,
            organization: None,
            required: false,
        },
        Method::Sso {
            org_id,
            organization,
            required,
        } => MethodBody {
            method: "sso".into(),
            org_id: Some(org_id),
            organization: Some(organization),
            required,
        },
    }))
}

/// Whom the sign-in is for: an address, an organization's link, or an invitation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartInput {
    /// The address typed on the sign-in page.
    pub email: Option<String>,
    /// The organization of a sign-in link.
    #[schema(value_type = Option<Uuid>)]
    pub org: Option<OrgId>,
    /// The token of an invitation being accepted.
    pub invitation_token: Option<String>,
}

/// Where to send the browser.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartBody {
    /// The provider's authorization URL.
    pub url: String,
}

/// Start signing in with an organization's provider: answers the provider's
/// URL and sets a cookie binding the sign-in to this browser (10 minutes).
#[utoipa::path(post, path = "/api/sso/start", tag = "sso",
    request_body = StartInput,
    responses(
        (status = 200, description = "Navigate to `url`", body = StartBody),
        (status = "default", description = "A problem: sso-not-connected, sso-provider-unavailable, sso-provider-misconfigured, invalid-invitation-link, validation", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn start(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<StartInput>,
) -> Result<(HeaderMap, Json<StartBody>), ApiError> {
    // Each start stores a row for 10 minutes: it counts among the writes.
    let _admitted = state.writes.enter().await?;
    let started = sso::start(
        &state.app,
        Start {
            email: input.email,
            org: input.org,
            invitation_token: input.invitation_token,
            redirect_uri: callback_url(&state),
        },
    )
    .await?;
    let mut headers = HeaderMap::new();
    // Lax, not Strict: the provider's redirect back is a cross-site navigation.
    set_cookie(
        &mut headers,
        &state,
        BROWSER_COOKIE,
        &started.browser_token,
        "/sso",
        600,
        "Lax",
    );
    Ok((headers, Json(StartBody { url: started.url })))
}

fn set_cookie(
    headers: &mut HeaderMap,
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    same_site: &str,
) {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite={same_site}; Path={path}; Max-Age={max_age}{secure}"
    )) {
        headers.append(SET_COOKIE, v);
    }
}

/// What the provider sends back.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// A page that moves the browser on to `to` (a same-site navigation, so the
/// session cookie, SameSite=Strict, goes with it).
fn moving_on(to: &str, mut headers: HeaderMap) -> Response {
    let to = html_escape(to);
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        axum::http::header::HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static("default-src 'none'"),
    );
    headers.insert(
        axum::http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={to}\"><title>Signing in · Roster</title></head>\
         <body><p>Signing in… <a href=\"{to}\">Continue</a></p></body></html>"
    );
    (StatusCode::OK, headers, page).into_response()
}

/// `a=b&c=d`, each value percent-encoded.
fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let encoded: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={encoded}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The provider's redirect back: signs the person in and moves on; a refusal
/// moves to the sign-in page with its problem type (and the failed check).
pub(crate) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let mut out = HeaderMap::new();
    // The binding cookie is used once, whatever the outcome.
    set_cookie(&mut out, &state, BROWSER_COOKIE, "", "/sso", 0, "Lax");
    let finished = sso::finish(
        &state.app,
        Callback {
            code: query.code,
            state: query.state,
            error: query.error.map(|e| match query.error_description {
                Some(d) => format!("{e}: {d}"),
                None => e,
            }),
            browser_token: crate::extract::cookie(&headers, BROWSER_COOKIE),
            redirect_uri: callback_url(&state),
        },
    )
    .await;
    match finished {
        Ok(Finished::SignedIn { session, .. }) => {
            for (name, value) in
                &session_cookie(&state, &session.token, state.app.session_ttl.num_seconds())
            {
                out.append(name, value.clone());
            }
            moving_on("/", out)
        }
        Ok(Finished::ConfirmWithPassword {
            link_token,
            email,
            organization,
        }) => {
            set_cookie(
                &mut out,
                &state,
                LINK_COOKIE,
                &link_token,
                "/api/sso",
                600,
                "Strict",
            );
            let query = query_string(&[
                ("sso_confirm", email.as_str()),
                ("organization", organization.as_str()),
            ]);
            moving_on(&format!("/sign-in?{query}"), out)
        }
        Err(e) => {
            let (slug, check) = refusal_slug(&e);
            if matches!(e, UseCaseError::Infrastructure { .. }) {
                tracing::error!(error = %roster_domain::error_chain(&e), "single sign-on callback failed");
            } else {
                tracing::info!(refusal = %e, "single sign-on refused");
            }
            let mut pairs = vec![("sso_error", slug.as_str())];
            if let Some(check) = &check {
                pairs.push(("check", check.as_str()));
            }
            let query = query_string(&pairs);
            moving_on(&format!("/sign-in?{query}"), out)
        }
    }
}

/// The problem type a callback refusal is shown with (and the failed token check).
fn refusal_slug(e: &UseCaseError) -> (String, Option<String>) {
    match e {
        UseCaseError::Sso(refusal) => {
            let problem = sso_problem(refusal);
            let check = match refusal {
                sso::SsoRefusal::Token { kind, .. } => Some((*kind).to_owned()),
                _ => None,
            };
            (problem.slug().to_owned(), check)
        }
        UseCaseError::Refused(d) => (crate::error::domain_problem(d).slug().to_owned(), None),
        UseCaseError::Infrastructure { .. } => ("sso-unavailable".into(), None),
        UseCaseError::Busy { .. } => ("busy".into(), None),
        UseCaseError::ConcurrentChange => ("concurrent-change".into(), None),
        UseCaseError::JustRegistered => ("sign-in-to-accept".into(), None),
        UseCaseError::WrongIdentity { .. } => ("wrong-identity".into(), None),
        UseCaseError::OrganizationNotFound => ("organization-not-found".into(), None),
        UseCaseError::IdentityRefused(u) => {
            (crate::error::identity_problem(u).slug().to_owned(), None)
        }
        _ => ("sso-unavailable".into(), None),
    }
}

/// The person's Roster password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmInput {
    /// Their current Roster password.
    pub password: String,
}

/// Confirm a provider identity with the Roster password (once, for a person
/// who belongs to other organizations too), then sign in.
#[utoipa::path(post, path = "/api/sso/confirm", tag = "sso",
    request_body = ConfirmInput,
    responses(
        (status = 201, description = "Signed in; the session cookie is set too", body = SessionBody),
        (status = "default", description = "A problem: invalid-credentials, sso-link-expired, too-many-sign-in-attempts", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn confirm(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    ApiJson(input): ApiJson<ConfirmInput>,
) -> Result<(StatusCode, HeaderMap, Json<SessionBody>), ApiError> {
    let token = crate::extract::cookie(&headers, LINK_COOKIE)
        .ok_or(UseCaseError::Sso(sso::SsoRefusal::LinkExpired))?;
    let _admitted = state.writes.enter().await?;
    let Finished::SignedIn { session, .. } =
        sso::confirm_link(&state.app, &token, input.password, client).await?
    else {
        return Err(UseCaseError::Sso(sso::SsoRefusal::LinkExpired).into());
    };
    let mut out = session_cookie(&state, &session.token, state.app.session_ttl.num_seconds());
    set_cookie(&mut out, &state, LINK_COOKIE, "", "/api/sso", 0, "Strict");
    Ok((
        StatusCode::CREATED,
        out,
        Json(SessionBody {
            token: session.token,
            user_id: session.user_id,
            expires_at: session.expires_at,
        }),
    ))
}
