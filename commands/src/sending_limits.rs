//! Limits on the emails Roster sends, so it cannot be used to flood an inbox
//! and so no stranger can use the limits to stop someone else's emails:
//!
//! * a resend waits [`RESEND_COOLDOWN`] after the last send of its invitation
//!   (read from the organization's state);
//! * invitations: one organization sends one address at most
//!   [`PER_ORGANIZATION_AND_RECIPIENT`] an hour, one address receives at most
//!   [`PER_RECIPIENT`] an hour from all organizations together, and one
//!   organization sends at most [`PER_ORGANIZATION`] an hour;
//! * password resets, which anyone may ask for, count apart from invitations, so
//!   they can never block one: one client address asks at most
//!   [`RESETS_PER_REQUESTER`] an hour, at most [`RESETS_PER_REQUESTER_AND_RECIPIENT`]
//!   of them for one address, and one address receives at most
//!   [`RESETS_PER_RECIPIENT`] an hour from everyone.
//!
//! The windows slide over an hour and are counted in memory, per instance, on the
//! application's clock. Every send costs O(1) amortised: one queue of every
//! counted send in time order expires the old ones as time passes, and at most
//! [`MAX_COUNTED`] sends are held — past that, resets (asked by strangers) are
//! refused until old ones expire, while invitations (bounded per organization)
//! are still counted.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use roster_domain::{InvitationId, OrgId};

/// Shortest time between two sends of one invitation.
pub const RESEND_COOLDOWN: Duration = Duration::seconds(60);
/// Invitations one organization may send one address per window.
pub const PER_ORGANIZATION_AND_RECIPIENT: usize = 5;
/// Invitations one address may receive per window, from all organizations.
pub const PER_RECIPIENT: usize = 20;
/// Invitations one organization may send per window.
pub const PER_ORGANIZATION: usize = 200;
/// Reset requests one client address may make per window.
pub const RESETS_PER_REQUESTER: usize = 20;
/// Reset requests one client address may make for one address per window.
pub const RESETS_PER_REQUESTER_AND_RECIPIENT: usize = 3;
/// Reset emails one address may receive per window, whoever asks.
pub const RESETS_PER_RECIPIENT: usize = 10;
/// The window.
pub const WINDOW: Duration = Duration::hours(1);
/// The most sends counted at once (about 100 bytes each).
pub const MAX_COUNTED: usize = 200_000;

/// What one count is kept for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Counter {
    Recipient(String),
    OrganizationAndRecipient(OrgId, String),
    Organization(OrgId),
    ResetRequester(String),
    ResetRequesterAndRecipient(String, String),
    ResetRecipient(String),
}

#[derive(Debug, Default)]
struct Windows {
    /// Each counter's sends within the window, oldest first.
    counts: HashMap<Counter, VecDeque<DateTime<Utc>>>,
    /// Every counted send, oldest first, to expire them in O(1) each.
    order: VecDeque<(DateTime<Utc>, Counter)>,
}

impl Windows {
    /// Forgets the sends that left the window.
    fn expire(&mut self, now: DateTime<Utc>) {
        while let Some((at, _)) = self.order.front() {
            if *at > now - WINDOW {
                break;
            }
            let Some((at, counter)) = self.order.pop_front() else {
                break;
            };
            if let Some(times) = self.counts.get_mut(&counter) {
                if times.front().is_some_and(|t| *t <= at) {
                    times.pop_front();
                }
                if times.is_empty() {
                    self.counts.remove(&counter);
                }
            }
        }
    }

    /// Counts one send under each of `counters`, or says how long to wait when
    /// one of them is at its limit (nothing is counted then).
    fn take(&mut self, counters: &[(Counter, usize)], now: DateTime<Utc>) -> Result<(), Duration> {
        self.expire(now);
        for (counter, limit) in counters {
            if let Some(times) = self.counts.get(counter).filter(|t| t.len() >= *limit) {
                let oldest = times.front().copied().unwrap_or(now);
                return Err((oldest + WINDOW - now).max(Duration::seconds(1)));
            }
        }
        for (counter, _) in counters {
            self.counts
                .entry(counter.clone())
                .or_default()
                .push_back(now);
            self.order.push_back((now, counter.clone()));
        }
        Ok(())
    }

