//! The organization as `decide` sees it: folded from its events by `evolve`,
//! indexed for the questions rules ask (is this email a member? invited?).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api_key::{Scope, Scopes};
use crate::ids::{AccountId, ApiKeyId, InvitationId, OrgId, SendId, UserId};
use crate::organization::event::Actor;
use crate::role::{OrgShape, Role};
use crate::sso::{SsoConnection, Subject};
use crate::text::{DisplayName, Email, PersonName};
use crate::token::TokenDigest;

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// Sent, deadline not passed (or not yet recorded as passed).
    Pending,
    /// The deadline passed; can still be resent or cancelled.
    Expired,
    /// Used: the invitee joined.
    Accepted,
    /// Withdrawn by an owner.
    Cancelled,
}

impl InvitationStatus {
    /// Pending and expired invitations are open: they block a new invitation for
    /// the same email and can be resent or cancelled.
    pub fn is_open(self) -> bool {
        matches!(self, InvitationStatus::Pending | InvitationStatus::Expired)
    }
}

impl fmt::Display for InvitationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Expired => "expired",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Cancelled => "cancelled",
        })
    }
}

/// An account of a multi-account organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// Its name.
    pub name: DisplayName,
}

/// A person with access to the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Their identity.
    pub user_id: UserId,
    /// Their address.
    pub email: Email,
    /// Their listed name.
    pub full_name: PersonName,
    /// What they may do.
    pub role: Role,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
    /// Suspended: a member without access until restored.
    pub suspended: bool,
    /// Put here by a directory (not by accepting an invitation).
    pub managed: bool,
    /// The directory's id for them.
    pub external_id: Option<String>,
}

impl Member {
    /// Whether they own the organization now (a suspended owner does not).
    pub fn owns(&self) -> bool {
        self.role.is_owner() && !self.suspended
    }
}

/// An invitation, open or closed (closed ones stay to answer old links precisely).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// Its id.
    pub id: InvitationId,
    /// Who is invited.
    pub email: Email,
    /// Their name as the owner typed it.
    pub full_name: PersonName,
    /// The role offered.
    pub role: Role,
    /// Who invited them.
    pub invited_by: Actor,
    /// Where it stands.
    pub status: InvitationStatus,
    /// Every send, oldest first; the last is current.
    pub sends: Vec<SendId>,
    /// The sends whose email was recorded as sent: recording one again changes
    /// nothing (a worker that took over may mail a send its predecessor mailed
    /// just before it died, and must not record it twice).
    pub mailed: Vec<SendId>,
    /// Digest of the current token.
    pub token_digest: TokenDigest,
    /// When it was last sent.
    pub sent_at: DateTime<Utc>,
    /// When the current link stops working.
    pub expires_at: DateTime<Utc>,
}

/// An organization API key (its digest; the secret is never kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// What it is for.
    pub name: DisplayName,
    /// What it may do.
    pub scopes: Scopes,
    /// The secret's first characters.
    pub prefix: String,
    /// Digest of the secret.
    pub secret_digest: TokenDigest,
    /// Who created it.
    pub created_by: Actor,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it stops working on its own, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether the key works at `now`: not revoked, not expired.
    pub fn works_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }

    /// Whether it works at `now` and may do `scope`.
    pub fn allows(&self, scope: Scope, now: DateTime<Utc>) -> bool {
        self.works_at(now) && self.scopes.contains(&scope)
    }
}

/// An organization's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Its id.
    pub id: OrgId,
    /// Its name.
    pub name: DisplayName,
    /// Single- or multi-account.
    pub shape: OrgShape,
    /// Its accounts (multi-account only).
    pub accounts: BTreeMap<AccountId, Account>,
    /// Its members.
    pub members: BTreeMap<UserId, Member>,
    /// Every invitation ever made.
    pub invitations: BTreeMap<InvitationId, Invitation>,
    /// Every API key ever created (revoked ones stay, to answer precisely).
    pub api_keys: BTreeMap<ApiKeyId, ApiKey>,
    /// Its single sign-on connection, if any.
    pub sso: Option<SsoConnection>,
    /// Which member each identity at the connected provider is (cleared when
    /// the provider is disconnected or replaced by another issuer).
    pub sso_links: BTreeMap<Subject, UserId>,
    pub(crate) member_by_email: HashMap<String, UserId>,
    pub(crate) open_invitation_by_email: HashMap<String, InvitationId>,
    pub(crate) owners: usize,
}

impl Organization {
    pub(crate) fn new(id: OrgId, name: DisplayName, shape: OrgShape) -> Self {
        Self {
            id,
            name,
            shape,
            accounts: BTreeMap::new(),
            members: BTreeMap::new(),
            invitations: BTreeMap::new(),
            api_keys: BTreeMap::new(),
            sso: None,
            sso_links: BTreeMap::new(),
            member_by_email: HashMap::new(),
            open_invitation_by_email: HashMap::new(),
            owners: 0,
        }
    }

    /// The member with this email, if any.
    pub fn member_by_email(&self, email: &Email) -> Option<&Member> {
        self.member_by_email
            .get(email.key())
            .and_then(|id| self.members.get(id))
    }

    /// The open (pending or expired) invitation for this email, if any.
    pub fn open_invitation_for(&self, email: &Email) -> Option<&Invitation> {
        self.open_invitation_by_email
            .get(email.key())
            .and_then(|id| self.invitations.get(id))
    }

    /// The provider identity linked to `user`, if any.
    pub fn sso_subject_of(&self, user: UserId) -> Option<&Subject> {
        self.sso_links
            .iter()
            .find(|(_, u)| **u == user)
            .map(|(s, _)| s)
    }

    /// How many members hold the owner role and are not suspended.
    pub fn owner_count(&self) -> usize {
        self.owners
    }
}
