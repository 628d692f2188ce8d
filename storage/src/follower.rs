//! The one runtime every log follower runs on: the projector, the email
//! senders and the expiry worker. It gives each follower
//!
//! * **leadership**: one instance at a time per follower name, by a PostgreSQL
//!   session advisory lock named `roster.follower.<schema>.<name>`. An instance
//!   holds all its followers' locks on one session of its own (SQLite runs in one
//!   process and needs none); a standby retries on that session, so waiting costs
//!   no reconnects, and the locks end with it, so a dead leader is replaced;
//! * **the follow loop**: step while there is work, then sleep until the log
//!   changes, the follower's own wake-up time, or shutdown;
//! * **backoff with jitter** after a failure, never skipping the failed work;
//! * **graceful stop**: every wait also watches the shutdown signal.
//!
//! Tests call a follower's `step()` directly and never sleep.

use std::time::Duration;

use async_trait::async_trait;
use roster_eventstore::ChangeSignal;
use std::sync::Arc;

use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use crate::db::Db;

/// An error a step can end with; the runtime logs it with its causes and backs off.
pub type StepError = Box<dyn std::error::Error + Send + Sync>;

/// What one step did, and so when the next one should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Work was done and more may be waiting: step again at once.
    Busy,
    /// Nothing to do: step again when the log changes, or after `wake_after` at
    /// the latest (a deadline, or a safety-net poll).
    Idle {
        /// Longest to wait for a change.
        wake_after: Duration,
    },
    /// A transient failure outside our control (e.g. the mail server): try again then.
    RetryAfter(Duration),
}

/// Something that follows the log in steps.
#[async_trait]
pub trait Follower: Send + Sync {
    /// Its leadership name, unique across followers.
    fn name(&self) -> &str;

    /// Runs once after leadership is won, until it succeeds (e.g. installing tables).
    async fn start(&self) -> Result<(), StepError> {
        Ok(())
    }

    /// Does the next piece of work.
    async fn step(&self) -> Result<Progress, StepError>;

    /// Told about a failed step before the runtime backs off (e.g. to record it for
    /// `/readyz`).
    async fn failed(&self, _error: &StepError) {}
}

/// Exponential delays with up to 50 % jitter, so many instances retrying at once
/// do not stampede what they retry against.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub cap: Duration,
}

impl Backoff {
    /// The delay before attempt `attempt` (1 = after the first failure):
    /// base, 2 × base, 4 × base … up to the cap, plus jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let doubled = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let delay = doubled.min(self.cap);
        let mut r = [0u8; 2];
        // Without randomness the delay is merely unjittered.
        let _ = getrandom::getrandom(&mut r);
        delay + delay.mul_f64(f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX) / 2.0)
    }
}

/// Sleeps for `d` unless shutdown comes first; true when it is time to stop.
pub async fn sleep_or_stop(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

/// How long a standby waits between tries of the lock.
const STANDBY_RETRY: Duration = Duration::from_secs(2);

/// Held leadership of one follower; dropping it (or the process dying) hands it on.
pub struct Leadership {
    held: Option<(Arc<LeaderSession>, String)>,
}

/// One PostgreSQL session per database pool on which this process holds every
/// follower's leadership lock (before, each follower held a connection of its
/// own: seven per instance at rest). Shared through a registry of weak
/// references, so it closes when the last leadership on it is dropped.
struct LeaderSession {
    pool: PgPool,
    connection: tokio::sync::Mutex<Option<PgConnection>>,
    /// Followers whose lock this session holds (advisory locks are re-entrant
    /// within a session, so a second holder of one name must be refused here).
    names: std::sync::Mutex<std::collections::HashSet<String>>,
}

static SESSIONS: std::sync::Mutex<Vec<std::sync::Weak<LeaderSession>>> =
    std::sync::Mutex::new(Vec::new());

impl LeaderSession {
    /// The session for `pool`'s database (pools cloned from one share it).
    fn for_pool(pool: &PgPool) -> Arc<Self> {
        let mut sessions = SESSIONS.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|s| s.strong_count() > 0);
        let options = pool.connect_options();
        if let Some(found) = sessions
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .find(|s| Arc::ptr_eq(&s.pool.connect_options(), &options))
        {
            return found;
        }
        let session = Arc::new(Self {
            pool: pool.clone(),
            connection: tokio::sync::Mutex::new(None),
            names: std::sync::Mutex::new(std::collections::HashSet::new()),
        });
        sessions.push(Arc::downgrade(&session));
        session
    }

    /// Tries to take `name`'s lock on the session (connecting first if needed).
    async fn try_lock(&self, name: &str) -> Result<bool, sqlx::Error> {
        // Checked under the session's lock, so two followers of one name in this
        // process cannot both pass before either has taken it.
        let mut connection = self.connection.lock().await;
        if self
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(name)
        {
            return Ok(false);
        }
        if connection.is_none() {
            // Detached from the pool: the locks belong to this session, so they
            // end with it and never linger on a pooled connection.
            *connection = Some(self.pool.acquire().await?.detach());
        }
        let Some(conn) = connection.as_mut() else {
            return Ok(false);
        };
        let got: Result<bool, _> = sqlx::query_scalar(
            "SELECT pg_try_advisory_lock(hashtextextended('roster.follower.' || current_schema() || '.' || $1, 0))",
        )
        .bind(name)
        .fetch_one(&mut *conn)
        .await;
        match got {
            Ok(true) => {
                self.names
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.to_owned());
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(e) => {
                // The session is gone, and every lock on it with it.
                *connection = None;
                self.names.lock().unwrap_or_else(|p| p.into_inner()).clear();
                Err(e)
            }
        }
    }

    /// Gives `name`'s lock back, so another instance can lead at once.
    async fn unlock(&self, name: &str) {
        let mut connection = self.connection.lock().await;
        let held = self
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        if !held {
            return;
        }
        if let Some(conn) = connection.as_mut() {
            let released = sqlx::query(
                "SELECT pg_advisory_unlock(hashtextextended('roster.follower.' || current_schema() || '.' || $1, 0))",
            )
            .bind(name)
            .execute(&mut *conn)
            .await;
            if released.is_err() {
                *connection = None;
            }
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        if let Some((session, name)) = self.held.take() {
            // Unlocking needs the session; where no runtime is left the process
            // is ending, and its session (and locks) with it.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { session.unlock(&name).await });
            }
        }
    }
}

