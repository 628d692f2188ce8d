//! An owner resends an invitation: a new link (the old one stops working) and a
//! new deadline.

use chrono::{DateTime, Utc};
use roster_domain::organization::OrgCommand;
use roster_domain::{InvitationId, OrgEvent, SendId};
use uuid::Uuid;

use super::{run_as, Recorded};
use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::UseCaseError;

/// The resend made.
#[derive(Debug, Clone, Copy)]
pub struct Resent {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// When the new link stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Where the log got to.
    pub recorded: Recorded,
}

/// Resends a pending or expired invitation.
pub async fn resend_invite(
    app: &Application,
    owner: &OwnerOf,
    invitation_id: InvitationId,
) -> Result<Resent, UseCaseError> {
    let send_id = SendId::from_uuid(Uuid::now_v7());
    let token = app.key.invitation_token(invitation_id, send_id);
    let outcome = run_as(
        app,
        Some(owner.user_id()),
        owner.org_id(),
        OrgCommand::ResendInvite {
            invitation_id,
            send_id,
            token_digest: token.digest(),
        },
    )
    .await?;
    let expires_at = outcome.events.iter().find_map(|e| match e {
        OrgEvent::InvitationResent(r) => Some(r.expires_at),
        _ => None,
    });
    Ok(Resent {
        invitation_id,
        expires_at,
        recorded: Recorded::from(&outcome),
    })
}
