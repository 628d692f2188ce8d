//! The `idempotency_keys` table: one row per (caller, key), holding a digest of
//! the request and, once it finished, the answer to replay. When a key lapses and
//! which answers may be stored is decided by the caller.

use chrono::{DateTime, Utc};

use crate::db::{time_text, Db};
use crate::error::StorageError;
use crate::{exec, fetch};

/// Whose key, which key, for which request.
#[derive(Debug, Clone)]
pub struct KeyedRequest<'a> {
    /// The caller's scope (their identity).
    pub scope: &'a str,
    /// The client's key.
    pub key: &'a str,
    /// A digest of method, path and body, to tell a repeat from a reuse.
    pub request_hash: &'a str,
}

/// An answer as it is replayed: byte for byte, with its status and content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// The status.
    pub status: u16,
    /// The content type (`application/json` for answers stored before content
    /// types were kept).
    pub content_type: String,
    /// The body.
    pub body: String,
}

/// What a reservation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is new and now reserved: run the request, then store or release.
    Fresh,
    /// The same request ran before: answer this again.
    Replay(StoredAnswer),
    /// The key was used for a different request.
    Mismatch,
    /// The first request with this key has not finished.
    InProgress,
}

/// When earlier keys stop counting.
#[derive(Debug, Clone, Copy)]
pub struct Lapses {
    /// Keys created before this are forgotten.
    pub answered_before: DateTime<Utc>,
    /// Reservations without an answer created before this are forgotten.
    pub unanswered_before: DateTime<Utc>,
    /// How many lapsed keys of anyone to purge on the way.
    pub purge: i64,
}

crate::row! {
    /// A row as stored.
    struct KeyRow {
        request_hash: String,
        status: Option<i64>,
        body: Option<String>,
        content_type: Option<String>,
    }
}

/// Reserves `request.key` at `now`, or says what an earlier use of it left.
pub async fn reserve(
    db: &Db,
    request: &KeyedRequest<'_>,
    now: DateTime<Utc>,
    lapses: Lapses,
) -> Result<Reservation, StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "DELETE FROM idempotency_keys WHERE (scope = $1 AND key = $2 AND \
           (created_at < $3 OR (status IS NULL AND created_at < $4))) \
         OR (scope, key) IN (SELECT scope, key FROM idempotency_keys WHERE created_at < $3 \
                             ORDER BY created_at LIMIT $5)",
        request.scope.to_owned(),
        request.key.to_owned(),
        time_text(lapses.answered_before),
        time_text(lapses.unanswered_before),
        lapses.purge
    )?;
    let inserted = exec!(
        &mut tx,
        "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (scope, key) DO NOTHING",
        request.scope.to_owned(),
        request.key.to_owned(),
        request.request_hash.to_owned(),
        time_text(now)
    )?;
    let outcome = if inserted == 1 {
        Reservation::Fresh
    } else {
        let row = fetch!(
            tx &mut tx,
            fetch_one,
            KeyRow,
            "SELECT request_hash, status, body, content_type FROM idempotency_keys \
             WHERE scope = $1 AND key = $2",
            request.scope.to_owned(),
            request.key.to_owned()
        )?;
        match row {
            KeyRow { request_hash, .. } if request_hash != request.request_hash => {
                Reservation::Mismatch
            }
            KeyRow {
                status: Some(status),
                body: Some(body),
                content_type,
                ..
            } => Reservation::Replay(StoredAnswer {
                status: u16::try_from(status)
                    .map_err(StorageError::unreadable("idempotency_keys", "status"))?,
                content_type: content_type.unwrap_or_else(|| "application/json".to_owned()),
                body,
            }),
            _ => Reservation::InProgress,
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Stores the answer to replay for a reserved key.
pub async fn store_answer(
    db: &Db,
    scope: &str,
    key: &str,
    answer: &StoredAnswer,
) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "UPDATE idempotency_keys SET status = $3, body = $4, content_type = $5 \
         WHERE scope = $1 AND key = $2",
        scope.to_owned(),
        key.to_owned(),
        i64::from(answer.status),
        answer.body.clone(),
        answer.content_type.clone()
    )?;
    tx.commit().await?;
    Ok(())
}

/// Frees a reserved key whose request should be retryable (it failed on our side).
pub async fn release(db: &Db, scope: &str, key: &str) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2",
        scope.to_owned(),
        key.to_owned()
    )?;
    tx.commit().await?;
    Ok(())
}
