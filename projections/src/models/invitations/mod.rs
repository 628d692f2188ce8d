//! Pending and expired invitations with their email delivery state: the
//! *Pending invites* section. Accepted and cancelled invitations leave the list.

pub mod queries;

use roster_domain::organization::Actor;
use roster_domain::OrgEvent;

use crate::models::{role_json, role_label};
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use crate::rows::{nullable, text, Cell, Rows, Table};
use roster_storage::db::time_text;

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
        match &e.event {
            OrgEvent::UserInvited(i) => rows.put(
                &INVITATIONS,
                vec![
                    i.invitation_id.to_string().into(),
                    e.org_id.to_string().into(),
                    i.email.to_string().into(),
                    i.email.key().into(),
                    i.full_name.to_string().into(),
                    role_json(&i.role)?.into(),
                    role_label(&i.role).into(),
                    actor_text(&i.invited_by).into(),
                    "pending".into(),
                    time_text(i.sent_at).into(),
                    time_text(i.expires_at).into(),
                    i.send_id.to_string().into(),
                    String::from(i.token_digest).into(),
                    "queued".into(),
                    Cell::Null,
                ],
            ),
            OrgEvent::InvitationResent(r) => {
                if let Some(row) =
                    rows.get_mut(&INVITATIONS, &[r.invitation_id.to_string().into()])?
                {
                    row[STATUS] = "pending".into();
                    row[LAST_SENT] = time_text(r.sent_at).into();
                    row[EXPIRES] = time_text(r.expires_at).into();
                    row[SEND] = r.send_id.to_string().into();
                    row[DIGEST] = String::from(r.token_digest).into();
                    row[DELIVERY] = "queued".into();
                    row[DETAIL] = Cell::Null;
                }
                Ok(())
            }
            OrgEvent::InvitationChanged(c) => {
                if let Some(row) =
                    rows.get_mut(&INVITATIONS, &[c.invitation_id.to_string().into()])?
                {
                    row[ROLE] = role_json(&c.to)?.into();
                    row[ROLE_LABEL] = role_label(&c.to).into();
                }
                Ok(())
            }
            OrgEvent::InvitationExpired(x) => {
                if let Some(row) =
                    rows.get_mut(&INVITATIONS, &[x.invitation_id.to_string().into()])?
                {
                    row[STATUS] = "expired".into();
                }
                Ok(())
            }
            OrgEvent::InvitationCancelled(c) => {
                rows.remove(&INVITATIONS, &[c.invitation_id.to_string().into()])
            }
            OrgEvent::InvitationAccepted(a) => {
                rows.remove(&INVITATIONS, &[a.invitation_id.to_string().into()])
            }
            // Only the current send's outcome describes the invitation.
            OrgEvent::InvitationEmailSent(m) => {
                if let Some(row) =
                    rows.get_mut(&INVITATIONS, &[m.invitation_id.to_string().into()])?
                {
                    if row[SEND] == Cell::Text(m.send_id.to_string()) {
                        row[DELIVERY] = "sent".into();
                        row[DETAIL] = m.message_id.as_str().into();
                    }
                }
                Ok(())
            }
            OrgEvent::InvitationEmailFailed(f) => {
                if let Some(row) =
                    rows.get_mut(&INVITATIONS, &[f.invitation_id.to_string().into()])?
                {
                    if row[SEND] == Cell::Text(f.send_id.to_string()) {
                        row[DELIVERY] = (if f.permanent { "failed" } else { "retrying" }).into();
                        row[DETAIL] = f.reason.as_str().into();
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
