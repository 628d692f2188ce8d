//! The operator puts an organization back in someone's hands: when its only
//! owner invitation expired, or every owner lost access, nobody can invite
//! anyone. The operator invites a new owner, recorded as the system acting from
//! the command line.

use chrono::{DateTime, Utc};
use roster_domain::organization::OrgCommand;
use roster_domain::{Email, InvitationId, OrgId, PersonName, Role, SendId};
use uuid::Uuid;

use super::{invitation_deadline, run_as};
use crate::application::Application;
use crate::error::UseCaseError;
use crate::tokens::InvitationToken;

/// The owner invitation made.
#[derive(Debug, Clone)]
pub struct OwnerInvited {
    /// Its id.
    pub invitation_id: InvitationId,
    /// The link token (shown to the operator once; the email carries it too).
    pub token: InvitationToken,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// Invites `email` as an owner of `org`, as the operator.
pub async fn invite_owner(
    app: &Application,
    org: OrgId,
    email: Email,
    full_name: PersonName,
) -> Result<OwnerInvited, UseCaseError> {
    let shape = app
        .orgs
        .inspect(org, |o| o.map(|o| o.shape))
        .await?
        .ok_or(UseCaseError::OrganizationNotFound)?;
    let invitation_id = InvitationId::from_uuid(Uuid::now_v7());
    let send_id = SendId::from_uuid(Uuid::now_v7());
    let token = app.key.invitation_token(invitation_id, send_id);
    let outcome = run_as(
        app,
        None,
        org,
        OrgCommand::InviteUser {
            invitation_id,
            send_id,
            email,
            full_name,
            role: Role::owner_of(shape),
            token_digest: token.digest(),
        },
    )
    .await?;
    Ok(OwnerInvited {
        invitation_id,
        token,
        expires_at: invitation_deadline(&outcome)?,
    })
}
