//! Membership periods: each stretch of time a person held one role in an
//! organization, so "who had access to what, and when" is one indexed query at
//! any history length instead of a fold of the organization's whole stream.
//!
//! A period opens when an invitation is accepted or a role changes and closes
//! when the role changes again or the member is removed. Times are the events'
//! `recorded_at`, the same instants the log's own "as of" uses, so the read model
//! answers exactly what folding the stream up to that instant would.

pub mod queries;

use roster_domain::{OrgEvent, UserId};

use crate::models::{label_cell, role_cell};
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use crate::rows::{int, nullable, text, Cell, Rows, Table};
use roster_storage::db::pos_i64;

/// Projects `rm_member_periods`.
pub struct Periods;

/// `until_position` of the period still open: the key names it without knowing
/// when it began, so an event alone finds the period it closes.
pub const OPEN: i64 = i64::MAX;

/// A member's periods form one group: a change loads their (few) periods,
/// closes the open one and opens the next.
static PERIODS: Table = Table {
    name: "rm_member_periods",
    columns: &[
        text("org_id"),
        text("user_id"),
        int("until_position"),
        text("since"),
        nullable("until"),
        text("email"),
        text("full_name"),
        text("sort_key"),
        text("role"),
        text("role_label"),
        text("joined_at"),
    ],
    key: 3,
    group: 2,
    append_only: false,
};

/// Column indexes of `rm_member_periods` rows.
const UNTIL_POSITION: usize = 2;
const SINCE: usize = 3;
const UNTIL: usize = 4;
const FULL_NAME: usize = 6;
const SORT_KEY: usize = 7;
const ROLE: usize = 8;
const ROLE_LABEL: usize = 9;

static TABLES: [&Table; 1] = [&PERIODS];

/// The key of `user`'s open period.
fn open_key(org: &Cell, user: &Cell) -> [Cell; 3] {
    [org.clone(), user.clone(), Cell::Int(OPEN)]
}

/// Closes `user`'s open period at `e`, if they have one: a copy of it is kept
/// under its end, and the open row is left for the caller to go on or remove.
/// Answers whether there was one.
fn close(
    rows: &mut Rows,
    org: &Cell,
    user: &Cell,
    e: &ProjectedEvent,
) -> Result<bool, ProjectionError> {
    rows.copy_under(&PERIODS, &open_key(org, user), |closed| {
        closed[UNTIL_POSITION] = Cell::Int(pos_i64(e.position));
        closed[UNTIL] = Cell::Time(e.recorded_at);
    })
}

/// Closes `user`'s open period at `e` and opens none.
fn end(
    rows: &mut Rows,
    org: &Cell,
    user: UserId,
    e: &ProjectedEvent,
) -> Result<(), ProjectionError> {
    let user = Cell::Id(user.as_uuid());
    if close(rows, org, &user, e)? {
        rows.remove(&PERIODS, &open_key(org, &user))?;
    }
    Ok(())
}

/// Who starts a period of access.
struct Joiner<'a> {
    user: UserId,
    email: &'a str,
    name: &'a str,
    role: &'a roster_domain::Role,
    joined_at: chrono::DateTime<chrono::Utc>,
}

/// Opens a period of access at event `e` (closing any still open).
fn open(
    rows: &mut Rows,
    org: &Cell,
    e: &ProjectedEvent,
    j: Joiner<'_>,
) -> Result<(), ProjectionError> {
    let user = Cell::Id(j.user.as_uuid());
    close(rows, org, &user, e)?;
    let row = [
        org.clone(),
        user,
        Cell::Int(OPEN),
        Cell::Time(e.recorded_at),
        Cell::Null,
        rows.text(j.email),
        rows.text(j.name),
        rows.lowercase(j.name),
        role_cell(j.role)?,
        label_cell(j.role),
        Cell::Time(j.joined_at),
    ];
    rows.put(&PERIODS, row)
}

impl Projection for Periods {
    fn name(&self) -> &'static str {
        "periods"
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
                "CREATE TABLE rm_member_periods{s} (org_id TEXT NOT NULL, user_id TEXT NOT NULL, \
                 until_position BIGINT NOT NULL, since TEXT NOT NULL, until TEXT, email TEXT NOT NULL, \
                 full_name TEXT NOT NULL, sort_key TEXT NOT NULL, role TEXT NOT NULL, \
                 role_label TEXT NOT NULL, joined_at TEXT NOT NULL, \
                 PRIMARY KEY (org_id, user_id, until_position))"
            ),
            // "Open at t" is `since <= t AND (until IS NULL OR until > t)`: the
            // index serves the first half, and rows of one organization only.
            format!(
                "CREATE INDEX rm_member_periods{s}_since ON rm_member_periods{s} (org_id, since)"
            ),
        ]
    }

    fn apply(&self, rows: &mut Rows, e: &ProjectedEvent) -> Result<(), ProjectionError> {
        let org = Cell::Id(e.org_id.as_uuid());
        match &e.event {
            OrgEvent::InvitationAccepted(a) => open(
                rows,
                &org,
                e,
                Joiner {
                    user: a.user_id,
                    email: a.email.as_str(),
                    name: a.full_name.as_str(),
                    role: &a.role,
                    joined_at: a.accepted_at,
                },
            ),
            OrgEvent::RoleChanged(r) => {
                let user = Cell::Id(r.user_id.as_uuid());
                let (role, label) = (role_cell(&r.to)?, label_cell(&r.to));
                if close(rows, &org, &user, e)? {
                    if let Some(next) = rows.get_mut(&PERIODS, &open_key(&org, &user))? {
                        next[SINCE] = Cell::Time(e.recorded_at);
                        next[ROLE] = role;
                        next[ROLE_LABEL] = label;
                    }
                }
                Ok(())
            }
            OrgEvent::MemberRemoved(r) => end(rows, &org, r.user_id, e),
            // A new name starts a new period, so "as of" shows the name then.
            OrgEvent::MemberDetailsChanged(d) if d.from_name != d.full_name => {
                let user = Cell::Id(d.user_id.as_uuid());
                if close(rows, &org, &user, e)? {
                    let name = rows.text(d.full_name.as_str());
                    let sort_key = rows.lowercase(d.full_name.as_str());
                    if let Some(next) = rows.get_mut(&PERIODS, &open_key(&org, &user))? {
                        next[SINCE] = Cell::Time(e.recorded_at);
                        next[FULL_NAME] = name;
                        next[SORT_KEY] = sort_key;
                    }
                }
                Ok(())
            }
            OrgEvent::MemberSuspended(x) => end(rows, &org, x.user_id, e),
            OrgEvent::MemberProvisioned(p) => open(
                rows,
                &org,
                e,
                Joiner {
                    user: p.user_id,
                    email: p.email.as_str(),
                    name: p.full_name.as_str(),
                    role: &p.role,
                    joined_at: p.provisioned_at,
                },
            ),
            OrgEvent::MemberJoinedBySso(j) => open(
                rows,
                &org,
                e,
                Joiner {
                    user: j.user_id,
                    email: j.email.as_str(),
                    name: j.full_name.as_str(),
                    role: &j.role,
                    joined_at: j.joined_at,
                },
            ),
            OrgEvent::MemberRestored(r) => open(
                rows,
                &org,
                e,
                Joiner {
                    user: r.user_id,
                    email: r.email.as_str(),
                    name: r.full_name.as_str(),
                    role: &r.role,
                    joined_at: r.joined_at,
                },
            ),
            _ => Ok(()),
        }
    }
}
