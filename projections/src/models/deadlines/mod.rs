//! The next expiry of every pending invitation, for the expiry worker to sleep
//! until the earliest one.

pub mod queries;

use roster_domain::{InvitationId, OrgEvent};

use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use crate::rows::{text, Cell, Rows, Table};

/// Projects `rm_deadlines`.
pub struct Deadlines;

static DEADLINES: Table = Table {
    name: "rm_deadlines",
    columns: &[text("invitation_id"), text("org_id"), text("expires_at")],
    key: 1,
    group: 1,
    append_only: false,
};

static TABLES: [&Table; 1] = [&DEADLINES];

impl Projection for Deadlines {
    fn name(&self) -> &'static str {
        "deadlines"
    }

    fn version(&self) -> i64 {
        // 2: the due index also orders by invitation, so the expiry worker pages
        // through many invitations sharing one deadline.
        2
    }

    fn tables(&self) -> &'static [&'static Table] {
        &TABLES
    }

    fn create_sql(&self, s: &str) -> Vec<String> {
        vec![
            format!(
                "CREATE TABLE rm_deadlines{s} (invitation_id TEXT PRIMARY KEY, org_id TEXT NOT NULL, \
                 expires_at TEXT NOT NULL)"
            ),
            format!(
                "CREATE INDEX rm_deadlines{s}_due ON rm_deadlines{s} (expires_at, invitation_id)"
            ),
        ]
    }

    fn apply(&self, rows: &mut Rows, e: &ProjectedEvent) -> Result<(), ProjectionError> {
        let org = Cell::Id(e.org_id.as_uuid());
        let id = |id: InvitationId| Cell::Id(id.as_uuid());
        match &e.event {
            OrgEvent::UserInvited(i) => rows.put(
                &DEADLINES,
                [id(i.invitation_id), org, Cell::Time(i.expires_at)],
            ),
            OrgEvent::InvitationResent(r) => rows.put(
                &DEADLINES,
                [id(r.invitation_id), org, Cell::Time(r.expires_at)],
            ),
            OrgEvent::InvitationExpired(x) => rows.remove(&DEADLINES, &[id(x.invitation_id)]),
            OrgEvent::InvitationCancelled(c) => rows.remove(&DEADLINES, &[id(c.invitation_id)]),
            OrgEvent::InvitationAccepted(a) => rows.remove(&DEADLINES, &[id(a.invitation_id)]),
            _ => Ok(()),
        }
    }
}
