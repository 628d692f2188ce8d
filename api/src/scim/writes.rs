//! SCIM writes on `Users`: create (a member at once), replace and patch (what
//! a directory may change: `active`, to suspend and restore; the name;
//! `externalId`), delete (remove). A person's address is their identity in
//! Roster, so `userName` cannot change. `If-Match` is honoured on every write
//! to one user.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_commands::use_cases::directory::{self, Provision};
use roster_commands::UseCaseError;
use roster_domain::{DomainError, Email, PersonName, UserId};
use roster_eventstore::Position;
use roster_projections::queries::{self, MemberRow};
use serde_json::Value;

use super::{context, with_etag, ScimError, ScimOrg};
use crate::AppState;

/// The longest `externalId` kept.
const MAX_EXTERNAL_ID: usize = 255;

/// How long a write waits for the member list to show it before answering.
const SHOW_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl From<DomainError> for ScimError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::AlreadyMember { email, .. } => Self::new(
                StatusCode::CONFLICT,
                Some("uniqueness"),
                format!("{email} is already a member of this organization"),
            ),
            DomainError::LastOwner => Self::new(
                StatusCode::BAD_REQUEST,
                Some("mutability"),
                "this is the organization's last owner: they can be neither removed, suspended nor demoted",
            ),
            DomainError::MemberNotFound => Self::not_found("user"),
            DomainError::NotAnOwner => Self::new(
                StatusCode::FORBIDDEN,
                None,
                "this API key may not change members",
            ),
            other => Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), other.to_string()),
        }
    }
}

pub(super) fn refused(e: UseCaseError) -> ScimError {
    match e {
        UseCaseError::Refused(d) => d.into(),
        UseCaseError::TooManyInvitations { .. } | UseCaseError::Busy { .. } => ScimError::new(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            "too many requests at once; retry shortly",
        ),
        UseCaseError::Invalid(errors) => ScimError::bad(
            "invalidValue",
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => other.into(),
    }
}

/// A request body as JSON (`application/scim+json` or `application/json`).
pub(super) fn body_json(headers: &HeaderMap, body: &Bytes) -> Result<Value, ScimError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !(media.starts_with("application/scim+json") || media.starts_with("application/json")) {
        return Err(ScimError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            "send application/scim+json",
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the body must be a JSON object",
        ));
    }
    Ok(value)
}

/// `obj[name]`, ignoring case.
pub(super) fn field<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// A boolean as providers send them: `false`, or Entra's `"False"`.
fn boolean(value: &Value) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(ScimError::bad(
            "invalidValue",
            format!("active must be true or false, not {other}"),
        )),
    }
}

fn external_id(value: Option<&Value>) -> Result<Option<String>, ScimError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if s.len() <= MAX_EXTERNAL_ID && !s.chars().any(char::is_control) =>
        {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(ScimError::bad(
            "invalidValue",
            format!("externalId must be text of at most {MAX_EXTERNAL_ID} characters"),
        )),
    }
}

/// The name a directory sends: `displayName`, `name.formatted`, or given and
/// family names; failing those, the address's local part.
fn person_name(user: &Value, email: &Email) -> Result<PersonName, ScimError> {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let name = field(user, "name");
    let joined = match (
        text(name.and_then(|n| field(n, "givenName"))),
        text(name.and_then(|n| field(n, "familyName"))),
    ) {
        (Some(g), Some(f)) => Some(format!("{g} {f}")),
        (g, f) => g.or(f),
    };
    let chosen = text(field(user, "displayName"))
        .or_else(|| text(name.and_then(|n| field(n, "formatted"))))
        .or(joined)
        .unwrap_or_else(|| {
            email
                .as_str()
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
    PersonName::parse(&chosen).map_err(|e| ScimError::bad("invalidValue", format!("name: {e}")))
}

/// The user `user` as SCIM shows it, once the member list has passed `after`.
async fn shown(
    state: &AppState,
    scim: &ScimOrg,
    user: UserId,
    after: Option<Position>,
) -> Result<(MemberRow, Value), ScimError> {
    if let Some(p) = after {
        state
            .app
            .wait_for_read_models(p, SHOW_WAIT)
            .await
            .map_err(ScimError::from)?;
    }
    // The context waits for the read models to hold every change before this.
    let ctx = context(state, &scim.0).await?;
    let member = queries::member_by_id(&state.app.read, scim.0.org_id(), user)
        .await?
        .ok_or_else(|| ScimError::not_found("user"))?;
    let resource = ctx.user(&member);
    Ok((member, resource))
}

/// `If-Match` must name the current version, when sent.
fn check_version(headers: &HeaderMap, current: &Value) -> Result<(), ScimError> {
    let Some(wanted) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let version = current["meta"]["version"].as_str().unwrap_or_default();
    let strip = |v: &str| {
        v.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned()
    };
    if wanted.trim() == "*" || wanted.split(',').any(|w| strip(w) == strip(version)) {
        Ok(())
    } else {
        Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            "the user changed since that version; read it again",
        ))
    }
}

