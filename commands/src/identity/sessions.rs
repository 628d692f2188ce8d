//! Sessions: a random 256-bit token handed to the client once, stored only as its
//! SHA-256 digest, with a sliding expiry.

use chrono::{DateTime, Duration, Utc};
use roster_domain::UserId;
use roster_projections::db::time_text;
use roster_projections::{exec, fetch, ReadDb};

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
    db: &ReadDb,
    user: UserId,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<OpenedSession, UseCaseError> {
    let mut raw = [0u8; 32];
    getrandom::getrandom(&mut raw)
        .map_err(|e| UseCaseError::infrastructure("drawing a session token", e))?;
    let token = hex(&raw);
    let expires_at = now + ttl;
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        digest(&token),
        user.to_string(),
        time_text(now),
        time_text(expires_at)
    )?;
    exec!(
        &mut tx,
        "DELETE FROM sessions WHERE token_hash IN \
         (SELECT token_hash FROM sessions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)",
        time_text(now),
        PURGE_BATCH
    )?;
    tx.commit().await?;
    Ok(OpenedSession {
        token,
        user_id: user,
        expires_at,
    })
}

/// Revokes the session with this raw token (nothing happens if there is none).
pub async fn close(db: &ReadDb, token: &str) -> Result<(), UseCaseError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "DELETE FROM sessions WHERE token_hash = $1",
        digest(token)
    )?;
    tx.commit().await?;
    Ok(())
}

/// Revokes every session of `user` (sign out everywhere).
pub async fn close_all(db: &ReadDb, user: UserId) -> Result<(), UseCaseError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "DELETE FROM sessions WHERE user_id = $1",
        user.to_string()
    )?;
    tx.commit().await?;
    Ok(())
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
    db: &ReadDb,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<UserId>, UseCaseError> {
    let row = fetch!(
        db db,
        fetch_optional,
        (String, String),
        "SELECT user_id, expires_at FROM sessions WHERE token_hash = $1",
        digest(token)
    )?;
    match row {
        Some((user, expires)) if expires > time_text(now) => {
            Ok(Some(user.parse().map_err(|e| {
                UseCaseError::infrastructure("reading a session: bad user_id", e)
            })?))
        }
        _ => Ok(None),
    }
}

/// The identity a live session belongs to, sliding its expiry to `now + idle`
/// (never past its absolute end, and only when that moves it noticeably);
/// `None` for unknown or expired tokens.
pub async fn resume(
    db: &ReadDb,
    token: &str,
    now: DateTime<Utc>,
    lifetimes: Lifetimes,
) -> Result<Option<UserId>, UseCaseError> {
    live(db, token, now, lifetimes, true).await
}

/// Like [`resume`], without sliding the expiry: whether a session that is already
/// in use (an open event stream) is still live. Being watched does not keep it alive.
pub async fn check(
    db: &ReadDb,
    token: &str,
    now: DateTime<Utc>,
    lifetimes: Lifetimes,
) -> Result<Option<UserId>, UseCaseError> {
    live(db, token, now, lifetimes, false).await
}

async fn live(
    db: &ReadDb,
    token: &str,
    now: DateTime<Utc>,
    lifetimes: Lifetimes,
    slide: bool,
) -> Result<Option<UserId>, UseCaseError> {
    let hashed = digest(token);
    let row = fetch!(
        db db,
        fetch_optional,
        (String, String, String),
        "SELECT user_id, created_at, expires_at FROM sessions WHERE token_hash = $1",
        hashed.clone()
    )?;
    let Some((user, created, expires)) = row else {
        return Ok(None);
    };
    let created: DateTime<Utc> = created
        .parse()
        .map_err(|e| UseCaseError::infrastructure("reading a session: bad created_at", e))?;
    let end = created + lifetimes.absolute;
    if expires <= time_text(now) || end <= now {
        return Ok(None);
    }
    let user: UserId = user
        .parse()
        .map_err(|e| UseCaseError::infrastructure("reading a session: bad user_id", e))?;
    // Slide the expiry only when it would move by a tenth of the idle lifetime or
    // more: a burst of reads then costs one write, not one commit each.
    let slid = (now + lifetimes.idle).min(end);
    let current: DateTime<Utc> = expires
        .parse()
        .map_err(|e| UseCaseError::infrastructure("reading a session: bad expires_at", e))?;
    if slide && slid - current >= lifetimes.idle / 10 {
        let mut tx = db.begin().await?;
        exec!(
            &mut tx,
            "UPDATE sessions SET expires_at = $2 WHERE token_hash = $1",
            hashed,
            time_text(slid)
        )?;
        tx.commit().await?;
    }
    Ok(Some(user))
}
