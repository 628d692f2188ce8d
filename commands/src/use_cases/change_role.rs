//! An owner changes a member's role(s); the last owner cannot be demoted.

use roster_domain::organization::OrgCommand;
use roster_domain::{Role, UserId};

use super::{run_for, Recorded};
use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::UseCaseError;

/// What a role change did.
#[derive(Debug, Clone, Copy)]
pub struct RoleChanged {
    /// False when the member already had that role (nothing recorded).
    pub changed: bool,
    /// Where the log got to.
    pub recorded: Recorded,
}

/// Gives `member` the role described by `role`.
pub async fn change_role(
    app: &Application,
    owner: &OwnerOf,
    member: UserId,
    role: Role,
) -> Result<RoleChanged, UseCaseError> {
    let outcome = run_for(
        app,
        owner,
        OrgCommand::ChangeRole {
            user_id: member,
            role,
        },
    )
    .await?;
    Ok(RoleChanged {
        changed: !outcome.events.is_empty(),
        recorded: Recorded::from(&outcome),
    })
}
