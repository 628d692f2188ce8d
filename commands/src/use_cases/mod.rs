//! One module per use case: what an owner, an invitee or a member can do, each
//! taking already-parsed values and answering a typed result or a typed refusal.
//! HTTP handlers and CLI commands are thin adapters over these; the tests call
//! them directly too.
//!
//! Owner-only use cases take an [`OwnerOf`](crate::authorize::OwnerOf), which only
//! [`authorize::owner_of`](crate::authorize::owner_of) makes, from the
//! organization's authoritative state.

pub mod accept_invite;
pub mod add_account;
pub mod api_keys;
pub mod bulk_invite;
pub mod cancel_invite;
pub mod change_invitation;
pub mod change_password;
pub mod change_role;
pub mod create_organization;
pub mod directory;
pub mod event_feed;
pub mod invitation_link;
pub mod invite_user;
pub mod leave_organization;
pub mod my_profile;
pub mod owner_queries;
pub mod password_reset;
pub mod recover_organization;
pub mod remove_member;
pub mod rename_account;
pub mod resend_invite;
pub mod role_groups;
pub mod roles;
pub mod sessions;
pub mod sso;

use roster_domain::organization::{Actor, Envelope, OrgCommand};
use roster_domain::{OrgEvent, OrgId, UserId};
use roster_eventstore::Position;

use crate::application::Application;
use crate::error::UseCaseError;
use crate::Outcome;

/// Runs an organization command as `actor` (a person, or the system for the CLI).
pub(crate) async fn run_as(
    app: &Application,
    actor: Option<UserId>,
    org: OrgId,
    command: OrgCommand,
) -> Result<Outcome<OrgEvent>, UseCaseError> {
    let envelope = Envelope {
        actor: actor.map_or(Actor::System, Actor::User),
        command,
    };
    Ok(app
        .orgs
        .execute(org, &envelope, &app.metadata(actor))
        .await?)
}

/// Runs an owner's command in the name of whoever acts for them: the owner, or
/// the API key the request was authorized with.
pub(crate) async fn run_for(
    app: &Application,
    owner: &crate::authorize::OwnerOf,
    command: OrgCommand,
) -> Result<Outcome<OrgEvent>, UseCaseError> {
    let envelope = Envelope {
        actor: owner.actor(),
        command,
    };
    Ok(app
        .orgs
        .execute(owner.org_id(), &envelope, &app.metadata_for(owner))
        .await?)
}

/// The deadline an `InviteUser` recorded (its `UserInvited` event's).
pub(crate) fn invitation_deadline(
    outcome: &Outcome<OrgEvent>,
) -> Result<chrono::DateTime<chrono::Utc>, UseCaseError> {
    outcome
        .events
        .iter()
        .find_map(|e| match e {
            OrgEvent::UserInvited(i) => Some(i.expires_at),
            _ => None,
        })
        .ok_or_else(|| UseCaseError::infrastructure("inviting", "the invitation was not recorded"))
}

/// A new send of invitation `invitation_id`: its id and the digest of the link
/// token derived from it (the token itself is derived again when mailing).
pub(crate) fn new_send(
    app: &Application,
    invitation_id: roster_domain::InvitationId,
) -> (roster_domain::SendId, roster_domain::TokenDigest) {
    let send_id = roster_domain::SendId::from_uuid(uuid::Uuid::now_v7());
    let token = app.key.invitation_token(invitation_id, send_id);
    (send_id, token.digest())
}

/// The deadline of the new link an outcome's `InvitationResent` gave, if any.
pub(crate) fn resent_deadline(
    outcome: &Outcome<OrgEvent>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    outcome.events.iter().find_map(|e| match e {
        OrgEvent::InvitationResent(r) => Some(r.expires_at),
        _ => None,
    })
}

/// The refusal of a send over its limit, waiting `wait` (whole seconds, at least one).
pub(crate) fn too_many(wait: chrono::Duration) -> UseCaseError {
    UseCaseError::TooManyInvitations {
        retry_after: wait
            .to_std()
            .unwrap_or_default()
            .max(std::time::Duration::from_secs(1)),
    }
}

/// What a command that changes one thing answers: where the log got to, for
/// read-your-writes (`None` when nothing was recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// Pass as `after` to a query to see this change.
    pub position: Option<Position>,
}

impl<E> From<&Outcome<E>> for Recorded {
    fn from(outcome: &Outcome<E>) -> Self {
        Self {
            position: outcome.position(),
        }
    }
}
