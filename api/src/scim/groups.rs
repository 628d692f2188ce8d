//! SCIM writes on `Groups`, parsed here and decided by
//! [`role_groups`](roster_commands::use_cases::role_groups): `PATCH` takes `add`
//! and `remove` of `members` (with values, or `members[value eq "…"]` paths);
//! `PUT` sets the whole membership.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_commands::use_cases::role_groups::{self, RoleGroup};
use roster_commands::use_cases::Recorded;
use roster_commands::UseCaseError;
use roster_domain::{DomainError, UserId};
use roster_projections::queries::{self, MemberRow};
use serde_json::Value;

use super::writes::{body_json, field, refused};
use super::{context, filter, scan_place, with_etag, ScimError, ScimOrg, MAX_SCANNED};
use crate::AppState;

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

/// A member named in a group change who is not one is the request's fault.
fn member_refused(e: UseCaseError) -> ScimError {
    match e {
        UseCaseError::Refused(DomainError::MemberNotFound) => ScimError::bad(
            "invalidValue",
            "a member named is not a member of this organization",
        ),
        other => refused(other),
    }
}

/// Waits (up to 2 s) for the group's answer to show the changes just made.
async fn wait_shown(state: &AppState, recorded: Recorded) -> Result<(), ScimError> {
    if let Some(p) = recorded.position {
        state
            .app
            .wait_for_read_models(p, std::time::Duration::from_secs(2))
            .await?;
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

fn group_of(scim: &ScimOrg, id: &str) -> Result<RoleGroup, ScimError> {
    RoleGroup::named(scim.0.shape(), id).ok_or_else(|| ScimError::not_found("group"))
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
    let recorded = role_groups::change(&state.app, &scim.0, group, &changes)
        .await
        .map_err(member_refused)?;
    wait_shown(&state, recorded).await?;
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
    let recorded = role_groups::set_holders(&state.app, &scim.0, group, &wanted)
        .await
        .map_err(member_refused)?;
    wait_shown(&state, recorded).await?;
    answer(&state, &scim, &id).await
}
