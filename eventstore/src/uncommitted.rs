//! Appends whose transaction stays open until their caller commits it: a request
//! that must record something else atomically with its events (the answer an
//! `Idempotency-Key` replays) writes it in the same transaction, then commits.
//! Dropping an [`Uncommitted`] rolls it back and runs its abort hooks, so a
//! dropped request future leaves nothing behind.

use sqlx::{Postgres, Sqlite, Transaction};

use crate::error::StoreError;

/// An open transaction on the log's database, of either backend.
pub enum Tx {
    /// PostgreSQL.
    Pg(Transaction<'static, Postgres>),
    /// SQLite.
    Sqlite(Transaction<'static, Sqlite>),
}

impl Tx {
    /// Undoes the transaction's work.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Pg(tx) => tx.rollback().await,
            Tx::Sqlite(tx) => tx.rollback().await,
        }
    }

    /// Makes the transaction's work permanent.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Pg(tx) => tx.commit().await,
            Tx::Sqlite(tx) => tx.commit().await,
        }
    }
}

/// A hook run once, after a commit or instead of one.
type Hook = Box<dyn FnOnce() + Send>;

/// Events written in a transaction that is still open.
pub struct Uncommitted {
    tx: Option<Tx>,
    /// What the store does once the events are durable (cache its head, wake
    /// followers).
    committed: Vec<Hook>,
    /// What must be undone if they never become so (forget cached state).
    aborted: Vec<Hook>,
    /// Anything held until the end (SQLite's writer lock).
    _held: Option<Box<dyn Send + Sync>>,
    /// Events appended in the transaction so far.
    written: u64,
}

impl Uncommitted {
    /// Wraps `tx`; the store adds its hooks.
    pub(crate) fn new(tx: Tx, held: Option<Box<dyn Send + Sync>>) -> Self {
        Self {
            tx: Some(tx),
            committed: Vec::new(),
            aborted: Vec::new(),
            _held: held,
            written: 0,
        }
    }

    /// Events appended in the transaction so far (PostgreSQL numbers a
    /// transaction's events on from them).
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Counts `n` more events appended in the transaction.
    pub(crate) fn add_written(&mut self, n: usize) {
        self.written += n as u64;
    }

    /// The open transaction, to write more in it.
    pub fn tx(&mut self) -> &mut Tx {
        match self.tx.as_mut() {
            Some(tx) => tx,
            None => unreachable!("the transaction is only taken by commit, which consumes self"),
        }
    }

    /// Runs `hook` once the events are committed.
    pub fn on_commit(&mut self, hook: impl FnOnce() + Send + 'static) {
        self.committed.push(Box::new(hook));
    }

    /// Runs `hook` if the events are never committed (a failed commit, a drop).
    pub fn on_abort(&mut self, hook: impl FnOnce() + Send + 'static) {
        self.aborted.push(Box::new(hook));
    }

    /// Commits the events and whatever else was written with them.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        let Some(tx) = self.tx.take() else {
            return Ok(());
        };
        match tx.commit().await {
            Ok(()) => {
                self.aborted.clear();
                for hook in self.committed.drain(..) {
                    hook();
                }
                Ok(())
            }
            // Whether a commit whose answer was lost took effect is unknown: the
            // hooks forget cached state either way, so the next reader reloads.
            Err(e) => Err(StoreError::Database(e)),
        }
    }
}

impl Drop for Uncommitted {
    fn drop(&mut self) {
        // The transaction (if still here) rolls back as it drops.
        drop(self.tx.take());
        for hook in self.aborted.drain(..) {
            hook();
        }
    }
}
