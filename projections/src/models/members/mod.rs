//! Organizations, their accounts and their members: what the member list and
//! `/me` read.

pub mod queries;

use roster_domain::OrgEvent;

use crate::models::{role_json, role_label};
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use crate::rows::{nullable, text, Cell, Rows, Table};
use roster_storage::db::time_text;

/// Projects `rm_orgs`, `rm_accounts` and `rm_members`.
pub struct Members;

static ORGS: Table = Table {
    name: "rm_orgs",
    columns: &[
        text("org_id"),
        text("name"),
        text("shape"),
        text("created_at"),
    ],
    key: 1,
    group: 1,
    append_only: false,
};

static ACCOUNTS: Table = Table {
    name: "rm_accounts",
    columns: &[
        text("org_id"),
        text("account_id"),
        text("name"),
        text("added_at"),
    ],
    key: 2,
    group: 2,
    append_only: false,
};

static MEMBERS: Table = Table {
    name: "rm_members",
    columns: &[
        text("org_id"),
        text("user_id"),
        text("email"),
        text("email_key"),
        text("full_name"),
        text("sort_key"),
        text("role"),
        text("role_label"),
        text("joined_at"),
        text("status"),
        text("origin"),
        nullable("external_id"),
        text("updated_at"),
    ],
    key: 2,
    group: 2,
    append_only: false,
};

/// Column index of an `rm_accounts` row's name.
const ACCOUNT_NAME: usize = 2;

/// Column indexes of `rm_members` rows.
const ROLE: usize = 6;
const ROLE_LABEL: usize = 7;
const STATUS: usize = 9;
const FULL_NAME: usize = 4;
const SORT_KEY: usize = 5;
const EXTERNAL_ID: usize = 11;
const UPDATED_AT: usize = 12;

static TABLES: [&Table; 3] = [&ORGS, &ACCOUNTS, &MEMBERS];

impl Projection for Members {
    fn name(&self) -> &'static str {
        "members"
    }

    fn version(&self) -> i64 {
        // 2: an index by address (a directory looks members up by `userName`).
        2
    }

    fn tables(&self) -> &'static [&'static Table] {
        &TABLES
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
                 role_label TEXT NOT NULL, joined_at TEXT NOT NULL, status TEXT NOT NULL, \
                 origin TEXT NOT NULL, external_id TEXT, updated_at TEXT NOT NULL, \
                 PRIMARY KEY (org_id, user_id))"
            ),
            format!("CREATE INDEX rm_members{s}_order ON rm_members{s} (org_id, sort_key, user_id)"),
            format!("CREATE INDEX rm_members{s}_user ON rm_members{s} (user_id)"),
            format!("CREATE INDEX rm_members{s}_email ON rm_members{s} (org_id, email_key)"),
        ]
    }

    fn apply(&self, rows: &mut Rows, e: &ProjectedEvent) -> Result<(), ProjectionError> {
        let org = Cell::from(e.org_id.to_string());
        match &e.event {
            OrgEvent::OrganizationCreated(c) => rows.put(
                &ORGS,
                vec![
                    org,
                    c.name.to_string().into(),
                    shape_text(c.shape).into(),
                    time_text(c.created_at).into(),
                ],
            ),
            OrgEvent::AccountAdded(a) => rows.put(
                &ACCOUNTS,
                vec![
                    org,
                    a.account_id.to_string().into(),
                    a.name.to_string().into(),
                    time_text(a.added_at).into(),
                ],
            ),
            OrgEvent::AccountRenamed(r) => {
                if let Some(row) =
                    rows.get_mut(&ACCOUNTS, &[org, r.account_id.to_string().into()])?
                {
                    row[ACCOUNT_NAME] = r.to.to_string().into();
                }
                Ok(())
            }
            OrgEvent::InvitationAccepted(a) => rows.put(
                &MEMBERS,
                vec![
                    org,
                    a.user_id.to_string().into(),
                    a.email.to_string().into(),
                    a.email.key().into(),
                    a.full_name.to_string().into(),
                    a.full_name.as_str().to_lowercase().into(),
                    role_json(&a.role)?.into(),
                    role_label(&a.role).into(),
                    time_text(a.accepted_at).into(),
                    "active".into(),
                    "invitation".into(),
                    Cell::Null,
                    time_text(a.accepted_at).into(),
                ],
            ),
            OrgEvent::MemberProvisioned(p) => rows.put(
                &MEMBERS,
                vec![
                    org,
                    p.user_id.to_string().into(),
                    p.email.to_string().into(),
                    p.email.key().into(),
                    p.full_name.to_string().into(),
                    p.full_name.as_str().to_lowercase().into(),
                    role_json(&p.role)?.into(),
                    role_label(&p.role).into(),
                    time_text(p.provisioned_at).into(),
                    "active".into(),
                    "directory".into(),
                    p.external_id.clone().map_or(Cell::Null, Cell::from),
                    time_text(p.provisioned_at).into(),
                ],
            ),
            OrgEvent::MemberJoinedBySso(j) => rows.put(
                &MEMBERS,
                vec![
                    org,
                    j.user_id.to_string().into(),
                    j.email.to_string().into(),
                    j.email.key().into(),
                    j.full_name.to_string().into(),
                    j.full_name.as_str().to_lowercase().into(),
                    role_json(&j.role)?.into(),
                    role_label(&j.role).into(),
                    time_text(j.joined_at).into(),
                    "active".into(),
                    "sso".into(),
                    Cell::Null,
                    time_text(j.joined_at).into(),
                ],
            ),
            OrgEvent::MemberDetailsChanged(d) => {
                if let Some(row) = rows.get_mut(&MEMBERS, &[org, d.user_id.to_string().into()])? {
                    row[FULL_NAME] = d.full_name.to_string().into();
                    row[SORT_KEY] = d.full_name.as_str().to_lowercase().into();
                    row[EXTERNAL_ID] = d.external_id.clone().map_or(Cell::Null, Cell::from);
                    row[UPDATED_AT] = time_text(d.changed_at).into();
                }
                Ok(())
            }
            OrgEvent::MemberSuspended(x) => {
                if let Some(row) = rows.get_mut(&MEMBERS, &[org, x.user_id.to_string().into()])? {
                    row[STATUS] = "suspended".into();
                    row[UPDATED_AT] = time_text(x.suspended_at).into();
                }
                Ok(())
            }
            OrgEvent::MemberRestored(x) => {
                if let Some(row) = rows.get_mut(&MEMBERS, &[org, x.user_id.to_string().into()])? {
                    row[STATUS] = "active".into();
                    row[UPDATED_AT] = time_text(x.restored_at).into();
                }
                Ok(())
            }
            OrgEvent::RoleChanged(r) => {
                if let Some(row) = rows.get_mut(&MEMBERS, &[org, r.user_id.to_string().into()])? {
                    row[ROLE] = role_json(&r.to)?.into();
                    row[ROLE_LABEL] = role_label(&r.to).into();
                    row[UPDATED_AT] = time_text(r.changed_at).into();
                }
                Ok(())
            }
            OrgEvent::MemberRemoved(r) => {
                rows.remove(&MEMBERS, &[org, r.user_id.to_string().into()])
            }
            _ => Ok(()),
        }
    }
}

fn shape_text(shape: roster_domain::OrgShape) -> String {
    serde_json::to_value(shape)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
