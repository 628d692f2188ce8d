//! One request's writes in one transaction. The HTTP layer runs a request that
//! carries an `Idempotency-Key` inside [`UnitOfWork::run`]; the first append the
//! request makes is then left uncommitted and parked here, so the answer that
//! key replays is written in the same transaction before the layer commits.
//! Either both are durable or neither is: a retry after a crash finds the answer,
//! or finds nothing done. The request's later appends join the same transaction.

use std::future::Future;
use std::sync::{Arc, Mutex};

use roster_eventstore::Uncommitted;

tokio::task_local! {
    static CURRENT: UnitOfWork;
}

/// Where a request's open append waits for its commit.
#[derive(Clone, Default)]
pub struct UnitOfWork {
    parked: Arc<Mutex<Parked>>,
}

#[derive(Default)]
struct Parked {
    /// The open append, until taken.
    append: Option<Uncommitted>,
    /// Whether an append was ever parked (once the layer took it, later
    /// appends commit alone).
    used: bool,
}

impl UnitOfWork {
    /// A unit with nothing parked yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `work` with this unit as the current one.
    pub async fn run<F: Future>(&self, work: F) -> F::Output {
        CURRENT.scope(self.clone(), work).await
    }

    /// The parked append, if the work made one: commit it, or drop it to roll
    /// it back.
    pub fn take(&self) -> Option<Uncommitted> {
        self.parked().append.take()
    }

    fn parked(&self) -> std::sync::MutexGuard<'_, Parked> {
        self.parked.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the current task's next append should do.
pub(crate) enum Next {
    /// Commit on its own: no unit of work.
    Alone,
    /// Leave its transaction open and [`park`] it.
    Open,
    /// Write in the parked transaction, taken out until [`put_back`].
    Join(Uncommitted),
}

/// What the current task's next append should do (see [`Next`]).
pub(crate) fn next() -> Next {
    CURRENT
        .try_with(|unit| {
            let mut parked = unit.parked();
            match parked.append.take() {
                Some(open) => Next::Join(open),
                None if !parked.used => Next::Open,
                // Taken already (by the layer, after the handler): commit alone.
                None => Next::Alone,
            }
        })
        .unwrap_or(Next::Alone)
}

/// Parks `append` in the current unit; hands it back when there is none (or
/// one is parked already), for the caller to commit.
pub(crate) fn park(append: Uncommitted) -> Option<Uncommitted> {
    let mut slot = Some(append);
    let _ = CURRENT.try_with(|unit| {
        let mut parked = unit.parked();
        if parked.append.is_none() {
            parked.used = true;
            parked.append = slot.take();
        }
    });
    slot
}

/// Returns a transaction [`Next::Join`] took out.
pub(crate) fn put_back(open: Uncommitted) -> Option<Uncommitted> {
    park(open)
}
