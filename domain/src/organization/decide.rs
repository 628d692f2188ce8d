//! The rules: given the current state and a command, the events to record or the
//! rule that refuses it. Pure: time comes in through [`Context`].

use chrono::{DateTime, Duration, Utc};

use crate::api_key::Scope;
use crate::ids::UserId;
use crate::organization::command::{Envelope, OrgCommand};
use crate::organization::error::DomainError;
use crate::organization::event::*;
use crate::organization::state::{Invitation, InvitationStatus, Member, Organization};
use crate::role::{MultiRole, OrgShape, Role};
use crate::sso::SsoConnection;

/// What a decision may depend on besides state and command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// The current time, from the caller's clock.
    pub now: DateTime<Utc>,
    /// How long a sent invitation stays valid.
    pub invite_ttl: Duration,
}

impl Context {
    /// The default invitation lifetime: 15 minutes after the last send.
    pub const DEFAULT_INVITE_TTL_MINUTES: i64 = 15;

    /// A context at `now` with the default lifetime.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            invite_ttl: Duration::minutes(Self::DEFAULT_INVITE_TTL_MINUTES),
        }
    }
}

/// Decides what `envelope` means for the organization in `state`. An empty list
/// means "nothing to do" (e.g. expiring an invitation that was already resent).
pub fn decide(
    state: Option<&Organization>,
    envelope: &Envelope,
    ctx: &Context,
) -> Result<Vec<OrgEvent>, DomainError> {
    let actor = envelope.actor;
    let now = ctx.now;
    let org = match (state, &envelope.command) {
        (
            None,
            OrgCommand::CreateOrganization {
                org_id,
                name,
                shape,
                accounts,
            },
        ) => {
            if *shape == OrgShape::Single && !accounts.is_empty() {
                return Err(DomainError::NotMultiAccount);
            }
            let mut events = vec![OrgEvent::OrganizationCreated(OrganizationCreated {
                org_id: *org_id,
                name: name.clone(),
                shape: *shape,
                created_by: actor,
                created_at: now,
            })];
            let mut seen: Vec<String> = Vec::new();
            for (account_id, name) in accounts {
                let key = name.as_str().to_lowercase();
                if seen.contains(&key) {
                    return Err(DomainError::AccountNameTaken {
                        name: name.to_string(),
                    });
                }
                seen.push(key);
                events.push(OrgEvent::AccountAdded(AccountAdded {
                    account_id: *account_id,
                    name: name.clone(),
                    added_by: actor,
                    added_at: now,
                }));
            }
            return Ok(events);
        }
        (Some(_), OrgCommand::CreateOrganization { .. }) => {
            return Err(DomainError::OrganizationExists)
        }
        (None, _) => return Err(DomainError::OrganizationNotFound),
        (Some(org), _) => org,
    };

    match &envelope.command {
        OrgCommand::CreateOrganization { .. } => Err(DomainError::OrganizationExists),
        OrgCommand::AddAccount { account_id, name } => {
            require_owner(org, actor, now)?;
            if org.shape != OrgShape::Multi {
                return Err(DomainError::NotMultiAccount);
            }
            if org.accounts.contains_key(account_id) {
                return Err(DomainError::AccountExists(*account_id));
            }
            let key = name.as_str().to_lowercase();
            if org
                .accounts
                .values()
                .any(|a| a.name.as_str().to_lowercase() == key)
            {
                return Err(DomainError::AccountNameTaken {
                    name: name.to_string(),
                });
            }
            Ok(vec![OrgEvent::AccountAdded(AccountAdded {
                account_id: *account_id,
                name: name.clone(),
                added_by: actor,
                added_at: now,
            })])
        }
        OrgCommand::RenameAccount { account_id, name } => {
            require_owner(org, actor, now)?;
            if org.shape != OrgShape::Multi {
                return Err(DomainError::NotMultiAccount);
            }
            let account = org
                .accounts
                .get(account_id)
                .ok_or(DomainError::UnknownAccount(*account_id))?;
            if account.name == *name {
                return Ok(Vec::new());
            }
            let key = name.as_str().to_lowercase();
            if org
                .accounts
                .values()
                .any(|a| a.id != *account_id && a.name.as_str().to_lowercase() == key)
            {
                return Err(DomainError::AccountNameTaken {
                    name: name.to_string(),
                });
            }
            Ok(vec![OrgEvent::AccountRenamed(AccountRenamed {
                account_id: *account_id,
                from: account.name.clone(),
                to: name.clone(),
                renamed_by: actor,
                renamed_at: now,
            })])
        }
        OrgCommand::InviteUser {
            invitation_id,
            send_id,
            email,
            full_name,
            role,
            token_digest,
        } => {
            require_owner(org, actor, now)?;
            check_role(org, role)?;
            if let Some(member) = org.member_by_email(email) {
                return Err(DomainError::AlreadyMember {
                    email: member.email.to_string(),
                    user_id: member.user_id,
                });
            }
            if let Some(open) = org.open_invitation_for(email) {
                return Err(DomainError::AlreadyInvited {
                    email: open.email.to_string(),
                    invitation_id: open.id,
                    status: open.status,
                    role: open.role.clone(),
                });
            }
            if org.invitations.contains_key(invitation_id) {
                return Err(DomainError::InvitationExists(*invitation_id));
            }
            Ok(vec![OrgEvent::UserInvited(UserInvited {
                invitation_id: *invitation_id,
                send_id: *send_id,
                email: email.clone(),
                full_name: full_name.clone(),
                role: role.clone(),
                invited_by: actor,
                token_digest: *token_digest,
                sent_at: now,
                expires_at: now + ctx.invite_ttl,
            })])
        }
        OrgCommand::ResendInvite {
            invitation_id,
            send_id,
            token_digest,
        } => {
            require_owner(org, actor, now)?;
            let inv = open_invitation(org, invitation_id)?;
            Ok(vec![OrgEvent::InvitationResent(InvitationResent {
                invitation_id: inv.id,
                send_id: *send_id,
                token_digest: *token_digest,
                resent_by: actor,
                sent_at: now,
                expires_at: now + ctx.invite_ttl,
            })])
        }
        OrgCommand::ChangeInvitation {
            invitation_id,
            role,
            send_id,
            token_digest,
        } => {
            require_owner(org, actor, now)?;
            let inv = open_invitation(org, invitation_id)?;
            check_role(org, role)?;
            if inv.role == *role {
                return Ok(Vec::new());
            }
            // The old email named the old role: its link dies with the offer.
            Ok(vec![
                OrgEvent::InvitationChanged(InvitationChanged {
                    invitation_id: inv.id,
                    from: inv.role.clone(),
                    to: role.clone(),
                    changed_by: actor,
                    changed_at: now,
                }),
                OrgEvent::InvitationResent(InvitationResent {
                    invitation_id: inv.id,
                    send_id: *send_id,
                    token_digest: *token_digest,
                    resent_by: actor,
                    sent_at: now,
                    expires_at: now + ctx.invite_ttl,
                }),
            ])
        }
        OrgCommand::CancelInvite { invitation_id } => {
            require_owner(org, actor, now)?;
            let inv = open_invitation(org, invitation_id)?;
            Ok(vec![OrgEvent::InvitationCancelled(InvitationCancelled {
                invitation_id: inv.id,
                cancelled_by: actor,
                cancelled_at: now,
            })])
        }
        OrgCommand::AcceptInvite {
            invitation_id,
            token_digest,
            user_id,
            full_name,
        } => {
            let inv = org
                .invitations
                .get(invitation_id)
                .ok_or(DomainError::InvitationNotFound)?;
            // The token is the credential: without it, say nothing about the invitation.
            if !inv.token_digest.matches(token_digest) {
                return Err(DomainError::InvalidToken);
            }
            match inv.status {
                InvitationStatus::Accepted => return Err(DomainError::InvitationAlreadyAccepted),
                InvitationStatus::Cancelled => return Err(DomainError::InvitationWasCancelled),
                InvitationStatus::Expired => {
                    return Err(DomainError::InvitationHasExpired {
                        expires_at: inv.expires_at,
                    })
                }
                InvitationStatus::Pending if now >= inv.expires_at => {
                    return Err(DomainError::InvitationHasExpired {
                        expires_at: inv.expires_at,
                    })
                }
                InvitationStatus::Pending => {}
            }
            if let Some(member) = org
                .members
                .get(user_id)
                .or_else(|| org.member_by_email(&inv.email))
            {
                return Err(DomainError::AlreadyMember {
                    email: member.email.to_string(),
                    user_id: member.user_id,
                });
            }
            check_role(org, &inv.role)?;
            Ok(vec![OrgEvent::InvitationAccepted(InvitationAccepted {
                invitation_id: inv.id,
                user_id: *user_id,
                email: inv.email.clone(),
                full_name: full_name.clone(),
                role: inv.role.clone(),
                accepted_at: now,
            })])
        }
        OrgCommand::ExpireInvite { invitation_id } => {
            require_owner(org, actor, now)?;
            let inv = org
                .invitations
                .get(invitation_id)
                .ok_or(DomainError::InvitationNotFound)?;
            if inv.status != InvitationStatus::Pending || now < inv.expires_at {
                return Ok(Vec::new());
            }
            Ok(vec![OrgEvent::InvitationExpired(InvitationExpired {
                invitation_id: inv.id,
                expired_at: inv.expires_at,
            })])
        }
        OrgCommand::ChangeRole { user_id, role } => {
            require_owner(org, actor, now)?;
            let member = member_of(org, user_id)?;
            check_role(org, role)?;
            if member.suspended {
                return Err(DomainError::MemberIsSuspended);
            }
            if &member.role == role {
                return Ok(Vec::new());
            }
            if member.owns() && !role.is_owner() && org.owner_count() <= 1 {
                return Err(DomainError::LastOwner);
            }
            let mut events = vec![OrgEvent::RoleChanged(RoleChanged {
                user_id: *user_id,
                from: member.role.clone(),
                to: role.clone(),
                changed_by: actor,
                changed_at: now,
            })];
            if member.role.is_owner() && !role.is_owner() {
                events.extend(withdraw_invitations_of(org, *user_id, actor, now));
            }
            Ok(events)
        }
        OrgCommand::ProvisionMember {
            user_id,
            email,
            full_name,
            role,
            external_id,
        } => {
            require_owner(org, actor, now)?;
            check_role(org, role)?;
            if let Some(member) = org
                .member_by_email(email)
                .or_else(|| org.members.get(user_id))
            {
                return Err(DomainError::AlreadyMember {
                    email: member.email.to_string(),
                    user_id: member.user_id,
                });
            }
            // The directory's word replaces an open invitation for the address.
            let mut events: Vec<OrgEvent> = settle_invitation_of(org, email, actor, now).collect();
            events.push(OrgEvent::MemberProvisioned(MemberProvisioned {
                user_id: *user_id,
                email: email.clone(),
                full_name: full_name.clone(),
                role: role.clone(),
                external_id: external_id.clone(),
                provisioned_by: actor,
                provisioned_at: now,
            }));
            Ok(events)
        }
        OrgCommand::ChangeMemberDetails {
            user_id,
            full_name,
            external_id,
        } => {
            require_owner(org, actor, now)?;
            let member = member_of(org, user_id)?;
            if member.full_name == *full_name && member.external_id == *external_id {
                return Ok(Vec::new());
            }
            Ok(vec![OrgEvent::MemberDetailsChanged(MemberDetailsChanged {
                user_id: *user_id,
                from_name: member.full_name.clone(),
                full_name: full_name.clone(),
                external_id: external_id.clone(),
                changed_by: actor,
                changed_at: now,
            })])
        }
        OrgCommand::SuspendMember { user_id } => {
            require_owner(org, actor, now)?;
            let member = member_of(org, user_id)?;
            if member.suspended {
                return Ok(Vec::new());
            }
            if member.owns() && org.owner_count() <= 1 {
                return Err(DomainError::LastOwner);
            }
            let mut events = vec![OrgEvent::MemberSuspended(MemberSuspended {
                user_id: *user_id,
                role: member.role.clone(),
                suspended_by: actor,
                suspended_at: now,
            })];
            if member.role.is_owner() {
                events.extend(withdraw_invitations_of(org, *user_id, actor, now));
            }
            Ok(events)
        }
        OrgCommand::RestoreMember { user_id } => {
            require_owner(org, actor, now)?;
            let member = member_of(org, user_id)?;
            if !member.suspended {
                return Ok(Vec::new());
            }
            Ok(vec![OrgEvent::MemberRestored(MemberRestored {
                user_id: *user_id,
                email: member.email.clone(),
                full_name: member.full_name.clone(),
                role: member.role.clone(),
                joined_at: member.joined_at,
                restored_by: actor,
                restored_at: now,
            })])
        }
        OrgCommand::RemoveUser { user_id } => {
            require_owner(org, actor, now)?;
            let member = member_of(org, user_id)?;
            if member.owns() && org.owner_count() <= 1 {
                return Err(DomainError::LastOwner);
            }
            let mut events = vec![OrgEvent::MemberRemoved(MemberRemoved {
                user_id: *user_id,
                role: member.role.clone(),
                removed_by: actor,
                removed_at: now,
            })];
            if member.role.is_owner() {
                events.extend(withdraw_invitations_of(org, *user_id, actor, now));
            }
            Ok(events)
        }
        OrgCommand::LeaveOrganization { user_id } => {
            if actor != Actor::User(*user_id) {
                return Err(DomainError::NotAnOwner);
            }
            let member = member_of(org, user_id)?;
            if member.owns() && org.owner_count() <= 1 {
                return Err(DomainError::LastOwner);
            }
            let mut events = vec![OrgEvent::MemberRemoved(MemberRemoved {
                user_id: *user_id,
                role: member.role.clone(),
                removed_by: actor,
                removed_at: now,
            })];
            if member.role.is_owner() {
                events.extend(withdraw_invitations_of(org, *user_id, actor, now));
            }
            Ok(events)
        }
        OrgCommand::CreateApiKey {
            key_id,
            name,
            scopes,
            prefix,
            secret_digest,
            expires_at,
        } => {
            require_person_owner(org, actor, now)?;
            if org.api_keys.contains_key(key_id) {
                return Err(DomainError::ApiKeyExists(*key_id));
            }
            if scopes.is_empty() {
                return Err(DomainError::NoScopes);
            }
            if expires_at.is_some_and(|at| at <= now) {
                return Err(DomainError::ExpiryNotInFuture);
            }
            let working: Vec<_> = org.api_keys.values().filter(|k| k.works_at(now)).collect();
            let key = name.as_str().to_lowercase();
            if working
                .iter()
                .any(|k| k.name.as_str().to_lowercase() == key)
            {
                return Err(DomainError::ApiKeyNameTaken {
                    name: name.to_string(),
                });
            }
            if working.len() >= MAX_WORKING_API_KEYS {
                return Err(DomainError::TooManyApiKeys {
                    max: MAX_WORKING_API_KEYS,
                });
            }
            Ok(vec![OrgEvent::ApiKeyCreated(ApiKeyCreated {
                key_id: *key_id,
                name: name.clone(),
                scopes: scopes.clone(),
                prefix: prefix.clone(),
                secret_digest: *secret_digest,
                created_by: actor,
                created_at: now,
                expires_at: *expires_at,
            })])
        }
        OrgCommand::RevokeApiKey { key_id } => {
            require_person_owner(org, actor, now)?;
            let key = org
                .api_keys
                .get(key_id)
                .ok_or(DomainError::ApiKeyNotFound)?;
            if key.revoked_at.is_some() {
                return Err(DomainError::ApiKeyAlreadyRevoked);
            }
            Ok(vec![OrgEvent::ApiKeyRevoked(ApiKeyRevoked {
                key_id: *key_id,
                revoked_by: actor,
                revoked_at: now,
            })])
        }
        OrgCommand::ConfigureSso { connection } => {
            require_person_owner(org, actor, now).map_err(|e| match e {
                DomainError::KeysManagedByPeopleOnly => DomainError::SsoManagedByPeopleOnly,
                other => other,
            })?;
            if connection.domains.is_empty()
                || connection.domains.len() > SsoConnection::MAX_DOMAINS
            {
                return Err(DomainError::SsoDomainCount {
                    max: SsoConnection::MAX_DOMAINS,
                });
            }
            if let Some(role) = &connection.join_role {
                check_role(org, role)?;
                if role.is_owner() {
                    return Err(DomainError::SsoJoinAsOwner);
                }
            }
            match &org.sso {
                Some(current) if current == connection => Ok(Vec::new()),
                Some(_) => Ok(vec![OrgEvent::SsoConnectionChanged(SsoConnectionChanged {
                    connection: connection.clone(),
                    changed_by: actor,
                    changed_at: now,
                })]),
                None => Ok(vec![OrgEvent::SsoConnectionConfigured(
                    SsoConnectionConfigured {
                        connection: connection.clone(),
                        configured_by: actor,
                        configured_at: now,
                    },
                )]),
            }
        }
        OrgCommand::RemoveSso => {
            require_person_owner(org, actor, now).map_err(|e| match e {
                DomainError::KeysManagedByPeopleOnly => DomainError::SsoManagedByPeopleOnly,
                other => other,
            })?;
            let current = org.sso.as_ref().ok_or(DomainError::NoSsoConnection)?;
            Ok(vec![OrgEvent::SsoConnectionRemoved(SsoConnectionRemoved {
                issuer: current.issuer.clone(),
                removed_by: actor,
                removed_at: now,
            })])
        }
        OrgCommand::LinkSsoIdentity { user_id, subject } => {
            require_self(actor, *user_id)?;
            let connection = org.sso.as_ref().ok_or(DomainError::NoSsoConnection)?;
            let member = member_of(org, user_id)?;
            if !connection.answers_for(&member.email) {
                return Err(DomainError::SsoDomainNotConnected {
                    email: member.email.to_string(),
                });
            }
            match (org.sso_links.get(subject), org.sso_subject_of(*user_id)) {
                (Some(linked), _) if linked == user_id => Ok(Vec::new()),
                (Some(_), _) => Err(DomainError::SsoSubjectLinkedElsewhere),
                (None, Some(_)) => Err(DomainError::SsoPersonLinkedElsewhere),
                (None, None) => Ok(vec![OrgEvent::SsoIdentityLinked(SsoIdentityLinked {
                    user_id: *user_id,
                    issuer: connection.issuer.clone(),
                    subject: subject.clone(),
                    linked_at: now,
                })]),
            }
        }
        OrgCommand::JoinBySso {
            user_id,
            email,
            full_name,
            subject,
        } => {
            require_self(actor, *user_id)?;
            let connection = org.sso.as_ref().ok_or(DomainError::NoSsoConnection)?;
            if !connection.answers_for(email) {
                return Err(DomainError::SsoDomainNotConnected {
                    email: email.to_string(),
                });
            }
            if let Some(member) = org
                .member_by_email(email)
                .or_else(|| org.members.get(user_id))
            {
                return Err(DomainError::AlreadyMember {
                    email: member.email.to_string(),
                    user_id: member.user_id,
                });
            }
            if org.sso_links.contains_key(subject) {
                return Err(DomainError::SsoSubjectLinkedElsewhere);
            }
            let role = connection
                .join_role
                .clone()
                .ok_or(DomainError::SsoJoinOff)?;
            check_role(org, &role)?;
            // Joining settles an open invitation for the address: it is
            // cancelled, so no second membership can come of it.
            let mut events: Vec<OrgEvent> = settle_invitation_of(org, email, actor, now).collect();
            events.push(OrgEvent::MemberJoinedBySso(MemberJoinedBySso {
                user_id: *user_id,
                email: email.clone(),
                full_name: full_name.clone(),
                role,
                issuer: connection.issuer.clone(),
                subject: subject.clone(),
                joined_at: now,
            }));
            Ok(events)
        }
        OrgCommand::RecordEmailSent {
            invitation_id,
            send_id,
            message_id,
        } => {
            require_owner(org, actor, now)?;
            let inv = org
                .invitations
                .get(invitation_id)
                .ok_or(DomainError::InvitationNotFound)?;
            if !inv.sends.contains(send_id) {
                return Err(DomainError::UnknownSend);
            }
            if inv.mailed.contains(send_id) {
                // Recorded already (by a worker that died before its checkpoint).
                return Ok(vec![]);
            }
            Ok(vec![OrgEvent::InvitationEmailSent(InvitationEmailSent {
                invitation_id: inv.id,
                send_id: *send_id,
                message_id: message_id.clone(),
                sent_at: now,
            })])
        }
        OrgCommand::RecordEmailFailed {
            invitation_id,
            send_id,
            reason,
            permanent,
        } => {
            require_owner(org, actor, now)?;
            let inv = org
                .invitations
                .get(invitation_id)
                .ok_or(DomainError::InvitationNotFound)?;
            if !inv.sends.contains(send_id) {
                return Err(DomainError::UnknownSend);
            }
            Ok(vec![OrgEvent::InvitationEmailFailed(
                InvitationEmailFailed {
                    invitation_id: inv.id,
                    send_id: *send_id,
                    reason: reason.clone(),
                    permanent: *permanent,
                    failed_at: now,
                },
            )])
        }
    }
}

