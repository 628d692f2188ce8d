//! The rules of `Idempotency-Key` answers (storage in `roster_storage`): an
//! answer is recorded in the transaction that recorded the request's events (see
//! [`crate::unit_of_work`]), so the two are durable together; two concurrent
//! twins of one request can both run, but only one commits, and the other
//! replays its answer. Keys live [`lifetime`] and are scoped to the signed-in
//! caller; lapsed keys are purged in small batches as new ones are recorded.

use chrono::{DateTime, Duration, Utc};
use roster_storage::idempotency::{self as table, Lapses};
use roster_storage::{Db, Tx};

pub use roster_storage::idempotency::{Found, KeyedRequest, StoredAnswer};

use crate::error::UseCaseError;

/// How long a stored answer is honoured.
pub fn lifetime() -> Duration {
    Duration::hours(24)
}

/// Old keys removed per key recorded.
const PURGE_BATCH: i64 = 100;

fn lapses(now: DateTime<Utc>) -> Lapses {
    Lapses {
        answered_before: now - lifetime(),
        purge: PURGE_BATCH,
    }
}

/// What an earlier use of `request.key` left, if it is still honoured.
pub async fn find(
    db: &Db,
    request: &KeyedRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Found>, UseCaseError> {
    Ok(table::find(db, request, lapses(now)).await?)
}

/// Records the answer in `tx`, the transaction of the request's events; `false`
/// when a twin of the request recorded its answer first.
pub async fn record(
    tx: &mut Tx,
    request: &KeyedRequest<'_>,
    answer: &StoredAnswer,
    now: DateTime<Utc>,
) -> Result<bool, UseCaseError> {
    Ok(table::record(tx, request, answer, now, lapses(now)).await?)
}

/// Records the answer of a request that recorded no event; `false` when a twin
/// of the request recorded its answer first.
pub async fn record_alone(
    db: &Db,
    request: &KeyedRequest<'_>,
    answer: &StoredAnswer,
    now: DateTime<Utc>,
) -> Result<bool, UseCaseError> {
    Ok(table::record_alone(db, request, answer, now, lapses(now)).await?)
}

/// Whether an answer must not be replayed: the client should be able to try
/// again and get a different one (a lost race, a throttle, an outage).
pub fn is_retryable(status: u16, problem_type: Option<&str>) -> bool {
    matches!(status, 408 | 425 | 429 | 500..=599)
        || (status == 409 && problem_type.is_some_and(|t| t.ends_with("/concurrent-change")))
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
