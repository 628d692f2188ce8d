//! Counters the workers keep, rendered into `/metrics` by the server.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Email and expiry worker metrics.
#[derive(Debug, Default)]
pub struct WorkerMetrics {
    /// Emails the mail server accepted.
    pub emails_sent: AtomicU64,
    /// Sends recorded as failed for good.
    pub emails_failed: AtomicU64,
    /// Transient failures that will be retried.
    pub email_retries: AtomicU64,
    /// Invitations recorded as expired.
    pub invitations_expired: AtomicU64,
    /// How late (milliseconds after the deadline) the last expiry was recorded.
    pub last_expiry_lag_ms: AtomicU64,
    /// The workers whose last step failed, with why: `/readyz` names them and
    /// `/metrics` flags them until a step succeeds again.
    stalled: Mutex<BTreeMap<&'static str, String>>,
}

/// Every worker's follower name, so each has a series even while healthy.
pub const WORKERS: [&str; 3] = ["worker.email", "worker.reset-email", "worker.expiry"];

impl WorkerMetrics {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Notes that `worker`'s step failed with `error`: a worker stuck on an
    /// event is named until it steps again (see [`crate::WorkerError::is_stuck`]).
    pub fn stalled(
        &self,
        worker: &'static str,
        error: &(dyn std::error::Error + Send + Sync + 'static),
    ) {
        if let Some(why) = crate::WorkerError::stuck(error) {
            self.stalls().insert(worker, why);
        }
    }

    /// Notes that `worker` stepped successfully.
    pub fn recovered(&self, worker: &'static str) {
        self.stalls().remove(worker);
    }

    /// Each stalled worker, described for `/readyz`.
    pub fn stalls_described(&self) -> Vec<String> {
        self.stalls()
            .iter()
            .map(|(worker, why)| format!("{worker} is stuck: {why}"))
            .collect()
    }

    fn stalls(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, String>> {
        self.stalled.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The series in Prometheus text format.
    pub fn render(&self) -> String {
        let series = [
            (
                "roster_invitation_emails_sent_total",
                "counter",
                "Invitation emails accepted by the mail server.",
                &self.emails_sent,
            ),
            (
                "roster_invitation_emails_failed_total",
                "counter",
                "Invitation emails given up on.",
                &self.emails_failed,
            ),
            (
                "roster_invitation_email_retries_total",
                "counter",
                "Transient email failures retried.",
                &self.email_retries,
            ),
            (
                "roster_invitations_expired_total",
                "counter",
                "Invitations recorded as expired.",
                &self.invitations_expired,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in series {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP roster_expiry_lag_seconds How long after its deadline the last expiry was recorded.\n");
        out.push_str("# TYPE roster_expiry_lag_seconds gauge\n");
        out.push_str(&format!(
            "roster_expiry_lag_seconds {}\n",
            self.last_expiry_lag_ms.load(Ordering::Relaxed) as f64 / 1000.0
        ));
        out.push_str("# HELP roster_worker_failing 1 while a worker's steps fail (readiness names the cause).\n");
        out.push_str("# TYPE roster_worker_failing gauge\n");
        let stalls = self.stalls();
        for worker in WORKERS {
            out.push_str(&format!(
                "roster_worker_failing{{worker=\"{worker}\"}} {}\n",
                u8::from(stalls.contains_key(worker))
            ));
        }
        out
    }
}
