//! How the handler sees an aggregate: its stream, its decide and evolve.

use std::hash::Hash;

use roster_domain::organization::{self, Context, DomainError, Envelope, OrgEvent, Organization};
use roster_domain::user::{self, User, UserCommand, UserError, UserEvent};
use roster_domain::{DomainEvent, OrgId, UserId};
use roster_eventstore::StreamId;

/// An event-sourced aggregate the [`crate::Handler`] can run.
pub trait Aggregate: Send + Sync + 'static {
    /// Identifies one instance (one stream).
    type Id: Copy + Eq + Hash + Send + Sync + std::fmt::Display + 'static;
    /// Folded state.
    type State: Send + Sync + 'static;
    /// What callers ask.
    type Command: Send + Sync;
    /// What gets recorded.
    type Event: DomainEvent + Send + Sync + 'static;
    /// A refusal.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The stream holding the instance's events.
    fn stream(id: Self::Id) -> StreamId;
    /// The domain's decision.
    fn decide(
        state: Option<&Self::State>,
        command: &Self::Command,
        ctx: &Context,
    ) -> Result<Vec<Self::Event>, Self::Error>;
    /// The domain's fold.
    fn evolve(state: Option<Self::State>, event: &Self::Event) -> Option<Self::State>;
}

fn stream_of(name: String) -> StreamId {
    // Ids print as `<prefix>-<uuid>`: always a valid stream name.
    StreamId::new(name).unwrap_or_else(|e| unreachable!("generated stream name is valid: {e}"))
}

/// The organization aggregate.
pub struct OrgAggregate;

impl Aggregate for OrgAggregate {
    type Id = OrgId;
    type State = Organization;
    type Command = Envelope;
    type Event = OrgEvent;
    type Error = DomainError;

    fn stream(id: OrgId) -> StreamId {
        stream_of(id.stream_name())
    }

    fn decide(
        state: Option<&Organization>,
        command: &Envelope,
        ctx: &Context,
    ) -> Result<Vec<OrgEvent>, DomainError> {
        organization::decide(state, command, ctx)
    }

    fn evolve(state: Option<Organization>, event: &OrgEvent) -> Option<Organization> {
        organization::evolve(state, event)
    }
}

/// The user identity aggregate.
pub struct UserAggregate;

impl Aggregate for UserAggregate {
    type Id = UserId;
    type State = User;
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;

    fn stream(id: UserId) -> StreamId {
        stream_of(id.stream_name())
    }

    fn decide(
        state: Option<&User>,
        command: &UserCommand,
        ctx: &Context,
    ) -> Result<Vec<UserEvent>, UserError> {
        user::decide(state, command, ctx.now)
    }

    fn evolve(state: Option<User>, event: &UserEvent) -> Option<User> {
        user::evolve(state, event)
    }
}
