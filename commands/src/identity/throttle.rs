//! Sign-in throttling, in memory per instance. Attempts are taken *before* the
//! password is checked, atomically, so a burst of parallel guesses counts every
//! one of them. The policy keeps a stranger from locking a known person out:
//!
//! * one account from one client address (`pair`): after [`PER_PAIR`] failures in
//!   [`WINDOW`], refused (429 with `Retry-After`) — a guesser is stopped;
//! * one client address, whatever the accounts: after [`PER_ADDRESS`] failures,
//!   refused — a sprayer is stopped;
//! * one account, from any address: never refused; past [`PER_PAIR`] failures
//!   each attempt first waits a delay that doubles up to [`MAX_ACCOUNT_DELAY`],
//!   so distributed guessing is slowed while the owner, from their own address,
//!   still gets in.
//!
//! Addresses are grouped: IPv4 by address, IPv6 by /64 (one subscriber's prefix).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed for one account from one address within the window.
pub const PER_PAIR: u32 = 5;
/// Failed attempts allowed from one address within the window.
pub const PER_ADDRESS: u32 = 20;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The longest delay a much-guessed account imposes on each attempt.
pub const MAX_ACCOUNT_DELAY: Duration = Duration::from_secs(8);
/// How soon to retry when the limit is reached only by attempts still under way.
pub const IN_FLIGHT_RETRY: Duration = Duration::from_secs(1);
/// Kept for callers of the old name: failures allowed per account and address.
pub const PER_ACCOUNT: u32 = PER_PAIR;

#[derive(Debug, Clone, Copy)]
struct Counter {
    failures: u32,
    in_flight: u32,
    since: Instant,
}

/// Failure counters (each instance counts its own; the limits are per instance).
#[derive(Default)]
pub struct SignInThrottle {
    counters: Mutex<HashMap<String, Counter>>,
}

/// The group an address counts in: itself for IPv4, its /64 for IPv6.
pub fn address_group(addr: Option<IpAddr>) -> String {
    match addr {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".to_owned(),
    }
}

/// An attempt in progress: counted until it is settled as a success or a
/// failure; dropped unsettled (the check could not be made), it counts for nothing.
pub struct Attempt<'a> {
    throttle: &'a SignInThrottle,
    keys: [String; 3],
    settled: bool,
    /// How long to wait before checking the password (a much-guessed account).
    pub delay: Duration,
}

impl Attempt<'_> {
    /// The password was wrong (or the account unknown).
    pub fn failed(mut self) {
        self.settled = true;
        let mut map = self.throttle.lock();
        let now = Instant::now();
        for key in &self.keys {
            let c = map.entry(key.clone()).or_insert(Counter {
                failures: 0,
                in_flight: 1,
                since: now,
            });
            c.in_flight = c.in_flight.saturating_sub(1);
            c.failures += 1;
        }
    }

    /// The password was right: the account's and the pair's failures are forgiven.
    pub fn succeeded(mut self) {
        self.settled = true;
        let mut map = self.throttle.lock();
        map.remove(&self.keys[0]);
        map.remove(&self.keys[1]);
        if let Some(c) = map.get_mut(&self.keys[2]) {
            c.in_flight = c.in_flight.saturating_sub(1);
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let mut map = self.throttle.lock();
        for key in &self.keys {
            if let Some(c) = map.get_mut(key) {
                c.in_flight = c.in_flight.saturating_sub(1);
            }
        }
    }
}

impl SignInThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Counter>> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes an attempt for `email_key` from `addr`, or says how long to wait.
    /// Failures and attempts still in flight both count, so parallel guesses
    /// cannot slip past the limit.
    pub fn begin(&self, email_key: &str, addr: Option<IpAddr>) -> Result<Attempt<'_>, Duration> {
        let group = address_group(addr);
        let keys = [
            format!("account:{email_key}"),
            format!("pair:{email_key}|{group}"),
            format!("address:{group}"),
        ];
        let mut map = self.lock();
        let now = Instant::now();
        map.retain(|_, c| c.in_flight > 0 || now.duration_since(c.since) < WINDOW);
        for (key, limit) in [(&keys[1], PER_PAIR), (&keys[2], PER_ADDRESS)] {
            let Some(c) = map.get(key) else { continue };
            if c.failures >= limit {
                return Err(WINDOW
                    .saturating_sub(now.duration_since(c.since))
                    .max(IN_FLIGHT_RETRY));
            }
            if c.failures + c.in_flight >= limit {
                // Attempts under way may yet fail: they settle within moments.
                return Err(IN_FLIGHT_RETRY);
            }
        }
        let account_failures = map.get(&keys[0]).map_or(0, |c| c.failures);
        let delay = match account_failures.saturating_sub(PER_PAIR) {
            0 => Duration::ZERO,
            over => (Duration::from_millis(250) * 2u32.saturating_pow((over - 1).min(16)))
                .min(MAX_ACCOUNT_DELAY),
        };
        for key in &keys {
            map.entry(key.clone())
                .or_insert(Counter {
                    failures: 0,
                    in_flight: 0,
                    since: now,
                })
                .in_flight += 1;
        }
        drop(map);
        Ok(Attempt {
            throttle: self,
            keys,
            settled: false,
            delay,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn the_sixth_failure_from_one_address_waits_and_a_success_resets() {
        let t = SignInThrottle::default();
        for _ in 0..PER_PAIR {
            t.begin("a@x.io", ip("10.0.0.1")).expect("allowed").failed();
        }
        let wait = t.begin("a@x.io", ip("10.0.0.1")).err().expect("throttled");
        assert!(wait <= WINDOW && wait > Duration::from_secs(60));
        let from_elsewhere = t
            .begin("a@x.io", ip("10.0.0.2"))
            .expect("the owner's own address");
        assert!(
            from_elsewhere.delay.is_zero(),
            "five failures impose no delay yet"
        );
        from_elsewhere.succeeded();
        assert!(
            t.begin("a@x.io", ip("10.0.0.1")).is_err(),
            "the guesser stays out"
        );
    }

    #[test]
    fn parallel_attempts_count_before_they_finish() {
        let t = SignInThrottle::default();
        let held: Vec<_> = (0..PER_PAIR)
            .map(|_| t.begin("a@x.io", ip("10.0.0.1")).expect("allowed"))
            .collect();
        assert_eq!(
            t.begin("a@x.io", ip("10.0.0.1")).err(),
            Some(IN_FLIGHT_RETRY),
            "told to come back once those settle"
        );
        drop(held);
        assert!(
            t.begin("a@x.io", ip("10.0.0.1")).is_ok(),
            "unsettled attempts count for nothing"
        );
    }

    #[test]
    fn a_much_guessed_account_slows_down_but_never_locks() {
        let t = SignInThrottle::default();
        for i in 0..40u8 {
            t.begin("a@x.io", ip(&format!("10.1.0.{i}")))
                .expect("allowed")
                .failed();
        }
        let attempt = t.begin("a@x.io", ip("192.0.2.7")).expect("never locked");
        assert_eq!(attempt.delay, MAX_ACCOUNT_DELAY);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_prefix() {
        assert_eq!(
            address_group(ip("2001:db8:1:2:aaaa::1")),
            address_group(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            address_group(ip("2001:db8:1:2::1")),
            address_group(ip("2001:db8:1:3::1"))
        );
        assert_eq!(address_group(ip("::ffff:10.0.0.1")), "10.0.0.1");
    }
}
