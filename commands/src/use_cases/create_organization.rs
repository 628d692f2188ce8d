//! The operator founds an organization (with its accounts) and invites its first
//! owner, before anyone can sign in to do it through the API.

use chrono::{DateTime, Utc};
use roster_domain::organization::OrgCommand;
use roster_domain::{
    AccountId, DisplayName, Email, InvitationId, OrgId, OrgShape, PersonName, Role, SendId,
};
use uuid::Uuid;

use super::{invitation_deadline, run_as};
use crate::application::Application;
use crate::error::UseCaseError;
use crate::tokens::InvitationToken;

/// The organization to found and its first owner.
#[derive(Debug, Clone)]
pub struct CreateOrganization {
    /// Its name.
    pub name: DisplayName,
    /// Single- or multi-account.
    pub shape: OrgShape,
    /// Accounts to start with (multi-account only).
    pub accounts: Vec<DisplayName>,
    /// The first owner's address.
    pub owner_email: Email,
    /// The first owner's name.
    pub owner_name: PersonName,
}

/// What was created.
#[derive(Debug, Clone)]
pub struct Created {
    /// The new organization.
    pub org_id: OrgId,
    /// The owner's invitation.
    pub invitation_id: InvitationId,
    /// The owner's link token (shown to the operator once).
    pub token: InvitationToken,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// Creates the organization and invites its first owner, as the system.
pub async fn create_organization(
    app: &Application,
    input: CreateOrganization,
) -> Result<Created, UseCaseError> {
    let org_id = OrgId::from_uuid(Uuid::now_v7());
    let accounts = input
        .accounts
        .into_iter()
        .map(|name| (AccountId::from_uuid(Uuid::now_v7()), name))
        .collect();
    run_as(
        app,
        None,
        org_id,
        OrgCommand::CreateOrganization {
            org_id,
            name: input.name,
            shape: input.shape,
            accounts,
        },
    )
    .await?;
    let invitation_id = InvitationId::from_uuid(Uuid::now_v7());
    let send_id = SendId::from_uuid(Uuid::now_v7());
    let token = app.key.invitation_token(invitation_id, send_id);
    let invited = run_as(
        app,
        None,
        org_id,
        OrgCommand::InviteUser {
            invitation_id,
            send_id,
            email: input.owner_email,
            full_name: input.owner_name,
            role: Role::owner_of(input.shape),
            token_digest: token.digest(),
        },
    )
    .await?;
    let expires_at = invitation_deadline(&invited)?;
    Ok(Created {
        org_id,
        invitation_id,
        token,
        expires_at,
    })
}
