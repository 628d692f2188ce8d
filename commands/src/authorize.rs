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
    let found = app
        .orgs
        .inspect(org, |state| {
            state.and_then(|o| o.members.get(&user).map(|m| (m.role.is_owner(), o.shape)))
        })
        .await?;
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
