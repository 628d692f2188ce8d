//! What open event streams (`GET /api/orgs/{org}/events` as Server-Sent Events)
//! share, so that they cost little and end with the access they were opened with:
//!
//! * **one follower** of the whole log for the process, started when the first
//!   stream opens and stopped once the last one has closed. For each batch it wakes
//!   only the streams listening to what the batch touched (their organization,
//!   their caller's identity): another organization's writes wake no one and
//!   cost an open stream nothing;
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

use roster_domain::{OrgId, UserId};
use roster_eventstore::{EventStore, Position, Subscription, SubscriptionOptions};
use tokio::sync::watch;

/// Open streams one person may hold at once (a few tabs and an integration).
pub const PER_OWNER: usize = 8;
/// Open streams the process holds at once.
pub const MAX_STREAMS: usize = 1_000;
/// How often an idle stream checks its caller's session and ownership anyway.
pub const RECHECK: Duration = Duration::from_secs(15);

/// The shared follower, the streams' topics and the caps.
pub struct LiveLog {
    store: Arc<dyn EventStore>,
    /// One wake-up per event stream of the log that an open stream listens to
    /// (an organization, a person's identity). Whether the follower runs is
    /// decided under this lock too: it runs while any topic exists.
    topics: Mutex<Topics>,
    caps: Caps,
}

#[derive(Default)]
struct Topics {
    by_stream: HashMap<String, Topic>,
    following: bool,
}

/// A counter bumped whenever the stream it names may have changed, and how
/// many open streams listen to it.
struct Topic {
    bumps: watch::Sender<u64>,
    listeners: usize,
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

/// One open stream, counted until dropped, with its wake-ups.
pub struct StreamSlot {
    live: Arc<LiveLog>,
    user: UserId,
    streams: [String; 2],
    /// Bumped when the organization got events.
    pub organization: watch::Receiver<u64>,
    /// Bumped when the person's identity got events or their sessions ended here.
    pub identity: watch::Receiver<u64>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.live.caps.give_back(self.user);
        let mut topics = self.live.lock_topics();
        for stream in &self.streams {
            if let Some(topic) = topics.by_stream.get_mut(stream) {
                topic.listeners -= 1;
                if topic.listeners == 0 {
                    topics.by_stream.remove(stream);
                }
            }
        }
    }
}

impl LiveLog {
    /// A live log over `store`; nothing runs until a stream opens.
    pub fn new(store: Arc<dyn EventStore>) -> Arc<Self> {
        Arc::new(Self {
            store,
            topics: Mutex::new(Topics::default()),
            caps: Caps::default(),
        })
    }

    fn lock_topics(&self) -> std::sync::MutexGuard<'_, Topics> {
        self.topics.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.caps.open()
    }

    /// A place for one more stream of `user` following `org`, or why not.
    pub fn open(self: &Arc<Self>, user: UserId, org: OrgId) -> Result<StreamSlot, Refused> {
        self.caps.take(user)?;
        let streams = [org.stream_name(), user.stream_name()];
        let mut topics = self.lock_topics();
        let [organization, identity] = streams.clone().map(|stream| {
            let topic = topics.by_stream.entry(stream).or_insert_with(|| Topic {
                bumps: watch::Sender::new(0),
                listeners: 0,
            });
            topic.listeners += 1;
            topic.bumps.subscribe()
        });
        if !topics.following {
            topics.following = true;
            tokio::spawn(self.clone().follow());
        }
        Ok(StreamSlot {
            live: self.clone(),
            user,
            streams,
            organization,
            identity,
        })
    }

    /// Tells this person's streams that sessions of theirs ended.
    pub fn sessions_ended(&self, user: UserId) {
        self.bump(&self.lock_topics(), &user.stream_name());
    }

    fn bump(&self, topics: &Topics, stream: &str) {
        if let Some(topic) = topics.by_stream.get(stream) {
            topic.bumps.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Follows the log from its head, waking the streams that listen to what
    /// each batch touched, until no stream listens.
    async fn follow(self: Arc<Self>) {
        let mut from = self.store.head().await.unwrap_or(Position(0));
        loop {
            let mut log =
                Subscription::new(self.store.clone(), from, SubscriptionOptions::default());
            loop {
                // Waiting for the next write is cut every RECHECK, so the follower
                // also stops when the log is quiet and the last stream has closed.
                let batch = match tokio::time::timeout(RECHECK, log.next_batch(500)).await {
                    Err(_quiet) => {
                        let mut topics = self.lock_topics();
                        if topics.by_stream.is_empty() {
                            topics.following = false;
                            return;
                        }
                        continue;
                    }
                    Ok(Ok(batch)) => batch,
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "the event streams' follower could not read the log; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        from = log.position();
                        break;
                    }
                };
                let mut topics = self.lock_topics();
                if topics.by_stream.is_empty() {
                    topics.following = false;
                    return;
                }
                let mut touched: Vec<&str> = batch.iter().map(|e| e.stream_id.as_str()).collect();
                touched.sort_unstable();
                touched.dedup();
                for stream in touched {
                    self.bump(&topics, stream);
                }
                drop(topics);
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
