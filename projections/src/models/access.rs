//! Who holds which role on which organization and account: the one table
//! authorization reads. A row per member with scope `org` (their org-level role)
//! and, for contributors, a row per assigned account. Owners of multi-account
//! organizations have admin access to every account by rule, so no account rows
//! are kept for them: a query joins `rm_accounts` instead.

use async_trait::async_trait;
use roster_domain::{AccountRole, MultiRole, OrgEvent, Role, UserId};

use crate::db::ReadTx;
use crate::exec;
use crate::models::role_label;
use crate::projection::{ProjectedEvent, Projection, ProjectionError};

/// Projects `rm_access`.
pub struct Access;

async fn grant(
    tx: &mut ReadTx,
    s: &str,
    org: &str,
    user: UserId,
    role: &Role,
) -> Result<(), ProjectionError> {
    exec!(
        tx,
        &format!(
            "INSERT INTO rm_access{s} (org_id, user_id, scope, role) VALUES ($1, $2, 'org', $3)"
        ),
        org.to_owned(),
        user.to_string(),
        role_label(role)
    )?;
    if let Role::Multi(MultiRole::Contributor(accounts)) = role {
        for (account, account_role) in accounts.iter() {
            let label = match account_role {
                AccountRole::Admin => "admin",
                AccountRole::Standard => "standard",
            };
            exec!(
                tx,
                &format!("INSERT INTO rm_access{s} (org_id, user_id, scope, role) VALUES ($1, $2, $3, $4)"),
                org.to_owned(),
                user.to_string(),
                account.to_string(),
                label
            )?;
        }
    }
    Ok(())
}

async fn revoke(tx: &mut ReadTx, s: &str, org: &str, user: UserId) -> Result<(), ProjectionError> {
    exec!(
        tx,
        &format!("DELETE FROM rm_access{s} WHERE org_id = $1 AND user_id = $2"),
        org.to_owned(),
        user.to_string()
    )?;
    Ok(())
}

#[async_trait]
impl Projection for Access {
    fn name(&self) -> &'static str {
        "access"
    }

    fn version(&self) -> i64 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_access"]
    }

    fn create_sql(&self, s: &str) -> Vec<String> {
        vec![
            format!(
                "CREATE TABLE rm_access{s} (org_id TEXT NOT NULL, user_id TEXT NOT NULL, scope TEXT NOT NULL, \
                 role TEXT NOT NULL, PRIMARY KEY (org_id, user_id, scope))"
            ),
            format!("CREATE INDEX rm_access{s}_user ON rm_access{s} (user_id)"),
        ]
    }

    async fn apply(
        &self,
        tx: &mut ReadTx,
        s: &str,
        e: &ProjectedEvent,
    ) -> Result<(), ProjectionError> {
        let org = e.org_id.to_string();
        match &e.event {
            OrgEvent::InvitationAccepted(a) => grant(tx, s, &org, a.user_id, &a.role).await,
            OrgEvent::RoleChanged(r) => {
                revoke(tx, s, &org, r.user_id).await?;
                grant(tx, s, &org, r.user_id, &r.to).await
            }
            OrgEvent::MemberRemoved(r) => revoke(tx, s, &org, r.user_id).await,
            _ => Ok(()),
        }
    }
}
