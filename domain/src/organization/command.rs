//! What people (and Roster itself) can ask of an organization. Commands carry
//! already-validated values, ids and token digests made at the edge.

use crate::api_key::Scopes;
use crate::ids::{AccountId, ApiKeyId, InvitationId, OrgId, SendId, UserId};
use crate::organization::event::Actor;
use crate::role::{OrgShape, Role};
use crate::sso::{SsoConnection, Subject};
use crate::text::{DisplayName, Email, PersonName};
use crate::token::TokenDigest;

/// A request to change an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgCommand {
    /// Found an organization (operator bootstrap).
    CreateOrganization {
        /// Its id.
        org_id: OrgId,
        /// Its name.
        name: DisplayName,
        /// Single- or multi-account.
        shape: OrgShape,
        /// Initial accounts of a multi-account organization.
        accounts: Vec<(AccountId, DisplayName)>,
    },
    /// Add an account to a multi-account organization.
    AddAccount {
        /// The new account's id.
        account_id: AccountId,
        /// Its name.
        name: DisplayName,
    },
    /// Rename an account of a multi-account organization.
    RenameAccount {
        /// The account.
        account_id: AccountId,
        /// Its new name.
        name: DisplayName,
    },
    /// Invite a person with a role.
    InviteUser {
        /// The new invitation's id.
        invitation_id: InvitationId,
        /// The first send's id.
        send_id: SendId,
        /// Who to invite.
        email: Email,
        /// Their name.
        full_name: PersonName,
        /// The role they will get.
        role: Role,
        /// Digest of the new link's token.
        token_digest: TokenDigest,
    },
    /// Send an invitation again with a new token and deadline.
    ResendInvite {
        /// The invitation.
        invitation_id: InvitationId,
        /// This send's id.
        send_id: SendId,
        /// Digest of the new token.
        token_digest: TokenDigest,
    },
    /// Correct an open invitation's role: the offer changes and a fresh link
    /// replaces the old one (whose email named the old role).
    ChangeInvitation {
        /// The invitation.
        invitation_id: InvitationId,
        /// The role offered from now on.
        role: Role,
        /// The new send's id.
        send_id: SendId,
        /// Digest of the new link's token.
        token_digest: TokenDigest,
    },
    /// Withdraw an invitation.
    CancelInvite {
        /// The invitation.
        invitation_id: InvitationId,
    },
    /// Join through an invitation link.
    AcceptInvite {
        /// The invitation the link names.
        invitation_id: InvitationId,
        /// Digest of the token presented.
        token_digest: TokenDigest,
        /// The identity joining: new, or the signed-in existing one.
        user_id: UserId,
        /// The name the member will be listed under.
        full_name: PersonName,
    },
    /// Record that an invitation's deadline passed (the expiry worker).
    ExpireInvite {
        /// The invitation.
        invitation_id: InvitationId,
    },
    /// Change a member's role.
    ChangeRole {
        /// The member.
        user_id: UserId,
        /// The new role.
        role: Role,
    },
    /// Make a person a member at once (directory sync): no invitation; an open
    /// invitation for the same address is replaced.
    ProvisionMember {
        /// Their identity (new, or the one their address already has).
        user_id: UserId,
        /// Their address.
        email: Email,
        /// Their name.
        full_name: PersonName,
        /// Their role.
        role: Role,
        /// The directory's own id for them, if it sent one.
        external_id: Option<String>,
    },
    /// A directory changes what it knows of a member: their name, its own id for them.
    ChangeMemberDetails {
        /// The member.
        user_id: UserId,
        /// Their name from now on.
        full_name: PersonName,
        /// The directory's id for them from now on.
        external_id: Option<String>,
    },
    /// Suspend a member: they keep their place but lose access until restored.
    SuspendMember {
        /// The member.
        user_id: UserId,
    },
    /// Give a suspended member their access back.
    RestoreMember {
        /// The member.
        user_id: UserId,
    },
    /// Take away a member's access.
    RemoveUser {
        /// The member.
        user_id: UserId,
    },
    /// A member leaves on their own (the actor must be that member).
    LeaveOrganization {
        /// The member leaving.
        user_id: UserId,
    },
    /// Create an API key (people who own the organization only; a key cannot).
    CreateApiKey {
        /// The new key's id.
        key_id: ApiKeyId,
        /// What it is for.
        name: DisplayName,
        /// What it may do (at least one scope).
        scopes: Scopes,
        /// The secret's first characters.
        prefix: String,
        /// Digest of the secret, made at the edge.
        secret_digest: TokenDigest,
        /// When it stops working on its own, if ever (in the future).
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Revoke an API key: it stops working at once.
    RevokeApiKey {
        /// The key.
        key_id: ApiKeyId,
    },
    /// Connect the organization's own OpenID Connect provider, or change the
    /// connection (people who own the organization, or the operator; a key cannot).
    ConfigureSso {
        /// The connection as it is to be.
        connection: SsoConnection,
    },
    /// Disconnect the provider: its people sign in with passwords again.
    RemoveSso,
    /// Note that the provider's `subject` is this member (on their first
    /// sign-in with it; the actor is the member).
    LinkSsoIdentity {
        /// The member.
        user_id: UserId,
        /// The provider's id for them.
        subject: Subject,
    },
    /// A person the provider vouched for joins without an invitation, with the
    /// connection's default role (the actor is the person).
    JoinBySso {
        /// Their identity.
        user_id: UserId,
        /// Their verified address.
        email: Email,
        /// Their name.
        full_name: PersonName,
        /// The provider's id for them.
        subject: Subject,
    },
    /// Record that an invitation email was accepted by the mail server (the email worker).
    RecordEmailSent {
        /// The invitation.
        invitation_id: InvitationId,
        /// The send the email was for.
        send_id: SendId,
        /// The Message-ID used.
        message_id: String,
    },
    /// Record that an invitation email could not be delivered (the email worker).
    RecordEmailFailed {
        /// The invitation.
        invitation_id: InvitationId,
        /// The send the email was for.
        send_id: SendId,
        /// What went wrong.
        reason: String,
        /// Whether retrying could help.
        permanent: bool,
    },
}

/// A command with the identity that issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Who asks.
    pub actor: Actor,
    /// What they ask.
    pub command: OrgCommand,
}
