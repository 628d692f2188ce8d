//! Storage of `Idempotency-Key` reservations and the answers they replay. A key is
//! reserved (inserted) before its request runs, so two concurrent repeats cannot
//! both act; the answer is stored once the request finished. Keys live
//! [`lifetime`] and are scoped to the signed-in caller; a reservation whose request
//! never finished lapses after [`in_progress_lapse`], and old keys are purged in
//! small batches as new ones are reserved.

use chrono::{DateTime, Duration, Utc};
use roster_projections::db::time_text;
use roster_projections::{exec, fetch, ReadDb};

use crate::error::UseCaseError;

/// How long a stored answer is honoured.
pub fn lifetime() -> Duration {
    Duration::hours(24)
}

/// How long a reservation without an answer blocks its key: a request that never
/// finished (the server stopped under it) must not hold the key for a day.
pub fn in_progress_lapse() -> Duration {
    Duration::seconds(60)
}

/// Old keys removed per reservation.
const PURGE_BATCH: i64 = 100;

/// Whose key, which key, for which request.
#[derive(Debug, Clone)]
pub struct KeyedRequest<'a> {
    /// The caller's scope (their session's digest, or `anonymous`).
    pub scope: &'a str,
    /// The client's key.
    pub key: &'a str,
    /// A digest of method, path and body, to tell a repeat from a reuse.
    pub request_hash: &'a str,
}

/// What a reservation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is new: run the request, then store or release.
    Fresh,
    /// The same request ran before: answer this again.
    Replay {
        /// The stored status.
        status: u16,
        /// The stored content type (`application/json` for answers stored before
        /// content types were kept).
        content_type: String,
        /// The stored JSON body.
        body: String,
    },
    /// The key was used for a different request.
    Mismatch,
    /// The first request with this key has not finished.
    InProgress,
}

/// Reserves `request.key`, or says what an earlier use of it left.
pub async fn reserve(
    db: &ReadDb,
    request: &KeyedRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Reservation, UseCaseError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "DELETE FROM idempotency_keys WHERE (scope = $1 AND key = $2 AND \
           (created_at < $3 OR (status IS NULL AND created_at < $4))) \
         OR (scope, key) IN (SELECT scope, key FROM idempotency_keys WHERE created_at < $3 \
                             ORDER BY created_at LIMIT $5)",
        request.scope.to_owned(),
        request.key.to_owned(),
        time_text(now - lifetime()),
        time_text(now - in_progress_lapse()),
        PURGE_BATCH
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
            (String, Option<i64>, Option<String>, Option<String>),
            "SELECT request_hash, status, body, content_type FROM idempotency_keys \
             WHERE scope = $1 AND key = $2",
            request.scope.to_owned(),
            request.key.to_owned()
        )?;
        match row {
            (hash, _, _, _) if hash != request.request_hash => Reservation::Mismatch,
            (_, Some(status), Some(body), content_type) => Reservation::Replay {
                status: u16::try_from(status).map_err(|e| {
                    UseCaseError::infrastructure("reading a stored answer's status", e)
                })?,
                content_type: content_type.unwrap_or_else(|| "application/json".to_owned()),
                body,
            },
            _ => Reservation::InProgress,
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Stores the answer to replay for a reserved key.
pub async fn store_answer(
    db: &ReadDb,
    scope: &str,
    key: &str,
    status: u16,
    content_type: &str,
    body: String,
) -> Result<(), UseCaseError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "UPDATE idempotency_keys SET status = $3, body = $4, content_type = $5 \
         WHERE scope = $1 AND key = $2",
        scope.to_owned(),
        key.to_owned(),
        i64::from(status),
        body,
        content_type.to_owned()
    )?;
    tx.commit().await?;
    Ok(())
}

/// Frees a reserved key whose request should be retryable (it failed on our side).
pub async fn release(db: &ReadDb, scope: &str, key: &str) -> Result<(), UseCaseError> {
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

/// Whether an answer must not be replayed: the client should be able to try
/// again and get a different one (a lost race, a throttle, an outage).
pub fn is_retryable(status: u16, problem_type: Option<&str>) -> bool {
    matches!(status, 408 | 425 | 429 | 500..=599)
        || (status == 409
            && problem_type.is_some_and(|t| {
                t.ends_with("/concurrent-change") || t.ends_with("/idempotent-request-in-progress")
            }))
}

#[cfg(test)]
mod tests {
    use super::is_retryable;

    #[test]
    fn lost_races_throttles_and_outages_are_not_replayed_but_refusals_are() {
        assert!(is_retryable(
            409,
            Some("https://roster.dev/problems/concurrent-change")
        ));
        assert!(is_retryable(429, None));
        assert!(is_retryable(503, Some("https://roster.dev/problems/busy")));
        assert!(!is_retryable(
            409,
            Some("https://roster.dev/problems/already-invited")
        ));
        assert!(!is_retryable(201, None));
        assert!(!is_retryable(
            422,
            Some("https://roster.dev/problems/validation")
        ));
    }
}
