//! Every organization event with its actor, time and a one-line summary a person
//! can read, for the audit history. Names are resolved from the history's own
//! small lookup tables, so the history never depends on another projection's
//! progress and replays to the same text.

pub mod queries;

use roster_domain::organization::Actor;
use roster_domain::{AccountRole, MultiRole, OrgEvent, Role, SingleRole};
use roster_eventstore::Source;

use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use crate::rows::{int, text, Cell, Rows, Table};
use roster_storage::db::{pos_i64, time_text};

/// Projects `rm_history` (plus `rm_history_people`, `rm_history_accounts`,
/// `rm_history_invites`, `rm_history_keys`).
pub struct History;

static HISTORY: Table = Table {
    name: "rm_history",
    columns: &[
        int("position"),
        text("org_id"),
        text("event_id"),
        text("event_type"),
        text("actor_id"),
        text("subject"),
        text("summary"),
        text("source"),
        text("recorded_at"),
    ],
    key: 1,
    group: 1,
    append_only: true,
};

static PEOPLE: Table = Table {
    name: "rm_history_people",
    columns: &[text("org_id"), text("user_id"), text("label")],
    key: 2,
    group: 2,
    append_only: false,
};

static ACCOUNTS: Table = Table {
    name: "rm_history_accounts",
    columns: &[text("org_id"), text("account_id"), text("label")],
    key: 2,
    group: 2,
    append_only: false,
};

static KEYS: Table = Table {
    name: "rm_history_keys",
    columns: &[text("org_id"), text("key_id"), text("label")],
    key: 2,
    group: 2,
    append_only: false,
};

static INVITES: Table = Table {
    name: "rm_history_invites",
    columns: &[text("org_id"), text("invitation_id"), text("label")],
    key: 2,
    group: 2,
    append_only: false,
};

/// Display names remembered in the history's own lookup tables, within one
/// organization.
struct Names<'a> {
    rows: &'a mut Rows,
    org: Cell,
}

