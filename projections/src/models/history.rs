//! Every organization event with its actor, time and a one-line summary a person
//! can read, for the audit history. Names are resolved from the history's own
//! small lookup tables, so the history never depends on another projection's
//! progress and replays to the same text.

use async_trait::async_trait;
use roster_domain::organization::Actor;
use roster_domain::{AccountRole, MultiRole, OrgEvent, Role, SingleRole};
use roster_eventstore::Source;

use crate::db::{pos_i64, time_text, ReadTx};
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use crate::{exec, fetch};

/// Projects `rm_history` (plus `rm_history_people`, `rm_history_accounts`, `rm_history_invites`).
pub struct History;

struct Names<'a> {
    tx: &'a mut ReadTx,
    s: &'a str,
    org: String,
}

impl Names<'_> {
    async fn lookup(
        &mut self,
        table: &str,
        key_col: &str,
        key: String,
    ) -> Result<Option<String>, ProjectionError> {
        let s = self.s;
        let row = fetch!(
            tx self.tx,
            fetch_optional,
            (String,),
            &format!("SELECT label FROM {table}{s} WHERE org_id = $1 AND {key_col} = $2"),
            self.org.clone(),
            key
        )?;
        Ok(row.map(|(l,)| l))
    }

    async fn remember(
        &mut self,
        table: &str,
        key_col: &str,
        key: String,
        label: String,
    ) -> Result<(), ProjectionError> {
        let s = self.s;
        exec!(
            self.tx,
            &format!(
                "INSERT INTO {table}{s} (org_id, {key_col}, label) VALUES ($1, $2, $3) \
                 ON CONFLICT (org_id, {key_col}) DO UPDATE SET label = excluded.label"
            ),
            self.org.clone(),
            key,
            label
        )?;
        Ok(())
    }

    async fn person(&mut self, id: roster_domain::UserId) -> Result<String, ProjectionError> {
        Ok(self
            .lookup("rm_history_people", "user_id", id.to_string())
            .await?
            .unwrap_or_else(|| format!("user {id}")))
    }

    async fn actor(&mut self, actor: &Actor, source: Source) -> Result<String, ProjectionError> {
        match actor {
            Actor::User(id) => self.person(*id).await,
            Actor::System if source == Source::Cli => Ok("The operator".to_owned()),
            Actor::System => Ok("Roster".to_owned()),
        }
    }

    async fn invitee(
        &mut self,
        id: roster_domain::InvitationId,
    ) -> Result<String, ProjectionError> {
        Ok(self
            .lookup("rm_history_invites", "invitation_id", id.to_string())
            .await?
            .unwrap_or_else(|| format!("invitation {id}")))
    }

    async fn role(&mut self, role: &Role) -> Result<String, ProjectionError> {
        Ok(match role {
            Role::Single(SingleRole::Owner) | Role::Multi(MultiRole::Owner) => "owner".to_owned(),
            Role::Single(SingleRole::Admin) => "admin".to_owned(),
            Role::Single(SingleRole::Standard) => "standard".to_owned(),
            Role::Multi(MultiRole::Contributor(accounts)) => {
                let mut parts = Vec::new();
                for (account, account_role) in accounts.iter() {
                    let name = self
                        .lookup("rm_history_accounts", "account_id", account.to_string())
                        .await?
                        .unwrap_or_else(|| account.to_string());
                    let r = match account_role {
                        AccountRole::Admin => "admin",
                        AccountRole::Standard => "standard",
                    };
                    parts.push(format!("{r} on {name}"));
                }
                format!("contributor ({})", parts.join(", "))
            }
        })
    }
}

/// Who did it (id or `system`), whom or what it was about, and the summary line.
struct Line {
    actor_id: String,
    subject: String,
    summary: String,
}

fn actor_id(actor: &Actor) -> String {
    super::invitations::actor_text(actor)
}

