//! Every invitation link ever sent, by its token's digest: the holder of a link
//! that no longer works learns why (cancelled, used, or replaced by a newer
//! email) instead of a bare "not valid". The invitation's current state, read
//! from the organization itself, tells which.

pub mod queries;

use roster_domain::OrgEvent;

use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use crate::rows::{text, Cell, Rows, Table};

/// Projects `rm_invitation_links`.
pub struct Links;

/// One row per send. Digests of real links never repeat, but the log is the
/// truth and a fold must take any of it (imported or synthetic histories reuse
/// them): a later send with the same digest replaces the row, so the table is
/// written as changed rows, not appended to.
static LINKS: Table = Table {
    name: "rm_invitation_links",
    columns: &[text("token_digest"), text("org_id"), text("invitation_id")],
    key: 1,
    group: 1,
    append_only: false,
};

static TABLES: [&Table; 1] = [&LINKS];

impl Projection for Links {
    fn name(&self) -> &'static str {
        "links"
    }

    fn version(&self) -> i64 {
        1
    }

    fn tables(&self) -> &'static [&'static Table] {
        &TABLES
    }

    fn create_sql(&self, s: &str) -> Vec<String> {
        vec![format!(
            "CREATE TABLE rm_invitation_links{s} (token_digest TEXT PRIMARY KEY, org_id TEXT NOT NULL, \
             invitation_id TEXT NOT NULL)"
        )]
    }

    fn apply(&self, rows: &mut Rows, e: &ProjectedEvent) -> Result<(), ProjectionError> {
        let (invitation, digest) = match &e.event {
            OrgEvent::UserInvited(i) => (i.invitation_id, i.token_digest),
            OrgEvent::InvitationResent(r) => (r.invitation_id, r.token_digest),
            _ => return Ok(()),
        };
        rows.put(
            &LINKS,
            [
                Cell::Digest(*digest.as_bytes()),
                Cell::Id(e.org_id.as_uuid()),
                Cell::Id(invitation.as_uuid()),
            ],
        )
    }
}
