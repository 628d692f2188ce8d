//! Who is calling: passwords (argon2id, hashed off the async threads), sessions
//! (random 256-bit tokens stored as SHA-256 digests, sliding expiry) and the
//! `Caller` extractor that reads a Bearer token or the session cookie.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use roster_domain::UserId;
use roster_projections::db::time_text;
use roster_projections::{exec, fetch, ReadDb};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::AppState;

/// Name of the session cookie the web page uses.
pub const SESSION_COOKIE: &str = "roster_session";

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Checks the minimum-strength rule; `None` when the password is acceptable.
pub fn password_problem(password: &str, email: &str) -> Option<String> {
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < MIN_PASSWORD_CHARS {
        return Some(format!("use at least {MIN_PASSWORD_CHARS} characters"));
    }
    if chars.len() > 1024 {
        return Some("use at most 1024 characters".into());
    }
    let distinct: std::collections::BTreeSet<char> = chars.iter().copied().collect();
    if distinct.len() < 5 {
        return Some("use more varied characters".into());
    }
    if password.to_lowercase().contains(&email.to_lowercase()) {
        return Some("do not use your email address in your password".into());
    }
    None
}

/// Hashes a password with argon2id on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::getrandom(&mut salt).map_err(|e| ApiError::Internal(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::Internal(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// Verifies a password on a blocking thread. For an unknown email it hashes the
/// password anyway, so unknown emails and wrong passwords cost the same time.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    let Some(stored) = stored else {
        hash_password(password).await?;
        return Ok(false);
    };
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The identity holding `email_key`, with its password hash.
pub async fn credentials_by_email(
    db: &ReadDb,
    email_key: &str,
) -> Result<Option<(String, String)>, ApiError> {
    Ok(fetch!(
        db db,
        fetch_optional,
        (String, String),
        "SELECT user_id, password_hash FROM credentials WHERE email_key = $1",
        email_key.to_owned()
    )?)
}

/// Stores a new identity's credentials; false if the email is taken.
pub async fn insert_credentials(
    db: &ReadDb,
    user: UserId,
    email_key: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let mut tx = db.begin().await?;
    let n = exec!(
        &mut tx,
        "INSERT INTO credentials (user_id, email_key, password_hash, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email_key) DO NOTHING",
        user.to_string(),
        email_key.to_owned(),
        hash.to_owned(),
        time_text(now)
    )?;
    tx.commit().await?;
    Ok(n == 1)
}

/// Opens a session; returns the raw token (shown once) and its expiry.
pub async fn open_session(
    state: &AppState,
    user: UserId,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let mut raw = [0u8; 32];
    getrandom::getrandom(&mut raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    let token = hex(&raw);
    let now = state.clock.now();
    let expires = now + state.session_ttl;
    let mut tx = state.read.begin().await?;
    exec!(
        &mut tx,
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        digest(&token),
        user.to_string(),
        time_text(now),
        time_text(expires)
    )?;
    tx.commit().await?;
    Ok((token, expires))
}

/// Revokes the session with this raw token.
pub async fn close_session(db: &ReadDb, token: &str) -> Result<(), ApiError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "DELETE FROM sessions WHERE token_hash = $1",
        digest(token)
    )?;
    tx.commit().await?;
    Ok(())
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Their identity.
    pub user_id: UserId,
    /// The raw session token they presented (to sign out).
    pub token: String,
}

/// Where a session token came from: cookies need CSRF protection, Bearer tokens do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer …` (API clients).
    Bearer,
    /// The session cookie (the web page).
    Cookie,
}

/// The raw session token of a request: `Authorization: Bearer …`, else the cookie.
pub fn presented_token(parts: &Parts) -> Option<(String, TokenSource)> {
    if let Some(value) = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(token) = value.strip_prefix("Bearer ") {
            return Some((token.trim().to_owned(), TokenSource::Bearer));
        }
    }
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| (v.to_owned(), TokenSource::Cookie))
}

/// A cookie-authenticated state change must come from our own page: its `Origin`
/// (or, failing that, `Referer`) must name the host the request was sent to.
fn same_origin(parts: &Parts) -> bool {
    let host = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok());
    let origin = parts
        .headers
        .get(axum::http::header::ORIGIN)
        .or_else(|| parts.headers.get(axum::http::header::REFERER))
        .and_then(|v| v.to_str().ok());
    match (host, origin) {
        (Some(host), Some(origin)) => origin
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default() == host)
            .unwrap_or(false),
        _ => false,
    }
}

/// Looks the session up, refusing expired ones and sliding the expiry forward.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Option<UserId>, ApiError> {
    let now = state.clock.now();
    let row = fetch!(
        db & state.read,
        fetch_optional,
        (String, String),
        "SELECT user_id, expires_at FROM sessions WHERE token_hash = $1",
        digest(token)
    )?;
    let Some((user, expires)) = row else {
        return Ok(None);
    };
    if expires <= time_text(now) {
        return Ok(None);
    }
    let mut tx = state.read.begin().await?;
    exec!(
        &mut tx,
        "UPDATE sessions SET expires_at = $2 WHERE token_hash = $1",
        digest(token),
        time_text(now + state.session_ttl)
    )?;
    tx.commit().await?;
    Ok(user.parse().ok())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, source) = presented_token(parts).ok_or(ApiError::Unauthenticated)?;
        let safe = matches!(
            parts.method,
            axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
        );
        if source == TokenSource::Cookie && !safe && !same_origin(parts) {
            return Err(ApiError::problem(crate::problem::Problem::new(
                axum::http::StatusCode::FORBIDDEN,
                "cross-site-request",
                "Cross-site request refused",
                "a cookie-authenticated change must come from Roster's own page (Origin mismatch)",
            )));
        }
        let user_id = authenticate(state, &token)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        Ok(Caller { user_id, token })
    }
}

/// An optional caller: routes open to anyone that behave differently when signed in.
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await {
            Ok(c) => Ok(MaybeCaller(Some(c))),
            Err(ApiError::Unauthenticated) => Ok(MaybeCaller(None)),
            Err(e) => Err(e),
        }
    }
}
