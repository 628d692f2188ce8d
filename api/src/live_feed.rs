//! What open event streams (`GET /api/orgs/{org}/events` as Server-Sent Events)
//! share, so that they cost little and end with the access they were opened with:
//!
//! * **one follower** of the whole log for the process, started when the first
//!   stream opens and stopped when the last one closes. It publishes which
//!   streams each batch touched; a stream reads the log only when its own
//!   organization (or its caller's identity) was touched, never on another
//!   organization's writes;
//! * **hints that access may have changed**: the caller's identity stream was
//!   touched (a password change or reset), or this process ended sessions of the
//!   caller (sign-out). A stream then checks its session and ownership again
//!   before it sends anything more, and ends if either is gone. Sessions that
//!   lapse, or end on another instance, are caught by a check every
//!   [`RECHECK`];
//! * **caps**: [`PER_OWNER`] open streams per person, [`MAX_STREAMS`] in all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roster_domain::UserId;
use roster_eventstore::{EventStore, Position, Subscription, SubscriptionOptions};
use tokio::sync::broadcast;

/// Open streams one person may hold at once (a few tabs and an integration).
pub const PER_OWNER: usize = 8;
/// Open streams the process holds at once.
pub const MAX_STREAMS: usize = 1_000;
/// How often an idle stream checks its caller's session and ownership anyway.
pub const RECHECK: Duration = Duration::from_secs(15);
/// Hints a slow stream may fall behind before it is told it lagged (it then
/// simply looks again).
const HINTS_BUFFERED: usize = 1_024;

/// Something that may concern an open stream.
#[derive(Debug, Clone)]
pub enum Hint {
    /// These streams got events, up to these positions.
    Appended(Arc<[(String, Position)]>),
    /// This person's sessions (one or all) were ended by this process.
    SessionsEnded(UserId),
}

/// The shared follower, its subscribers and the stream caps.
pub struct LiveLog {
    store: Arc<dyn EventStore>,
    hints: broadcast::Sender<Hint>,
    /// Whether the follower runs; changed only under this lock, together with
    /// the subscriber count it depends on.
    following: Mutex<bool>,
    caps: Caps,
}

/// Open streams per person.
#[derive(Debug, Default)]
struct Caps {
    open: Mutex<HashMap<UserId, usize>>,
}

impl Caps {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, usize>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open(&self) -> usize {
        self.lock().values().sum()
    }

    fn take(&self, user: UserId) -> Result<(), Refused> {
        let mut open = self.lock();
        if open.values().sum::<usize>() >= MAX_STREAMS {
            return Err(Refused::Full);
        }
        let mine = open.entry(user).or_insert(0);
        if *mine >= PER_OWNER {
            return Err(Refused::PerOwner);
        }
        *mine += 1;
        Ok(())
    }

    fn give_back(&self, user: UserId) {
        let mut open = self.lock();
        if let Some(n) = open.get_mut(&user) {
            *n -= 1;
            if *n == 0 {
                open.remove(&user);
            }
        }
    }
}

impl std::fmt::Debug for LiveLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveLog").finish_non_exhaustive()
    }
}

/// Why no stream could be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The person holds [`PER_OWNER`] streams already.
    PerOwner,
    /// The process holds [`MAX_STREAMS`].
    Full,
}

/// One open stream, counted until dropped.
pub struct StreamSlot {
    live: Arc<LiveLog>,
    user: UserId,
    /// Hints for this stream.
    pub hints: broadcast::Receiver<Hint>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.live.caps.give_back(self.user);
    }
}

impl LiveLog {
    /// A live log over `store`; nothing runs until a stream opens.
    pub fn new(store: Arc<dyn EventStore>) -> Arc<Self> {
        Arc::new(Self {
            store,
            hints: broadcast::Sender::new(HINTS_BUFFERED),
            following: Mutex::new(false),
            caps: Caps::default(),
        })
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.caps.open()
    }

    /// A place for one more stream of `user`, with its hints, or why not.
    pub fn open(self: &Arc<Self>, user: UserId) -> Result<StreamSlot, Refused> {
        self.caps.take(user)?;
        let hints = {
            let mut following = self.following.lock().unwrap_or_else(|p| p.into_inner());
            let hints = self.hints.subscribe();
            if !*following {
                *following = true;
                tokio::spawn(self.clone().follow());
            }
            hints
        };
        Ok(StreamSlot {
            live: self.clone(),
            user,
            hints,
        })
    }

    /// Tells this person's streams that sessions of theirs ended.
    pub fn sessions_ended(&self, user: UserId) {
        let _ = self.hints.send(Hint::SessionsEnded(user));
    }

    /// Follows the log from its head, publishing what each batch touched, until
    /// no stream listens.
    async fn follow(self: Arc<Self>) {
        let mut from = self.store.head().await.unwrap_or(Position(0));
        loop {
            let mut log =
                Subscription::new(self.store.clone(), from, SubscriptionOptions::default());
            loop {
                let batch = match log.next_batch(500).await {
                    Ok(batch) => batch,
                    Err(e) => {
                        tracing::warn!(error = %e, "the event streams' follower could not read the log; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        from = log.position();
                        break;
                    }
                };
                let mut touched: Vec<(String, Position)> = Vec::new();
                for event in batch {
                    match touched
                        .iter_mut()
                        .find(|(s, _)| s == event.stream_id.as_str())
                    {
                        Some(entry) => entry.1 = event.global_position,
                        None => touched.push((event.stream_id.into(), event.global_position)),
                    }
                }
                let mut following = self.following.lock().unwrap_or_else(|p| p.into_inner());
                if self.hints.receiver_count() == 0 {
                    *following = false;
                    return;
                }
                let _ = self.hints.send(Hint::Appended(touched.into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_person_holds_at_most_their_share_of_streams() {
        let caps = Caps::default();
        let ann = UserId::from_uuid(uuid::Uuid::from_u128(1));
        let bob = UserId::from_uuid(uuid::Uuid::from_u128(2));
        for _ in 0..PER_OWNER {
            caps.take(ann).expect("a place");
        }
        assert_eq!(caps.take(ann), Err(Refused::PerOwner));
        assert_eq!(caps.take(bob), Ok(()), "another person has their own share");
        assert_eq!(caps.open(), PER_OWNER + 1);
        caps.give_back(ann);
        assert_eq!(
            caps.take(ann),
            Ok(()),
            "a closed stream gives its place back"
        );
    }
}
