//! Counters the workers keep, rendered into `/metrics` by the server.

use std::sync::atomic::{AtomicU64, Ordering};

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
}

impl WorkerMetrics {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
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
        out
    }
}
