//! The command handler: decide on cached state, append with the expected version,
//! and on a lost race catch up and decide again, a bounded number of times.

use std::sync::Arc;

use chrono::Duration;
use roster_domain::organization::Context;
use roster_domain::{decode, encode, DecodeError, EncodeError};
use roster_eventstore::{
    Appended, EventStore, ExpectedVersion, Metadata, NewEvent, Position, StoreError, StreamId,
};
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::cache::{Slot, StateCache};
use roster_eventstore::Clock;

/// Tuning of a [`Handler`].
#[derive(Debug, Clone, Copy)]
pub struct HandlerConfig {
    /// How long an invitation stays valid after each send.
    pub invite_ttl: Duration,
    /// How many times a lost optimistic-concurrency race is retried.
    pub max_retries: usize,
    /// How many aggregate states to keep in memory.
    pub cache_capacity: usize,
    /// Events read per round trip when catching up.
    pub read_batch: usize,
}

impl Default for HandlerConfig {
    fn default() -> Self {
        Self {
            invite_ttl: Duration::minutes(Context::DEFAULT_INVITE_TTL_MINUTES),
            max_retries: 5,
            cache_capacity: 10_000,
            read_batch: 2_000,
        }
    }
}

/// What a successful command did.
#[derive(Debug, Clone)]
pub struct Outcome<E> {
    /// The events recorded; empty when the command changed nothing.
    pub events: Vec<E>,
    /// Where they were written; `None` when nothing was.
    pub appended: Option<Appended>,
    /// The aggregate's stream version afterwards.
    pub version: u64,
}

impl<E> Outcome<E> {
    /// The global position a reader must pass to see this command's effect
    /// (`None` when nothing was written).
    pub fn position(&self) -> Option<Position> {
        self.appended.as_ref().map(Appended::last_position)
    }
}

/// Why a command did not complete. Business refusals and infrastructure failures
/// stay apart so callers map them to different answers.
#[derive(Debug, thiserror::Error)]
pub enum HandleError<E: std::error::Error> {
    /// A domain rule refused the command; nothing was recorded.
    #[error(transparent)]
    Rejected(E),
    /// Other writers kept winning the race; nothing was recorded.
    #[error("the {stream} stream kept changing; gave up after {attempts} attempts")]
    Conflict {
        /// The contested stream.
        stream: StreamId,
        /// How many tries were made.
        attempts: usize,
    },
    /// A stored event could not be read back.
    #[error("stored event {position} of {stream} is unreadable: {source}")]
    Decode {
        /// The stream.
        stream: StreamId,
        /// Its position.
        position: Position,
        /// What failed.
        source: DecodeError,
    },
    /// A decided event could not be encoded; nothing was recorded.
    #[error(transparent)]
    Encode(EncodeError),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// Runs commands of one aggregate type.
pub struct Handler<A: Aggregate> {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    config: HandlerConfig,
    cache: Arc<StateCache<A::Id, A::State>>,
}

impl<A: Aggregate> Handler<A> {
    /// A handler over `store`, reading time from `clock`.
    pub fn new(store: Arc<dyn EventStore>, clock: Arc<dyn Clock>, config: HandlerConfig) -> Self {
        Self {
            store,
            clock,
            config,
            cache: Arc::new(StateCache::new(config.cache_capacity)),
        }
    }

    /// Decides `command` for instance `id` and records the outcome.
    pub async fn execute(
        &self,
        id: A::Id,
        command: &A::Command,
        metadata: &Metadata,
    ) -> Result<Outcome<A::Event>, HandleError<A::Error>> {
        self.record(id, metadata, |state, ctx| {
            Ok(A::decide(state, command, ctx)?
                .into_iter()
                .map(|e| (e, None))
                .collect())
        })
        .await
    }

    /// Decides `commands` for instance `id` one after another, each on the state
    /// the previous ones leave, and records all their events in one append: a
    /// worker with many commands for one instance (expiring its due invitations)
    /// pays one round trip and one commit instead of one each. A command the
    /// rules refuse is skipped; the others stand. `Outcome::events` holds what
    /// was recorded, in command order.
    pub async fn execute_all(
        &self,
        id: A::Id,
        commands: &[A::Command],
        metadata: &Metadata,
    ) -> Result<Outcome<A::Event>, HandleError<A::Error>>
    where
        A::State: Clone,
    {
        let each: Vec<(&A::Command, Option<&Metadata>)> =
            commands.iter().map(|c| (c, None)).collect();
        Ok(self.execute_each(id, &each, metadata).await?.0)
    }

