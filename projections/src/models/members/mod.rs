//! Organizations, their accounts and their members: what the member list and
//! `/me` read.

pub mod queries;

use std::collections::BTreeMap;

use async_trait::async_trait;
use roster_domain::OrgEvent;

use crate::bulk::{Cell, MemoryFold, TableRows};
use crate::models::{role_json, role_label};
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use roster_storage::db::{time_text, Tx};
use roster_storage::exec;

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

    fn memory(&self) -> Option<Box<dyn MemoryFold>> {
        Some(Box::<MembersFold>::default())
    }

    async fn apply(&self, tx: &mut Tx, s: &str, e: &ProjectedEvent) -> Result<(), ProjectionError> {
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
                    role_json(&a.role)?,
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
                    role_json(&r.to)?,
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

/// The members projection's rebuild twin.
#[derive(Default)]
struct MembersFold {
    orgs: BTreeMap<String, Vec<Cell>>,
    accounts: BTreeMap<(String, String), Vec<Cell>>,
    members: BTreeMap<(String, String), Vec<Cell>>,
}

/// Column indexes of `rm_members` rows (see `create_sql`).
const ROLE: usize = 6;
const ROLE_LABEL: usize = 7;

impl MemoryFold for MembersFold {
    fn apply(&mut self, e: &ProjectedEvent) -> Result<(), crate::ProjectionError> {
        let org = e.org_id.to_string();
        match &e.event {
            OrgEvent::OrganizationCreated(c) => {
                self.orgs.insert(
                    org.clone(),
                    vec![
                        org.into(),
                        c.name.to_string().into(),
                        shape_text(c.shape).into(),
                        time_text(c.created_at).into(),
                    ],
                );
            }
            OrgEvent::AccountAdded(a) => {
                let id = a.account_id.to_string();
                self.accounts.insert(
                    (org.clone(), id.clone()),
                    vec![
                        org.into(),
                        id.into(),
                        a.name.to_string().into(),
                        time_text(a.added_at).into(),
                    ],
                );
            }
            OrgEvent::InvitationAccepted(a) => {
                let user = a.user_id.to_string();
                self.members.insert(
                    (org.clone(), user.clone()),
                    vec![
                        org.into(),
                        user.into(),
                        a.email.to_string().into(),
                        a.email.key().into(),
                        a.full_name.to_string().into(),
                        a.full_name.as_str().to_lowercase().into(),
                        role_json(&a.role)?.into(),
                        role_label(&a.role).into(),
                        time_text(a.accepted_at).into(),
                    ],
                );
            }
            OrgEvent::RoleChanged(r) => {
                if let Some(row) = self.members.get_mut(&(org, r.user_id.to_string())) {
                    row[ROLE] = role_json(&r.to)?.into();
                    row[ROLE_LABEL] = role_label(&r.to).into();
                }
            }
            OrgEvent::MemberRemoved(r) => {
                self.members.remove(&(org, r.user_id.to_string()));
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Vec<TableRows> {
        vec![
            TableRows {
                table: "rm_orgs",
                columns: &["org_id", "name", "shape", "created_at"],
                rows: self.orgs.into_values().collect(),
            },
            TableRows {
                table: "rm_accounts",
                columns: &["org_id", "account_id", "name", "added_at"],
                rows: self.accounts.into_values().collect(),
            },
            TableRows {
                table: "rm_members",
                columns: &[
                    "org_id",
                    "user_id",
                    "email",
                    "email_key",
                    "full_name",
                    "sort_key",
                    "role",
                    "role_label",
                    "joined_at",
                ],
                rows: self.members.into_values().collect(),
            },
        ]
    }
}

fn shape_text(shape: roster_domain::OrgShape) -> String {
    serde_json::to_value(shape)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