impl Names<'_> {
    /// The label stored under `key` in lookup `table`, if any.
    fn label(&mut self, table: &Table, key: String) -> Result<Option<String>, ProjectionError> {
        Ok(self
            .rows
            .get(table, &[self.org.clone(), key.into()])?
            .and_then(|row| row.get(2))
            .and_then(|cell| cell.as_text().map(str::to_owned)))
    }

    /// Stores `label` under `key` in lookup `table`.
    fn remember(
        &mut self,
        table: &Table,
        key: String,
        label: String,
    ) -> Result<(), ProjectionError> {
        self.rows
            .put(table, vec![self.org.clone(), key.into(), label.into()])
    }

    fn person(&mut self, id: roster_domain::UserId) -> Result<String, ProjectionError> {
        Ok(self
            .label(&PEOPLE, id.to_string())?
            .unwrap_or_else(|| format!("user {id}")))
    }

    fn actor(&mut self, actor: &Actor, source: Source) -> Result<String, ProjectionError> {
        match actor {
            Actor::User(id) => self.person(*id),
            Actor::System if source == Source::Cli => Ok("The operator".to_owned()),
            Actor::System => Ok("Roster".to_owned()),
            Actor::ApiKey(id) => Ok(self.label(&KEYS, id.to_string())?.map_or_else(
                || format!("API key {id}"),
                |name| format!("The API key “{name}”"),
            )),
        }
    }

    fn invitee(&mut self, id: roster_domain::InvitationId) -> Result<String, ProjectionError> {
        Ok(self
            .label(&INVITES, id.to_string())?
            .unwrap_or_else(|| format!("invitation {id}")))
    }

    fn role(&mut self, role: &Role) -> Result<String, ProjectionError> {
        Ok(match role {
            Role::Single(SingleRole::Owner) | Role::Multi(MultiRole::Owner) => "owner".to_owned(),
            Role::Single(SingleRole::Admin) => "admin".to_owned(),
            Role::Single(SingleRole::Standard) => "standard".to_owned(),
            Role::Multi(MultiRole::Contributor(accounts)) => {
                let mut parts = Vec::new();
                for (account, account_role) in accounts.iter() {
                    let name = self
                        .label(&ACCOUNTS, account.to_string())?
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

/// "example.com and example.org".
fn domain_list(c: &roster_domain::SsoConnection) -> String {
    let names: Vec<&str> = c.domains.iter().map(|d| d.as_str()).collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// "; required, people join as Standard" — what the connection asks of people.
fn sso_terms(
    names: &mut Names<'_>,
    c: &roster_domain::SsoConnection,
) -> Result<String, ProjectionError> {
    let mut terms = Vec::new();
    if c.enforced {
        terms.push("required for their members".to_owned());
    }
    if let Some(role) = &c.join_role {
        terms.push(format!(
            "people join as {} without an invitation",
            names.role(role)?
        ));
    }
    Ok(if terms.is_empty() {
        String::new()
    } else {
        format!("; {}", terms.join("; "))
    })
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

fn describe(names: &mut Names<'_>, e: &ProjectedEvent) -> Result<Line, ProjectionError> {
    let src = e.source;
    Ok(match &e.event {
        OrgEvent::OrganizationCreated(c) => Line {
            actor_id: actor_id(&c.created_by),
            subject: e.org_id.to_string(),
            summary: format!(
                "{} created the {} organization \"{}\"",
                names.actor(&c.created_by, src)?,
                c.shape,
                c.name
            ),
        },
        OrgEvent::AccountAdded(a) => {
            names.remember(&ACCOUNTS, a.account_id.to_string(), a.name.to_string())?;
            Line {
                actor_id: actor_id(&a.added_by),
                subject: a.account_id.to_string(),
                summary: format!(
                    "{} added the account \"{}\"",
                    names.actor(&a.added_by, src)?,
                    a.name
                ),
            }
        }
        OrgEvent::AccountRenamed(r) => {
            names.remember(&ACCOUNTS, r.account_id.to_string(), r.to.to_string())?;
            Line {
                actor_id: actor_id(&r.renamed_by),
                subject: r.account_id.to_string(),
                summary: format!(
                    "{} renamed the account \"{}\" to \"{}\"",
                    names.actor(&r.renamed_by, src)?,
                    r.from,
                    r.to
                ),
            }
        }
        OrgEvent::UserInvited(i) => {
            let who = format!("{} <{}>", i.full_name, i.email);
            names.remember(&INVITES, i.invitation_id.to_string(), who.clone())?;
            Line {
                actor_id: actor_id(&i.invited_by),
                subject: i.invitation_id.to_string(),
                summary: format!(
                    "{} invited {who} as {}; the link is valid {}",
                    names.actor(&i.invited_by, src)?,
                    names.role(&i.role)?,
                    lifetime(i.expires_at - i.sent_at)
                ),
            }
        }
        OrgEvent::InvitationResent(r) => Line {
            actor_id: actor_id(&r.resent_by),
            subject: r.invitation_id.to_string(),
            summary: format!(
                "{} resent the invitation to {}; the link is valid {}",
                names.actor(&r.resent_by, src)?,
                names.invitee(r.invitation_id)?,
                lifetime(r.expires_at - r.sent_at)
            ),
        },
        OrgEvent::MemberProvisioned(p) => {
            let who = format!("{} <{}>", p.full_name, p.email);
            names.remember(&PEOPLE, p.user_id.to_string(), who.clone())?;
            Line {
                actor_id: actor_id(&p.provisioned_by),
                subject: p.user_id.to_string(),
                summary: format!(
                    "{} added {who} as {} from the directory{}",
                    names.actor(&p.provisioned_by, src)?,
                    names.role(&p.role)?,
                    p.external_id
                        .as_deref()
                        .map(|x| format!(" (external id {x})"))
                        .unwrap_or_default()
                ),
            }
        }
        OrgEvent::MemberDetailsChanged(d) => {
            let email = names
                .label(&PEOPLE, d.user_id.to_string())?
                .and_then(|l| {
                    l.rsplit_once(" <")
                        .map(|(_, e)| e.trim_end_matches('>').to_owned())
                })
                .unwrap_or_default();
            names.remember(
                &PEOPLE,
                d.user_id.to_string(),
                format!("{} <{email}>", d.full_name),
            )?;
            Line {
                actor_id: actor_id(&d.changed_by),
                subject: d.user_id.to_string(),
                summary: if d.from_name == d.full_name {
                    format!(
                        "{} set the directory's id for {} to {}",
                        names.actor(&d.changed_by, src)?,
                        d.full_name,
                        d.external_id.as_deref().unwrap_or("nothing")
                    )
                } else {
                    format!(
                        "{} renamed {} to {}",
                        names.actor(&d.changed_by, src)?,
                        d.from_name,
                        d.full_name
                    )
                },
            }
        }
        OrgEvent::MemberSuspended(x) => Line {
            actor_id: actor_id(&x.suspended_by),
            subject: x.user_id.to_string(),
            summary: format!(
                "{} suspended {} ({}): no access until restored",
                names.actor(&x.suspended_by, src)?,
                names.person(x.user_id)?,
                names.role(&x.role)?
            ),
        },
        OrgEvent::MemberRestored(r) => Line {
            actor_id: actor_id(&r.restored_by),
            subject: r.user_id.to_string(),
            summary: format!(
                "{} restored {}'s access as {}",
                names.actor(&r.restored_by, src)?,
                names.person(r.user_id)?,
                names.role(&r.role)?
            ),
        },
        OrgEvent::ApiKeyCreated(k) => {
            names.remember(&KEYS, k.key_id.to_string(), k.name.to_string())?;
            let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
            Line {
                actor_id: actor_id(&k.created_by),
                subject: k.key_id.to_string(),
                summary: format!(
                    "{} created the API key \"{}\" ({}…, scopes: {}{})",
                    names.actor(&k.created_by, src)?,
                    k.name,
                    k.prefix,
                    scopes.join(", "),
                    k.expires_at
                        .map(|at| format!("; expires {}", at.format("%Y-%m-%d %H:%M UTC")))
                        .unwrap_or_default()
                ),
            }
        }
        OrgEvent::ApiKeyRevoked(r) => Line {
            actor_id: actor_id(&r.revoked_by),
            subject: r.key_id.to_string(),
            summary: format!(
                "{} revoked the API key \"{}\"",
                names.actor(&r.revoked_by, src)?,
                names
                    .label(&KEYS, r.key_id.to_string())?
                    .unwrap_or_else(|| r.key_id.to_string())
            ),
        },
        OrgEvent::SsoConnectionConfigured(c) => Line {
            actor_id: actor_id(&c.configured_by),
            subject: e.org_id.to_string(),
            summary: format!(
                "{} connected single sign-on with {} for {}{}",
                names.actor(&c.configured_by, src)?,
                c.connection.issuer,
                domain_list(&c.connection),
                sso_terms(names, &c.connection)?
            ),
        },
        OrgEvent::SsoConnectionChanged(c) => Line {
            actor_id: actor_id(&c.changed_by),
            subject: e.org_id.to_string(),
            summary: format!(
                "{} changed single sign-on: {} for {}{}",
                names.actor(&c.changed_by, src)?,
                c.connection.issuer,
                domain_list(&c.connection),
                sso_terms(names, &c.connection)?
            ),
        },
        OrgEvent::SsoConnectionRemoved(r) => Line {
            actor_id: actor_id(&r.removed_by),
            subject: e.org_id.to_string(),
            summary: format!(
                "{} disconnected single sign-on with {}",
                names.actor(&r.removed_by, src)?,
                r.issuer
            ),
        },
        OrgEvent::SsoIdentityLinked(l) => Line {
            actor_id: l.user_id.to_string(),
            subject: l.user_id.to_string(),
            summary: format!(
                "{} signed in with {} for the first time (identity {})",
                names.person(l.user_id)?,
                l.issuer,
                l.subject
            ),
        },
        OrgEvent::MemberJoinedBySso(j) => {
            let who = format!("{} <{}>", j.full_name, j.email);
            names.remember(&PEOPLE, j.user_id.to_string(), who.clone())?;
            Line {
                actor_id: j.user_id.to_string(),
                subject: j.user_id.to_string(),
                summary: format!(
                    "{who} joined as {} by signing in with {} (identity {})",
                    names.role(&j.role)?,
                    j.issuer,
                    j.subject
                ),
            }
        }
        OrgEvent::InvitationChanged(c) => Line {
            actor_id: actor_id(&c.changed_by),
            subject: c.invitation_id.to_string(),
            summary: format!(
                "{} changed the invitation to {} from {} to {}",
                names.actor(&c.changed_by, src)?,
                names.invitee(c.invitation_id)?,
                names.role(&c.from)?,
                names.role(&c.to)?
            ),
        },
        OrgEvent::InvitationCancelled(c) => Line {
            actor_id: actor_id(&c.cancelled_by),
            subject: c.invitation_id.to_string(),
            summary: format!(
                "{} cancelled the invitation to {}",
                names.actor(&c.cancelled_by, src)?,
                names.invitee(c.invitation_id)?
            ),
        },
        OrgEvent::InvitationExpired(x) => Line {
            actor_id: "system".to_owned(),
            subject: x.invitation_id.to_string(),
            summary: format!(
                "The invitation to {} expired unused",
                names.invitee(x.invitation_id)?
            ),
        },
        OrgEvent::InvitationAccepted(a) => {
            let who = format!("{} <{}>", a.full_name, a.email);
            names.remember(&PEOPLE, a.user_id.to_string(), who.clone())?;
            Line {
                actor_id: a.user_id.to_string(),
                subject: a.user_id.to_string(),
                summary: format!(
                    "{who} accepted the invitation and joined as {}",
                    names.role(&a.role)?
                ),
            }
        }
        OrgEvent::RoleChanged(r) => Line {
            actor_id: actor_id(&r.changed_by),
            subject: r.user_id.to_string(),
            summary: format!(
                "{} changed the role of {} from {} to {}",
                names.actor(&r.changed_by, src)?,
                names.person(r.user_id)?,
                names.role(&r.from)?,
                names.role(&r.to)?
            ),
        },
        OrgEvent::MemberRemoved(r) if r.removed_by == Actor::User(r.user_id) => Line {
            actor_id: actor_id(&r.removed_by),
            subject: r.user_id.to_string(),
            summary: format!(
                "{} left the organization ({})",
                names.person(r.user_id)?,
                names.role(&r.role)?
            ),
        },
        OrgEvent::MemberRemoved(r) => Line {
            actor_id: actor_id(&r.removed_by),
            subject: r.user_id.to_string(),
            summary: format!(
                "{} removed {} ({})",
                names.actor(&r.removed_by, src)?,
                names.person(r.user_id)?,
                names.role(&r.role)?
            ),
        },
        OrgEvent::InvitationEmailSent(m) => Line {
            actor_id: "system".to_owned(),
            subject: m.invitation_id.to_string(),
            summary: format!(
                "The invitation email to {} was handed to the mail server",
                names.invitee(m.invitation_id)?
            ),
        },
        OrgEvent::InvitationEmailFailed(f) => Line {
            actor_id: "system".to_owned(),
            subject: f.invitation_id.to_string(),
            summary: format!(
                "The invitation email to {} failed ({}): {}",
                names.invitee(f.invitation_id)?,
                if f.permanent { "gave up" } else { "will retry" },
                f.reason
            ),
        },
    })
}

static TABLES: [&Table; 5] = [&HISTORY, &PEOPLE, &ACCOUNTS, &INVITES, &KEYS];

impl Projection for History {
    fn name(&self) -> &'static str {
        "history"
    }

    /// 2: a member who removed themself reads "left the organization"; invitations
    /// and resends say how long their link is valid.
    fn version(&self) -> i64 {
        // 3: API keys' names (rm_history_keys).
        3
    }

    fn tables(&self) -> &'static [&'static Table] {
        &TABLES
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
            format!(
                "CREATE TABLE rm_history_keys{s} (org_id TEXT NOT NULL, key_id TEXT NOT NULL, \
                 label TEXT NOT NULL, PRIMARY KEY (org_id, key_id))"
            ),
        ]
    }

    fn apply(&self, rows: &mut Rows, e: &ProjectedEvent) -> Result<(), ProjectionError> {
        let line = describe(
            &mut Names {
                rows: &mut *rows,
                org: e.org_id.to_string().into(),
            },
            e,
        )?;
        rows.put(
            &HISTORY,
            vec![
                Cell::Int(pos_i64(e.position)),
                e.org_id.to_string().into(),
                e.event_id.to_string().into(),
                e.event.event_type().into(),
                line.actor_id.into(),
                line.subject.into(),
                line.summary.into(),
                source_text(e).into(),
                time_text(e.recorded_at).into(),
            ],
        )
    }
}

fn source_text(e: &ProjectedEvent) -> String {
    serde_json::to_value(e.source)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
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
