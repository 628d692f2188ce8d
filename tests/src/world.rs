//! A world below the HTTP edge: a fresh database of either backend, a manual
//! clock, the command handler and a token key, for tests of projections, workers
//! and the handler that drive commands directly.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use roster_commands::tokens::TokenKey;
use roster_commands::{HandleError, Handler, HandlerConfig, ManualClock, OrgAggregate, Outcome};
use roster_domain::organization::{Actor, DomainError, Envelope, OrgCommand, OrgEvent};
use roster_domain::OrgId;
use roster_eventstore::{EventStore, Metadata};
use roster_storage::Db;

use crate::{store_and_read_db, Backend};

/// The shared parts of a command-level test world.
pub struct Harness {
    /// The log, stamping times from `clock`.
    pub store: Arc<dyn EventStore>,
    /// The read models beside it.
    pub db: Db,
    /// The time; tests move it.
    pub clock: ManualClock,
    /// Runs organization commands.
    pub orgs: Arc<Handler<OrgAggregate>>,
    /// Derives invitation tokens.
    pub key: TokenKey,
}

impl Harness {
    /// A fresh database of `backend` with the clock at `start`.
    pub async fn new(backend: Backend, start: DateTime<Utc>) -> Self {
        let clock = ManualClock::new(start);
        let (store, db) = store_and_read_db(backend, Arc::new(clock.clone()))
            .await
            .expect("a fresh database");
        let orgs = Arc::new(Handler::new(
            store.clone(),
            Arc::new(clock.clone()),
            HandlerConfig::default(),
        ));
        Self {
            store,
            db,
            clock,
            orgs,
            key: TokenKey::generate().expect("key"),
        }
    }

    /// Runs `command` on `org` as `actor`.
    pub async fn execute(
        &self,
        org: OrgId,
        actor: Actor,
        command: OrgCommand,
    ) -> Result<Outcome<OrgEvent>, HandleError<DomainError>> {
        self.orgs
            .execute(org, &Envelope { actor, command }, &Metadata::default())
            .await
    }

    /// A handler of its own over the same log, as another server instance has.
    pub fn another_instance(&self) -> Arc<Handler<OrgAggregate>> {
        Arc::new(Handler::new(
            self.store.clone(),
            Arc::new(self.clock.clone()),
            HandlerConfig::default(),
        ))
    }
}
