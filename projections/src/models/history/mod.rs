//! Every organization event with its actor, time and a one-line summary a person
//! can read, for the audit history. Names are resolved from the history's own
//! small lookup tables, so the history never depends on another projection's
//! progress and replays to the same text.

pub mod queries;

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::FutureExt;
use roster_domain::organization::Actor;
use roster_domain::{AccountRole, MultiRole, OrgEvent, Role, SingleRole};
use roster_eventstore::Source;

use crate::bulk::{Cell, MemoryFold, TableRows};
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use roster_storage::db::{pos_i64, time_text, Tx};
use roster_storage::{exec, fetch};

/// Projects `rm_history` (plus `rm_history_people`, `rm_history_accounts`, `rm_history_invites`).
pub struct History;

/// Where summaries look up and remember display names: the history's own lookup
/// tables on the live path, plain maps on the rebuild path. One `describe`
/// serves both, so the two paths write the same text.
#[async_trait]
pub(crate) trait NameSource: Send {
    /// The label stored under `key` in lookup `table`, if any.
    async fn label(
        &mut self,
        table: &'static str,
        key_col: &'static str,
        key: String,
    ) -> Result<Option<String>, ProjectionError>;
    /// Stores `label` under `key` in lookup `table`.
    async fn remember(
        &mut self,
        table: &'static str,
        key_col: &'static str,
        key: String,
        label: String,
    ) -> Result<(), ProjectionError>;

    async fn person(&mut self, id: roster_domain::UserId) -> Result<String, ProjectionError> {
        Ok(self
            .label("rm_history_people", "user_id", id.to_string())
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
            .label("rm_history_invites", "invitation_id", id.to_string())
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
                        .label("rm_history_accounts", "account_id", account.to_string())
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

/// Names kept in the lookup tables (live path).
struct SqlNames<'a> {
    tx: &'a mut Tx,
    s: &'a str,
    org: String,
}

#[async_trait]
impl NameSource for SqlNames<'_> {
    async fn label(
        &mut self,
        table: &'static str,
        key_col: &'static str,
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
        table: &'static str,
        key_col: &'static str,
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
}

/// Names kept in maps (rebuild path): `(table, org, key) -> label`.
#[derive(Default)]
struct MemoryNames {
    org: String,
    labels: BTreeMap<(&'static str, String, String), String>,
}

#[async_trait]
impl NameSource for MemoryNames {
    async fn label(
        &mut self,
        table: &'static str,
        _key_col: &'static str,
        key: String,
    ) -> Result<Option<String>, ProjectionError> {
        Ok(self.labels.get(&(table, self.org.clone(), key)).cloned())
    }

    async fn remember(
        &mut self,
        table: &'static str,
        _key_col: &'static str,
        key: String,
        label: String,
    ) -> Result<(), ProjectionError> {
        self.labels.insert((table, self.org.clone(), key), label);
        Ok(())
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

async fn describe<N: NameSource>(
    names: &mut N,
    e: &ProjectedEvent,
) -> Result<Line, ProjectionError> {
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
                    "{} invited {who} as {}; the link is valid {}",
                    names.actor(&i.invited_by, src).await?,
                    names.role(&i.role).await?,
                    lifetime(i.expires_at - i.sent_at)
                ),
            }
        }
        OrgEvent::InvitationResent(r) => Line {
            actor_id: actor_id(&r.resent_by),
            subject: r.invitation_id.to_string(),
            summary: format!(
                "{} resent the invitation to {}; the link is valid {}",
                names.actor(&r.resent_by, src).await?,
                names.invitee(r.invitation_id).await?,
                lifetime(r.expires_at - r.sent_at)
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
        OrgEvent::MemberRemoved(r) if r.removed_by == Actor::User(r.user_id) => Line {
            actor_id: actor_id(&r.removed_by),
            subject: r.user_id.to_string(),
            summary: format!(
                "{} left the organization ({})",
                names.person(r.user_id).await?,
                names.role(&r.role).await?
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

    /// 2: a member who removed themself reads "left the organization"; invitations
    /// and resends say how long their link is valid.
    fn version(&self) -> i64 {
        2
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

    fn memory(&self) -> Option<Box<dyn MemoryFold>> {
        Some(Box::<HistoryFold>::default())
    }

    async fn apply(&self, tx: &mut Tx, s: &str, e: &ProjectedEvent) -> Result<(), ProjectionError> {
        let line = {
            let mut names = SqlNames {
                tx: &mut *tx,
                s,
                org: e.org_id.to_string(),
            };
            describe(&mut names, e).await?
        };
        let source = source_text(e);
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

fn source_text(e: &ProjectedEvent) -> String {
    serde_json::to_value(e.metadata.source)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

const HISTORY_COLUMNS: &[&str] = &[
    "position",
    "org_id",
    "event_id",
    "event_type",
    "actor_id",
    "subject",
    "summary",
    "source",
    "recorded_at",
];

/// The history's rebuild twin: rows are final as soon as they are made.
#[derive(Default)]
struct HistoryFold {
    names: MemoryNames,
    rows: Vec<Vec<Cell>>,
}

impl MemoryFold for HistoryFold {
    fn apply(&mut self, e: &ProjectedEvent) -> Result<(), crate::ProjectionError> {
        self.names.org = e.org_id.to_string();
        // The in-memory name source never waits, so the future is ready at once.
        let line = describe(&mut self.names, e)
            .now_or_never()
            .ok_or_else(|| {
                crate::ProjectionError::Inconsistent(
                    "the in-memory name source waited, which it never should".to_owned(),
                )
            })??;
        self.rows.push(vec![
            Cell::Int(pos_i64(e.position)),
            e.org_id.to_string().into(),
            e.event_id.to_string().into(),
            e.event.event_type().into(),
            line.actor_id.into(),
            line.subject.into(),
            line.summary.into(),
            source_text(e).into(),
            time_text(e.recorded_at).into(),
        ]);
        Ok(())
    }

    fn drain_final(&mut self) -> Vec<TableRows> {
        vec![TableRows {
            table: "rm_history",
            columns: HISTORY_COLUMNS,
            rows: std::mem::take(&mut self.rows),
        }]
    }

    fn finish(mut self: Box<Self>) -> Vec<TableRows> {
        let mut out = self.drain_final();
        let mut lookups: BTreeMap<&'static str, Vec<Vec<Cell>>> = BTreeMap::new();
        for ((table, org, key), label) in std::mem::take(&mut self.names.labels) {
            lookups
                .entry(table)
                .or_default()
                .push(vec![org.into(), key.into(), label.into()]);
        }
        for (table, rows) in lookups {
            let columns: &'static [&'static str] = match table {
                "rm_history_people" => &["org_id", "user_id", "label"],
                "rm_history_accounts" => &["org_id", "account_id", "label"],
                _ => &["org_id", "invitation_id", "label"],
            };
            out.push(TableRows {
                table,
                columns,
                rows,
            });
        }
        out
    }
}

/// A link's lifetime in words: "15 minutes", "90 seconds", "2 hours".
fn lifetime(d: chrono::Duration) -> String {
    let seconds = d.num_seconds();
    match seconds {
        s if s % 3600 == 0 => format!("{} hour{}", s / 3600, if s == 3600 { "" } else { "s" }),
        s if s % 60 == 0 => format!("{} minute{}", s / 60, if s == 60 { "" } else { "s" }),
        s => format!("{s} seconds"),
    }
}
