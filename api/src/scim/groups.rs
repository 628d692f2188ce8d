//! SCIM writes on `Groups`: a group is a role, so adding a member to a group
//! gives them that role and removing them takes it back to the organization's
//! default (Standard; in a multi-account organization, contributor with
//! Standard on every account, or without that account). `PATCH` takes `add`
//! and `remove` of `members` (with values, or `members[value eq "…"]` paths);
//! `PUT` sets the whole membership. The last owner stays.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_commands::use_cases::change_role;
use roster_domain::{
    AccountId, AccountRole, AccountRoles, MultiRole, OrgShape, Role, SingleRole, UserId,
};
use roster_projections::queries::{self, MemberRow};
use serde_json::Value;

use super::writes::{body_json, field, refused};
use super::{context, filter, scan_place, with_etag, ScimError, ScimOrg, MAX_SCANNED};
use crate::AppState;

/// The most member changes one request makes.
const MAX_CHANGES: usize = 1_000;

/// What holding a group means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupRole {
    Single(SingleRole),
    MultiOwner,
    Account(AccountId, AccountRole),
}

fn group_role(shape: OrgShape, id: &str) -> Option<GroupRole> {
    match (shape, id) {
        (OrgShape::Single, "owner") => Some(GroupRole::Single(SingleRole::Owner)),
        (OrgShape::Single, "admin") => Some(GroupRole::Single(SingleRole::Admin)),
        (OrgShape::Single, "standard") => Some(GroupRole::Single(SingleRole::Standard)),
        (OrgShape::Multi, "owner") => Some(GroupRole::MultiOwner),
        (OrgShape::Multi, id) => {
            let (account, role) = id.rsplit_once('.')?;
            let role = match role {
                "admin" => AccountRole::Admin,
                "standard" => AccountRole::Standard,
                _ => return None,
            };
            Some(GroupRole::Account(account.parse().ok()?, role))
        }
        _ => None,
    }
}

/// Whether `role` holds the group.
fn holds(role: &Role, group: GroupRole) -> bool {
    match (group, role) {
        (GroupRole::Single(g), Role::Single(r)) => g == *r,
        (GroupRole::MultiOwner, Role::Multi(MultiRole::Owner)) => true,
        (GroupRole::Account(a, g), Role::Multi(MultiRole::Contributor(held))) => {
            held.get(&a) == Some(g)
        }
        _ => false,
    }
}

/// Every account with Standard: a multi-account member's default.
fn standard_everywhere(accounts: &[AccountId]) -> Option<AccountRoles> {
    AccountRoles::new(
        accounts
            .iter()
            .map(|a| (*a, AccountRole::Standard))
            .collect(),
    )
    .ok()
}

/// The role `current` becomes when the member joins (`add`) or leaves the group.
fn next_role(current: &Role, group: GroupRole, add: bool, accounts: &[AccountId]) -> Option<Role> {
    match (group, add) {
        (GroupRole::Single(r), true) => Some(Role::Single(r)),
        (GroupRole::Single(_), false) => Some(Role::Single(SingleRole::Standard)),
        (GroupRole::MultiOwner, true) => Some(Role::Multi(MultiRole::Owner)),
        (GroupRole::MultiOwner, false) => {
            standard_everywhere(accounts).map(|r| Role::Multi(MultiRole::Contributor(r)))
        }
        (GroupRole::Account(a, r), true) => {
            let mut held: BTreeMap<AccountId, AccountRole> = match current {
                Role::Multi(MultiRole::Contributor(h)) => h.iter().map(|(k, v)| (*k, *v)).collect(),
                // An owner already holds every account: nothing to add.
                _ => return None,
            };
            held.insert(a, r);
            AccountRoles::new(held)
                .ok()
                .map(|h| Role::Multi(MultiRole::Contributor(h)))
        }
        (GroupRole::Account(a, _), false) => {
            let Role::Multi(MultiRole::Contributor(h)) = current else {
                return None;
            };
            let held: BTreeMap<AccountId, AccountRole> = h
                .iter()
                .filter(|(k, _)| **k != a)
                .map(|(k, v)| (*k, *v))
                .collect();
            match AccountRoles::new(held) {
                Ok(rest) => Some(Role::Multi(MultiRole::Contributor(rest))),
                // Their last account: back to the default, Standard everywhere.
                Err(_) => {
                    standard_everywhere(accounts).map(|r| Role::Multi(MultiRole::Contributor(r)))
                }
            }
        }
    }
}

/// Member ids of a `members` value: `[{"value": id}, …]` (or one object).
fn member_ids(value: Option<&Value>) -> Result<Vec<UserId>, ScimError> {
    let items: Vec<&Value> = match value {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => {
            return Err(ScimError::bad(
                "invalidValue",
                "members needs a list of {\"value\": id}",
            ))
        }
    };
    items
        .into_iter()
        .map(|i| {
            field(i, "value")
                .and_then(Value::as_str)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| ScimError::bad("invalidValue", "a member's value is not a user id"))
        })
        .collect()
}

/// The member a `members[value eq "…"]` path names.
fn member_in_path(path: &str) -> Result<Option<UserId>, ScimError> {
    let Some(inner) = path
        .strip_prefix("members[")
        .or_else(|| path.strip_prefix("Members["))
        .and_then(|p| p.strip_suffix(']'))
    else {
        return Ok(None);
    };
    let parsed = filter::parse(inner).map_err(|e| ScimError::bad("invalidPath", e.0))?;
    match parsed {
        filter::Filter::Compare(p, filter::Op::Eq, Value::String(id)) if p.name == "value" => id
            .parse()
            .map(Some)
            .map_err(|_| ScimError::bad("invalidValue", "the member's value is not a user id")),
        _ => Err(ScimError::bad(
            "invalidPath",
            "name a member as members[value eq \"id\"]",
        )),
    }
}

