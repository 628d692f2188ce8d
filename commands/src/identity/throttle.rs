//! Sign-in throttling: failed attempts are counted per account and per client
//! address in a sliding window; past the limit, sign-in answers 429 with
//! `Retry-After`, whether or not the password would have been right.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed per account within the window.
pub const PER_ACCOUNT: u32 = 5;
/// Failed attempts allowed per client address within the window.
pub const PER_ADDRESS: u32 = 20;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Failure counters, in memory (each instance counts its own; the limits are per instance).
#[derive(Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl SignInThrottle {
    fn keys(email_key: &str, addr: Option<IpAddr>) -> [(String, u32); 2] {
        [
            (format!("account:{email_key}"), PER_ACCOUNT),
            (
                format!(
                    "address:{}",
                    addr.map(|a| a.to_string()).unwrap_or_default()
                ),
                PER_ADDRESS,
            ),
        ]
    }

    /// `Some(wait)` when this account or address must wait before trying again.
    pub fn check(&self, email_key: &str, addr: Option<IpAddr>) -> Option<Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        Self::keys(email_key, addr)
            .iter()
            .filter_map(|(k, limit)| {
                map.get(k)
                    .filter(|(n, _)| n >= limit)
                    .map(|(_, since)| WINDOW.saturating_sub(now.duration_since(*since)))
            })
            .max()
    }

    /// Counts a failed attempt.
    pub fn failed(&self, email_key: &str, addr: Option<IpAddr>) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        for (k, _) in Self::keys(email_key, addr) {
            map.entry(k).or_insert((0, now)).0 += 1;
        }
    }

    /// A success clears the account's counter.
    pub fn succeeded(&self, email_key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&format!("account:{email_key}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_failure_for_one_account_waits_and_a_success_resets() {
        let t = SignInThrottle::default();
        for _ in 0..PER_ACCOUNT {
            assert!(t.check("a@x.io", None).is_none());
            t.failed("a@x.io", None);
        }
        let wait = t.check("a@x.io", None).expect("throttled");
        assert!(wait <= WINDOW && wait > Duration::from_secs(60));
        assert!(
            t.check("b@x.io", "10.0.0.1".parse().ok()).is_none(),
            "other accounts and addresses are not affected"
        );
        t.succeeded("a@x.io");
        assert!(t.check("a@x.io", "10.0.0.2".parse().ok()).is_none());
    }
}