/// The member `id` of the organization, or the rule that names its absence.
fn member_of<'a>(org: &'a Organization, id: &UserId) -> Result<&'a Member, DomainError> {
    org.members.get(id).ok_or(DomainError::MemberNotFound)
}

/// Only owners (and Roster itself) manage users and accounts, and keys the
/// owners gave the `manage` or `scim` scope, while they work.
fn require_owner(org: &Organization, actor: Actor, now: DateTime<Utc>) -> Result<(), DomainError> {
    match actor {
        Actor::System => Ok(()),
        Actor::User(id) => match org.members.get(&id) {
            Some(member) if member.owns() => Ok(()),
            _ => Err(DomainError::NotAnOwner),
        },
        // A directory (scim) manages members as an integration (manage) does.
        Actor::ApiKey(id) => match org.api_keys.get(&id) {
            Some(key) if key.allows(Scope::Manage, now) || key.allows(Scope::Scim, now) => Ok(()),
            _ => Err(DomainError::NotAnOwner),
        },
    }
}

/// Keys are managed by people who own the organization (or the operator), never
/// by a key: a leaked key cannot mint itself successors.
fn require_person_owner(
    org: &Organization,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    match actor {
        Actor::ApiKey(_) => Err(DomainError::KeysManagedByPeopleOnly),
        _ => require_owner(org, actor, now),
    }
}

