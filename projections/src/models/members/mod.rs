//! Organizations, their accounts and their members: what the member list and
//! `/me` read.

pub mod queries;

use roster_domain::OrgEvent;

use crate::models::{label_cell, role_cell};
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use crate::rows::{nullable, text, Cell, Rows, Table};

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
        let org = Cell::Id(e.org_id.as_uuid());
        match &e.event {
            OrgEvent::OrganizationCreated(c) => rows.put(
                &ORGS,
                [
                    org,
                    Cell::text(c.name.as_str()),
                    Cell::fixed(shape_text(c.shape)),
                    Cell::Time(c.created_at),
                ],
            ),
            OrgEvent::AccountAdded(a) => rows.put(
                &ACCOUNTS,
                [
                    org,
                    Cell::Id(a.account_id.as_uuid()),
                    Cell::text(a.name.as_str()),
                    Cell::Time(a.added_at),
                ],
            ),
            OrgEvent::AccountRenamed(r) => {
                if let Some(row) =
                    rows.get_mut(&ACCOUNTS, &[org, Cell::Id(r.account_id.as_uuid())])?
                {
                    row[ACCOUNT_NAME] = Cell::text(r.to.as_str());
                }
                Ok(())
            }
            OrgEvent::InvitationAccepted(a) => put_member(
                rows,
                org,
                Joined {
                    user: a.user_id,
                    email: &a.email,
                    name: &a.full_name,
                    role: &a.role,
                    at: a.accepted_at,
                    origin: "invitation",
                    external_id: None,
                },
            ),
            OrgEvent::MemberProvisioned(p) => put_member(
                rows,
                org,
                Joined {
                    user: p.user_id,
                    email: &p.email,
                    name: &p.full_name,
                    role: &p.role,
                    at: p.provisioned_at,
                    origin: "directory",
                    external_id: p.external_id.as_deref(),
                },
            ),
            OrgEvent::MemberJoinedBySso(j) => put_member(
                rows,
                org,
                Joined {
                    user: j.user_id,
                    email: &j.email,
                    name: &j.full_name,
                    role: &j.role,
                    at: j.joined_at,
                    origin: "sso",
                    external_id: None,
                },
            ),
            OrgEvent::MemberDetailsChanged(d) => {
                let name = rows.text(d.full_name.as_str());
                let sort_key = rows.lowercase(d.full_name.as_str());
                if let Some(row) = rows.get_mut(&MEMBERS, &[org, Cell::Id(d.user_id.as_uuid())])? {
                    row[FULL_NAME] = name;
                    row[SORT_KEY] = sort_key;
                    row[EXTERNAL_ID] = Cell::from(d.external_id.as_deref());
                    row[UPDATED_AT] = Cell::Time(d.changed_at);
                }
                Ok(())
            }
            OrgEvent::MemberSuspended(x) => {
                if let Some(row) = rows.get_mut(&MEMBERS, &[org, Cell::Id(x.user_id.as_uuid())])? {
                    row[STATUS] = Cell::fixed("suspended");
                    row[UPDATED_AT] = Cell::Time(x.suspended_at);
                }
                Ok(())
            }
            OrgEvent::MemberRestored(x) => {
                if let Some(row) = rows.get_mut(&MEMBERS, &[org, Cell::Id(x.user_id.as_uuid())])? {
                    row[STATUS] = Cell::fixed("active");
                    row[UPDATED_AT] = Cell::Time(x.restored_at);
                }
                Ok(())
            }
            OrgEvent::RoleChanged(r) => {
                if let Some(row) = rows.get_mut(&MEMBERS, &[org, Cell::Id(r.user_id.as_uuid())])? {
                    row[ROLE] = role_cell(&r.to)?;
                    row[ROLE_LABEL] = label_cell(&r.to);
                    row[UPDATED_AT] = Cell::Time(r.changed_at);
                }
                Ok(())
            }
            OrgEvent::MemberRemoved(r) => {
                rows.remove(&MEMBERS, &[org, Cell::Id(r.user_id.as_uuid())])
            }
            _ => Ok(()),
        }
    }
}

/// How a member came to be one, as the three joining events tell it.
struct Joined<'a> {
    user: roster_domain::UserId,
    email: &'a roster_domain::Email,
    name: &'a roster_domain::PersonName,
    role: &'a roster_domain::Role,
    at: chrono::DateTime<chrono::Utc>,
    origin: &'static str,
    external_id: Option<&'a str>,
}

/// Puts a new member's `rm_members` row.
fn put_member(rows: &mut Rows, org: Cell, j: Joined<'_>) -> Result<(), ProjectionError> {
    let row = [
        org,
        Cell::Id(j.user.as_uuid()),
        rows.text(j.email.as_str()),
        rows.text(j.email.key()),
        rows.text(j.name.as_str()),
        rows.lowercase(j.name.as_str()),
        role_cell(j.role)?,
        label_cell(j.role),
        Cell::Time(j.at),
        Cell::fixed("active"),
        Cell::fixed(j.origin),
        Cell::from(j.external_id),
        Cell::Time(j.at),
    ];
    rows.put(&MEMBERS, row)
}

/// The stored name of an organization shape.
fn shape_text(shape: roster_domain::OrgShape) -> &'static str {
    match shape {
        roster_domain::OrgShape::Single => "single",
        roster_domain::OrgShape::Multi => "multi",
    }
}
