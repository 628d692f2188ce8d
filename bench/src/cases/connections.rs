//! How many PostgreSQL connections one instance holds: the most while the
//! command and read cases run, and at rest once its idle timeout has passed
//! (#19: at most 16 by default, and 4 at rest, so five instances fit
//! PostgreSQL's default of 100). The server names its connections `roster`
//! (`application_name`); the bench's own are `roster-bench` and not counted.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;

use crate::report::{CaseResult, Goal};

/// The default connection budget (`ROSTER_DB_CONNECTIONS`).
const BUDGET: i64 = 16;
/// Most connections a quiet instance may hold.
const AT_REST: i64 = 4;
/// The server's default `ROSTER_DB_IDLE_TIMEOUT`, and a margin past it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const MARGIN: Duration = Duration::from_secs(5);

async fn count(pool: &PgPool, database: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'roster'",
    )
    .bind(database)
    .fetch_one(pool)
    .await?)
}

/// Samples the server's connections every 10 ms until [`finish`](Sampler::finish).
pub struct Sampler {
    most: Arc<AtomicI64>,
    samples: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    /// Starts sampling the connections to `database`.
    pub fn start(pool: PgPool, database: String) -> Self {
        let most = Arc::new(AtomicI64::new(0));
        let samples = Arc::new(AtomicI64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (most, samples, stop) = (most.clone(), samples.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(n) = count(&pool, &database).await {
                        most.fetch_max(n, Ordering::SeqCst);
                        samples.fetch_add(1, Ordering::SeqCst);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        Self {
            most,
            samples,
            stop,
            task,
        }
    }

    /// Stops sampling: the most seen, and how many samples were taken.
    pub async fn finish(self) -> (i64, i64) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
        (
            self.most.load(Ordering::SeqCst),
            self.samples.load(Ordering::SeqCst),
        )
    }
}

/// How long the log must stay still before the server counts as quiet, and
/// the longest wait for that (the load cases leave emails to send).
const STILL: Duration = Duration::from_secs(5);
const QUIET_WITHIN: Duration = Duration::from_secs(300);

/// Waits until the server is quiet (no request in flight, and the log still:
/// the emails the load cases queued are sent), then out the idle timeout, then
/// takes the median of ten looks (the followers still look at the log now and
/// then). Answers the count and how long the server took to become quiet.
pub async fn at_rest(pool: &PgPool, database: &str) -> anyhow::Result<(i64, Duration)> {
    let started = std::time::Instant::now();
    let head = || async {
        sqlx::query_scalar::<_, i64>("SELECT coalesce(max(global_position), 0) FROM events")
            .fetch_one(pool)
            .await
    };
    let mut last = head().await?;
    let mut still_since = std::time::Instant::now();
    while still_since.elapsed() < STILL && started.elapsed() < QUIET_WITHIN {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = head().await?;
        if now != last {
            last = now;
            still_since = std::time::Instant::now();
        }
    }
    let quiet_after = started.elapsed();
    // The pools close a connection idle past the timeout when they next look,
    // which they do once per timeout: up to twice the timeout in all.
    tokio::time::sleep(2 * IDLE_TIMEOUT + MARGIN).await;
    let mut looks = Vec::new();
    for _ in 0..10 {
        looks.push(count(pool, database).await?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    looks.sort_unstable();
    Ok((looks[looks.len() / 2], quiet_after))
}

/// The case: the most under load against the budget, and the count at rest.
pub fn result(most: i64, samples: i64, rest: i64, quiet_after: Duration) -> CaseResult {
    CaseResult::new(
        "pg_connections_per_instance",
        most as f64,
        BUDGET as f64,
        "connections (most, under the load cases)",
        Goal::AtMost(1.0),
        samples > 0 && rest <= AT_REST,
        json!({
            "most_under_load": most,
            "samples": samples,
            "at_rest": rest,
            "quiet_after_s": quiet_after.as_secs_f64(),
            "at_rest_goal": AT_REST,
            "budget": BUDGET,
            "baseline_is": "the default budget (ROSTER_DB_CONNECTIONS); at rest is also checked against 4",
        }),
    )
}
