//! The next expiry of every pending invitation, for the expiry worker to sleep
//! until the earliest one.

use async_trait::async_trait;
use roster_domain::OrgEvent;

use crate::db::{time_text, ReadTx};
use crate::exec;
use crate::projection::{ProjectedEvent, Projection, ProjectionError};

/// Projects `rm_deadlines`.
pub struct Deadlines;

#[async_trait]
impl Projection for Deadlines {
    fn name(&self) -> &'static str {
        "deadlines"
    }

    fn version(&self) -> i64 {
        1
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
            format!("CREATE INDEX rm_deadlines{s}_due ON rm_deadlines{s} (expires_at)"),
        ]
    }

    async fn apply(
        &self,
        tx: &mut ReadTx,
        s: &str,
        e: &ProjectedEvent,
    ) -> Result<(), ProjectionError> {
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
