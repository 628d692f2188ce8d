//! An owner removes a member; the last owner cannot be removed.

use roster_domain::organization::OrgCommand;
use roster_domain::UserId;

use super::{run_for, Recorded};
use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::UseCaseError;

/// Removes `member` from the owner's organization.
pub async fn remove_member(
    app: &Application,
    owner: &OwnerOf,
    member: UserId,
) -> Result<Recorded, UseCaseError> {
    let outcome = run_for(app, owner, OrgCommand::RemoveUser { user_id: member }).await?;
    Ok(Recorded::from(&outcome))
}
