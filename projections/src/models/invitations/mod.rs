//! Pending and expired invitations with their email delivery state: the
//! *Pending invites* section. Accepted and cancelled invitations leave the list.

pub mod queries;

use roster_domain::organization::Actor;
use roster_domain::{InvitationId, OrgEvent};

use crate::models::{label_cell, role_cell};
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use crate::rows::{nullable, text, Cell, Rows, Table};

/// Projects `rm_invitations`.
pub struct Invitations;

static INVITATIONS: Table = Table {
    name: "rm_invitations",
    columns: &[
        text("invitation_id"),
        text("org_id"),
        text("email"),
        text("email_key"),
        text("full_name"),
        text("role"),
        text("role_label"),
        text("invited_by"),
        text("status"),
        text("last_sent_at"),
        text("expires_at"),
        text("send_id"),
        text("token_digest"),
        text("delivery"),
        nullable("delivery_detail"),
    ],
    key: 1,
    group: 1,
    append_only: false,
};

/// Column indexes of `rm_invitations` rows.
const ROLE: usize = 5;
const ROLE_LABEL: usize = 6;
const STATUS: usize = 8;
const LAST_SENT: usize = 9;
const EXPIRES: usize = 10;
const SEND: usize = 11;
const DIGEST: usize = 12;
const DELIVERY: usize = 13;
const DETAIL: usize = 14;

/// Who acted, as a cell: a user's id, `system`, or `api-key:<id>`.
pub(crate) fn actor_cell(actor: &Actor) -> Cell {
    match actor {
        Actor::User(id) => Cell::Id(id.as_uuid()),
        Actor::System => Cell::fixed("system"),
        Actor::ApiKey(_) => Cell::from(actor_text(actor)),
    }
}

pub(crate) fn actor_text(actor: &Actor) -> String {
    match actor {
        Actor::User(id) => id.to_string(),
        Actor::System => "system".to_owned(),
        Actor::ApiKey(id) => format!("api-key:{id}"),
    }
}

static TABLES: [&Table; 1] = [&INVITATIONS];

impl Projection for Invitations {
    fn name(&self) -> &'static str {
        "invitations"
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
                "CREATE TABLE rm_invitations{s} (invitation_id TEXT PRIMARY KEY, org_id TEXT NOT NULL, \
                 email TEXT NOT NULL, email_key TEXT NOT NULL, full_name TEXT NOT NULL, role TEXT NOT NULL, \
                 role_label TEXT NOT NULL, invited_by TEXT NOT NULL, status TEXT NOT NULL, \
                 last_sent_at TEXT NOT NULL, expires_at TEXT NOT NULL, send_id TEXT NOT NULL, \
                 token_digest TEXT NOT NULL, delivery TEXT NOT NULL, delivery_detail TEXT)"
            ),
            format!("CREATE INDEX rm_invitations{s}_org ON rm_invitations{s} (org_id, last_sent_at)"),
            format!("CREATE INDEX rm_invitations{s}_token ON rm_invitations{s} (token_digest)"),
        ]
    }

    fn apply(&self, rows: &mut Rows, e: &ProjectedEvent) -> Result<(), ProjectionError> {
        let id = |id: InvitationId| [Cell::Id(id.as_uuid())];
        match &e.event {
            OrgEvent::UserInvited(i) => {
                let row = [
                    Cell::Id(i.invitation_id.as_uuid()),
                    Cell::Id(e.org_id.as_uuid()),
                    rows.text(i.email.as_str()),
                    rows.text(i.email.key()),
                    rows.text(i.full_name.as_str()),
                    role_cell(&i.role)?,
                    label_cell(&i.role),
                    actor_cell(&i.invited_by),
                    Cell::fixed("pending"),
                    Cell::Time(i.sent_at),
                    Cell::Time(i.expires_at),
                    Cell::Id(i.send_id.as_uuid()),
                    Cell::Digest(*i.token_digest.as_bytes()),
                    Cell::fixed("queued"),
                    Cell::Null,
                ];
                rows.put(&INVITATIONS, row)
            }
            OrgEvent::InvitationResent(r) => {
                if let Some(row) = rows.get_mut(&INVITATIONS, &id(r.invitation_id))? {
                    row[STATUS] = Cell::fixed("pending");
                    row[LAST_SENT] = Cell::Time(r.sent_at);
                    row[EXPIRES] = Cell::Time(r.expires_at);
                    row[SEND] = Cell::Id(r.send_id.as_uuid());
                    row[DIGEST] = Cell::Digest(*r.token_digest.as_bytes());
                    row[DELIVERY] = Cell::fixed("queued");
                    row[DETAIL] = Cell::Null;
                }
                Ok(())
            }
            OrgEvent::InvitationChanged(c) => {
                if let Some(row) = rows.get_mut(&INVITATIONS, &id(c.invitation_id))? {
                    row[ROLE] = role_cell(&c.to)?;
                    row[ROLE_LABEL] = label_cell(&c.to);
                }
                Ok(())
            }
            OrgEvent::InvitationExpired(x) => {
                if let Some(row) = rows.get_mut(&INVITATIONS, &id(x.invitation_id))? {
                    row[STATUS] = Cell::fixed("expired");
                }
                Ok(())
            }
            OrgEvent::InvitationCancelled(c) => rows.remove(&INVITATIONS, &id(c.invitation_id)),
            OrgEvent::InvitationAccepted(a) => rows.remove(&INVITATIONS, &id(a.invitation_id)),
            // Only the current send's outcome describes the invitation.
            OrgEvent::InvitationEmailSent(m) => {
                let detail = rows.text(&m.message_id);
                if let Some(row) = rows.get_mut(&INVITATIONS, &id(m.invitation_id))? {
                    if row[SEND] == Cell::Id(m.send_id.as_uuid()) {
                        row[DELIVERY] = Cell::fixed("sent");
                        row[DETAIL] = detail;
                    }
                }
                Ok(())
            }
            OrgEvent::InvitationEmailFailed(f) => {
                if let Some(row) = rows.get_mut(&INVITATIONS, &id(f.invitation_id))? {
                    if row[SEND] == Cell::Id(f.send_id.as_uuid()) {
                        row[DELIVERY] =
                            Cell::fixed(if f.permanent { "failed" } else { "retrying" });
                        row[DETAIL] = Cell::text(&f.reason);
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
