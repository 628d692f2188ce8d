//! Limits on invitation emails, so Roster cannot be used to flood an inbox: a
//! resend waits [`RESEND_COOLDOWN`] after the last send of its invitation (read
//! from the organization's state); one recipient gets at most [`PER_RECIPIENT`]
//! sends an hour, across organizations; one organization sends at most
//! [`PER_ORGANIZATION`] an hour. The hourly windows are counted in memory, per
//! instance, on the application's clock.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use roster_domain::OrgId;

/// Shortest time between two sends of one invitation.
pub const RESEND_COOLDOWN: Duration = Duration::seconds(60);
/// Sends one address may receive per window.
pub const PER_RECIPIENT: usize = 5;
/// Sends one organization may make per window.
pub const PER_ORGANIZATION: usize = 200;
/// The window.
pub const WINDOW: Duration = Duration::hours(1);

/// The sliding windows.
#[derive(Debug, Default)]
pub struct SendingLimits {
    sends: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl SendingLimits {
    /// Counts an email to `email_key` that no organization sends (a password
    /// reset) at `now`, or says how long to wait.
    pub fn take_recipient(&self, email_key: &str, now: DateTime<Utc>) -> Result<(), Duration> {
        self.take_keys(&[(format!("recipient:{email_key}"), PER_RECIPIENT)], now)
    }

    /// Counts a send to `email_key` from `org` at `now`, or says how long to wait.
    pub fn take(&self, org: OrgId, email_key: &str, now: DateTime<Utc>) -> Result<(), Duration> {
        self.take_keys(
            &[
                (format!("recipient:{email_key}"), PER_RECIPIENT),
                (format!("organization:{org}"), PER_ORGANIZATION),
            ],
            now,
        )
    }

    fn take_keys(&self, keys: &[(String, usize)], now: DateTime<Utc>) -> Result<(), Duration> {
        let mut sends = self.sends.lock().unwrap_or_else(|p| p.into_inner());
        sends.retain(|_, times| {
            while times.front().is_some_and(|t| *t <= now - WINDOW) {
                times.pop_front();
            }
            !times.is_empty()
        });
        for (key, limit) in keys {
            if let Some(times) = sends.get(key).filter(|t| t.len() >= *limit) {
                let oldest = times.front().copied().unwrap_or(now);
                return Err((oldest + WINDOW - now).max(Duration::seconds(1)));
            }
        }
        for (key, _) in keys {
            sends.entry(key.clone()).or_default().push_back(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_recipient_gets_five_sends_an_hour_from_anyone() {
        let limits = SendingLimits::default();
        let t0 = Utc
            .with_ymd_and_hms(2026, 1, 1, 9, 0, 0)
            .single()
            .expect("time");
        let (a, b) = (
            OrgId::from_uuid(uuid::Uuid::from_u128(1)),
            OrgId::from_uuid(uuid::Uuid::from_u128(2)),
        );
        for i in 0..PER_RECIPIENT as i64 {
            let org = if i % 2 == 0 { a } else { b };
            limits
                .take(org, "ann@x.io", t0 + Duration::minutes(i))
                .expect("allowed");
        }
        let wait = limits
            .take(a, "ann@x.io", t0 + Duration::minutes(10))
            .expect_err("limited");
        assert_eq!(wait, Duration::minutes(50));
        assert!(limits
            .take(a, "bob@x.io", t0 + Duration::minutes(10))
            .is_ok());
        assert!(limits
            .take(a, "ann@x.io", t0 + Duration::minutes(61))
            .is_ok());
    }
}
