//! Anyone holding an invitation link can look at what it offers; looking never
//! uses it up.

use std::time::Duration;

use chrono::{DateTime, Utc};
use roster_domain::organization::{Actor, Invitation, InvitationStatus};
use roster_domain::{
    AccountId, DomainError, Email, InvitationId, MultiRole, OrgId, OrgShape, PersonName, Role,
    TokenDigest,
};
use roster_projections::queries::{self, LinkTarget};

use crate::application::Application;
use crate::error::UseCaseError;
use crate::identity::credentials;
use crate::tokens::InvitationToken;

/// What an invitation link offers.
#[derive(Debug, Clone)]
pub struct LinkPreview {
    /// The organization.
    pub org_id: OrgId,
    /// Its name.
    pub org_name: String,
    /// Its shape.
    pub shape: OrgShape,
    /// The inviting owner's name (`None` when the operator invited).
    pub invited_by: Option<String>,
    /// Whom it is for.
    pub email: Email,
    /// Their name as the owner typed it.
    pub full_name: PersonName,
    /// The role offered.
    pub role: Role,
    /// The names of the accounts the role names: the invitee cannot list the
    /// organization's accounts yet, but must know what they are offered.
    pub accounts: Vec<(AccountId, String)>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// pending, expired, accepted or cancelled.
    pub status: String,
    /// Whether the invitee already has an identity (and must sign in to accept).
    pub existing_account: bool,
    /// Whether the invitee may accept by signing in with the organization's
    /// single sign-on (`Some`), and whether it is required (`Some(true)`).
    pub single_sign_on: Option<bool>,
}

/// Why a link of `inv` with `digest` no longer works, if it does not. Whoever
/// holds one of an invitation's links may learn that it was cancelled, used, or
/// replaced by a newer email (and so what to do); anyone else learns nothing,
/// as no link of theirs leads here.
fn closed(inv: &Invitation, digest: &TokenDigest) -> Option<DomainError> {
    match inv.status {
        InvitationStatus::Cancelled => Some(DomainError::InvitationWasCancelled),
        InvitationStatus::Accepted => Some(DomainError::InvitationAlreadyAccepted),
        _ if !inv.token_digest.matches(digest) => Some(DomainError::LinkReplaced),
        _ => None,
    }
}

/// Finds the invitation a presented token points at. A link sent a moment ago may
/// not be projected yet, so a miss waits (briefly) for the read models to reach
/// the log's head and looks again.
pub(crate) async fn resolve(
    app: &Application,
    token: &InvitationToken,
) -> Result<LinkTarget, UseCaseError> {
    let digest = String::from(token.digest());
    if let Some(found) = queries::link_target(&app.read, &digest).await? {
        return Ok(found);
    }
    let head = app
        .store
        .head()
        .await
        .map_err(|e| UseCaseError::infrastructure("reading the log's head", e))?;
    if app
        .wait_for_read_models(head, Duration::from_secs(2))
        .await?
    {
        if let Some(found) = queries::link_target(&app.read, &digest).await? {
            return Ok(found);
        }
    }
    Err(DomainError::InvalidToken.into())
}

/// What the link `token` offers, checked against the organization itself.
pub async fn preview(app: &Application, token: &str) -> Result<LinkPreview, UseCaseError> {
    let token = InvitationToken::from_presented(token);
    let target = resolve(app, &token).await?;
    let now = app.clock.now();
    let digest = token.digest();
    let found = app
        .orgs
        .inspect(target.org_id, |org| {
            let org = org?;
            let inv = org.invitations.get(&target.invitation_id)?;
            // A closed or replaced link shows nothing of what it offered.
            if let Some(why) = closed(inv, &digest) {
                return Some(Err(why));
            }
            let invited_by = match inv.invited_by {
                Actor::User(u) => org.members.get(&u).map(|m| m.full_name.to_string()),
                Actor::System | Actor::ApiKey(_) => None,
            };
            let expired = inv.status == InvitationStatus::Expired || now >= inv.expires_at;
            let accounts = match &inv.role {
                Role::Multi(MultiRole::Contributor(held)) => held
                    .iter()
                    .filter_map(|(id, _)| org.accounts.get(id).map(|a| (*id, a.name.to_string())))
                    .collect(),
                _ => Vec::new(),
            };
            Some(Ok(LinkPreview {
                org_id: org.id,
                org_name: org.name.to_string(),
                shape: org.shape,
                invited_by,
                email: inv.email.clone(),
                full_name: inv.full_name.clone(),
                role: inv.role.clone(),
                accounts,
                expires_at: inv.expires_at,
                status: if expired {
                    "expired".to_owned()
                } else {
                    inv.status.to_string()
                },
                existing_account: false,
                single_sign_on: org
                    .sso
                    .as_ref()
                    .filter(|c| c.answers_for(&inv.email))
                    .map(|c| c.enforced),
            }))
        })
        .await?;
    let mut preview = found.ok_or(DomainError::InvalidToken)??;
    preview.existing_account = credentials::by_email(&app.read, preview.email.key())
        .await?
        .is_some();
    Ok(preview)
}

/// The invitation behind the link with `digest` as the organization holds it
/// now (id and address), refused with the reason when the link no longer works.
pub(crate) async fn invitee(
    app: &Application,
    target: &LinkTarget,
    digest: &TokenDigest,
) -> Result<(InvitationId, Email), UseCaseError> {
    let found = app
        .orgs
        .inspect(target.org_id, |org| {
            let inv = org.and_then(|o| o.invitations.get(&target.invitation_id))?;
            Some(match closed(inv, digest) {
                Some(why) => Err(why),
                None => Ok((inv.id, inv.email.clone())),
            })
        })
        .await?;
    Ok(found.ok_or(DomainError::InvalidToken)??)
}
