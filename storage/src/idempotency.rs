//! The `idempotency_keys` table: one row per (caller, key), holding a digest of
//! the request and the answer to replay, written in the transaction that
//! recorded the request's events. When a key lapses and which answers may be
//! stored is decided by the caller.

use chrono::{DateTime, Utc};

use crate::db::{time_text, Db, Tx};
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

/// What an earlier use of a key left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The same request ran before: answer this again.
    Replay(StoredAnswer),
    /// The key was used for a different request.
    Mismatch,
}

/// When earlier keys stop counting.
#[derive(Debug, Clone, Copy)]
pub struct Lapses {
    /// Keys created before this are forgotten.
    pub answered_before: DateTime<Utc>,
    /// How many lapsed keys of anyone to purge when a key is recorded.
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

/// What an earlier, still valid use of `request.key` left, if any. (Rows
/// without an answer, which reservations of older builds left, count as none.)
pub async fn find(
    db: &Db,
    request: &KeyedRequest<'_>,
    lapses: Lapses,
) -> Result<Option<Found>, StorageError> {
    let row = fetch!(
        db db,
        fetch_optional,
        KeyRow,
        "SELECT request_hash, status, body, content_type FROM idempotency_keys \
         WHERE scope = $1 AND key = $2 AND created_at >= $3 AND status IS NOT NULL",
        request.scope.to_owned(),
        request.key.to_owned(),
        time_text(lapses.answered_before)
    )?;
    row.map(|row| found(row, request)).transpose()
}

fn found(row: KeyRow, request: &KeyedRequest<'_>) -> Result<Found, StorageError> {
    if row.request_hash != request.request_hash {
        return Ok(Found::Mismatch);
    }
    Ok(Found::Replay(StoredAnswer {
        status: u16::try_from(row.status.unwrap_or_default())
            .map_err(StorageError::unreadable("idempotency_keys", "status"))?,
        content_type: row
            .content_type
            .unwrap_or_else(|| "application/json".to_owned()),
        body: row.body.unwrap_or_default(),
    }))
}

/// Records `answer` for `request` in `tx` (the transaction that recorded the
/// request's events, when it made any), first removing a lapsed row of the same
/// key and up to `lapses.purge` lapsed rows of anyone. `false` when a valid row
/// for the key exists already (a concurrent twin of the request committed
/// first): the caller then rolls back and replays that one.
pub async fn record(
    tx: &mut Tx,
    request: &KeyedRequest<'_>,
    answer: &StoredAnswer,
    now: DateTime<Utc>,
    lapses: Lapses,
) -> Result<bool, StorageError> {
    exec!(
        &mut *tx,
        "DELETE FROM idempotency_keys WHERE (scope = $1 AND key = $2 AND \
           (created_at < $3 OR status IS NULL)) \
         OR (scope, key) IN (SELECT scope, key FROM idempotency_keys WHERE created_at < $3 \
                             ORDER BY created_at LIMIT $4)",
        request.scope.to_owned(),
        request.key.to_owned(),
        time_text(lapses.answered_before),
        lapses.purge
    )?;
    let inserted = exec!(
        &mut *tx,
        "INSERT INTO idempotency_keys (scope, key, request_hash, created_at, status, body, content_type) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scope, key) DO NOTHING",
        request.scope.to_owned(),
        request.key.to_owned(),
        request.request_hash.to_owned(),
        time_text(now),
        i64::from(answer.status),
        answer.body.clone(),
        answer.content_type.clone()
    )?;
    Ok(inserted == 1)
}

/// [`record`] in a transaction of its own, for a request that recorded no event.
pub async fn record_alone(
    db: &Db,
    request: &KeyedRequest<'_>,
    answer: &StoredAnswer,
    now: DateTime<Utc>,
    lapses: Lapses,
) -> Result<bool, StorageError> {
    let mut tx = db.begin().await?;
    let inserted = record(&mut tx, request, answer, now, lapses).await?;
    tx.commit().await?;
    Ok(inserted)
}
