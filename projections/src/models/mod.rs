//! The read models, one module each.

pub mod access;
pub mod deadlines;
pub mod history;
pub mod invitations;
pub mod members;

use roster_domain::Role;

/// The role as stored JSON text (same shape as in events).
pub(crate) fn role_json(role: &Role) -> String {
    serde_json::to_string(role).unwrap_or_default()
}

/// The one word a list shows and a filter matches (see [`Role::label`]).
pub(crate) fn role_label(role: &Role) -> &'static str {
    role.label()
}