fn parse_id(id: &str) -> Result<UserId, ScimError> {
    id.parse().map_err(|_| ScimError::not_found("user"))
}

pub(super) async fn create_user(
    State(state): State<AppState>,
    scim: ScimOrg,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let user = body_json(&headers, &body)?;
    let user_name = field(&user, "userName")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::bad("invalidValue", "userName is required"))?;
    let email = Email::parse(user_name).map_err(|_| {
        ScimError::bad(
            "invalidValue",
            "userName must be the person's email address: Roster identifies people by it",
        )
    })?;
    let full_name = person_name(&user, &email)?;
    let active = field(&user, "active")
        .map(boolean)
        .transpose()?
        .unwrap_or(true);
    let external_id = external_id(field(&user, "externalId"))?;
    let made = directory::provision(
        &state.app,
        &scim.0,
        Provision {
            email,
            full_name,
            role: None,
            external_id,
            active,
        },
    )
    .await
    .map_err(refused)?;
    let (_, resource) = shown(&state, &scim, made.user_id, made.recorded.position).await?;
    let location = resource["meta"]["location"].as_str().map(str::to_owned);
    let mut response = with_etag(resource);
    *response.status_mut() = StatusCode::CREATED;
    if let Some(l) = location.and_then(|l| l.parse().ok()) {
        response.headers_mut().insert(header::LOCATION, l);
    }
    Ok(response)
}

/// What a write asks of a member.
struct Wanted<'a> {
    user_name: Option<&'a str>,
    active: Option<bool>,
    full_name: PersonName,
    external_id: Option<String>,
}

/// Applies what a directory may change (name, `externalId`, `active`) and
/// refuses what it may not (`userName`).
async fn apply(
    state: &AppState,
    scim: &ScimOrg,
    member: &MemberRow,
    wanted: Wanted<'_>,
) -> Result<Response, ScimError> {
    if let Some(name) = wanted.user_name {
        if !name.eq_ignore_ascii_case(&member.email) {
            return Err(ScimError::bad(
                "mutability",
                "userName is the person's address, their identity in Roster: it cannot change",
            ));
        }
    }
    let mut after = None;
    if wanted.full_name.as_str() != member.full_name || wanted.external_id != member.external_id {
        let recorded = directory::change_details(
            &state.app,
            &scim.0,
            member.user_id,
            wanted.full_name,
            wanted.external_id,
        )
        .await
        .map_err(refused)?;
        after = recorded.position.or(after);
    }
    if let Some(active) = wanted.active.filter(|a| *a == member.suspended) {
        let recorded = directory::set_active(&state.app, &scim.0, member.user_id, active)
            .await
            .map_err(refused)?;
        after = recorded.position.or(after);
    }
    let (_, resource) = shown(state, scim, member.user_id, after).await?;
    Ok(with_etag(resource))
}

/// The name a PATCH leaves: `displayName` if it set one, else its `name`.
fn patched_name(
    current: &str,
    display: Option<&Value>,
    name: &serde_json::Map<String, Value>,
) -> Result<PersonName, ScimError> {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let get = |k: &str| {
        name.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v)
    };
    let chosen = text(display)
        .or_else(|| text(get("formatted")))
        .or_else(|| match (text(get("givenName")), text(get("familyName"))) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (g, f) => g.or(f),
        })
        .unwrap_or_else(|| current.to_owned());
    PersonName::parse(&chosen).map_err(|e| ScimError::bad("invalidValue", format!("name: {e}")))
}

