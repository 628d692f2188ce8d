//! The application: everything a use case needs, built once at start-up and shared
//! by the HTTP edge, the CLI and the tests. Cheap to clone (all shared handles).

use std::sync::Arc;

use chrono::Duration;
use roster_domain::UserId;
use roster_eventstore::{Clock, EventStore, Metadata, Source};
use roster_storage::Db;
use uuid::Uuid;

use crate::identity::passwords::PasswordHashing;
use crate::identity::throttle::SignInThrottle;
use crate::sending_limits::SendingLimits;
use crate::tokens::TokenKey;
use crate::{Handler, HandlerConfig, OrgAggregate, UserAggregate};

/// Shared handles every use case runs against.
#[derive(Clone)]
pub struct Application {
    /// The event log (PostgreSQL or SQLite).
    pub store: Arc<dyn EventStore>,
    /// The read models and identity tables, in the same database.
    pub read: Db,
    /// Runs organization commands.
    pub orgs: Arc<Handler<OrgAggregate>>,
    /// Runs identity commands.
    pub users: Arc<Handler<UserAggregate>>,
    /// Derives invitation tokens.
    pub key: TokenKey,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// How long a session lives after its last use.
    pub session_ttl: Duration,
    /// How long a session lives after sign-in at the most.
    pub session_max_age: Duration,
    /// Failed sign-in counters.
    pub throttle: Arc<SignInThrottle>,
    /// Bounded password hashing.
    pub hashing: Arc<PasswordHashing>,
    /// Limits on invitation emails.
    pub sending: Arc<SendingLimits>,
    /// Where commands come from, recorded in each event's metadata.
    pub source: Source,
    /// Places for requests waiting for the read models to catch up (`?after=`,
    /// a link not yet projected): each waiter polls, so their number is bounded.
    pub waits: Arc<tokio::sync::Semaphore>,
    /// When each API key was last used (as this instance saw it).
    pub key_usage: Arc<crate::use_cases::api_keys::KeyUsage>,
    /// Organizations' OpenID Connect providers (an HTTP client and their
    /// discovery documents).
    pub providers: Arc<crate::sso::provider::Providers>,
}

/// Requests that may wait for the read models at once; past it a query answers
/// at once (marked stale) instead of waiting.
pub const MAX_WAITING: usize = 64;

impl Application {
    /// An application over `store` and `read`, with handlers sharing `clock`.
    pub fn new(
        store: Arc<dyn EventStore>,
        read: Db,
        key: TokenKey,
        clock: Arc<dyn Clock>,
        source: Source,
    ) -> Self {
        let config = HandlerConfig::default();
        Self {
            orgs: Arc::new(Handler::new(store.clone(), clock.clone(), config)),
            users: Arc::new(Handler::new(store.clone(), clock.clone(), config)),
            store,
            read,
            key,
            clock,
            session_ttl: Duration::hours(12),
            session_max_age: Duration::days(7),
            throttle: Arc::default(),
            hashing: Arc::default(),
            sending: Arc::default(),
            source,
            waits: Arc::new(tokio::sync::Semaphore::new(MAX_WAITING)),
            key_usage: Arc::default(),
            providers: Arc::new(crate::sso::provider::Providers::new(false)),
        }
    }

    /// Waits up to `timeout` for every read model to pass `position`; false when
    /// they did not, or when [`MAX_WAITING`] requests wait already (no wait then).
    pub async fn wait_for_read_models(
        &self,
        position: roster_eventstore::Position,
        timeout: std::time::Duration,
    ) -> Result<bool, crate::error::UseCaseError> {
        let Ok(_place) = self.waits.try_acquire() else {
            return Ok(false);
        };
        Ok(roster_projections::queries::wait_for(&self.read, position, timeout).await?)
    }

    /// The same application with invitations lasting `ttl` after each send. Each
    /// invitation records its own deadline, so instances with different settings
    /// never disagree about an invitation already sent.
    pub fn with_invite_ttl(mut self, ttl: Duration) -> Self {
        let config = HandlerConfig {
            invite_ttl: ttl,
            ..HandlerConfig::default()
        };
        self.orgs = Arc::new(Handler::new(self.store.clone(), self.clock.clone(), config));
        self
    }

    /// The metadata of what `owner` asks: who acts ([`Application::metadata_of`])
    /// and through which interface (SCIM for a directory's key).
    pub fn metadata_for(&self, owner: &crate::authorize::OwnerOf) -> Metadata {
        let mut metadata = self.metadata_of(owner.actor());
        if let Some(source) = owner.source() {
            metadata.source = source;
        }
        metadata
    }

    /// The metadata of a command `actor` causes: a person by id, a key as
    /// `api-key:<id>`, the system as [`Application::metadata`] names it.
    pub fn metadata_of(&self, actor: roster_domain::organization::Actor) -> Metadata {
        use roster_domain::organization::Actor;
        match actor {
            Actor::User(u) => self.metadata(Some(u)),
            Actor::System => self.metadata(None),
            Actor::ApiKey(k) => Metadata {
                actor: Some(format!("api-key:{k}")),
                ..self.metadata(None)
            },
        }
    }

    /// The metadata of a command `actor` causes (`None`: the operator or the
    /// system). Within a request (see [`crate::correlation`]) every command shares
    /// the request's id and correlation id; elsewhere each gets its own.
    pub fn metadata(&self, actor: Option<UserId>) -> Metadata {
        let default_actor = match self.source {
            Source::Cli => "cli",
            Source::Worker => "worker",
            Source::Api => "anonymous",
            Source::Scim => "scim",
        };
        let request = crate::correlation::current();
        Metadata {
            actor: Some(actor.map_or_else(|| default_actor.to_owned(), |u| u.to_string())),
            correlation_id: Some(
                request
                    .as_ref()
                    .map_or_else(Uuid::now_v7, |r| r.correlation_id),
            ),
            request_id: request.map(|r| r.request_id),
            source: self.source,
            ..Metadata::default()
        }
    }
}
