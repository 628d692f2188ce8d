//! The read models, one module each.

pub mod access;
pub mod deadlines;
pub mod history;
pub mod invitations;
pub mod members;

use roster_domain::{MultiRole, Role, SingleRole};

/// The role as stored JSON text (same shape as in events).
pub(crate) fn role_json(role: &Role) -> String {
    serde_json::to_string(role).unwrap_or_default()
}

/// The one word a list shows and a filter matches: owner, admin, standard or contributor.
pub(crate) fn role_label(role: &Role) -> &'static str {
    match role {
        Role::Single(SingleRole::Owner) | Role::Multi(MultiRole::Owner) => "owner",
        Role::Single(SingleRole::Admin) => "admin",
        Role::Single(SingleRole::Standard) => "standard",
        Role::Multi(MultiRole::Contributor(_)) => "contributor",
    }
}
