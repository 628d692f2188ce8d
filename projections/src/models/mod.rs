//! The read models, one module each.

pub mod access;
pub mod deadlines;
pub mod history;
pub mod invitations;
pub mod links;
pub mod members;
pub mod periods;

use roster_domain::{MultiRole, Role, SingleRole};

use crate::cell::Cell;

/// The role as stored JSON text (same shape as in events). A role that cannot be
/// written is an error, never an empty cell a reader would misread.
pub(crate) fn role_json(role: &Role) -> Result<String, crate::ProjectionError> {
    serde_json::to_string(role).map_err(|e| {
        crate::ProjectionError::Inconsistent(format!("a role cannot be written as JSON: {e}"))
    })
}

/// The role as a stored-JSON cell: every role but a contributor's is a constant
/// (no allocation); a contributor's names their accounts.
pub(crate) fn role_cell(role: &Role) -> Result<Cell, crate::ProjectionError> {
    Ok(match role {
        Role::Single(SingleRole::Owner) => Cell::fixed(r#"{"shape":"single","role":"owner"}"#),
        Role::Single(SingleRole::Admin) => Cell::fixed(r#"{"shape":"single","role":"admin"}"#),
        Role::Single(SingleRole::Standard) => {
            Cell::fixed(r#"{"shape":"single","role":"standard"}"#)
        }
        Role::Multi(MultiRole::Owner) => Cell::fixed(r#"{"shape":"multi","org_role":"owner"}"#),
        Role::Multi(MultiRole::Contributor(_)) => Cell::from(role_json(role)?),
    })
}

/// The role's label as a cell.
pub(crate) fn label_cell(role: &Role) -> Cell {
    Cell::fixed(role.label())
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_domain::{AccountId, AccountRole};

    #[test]
    fn constant_role_cells_are_the_roles_stored_json() {
        let account = AccountId::from_uuid(uuid::Uuid::now_v7());
        for role in [
            Role::Single(SingleRole::Owner),
            Role::Single(SingleRole::Admin),
            Role::Single(SingleRole::Standard),
            Role::Multi(MultiRole::Owner),
            Role::Multi(MultiRole::Contributor(
                [(account, AccountRole::Admin)]
                    .into_iter()
                    .collect::<std::collections::BTreeMap<_, _>>()
                    .try_into()
                    .expect("one account"),
            )),
        ] {
            let cell = role_cell(&role).expect("role");
            assert_eq!(
                cell.as_text(),
                Some(role_json(&role).expect("json").as_str())
            );
        }
    }
}
