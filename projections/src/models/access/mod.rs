//! Who holds which role on which organization and account: the one table
//! authorization reads. A row per member with scope `org` (their org-level role)
//! and, for contributors, a row per assigned account. Owners of multi-account
//! organizations have admin access to every account by rule, so no account rows
//! are kept for them: a query joins `rm_accounts` instead.

pub mod queries;

use roster_domain::{AccountRole, MultiRole, OrgEvent, Role, UserId};

use crate::models::label_cell;
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use crate::rows::{text, Cell, Rows, Table};

/// Projects `rm_access`.
pub struct Access;

/// A member's rows form one group, replaced whole when their role changes.
static ACCESS: Table = Table {
    name: "rm_access",
    columns: &[text("org_id"), text("user_id"), text("scope"), text("role")],
    key: 3,
    group: 2,
    append_only: false,
};

fn grant(rows: &mut Rows, org: &Cell, user: UserId, role: &Role) -> Result<(), ProjectionError> {
    let user = Cell::Id(user.as_uuid());
    rows.put(
        &ACCESS,
        [
            org.clone(),
            user.clone(),
            Cell::fixed("org"),
            label_cell(role),
        ],
    )?;
    if let Role::Multi(MultiRole::Contributor(accounts)) = role {
        for (account, account_role) in accounts.iter() {
            let label = match account_role {
                AccountRole::Admin => "admin",
                AccountRole::Standard => "standard",
            };
            rows.put(
                &ACCESS,
                [
                    org.clone(),
                    user.clone(),
                    Cell::Id(account.as_uuid()),
                    Cell::fixed(label),
                ],
            )?;
        }
    }
    Ok(())
}

fn revoke(rows: &mut Rows, org: &Cell, user: UserId) -> Result<(), ProjectionError> {
    rows.remove_group(&ACCESS, &[org.clone(), Cell::Id(user.as_uuid())])
}

static TABLES: [&Table; 1] = [&ACCESS];

impl Projection for Access {
    fn name(&self) -> &'static str {
        "access"
    }

    fn version(&self) -> i64 {
        1
    }

    fn tables(&self) -> &'static [&'static Table] {
        &TABLES
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

    fn apply(&self, rows: &mut Rows, e: &ProjectedEvent) -> Result<(), ProjectionError> {
        let org = Cell::Id(e.org_id.as_uuid());
        match &e.event {
            OrgEvent::InvitationAccepted(a) => grant(rows, &org, a.user_id, &a.role),
            OrgEvent::RoleChanged(r) => {
                revoke(rows, &org, r.user_id)?;
                grant(rows, &org, r.user_id, &r.to)
            }
            OrgEvent::MemberRemoved(r) => revoke(rows, &org, r.user_id),
            OrgEvent::MemberProvisioned(p) => grant(rows, &org, p.user_id, &p.role),
            OrgEvent::MemberJoinedBySso(j) => grant(rows, &org, j.user_id, &j.role),
            OrgEvent::MemberSuspended(x) => revoke(rows, &org, x.user_id),
            OrgEvent::MemberRestored(x) => grant(rows, &org, x.user_id, &x.role),
            _ => Ok(()),
        }
    }
}
