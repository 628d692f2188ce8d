//! A closed-loop load generator: `clients` tasks each run one operation after
//! another until the deadline; every latency is kept (bounded by the run length),
//! and failures are counted with their first few reasons.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Latencies and failures of one load run.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// Successful operations' latencies.
    pub ok: Vec<Duration>,
    /// How many failed.
    pub failed: usize,
    /// The first few failure reasons.
    pub reasons: Vec<String>,
    /// How long the run lasted.
    pub elapsed: Duration,
}

impl Samples {
    /// Successful operations per second.
    pub fn rate(&self) -> f64 {
        self.ok.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p` quantile of the latencies, in milliseconds.
    pub fn quantile_ms(&self, p: f64) -> f64 {
        if self.ok.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.ok.clone();
        sorted.sort_unstable();
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[i].as_secs_f64() * 1e3
    }

    /// Mean latency in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        if self.ok.is_empty() {
            return f64::NAN;
        }
        self.ok.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e3 / self.ok.len() as f64
    }

    /// The figures as JSON.
    pub fn summary(&self) -> Value {
        json!({
            "ops": self.ok.len(),
            "failed": self.failed,
            "failure_reasons": self.reasons,
            "seconds": self.elapsed.as_secs_f64(),
            "per_s": self.rate(),
            "p50_ms": self.quantile_ms(0.5),
            "p99_ms": self.quantile_ms(0.99),
            "mean_ms": self.mean_ms(),
        })
    }

    fn absorb(&mut self, other: Samples) {
        self.ok.extend(other.ok);
        self.failed += other.failed;
        for r in other.reasons {
            if self.reasons.len() < 5 {
                self.reasons.push(r);
            }
        }
    }
}

/// Runs `op(client, n)` from `clients` tasks for `length`; `op` answers `Err(reason)`
/// for a failed operation.
pub async fn run<F, Fut>(clients: usize, length: Duration, op: F) -> Samples
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let deadline = started + length;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut mine = Samples::default();
                let mut n = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match op(client, n).await {
                        Ok(()) => mine.ok.push(t.elapsed()),
                        Err(reason) => {
                            mine.failed += 1;
                            if mine.reasons.len() < 5 {
                                mine.reasons.push(reason);
                            }
                        }
                    }
                    n += 1;
                }
                mine
            })
        })
        .collect();
    let mut all = Samples::default();
    for task in tasks {
        match task.await {
            Ok(s) => all.absorb(s),
            Err(e) => {
                all.failed += 1;
                all.reasons.push(format!("load task failed: {e}"));
            }
        }
    }
    all.elapsed = started.elapsed();
    all
}

/// The median of a few figures (rounds of one case).
pub fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}
