//! Every organization event with its actor, time and a one-line summary a person
//! can read, for the audit history. Names are resolved from the history's own
//! small lookup tables, so the history never depends on another projection's
//! progress and replays to the same text.

pub mod queries;

use std::fmt::Write as _;

use roster_domain::organization::Actor;
use roster_domain::{AccountRole, InvitationId, MultiRole, OrgEvent, Role, SingleRole, UserId};
use roster_eventstore::Source;

use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use crate::rows::{int, text, Cell, Rows, Table};
use roster_storage::db::pos_i64;

use super::invitations::actor_cell;

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

/// Appends formatted text to a `String` (which cannot fail).
macro_rules! put_text {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// Display names remembered in the history's own lookup tables, within one
/// organization. Every method writes into the summary being made, so a line is
/// composed in one reused buffer with no `String` per part.
struct Names<'a> {
    rows: &'a mut Rows,
    org: Cell,
}

impl Names<'_> {
    /// The label stored under `key` in lookup `table`, if any.
    fn label(&mut self, table: &Table, key: Cell) -> Result<Option<&str>, ProjectionError> {
        self.rows.text_at(table, &[self.org.clone(), key], 2)
    }

    /// Stores the label `write` makes under `key` in lookup `table`.
    fn remember(
        &mut self,
        table: &Table,
        key: Cell,
        write: impl FnOnce(&mut String),
    ) -> Result<(), ProjectionError> {
        let label = self.rows.compose(write);
        self.rows.put(table, [self.org.clone(), key, label])
    }

    /// "Ann Lee <ann@example.com>", remembered for the person.
    fn remember_person(
        &mut self,
        id: UserId,
        name: &impl std::fmt::Display,
        email: &impl std::fmt::Display,
    ) -> Result<(), ProjectionError> {
        self.remember(&PEOPLE, Cell::Id(id.as_uuid()), |label| {
            put_text!(label, "{name} <{email}>")
        })
    }

    fn person(&mut self, out: &mut String, id: UserId) -> Result<(), ProjectionError> {
        match self.label(&PEOPLE, Cell::Id(id.as_uuid()))? {
            Some(label) => out.push_str(label),
            None => put_text!(out, "user {id}"),
        }
        Ok(())
    }

    fn actor(
        &mut self,
        out: &mut String,
        actor: &Actor,
        source: Source,
    ) -> Result<(), ProjectionError> {
        match actor {
            Actor::User(id) => self.person(out, *id)?,
            Actor::System if source == Source::Cli => out.push_str("The operator"),
            Actor::System => out.push_str("Roster"),
            Actor::ApiKey(id) => match self.label(&KEYS, Cell::Id(id.as_uuid()))? {
                Some(name) => put_text!(out, "The API key “{name}”"),
                None => put_text!(out, "API key {id}"),
            },
        }
        Ok(())
    }

    fn invitee(&mut self, out: &mut String, id: InvitationId) -> Result<(), ProjectionError> {
        match self.label(&INVITES, Cell::Id(id.as_uuid()))? {
            Some(label) => out.push_str(label),
            None => put_text!(out, "invitation {id}"),
        }
        Ok(())
    }

    fn role(&mut self, out: &mut String, role: &Role) -> Result<(), ProjectionError> {
        match role {
            Role::Single(SingleRole::Owner) | Role::Multi(MultiRole::Owner) => {
                out.push_str("owner")
            }
            Role::Single(SingleRole::Admin) => out.push_str("admin"),
            Role::Single(SingleRole::Standard) => out.push_str("standard"),
            Role::Multi(MultiRole::Contributor(accounts)) => {
                out.push_str("contributor (");
                for (i, (account, account_role)) in accounts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(match account_role {
                        AccountRole::Admin => "admin",
                        AccountRole::Standard => "standard",
                    });
                    out.push_str(" on ");
                    match self.label(&ACCOUNTS, Cell::Id(account.as_uuid()))? {
                        Some(name) => out.push_str(name),
                        None => put_text!(out, "{account}"),
                    }
                }
                out.push(')');
            }
        }
        Ok(())
    }
}

/// "example.com and example.org".
fn domain_list(out: &mut String, c: &roster_domain::SsoConnection) {
    let count = c.domains.len();
    for (i, domain) in c.domains.iter().enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == count { " and " } else { ", " });
        }
        out.push_str(domain.as_str());
    }
}