/// The cancellation of `email`'s open invitation, if it has one: a person who
/// becomes a member another way (a directory, single sign-on) cannot also
/// join through it.
fn settle_invitation_of(
    org: &Organization,
    email: &crate::text::Email,
    by: Actor,
    now: DateTime<Utc>,
) -> impl Iterator<Item = OrgEvent> {
    org.open_invitation_for(email)
        .map(|i| {
            OrgEvent::InvitationCancelled(InvitationCancelled {
                invitation_id: i.id,
                cancelled_by: by,
                cancelled_at: now,
            })
        })
        .into_iter()
}

/// Linking an identity and joining are done by the person (or Roster itself).
fn require_self(actor: Actor, user: UserId) -> Result<(), DomainError> {
    match actor {
        Actor::System => Ok(()),
        Actor::User(id) if id == user => Ok(()),
        _ => Err(DomainError::NotThePerson),
    }
}

/// The most working keys one organization holds.
pub const MAX_WORKING_API_KEYS: usize = 50;

/// The role fits the organization's shape and names only its accounts.
fn check_role(org: &Organization, role: &Role) -> Result<(), DomainError> {
    if role.shape() != org.shape {
        return Err(DomainError::RoleShapeMismatch {
            org: org.shape,
            role: role.shape(),
        });
    }
    if let Role::Multi(MultiRole::Contributor(roles)) = role {
        if let Some((missing, _)) = roles.iter().find(|(a, _)| !org.accounts.contains_key(a)) {
            return Err(DomainError::UnknownAccount(*missing));
        }
    }
    Ok(())
}

/// A pending or expired invitation: the only kind resend and cancel act on.
fn open_invitation<'a>(
    org: &'a Organization,
    id: &crate::ids::InvitationId,
) -> Result<&'a Invitation, DomainError> {
    let inv = org
        .invitations
        .get(id)
        .ok_or(DomainError::InvitationNotFound)?;
    if inv.status.is_open() {
        Ok(inv)
    } else {
        Err(DomainError::InvitationClosed { status: inv.status })
    }
}

/// An invitation carries its inviter's authority: when an owner is removed or
/// stops being an owner, every invitation they sent that is still open is
/// cancelled, by whoever took their authority away, in the same decision — so it
/// can no longer make anyone a member (or an owner) on their word.
fn withdraw_invitations_of(
    org: &Organization,
    former_owner: UserId,
    by: Actor,
    now: DateTime<Utc>,
) -> impl Iterator<Item = OrgEvent> + '_ {
    org.invitations
        .values()
        .filter(move |i| i.status.is_open() && i.invited_by == Actor::User(former_owner))
        .map(move |i| {
            OrgEvent::InvitationCancelled(InvitationCancelled {
                invitation_id: i.id,
                cancelled_by: by,
                cancelled_at: now,
            })
        })
}
