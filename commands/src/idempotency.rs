//! Storage of `Idempotency-Key` reservations and the answers they replay. A key is
//! reserved (inserted) before its request runs, so two concurrent repeats cannot
//! both act; the answer is stored once the request finished. Keys live
//! [`lifetime`] and are scoped to the signed-in caller; a reservation whose request
//! never finished lapses after [`in_progress_lapse`], and old keys are purged in
//! small batches as new ones are reserved.

use chrono::{DateTime, Duration, Utc};
use roster_storage::idempotency::{self as table, Lapses};
use roster_storage::Db;

pub use roster_storage::idempotency::{KeyedRequest, Reservation, StoredAnswer};

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

/// Reserves `request.key`, or says what an earlier use of it left.
pub async fn reserve(
    db: &Db,
    request: &KeyedRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Reservation, UseCaseError> {
    let lapses = Lapses {
        answered_before: now - lifetime(),
        unanswered_before: now - in_progress_lapse(),
        purge: PURGE_BATCH,
    };
    Ok(table::reserve(db, request, now, lapses).await?)
}

/// Stores the answer to replay for a reserved key.
pub async fn store_answer(
    db: &Db,
    scope: &str,
    key: &str,
    answer: &StoredAnswer,
) -> Result<(), UseCaseError> {
    Ok(table::store_answer(db, scope, key, answer).await?)
}

/// Frees a reserved key whose request should be retryable (it failed on our side).
pub async fn release(db: &Db, scope: &str, key: &str) -> Result<(), UseCaseError> {
    Ok(table::release(db, scope, key).await?)
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
