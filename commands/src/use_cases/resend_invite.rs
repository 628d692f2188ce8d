//! An owner resends an invitation: a new link (the old one stops working) and a
//! new deadline.

use chrono::{DateTime, Utc};
use roster_domain::organization::OrgCommand;
use roster_domain::InvitationId;

use super::{new_send, resent_deadline, run_for, too_many, Recorded};
use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::UseCaseError;
use crate::sending_limits::RESEND_COOLDOWN;

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
    let now = app.clock.now();
    let last = app
        .orgs
        .inspect(owner.org_id(), |org| {
            org.and_then(|o| o.invitations.get(&invitation_id))
                .map(|i| (i.sent_at, i.email.key().to_owned()))
        })
        .await?;
    // An unknown invitation is refused by the command itself, with its own rule.
    if let Some((sent_at, email_key)) = last {
        let ready_at = sent_at + RESEND_COOLDOWN;
        if now < ready_at {
            return Err(too_many(ready_at - now));
        }
        app.sending
            .claim_resend(invitation_id, now)
            .map_err(too_many)?;
        app.sending
            .take(owner.org_id(), &email_key, now)
            .map_err(too_many)?;
    }
    let (send_id, token_digest) = new_send(app, invitation_id);
    let outcome = run_for(
        app,
        owner,
        OrgCommand::ResendInvite {
            invitation_id,
            send_id,
            token_digest,
        },
    )
    .await?;
    let expires_at = resent_deadline(&outcome);
    Ok(Resent {
        invitation_id,
        expires_at,
        recorded: Recorded::from(&outcome),
    })
}
