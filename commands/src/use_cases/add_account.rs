//! An owner adds an account to a multi-account organization.

use roster_domain::organization::OrgCommand;
use roster_domain::{AccountId, DisplayName};
use uuid::Uuid;

use super::{run_for, Recorded};
use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::UseCaseError;

/// The account added.
#[derive(Debug, Clone)]
pub struct AccountAdded {
    /// Its new id.
    pub account_id: AccountId,
    /// Its name.
    pub name: DisplayName,
    /// Where the log got to.
    pub recorded: Recorded,
}

/// Adds an account called `name`.
pub async fn add_account(
    app: &Application,
    owner: &OwnerOf,
    name: DisplayName,
) -> Result<AccountAdded, UseCaseError> {
    let account_id = AccountId::from_uuid(Uuid::now_v7());
    let outcome = run_for(
        app,
        owner,
        OrgCommand::AddAccount {
            account_id,
            name: name.clone(),
        },
    )
    .await?;
    Ok(AccountAdded {
        account_id,
        name,
        recorded: Recorded::from(&outcome),
    })
}
