//! What can happen to an organization. Past tense, stable names, never reshaped in
//! place: a new shape gets a new schema version and an upcaster in [`super::codec`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api_key::Scopes;
use crate::ids::{AccountId, ApiKeyId, InvitationId, OrgId, SendId, UserId};
use crate::role::{OrgShape, Role};
use crate::sso::{SsoConnection, Subject};
use crate::text::{DisplayName, Email, PersonName};
use crate::token::TokenDigest;

/// Who did something: a member, an organization API key, or the system (CLI
/// bootstrap, workers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A signed-in person.
    User(UserId),
    /// Roster itself: the operator's CLI or a background worker.
    System,
    /// An organization API key (an integration, or a directory over SCIM).
    ApiKey(ApiKeyId),
}

/// An organization event. Serialized with its `type` tag for snapshots; stored as
/// `event_type` + `schema_version` + payload by [`super::codec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum OrgEvent {
    /// The organization exists.
    OrganizationCreated(OrganizationCreated),
    /// A multi-account organization gained an account.
    AccountAdded(AccountAdded),
    /// An account got a new name.
    AccountRenamed(AccountRenamed),
    /// Somebody was invited (and the first email is due).
    UserInvited(UserInvited),
    /// An invitation was sent again: new token, new deadline.
    InvitationResent(InvitationResent),
    /// An owner withdrew an invitation.
    InvitationCancelled(InvitationCancelled),
    /// An open invitation now offers another role (an `InvitationResent` follows).
    InvitationChanged(InvitationChanged),
    /// An invitation's deadline passed unused.
    InvitationExpired(InvitationExpired),
    /// The invitee joined; this event makes them a member.
    InvitationAccepted(InvitationAccepted),
    /// A member's role changed.
    RoleChanged(RoleChanged),
    /// A member lost access.
    MemberRemoved(MemberRemoved),
    /// A directory made a person a member (no invitation).
    MemberProvisioned(MemberProvisioned),
    /// A member was suspended: no access until restored.
    MemberSuspended(MemberSuspended),
    /// A directory changed a member's name or its id for them.
    MemberDetailsChanged(MemberDetailsChanged),
    /// A suspended member got their access back.
    MemberRestored(MemberRestored),
    /// The email for one send went out.
    InvitationEmailSent(InvitationEmailSent),
    /// The email for one send could not be delivered.
    InvitationEmailFailed(InvitationEmailFailed),
    /// An owner created an API key.
    ApiKeyCreated(ApiKeyCreated),
    /// An owner revoked an API key.
    ApiKeyRevoked(ApiKeyRevoked),
    /// The organization's own OpenID Connect provider was connected.
    SsoConnectionConfigured(SsoConnectionConfigured),
    /// The connection was changed (the whole connection as it is now).
    SsoConnectionChanged(SsoConnectionChanged),
    /// The provider was disconnected.
    SsoConnectionRemoved(SsoConnectionRemoved),
    /// A member's identity at the provider (`sub`) was linked to them.
    SsoIdentityLinked(SsoIdentityLinked),
    /// A person the provider vouched for joined without an invitation.
    MemberJoinedBySso(MemberJoinedBySso),
}

/// See [`OrgEvent::OrganizationCreated`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationCreated {
    /// The new organization.
    pub org_id: OrgId,
    /// Its name.
    pub name: DisplayName,
    /// Single- or multi-account, fixed for life.
    pub shape: OrgShape,
    /// Who created it.
    pub created_by: Actor,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// See [`OrgEvent::AccountAdded`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountAdded {
    /// The new account.
    pub account_id: AccountId,
    /// Its name, unique within the organization (ignoring case).
    pub name: DisplayName,
    /// Who added it.
    pub added_by: Actor,
    /// When.
    pub added_at: DateTime<Utc>,
}

/// See [`OrgEvent::AccountRenamed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRenamed {
    /// The account.
    pub account_id: AccountId,
    /// The name before, so history reads without replaying.
    pub from: DisplayName,
    /// The name after, unique within the organization (ignoring case).
    pub to: DisplayName,
    /// Who renamed it.
    pub renamed_by: Actor,
    /// When.
    pub renamed_at: DateTime<Utc>,
}

/// See [`OrgEvent::UserInvited`]. Schema version 2 (version 1 had no `full_name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInvited {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// This send; the token and the email's Message-ID derive from it.
    pub send_id: SendId,
    /// Who is invited.
    pub email: Email,
    /// Their name as the owner typed it.
    pub full_name: PersonName,
    /// The role they will get.
    pub role: Role,
    /// Who invited them.
    pub invited_by: Actor,
    /// Digest of the link's token.
    pub token_digest: TokenDigest,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// See [`OrgEvent::InvitationResent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationResent {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// This send.
    pub send_id: SendId,
    /// Digest of the new token; the old link stops working.
    pub token_digest: TokenDigest,
    /// Who resent it.
    pub resent_by: Actor,
    /// When.
    pub sent_at: DateTime<Utc>,
    /// The new deadline.
    pub expires_at: DateTime<Utc>,
}

