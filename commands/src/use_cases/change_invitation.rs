//! An owner corrects the role an open invitation offers. The old email named the
//! old role, so a fresh link goes out and the old one stops working; that email
//! counts against the same per-address limits as any invitation, but not against
//! the resend cooldown: a correction is usually made seconds after the mistake.

use chrono::{DateTime, Utc};
use roster_domain::organization::OrgCommand;
use roster_domain::{InvitationId, Role};

use super::{new_send, resent_deadline, run_for, too_many, Recorded};
use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::UseCaseError;

/// What a correction did.
#[derive(Debug, Clone, Copy)]
pub struct InvitationChanged {
    /// False when the invitation already offered that role (nothing recorded, no email).
    pub changed: bool,
    /// When the new link stops working (when changed).
    pub expires_at: Option<DateTime<Utc>>,
    /// Where the log got to.
    pub recorded: Recorded,
}

/// Makes invitation `invitation_id` offer `role`.
pub async fn change_invitation(
    app: &Application,
    owner: &OwnerOf,
    invitation_id: InvitationId,
    role: Role,
) -> Result<InvitationChanged, UseCaseError> {
    let now = app.clock.now();
    let current = app
        .orgs
        .inspect(owner.org_id(), |org| {
            org.and_then(|o| o.invitations.get(&invitation_id))
                .map(|i| (i.role.clone(), i.status, i.email.key().to_owned()))
        })
        .await?;
    // Only a change that will send an email counts against the limits; an
    // unknown or closed invitation is refused by the command with its own rule.
    if let Some((offered, status, email_key)) = current {
        if offered != role && status.is_open() {
            app.sending
                .take(owner.org_id(), &email_key, now)
                .map_err(too_many)?;
        }
    }
    let (send_id, token_digest) = new_send(app, invitation_id);
    let outcome = run_for(
        app,
        owner,
        OrgCommand::ChangeInvitation {
            invitation_id,
            role,
            send_id,
            token_digest,
        },
    )
    .await?;
    let expires_at = resent_deadline(&outcome);
    Ok(InvitationChanged {
        changed: !outcome.events.is_empty(),
        expires_at,
        recorded: Recorded::from(&outcome),
    })
}