    /// Like [`Handler::execute_all`], each command with metadata of its own
    /// (`None`: the append's `metadata`): a worker recording what became of many
    /// causes (the emails of a batch) writes one append per instance and every
    /// event still names its own cause. Also answers the commands the rules
    /// refused, by their index, so the caller can say so.
    pub async fn execute_each(
        &self,
        id: A::Id,
        commands: &[(&A::Command, Option<&Metadata>)],
        metadata: &Metadata,
    ) -> Result<(Outcome<A::Event>, Vec<(usize, A::Error)>), HandleError<A::Error>>
    where
        A::State: Clone,
    {
        // Refusals of the attempt that was recorded (an attempt after a lost
        // race decides again from scratch).
        let refused = std::sync::Mutex::new(Vec::new());
        let outcome = self
            .record(id, metadata, |state, ctx| {
                let mut refusals = refused.lock().unwrap_or_else(|p| p.into_inner());
                refusals.clear();
                let mut state = state.cloned();
                let mut events = Vec::new();
                for (k, (command, own)) in commands.iter().enumerate() {
                    match A::decide(state.as_ref(), command, ctx) {
                        Ok(decided) => {
                            for event in decided {
                                state = A::evolve(state.take(), &event);
                                events.push((event, own.cloned()));
                            }
                        }
                        Err(refusal) => refusals.push((k, refusal)),
                    }
                }
                Ok(events)
            })
            .await?;
        let refused = refused.into_inner().unwrap_or_else(|p| p.into_inner());
        Ok((outcome, refused))
    }

