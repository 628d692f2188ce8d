//! Who may manage an organization, decided from the organization's own state
//! (never from a read model that may lag behind a demotion or a removal).

use roster_domain::organization::Actor;
use roster_domain::{ApiKeyId, DomainError, OrgId, OrgShape, Scope, UserId};

use crate::application::Application;
use crate::error::UseCaseError;

/// Proof that a person owned an organization when the request was authorized,
/// or that a working API key of it allowed the request. Only this module makes
/// one ([`owner_of`], [`owner_for_command`], [`key_acts_for`]), so an owner-only
/// use case cannot be reached without the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerOf {
    actor: Actor,
    org_id: OrgId,
    shape: OrgShape,
    source: Option<roster_eventstore::Source>,
}

impl OwnerOf {
    /// Who acts: the owner, or the key.
    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// The interface the request came through, when it is not the
    /// application's own (a directory's key: SCIM).
    pub fn source(&self) -> Option<roster_eventstore::Source> {
        self.source
    }

    /// The owner, when a person (not a key) acts.
    pub fn person(&self) -> Option<UserId> {
        match self.actor {
            Actor::User(u) => Some(u),
            _ => None,
        }
    }

    /// The organization.
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    /// Its shape (which role descriptions fit).
    pub fn shape(&self) -> OrgShape {
        self.shape
    }
}

/// Checks that `user` owns `org`: a non-member (or an organization that does not
/// exist) is [`UseCaseError::OrganizationNotFound`], so existence does not leak; a
/// member who is not an owner is refused with [`DomainError::NotAnOwner`].
pub async fn owner_of(
    app: &Application,
    user: UserId,
    org: OrgId,
) -> Result<OwnerOf, UseCaseError> {
    let found = app.orgs.inspect(org, |state| owner_in(state, user)).await?;
    owner_from(found, user, org)
}

/// [`owner_of`] for a request that changes the organization, on the cached state
/// (no read of the log when the cache holds the organization): every owner
/// command's `decide` checks the actor is an owner again, on the state its
/// append is made after, and a cache another instance made stale fails that
/// append and is read again. So a command costs no read before its append.
/// Only an owner is answered from the cache; a refusal is checked on the log.
pub async fn owner_for_command(
    app: &Application,
    user: UserId,
    org: OrgId,
) -> Result<OwnerOf, UseCaseError> {
    let found = app
        .orgs
        .inspect_cached(org, |state| owner_in(state, user))
        .await?;
    match found {
        Some((true, _)) => owner_from(found, user, org),
        // A refusal is never given on a cache that may be stale: the person
        // may have become an owner on another instance a moment ago.
        _ => owner_of(app, user, org).await,
    }
}

/// Whether `user` owns the organization in `state`, and its shape.
fn owner_in(
    state: Option<&roster_domain::organization::Organization>,
    user: UserId,
) -> Option<(bool, roster_domain::OrgShape)> {
    state.and_then(|o| o.members.get(&user).map(|m| (m.owns(), o.shape)))
}

fn owner_from(
    found: Option<(bool, roster_domain::OrgShape)>,
    user: UserId,
    org: OrgId,
) -> Result<OwnerOf, UseCaseError> {
    match found {
        Some((true, shape)) => Ok(OwnerOf {
            actor: Actor::User(user),
            org_id: org,
            shape,
            source: None,
        }),
        Some((false, _)) => Err(DomainError::NotAnOwner.into()),
        None => Err(UseCaseError::OrganizationNotFound),
    }
}

/// Checks that key `key_id` of `org` works now, matches `secret_digest`, and
/// allows `scope`, on the organization's own state (read from the log, so a key
/// revoked on another instance a moment ago is refused here too). A key of
/// another organization, an unknown key or a wrong secret are all
/// [`UseCaseError::Unauthenticated`], so nothing about keys leaks.
pub async fn key_acts_for(
    app: &Application,
    org: OrgId,
    key_id: ApiKeyId,
    secret_digest: &roster_domain::TokenDigest,
    scope: Scope,
) -> Result<OwnerOf, UseCaseError> {
    let now = app.clock.now();
    let found = app
        .orgs
        .inspect(org, |state| {
            let state = state?;
            let key = state.api_keys.get(&key_id)?;
            let genuine = key.secret_digest.matches(secret_digest) && key.works_at(now);
            Some((genuine, key.scopes.contains(&scope), state.shape))
        })
        .await?;
    match found {
        Some((true, true, shape)) => Ok(OwnerOf {
            actor: Actor::ApiKey(key_id),
            org_id: org,
            shape,
            source: (scope == Scope::Scim).then_some(roster_eventstore::Source::Scim),
        }),
        Some((true, false, _)) => Err(UseCaseError::KeyScope { needed: scope }),
        _ => Err(UseCaseError::Unauthenticated),
    }
}
