//! Why a worker step failed. Each variant keeps its cause; the runtime logs the
//! whole chain and retries the step after a backoff.

use roster_commands::HandleError;
use roster_domain::DomainError;
use roster_eventstore::StoreError;
use roster_projections::queries::QueryError;

/// A failed step: nothing after the failed piece of work was done.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The worker's own tables (its checkpoint, its retries) could not be read
    /// or written.
    #[error("the worker's checkpoint or retries could not be read or written")]
    Storage(#[from] roster_storage::StorageError),
    /// The log could not be read.
    #[error("the event log could not be read")]
    Store(#[from] StoreError),
    /// An outcome could not be recorded, or an organization not loaded.
    #[error("an organization command failed")]
    Command(#[from] HandleError<DomainError>),
    /// A read model could not be read.
    #[error("a read model could not be read")]
    Query(#[from] QueryError),
    /// The email could not be built.
    #[error("the email could not be built")]
    Message(#[from] lettre::error::Error),
    /// An event this worker must act on cannot be read by this build. The worker
    /// stops there (its checkpoint does not move), so no email is silently lost;
    /// readiness and metrics report it until it is fixed.
    #[error("event {position} of stream {stream} cannot be read: {source}")]
    Undecodable {
        /// The event's stream.
        stream: String,
        /// Its global position.
        position: u64,
        /// What failed.
        source: roster_domain::DecodeError,
    },
}

impl WorkerError {
    /// Whether the worker is stuck on an event rather than on a passing outage:
    /// only an event it cannot read keeps failing however often it retries, so
    /// only that takes the instance out of readiness (a database outage shows
    /// there already).
    pub fn is_stuck(&self) -> bool {
        matches!(
            self,
            WorkerError::Undecodable { .. } | WorkerError::Command(HandleError::Decode { .. })
        )
    }

    /// The step error's description, when it says the worker is stuck.
    pub fn stuck(error: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<String> {
        error
            .downcast_ref::<WorkerError>()
            .filter(|e| e.is_stuck())
            .map(|e| roster_domain::error_chain(e))
    }

    /// The error for an event of `recorded`'s stream that failed to decode.
    pub fn undecodable(
        recorded: &roster_eventstore::RecordedEvent,
        source: roster_domain::DecodeError,
    ) -> Self {
        Self::Undecodable {
            stream: recorded.stream_id.to_string(),
            position: recorded.global_position.0,
            source,
        }
    }
}
