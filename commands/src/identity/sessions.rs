//! Sessions: a random 256-bit token handed to the client once, stored only as its
//! SHA-256 digest, with a sliding expiry.

use chrono::{DateTime, Duration, Utc};
use roster_domain::UserId;
use roster_storage::{sessions as table, Db};

use super::{digest, hex};
use crate::error::UseCaseError;

/// A session just opened: the raw token is shown to its holder once.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    /// The bearer secret (never stored).
    pub token: String,
    /// Whose session it is.
    pub user_id: UserId,
    /// When it lapses unless used.
    pub expires_at: DateTime<Utc>,
}

/// Expired sessions removed per sign-in: the table cannot grow without bound,
/// and no sign-in pays for a large purge.
const PURGE_BATCH: i64 = 100;

/// Opens a session for `user` lasting `ttl` from `now` (and purges a few expired ones).
pub async fn open(
    db: &Db,
    user: UserId,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<OpenedSession, UseCaseError> {
    let mut raw = [0u8; 32];
    getrandom::getrandom(&mut raw)
        .map_err(|e| UseCaseError::infrastructure("drawing a session token", e))?;
    let token = hex(&raw);
    let expires_at = now + ttl;
    table::insert(db, &digest(&token), user, now, expires_at, PURGE_BATCH).await?;
    Ok(OpenedSession {
        token,
        user_id: user,
        expires_at,
    })
}

/// Revokes the session with this raw token (nothing happens if there is none).
pub async fn close(db: &Db, token: &str) -> Result<(), UseCaseError> {
    Ok(table::delete(db, &digest(token)).await?)
}

/// Revokes every session of `user` (sign out everywhere).
pub async fn close_all(db: &Db, user: UserId) -> Result<(), UseCaseError> {
    Ok(table::delete_all_of(db, user).await?)
}

/// How long sessions live: `idle` after their last use, `absolute` after sign-in
/// at the most, however busy.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Sliding lifetime.
    pub idle: Duration,
    /// Absolute lifetime.
    pub absolute: Duration,
}

/// The identity a live session belongs to, without touching it (for scoping, not
/// for authorizing).
pub async fn identify(
    db: &Db,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<UserId>, UseCaseError> {
    Ok(table::find(db, &digest(token))
        .await?
        .filter(|s| s.expires_at > now)
        .map(|s| s.user_id))
}

/// The identity a live session belongs to, sliding its expiry to `now + idle`
/// (never past its absolute end, and only when that moves it noticeably);
/// `None` for unknown or expired tokens.
pub async fn resume(
    db: &Db,
    token: &str,
    now: DateTime<Utc>,
    lifetimes: Lifetimes,
) -> Result<Option<UserId>, UseCaseError> {
    live(db, token, now, lifetimes, true).await
}

/// Like [`resume`], without sliding the expiry: whether a session that is already
/// in use (an open event stream) is still live. Being watched does not keep it alive.
pub async fn check(
    db: &Db,
    token: &str,
    now: DateTime<Utc>,
    lifetimes: Lifetimes,
) -> Result<Option<UserId>, UseCaseError> {
    live(db, token, now, lifetimes, false).await
}

async fn live(
    db: &Db,
    token: &str,
    now: DateTime<Utc>,
    lifetimes: Lifetimes,
    slide: bool,
) -> Result<Option<UserId>, UseCaseError> {
    let hashed = digest(token);
    let Some(session) = table::find(db, &hashed).await? else {
        return Ok(None);
    };
    let end = session.created_at + lifetimes.absolute;
    if session.expires_at <= now || end <= now {
        return Ok(None);
    }
    // Slide the expiry only when it would move by a tenth of the idle lifetime or
    // more: a burst of reads then costs one write, not one commit each.
    let slid = (now + lifetimes.idle).min(end);
    if slide && slid - session.expires_at >= lifetimes.idle / 10 {
        table::extend(db, &hashed, slid).await?;
    }
    Ok(Some(session.user_id))
}
