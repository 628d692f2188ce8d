//! Organizations, their accounts and their members: what the member list and
//! `/me` read.

use async_trait::async_trait;
use roster_domain::OrgEvent;

use crate::db::{time_text, ReadTx};
use crate::exec;
use crate::models::{role_json, role_label};
use crate::projection::{ProjectedEvent, Projection, ProjectionError};

/// Projects `rm_orgs`, `rm_accounts` and `rm_members`.
pub struct Members;

#[async_trait]
impl Projection for Members {
    fn name(&self) -> &'static str {
        "members"
    }

    fn version(&self) -> i64 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_orgs", "rm_accounts", "rm_members"]
    }

    fn create_sql(&self, s: &str) -> Vec<String> {
        vec![
            format!(
                "CREATE TABLE rm_orgs{s} (org_id TEXT PRIMARY KEY, name TEXT NOT NULL, shape TEXT NOT NULL, \
                 created_at TEXT NOT NULL)"
            ),
            format!(
                "CREATE TABLE rm_accounts{s} (org_id TEXT NOT NULL, account_id TEXT NOT NULL, name TEXT NOT NULL, \
                 added_at TEXT NOT NULL, PRIMARY KEY (org_id, account_id))"
            ),
            format!(
                "CREATE TABLE rm_members{s} (org_id TEXT NOT NULL, user_id TEXT NOT NULL, email TEXT NOT NULL, \
                 email_key TEXT NOT NULL, full_name TEXT NOT NULL, sort_key TEXT NOT NULL, role TEXT NOT NULL, \
                 role_label TEXT NOT NULL, joined_at TEXT NOT NULL, PRIMARY KEY (org_id, user_id))"
            ),
            format!("CREATE INDEX rm_members{s}_order ON rm_members{s} (org_id, sort_key, user_id)"),
            format!("CREATE INDEX rm_members{s}_user ON rm_members{s} (user_id)"),
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
            OrgEvent::OrganizationCreated(c) => {
                exec!(
                    tx,
                    &format!("INSERT INTO rm_orgs{s} (org_id, name, shape, created_at) VALUES ($1, $2, $3, $4)"),
                    org,
                    c.name.to_string(),
                    serde_json::to_value(c.shape).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                    time_text(c.created_at)
                )?;
            }
            OrgEvent::AccountAdded(a) => {
                exec!(
                    tx,
                    &format!("INSERT INTO rm_accounts{s} (org_id, account_id, name, added_at) VALUES ($1, $2, $3, $4)"),
                    org,
                    a.account_id.to_string(),
                    a.name.to_string(),
                    time_text(a.added_at)
                )?;
            }
            OrgEvent::InvitationAccepted(a) => {
                exec!(
                    tx,
                    &format!(
                        "INSERT INTO rm_members{s} (org_id, user_id, email, email_key, full_name, sort_key, role, \
                         role_label, joined_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    ),
                    org,
                    a.user_id.to_string(),
                    a.email.to_string(),
                    a.email.key().to_owned(),
                    a.full_name.to_string(),
                    a.full_name.as_str().to_lowercase(),
                    role_json(&a.role),
                    role_label(&a.role),
                    time_text(a.accepted_at)
                )?;
            }
            OrgEvent::RoleChanged(r) => {
                exec!(
                    tx,
                    &format!("UPDATE rm_members{s} SET role = $3, role_label = $4 WHERE org_id = $1 AND user_id = $2"),
                    org,
                    r.user_id.to_string(),
                    role_json(&r.to),
                    role_label(&r.to)
                )?;
            }
            OrgEvent::MemberRemoved(r) => {
                exec!(
                    tx,
                    &format!("DELETE FROM rm_members{s} WHERE org_id = $1 AND user_id = $2"),
                    org,
                    r.user_id.to_string()
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}
