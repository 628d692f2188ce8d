//! Why a worker step failed. Each variant keeps its cause; the runtime logs the
//! whole chain and retries the step after a backoff.

use roster_commands::HandleError;
use roster_domain::DomainError;
use roster_eventstore::StoreError;
use roster_projections::queries::QueryError;

/// A failed step: nothing after the failed piece of work was done.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The worker's own table (its checkpoint) could not be read or written.
    #[error("the worker checkpoint could not be read or written")]
    Checkpoint(#[from] sqlx::Error),
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
}