impl Leadership {
    /// Waits until this instance leads `name`; `None` when shutdown came first.
    pub async fn acquire(
        db: &Db,
        name: &str,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Option<Self> {
        let Db::Pg(pool) = db else {
            return Some(Self { held: None });
        };
        let session = LeaderSession::for_pool(pool);
        loop {
            match session.try_lock(name).await {
                Ok(true) => {
                    return Some(Self {
                        held: Some((session, name.to_owned())),
                    })
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(follower = name, error = %e, "leadership connection failed; reconnecting");
                }
            }
            if sleep_or_stop(STANDBY_RETRY, shutdown).await {
                return None;
            }
        }
    }
}

use roster_domain::error_chain as causes;

/// How long a follower woken by a change waits for more before stepping: each
/// step costs a transaction (five round trips and a WAL flush), so under load
/// batching pays, and at rest it adds this much to read-your-writes waits.
pub const GATHER: Duration = Duration::from_millis(10);

/// Failure backoff of the follow loop, capped at 10 s: after an outage every follower is back (and readiness with
/// it) within seconds, while one stuck on an event retries it at a cheap pace.
const FAILURE_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(100),
    cap: Duration::from_secs(10),
};

/// `d` less up to a quarter of it, at random: followers started together would
/// otherwise look at the log at the same moments forever, each look taking a
/// connection of its own, so a quiet instance would keep several open. Waking
/// early is harmless (the follower looks and waits again); waking late is not.
fn early(d: Duration) -> Duration {
    let mut r = [0u8; 2];
    // Without randomness the wait is merely exact.
    let _ = getrandom::getrandom(&mut r);
    d.saturating_sub(d.mul_f64(f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX) / 4.0))
}

/// Runs `follower` until `shutdown` turns true: leadership, start, then steps.
pub async fn run<F: Follower>(
    follower: F,
    db: Db,
    mut changes: ChangeSignal,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(_leader) = Leadership::acquire(&db, follower.name(), &mut shutdown).await else {
        return;
    };
    let mut failures = 0u32;
    while let Err(e) = follower.start().await {
        failures += 1;
        tracing::error!(follower = follower.name(), error = %causes(e.as_ref()), "cannot start; retrying");
        if sleep_or_stop(FAILURE_BACKOFF.delay(failures), &mut shutdown).await {
            return;
        }
    }
    failures = 0;
    loop {
        if *shutdown.borrow() {
            return;
        }
        changes.mark_seen();
        match follower.step().await {
            Ok(Progress::Busy) => failures = 0,
            Ok(Progress::Idle { wake_after }) => {
                failures = 0;
                let woken = tokio::select! {
                    _ = changes.changed() => true,
                    _ = tokio::time::sleep(early(wake_after)) => false,
                    _ = shutdown.changed() => false,
                };
                // Under load the log moves again within milliseconds: waiting a
                // moment lets one transaction carry many events instead of one.
                if woken && sleep_or_stop(GATHER, &mut shutdown).await {
                    return;
                }
            }
            Ok(Progress::RetryAfter(pause)) => {
                if sleep_or_stop(pause, &mut shutdown).await {
                    return;
                }
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(follower = follower.name(), error = %causes(e.as_ref()), "step failed; backing off");
                follower.failed(&e).await;
                if sleep_or_stop(FAILURE_BACKOFF.delay(failures), &mut shutdown).await {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_at_most_half_again_of_jitter() {
        let b = Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        };
        for attempt in 1..14 {
            let d = b.delay(attempt);
            let base =
                Duration::from_secs(1u64 << (attempt - 1).min(16)).min(Duration::from_secs(300));
            assert!(
                d >= base && d <= base + base / 2,
                "attempt {attempt}: {d:?}"
            );
        }
    }
}
