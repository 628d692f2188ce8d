//! The read models, one module each.

pub mod access;
pub mod deadlines;
pub mod history;
pub mod invitations;
pub mod links;
pub mod members;
pub mod periods;

use roster_domain::Role;

/// The role as stored JSON text (same shape as in events). A role that cannot be
/// written is an error, never an empty cell a reader would misread.
pub(crate) fn role_json(role: &Role) -> Result<String, crate::ProjectionError> {
    serde_json::to_string(role).map_err(|e| {
        crate::ProjectionError::Inconsistent(format!("a role cannot be written as JSON: {e}"))
    })
}

/// The one word a list shows and a filter matches (see [`Role::label`]).
pub(crate) fn role_label(role: &Role) -> &'static str {
    role.label()
}