/// "; required, people join as Standard" — what the connection asks of people.
fn sso_terms(
    out: &mut String,
    names: &mut Names<'_>,
    c: &roster_domain::SsoConnection,
) -> Result<(), ProjectionError> {
    if c.enforced {
        out.push_str("; required for their members");
    }
    if let Some(role) = &c.join_role {
        out.push_str("; people join as ");
        names.role(out, role)?;
        out.push_str(" without an invitation");
    }
    Ok(())
}

/// Who did it (an id or `system`) and whom or what it was about; the summary
/// line is written beside it.
struct Line {
    actor_id: Cell,
    subject: Cell,
}

fn line(actor: &Actor, subject: uuid::Uuid) -> Line {
    Line {
        actor_id: actor_cell(actor),
        subject: Cell::Id(subject),
    }
}

/// Writes the summary of `e` into `out` and answers its actor and subject.
fn describe(
    out: &mut String,
    names: &mut Names<'_>,
    e: &ProjectedEvent,
) -> Result<Line, ProjectionError> {
    let src = e.source;
    let org = e.org_id.as_uuid();
    Ok(match &e.event {
        OrgEvent::OrganizationCreated(c) => {
            names.actor(out, &c.created_by, src)?;
            put_text!(out, " created the {} organization \"{}\"", c.shape, c.name);
            line(&c.created_by, org)
        }
        OrgEvent::AccountAdded(a) => {
            names.remember(&ACCOUNTS, Cell::Id(a.account_id.as_uuid()), |l| {
                l.push_str(a.name.as_str())
            })?;
            names.actor(out, &a.added_by, src)?;
            put_text!(out, " added the account \"{}\"", a.name);
            line(&a.added_by, a.account_id.as_uuid())
        }
        OrgEvent::AccountRenamed(r) => {
            names.remember(&ACCOUNTS, Cell::Id(r.account_id.as_uuid()), |l| {
                l.push_str(r.to.as_str())
            })?;
            names.actor(out, &r.renamed_by, src)?;
            put_text!(out, " renamed the account \"{}\" to \"{}\"", r.from, r.to);
            line(&r.renamed_by, r.account_id.as_uuid())
        }
        OrgEvent::UserInvited(i) => {
            names.remember(&INVITES, Cell::Id(i.invitation_id.as_uuid()), |l| {
                put_text!(l, "{} <{}>", i.full_name, i.email)
            })?;
            names.actor(out, &i.invited_by, src)?;
            put_text!(out, " invited {} <{}> as ", i.full_name, i.email);
            names.role(out, &i.role)?;
            out.push_str("; the link is valid ");
            lifetime(out, i.expires_at - i.sent_at);
            line(&i.invited_by, i.invitation_id.as_uuid())
        }
        OrgEvent::InvitationResent(r) => {
            names.actor(out, &r.resent_by, src)?;
            out.push_str(" resent the invitation to ");
            names.invitee(out, r.invitation_id)?;
            out.push_str("; the link is valid ");
            lifetime(out, r.expires_at - r.sent_at);
            line(&r.resent_by, r.invitation_id.as_uuid())
        }
        OrgEvent::MemberProvisioned(p) => {
            names.remember_person(p.user_id, &p.full_name, &p.email)?;
            names.actor(out, &p.provisioned_by, src)?;
            put_text!(out, " added {} <{}> as ", p.full_name, p.email);
            names.role(out, &p.role)?;
            out.push_str(" from the directory");
            if let Some(x) = p.external_id.as_deref() {
                put_text!(out, " (external id {x})");
            }
            line(&p.provisioned_by, p.user_id.as_uuid())
        }
        OrgEvent::MemberDetailsChanged(d) => {
            // The new label keeps the address the old one named.
            let user = Cell::Id(d.user_id.as_uuid());
            let email: compact_str::CompactString = names
                .label(&PEOPLE, user.clone())?
                .and_then(|old| old.rsplit_once(" <"))
                .map(|(_, email)| email.trim_end_matches('>').into())
                .unwrap_or_default();
            names.remember(&PEOPLE, user, |label| {
                put_text!(label, "{} <{email}>", d.full_name)
            })?;
            names.actor(out, &d.changed_by, src)?;
            if d.from_name == d.full_name {
                put_text!(
                    out,
                    " set the directory's id for {} to {}",
                    d.full_name,
                    d.external_id.as_deref().unwrap_or("nothing")
                );
            } else {
                put_text!(out, " renamed {} to {}", d.from_name, d.full_name);
            }
            line(&d.changed_by, d.user_id.as_uuid())
        }
        OrgEvent::MemberSuspended(x) => {
            names.actor(out, &x.suspended_by, src)?;
            out.push_str(" suspended ");
            names.person(out, x.user_id)?;
            out.push_str(" (");
            names.role(out, &x.role)?;
            out.push_str("): no access until restored");
            line(&x.suspended_by, x.user_id.as_uuid())
        }
        OrgEvent::MemberRestored(r) => {
            names.actor(out, &r.restored_by, src)?;
            out.push_str(" restored ");
            names.person(out, r.user_id)?;
            out.push_str("'s access as ");
            names.role(out, &r.role)?;
            line(&r.restored_by, r.user_id.as_uuid())
        }
        OrgEvent::ApiKeyCreated(k) => {
            names.remember(&KEYS, Cell::Id(k.key_id.as_uuid()), |l| {
                l.push_str(k.name.as_str())
            })?;
            names.actor(out, &k.created_by, src)?;
            put_text!(
                out,
                " created the API key \"{}\" ({}…, scopes: ",
                k.name,
                k.prefix
            );
            for (i, scope) in k.scopes.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(scope.as_str());
            }
            if let Some(at) = k.expires_at {
                put_text!(out, "; expires {}", at.format("%Y-%m-%d %H:%M UTC"));
            }
            out.push(')');
            line(&k.created_by, k.key_id.as_uuid())
        }
        OrgEvent::ApiKeyRevoked(r) => {
            names.actor(out, &r.revoked_by, src)?;
            out.push_str(" revoked the API key \"");
            match names.label(&KEYS, Cell::Id(r.key_id.as_uuid()))? {
                Some(name) => out.push_str(name),
                None => put_text!(out, "{}", r.key_id),
            }
            out.push('"');
            line(&r.revoked_by, r.key_id.as_uuid())
        }
        OrgEvent::SsoConnectionConfigured(c) => {
            names.actor(out, &c.configured_by, src)?;
            put_text!(
                out,
                " connected single sign-on with {} for ",
                c.connection.issuer
            );
            domain_list(out, &c.connection);
            sso_terms(out, names, &c.connection)?;
            line(&c.configured_by, org)
        }
        OrgEvent::SsoConnectionChanged(c) => {
            names.actor(out, &c.changed_by, src)?;
            put_text!(out, " changed single sign-on: {} for ", c.connection.issuer);
            domain_list(out, &c.connection);
            sso_terms(out, names, &c.connection)?;
            line(&c.changed_by, org)
        }
        OrgEvent::SsoConnectionRemoved(r) => {
            names.actor(out, &r.removed_by, src)?;
            put_text!(out, " disconnected single sign-on with {}", r.issuer);
            line(&r.removed_by, org)
        }
        OrgEvent::SsoIdentityLinked(l) => {
            names.person(out, l.user_id)?;
            put_text!(
                out,
                " signed in with {} for the first time (identity {})",
                l.issuer,
                l.subject
            );
            line(&Actor::User(l.user_id), l.user_id.as_uuid())
        }
        OrgEvent::MemberJoinedBySso(j) => {
            names.remember_person(j.user_id, &j.full_name, &j.email)?;
            put_text!(out, "{} <{}> joined as ", j.full_name, j.email);
            names.role(out, &j.role)?;
            put_text!(
                out,
                " by signing in with {} (identity {})",
                j.issuer,
                j.subject
            );
            line(&Actor::User(j.user_id), j.user_id.as_uuid())
        }
        OrgEvent::InvitationChanged(c) => {
            names.actor(out, &c.changed_by, src)?;
            out.push_str(" changed the invitation to ");
            names.invitee(out, c.invitation_id)?;
            out.push_str(" from ");
            names.role(out, &c.from)?;
            out.push_str(" to ");
            names.role(out, &c.to)?;
            line(&c.changed_by, c.invitation_id.as_uuid())
        }
        OrgEvent::InvitationCancelled(c) => {
            names.actor(out, &c.cancelled_by, src)?;
            out.push_str(" cancelled the invitation to ");
            names.invitee(out, c.invitation_id)?;
            line(&c.cancelled_by, c.invitation_id.as_uuid())
        }
        OrgEvent::InvitationExpired(x) => {
            out.push_str("The invitation to ");
            names.invitee(out, x.invitation_id)?;
            out.push_str(" expired unused");
            line(&Actor::System, x.invitation_id.as_uuid())
        }
        OrgEvent::InvitationAccepted(a) => {
            names.remember_person(a.user_id, &a.full_name, &a.email)?;
            put_text!(
                out,
                "{} <{}> accepted the invitation and joined as ",
                a.full_name,
                a.email
            );
            names.role(out, &a.role)?;
            line(&Actor::User(a.user_id), a.user_id.as_uuid())
        }
        OrgEvent::RoleChanged(r) => {
            names.actor(out, &r.changed_by, src)?;
            out.push_str(" changed the role of ");
            names.person(out, r.user_id)?;
            out.push_str(" from ");
            names.role(out, &r.from)?;
            out.push_str(" to ");
            names.role(out, &r.to)?;
            line(&r.changed_by, r.user_id.as_uuid())
        }
        OrgEvent::MemberRemoved(r) if r.removed_by == Actor::User(r.user_id) => {
            names.person(out, r.user_id)?;
            out.push_str(" left the organization (");
            names.role(out, &r.role)?;
            out.push(')');
            line(&r.removed_by, r.user_id.as_uuid())
        }
        OrgEvent::MemberRemoved(r) => {
            names.actor(out, &r.removed_by, src)?;
            out.push_str(" removed ");
            names.person(out, r.user_id)?;
            out.push_str(" (");
            names.role(out, &r.role)?;
            out.push(')');
            line(&r.removed_by, r.user_id.as_uuid())
        }
        OrgEvent::InvitationEmailSent(m) => {
            out.push_str("The invitation email to ");
            names.invitee(out, m.invitation_id)?;
            out.push_str(" was handed to the mail server");
            line(&Actor::System, m.invitation_id.as_uuid())
        }
        OrgEvent::InvitationEmailFailed(f) => {
            out.push_str("The invitation email to ");
            names.invitee(out, f.invitation_id)?;
            put_text!(
                out,
                " failed ({}): {}",
                if f.permanent { "gave up" } else { "will retry" },
                f.reason
            );
            line(&Actor::System, f.invitation_id.as_uuid())
        }
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
        let mut summary = rows.text_buffer(&HISTORY);
        let org = Cell::Id(e.org_id.as_uuid());
        let line = describe(
            &mut summary,
            &mut Names {
                rows: &mut *rows,
                org: org.clone(),
            },
            e,
        )?;
        rows.put(
            &HISTORY,
            [
                Cell::Int(pos_i64(e.position)),
                org,
                Cell::Id(e.event_id),
                Cell::fixed(e.event.event_type()),
                line.actor_id,
                line.subject,
                Cell::from(summary),
                Cell::fixed(source_text(e.source)),
                Cell::Time(e.recorded_at),
            ],
        )
    }
}

/// The stored name of the interface an event came through.
fn source_text(source: Source) -> &'static str {
    match source {
        Source::Api => "api",
        Source::Worker => "worker",
        Source::Cli => "cli",
        Source::Scim => "scim",
    }
}

/// A link's lifetime in words: "15 minutes", "90 seconds", "2 hours".
fn lifetime(out: &mut String, d: chrono::Duration) {
    let seconds = d.num_seconds();
    match seconds {
        s if s % 3600 == 0 => {
            put_text!(out, "{} hour{}", s / 3600, if s == 3600 { "" } else { "s" })
        }
        s if s % 60 == 0 => put_text!(out, "{} minute{}", s / 60, if s == 60 { "" } else { "s" }),
        s => put_text!(out, "{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_named_as_they_are_stored() {
        for source in [Source::Api, Source::Worker, Source::Cli, Source::Scim] {
            assert_eq!(
                serde_json::to_value(source)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned)),
                Some(source_text(source).to_owned())
            );
        }
    }
}
