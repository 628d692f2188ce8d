//! What `/me` asks of `rm_access`.

use roster_domain::{AccountId, OrgId, UserId};
use serde::Serialize;

use crate::queries::{parse_column, QueryError};
use roster_storage::db::Db;
use roster_storage::fetch;

/// Where an access row applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AccessScope {
    /// The organization as a whole (the org-level role).
    Organization,
    /// One account.
    Account(AccountId),
}

/// One grant: a role in an organization or one of its accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRow {
    /// The organization.
    pub org_id: OrgId,
    /// The whole organization or one account.
    pub scope: AccessScope,
    /// owner, admin, standard or contributor.
    pub role: String,
}

/// A user's grants, by organization.
pub async fn access_of(db: &Db, user: UserId) -> Result<Vec<AccessRow>, QueryError> {
    let rows = fetch!(
        db db,
        fetch_all,
        (String, String, String),
        "SELECT org_id, scope, role FROM rm_access WHERE user_id = $1 ORDER BY org_id, scope",
        user.to_string()
    )?;
    rows.into_iter()
        .map(|(org, scope, role)| {
            Ok(AccessRow {
                org_id: parse_column("rm_access", "org_id", &org)?,
                scope: match scope.as_str() {
                    "org" => AccessScope::Organization,
                    account => AccessScope::Account(parse_column("rm_access", "scope", account)?),
                },
                role,
            })
        })
        .collect()
}

/// A user's org-level role in one organization (`None`: not a member).
pub async fn org_role(db: &Db, org: OrgId, user: UserId) -> Result<Option<String>, QueryError> {
    Ok(fetch!(
        db db,
        fetch_optional,
        (String,),
        "SELECT role FROM rm_access WHERE org_id = $1 AND user_id = $2 AND scope = 'org'",
        org.to_string(),
        user.to_string()
    )?
    .map(|(r,)| r))
}
