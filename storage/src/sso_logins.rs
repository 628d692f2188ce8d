//! The `sso_logins` and `sso_pending_links` tables: single sign-on in flight
//! (see the migration for what each row is). Both are keyed by digests of
//! secrets the browser holds, taken (deleted) when used, and purged a few rows
//! at a time as new ones arrive, so neither grows without bound.

use chrono::{DateTime, Utc};
use roster_domain::{OrgId, UserId};

use crate::db::{time_text, Db};
use crate::error::StorageError;
use crate::{exec, fetch};

/// Expired rows removed per insert.
const PURGE: i64 = 100;

/// A browser sent to a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// SHA-256 (hex) of the cookie that binds it to the browser.
    pub browser_hash: String,
    /// The organization whose provider it went to.
    pub org_id: OrgId,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier.
    pub pkce_verifier: String,
    /// The invitation being accepted (its id and the token's digest, hex), if any.
    pub invitation: Option<(String, String)>,
    /// When it stops being usable.
    pub expires_at: DateTime<Utc>,
}

crate::row! {
    struct LoginRow {
        browser_hash: String,
        org_id: String,
        nonce: String,
        pkce_verifier: String,
        invitation_id: Option<String>,
        token_digest: Option<String>,
        expires_at: String,
    }
}

/// Stores a login under `state_hash`, purging a few expired ones.
pub async fn insert(
    db: &Db,
    state_hash: &str,
    login: &Login,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "INSERT INTO sso_logins (state_hash, browser_hash, org_id, nonce, pkce_verifier, invitation_id, \
         token_digest, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        state_hash.to_owned(),
        login.browser_hash.clone(),
        login.org_id.to_string(),
        login.nonce.clone(),
        login.pkce_verifier.clone(),
        login.invitation.as_ref().map(|(i, _)| i.clone()),
        login.invitation.as_ref().map(|(_, d)| d.clone()),
        time_text(now),
        time_text(login.expires_at)
    )?;
    exec!(
        &mut tx,
        "DELETE FROM sso_logins WHERE state_hash IN \
         (SELECT state_hash FROM sso_logins WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)",
        time_text(now),
        PURGE
    )?;
    tx.commit().await?;
    Ok(())
}

/// Takes the login stored under `state_hash`: it is deleted whatever happens
/// next, so a `state` works once. An expired one is taken and not answered.
pub async fn take(
    db: &Db,
    state_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Login>, StorageError> {
    let row: Option<LoginRow> = fetch!(
        db db,
        fetch_optional,
        LoginRow,
        "DELETE FROM sso_logins WHERE state_hash = $1 RETURNING browser_hash, org_id, nonce, \
         pkce_verifier, invitation_id, token_digest, expires_at",
        state_hash.to_owned()
    )?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: DateTime<Utc> = row
        .expires_at
        .parse()
        .map_err(StorageError::unreadable("sso_logins", "expires_at"))?;
    if expires_at <= now {
        return Ok(None);
    }
    Ok(Some(Login {
        browser_hash: row.browser_hash,
        org_id: row
            .org_id
            .parse()
            .map_err(StorageError::unreadable("sso_logins", "org_id"))?,
        nonce: row.nonce,
        pkce_verifier: row.pkce_verifier,
        invitation: row.invitation_id.zip(row.token_digest),
        expires_at,
    }))
}

/// A provider identity waiting for its person's password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLink {
    /// The organization whose provider vouched.
    pub org_id: OrgId,
    /// The person.
    pub user_id: UserId,
    /// The provider's id for them.
    pub subject: String,
    /// Their verified address.
    pub email: String,
    /// Their name, as the provider gave it.
    pub full_name: String,
    /// The invitation being accepted (id, token digest), if any.
    pub invitation: Option<(String, String)>,
    /// When it stops being usable.
    pub expires_at: DateTime<Utc>,
}

crate::row! {
    struct PendingRow {
        org_id: String,
        user_id: String,
        subject: String,
        email: String,
        full_name: String,
        invitation_id: Option<String>,
        token_digest: Option<String>,
        expires_at: String,
    }
}

/// Stores a pending link under `link_hash`, purging a few expired ones.
pub async fn insert_pending(
    db: &Db,
    link_hash: &str,
    link: &PendingLink,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "INSERT INTO sso_pending_links (link_hash, org_id, user_id, subject, email, full_name, \
         invitation_id, token_digest, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        link_hash.to_owned(),
        link.org_id.to_string(),
        link.user_id.to_string(),
        link.subject.clone(),
        link.email.clone(),
        link.full_name.clone(),
        link.invitation.as_ref().map(|(i, _)| i.clone()),
        link.invitation.as_ref().map(|(_, d)| d.clone()),
        time_text(link.expires_at)
    )?;
    exec!(
        &mut tx,
        "DELETE FROM sso_pending_links WHERE link_hash IN \
         (SELECT link_hash FROM sso_pending_links WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)",
        time_text(now),
        PURGE
    )?;
    tx.commit().await?;
    Ok(())
}

/// The pending link under `link_hash`, if live (not taken: a wrong password
/// may be typed again).
pub async fn pending(
    db: &Db,
    link_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<PendingLink>, StorageError> {
    let row: Option<PendingRow> = fetch!(
        db db,
        fetch_optional,
        PendingRow,
        "SELECT org_id, user_id, subject, email, full_name, invitation_id, token_digest, expires_at \
         FROM sso_pending_links WHERE link_hash = $1",
        link_hash.to_owned()
    )?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: DateTime<Utc> = row
        .expires_at
        .parse()
        .map_err(StorageError::unreadable("sso_pending_links", "expires_at"))?;
    if expires_at <= now {
        return Ok(None);
    }
    Ok(Some(PendingLink {
        org_id: row
            .org_id
            .parse()
            .map_err(StorageError::unreadable("sso_pending_links", "org_id"))?,
        user_id: row
            .user_id
            .parse()
            .map_err(StorageError::unreadable("sso_pending_links", "user_id"))?,
        subject: row.subject,
        email: row.email,
        full_name: row.full_name,
        invitation: row.invitation_id.zip(row.token_digest),
        expires_at,
    }))
}

/// Removes a pending link (confirmed, or given up).
pub async fn remove_pending(db: &Db, link_hash: &str) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "DELETE FROM sso_pending_links WHERE link_hash = $1",
        link_hash.to_owned()
    )?;
    tx.commit().await?;
    Ok(())
}
