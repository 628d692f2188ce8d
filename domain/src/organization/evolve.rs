//! Folding events into state. Total: every event applies; events recorded for
//! invitations or members the state does not know are ignored rather than
//! panicking, since the log is the truth and was validated when written.

use crate::organization::event::OrgEvent;
use crate::organization::state::{
    Account, ApiKey, Invitation, InvitationStatus, Member, Organization,
};

/// The state after `event`. `None` is the state before `OrganizationCreated`.
pub fn evolve(state: Option<Organization>, event: &OrgEvent) -> Option<Organization> {
    let mut org = match (state, event) {
        (None, OrgEvent::OrganizationCreated(e)) => {
            return Some(Organization::new(e.org_id, e.name.clone(), e.shape));
        }
        (None, _) => return None,
        (Some(org), _) => org,
    };
    match event {
        OrgEvent::OrganizationCreated(_) => {}
        OrgEvent::AccountAdded(e) => {
            org.accounts.insert(
                e.account_id,
                Account {
                    id: e.account_id,
                    name: e.name.clone(),
                },
            );
        }
        OrgEvent::AccountRenamed(e) => {
            if let Some(account) = org.accounts.get_mut(&e.account_id) {
                account.name = e.to.clone();
            }
        }
        OrgEvent::UserInvited(e) => {
            org.open_invitation_by_email
                .insert(e.email.key().to_owned(), e.invitation_id);
            org.invitations.insert(
                e.invitation_id,
                Invitation {
                    id: e.invitation_id,
                    email: e.email.clone(),
                    full_name: e.full_name.clone(),
                    role: e.role.clone(),
                    invited_by: e.invited_by,
                    status: InvitationStatus::Pending,
                    sends: vec![e.send_id],
                    mailed: Vec::new(),
                    token_digest: e.token_digest,
                    sent_at: e.sent_at,
                    expires_at: e.expires_at,
                },
            );
        }
        OrgEvent::InvitationResent(e) => {
            if let Some(inv) = org.invitations.get_mut(&e.invitation_id) {
                inv.status = InvitationStatus::Pending;
                inv.sends.push(e.send_id);
                inv.token_digest = e.token_digest;
                inv.sent_at = e.sent_at;
                inv.expires_at = e.expires_at;
            }
        }
        OrgEvent::InvitationCancelled(e) => {
            close(&mut org, e.invitation_id, InvitationStatus::Cancelled)
        }
        OrgEvent::InvitationChanged(e) => {
            if let Some(inv) = org.invitations.get_mut(&e.invitation_id) {
                inv.role = e.to.clone();
            }
        }
        OrgEvent::InvitationExpired(e) => {
            if let Some(inv) = org.invitations.get_mut(&e.invitation_id) {
                inv.status = InvitationStatus::Expired;
            }
        }
        OrgEvent::InvitationAccepted(e) => {
            close(&mut org, e.invitation_id, InvitationStatus::Accepted);
            admit(
                &mut org,
                Member {
                    user_id: e.user_id,
                    email: e.email.clone(),
                    full_name: e.full_name.clone(),
                    role: e.role.clone(),
                    joined_at: e.accepted_at,
                    suspended: false,
                    managed: false,
                    external_id: None,
                },
            );
        }
        OrgEvent::MemberProvisioned(e) => admit(
            &mut org,
            Member {
                user_id: e.user_id,
                email: e.email.clone(),
                full_name: e.full_name.clone(),
                role: e.role.clone(),
                joined_at: e.provisioned_at,
                suspended: false,
                managed: true,
                external_id: e.external_id.clone(),
            },
        ),
        OrgEvent::MemberDetailsChanged(e) => {
            if let Some(member) = org.members.get_mut(&e.user_id) {
                member.full_name = e.full_name.clone();
                member.external_id = e.external_id.clone();
            }
        }
        OrgEvent::MemberSuspended(e) => {
            if let Some(member) = org.members.get_mut(&e.user_id) {
                if member.owns() {
                    org.owners -= 1;
                }
                member.suspended = true;
            }
        }
        OrgEvent::MemberRestored(e) => {
            if let Some(member) = org.members.get_mut(&e.user_id) {
                if member.suspended && member.role.is_owner() {
                    org.owners += 1;
                }
                member.suspended = false;
            }
        }
        OrgEvent::RoleChanged(e) => {
            if let Some(member) = org.members.get_mut(&e.user_id).filter(|m| !m.suspended) {
                match (member.role.is_owner(), e.to.is_owner()) {
                    (true, false) => org.owners -= 1,
                    (false, true) => org.owners += 1,
                    _ => {}
                }
                member.role = e.to.clone();
            }
        }
        OrgEvent::MemberRemoved(e) => {
            if let Some(member) = org.members.remove(&e.user_id) {
                if member.owns() {
                    org.owners -= 1;
                }
                org.member_by_email.remove(member.email.key());
            }
            org.sso_links.retain(|_, u| *u != e.user_id);
        }
        OrgEvent::InvitationEmailSent(e) => {
            if let Some(inv) = org.invitations.get_mut(&e.invitation_id) {
                if !inv.mailed.contains(&e.send_id) {
                    inv.mailed.push(e.send_id);
                }
            }
        }
        OrgEvent::InvitationEmailFailed(_) => {}
        OrgEvent::ApiKeyCreated(e) => {
            org.api_keys.insert(
                e.key_id,
                ApiKey {
                    id: e.key_id,
                    name: e.name.clone(),
                    scopes: e.scopes.clone(),
                    prefix: e.prefix.clone(),
                    secret_digest: e.secret_digest,
                    created_by: e.created_by,
                    created_at: e.created_at,
                    expires_at: e.expires_at,
                    revoked_at: None,
                },
            );
        }
        OrgEvent::ApiKeyRevoked(e) => {
            if let Some(key) = org.api_keys.get_mut(&e.key_id) {
                key.revoked_at = Some(e.revoked_at);
            }
        }
        OrgEvent::SsoConnectionConfigured(e) => {
            org.sso_links.clear();
            org.sso = Some(e.connection.clone());
        }
        OrgEvent::SsoConnectionChanged(e) => {
            // Identities are the issuer's: another issuer starts unlinked.
            if org.sso.as_ref().map(|c| &c.issuer) != Some(&e.connection.issuer) {
                org.sso_links.clear();
            }
            org.sso = Some(e.connection.clone());
        }
        OrgEvent::SsoConnectionRemoved(_) => {
            org.sso = None;
            org.sso_links.clear();
        }
        OrgEvent::SsoIdentityLinked(e) => {
            org.sso_links.insert(e.subject.clone(), e.user_id);
        }
        OrgEvent::MemberJoinedBySso(e) => {
            admit(
                &mut org,
                Member {
                    user_id: e.user_id,
                    email: e.email.clone(),
                    full_name: e.full_name.clone(),
                    role: e.role.clone(),
                    joined_at: e.joined_at,
                    suspended: false,
                    managed: false,
                    external_id: None,
                },
            );
            org.sso_links.insert(e.subject.clone(), e.user_id);
        }
    }
    Some(org)
}

/// Makes `member` a member, indexed by address and counted if an owner.
fn admit(org: &mut Organization, member: Member) {
    if member.owns() {
        org.owners += 1;
    }
    org.member_by_email
        .insert(member.email.key().to_owned(), member.user_id);
    org.members.insert(member.user_id, member);
}

fn close(org: &mut Organization, id: crate::ids::InvitationId, status: InvitationStatus) {
    if let Some(inv) = org.invitations.get_mut(&id) {
        inv.status = status;
        if org.open_invitation_by_email.get(inv.email.key()) == Some(&id) {
            org.open_invitation_by_email.remove(inv.email.key());
        }
    }
}

/// Folds a whole history, oldest first.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a OrgEvent>) -> Option<Organization> {
    events.into_iter().fold(None, evolve)
}
