//! An owner withdraws an invitation; its link stops working.

use roster_domain::organization::OrgCommand;
use roster_domain::InvitationId;

use super::{run_for, Recorded};
use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::UseCaseError;

/// Cancels a pending or expired invitation.
pub async fn cancel_invite(
    app: &Application,
    owner: &OwnerOf,
    invitation_id: InvitationId,
) -> Result<Recorded, UseCaseError> {
    let outcome = run_for(app, owner, OrgCommand::CancelInvite { invitation_id }).await?;
    Ok(Recorded::from(&outcome))
}
