//! The next expiry of every pending invitation, for the expiry worker to sleep
//! until the earliest one.

pub mod queries;

use std::collections::BTreeMap;

use async_trait::async_trait;
use roster_domain::OrgEvent;

use crate::bulk::{MemoryFold, TableRows};
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use roster_storage::db::{time_text, Tx};
use roster_storage::exec;

/// Projects `rm_deadlines`.
pub struct Deadlines;

#[async_trait]
impl Projection for Deadlines {
    fn name(&self) -> &'static str {
        "deadlines"
    }

    fn version(&self) -> i64 {
        // 2: the due index also orders by invitation, so the expiry worker pages
        // through many invitations sharing one deadline.
        2
    }

    fn tables(&self) -> &'static [&'static str] {
        &["rm_deadlines"]
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

    fn memory(&self) -> Option<Box<dyn MemoryFold>> {
        Some(Box::<DeadlinesFold>::default())
    }

    async fn apply(&self, tx: &mut Tx, s: &str, e: &ProjectedEvent) -> Result<(), ProjectionError> {
        let upsert = format!(
            "INSERT INTO rm_deadlines{s} (invitation_id, org_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (invitation_id) DO UPDATE SET expires_at = excluded.expires_at"
        );
        let delete = format!("DELETE FROM rm_deadlines{s} WHERE invitation_id = $1");
        match &e.event {
            OrgEvent::UserInvited(i) => {
                exec!(
                    tx,
                    &upsert,
                    i.invitation_id.to_string(),
                    e.org_id.to_string(),
                    time_text(i.expires_at)
                )?;
            }
            OrgEvent::InvitationResent(r) => {
                exec!(
                    tx,
                    &upsert,
                    r.invitation_id.to_string(),
                    e.org_id.to_string(),
                    time_text(r.expires_at)
                )?;
            }
            OrgEvent::InvitationExpired(x) => {
                exec!(tx, &delete, x.invitation_id.to_string())?;
            }
            OrgEvent::InvitationCancelled(c) => {
                exec!(tx, &delete, c.invitation_id.to_string())?;
            }
            OrgEvent::InvitationAccepted(a) => {
                exec!(tx, &delete, a.invitation_id.to_string())?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// The deadlines projection's rebuild twin: `invitation -> (org, expires_at)`.
#[derive(Default)]
struct DeadlinesFold {
    rows: BTreeMap<String, (String, String)>,
}

impl MemoryFold for DeadlinesFold {
    fn apply(&mut self, e: &ProjectedEvent) -> Result<(), crate::ProjectionError> {
        match &e.event {
            OrgEvent::UserInvited(i) => {
                self.rows.insert(
                    i.invitation_id.to_string(),
                    (e.org_id.to_string(), time_text(i.expires_at)),
                );
            }
            OrgEvent::InvitationResent(r) => {
                self.rows.insert(
                    r.invitation_id.to_string(),
                    (e.org_id.to_string(), time_text(r.expires_at)),
                );
            }
            OrgEvent::InvitationExpired(x) => {
                self.rows.remove(&x.invitation_id.to_string());
            }
            OrgEvent::InvitationCancelled(c) => {
                self.rows.remove(&c.invitation_id.to_string());
            }
            OrgEvent::InvitationAccepted(a) => {
                self.rows.remove(&a.invitation_id.to_string());
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Vec<TableRows> {
        let rows = self
            .rows
            .into_iter()
            .map(|(id, (org, expires))| vec![id.into(), org.into(), expires.into()])
            .collect();
        vec![TableRows {
            table: "rm_deadlines",
            columns: &["invitation_id", "org_id", "expires_at"],
            rows,
        }]
    }
}
