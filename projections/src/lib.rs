//! Read models of Roster, projected from the event log: the member list, pending
//! invitations, account access (the one table authorization reads), invitation
//! deadlines, the audit history and membership periods (who held which role when).
//!
//! * [`rows`] is how a read model is defined: a fold of events over a working set
//!   of rows, applied to a batch with a few set-based statements per table.
//! * [`runner`] is the projector: it follows the log for every read model and
//!   applies each batch and the checkpoints in one transaction.
//! * [`rebuild`] replays from position 0 into fresh tables, to verify or swap in.
//! * [`queries`] answers the questions the API, the CLI and the workers ask,
//!   including the members "as of" a past instant (from membership periods).
//!
//! The database handle, the tables that are not read models and the runtime the
//! runners follow the log on live in `roster-storage`.
//!
//! Read-model tables belong to their projection and are versioned by it: they are
//! disposable copies of what the log says, so a changed projection simply rebuilds.

pub mod cell;
pub mod models;
pub mod projection;
pub mod queries;
pub mod rebuild;
pub mod rows;
pub mod runner;

use std::sync::Arc;

pub use projection::{ProjectedEvent, Projection, ProjectionError};

/// Every projection Roster keeps.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(models::members::Members),
        Arc::new(models::invitations::Invitations),
        Arc::new(models::access::Access),
        Arc::new(models::deadlines::Deadlines),
        Arc::new(models::history::History),
        Arc::new(models::periods::Periods),
        Arc::new(models::links::Links),
    ]
}

/// The projection called `name`, if there is one.
pub fn by_name(name: &str) -> Option<Arc<dyn Projection>> {
    all().into_iter().find(|p| p.name() == name)
}
