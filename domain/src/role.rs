//! Organization shapes and roles, typed so that illegal combinations cannot be
//! built: a single-account member holds exactly one of three roles; a
//! multi-account member is an owner (admin everywhere, no per-account roles) or a
//! contributor holding at least one account role.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::AccountId;

/// The two kinds of organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgShape {
    /// One implicit account; roles owner, admin, standard.
    Single,
    /// Named accounts; org roles owner or contributor, plus per-account roles.
    Multi,
}

impl fmt::Display for OrgShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OrgShape::Single => "single-account",
            OrgShape::Multi => "multi-account",
        })
    }
}

/// A member's role in a single-account organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SingleRole {
    /// Manages users.
    Owner,
    /// View-only today; kept distinct from standard so features can diverge.
    Admin,
    /// View-only today.
    Standard,
}

/// A contributor's role on one account of a multi-account organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// View-only today; kept distinct from standard so features can diverge.
    Admin,
    /// View-only today.
    Standard,
}

/// A contributor's account roles: never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<AccountId, AccountRole>",
    into = "BTreeMap<AccountId, AccountRole>"
)]
pub struct AccountRoles(BTreeMap<AccountId, AccountRole>);

/// Why a set of account roles was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a contributor must hold a role on at least one account")]
pub struct NoAccountRoles;

impl AccountRoles {
    /// Checks that at least one account is named.
    pub fn new(roles: BTreeMap<AccountId, AccountRole>) -> Result<Self, NoAccountRoles> {
        if roles.is_empty() {
            Err(NoAccountRoles)
        } else {
            Ok(Self(roles))
        }
    }

    /// Each account and the role held on it.
    pub fn iter(&self) -> impl Iterator<Item = (&AccountId, &AccountRole)> {
        self.0.iter()
    }

    /// The role on `account`, if any.
    pub fn get(&self, account: &AccountId) -> Option<AccountRole> {
        self.0.get(account).copied()
    }
}

impl TryFrom<BTreeMap<AccountId, AccountRole>> for AccountRoles {
    type Error = NoAccountRoles;
    fn try_from(value: BTreeMap<AccountId, AccountRole>) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<AccountRoles> for BTreeMap<AccountId, AccountRole> {
    fn from(value: AccountRoles) -> Self {
        value.0
    }
}

/// A member's role in a multi-account organization.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MultiRole {
    /// Manages users; admin access to every account.
    Owner,
    /// Access only to the accounts assigned.
    Contributor(AccountRoles),
}

/// A member's (or invitee's) whole role; its variant fixes the org shape it fits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RoleWire", into = "RoleWire")]
pub enum Role {
    /// In a single-account organization.
    Single(SingleRole),
    /// In a multi-account organization.
    Multi(MultiRole),
}

impl Role {
    /// Owners, and only owners, manage users.
    pub fn is_owner(&self) -> bool {
        matches!(
            self,
            Role::Single(SingleRole::Owner) | Role::Multi(MultiRole::Owner)
        )
    }

    /// The organization shape this role belongs to.
    pub fn shape(&self) -> OrgShape {
        match self {
            Role::Single(_) => OrgShape::Single,
            Role::Multi(_) => OrgShape::Multi,
        }
    }

    /// The owner role of an organization of `shape`.
    pub fn owner_of(shape: OrgShape) -> Self {
        match shape {
            OrgShape::Single => Role::Single(SingleRole::Owner),
            OrgShape::Multi => Role::Multi(MultiRole::Owner),
        }
    }

    /// The one word a list shows and a filter matches: owner, admin, standard or
    /// contributor (a contributor's account roles are not in it).
    pub fn label(&self) -> &'static str {
        match self {
            Role::Single(SingleRole::Owner) | Role::Multi(MultiRole::Owner) => "owner",
            Role::Single(SingleRole::Admin) => "admin",
            Role::Single(SingleRole::Standard) => "standard",
            Role::Multi(MultiRole::Contributor(_)) => "contributor",
        }
    }

    /// Accounts named by the role (a contributor's); empty for everyone else.
    pub fn accounts(&self) -> Vec<AccountId> {
        match self {
            Role::Multi(MultiRole::Contributor(roles)) => roles.iter().map(|(a, _)| *a).collect(),
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Single(SingleRole::Owner) | Role::Multi(MultiRole::Owner) => f.write_str("owner"),
            Role::Single(SingleRole::Admin) => f.write_str("admin"),
            Role::Single(SingleRole::Standard) => f.write_str("standard"),
            Role::Multi(MultiRole::Contributor(roles)) => {
                f.write_str("contributor (")?;
                for (i, (account, role)) in roles.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    let role = match role {
                        AccountRole::Admin => "admin",
                        AccountRole::Standard => "standard",
                    };
                    write!(f, "{role} on {account}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// The organization-level role in a multi-account organization, as the API and
/// the stored JSON name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    /// See [`MultiRole::Owner`].
    Owner,
    /// See [`MultiRole::Contributor`].
    Contributor,
}

/// The stored JSON of a [`Role`]: `{"shape":"single","role":"admin"}`,
/// `{"shape":"multi","org_role":"owner"}` or
/// `{"shape":"multi","org_role":"contributor","accounts":{"<id>":"standard"}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleWire {
    shape: OrgShape,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<SingleRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org_role: Option<OrgRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    accounts: Option<BTreeMap<AccountId, AccountRole>>,
}

/// Why a role description does not make a valid role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// Single-account roles need `role` and nothing else.
    #[error(
        "a single-account role needs `role` (owner, admin or standard) and no org role or accounts"
    )]
    SingleShape,
    /// Multi-account roles need `org_role`.
    #[error("a multi-account role needs `org_role` (owner or contributor) and no `role`")]
    MultiShape,
    /// Owners hold no per-account roles.
    #[error("an owner has admin access to every account and takes no account roles")]
    OwnerWithAccounts,
    /// Contributors need at least one account.
    #[error(transparent)]
    NoAccountRoles(#[from] NoAccountRoles),
}

