//! A signed-in member looks at themself: identity, organizations, roles, accounts.

use std::collections::BTreeMap;

use roster_domain::{AccountId, OrgId, OrgShape, UserId};
use roster_eventstore::Position;
use roster_projections::queries::{self, AccessScope};

use crate::application::Application;
use crate::error::UseCaseError;
use crate::use_cases::owner_queries::{read_after, Read};

/// A member's view of themself.
#[derive(Debug, Clone)]
pub struct MyProfile {
    /// Their identity.
    pub user_id: UserId,
    /// Their sign-in address (`None` only for an identity without events).
    pub email: Option<String>,
    /// Their name.
    pub full_name: Option<String>,
    /// Where they are a member.
    pub organizations: Vec<MyOrganization>,
}

/// One organization a member belongs to.
#[derive(Debug, Clone)]
pub struct MyOrganization {
    /// The organization.
    pub org_id: OrgId,
    /// Its name (`None` while not projected yet).
    pub name: Option<String>,
    /// Its shape (`None` while not projected yet).
    pub shape: Option<OrgShape>,
    /// Their org-level role.
    pub role: Option<String>,
    /// Their per-account roles.
    pub accounts: Vec<MyAccount>,
}

/// A per-account role.
#[derive(Debug, Clone)]
pub struct MyAccount {
    /// The account.
    pub account_id: AccountId,
    /// Its name (`None` while not projected yet).
    pub name: Option<String>,
    /// admin or standard.
    pub role: String,
}

/// The caller's identity and memberships, once the read models have reached
/// `after` (the position of the caller's own last change, e.g. joining an
/// organization), or after a bounded wait with `stale` set.
pub async fn my_profile_after(
    app: &Application,
    user: UserId,
    after: Option<Position>,
) -> Result<Read<MyProfile>, UseCaseError> {
    read_after(app, after, my_profile(app, user)).await
}

/// The caller's identity and memberships.
pub async fn my_profile(app: &Application, user: UserId) -> Result<MyProfile, UseCaseError> {
    let (email, full_name) = app
        .users
        .inspect(user, |u| {
            (
                u.map(|u| u.email.to_string()),
                u.map(|u| u.full_name.to_string()),
            )
        })
        .await?;
    let mut orgs: BTreeMap<OrgId, MyOrganization> = BTreeMap::new();
    for grant in queries::access_of(&app.read, user).await? {
        let entry = orgs.entry(grant.org_id).or_insert_with(|| MyOrganization {
            org_id: grant.org_id,
            name: None,
            shape: None,
            role: None,
            accounts: Vec::new(),
        });
        match grant.scope {
            AccessScope::Organization => entry.role = Some(grant.role),
            AccessScope::Account(account_id) => entry.accounts.push(MyAccount {
                account_id,
                name: None,
                role: grant.role,
            }),
        }
    }
    for (org, entry) in orgs.iter_mut() {
        if let Some(profile) = queries::org_profile(&app.read, *org).await? {
            entry.name = Some(profile.name);
            entry.shape = Some(profile.shape);
        }
        if entry.shape != Some(OrgShape::Multi) {
            continue;
        }
        let accounts = queries::accounts(&app.read, *org).await?;
        if entry.role.as_deref() == Some("owner") {
            // An owner of a multi-account organization is admin on every account by
            // rule (no per-account grants are kept for owners): list them all.
            entry.accounts = accounts
                .into_iter()
                .map(|a| MyAccount {
                    account_id: a.account_id,
                    name: Some(a.name),
                    role: "admin".to_owned(),
                })
                .collect();
        } else {
            // People read accounts by name; a page must not need an owner's
            // account list to say which accounts a contributor holds.
            for held in &mut entry.accounts {
                held.name = accounts
                    .iter()
                    .find(|a| a.account_id == held.account_id)
                    .map(|a| a.name.clone());
            }
        }
    }
    Ok(MyProfile {
        user_id: user,
        email,
        full_name,
        organizations: orgs.into_values().collect(),
    })
}
