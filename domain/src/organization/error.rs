//! Every refusal an organization can give, one variant per rule, so the API can
//! map each to its own stable problem type.

use chrono::{DateTime, Utc};

use crate::ids::{AccountId, ApiKeyId, InvitationId, UserId};
use crate::organization::state::InvitationStatus;
use crate::role::{OrgShape, Role};

/// A command refused by a domain rule. Nothing was recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The organization already exists.
    #[error("the organization already exists")]
    OrganizationExists,
    /// No such organization.
    #[error("no such organization")]
    OrganizationNotFound,
    /// Only owners manage users and accounts.
    #[error("only organization owners may do this")]
    NotAnOwner,
    /// Accounts exist only in multi-account organizations.
    #[error("accounts can only be added to a multi-account organization")]
    NotMultiAccount,
    /// Two accounts of one organization may not share a name.
    #[error("an account named {name:?} already exists")]
    AccountNameTaken {
        /// The clashing name.
        name: String,
    },
    /// The account id is in use.
    #[error("account {0} already exists")]
    AccountExists(AccountId),
    /// A role names an account the organization does not have.
    #[error("account {0} does not exist in this organization")]
    UnknownAccount(AccountId),
    /// A role of the wrong shape for this organization.
    #[error("this is a {org} organization; the role given is for a {role} one")]
    RoleShapeMismatch {
        /// The organization's shape.
        org: OrgShape,
        /// The shape the role fits.
        role: OrgShape,
    },
    /// The person is already a member.
    #[error("{email} is already a member")]
    AlreadyMember {
        /// Their address.
        email: String,
        /// Their identity.
        user_id: UserId,
    },
    /// The person already has an open invitation; offer to resend it.
    #[error("{email} already has an open invitation ({status}); resend it, or change the role it offers")]
    AlreadyInvited {
        /// Their address.
        email: String,
        /// The open invitation.
        invitation_id: InvitationId,
        /// Pending or expired.
        status: InvitationStatus,
        /// The role it offers, so the owner can tell whether to resend or correct it.
        role: Role,
    },
    /// The invitation id is in use.
    #[error("invitation {0} already exists")]
    InvitationExists(InvitationId),
    /// No such invitation in this organization.
    #[error("no such invitation")]
    InvitationNotFound,
    /// Resend and cancel work only on pending or expired invitations.
    #[error("the invitation is {status} and can no longer be changed")]
    InvitationClosed {
        /// Accepted or cancelled.
        status: InvitationStatus,
    },
    /// The link was already used.
    #[error("this invitation was already accepted")]
    InvitationAlreadyAccepted,
    /// The invitation was withdrawn.
    #[error("this invitation was cancelled")]
    InvitationWasCancelled,
    /// The link's deadline has passed.
    #[error("this invitation expired at {expires_at}; ask an owner to resend it")]
    InvitationHasExpired {
        /// The deadline.
        expires_at: DateTime<Utc>,
    },
    /// The link is one of the invitation's, but a newer email (a resend) replaced it.
    #[error("a newer invitation email replaced this link; open the link in the most recent email")]
    LinkReplaced,
    /// The token does not match the invitation's current one (wrong or superseded by a resend).
    #[error("this invitation link is not valid (it may have been replaced by a newer one)")]
    InvalidToken,
    /// No such member.
    #[error("no such member")]
    MemberNotFound,
    /// A suspended member's role cannot change until they are restored.
    #[error("the member is suspended; restore them first")]
    MemberIsSuspended,
    /// An organization must keep at least one owner.
    #[error("the last owner can be neither removed nor demoted")]
    LastOwner,
    /// Only people who own the organization manage its API keys.
    #[error("only the organization's owners, signed in, may manage API keys")]
    KeysManagedByPeopleOnly,
    /// The key id is in use.
    #[error("API key {0} already exists")]
    ApiKeyExists(ApiKeyId),
    /// No such key in this organization.
    #[error("no such API key")]
    ApiKeyNotFound,
    /// The key was revoked already.
    #[error("this API key is revoked already")]
    ApiKeyAlreadyRevoked,
    /// A key must be allowed to do something.
    #[error("choose at least one scope")]
    NoScopes,
    /// A key's expiry must lie ahead.
    #[error("the expiry must be in the future")]
    ExpiryNotInFuture,
    /// Two working keys of one organization may not share a name.
    #[error("a working API key named {name:?} already exists")]
    ApiKeyNameTaken {
        /// The clashing name.
        name: String,
    },
    /// An organization holds a bounded number of working keys.
    #[error("an organization may hold at most {max} working API keys; revoke one first")]
    TooManyApiKeys {
        /// The bound.
        max: usize,
    },
    /// Single sign-on is configured by people who own the organization (or the
    /// operator), never by a key.
    #[error("only the organization's owners, signed in, may configure single sign-on")]
    SsoManagedByPeopleOnly,
    /// The organization has no single sign-on connection.
    #[error("this organization has no single sign-on connection")]
    NoSsoConnection,
    /// A connection answers for at least one domain, and a bounded number.
    #[error("a connection answers for 1 to {max} email domains")]
    SsoDomainCount {
        /// The bound.
        max: usize,
    },
    /// The provider's id is linked to another member already.
    #[error("this identity at the provider is linked to another person")]
    SsoSubjectLinkedElsewhere,
    /// The member is linked to another identity at the provider already.
    #[error("this person is linked to another identity at the provider")]
    SsoPersonLinkedElsewhere,
    /// The person's address is not at one of the connection's domains.
    #[error("{email} is not at a domain this organization's provider answers for")]
    SsoDomainNotConnected {
        /// The address.
        email: String,
    },
    /// Nobody becomes an owner by signing in.
    #[error("people who join by signing in cannot be owners; choose another role")]
    SsoJoinAsOwner,
    /// Joining without an invitation is off for this organization.
    #[error("joining this organization needs an invitation from an owner")]
    SsoJoinOff,
    /// Only the person themselves (or Roster) links their identity.
    #[error("only the person themselves may link their identity")]
    NotThePerson,
    /// An email outcome for a send that is not the invitation's (stale worker).
    #[error("send does not belong to this invitation")]
    UnknownSend,
}