async fn describe(names: &mut Names<'_>, e: &ProjectedEvent) -> Result<Line, ProjectionError> {
    let src = e.metadata.source;
    Ok(match &e.event {
        OrgEvent::OrganizationCreated(c) => Line {
            actor_id: actor_id(&c.created_by),
            subject: e.org_id.to_string(),
            summary: format!(
                "{} created the {} organization \"{}\"",
                names.actor(&c.created_by, src).await?,
                c.shape,
                c.name
            ),
        },
        OrgEvent::AccountAdded(a) => {
            names
                .remember(
                    "rm_history_accounts",
                    "account_id",
                    a.account_id.to_string(),
                    a.name.to_string(),
                )
                .await?;
            Line {
                actor_id: actor_id(&a.added_by),
                subject: a.account_id.to_string(),
                summary: format!(
                    "{} added the account \"{}\"",
                    names.actor(&a.added_by, src).await?,
                    a.name
                ),
            }
        }
        OrgEvent::UserInvited(i) => {
            let who = format!("{} <{}>", i.full_name, i.email);
            names
                .remember(
                    "rm_history_invites",
                    "invitation_id",
                    i.invitation_id.to_string(),
                    who.clone(),
                )
                .await?;
            Line {
                actor_id: actor_id(&i.invited_by),
                subject: i.invitation_id.to_string(),
                summary: format!(
                    "{} invited {who} as {}",
                    names.actor(&i.invited_by, src).await?,
                    names.role(&i.role).await?
                ),
            }
        }
        OrgEvent::InvitationResent(r) => Line {
            actor_id: actor_id(&r.resent_by),
            subject: r.invitation_id.to_string(),
            summary: format!(
                "{} resent the invitation to {}",
                names.actor(&r.resent_by, src).await?,
                names.invitee(r.invitation_id).await?
            ),
        },
        OrgEvent::InvitationCancelled(c) => Line {
            actor_id: actor_id(&c.cancelled_by),
            subject: c.invitation_id.to_string(),
            summary: format!(
                "{} cancelled the invitation to {}",
                names.actor(&c.cancelled_by, src).await?,
                names.invitee(c.invitation_id).await?
            ),
        },
        OrgEvent::InvitationExpired(x) => Line {
            actor_id: "system".to_owned(),
            subject: x.invitation_id.to_string(),
            summary: format!(
                "The invitation to {} expired unused",
                names.invitee(x.invitation_id).await?
            ),
        },
        OrgEvent::InvitationAccepted(a) => {
            let who = format!("{} <{}>", a.full_name, a.email);
            names
                .remember(
                    "rm_history_people",
                    "user_id",
                    a.user_id.to_string(),
                    who.clone(),
                )
                .await?;
            Line {
                actor_id: a.user_id.to_string(),
                subject: a.user_id.to_string(),
                summary: format!(
                    "{who} accepted the invitation and joined as {}",
                    names.role(&a.role).await?
                ),
            }
        }
        OrgEvent::RoleChanged(r) => Line {
            actor_id: actor_id(&r.changed_by),
            subject: r.user_id.to_string(),
            summary: format!(
                "{} changed the role of {} from {} to {}",
                names.actor(&r.changed_by, src).await?,
                names.person(r.user_id).await?,
                names.role(&r.from).await?,
                names.role(&r.to).await?
            ),
        },
        OrgEvent::MemberRemoved(r) => Line {
            actor_id: actor_id(&r.removed_by),
            subject: r.user_id.to_string(),
            summary: format!(
                "{} removed {} ({})",
                names.actor(&r.removed_by, src).await?,
                names.person(r.user_id).await?,
                names.role(&r.role).await?
            ),
        },
        OrgEvent::InvitationEmailSent(m) => Line {
            actor_id: "system".to_owned(),
            subject: m.invitation_id.to_string(),
            summary: format!(
                "The invitation email to {} was handed to the mail server",
                names.invitee(m.invitation_id).await?
            ),
        },
        OrgEvent::InvitationEmailFailed(f) => Line {
            actor_id: "system".to_owned(),
            subject: f.invitation_id.to_string(),
            summary: format!(
                "The invitation email to {} failed ({}): {}",
                names.invitee(f.invitation_id).await?,
                if f.permanent { "gave up" } else { "will retry" },
                f.reason
            ),
        },
    })
}

#[async_trait]
impl Projection for History {
    fn name(&self) -> &'static str {
        "history"
    }

    fn version(&self) -> i64 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "rm_history",
            "rm_history_people",
            "rm_history_accounts",
            "rm_history_invites",
        ]
    }

    fn create_sql(&self, s: &str) -> Vec<String> {
        vec![
            format!(
                "CREATE TABLE rm_history{s} (position BIGINT PRIMARY KEY, org_id TEXT NOT NULL, \
                 event_id TEXT NOT NULL, event_type TEXT NOT NULL, actor_id TEXT NOT NULL, \
                 subject TEXT NOT NULL, summary TEXT NOT NULL, source TEXT NOT NULL, recorded_at TEXT NOT NULL)"
            ),
            format!("CREATE INDEX rm_history{s}_org ON rm_history{s} (org_id, position)"),
            format!(
                "CREATE TABLE rm_history_people{s} (org_id TEXT NOT NULL, user_id TEXT NOT NULL, \
                 label TEXT NOT NULL, PRIMARY KEY (org_id, user_id))"
            ),
            format!(
                "CREATE TABLE rm_history_accounts{s} (org_id TEXT NOT NULL, account_id TEXT NOT NULL, \
                 label TEXT NOT NULL, PRIMARY KEY (org_id, account_id))"
            ),
            format!(
                "CREATE TABLE rm_history_invites{s} (org_id TEXT NOT NULL, invitation_id TEXT NOT NULL, \
                 label TEXT NOT NULL, PRIMARY KEY (org_id, invitation_id))"
            ),
        ]
    }

    async fn apply(
        &self,
        tx: &mut ReadTx,
        s: &str,
        e: &ProjectedEvent,
    ) -> Result<(), ProjectionError> {
        let line = {
            let mut names = Names {
                tx: &mut *tx,
                s,
                org: e.org_id.to_string(),
            };
            describe(&mut names, e).await?
        };
        let source = serde_json::to_value(e.metadata.source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        exec!(
            tx,
            &format!(
                "INSERT INTO rm_history{s} (position, org_id, event_id, event_type, actor_id, subject, summary, \
                 source, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ),
            pos_i64(e.position),
            e.org_id.to_string(),
            e.event_id.to_string(),
            e.event.event_type(),
            line.actor_id,
            line.subject,
            line.summary,
            source,
            time_text(e.recorded_at)
        )?;
        Ok(())
    }
}