impl Role {
    /// Builds a role from its parts as an API client sends them, refusing mixtures.
    pub fn from_parts(
        shape: OrgShape,
        role: Option<SingleRole>,
        org_role: Option<OrgRole>,
        accounts: Option<BTreeMap<AccountId, AccountRole>>,
    ) -> Result<Self, RoleError> {
        match shape {
            OrgShape::Single => match (role, org_role, accounts) {
                (Some(role), None, None) => Ok(Role::Single(role)),
                _ => Err(RoleError::SingleShape),
            },
            OrgShape::Multi => match (role, org_role, accounts) {
                (None, Some(OrgRole::Owner), None) => Ok(Role::Multi(MultiRole::Owner)),
                (None, Some(OrgRole::Owner), Some(a)) if a.is_empty() => {
                    Ok(Role::Multi(MultiRole::Owner))
                }
                (None, Some(OrgRole::Owner), Some(_)) => Err(RoleError::OwnerWithAccounts),
                (None, Some(OrgRole::Contributor), accounts) => Ok(Role::Multi(
                    MultiRole::Contributor(AccountRoles::new(accounts.unwrap_or_default())?),
                )),
                _ => Err(RoleError::MultiShape),
            },
        }
    }
}

impl TryFrom<RoleWire> for Role {
    type Error = RoleError;
    fn try_from(w: RoleWire) -> Result<Self, Self::Error> {
        Role::from_parts(w.shape, w.role, w.org_role, w.accounts)
    }
}

impl From<Role> for RoleWire {
    fn from(role: Role) -> Self {
        match role {
            Role::Single(r) => RoleWire {
                shape: OrgShape::Single,
                role: Some(r),
                org_role: None,
                accounts: None,
            },
            Role::Multi(MultiRole::Owner) => RoleWire {
                shape: OrgShape::Multi,
                role: None,
                org_role: Some(OrgRole::Owner),
                accounts: None,
            },
            Role::Multi(MultiRole::Contributor(roles)) => RoleWire {
                shape: OrgShape::Multi,
                role: None,
                org_role: Some(OrgRole::Contributor),
                accounts: Some(roles.into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn account() -> AccountId {
        AccountId::from_uuid(Uuid::from_u128(7))
    }

    #[test]
    fn roles_round_trip_through_their_stored_json() {
        let contributor = Role::Multi(MultiRole::Contributor(
            AccountRoles::new(BTreeMap::from([(account(), AccountRole::Admin)]))
                .expect("non-empty"),
        ));
        for role in [
            Role::Single(SingleRole::Admin),
            Role::Multi(MultiRole::Owner),
            contributor,
        ] {
            let json = serde_json::to_value(&role).expect("json");
            assert_eq!(serde_json::from_value::<Role>(json).expect("parse"), role);
        }
    }

    #[test]
    fn a_contributor_without_accounts_cannot_be_built() {
        let err = Role::from_parts(OrgShape::Multi, None, Some(OrgRole::Contributor), None);
        assert_eq!(err, Err(RoleError::NoAccountRoles(NoAccountRoles)));
        let json = serde_json::json!({"shape": "multi", "org_role": "contributor", "accounts": {}});
        assert!(serde_json::from_value::<Role>(json).is_err());
    }

    #[test]
    fn mixed_shapes_are_refused() {
        assert_eq!(
            Role::from_parts(
                OrgShape::Single,
                Some(SingleRole::Admin),
                Some(OrgRole::Owner),
                None
            ),
            Err(RoleError::SingleShape)
        );
        assert_eq!(
            Role::from_parts(OrgShape::Multi, Some(SingleRole::Admin), None, None),
            Err(RoleError::MultiShape)
        );
        assert_eq!(
            Role::from_parts(
                OrgShape::Multi,
                None,
                Some(OrgRole::Owner),
                Some(BTreeMap::from([(account(), AccountRole::Standard)]))
            ),
            Err(RoleError::OwnerWithAccounts)
        );
    }
}
