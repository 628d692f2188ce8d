//! A member leaves an organization on their own; the last owner cannot.

use roster_domain::organization::OrgCommand;
use roster_domain::{OrgId, UserId};

use super::{run_as, Recorded};
use crate::application::Application;
use crate::error::UseCaseError;

/// `member` leaves `org`. A non-member learns nothing about the organization.
pub async fn leave_organization(
    app: &Application,
    member: UserId,
    org: OrgId,
) -> Result<Recorded, UseCaseError> {
    let is_member = app
        .orgs
        .inspect(org, |o| o.is_some_and(|o| o.members.contains_key(&member)))
        .await?;
    if !is_member {
        return Err(UseCaseError::OrganizationNotFound);
    }
    let outcome = run_as(
        app,
        Some(member),
        org,
        OrgCommand::LeaveOrganization { user_id: member },
    )
    .await?;
    Ok(Recorded::from(&outcome))
}