/// See [`OrgEvent::InvitationCancelled`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationCancelled {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// Who cancelled it.
    pub cancelled_by: Actor,
    /// When.
    pub cancelled_at: DateTime<Utc>,
}

/// See [`OrgEvent::InvitationChanged`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationChanged {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The role offered before.
    pub from: Role,
    /// The role offered from now on.
    pub to: Role,
    /// Who changed it.
    pub changed_by: Actor,
    /// When.
    pub changed_at: DateTime<Utc>,
}

/// See [`OrgEvent::InvitationExpired`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationExpired {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The deadline that passed.
    pub expired_at: DateTime<Utc>,
}

/// See [`OrgEvent::InvitationAccepted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationAccepted {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The identity that joined.
    pub user_id: UserId,
    /// Their email (the invitation's).
    pub email: Email,
    /// Their name as they set it (or as their identity has it).
    pub full_name: PersonName,
    /// The role they hold from now on.
    pub role: Role,
    /// When.
    pub accepted_at: DateTime<Utc>,
}

/// See [`OrgEvent::RoleChanged`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleChanged {
    /// The member.
    pub user_id: UserId,
    /// The role before.
    pub from: Role,
    /// The role after.
    pub to: Role,
    /// Who changed it.
    pub changed_by: Actor,
    /// When.
    pub changed_at: DateTime<Utc>,
}

/// See [`OrgEvent::MemberRemoved`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRemoved {
    /// The former member.
    pub user_id: UserId,
    /// The role they held, so history reads without replaying.
    pub role: Role,
    /// Who removed them.
    pub removed_by: Actor,
    /// When.
    pub removed_at: DateTime<Utc>,
}

/// See [`OrgEvent::MemberProvisioned`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberProvisioned {
    /// The member.
    pub user_id: UserId,
    /// Their address.
    pub email: Email,
    /// Their name.
    pub full_name: PersonName,
    /// Their role.
    pub role: Role,
    /// The directory's id for them.
    pub external_id: Option<String>,
    /// Who provisioned them (usually a key with the `scim` scope).
    pub provisioned_by: Actor,
    /// When.
    pub provisioned_at: DateTime<Utc>,
}

/// See [`OrgEvent::MemberDetailsChanged`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberDetailsChanged {
    /// The member.
    pub user_id: UserId,
    /// Their name before, so history reads without replaying.
    pub from_name: PersonName,
    /// Their name from now on.
    pub full_name: PersonName,
    /// The directory's id for them from now on.
    pub external_id: Option<String>,
    /// Who changed it.
    pub changed_by: Actor,
    /// When.
    pub changed_at: DateTime<Utc>,
}

/// See [`OrgEvent::MemberSuspended`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSuspended {
    /// The member.
    pub user_id: UserId,
    /// The role they keep, without access, so history reads without replaying.
    pub role: Role,
    /// Who suspended them.
    pub suspended_by: Actor,
    /// When.
    pub suspended_at: DateTime<Utc>,
}

/// See [`OrgEvent::MemberRestored`]. Carries who they are, so a read model of
/// access periods opens the new period from the event alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRestored {
    /// The member.
    pub user_id: UserId,
    /// Their address.
    pub email: Email,
    /// Their name.
    pub full_name: PersonName,
    /// The role they hold again.
    pub role: Role,
    /// When they first joined.
    pub joined_at: DateTime<Utc>,
    /// Who restored them.
    pub restored_by: Actor,
    /// When.
    pub restored_at: DateTime<Utc>,
}

/// See [`OrgEvent::InvitationEmailSent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationEmailSent {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The send the email was for.
    pub send_id: SendId,
    /// The Message-ID the SMTP server accepted.
    pub message_id: String,
    /// When.
    pub sent_at: DateTime<Utc>,
}

/// See [`OrgEvent::InvitationEmailFailed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationEmailFailed {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The send the email was for.
    pub send_id: SendId,
    /// What the mail server or transport said.
    pub reason: String,
    /// True when retrying cannot help (e.g. recipient refused).
    pub permanent: bool,
    /// When.
    pub failed_at: DateTime<Utc>,
}

