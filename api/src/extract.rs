//! Who is calling, read from the request: a session (Bearer token or cookie, with
//! a CSRF check for cookie-authenticated changes), optionally, or as the owner of
//! the organization in the path; and the client's address.

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN, REFERER};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use roster_commands::authorize::{self, OwnerOf};
use roster_commands::use_cases::{api_keys, sessions};
use roster_commands::UseCaseError;
use roster_domain::{OrgId, Scope, UserId};

use crate::error::ApiError;
use crate::problem::Problem;
use crate::AppState;

/// Name of the session cookie the web page uses.
pub const SESSION_COOKIE: &str = "roster_session";

/// Where a session token came from: cookies need CSRF protection, Bearer tokens do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer …` (API clients).
    Bearer,
    /// The session cookie (the web page).
    Cookie,
}

/// The raw session token of a request: `Authorization: Bearer …`, else the cookie.
pub fn presented_token(headers: &axum::http::HeaderMap) -> Option<(String, TokenSource)> {
    if let Some(token) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some((token.trim().to_owned(), TokenSource::Bearer));
    }
    cookie(headers, SESSION_COOKIE).map(|v| (v, TokenSource::Cookie))
}

/// The value of the request's cookie `name`, if it sent one.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A cookie-authenticated state change must come from our own page: its `Origin`
/// (or, failing that, `Referer`) must name the host the request was sent to, with
/// a web scheme — `https` only when Roster is served over https, except for a
/// browser on the server's own machine (which reaches it over plain loopback).
fn same_origin(parts: &Parts, served_over_https: bool) -> bool {
    let host = parts.headers.get(HOST).and_then(|v| v.to_str().ok());
    let origin = parts
        .headers
        .get(ORIGIN)
        .or_else(|| parts.headers.get(REFERER))
        .and_then(|v| v.to_str().ok());
    let loopback = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback());
    let scheme_fits = |scheme: &str| match scheme {
        "https" => true,
        "http" => !served_over_https || loopback,
        _ => false,
    };
    match (host, origin) {
        (Some(host), Some(origin)) => origin
            .split_once("://")
            .filter(|(scheme, _)| scheme_fits(scheme))
            .and_then(|(_, rest)| rest.split('/').next())
            .is_some_and(|authority| authority == host),
        _ => false,
    }
}

/// The refusal of a cookie-authenticated change that did not come from Roster's
/// own page (CSRF), if this is one. Checked before the session is even looked
/// up, so another site cannot make a signed-in browser touch its session.
pub fn cross_site(parts: &Parts, source: TokenSource, served_over_https: bool) -> Option<ApiError> {
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    (source == TokenSource::Cookie && !safe && !same_origin(parts, served_over_https)).then(|| {
        ApiError::problem(Problem::new(
            StatusCode::FORBIDDEN,
            "cross-site-request",
            "Cross-site request refused",
            "a cookie-authenticated change must come from Roster's own page (Origin mismatch)",
        ))
    })
}

/// A session already authenticated earlier in this request (by the idempotency
/// layer), so the extractors do not look it up a second time.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Whose session it is.
    pub user: UserId,
    /// The token that was checked.
    pub token: String,
}

/// A signed-in caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Their identity.
    pub user_id: UserId,
    /// The raw session token they presented (to sign out).
    pub token: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (token, source) =
            presented_token(&parts.headers).ok_or(UseCaseError::Unauthenticated)?;
        if let Some(refused) = cross_site(parts, source, state.secure_cookies) {
            return Err(refused);
        }
        let earlier = parts
            .extensions
            .get::<Authenticated>()
            .filter(|a| a.token == token)
            .map(|a| a.user);
        let user_id = match earlier {
            Some(user) => user,
            None => sessions::authenticate(&state.app, &token).await?,
        };
        Ok(Caller { user_id, token })
    }
}

/// An optional caller: routes open to anyone that behave differently when signed in.
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await {
            Ok(c) => Ok(MaybeCaller(Some(c))),
            Err(ApiError::UseCase(UseCaseError::Unauthenticated)) => Ok(MaybeCaller(None)),
            Err(e) => Err(e),
        }
    }
}

/// The caller owns the organization named by the path's `{org}`, or presents a
/// working API key of it with the scope the request needs: 404 to non-members
/// (and for ids that are not ids, and keys of other organizations), 403 to
/// members who are not owners and to keys without the scope, decided from the
/// organization's own state.
pub struct OwnedOrg(pub OwnerOf);

impl FromRequestParts<AppState> for OwnedOrg {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let read = parts.method == Method::GET || parts.method == Method::HEAD;
        // An API key acts for its own organization, within its scopes: `read`
        // for reads, `manage` for changes. Keys are Bearer tokens only (no
        // cookie, so no CSRF question).
        if let Some((token, TokenSource::Bearer)) = presented_token(&parts.headers) {
            if api_keys::looks_like_key(&token) {
                let org = path_org(parts, state).await?;
                let scope = if read { Scope::Read } else { Scope::Manage };
                let owner = match api_keys::authorize(&state.app, &token, org, scope).await {
                    // A manage key may read too.
                    Err(UseCaseError::KeyScope { .. }) if read => {
                        api_keys::authorize(&state.app, &token, org, Scope::Manage).await?
                    }
                    other => other?,
                };
                return Ok(OwnedOrg(owner));
            }
        }
        let caller = Caller::from_request_parts(parts, state).await?;
        let org = path_org(parts, state).await?;
        // A read checks against the organization as the log has it now; a
        // change checks against the cached state and its `decide` checks again.
        let owner = if read {
            authorize::owner_of(&state.app, caller.user_id, org).await?
        } else {
            authorize::owner_for_command(&state.app, caller.user_id, org).await?
        };
        Ok(OwnedOrg(owner))
    }
}

/// The organization the path's `{org}` names; a malformed id is the same 404 as
/// an unknown one.
async fn path_org(parts: &mut Parts, state: &AppState) -> Result<OrgId, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| UseCaseError::OrganizationNotFound)?;
    Ok(params
        .iter()
        .find(|(name, _)| *name == "org")
        .and_then(|(_, raw)| raw.parse().ok())
        .ok_or(UseCaseError::OrganizationNotFound)?)
}

/// Parses a path id; a malformed one is the same 404 as an unknown one.
pub fn path_id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::problem(Problem::new(
            StatusCode::NOT_FOUND,
            &format!("{what}-not-found"),
            "Not found",
            format!("no such {what}"),
        ))
    })
}