    /// How long until room frees up, when [`MAX_COUNTED`] sends are held.
    fn full(&self, now: DateTime<Utc>) -> Option<Duration> {
        (self.order.len() >= MAX_COUNTED).then(|| {
            let oldest = self.order.front().map_or(now, |(at, _)| *at);
            (oldest + WINDOW - now).max(Duration::seconds(1))
        })
    }
}

/// The sliding windows.
#[derive(Debug, Default)]
pub struct SendingLimits {
    windows: Mutex<Windows>,
    resends: Mutex<Resends>,
}

/// Resends taken in the last [`RESEND_COOLDOWN`], so that two resends of one
/// invitation racing each other cannot both pass the cooldown (the organization's
/// state shows neither until one is recorded).
#[derive(Debug, Default)]
struct Resends {
    last: HashMap<InvitationId, DateTime<Utc>>,
    order: VecDeque<(DateTime<Utc>, InvitationId)>,
}

impl SendingLimits {
    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.windows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a reset email to `email_key` asked for from `requester` (a client
    /// address group, see `identity::throttle::address_group`) at `now`, or says
    /// how long to wait.
    pub fn take_reset(
        &self,
        requester: &str,
        email_key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Duration> {
        let mut windows = self.lock();
        windows.expire(now);
        if let Some(wait) = windows.full(now) {
            return Err(wait);
        }
        windows.take(
            &[
                (
                    Counter::ResetRequesterAndRecipient(requester.to_owned(), email_key.to_owned()),
                    RESETS_PER_REQUESTER_AND_RECIPIENT,
                ),
                (
                    Counter::ResetRequester(requester.to_owned()),
                    RESETS_PER_REQUESTER,
                ),
                (
                    Counter::ResetRecipient(email_key.to_owned()),
                    RESETS_PER_RECIPIENT,
                ),
            ],
            now,
        )
    }

    /// Counts an invitation email to `email_key` from `org` at `now`, or says how
    /// long to wait.
    pub fn take(&self, org: OrgId, email_key: &str, now: DateTime<Utc>) -> Result<(), Duration> {
        self.lock().take(
            &[
                (
                    Counter::OrganizationAndRecipient(org, email_key.to_owned()),
                    PER_ORGANIZATION_AND_RECIPIENT,
                ),
                (Counter::Recipient(email_key.to_owned()), PER_RECIPIENT),
                (Counter::Organization(org), PER_ORGANIZATION),
            ],
            now,
        )
    }

    /// Claims the resend of `invitation` at `now`, or says how long until the
    /// cooldown since a resend claimed by another request ends. Checked and taken
    /// at once; the cooldown since the last *recorded* send is the caller's to check.
    pub fn claim_resend(
        &self,
        invitation: InvitationId,
        now: DateTime<Utc>,
    ) -> Result<(), Duration> {
        let mut resends = self.resends.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((at, id)) = resends.order.front().copied() {
            if at > now - RESEND_COOLDOWN {
                break;
            }
            resends.order.pop_front();
            if resends.last.get(&id).is_some_and(|t| *t <= at) {
                resends.last.remove(&id);
            }
        }
        if let Some(last) = resends.last.get(&invitation) {
            if now < *last + RESEND_COOLDOWN {
                return Err((*last + RESEND_COOLDOWN - now).max(Duration::seconds(1)));
            }
        }
        resends.last.insert(invitation, now);
        resends.order.push_back((now, invitation));
        Ok(())
    }

    /// How many sends are counted now (for tests and metrics).
    pub fn counted(&self) -> usize {
        self.lock().order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0)
            .single()
            .expect("time")
    }

    fn org(n: u128) -> OrgId {
        OrgId::from_uuid(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn one_organization_sends_one_address_five_invitations_an_hour() {
        let limits = SendingLimits::default();
        for i in 0..PER_ORGANIZATION_AND_RECIPIENT as i64 {
            limits
                .take(org(1), "ann@x.io", t0() + Duration::minutes(i))
                .expect("allowed");
        }
        let wait = limits
            .take(org(1), "ann@x.io", t0() + Duration::minutes(10))
            .expect_err("limited");
        assert_eq!(wait, Duration::minutes(50));
        assert!(limits
            .take(org(2), "ann@x.io", t0() + Duration::minutes(10))
            .is_ok());
        assert!(limits
            .take(org(1), "bob@x.io", t0() + Duration::minutes(10))
            .is_ok());
        assert!(limits
            .take(org(1), "ann@x.io", t0() + Duration::minutes(61))
            .is_ok());
    }

    #[test]
    fn an_address_receives_at_most_twenty_invitations_an_hour_from_everyone() {
        let limits = SendingLimits::default();
        for i in 0..PER_RECIPIENT as u128 {
            limits.take(org(i / 5), "ann@x.io", t0()).expect("allowed");
        }
        assert!(limits.take(org(99), "ann@x.io", t0()).is_err());
    }

    #[test]
    fn strangers_asking_for_resets_never_block_an_invitation() {
        let limits = SendingLimits::default();
        let mut refused = 0;
        for requester in 0..50 {
            for _ in 0..5 {
                if limits
                    .take_reset(&format!("198.51.100.{requester}"), "ann@x.io", t0())
                    .is_err()
                {
                    refused += 1;
                }
            }
        }
        assert_eq!(
            refused,
            250 - RESETS_PER_RECIPIENT,
            "the recipient's reset budget holds"
        );
        assert!(
            limits.take(org(1), "ann@x.io", t0()).is_ok(),
            "invitations count apart"
        );
    }

    #[test]
    fn one_requester_cannot_use_up_a_recipient_or_spray_addresses() {
        let limits = SendingLimits::default();
        for _ in 0..RESETS_PER_REQUESTER_AND_RECIPIENT {
            limits
                .take_reset("203.0.113.1", "ann@x.io", t0())
                .expect("allowed");
        }
        assert!(limits.take_reset("203.0.113.1", "ann@x.io", t0()).is_err());
        assert!(
            limits.take_reset("192.0.2.8", "ann@x.io", t0()).is_ok(),
            "ann asks for her own from her address"
        );
        let sprayed = (0..100)
            .filter(|i| {
                limits
                    .take_reset("203.0.113.1", &format!("p{i}@x.io"), t0())
                    .is_ok()
            })
            .count();
        assert_eq!(
            sprayed,
            RESETS_PER_REQUESTER - RESETS_PER_REQUESTER_AND_RECIPIENT
        );
    }

    #[test]
    fn two_racing_resends_of_one_invitation_cannot_both_pass() {
        let limits = SendingLimits::default();
        let invitation = InvitationId::from_uuid(uuid::Uuid::from_u128(7));
        limits.claim_resend(invitation, t0()).expect("first");
        assert_eq!(
            limits.claim_resend(invitation, t0() + Duration::seconds(1)),
            Err(Duration::seconds(59))
        );
        assert!(limits
            .claim_resend(InvitationId::from_uuid(uuid::Uuid::from_u128(8)), t0())
            .is_ok());
        assert!(limits
            .claim_resend(invitation, t0() + RESEND_COOLDOWN)
            .is_ok());
    }

    #[test]
    fn old_sends_are_forgotten_as_time_passes() {
        let limits = SendingLimits::default();
        for i in 0..1_000 {
            limits
                .take_reset(
                    &format!("10.0.{}.{}", i / 256, i % 256),
                    &format!("p{i}@x.io"),
                    t0(),
                )
                .expect("allowed");
        }
        assert_eq!(limits.counted(), 3_000);
        limits
            .take(org(1), "ann@x.io", t0() + WINDOW + Duration::seconds(1))
            .expect("allowed");
        assert_eq!(limits.counted(), 3, "only the newest send is held");
    }
}