/// See [`OrgEvent::ApiKeyCreated`]. The secret itself is never recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyCreated {
    /// The key.
    pub key_id: ApiKeyId,
    /// What it is for, as its creator named it.
    pub name: DisplayName,
    /// What it may do.
    pub scopes: Scopes,
    /// The secret's first characters, shown so a key can be recognised.
    pub prefix: String,
    /// Digest of the secret: what a presented key is checked against.
    pub secret_digest: TokenDigest,
    /// Who created it.
    pub created_by: Actor,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it stops working on its own, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// See [`OrgEvent::ApiKeyRevoked`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRevoked {
    /// The key.
    pub key_id: ApiKeyId,
    /// Who revoked it.
    pub revoked_by: Actor,
    /// When.
    pub revoked_at: DateTime<Utc>,
}

/// See [`OrgEvent::SsoConnectionConfigured`]. The client secret is sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConnectionConfigured {
    /// The connection.
    pub connection: SsoConnection,
    /// Who connected it.
    pub configured_by: Actor,
    /// When.
    pub configured_at: DateTime<Utc>,
}

/// See [`OrgEvent::SsoConnectionChanged`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConnectionChanged {
    /// The connection as it is now.
    pub connection: SsoConnection,
    /// Who changed it.
    pub changed_by: Actor,
    /// When.
    pub changed_at: DateTime<Utc>,
}

/// See [`OrgEvent::SsoConnectionRemoved`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConnectionRemoved {
    /// The issuer that was connected, so history reads without replaying.
    pub issuer: String,
    /// Who removed it.
    pub removed_by: Actor,
    /// When.
    pub removed_at: DateTime<Utc>,
}

/// See [`OrgEvent::SsoIdentityLinked`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoIdentityLinked {
    /// The member.
    pub user_id: UserId,
    /// The provider that vouched for them.
    pub issuer: String,
    /// Its id for them.
    pub subject: Subject,
    /// When.
    pub linked_at: DateTime<Utc>,
}

/// See [`OrgEvent::MemberJoinedBySso`]. Also links `subject` to the member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberJoinedBySso {
    /// The member.
    pub user_id: UserId,
    /// Their verified address.
    pub email: Email,
    /// Their name.
    pub full_name: PersonName,
    /// The connection's default role.
    pub role: Role,
    /// The provider that vouched for them.
    pub issuer: String,
    /// Its id for them.
    pub subject: Subject,
    /// When.
    pub joined_at: DateTime<Utc>,
}

impl OrgEvent {
    /// The stable type name stored in the envelope.
    pub fn event_type(&self) -> &'static str {
        match self {
            OrgEvent::OrganizationCreated(_) => "OrganizationCreated",
            OrgEvent::AccountAdded(_) => "AccountAdded",
            OrgEvent::AccountRenamed(_) => "AccountRenamed",
            OrgEvent::UserInvited(_) => "UserInvited",
            OrgEvent::InvitationResent(_) => "InvitationResent",
            OrgEvent::InvitationCancelled(_) => "InvitationCancelled",
            OrgEvent::InvitationChanged(_) => "InvitationChanged",
            OrgEvent::InvitationExpired(_) => "InvitationExpired",
            OrgEvent::InvitationAccepted(_) => "InvitationAccepted",
            OrgEvent::RoleChanged(_) => "RoleChanged",
            OrgEvent::MemberRemoved(_) => "MemberRemoved",
            OrgEvent::MemberProvisioned(_) => "MemberProvisioned",
            OrgEvent::MemberSuspended(_) => "MemberSuspended",
            OrgEvent::MemberDetailsChanged(_) => "MemberDetailsChanged",
            OrgEvent::MemberRestored(_) => "MemberRestored",
            OrgEvent::InvitationEmailSent(_) => "InvitationEmailSent",
            OrgEvent::InvitationEmailFailed(_) => "InvitationEmailFailed",
            OrgEvent::ApiKeyCreated(_) => "ApiKeyCreated",
            OrgEvent::ApiKeyRevoked(_) => "ApiKeyRevoked",
            OrgEvent::SsoConnectionConfigured(_) => "SsoConnectionConfigured",
            OrgEvent::SsoConnectionChanged(_) => "SsoConnectionChanged",
            OrgEvent::SsoConnectionRemoved(_) => "SsoConnectionRemoved",
            OrgEvent::SsoIdentityLinked(_) => "SsoIdentityLinked",
            OrgEvent::MemberJoinedBySso(_) => "MemberJoinedBySso",
        }
    }

    /// The current shape version of this event type's payload.
    pub fn schema_version(&self) -> u32 {
        match self {
            OrgEvent::UserInvited(_) => 2,
            _ => 1,
        }
    }
}
