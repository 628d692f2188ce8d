//! A role as a client describes it, before it is checked against the shape of the
//! organization it is meant for.

use std::collections::BTreeMap;

use roster_domain::{AccountId, AccountRole, OrgRole, OrgShape, Role, SingleRole};

use crate::error::FieldError;

/// `role` for single-account organizations; `org_role` (+ `accounts` for a
/// contributor) for multi-account ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleRequest {
    /// owner, admin or standard.
    pub role: Option<SingleRole>,
    /// owner or contributor.
    pub org_role: Option<OrgRole>,
    /// A contributor's accounts and their roles.
    pub accounts: Option<Vec<(AccountId, AccountRole)>>,
}

impl RoleRequest {
    /// The role, if it fits an organization of `shape`.
    pub fn for_shape(self, shape: OrgShape) -> Result<Role, FieldError> {
        let accounts = self
            .accounts
            .map(|list| list.into_iter().collect::<BTreeMap<_, _>>());
        Role::from_parts(shape, self.role, self.org_role, accounts)
            .map_err(|e| FieldError::new("role", e))
    }
}
