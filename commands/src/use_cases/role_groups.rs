//! Roles as groups (a directory's group push): joining a group gives its role,
//! leaving it gives back the organization's default (Standard; in a
//! multi-account organization, contributor without that account, or Standard
//! on every account). Decided on the organization's own state, never on a read
//! model that may lag; each change is an ordinary `ChangeRole`, so the last
//! owner stays.

use std::collections::{BTreeMap, BTreeSet};

use roster_domain::organization::OrgCommand;
use roster_domain::{
    AccountId, AccountRole, AccountRoles, DomainError, MultiRole, OrgShape, Role, SingleRole,
    UserId,
};

use super::{run_for, Recorded};
use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::UseCaseError;

/// The most member changes one request makes.
pub const MAX_CHANGES: usize = 1_000;

/// What holding a group means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleGroup {
    /// A role of a single-account organization.
    Single(SingleRole),
    /// The owners of a multi-account organization.
    MultiOwner,
    /// An account's admins or standard users.
    Account(AccountId, AccountRole),
}

impl RoleGroup {
    /// The group a SCIM id names in an organization of `shape`: `owner`, `admin`,
    /// `standard`, or `<account id>.admin` / `.standard`.
    pub fn named(shape: OrgShape, id: &str) -> Option<RoleGroup> {
        match (shape, id) {
            (OrgShape::Single, "owner") => Some(RoleGroup::Single(SingleRole::Owner)),
            (OrgShape::Single, "admin") => Some(RoleGroup::Single(SingleRole::Admin)),
            (OrgShape::Single, "standard") => Some(RoleGroup::Single(SingleRole::Standard)),
            (OrgShape::Multi, "owner") => Some(RoleGroup::MultiOwner),
            (OrgShape::Multi, id) => {
                let (account, role) = id.rsplit_once('.')?;
                let role = match role {
                    "admin" => AccountRole::Admin,
                    "standard" => AccountRole::Standard,
                    _ => return None,
                };
                Some(RoleGroup::Account(account.parse().ok()?, role))
            }
            _ => None,
        }
    }
}

/// Whether `role` holds the group.
pub fn holds(role: &Role, group: RoleGroup) -> bool {
    match (group, role) {
        (RoleGroup::Single(g), Role::Single(r)) => g == *r,
        (RoleGroup::MultiOwner, Role::Multi(MultiRole::Owner)) => true,
        (RoleGroup::Account(a, g), Role::Multi(MultiRole::Contributor(held))) => {
            held.get(&a) == Some(g)
        }
        _ => false,
    }
}

/// The role a member falls back to, or a directory gives a new member: Standard
/// in a single-account organization; in a multi-account one, contributor with
/// Standard on every account (none when it has no accounts).
pub fn default_role(shape: OrgShape, accounts: &[AccountId]) -> Option<Role> {
    match shape {
        OrgShape::Single => Some(Role::Single(SingleRole::Standard)),
        OrgShape::Multi => AccountRoles::new(
            accounts
                .iter()
                .map(|a| (*a, AccountRole::Standard))
                .collect(),
        )
        .ok()
        .map(|r| Role::Multi(MultiRole::Contributor(r))),
    }
}

/// The role `current` becomes when the member joins (`add`) or leaves the group.
fn next_role(current: &Role, group: RoleGroup, add: bool, accounts: &[AccountId]) -> Option<Role> {
    match (group, add) {
        (RoleGroup::Single(r), true) => Some(Role::Single(r)),
        (RoleGroup::Single(_), false) => Some(Role::Single(SingleRole::Standard)),
        (RoleGroup::MultiOwner, true) => Some(Role::Multi(MultiRole::Owner)),
        (RoleGroup::MultiOwner, false) => default_role(OrgShape::Multi, accounts),
        (RoleGroup::Account(a, r), true) => {
            let mut held: BTreeMap<AccountId, AccountRole> = match current {
                Role::Multi(MultiRole::Contributor(h)) => h.iter().map(|(k, v)| (*k, *v)).collect(),
                // An owner already holds every account: nothing to add.
                _ => return None,
            };
            held.insert(a, r);
            AccountRoles::new(held)
                .ok()
                .map(|h| Role::Multi(MultiRole::Contributor(h)))
        }
        (RoleGroup::Account(a, _), false) => {
            let Role::Multi(MultiRole::Contributor(h)) = current else {
                return None;
            };
            let held: BTreeMap<AccountId, AccountRole> = h
                .iter()
                .filter(|(k, _)| **k != a)
                .map(|(k, v)| (*k, *v))
                .collect();
            match AccountRoles::new(held) {
                Ok(rest) => Some(Role::Multi(MultiRole::Contributor(rest))),
                // Their last account: back to the default, Standard everywhere.
                Err(_) => default_role(OrgShape::Multi, accounts),
            }
        }
    }
}

/// Adds (`true`) or removes (`false`) each member of `changes` to or from
/// `group`. A person who is not a member is refused (nothing after them runs).
pub async fn change(
    app: &Application,
    owner: &OwnerOf,
    group: RoleGroup,
    changes: &[(UserId, bool)],
) -> Result<Recorded, UseCaseError> {
    if changes.len() > MAX_CHANGES {
        return Err(UseCaseError::field(
            "members",
            format!("at most {MAX_CHANGES} member changes a request"),
        ));
    }
    let mut recorded = Recorded { position: None };
    for (user, add) in changes {
        let (role, accounts) = app
            .orgs
            .inspect(owner.org_id(), |org| {
                org.and_then(|o| {
                    o.members.get(user).map(|m| {
                        (
                            m.role.clone(),
                            o.accounts.keys().copied().collect::<Vec<_>>(),
                        )
                    })
                })
            })
            .await?
            .ok_or(UseCaseError::Refused(DomainError::MemberNotFound))?;
        if holds(&role, group) == *add {
            continue;
        }
        let Some(role) = next_role(&role, group, *add, &accounts) else {
            continue;
        };
        let outcome = run_for(
            app,
            owner,
            OrgCommand::ChangeRole {
                user_id: *user,
                role,
            },
        )
        .await?;
        if let Some(p) = Recorded::from(&outcome).position {
            recorded.position = Some(p);
        }
    }
    Ok(recorded)
}

/// Makes `wanted` exactly the holders of `group`: additions first, so an
/// owner group never passes through empty.
pub async fn set_holders(
    app: &Application,
    owner: &OwnerOf,
    group: RoleGroup,
    wanted: &BTreeSet<UserId>,
) -> Result<Recorded, UseCaseError> {
    let current: BTreeSet<UserId> = app
        .orgs
        .inspect(owner.org_id(), |org| {
            org.map(|o| {
                o.members
                    .values()
                    .filter(|m| holds(&m.role, group))
                    .map(|m| m.user_id)
                    .collect()
            })
            .unwrap_or_default()
        })
        .await?;
    let changes: Vec<(UserId, bool)> = wanted
        .difference(&current)
        .map(|u| (*u, true))
        .chain(current.difference(wanted).map(|u| (*u, false)))
        .collect();
    change(app, owner, group, &changes).await
}