pub(super) async fn replace_user(
    State(state): State<AppState>,
    scim: ScimOrg,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let user_id = parse_id(&id)?;
    let user = body_json(&headers, &body)?;
    let (member, current) = shown(&state, &scim, user_id, None).await?;
    check_version(&headers, &current)?;
    let active = field(&user, "active")
        .map(boolean)
        .transpose()?
        .unwrap_or(true);
    let email = Email::parse(&member.email)
        .map_err(|_| ScimError::bad("invalidValue", "the member's address cannot be read"))?;
    let wanted = Wanted {
        user_name: field(&user, "userName").and_then(Value::as_str),
        active: Some(active),
        full_name: person_name(&user, &email)?,
        external_id: external_id(field(&user, "externalId"))?,
    };
    apply(&state, &scim, &member, wanted).await
}

pub(super) async fn patch_user(
    State(state): State<AppState>,
    scim: ScimOrg,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let user_id = parse_id(&id)?;
    let patch = body_json(&headers, &body)?;
    let operations = field(&patch, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad("invalidSyntax", "a PATCH holds Operations"))?;
    if operations.len() > 100 {
        return Err(ScimError::bad("invalidValue", "at most 100 operations"));
    }
    let (member, current) = shown(&state, &scim, user_id, None).await?;
    check_version(&headers, &current)?;
    let mut active = None;
    let mut user_name = None;
    let mut display: Option<Value> = None;
    let mut name = serde_json::Map::new();
    let mut external = member.external_id.clone();
    for op in operations {
        let kind = field(op, "op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| ScimError::bad("invalidSyntax", "every operation names its op"))?;
        if !matches!(kind.as_str(), "add" | "replace" | "remove") {
            return Err(ScimError::bad(
                "invalidSyntax",
                format!("“{kind}” is not an operation"),
            ));
        }
        let path = field(op, "path").and_then(Value::as_str);
        let value = field(op, "value");
        // Either `path` + `value`, or a value object of attributes (Entra, Okta).
        let pairs: Vec<(String, Option<&Value>)> = match (path, value) {
            (Some(p), v) => {
                if p.len() > 200 {
                    return Err(ScimError::bad("invalidPath", "the path is too long"));
                }
                vec![(
                    p.rsplit_once(':')
                        .map_or(p, |(_, a)| a)
                        .to_ascii_lowercase(),
                    v,
                )]
            }
            (None, Some(Value::Object(attrs))) => attrs
                .iter()
                .map(|(k, v)| {
                    (
                        k.rsplit_once(':')
                            .map_or(k.as_str(), |(_, a)| a)
                            .to_ascii_lowercase(),
                        Some(v),
                    )
                })
                .collect(),
            _ => {
                return Err(ScimError::bad(
                    "invalidSyntax",
                    "an operation needs a path or a value object",
                ))
            }
        };
        for (attribute, value) in pairs {
            match attribute.as_str() {
                "active" if kind == "remove" => {
                    return Err(ScimError::bad(
                        "mutability",
                        "active cannot be removed; set it to false",
                    ))
                }
                "active" => {
                    active = Some(boolean(value.ok_or_else(|| {
                        ScimError::bad("invalidValue", "active needs a value")
                    })?)?)
                }
                "username" => user_name = value.and_then(Value::as_str).map(str::to_owned),
                "externalid" if kind == "remove" => external = None,
                "displayname" | "name" if kind == "remove" => {
                    return Err(ScimError::bad("mutability", "a member always has a name"))
                }
                "externalid" => external = external_id(value)?,
                "displayname" if kind != "remove" => display = value.cloned(),
                "name" if kind != "remove" => {
                    if let Some(Value::Object(parts)) = value {
                        name.extend(parts.clone());
                    }
                }
                sub if kind != "remove" && sub.starts_with("name.") => {
                    if let Some(v) = value {
                        name.insert(sub["name.".len()..].to_owned(), v.clone());
                    }
                }
                // Attributes Roster does not keep (phone numbers, titles…).
                _ => {}
            }
        }
    }
    let full_name = patched_name(&member.full_name, display.as_ref(), &name)?;
    let wanted = Wanted {
        user_name: user_name.as_deref(),
        active,
        full_name,
        external_id: external,
    };
    apply(&state, &scim, &member, wanted).await
}

pub(super) async fn delete_user(
    State(state): State<AppState>,
    scim: ScimOrg,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let user_id = parse_id(&id)?;
    let (_, current) = shown(&state, &scim, user_id, None).await?;
    check_version(&headers, &current)?;
    directory::remove(&state.app, &scim.0, user_id)
        .await
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
