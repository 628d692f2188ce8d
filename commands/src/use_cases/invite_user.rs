//! An owner invites a person by email with a role; the email worker sends the link.

use chrono::{DateTime, Utc};
use roster_domain::organization::OrgCommand;
use roster_domain::{Email, InvitationId, PersonName, Role, SendId};
use uuid::Uuid;

use super::{invitation_deadline, run_for, too_many, Recorded};
use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::UseCaseError;

/// Whom to invite, as what.
#[derive(Debug, Clone)]
pub struct InviteUser {
    /// Their address.
    pub email: Email,
    /// Their name.
    pub full_name: PersonName,
    /// The role offered (see [`RoleRequest::for_shape`](super::roles::RoleRequest::for_shape)).
    pub role: Role,
}

/// The invitation made.
#[derive(Debug, Clone)]
pub struct Invited {
    /// Its id (to resend or cancel it).
    pub invitation_id: InvitationId,
    /// Whom.
    pub email: Email,
    /// Their name.
    pub full_name: PersonName,
    /// As what.
    pub role: Role,
    /// When the emailed link stops working.
    pub expires_at: DateTime<Utc>,
    /// Where the log got to.
    pub recorded: Recorded,
}

/// Invites a person; refused if they are a member or invited already.
pub async fn invite_user(
    app: &Application,
    owner: &OwnerOf,
    input: InviteUser,
) -> Result<Invited, UseCaseError> {
    let role = input.role;
    app.sending
        .take(owner.org_id(), input.email.key(), app.clock.now())
        .map_err(too_many)?;
    let invitation_id = InvitationId::from_uuid(Uuid::now_v7());
    let send_id = SendId::from_uuid(Uuid::now_v7());
    let token = app.key.invitation_token(invitation_id, send_id);
    let outcome = run_for(
        app,
        owner,
        OrgCommand::InviteUser {
            invitation_id,
            send_id,
            email: input.email.clone(),
            full_name: input.full_name.clone(),
            role: role.clone(),
            token_digest: token.digest(),
        },
    )
    .await?;
    let expires_at = invitation_deadline(&outcome)?;
    Ok(Invited {
        invitation_id,
        email: input.email,
        full_name: input.full_name,
        role,
        expires_at,
        recorded: Recorded::from(&outcome),
    })
}