async fn change(
    state: &AppState,
    scim: &ScimOrg,
    group: GroupRole,
    changes: Vec<(UserId, bool)>,
) -> Result<(), ScimError> {
    if changes.len() > MAX_CHANGES {
        return Err(ScimError::bad(
            "tooMany",
            format!("at most {MAX_CHANGES} member changes a request"),
        ));
    }
    let accounts: Vec<AccountId> = queries::accounts(&state.app.read, scim.0.org_id())
        .await?
        .into_iter()
        .map(|a| a.account_id)
        .collect();
    for (user, add) in changes {
        let member = queries::member_by_id(&state.app.read, scim.0.org_id(), user)
            .await?
            .ok_or_else(|| {
                ScimError::bad(
                    "invalidValue",
                    format!("{user} is not a member of this organization"),
                )
            })?;
        if holds(&member.role, group) == add {
            continue;
        }
        let Some(role) = next_role(&member.role, group, add, &accounts) else {
            continue;
        };
        let changed = change_role::change_role(&state.app, &scim.0, user, role)
            .await
            .map_err(refused)?;
        if let Some(p) = changed.recorded.position {
            state
                .app
                .wait_for_read_models(p, std::time::Duration::from_secs(2))
                .await?;
        }
    }
    Ok(())
}

async fn answer(state: &AppState, scim: &ScimOrg, id: &str) -> Result<Response, ScimError> {
    let ctx = context(state, &scim.0).await?;
    let _place = scan_place().await?;
    let members: Vec<MemberRow> =
        queries::members_from(&state.app.read, scim.0.org_id(), 0, MAX_SCANNED).await?;
    ctx.groups(&members)
        .into_iter()
        .find(|g| g["id"] == id)
        .map(with_etag)
        .ok_or_else(|| ScimError::not_found("group"))
}

fn group_of(scim: &ScimOrg, id: &str) -> Result<GroupRole, ScimError> {
    group_role(scim.0.shape(), id).ok_or_else(|| ScimError::not_found("group"))
}

pub(super) async fn patch_group(
    State(state): State<AppState>,
    scim: ScimOrg,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let group = group_of(&scim, &id)?;
    let patch = body_json(&headers, &body)?;
    let operations = field(&patch, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad("invalidSyntax", "a PATCH holds Operations"))?;
    if operations.len() > 100 {
        return Err(ScimError::bad("invalidValue", "at most 100 operations"));
    }
    let mut changes = Vec::new();
    for op in operations {
        let kind = field(op, "op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| ScimError::bad("invalidSyntax", "every operation names its op"))?;
        let path = field(op, "path")
            .and_then(Value::as_str)
            .unwrap_or("members");
        if path.len() > 300 {
            return Err(ScimError::bad("invalidPath", "the path is too long"));
        }
        let value = field(op, "value");
        match (kind.as_str(), member_in_path(path)?) {
            ("remove", Some(user)) => changes.push((user, false)),
            (_, Some(_)) => {
                return Err(ScimError::bad(
                    "invalidPath",
                    "only remove names one member by path",
                ))
            }
            ("add", None) if path.eq_ignore_ascii_case("members") => {
                changes.extend(member_ids(value)?.into_iter().map(|u| (u, true)));
            }
            ("remove", None) if path.eq_ignore_ascii_case("members") => {
                changes.extend(member_ids(value)?.into_iter().map(|u| (u, false)));
            }
            ("replace", None) if path.eq_ignore_ascii_case("members") => {
                return Err(ScimError::bad(
                    "mutability",
                    "replace the members with PUT, or add and remove them",
                ));
            }
            // A group's name is its role's: renaming it changes nothing.
            ("replace" | "add", None) if path.eq_ignore_ascii_case("displayName") => {}
            (other, None) => {
                return Err(ScimError::bad(
                    "invalidPath",
                    format!("“{other}” of “{path}” is not supported on a group"),
                ))
            }
        }
    }
    change(&state, &scim, group, changes).await?;
    let mut response = answer(&state, &scim, &id).await?;
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}

pub(super) async fn replace_group(
    State(state): State<AppState>,
    scim: ScimOrg,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let group = group_of(&scim, &id)?;
    let body = body_json(&headers, &body)?;
    let wanted: BTreeSet<UserId> = match field(&body, "members") {
        None | Some(Value::Null) => BTreeSet::new(),
        v => member_ids(v)?.into_iter().collect(),
    };
    let place = scan_place().await?;
    let current: BTreeSet<UserId> =
        queries::members_from(&state.app.read, scim.0.org_id(), 0, MAX_SCANNED)
            .await?
            .into_iter()
            .filter(|m| holds(&m.role, group))
            .map(|m| m.user_id)
            .collect();
    drop(place);
    // Additions first, so an owner group never passes through empty.
    let changes = wanted
        .difference(&current)
        .map(|u| (*u, true))
        .chain(current.difference(&wanted).map(|u| (*u, false)))
        .collect();
    change(&state, &scim, group, changes).await?;
    answer(&state, &scim, &id).await
}
