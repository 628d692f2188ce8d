//! Who holds which role on which organization and account: the one table
//! authorization reads. A row per member with scope `org` (their org-level role)
//! and, for contributors, a row per assigned account. Owners of multi-account
//! organizations have admin access to every account by rule, so no account rows
//! are kept for them: a query joins `rm_accounts` instead.

pub mod queries;

use std::collections::BTreeMap;

use async_trait::async_trait;
use roster_domain::{AccountRole, MultiRole, OrgEvent, Role, UserId};

use crate::bulk::{MemoryFold, TableRows};
use crate::models::role_label;
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use roster_storage::db::Tx;
use roster_storage::exec;

/// Projects `rm_access`.
pub struct Access;

async fn grant(
    tx: &mut Tx,
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

async fn revoke(tx: &mut Tx, s: &str, org: &str, user: UserId) -> Result<(), ProjectionError> {
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

    fn memory(&self) -> Option<Box<dyn MemoryFold>> {
        Some(Box::<AccessFold>::default())
    }

    async fn apply(&self, tx: &mut Tx, s: &str, e: &ProjectedEvent) -> Result<(), ProjectionError> {
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

/// The access projection's rebuild twin: `(org, user) -> scope -> role`.
#[derive(Default)]
struct AccessFold {
    rows: BTreeMap<(String, String), BTreeMap<String, String>>,
}

impl AccessFold {
    fn grant(&mut self, org: &str, user: UserId, role: &Role) {
        let scopes = self
            .rows
            .entry((org.to_owned(), user.to_string()))
            .or_default();
        scopes.insert("org".to_owned(), role_label(role).to_owned());
        if let Role::Multi(MultiRole::Contributor(accounts)) = role {
            for (account, account_role) in accounts.iter() {
                let label = match account_role {
                    AccountRole::Admin => "admin",
                    AccountRole::Standard => "standard",
                };
                scopes.insert(account.to_string(), label.to_owned());
            }
        }
    }

    fn revoke(&mut self, org: &str, user: UserId) {
        self.rows.remove(&(org.to_owned(), user.to_string()));
    }
}

impl MemoryFold for AccessFold {
    fn apply(&mut self, e: &ProjectedEvent) -> Result<(), crate::ProjectionError> {
        let org = e.org_id.to_string();
        match &e.event {
            OrgEvent::InvitationAccepted(a) => self.grant(&org, a.user_id, &a.role),
            OrgEvent::RoleChanged(r) => {
                self.revoke(&org, r.user_id);
                self.grant(&org, r.user_id, &r.to);
            }
            OrgEvent::MemberRemoved(r) => self.revoke(&org, r.user_id),
            _ => {}
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Vec<TableRows> {
        let rows = self
            .rows
            .into_iter()
            .flat_map(|((org, user), scopes)| {
                scopes.into_iter().map(move |(scope, role)| {
                    vec![
                        org.clone().into(),
                        user.clone().into(),
                        scope.into(),
                        role.into(),
                    ]
                })
            })
            .collect();
        vec![TableRows {
            table: "rm_access",
            columns: &["org_id", "user_id", "scope", "role"],
            rows,
        }]
    }
}
