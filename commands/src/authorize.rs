//! Who may manage an organization, decided from the organization's own state
//! (never from a read model that may lag behind a demotion or a removal).

use roster_domain::{DomainError, OrgId, OrgShape, UserId};

use crate::application::Application;
use crate::error::UseCaseError;

/// Proof that a person owned an organization when the request was authorized.
/// Only [`owner_of`] makes one, so an owner-only use case cannot be reached
/// without the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerOf {
    user_id: UserId,
    org_id: OrgId,
    shape: OrgShape,
}

impl OwnerOf {
    /// The owner.
    pub fn user_id(&self) -> UserId {
        self.user_id
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
    state.and_then(|o| o.members.get(&user).map(|m| (m.role.is_owner(), o.shape)))
}

fn owner_from(
    found: Option<(bool, roster_domain::OrgShape)>,
    user: UserId,
    org: OrgId,
) -> Result<OwnerOf, UseCaseError> {
    match found {
        Some((true, shape)) => Ok(OwnerOf {
            user_id: user,
            org_id: org,
            shape,
        }),
        Some((false, _)) => Err(DomainError::NotAnOwner.into()),
        None => Err(UseCaseError::OrganizationNotFound),
    }
}
