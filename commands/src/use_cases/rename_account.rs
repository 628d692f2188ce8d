//! An owner renames an account of a multi-account organization.

use roster_domain::organization::OrgCommand;
use roster_domain::{AccountId, DisplayName};

use super::{run_for, Recorded};
use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::UseCaseError;

/// What a rename did.
#[derive(Debug, Clone, Copy)]
pub struct AccountRenamed {
    /// False when the account already had that name (nothing recorded).
    pub changed: bool,
    /// Where the log got to.
    pub recorded: Recorded,
}

/// Gives account `account_id` the name `name` (unique in the organization, ignoring case).
pub async fn rename_account(
    app: &Application,
    owner: &OwnerOf,
    account_id: AccountId,
    name: DisplayName,
) -> Result<AccountRenamed, UseCaseError> {
    let outcome = run_for(app, owner, OrgCommand::RenameAccount { account_id, name }).await?;
    Ok(AccountRenamed {
        changed: !outcome.events.is_empty(),
        recorded: Recorded::from(&outcome),
    })
}
