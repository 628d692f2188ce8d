//! Pending and expired invitations with their email delivery state: the
//! *Pending invites* section. Accepted and cancelled invitations leave the list.

pub mod queries;

use std::collections::BTreeMap;

use async_trait::async_trait;
use roster_domain::organization::Actor;
use roster_domain::OrgEvent;

use crate::bulk::{Cell, MemoryFold, TableRows};
use crate::models::{role_json, role_label};
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use roster_storage::db::{time_text, Tx};
use roster_storage::exec;

/// Projects `rm_invitations`.
pub struct Invitations;

pub(crate) fn actor_text(actor: &Actor) -> String {
    match actor {
        Actor::User(id) => id.to_string(),
        Actor::System => "system".to_owned(),
    }
}

#[async_trait]
impl Projection for Invitations {
    fn name(&self) -> &'static str {
        "invitations"
    }

    fn version(&self) -> i64 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_invitations"]
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

    fn memory(&self) -> Option<Box<dyn MemoryFold>> {
        Some(Box::<InvitationsFold>::default())
    }

    async fn apply(&self, tx: &mut Tx, s: &str, e: &ProjectedEvent) -> Result<(), ProjectionError> {
        match &e.event {
            OrgEvent::UserInvited(i) => {
                exec!(
                    tx,
                    &format!(
                        "INSERT INTO rm_invitations{s} (invitation_id, org_id, email, email_key, full_name, role, \
                         role_label, invited_by, status, last_sent_at, expires_at, send_id, token_digest, delivery) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11, $12, 'queued')"
                    ),
                    i.invitation_id.to_string(),
                    e.org_id.to_string(),
                    i.email.to_string(),
                    i.email.key().to_owned(),
                    i.full_name.to_string(),
                    role_json(&i.role)?,
                    role_label(&i.role),
                    actor_text(&i.invited_by),
                    time_text(i.sent_at),
                    time_text(i.expires_at),
                    i.send_id.to_string(),
                    String::from(i.token_digest)
                )?;
            }
            OrgEvent::InvitationResent(r) => {
                exec!(
                    tx,
                    &format!(
                        "UPDATE rm_invitations{s} SET status = 'pending', last_sent_at = $2, expires_at = $3, \
                         send_id = $4, token_digest = $5, delivery = 'queued', delivery_detail = NULL \
                         WHERE invitation_id = $1"
                    ),
                    r.invitation_id.to_string(),
                    time_text(r.sent_at),
                    time_text(r.expires_at),
                    r.send_id.to_string(),
                    String::from(r.token_digest)
                )?;
            }
            OrgEvent::InvitationExpired(x) => {
                exec!(
                    tx,
                    &format!(
                        "UPDATE rm_invitations{s} SET status = 'expired' WHERE invitation_id = $1"
                    ),
                    x.invitation_id.to_string()
                )?;
            }
            OrgEvent::InvitationCancelled(c) => {
                exec!(
                    tx,
                    &format!("DELETE FROM rm_invitations{s} WHERE invitation_id = $1"),
                    c.invitation_id.to_string()
                )?;
            }
            OrgEvent::InvitationAccepted(a) => {
                exec!(
                    tx,
                    &format!("DELETE FROM rm_invitations{s} WHERE invitation_id = $1"),
                    a.invitation_id.to_string()
                )?;
            }
            OrgEvent::InvitationEmailSent(m) => {
                // Only the current send's outcome describes the invitation.
                exec!(
                    tx,
                    &format!(
                        "UPDATE rm_invitations{s} SET delivery = 'sent', delivery_detail = $3 \
                         WHERE invitation_id = $1 AND send_id = $2"
                    ),
                    m.invitation_id.to_string(),
                    m.send_id.to_string(),
                    m.message_id.clone()
                )?;
            }
            OrgEvent::InvitationEmailFailed(f) => {
                exec!(
                    tx,
                    &format!(
                        "UPDATE rm_invitations{s} SET delivery = $3, delivery_detail = $4 \
                         WHERE invitation_id = $1 AND send_id = $2"
                    ),
                    f.invitation_id.to_string(),
                    f.send_id.to_string(),
                    if f.permanent { "failed" } else { "retrying" },
                    f.reason.clone()
                )?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// The invitations projection's rebuild twin.
#[derive(Default)]
struct InvitationsFold {
    rows: BTreeMap<String, Vec<Cell>>,
}

const COLUMNS: &[&str] = &[
    "invitation_id",
    "org_id",
    "email",
    "email_key",
    "full_name",
    "role",
    "role_label",
    "invited_by",
    "status",
    "last_sent_at",
    "expires_at",
    "send_id",
    "token_digest",
    "delivery",
    "delivery_detail",
];
const STATUS: usize = 8;
const LAST_SENT: usize = 9;
const EXPIRES: usize = 10;
const SEND: usize = 11;
const DIGEST: usize = 12;
const DELIVERY: usize = 13;
const DETAIL: usize = 14;

impl MemoryFold for InvitationsFold {
    fn apply(&mut self, e: &ProjectedEvent) -> Result<(), crate::ProjectionError> {
        match &e.event {
            OrgEvent::UserInvited(i) => {
                let id = i.invitation_id.to_string();
                self.rows.insert(
                    id.clone(),
                    vec![
                        id.into(),
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
                );
            }
            OrgEvent::InvitationResent(r) => {
                if let Some(row) = self.rows.get_mut(&r.invitation_id.to_string()) {
                    row[STATUS] = "pending".into();
                    row[LAST_SENT] = time_text(r.sent_at).into();
                    row[EXPIRES] = time_text(r.expires_at).into();
                    row[SEND] = r.send_id.to_string().into();
                    row[DIGEST] = String::from(r.token_digest).into();
                    row[DELIVERY] = "queued".into();
                    row[DETAIL] = Cell::Null;
                }
            }
            OrgEvent::InvitationExpired(x) => {
                if let Some(row) = self.rows.get_mut(&x.invitation_id.to_string()) {
                    row[STATUS] = "expired".into();
                }
            }
            OrgEvent::InvitationCancelled(c) => {
                self.rows.remove(&c.invitation_id.to_string());
            }
            OrgEvent::InvitationAccepted(a) => {
                self.rows.remove(&a.invitation_id.to_string());
            }
            OrgEvent::InvitationEmailSent(m) => {
                if let Some(row) = self.rows.get_mut(&m.invitation_id.to_string()) {
                    if row[SEND] == Cell::Text(m.send_id.to_string()) {
                        row[DELIVERY] = "sent".into();
                        row[DETAIL] = m.message_id.as_str().into();
                    }
                }
            }
            OrgEvent::InvitationEmailFailed(f) => {
                if let Some(row) = self.rows.get_mut(&f.invitation_id.to_string()) {
                    if row[SEND] == Cell::Text(f.send_id.to_string()) {
                        row[DELIVERY] = (if f.permanent { "failed" } else { "retrying" }).into();
                        row[DETAIL] = f.reason.as_str().into();
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Vec<TableRows> {
        vec![TableRows {
            table: "rm_invitations",
            columns: COLUMNS,
            rows: self.rows.into_values().collect(),
        }]
    }
}