    /// Decides with `decide` on the cached state and appends with the expected
    /// version; on a lost race catches up and decides again.
    async fn record(
        &self,
        id: A::Id,
        metadata: &Metadata,
        decide: impl Fn(
            Option<&A::State>,
            &Context,
        ) -> Result<Vec<(A::Event, Option<Metadata>)>, A::Error>,
    ) -> Result<Outcome<A::Event>, HandleError<A::Error>> {
        let stream = A::stream(id);
        let mut slot = self.cache.lock(id).await;
        if !slot.loaded {
            self.catch_up(&stream, &mut slot).await?;
        }
        let attempts = self.config.max_retries + 1;
        for _ in 0..attempts {
            let ctx = Context {
                now: self.clock.now(),
                invite_ttl: self.config.invite_ttl,
            };
            let decided = decide(slot.state.as_ref(), &ctx);
            // A refusal or a no-op writes nothing, so no conflict would reveal a stale
            // cache: check for newer events (another instance's) and decide again if any.
            if decided.as_ref().map_or(true, Vec::is_empty) {
                let seen = slot.version;
                self.catch_up(&stream, &mut slot).await?;
                if slot.version != seen {
                    continue;
                }
            }
            let events = match decided {
                Ok(events) => events,
                Err(refusal) => {
                    // Nothing exists under this id: keep no slot for it, so asking
                    // for random ids cannot push real instances out of the cache.
                    self.forget_if_absent(id, slot);
                    return Err(HandleError::Rejected(refusal));
                }
            };
            if events.is_empty() {
                return Ok(Outcome {
                    events: Vec::new(),
                    appended: None,
                    version: slot.version,
                });
            }
            let expected = match slot.version {
                0 => ExpectedVersion::NoStream,
                v => ExpectedVersion::Exact(v),
            };
            let batch = events
                .iter()
                .map(|(event, own)| to_new_event(event, own.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(HandleError::Encode)?;
            let events: Vec<A::Event> = events.into_iter().map(|(event, _)| event).collect();
            match self.append(id, &stream, expected, batch, metadata).await {
                Ok(appended) => {
                    for event in &events {
                        slot.state = A::evolve(slot.state.take(), event);
                    }
                    slot.version = appended.last_version();
                    return Ok(Outcome {
                        events,
                        appended: Some(appended),
                        version: slot.version,
                    });
                }
                Err(StoreError::Conflict { .. }) => {
                    tracing::debug!(%stream, "lost a race; catching up and deciding again");
                    self.catch_up(&stream, &mut slot).await?;
                }
                Err(err) => {
                    // The append may or may not have committed: reload next time.
                    drop(slot);
                    self.cache.forget(&id);
                    return Err(HandleError::Store(err));
                }
            }
        }
        Err(HandleError::Conflict { stream, attempts })
    }

    /// Appends, leaving the transaction open for the current unit of work when
    /// there is one (see [`crate::unit_of_work`]). If that transaction never
    /// commits, the cached state of `id` (which already includes the events) is
    /// forgotten, so the next command reloads it from the log.
    async fn append(
        &self,
        id: A::Id,
        stream: &StreamId,
        expected: ExpectedVersion,
        batch: Vec<NewEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        use crate::unit_of_work::{self as unit, Next};
        let (appended, mut open) = match unit::next() {
            Next::Alone => return self.store.append(stream, expected, batch, metadata).await,
            Next::Open => {
                self.store
                    .append_uncommitted(stream, expected, batch, metadata)
                    .await?
            }
            Next::Join(mut open) => {
                let appended = self
                    .store
                    .append_more(&mut open, stream, expected, batch, metadata)
                    .await;
                // Back in the unit whatever happened: the layer decides its fate.
                match appended {
                    Ok(appended) => (appended, open),
                    Err(e) => {
                        drop(unit::put_back(open));
                        return Err(e);
                    }
                }
            }
        };
        let cache = self.cache.clone();
        open.on_abort(move || cache.forget(&id));
        if let Some(open) = unit::park(open) {
            open.commit().await?;
        }
        Ok(appended)
    }

    /// The current state of `id` (caught up with the log), for callers that must
    /// read before they command, e.g. to find an invitation by id.
    pub async fn load(&self, id: A::Id) -> Result<(u64, Option<A::State>), HandleError<A::Error>>
    where
        A::State: Clone,
    {
        let stream = A::stream(id);
        let mut slot = self.cache.lock(id).await;
        self.catch_up(&stream, &mut slot).await?;
        let found = (slot.version, slot.state.clone());
        self.forget_if_absent(id, slot);
        Ok(found)
    }

    /// Runs `look` on the current state of `id` (caught up with the log) without
    /// copying it: authorization and link previews read a few fields of a state
    /// that may hold thousands of members.
    pub async fn inspect<R>(
        &self,
        id: A::Id,
        look: impl FnOnce(Option<&A::State>) -> R,
    ) -> Result<R, HandleError<A::Error>> {
        self.look_at(id, true, look).await
    }

    /// Like [`Handler::inspect`], on the cached state without first reading the
    /// stream for newer events (only a state never loaded is read). For callers
    /// whose decision is checked again where it counts: a command's own
    /// `decide` runs on the state it appends after, and the append's expected
    /// version catches a cache another instance made stale.
    pub async fn inspect_cached<R>(
        &self,
        id: A::Id,
        look: impl FnOnce(Option<&A::State>) -> R,
    ) -> Result<R, HandleError<A::Error>> {
        self.look_at(id, false, look).await
    }

    /// Runs `look` on the state of `id`, read up to the log's head first when
    /// `fresh` (else only when it was never loaded).
    async fn look_at<R>(
        &self,
        id: A::Id,
        fresh: bool,
        look: impl FnOnce(Option<&A::State>) -> R,
    ) -> Result<R, HandleError<A::Error>> {
        let stream = A::stream(id);
        let mut slot = self.cache.lock(id).await;
        if fresh || !slot.loaded {
            self.catch_up(&stream, &mut slot).await?;
        }
        let seen = look(slot.state.as_ref());
        self.forget_if_absent(id, slot);
        Ok(seen)
    }

    /// How many instances' states are cached.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Keeps no slot for an id under which nothing exists (see [`Handler::execute`]).
    fn forget_if_absent(&self, id: A::Id, slot: tokio::sync::OwnedMutexGuard<Slot<A::State>>) {
        if slot.version == 0 {
            drop(slot);
            self.cache.forget(&id);
        }
    }

    /// Reads and folds every event newer than the slot's version.
    async fn catch_up(
        &self,
        stream: &StreamId,
        slot: &mut Slot<A::State>,
    ) -> Result<(), HandleError<A::Error>> {
        loop {
            let recorded = self
                .store
                .read_stream(stream, slot.version + 1, self.config.read_batch)
                .await
                .map_err(HandleError::Store)?;
            let n = recorded.len();
            for r in recorded {
                let event: A::Event =
                    decode(&r.event_type, r.schema_version, &r.payload).map_err(|source| {
                        HandleError::Decode {
                            stream: stream.clone(),
                            position: r.global_position,
                            source,
                        }
                    })?;
                slot.state = A::evolve(slot.state.take(), &event);
                slot.version = r.stream_version;
            }
            if n < self.config.read_batch {
                slot.loaded = true;
                return Ok(());
            }
        }
    }
}

fn to_new_event<E: roster_domain::DomainEvent>(
    event: &E,
    metadata: Option<Metadata>,
) -> Result<NewEvent, EncodeError> {
    let (event_type, schema_version, payload) = encode(event)?;
    Ok(NewEvent {
        event_id: Uuid::now_v7(),
        event_type: event_type.to_owned(),
        schema_version,
        payload,
        metadata,
    })
}
