//! The `sessions` table: one row per signed-in session, keyed by the SHA-256
//! digest of its token (the token itself is never stored). How long a session
//! lives and when its expiry slides is decided by the caller.

use chrono::{DateTime, Utc};
use roster_domain::UserId;

use crate::db::{time_text, Db};
use crate::error::StorageError;
use crate::{exec, fetch};

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Whose it is.
    pub user_id: UserId,
    /// When it was opened (its absolute lifetime counts from here).
    pub created_at: DateTime<Utc>,
    /// When it lapses unless used.
    pub expires_at: DateTime<Utc>,
}

crate::row! {
    /// A row as stored.
    struct SessionRow {
        user_id: String,
        created_at: String,
        expires_at: String,
    }
}

impl TryFrom<SessionRow> for Session {
    type Error = StorageError;

    fn try_from(row: SessionRow) -> Result<Self, StorageError> {
        Ok(Session {
            user_id: row
                .user_id
                .parse()
                .map_err(StorageError::unreadable("sessions", "user_id"))?,
            created_at: row
                .created_at
                .parse()
                .map_err(StorageError::unreadable("sessions", "created_at"))?,
            expires_at: row
                .expires_at
                .parse()
                .map_err(StorageError::unreadable("sessions", "expires_at"))?,
        })
    }
}

/// Stores a new session and removes up to `purge` sessions expired before
/// `created_at`, in one transaction: the table cannot grow without bound, and no
/// sign-in pays for a large purge.
pub async fn insert(
    db: &Db,
    token_digest: &str,
    user: UserId,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    purge: i64,
) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        token_digest.to_owned(),
        user.to_string(),
        time_text(created_at),
        time_text(expires_at)
    )?;
    exec!(
        &mut tx,
        "DELETE FROM sessions WHERE token_hash IN \
         (SELECT token_hash FROM sessions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)",
        time_text(created_at),
        purge
    )?;
    tx.commit().await?;
    Ok(())
}

/// The session whose token has this digest, if any (expired or not).
pub async fn find(db: &Db, token_digest: &str) -> Result<Option<Session>, StorageError> {
    fetch!(
        db db,
        fetch_optional,
        SessionRow,
        "SELECT user_id, created_at, expires_at FROM sessions WHERE token_hash = $1",
        token_digest.to_owned()
    )?
    .map(Session::try_from)
    .transpose()
}

/// Moves a session's expiry to `expires_at`.
pub async fn extend(
    db: &Db,
    token_digest: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "UPDATE sessions SET expires_at = $2 WHERE token_hash = $1",
        token_digest.to_owned(),
        time_text(expires_at)
    )?;
    tx.commit().await?;
    Ok(())
}

/// Removes the session with this digest (nothing happens if there is none).
pub async fn delete(db: &Db, token_digest: &str) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "DELETE FROM sessions WHERE token_hash = $1",
        token_digest.to_owned()
    )?;
    tx.commit().await?;
    Ok(())
}

/// Removes every session of `user`.
pub async fn delete_all_of(db: &Db, user: UserId) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "DELETE FROM sessions WHERE user_id = $1",
        user.to_string()
    )?;
    tx.commit().await?;
    Ok(())
}
