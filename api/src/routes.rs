//! The JSON API's handlers. Each authenticates, authorizes from the access read
//! model (404 to non-members, 403 to non-owners), parses into domain values, and
//! hands the command to the shared handler; queries read the read models.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use roster_domain::organization::{Actor, Envelope, OrgCommand};
use roster_domain::user::UserCommand;
use roster_domain::{
    AccountId, AccountRole, DomainError, Email, InvitationId, OrgId, OrgRole, OrgShape, PersonName,
    Role, SendId, SingleRole, TextError, UserId,
};
use roster_eventstore::{Metadata, Position, Source};
use roster_projections::fetch;
use roster_projections::queries::{self, MemberFilter};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ApiError;
use crate::identity::{self, Caller, MaybeCaller, SESSION_COOKIE};
use crate::json::{ApiJson, ApiQuery};
use crate::problem::{FieldError, Problem};
use crate::AppState;

fn metadata(actor: Option<UserId>) -> Metadata {
    Metadata {
        actor: Some(actor.map_or_else(|| "anonymous".to_owned(), |u| u.to_string())),
        correlation_id: Some(Uuid::now_v7()),
        source: Source::Api,
        ..Metadata::default()
    }
}

fn text_error(field: &str, e: TextError) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: e.to_string(),
    }
}

fn parse_id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::problem(Problem::new(
            StatusCode::NOT_FOUND,
            &format!("{what}-not-found"),
            "Not found",
            format!("no such {what}"),
        ))
    })
}

/// Waits (at most 2 s) for the read models to pass `after`, for read-your-writes.
async fn settle(state: &AppState, after: Option<u64>) -> Result<bool, ApiError> {
    match after {
        Some(p) => Ok(queries::wait_for(&state.read, Position(p), Duration::from_secs(2)).await?),
        None => Ok(true),
    }
}

/// The caller must be an owner of `org`: 404 to non-members, 403 to other members.
///
/// The access read model answers first; before refusing, the organization itself is
/// consulted, because the read model may lag a moment behind an invitation just
/// accepted or a role just changed (the owner who joined a second ago is an owner).
async fn require_owner(state: &AppState, caller: &Caller, org: OrgId) -> Result<(), ApiError> {
    if queries::org_role(&state.read, org, caller.user_id)
        .await?
        .as_deref()
        == Some("owner")
    {
        return Ok(());
    }
    let (_, current) = state.orgs.load(org).await?;
    match current.and_then(|o| o.members.get(&caller.user_id).map(|m| m.role.is_owner())) {
        Some(true) => Ok(()),
        Some(false) => Err(ApiError::Domain(DomainError::NotAnOwner)),
        None => Err(ApiError::org_not_found()),
    }
}

/// Parses the organization in the path and checks the caller owns it.
async fn owned_org(state: &AppState, caller: &Caller, raw: &str) -> Result<OrgId, ApiError> {
    let org: OrgId = parse_id(raw, "organization")?;
    require_owner(state, caller, org).await?;
    Ok(org)
}

/// [`owned_org`] for queries: first waits (bounded) for the read models to pass
/// `after`; also says whether they did (`false` = the answer may be stale).
async fn owned_org_after(
    state: &AppState,
    caller: &Caller,
    raw: &str,
    after: Option<u64>,
) -> Result<(OrgId, bool), ApiError> {
    let org: OrgId = parse_id(raw, "organization")?;
    let fresh = settle(state, after).await?;
    require_owner(state, caller, org).await?;
    Ok((org, fresh))
}

/// Runs an organization command as the signed-in caller.
async fn command_as(
    state: &AppState,
    caller: &Caller,
    org: OrgId,
    command: OrgCommand,
) -> Result<roster_commands::Outcome<roster_domain::OrgEvent>, ApiError> {
    let envelope = Envelope {
        actor: Actor::User(caller.user_id),
        command,
    };
    Ok(state
        .orgs
        .execute(org, &envelope, &metadata(Some(caller.user_id)))
        .await?)
}

/// The organization's shape, from the read model.
async fn shape_of(state: &AppState, org: OrgId) -> Result<OrgShape, ApiError> {
    let row = fetch!(
        db & state.read,
        fetch_optional,
        (String,),
        "SELECT shape FROM rm_orgs WHERE org_id = $1",
        org.to_string()
    )?;
    match row.map(|(s,)| s).as_deref() {
        Some("multi") => Ok(OrgShape::Multi),
        Some(_) => Ok(OrgShape::Single),
        None => Err(ApiError::org_not_found()),
    }
}

/// Role fields as clients send them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    role: Option<SingleRole>,
    org_role: Option<OrgRole>,
    accounts: Option<Vec<AccountRoleInput>>,
}

/// One account role as clients send it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRoleInput {
    account_id: AccountId,
    role: AccountRole,
}

fn role_from(shape: OrgShape, input: RoleInput) -> Result<Role, FieldError> {
    let accounts = input.accounts.map(|list| {
        list.into_iter()
            .map(|a| (a.account_id, a.role))
            .collect::<BTreeMap<_, _>>()
    });
    Role::from_parts(shape, input.role, input.org_role, accounts).map_err(|e| FieldError {
        field: "role".into(),
        message: e.to_string(),
    })
}

/// Answer of a command: the read-your-writes position.
fn accepted(status: StatusCode, body: Value) -> impl IntoResponse {
    (status, Json(body))
}

// ---- sessions ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignIn {
    email: String,
    password: String,
}

/// `POST /api/sessions`: email + password → a session (cookie and token).
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    crate::throttle::ClientAddr(addr): crate::throttle::ClientAddr,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<axum::response::Response, ApiError> {
    let invalid = || {
        ApiError::problem(Problem::new(
            StatusCode::UNAUTHORIZED,
            "invalid-credentials",
            "Invalid credentials",
            "the email or the password is wrong",
        ))
    };
    let key = Email::parse(&body.email)
        .map(|e| e.key().to_owned())
        .unwrap_or_default();
    if let Some(wait) = state.throttle.check(&key, addr) {
        let seconds = wait.as_secs().max(1);
        let problem = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-sign-in-attempts",
            "Too many attempts",
            format!("too many failed sign-ins; try again in {seconds} seconds"),
        );
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return Ok((headers, problem).into_response());
    }
    let found = if key.is_empty() {
        None
    } else {
        identity::credentials_by_email(&state.read, &key).await?
    };
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    if !identity::verify_password(body.password, hash).await? {
        state.throttle.failed(&key, addr);
        return Err(invalid());
    }
    state.throttle.succeeded(&key);
    let user: UserId = user.and_then(|u| u.parse().ok()).ok_or_else(invalid)?;
    let (token, expires_at) = identity::open_session(&state, user).await?;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        state.session_ttl.num_seconds()
    );
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, v);
    }
    Ok((
        StatusCode::CREATED,
        headers,
        Json(json!({ "token": token, "user_id": user, "expires_at": expires_at })),
    )
        .into_response())
}

/// `DELETE /api/sessions/current`: revokes the caller's session.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    identity::close_session(&state.read, &caller.token).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_static("roster_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok((StatusCode::NO_CONTENT, headers))
}

// ---- me ----

/// `GET /api/me`: identity, organizations, roles and accounts.
pub(crate) async fn me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let (_, user) = state.users.load(caller.user_id).await?;
    let access = queries::access_of(&state.read, caller.user_id).await?;
    let mut orgs: BTreeMap<String, Value> = BTreeMap::new();
    for (org, scope, role) in access {
        let entry = orgs
            .entry(org.clone())
            .or_insert_with(|| json!({ "org_id": org, "role": null, "accounts": [] }));
        if scope == "org" {
            entry["role"] = json!(role);
        } else if let Some(list) = entry["accounts"].as_array_mut() {
            list.push(json!({ "account_id": scope, "role": role }));
        }
    }
    for (org, entry) in orgs.iter_mut() {
        if let Some((name, shape)) = fetch!(
            db & state.read,
            fetch_optional,
            (String, String),
            "SELECT name, shape FROM rm_orgs WHERE org_id = $1",
            org.clone()
        )? {
            entry["name"] = json!(name);
            entry["shape"] = json!(shape);
        }
    }
    Ok(Json(json!({
        "user_id": caller.user_id,
        "email": user.as_ref().map(|u| u.email.to_string()),
        "full_name": user.as_ref().map(|u| u.full_name.to_string()),
        "organizations": orgs.into_values().collect::<Vec<_>>(),
    })))
}

// ---- members ----

#[derive(Debug, Deserialize)]
pub(crate) struct MembersQuery {
    as_of: Option<chrono::DateTime<chrono::Utc>>,
    search: Option<String>,
    role: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
    after: Option<u64>,
}

/// `GET /api/orgs/{org}/members`: current user first, then by name; search, filter, pages.
pub(crate) async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiQuery(q): ApiQuery<MembersQuery>,
) -> Result<Json<Value>, ApiError> {
    let (org, fresh) = owned_org_after(&state, &caller, &org, q.after).await?;
    if let Some(at) = q.as_of {
        return members_as_of(&state, org, caller.user_id, at).await;
    }
    let filter = MemberFilter {
        search: q.search.filter(|s| !s.trim().is_empty()),
        role: q.role,
    };
    let page = queries::members(
        &state.read,
        org,
        Some(caller.user_id),
        &filter,
        q.cursor.as_deref(),
        q.limit.unwrap_or(50),
    )
    .await?;
    Ok(Json(
        json!({ "members": page.members, "next_cursor": page.next_cursor, "stale": !fresh }),
    ))
}

/// `PATCH /api/orgs/{org}/members/{user}`: change a member's role(s).
pub(crate) async fn change_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, user)): Path<(String, String)>,
    ApiJson(body): ApiJson<RoleInput>,
) -> Result<impl IntoResponse, ApiError> {
    let org = owned_org(&state, &caller, &org).await?;
    let user: UserId = parse_id(&user, "member")?;
    let role =
        role_from(shape_of(&state, org).await?, body).map_err(|e| ApiError::Validation(vec![e]))?;
    let outcome = command_as(
        &state,
        &caller,
        org,
        OrgCommand::ChangeRole {
            user_id: user,
            role,
        },
    )
    .await?;
    Ok(accepted(
        StatusCode::OK,
        json!({ "position": outcome.position(), "changed": !outcome.events.is_empty() }),
    ))
}

/// `DELETE /api/orgs/{org}/members/{user}`: remove a member.
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, user)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let org = owned_org(&state, &caller, &org).await?;
    let user: UserId = parse_id(&user, "member")?;
    let outcome = command_as(
        &state,
        &caller,
        org,
        OrgCommand::RemoveUser { user_id: user },
    )
    .await?;
    Ok(accepted(
        StatusCode::OK,
        json!({ "position": outcome.position() }),
    ))
}

// ---- invitations (owner side) ----

#[derive(Debug, Deserialize)]
pub(crate) struct AfterQuery {
    after: Option<u64>,
}

/// `GET /api/orgs/{org}/invitations`: pending and expired invitations.
pub(crate) async fn list_invitations(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiQuery(q): ApiQuery<AfterQuery>,
) -> Result<Json<Value>, ApiError> {
    let (org, fresh) = owned_org_after(&state, &caller, &org, q.after).await?;
    let list = queries::invitations(&state.read, org).await?;
    Ok(Json(json!({ "invitations": list, "stale": !fresh })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InviteBody {
    email: Option<String>,
    full_name: Option<String>,
    role: Option<SingleRole>,
    org_role: Option<OrgRole>,
    accounts: Option<Vec<AccountRoleInput>>,
}

/// `POST /api/orgs/{org}/invitations`: invite a person with a role.
pub(crate) async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<impl IntoResponse, ApiError> {
    let org = owned_org(&state, &caller, &org).await?;
    let shape = shape_of(&state, org).await?;
    let mut errors = Vec::new();
    let email = match body.email.as_deref().map(Email::parse) {
        Some(Ok(e)) => Some(e),
        Some(Err(e)) => {
            errors.push(text_error("email", e));
            None
        }
        None => {
            errors.push(FieldError {
                field: "email".into(),
                message: "required".into(),
            });
            None
        }
    };
    let full_name = match body.full_name.as_deref().map(PersonName::parse) {
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => {
            errors.push(text_error("full_name", e));
            None
        }
        None => {
            errors.push(FieldError {
                field: "full_name".into(),
                message: "required".into(),
            });
            None
        }
    };
    let role = match role_from(
        shape,
        RoleInput {
            role: body.role,
            org_role: body.org_role,
            accounts: body.accounts,
        },
    ) {
        Ok(r) => Some(r),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let (Some(email), Some(full_name), Some(role)) = (email, full_name, role) else {
        return Err(ApiError::Validation(errors));
    };
    let invitation_id = InvitationId::from_uuid(Uuid::now_v7());
    let send_id = SendId::from_uuid(Uuid::now_v7());
    let token = state.key.invitation_token(invitation_id, send_id);
    let outcome = command_as(
        &state,
        &caller,
        org,
        OrgCommand::InviteUser {
            invitation_id,
            send_id,
            email: email.clone(),
            full_name: full_name.clone(),
            role: role.clone(),
            token_digest: token.digest(),
        },
    )
    .await?;
    let expires_at = outcome.events.iter().find_map(|e| match e {
        roster_domain::OrgEvent::UserInvited(i) => Some(i.expires_at),
        _ => None,
    });
    Ok(accepted(
        StatusCode::CREATED,
        json!({
            "invitation_id": invitation_id,
            "email": email.to_string(),
            "full_name": full_name.to_string(),
            "role": role,
            "status": "pending",
            "expires_at": expires_at,
            "position": outcome.position(),
        }),
    ))
}

/// `POST /api/orgs/{org}/invitations/{id}/resend`: new token, new deadline.
pub(crate) async fn resend(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let org = owned_org(&state, &caller, &org).await?;
    let invitation_id: InvitationId = parse_id(&id, "invitation")?;
    let send_id = SendId::from_uuid(Uuid::now_v7());
    let token = state.key.invitation_token(invitation_id, send_id);
    let outcome = command_as(
        &state,
        &caller,
        org,
        OrgCommand::ResendInvite {
            invitation_id,
            send_id,
            token_digest: token.digest(),
        },
    )
    .await?;
    let expires_at = outcome.events.iter().find_map(|e| match e {
        roster_domain::OrgEvent::InvitationResent(r) => Some(r.expires_at),
        _ => None,
    });
    Ok(accepted(
        StatusCode::OK,
        json!({ "invitation_id": invitation_id, "expires_at": expires_at, "position": outcome.position() }),
    ))
}

/// `DELETE /api/orgs/{org}/invitations/{id}`: cancel.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let org = owned_org(&state, &caller, &org).await?;
    let invitation_id: InvitationId = parse_id(&id, "invitation")?;
    let outcome = command_as(
        &state,
        &caller,
        org,
        OrgCommand::CancelInvite { invitation_id },
    )
    .await?;
    Ok(accepted(
        StatusCode::OK,
        json!({ "position": outcome.position() }),
    ))
}

// ---- invitations (invitee side) ----

/// What an invitation link resolves to.
#[derive(Debug, Serialize)]
struct LinkTarget {
    org_id: OrgId,
    invitation_id: InvitationId,
    email: String,
    full_name: String,
}

async fn resolve_link(state: &AppState, token: &str) -> Result<LinkTarget, ApiError> {
    let digest =
        String::from(roster_commands::tokens::InvitationToken::from_presented(token).digest());
    let lookup = || async {
        fetch!(
            db &state.read,
            fetch_optional,
            (String, String, String, String),
            "SELECT org_id, invitation_id, email, full_name FROM rm_invitations WHERE token_digest = $1",
            digest.clone()
        )
    };
    let mut row = lookup().await?;
    if row.is_none() {
        // A link sent a moment ago may not be projected yet: wait briefly for the
        // read models to reach the log's head, then look again.
        let head = state
            .store
            .head()
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        if queries::wait_for(&state.read, head, Duration::from_secs(2)).await? {
            row = lookup().await?;
        }
    }
    let invalid = || ApiError::Domain(DomainError::InvalidToken);
    let (org, inv, email, full_name) = row.ok_or_else(invalid)?;
    Ok(LinkTarget {
        org_id: org.parse().map_err(|_| invalid())?,
        invitation_id: inv.parse().map_err(|_| invalid())?,
        email,
        full_name,
    })
}

/// `GET /api/invitations/{token}`: preview only; opening a link never uses it up.
pub(crate) async fn preview(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let target = resolve_link(&state, &token).await?;
    let (_, org) = state.orgs.load(target.org_id).await?;
    let org = org.ok_or(ApiError::Domain(DomainError::InvalidToken))?;
    let inv = org
        .invitations
        .get(&target.invitation_id)
        .ok_or(ApiError::Domain(DomainError::InvalidToken))?;
    let digest = roster_commands::tokens::InvitationToken::from_presented(&token).digest();
    if !inv.token_digest.matches(&digest) {
        return Err(ApiError::Domain(DomainError::InvalidToken));
    }
    let inviter = match inv.invited_by {
        Actor::User(u) => org.members.get(&u).map(|m| m.full_name.to_string()),
        Actor::System => None,
    };
    let expired = inv.status == roster_domain::organization::InvitationStatus::Expired
        || state.clock.now() >= inv.expires_at;
    let existing = identity::credentials_by_email(&state.read, inv.email.key())
        .await?
        .is_some();
    Ok(Json(json!({
        "organization": { "org_id": org.id, "name": org.name.to_string(), "shape": org.shape },
        "invited_by": inviter,
        "email": inv.email.to_string(),
        "full_name": inv.full_name.to_string(),
        "role": inv.role,
        "expires_at": inv.expires_at,
        "status": if expired { "expired".to_owned() } else { inv.status.to_string() },
        "existing_account": existing,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AcceptBody {
    token: String,
    full_name: Option<String>,
    password: Option<String>,
}

/// `POST /api/invitations/accept`: join. A new person sets name and password; a
/// person who already has an identity must be signed in as it.
pub(crate) async fn accept(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiJson(body): ApiJson<AcceptBody>,
) -> Result<impl IntoResponse, ApiError> {
    let target = resolve_link(&state, &body.token).await?;
    let digest = roster_commands::tokens::InvitationToken::from_presented(&body.token).digest();
    let email = Email::parse(&target.email).map_err(|e| ApiError::Internal(e.to_string()))?;
    let existing = identity::credentials_by_email(&state.read, email.key()).await?;
    let (user_id, full_name, new_identity) = match (existing, caller) {
        (Some((user, _)), Some(caller)) if caller.user_id.to_string() == user => {
            let (_, me) = state.users.load(caller.user_id).await?;
            let name = me
                .map(|u| u.full_name)
                .ok_or_else(|| ApiError::Internal("identity without events".into()))?;
            (caller.user_id, name, None)
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::problem(Problem::new(
                StatusCode::FORBIDDEN,
                "wrong-identity",
                "Signed in as someone else",
                format!(
                    "this invitation is for {}; sign out and sign in as that person to accept it",
                    target.email
                ),
            )))
        }
        (Some(_), None) => {
            return Err(ApiError::problem(Problem::new(
                StatusCode::UNAUTHORIZED,
                "sign-in-to-accept",
                "Sign in to accept",
                format!(
                    "{} already has an account: sign in first, then accept",
                    target.email
                ),
            )))
        }
        (None, _) => {
            let mut errors = Vec::new();
            let name = match body.full_name.as_deref().map(PersonName::parse) {
                Some(Ok(n)) => Some(n),
                Some(Err(e)) => {
                    errors.push(text_error("full_name", e));
                    None
                }
                None => {
                    errors.push(FieldError {
                        field: "full_name".into(),
                        message: "required".into(),
                    });
                    None
                }
            };
            let password = match body.password {
                Some(p) => match identity::password_problem(&p, &target.email) {
                    None => Some(p),
                    Some(m) => {
                        errors.push(FieldError {
                            field: "password".into(),
                            message: m,
                        });
                        None
                    }
                },
                None => {
                    errors.push(FieldError {
                        field: "password".into(),
                        message: "required".into(),
                    });
                    None
                }
            };
            let (Some(name), Some(password)) = (name, password) else {
                return Err(ApiError::Validation(errors));
            };
            (UserId::from_uuid(Uuid::now_v7()), name, Some(password))
        }
    };
    // Check the invitation against the authoritative state before creating anything.
    let (_, org) = state.orgs.load(target.org_id).await?;
    let dry_run = roster_domain::organization::decide(
        org.as_ref(),
        &Envelope {
            actor: Actor::System,
            command: OrgCommand::AcceptInvite {
                invitation_id: target.invitation_id,
                token_digest: digest,
                user_id,
                full_name: full_name.clone(),
            },
        },
        &roster_domain::Context::at(state.clock.now()),
    );
    dry_run.map_err(ApiError::Domain)?;
    if let Some(password) = new_identity {
        let hash = identity::hash_password(password).await?;
        if !identity::insert_credentials(
            &state.read,
            user_id,
            email.key(),
            &hash,
            state.clock.now(),
        )
        .await?
        {
            return Err(ApiError::problem(Problem::new(
                StatusCode::CONFLICT,
                "sign-in-to-accept",
                "Sign in to accept",
                "this email has just been registered; sign in first",
            )));
        }
        state
            .users
            .execute(
                user_id,
                &UserCommand::RegisterUser {
                    user_id,
                    email: email.clone(),
                    full_name: full_name.clone(),
                },
                &metadata(Some(user_id)),
            )
            .await?;
    }
    let outcome = state
        .orgs
        .execute(
            target.org_id,
            &Envelope {
                actor: Actor::User(user_id),
                command: OrgCommand::AcceptInvite {
                    invitation_id: target.invitation_id,
                    token_digest: digest,
                    user_id,
                    full_name,
                },
            },
            &metadata(Some(user_id)),
        )
        .await?;
    Ok(accepted(
        StatusCode::CREATED,
        json!({ "user_id": user_id, "org_id": target.org_id, "position": outcome.position() }),
    ))
}

// ---- accounts ----

/// `GET /api/orgs/{org}/accounts`: the organization's accounts.
pub(crate) async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiQuery(q): ApiQuery<AfterQuery>,
) -> Result<Json<Value>, ApiError> {
    let (org, fresh) = owned_org_after(&state, &caller, &org, q.after).await?;
    let rows = fetch!(
        db &state.read,
        fetch_all,
        (String, String, String),
        "SELECT account_id, name, added_at FROM rm_accounts WHERE org_id = $1 ORDER BY name, account_id",
        org.to_string()
    )?;
    let accounts: Vec<Value> = rows
        .into_iter()
        .map(|(id, name, added_at)| json!({ "account_id": id, "name": name, "added_at": added_at }))
        .collect();
    Ok(Json(json!({ "accounts": accounts, "stale": !fresh })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountBody {
    name: String,
}

/// `POST /api/orgs/{org}/accounts`: add an account (multi-account organizations).
pub(crate) async fn add_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<AccountBody>,
) -> Result<impl IntoResponse, ApiError> {
    let org = owned_org(&state, &caller, &org).await?;
    let name = roster_domain::DisplayName::parse(&body.name)
        .map_err(|e| ApiError::Validation(vec![text_error("name", e)]))?;
    let account_id = AccountId::from_uuid(Uuid::now_v7());
    let outcome = command_as(
        &state,
        &caller,
        org,
        OrgCommand::AddAccount {
            account_id,
            name: name.clone(),
        },
    )
    .await?;
    Ok(accepted(
        StatusCode::CREATED,
        json!({ "account_id": account_id, "name": name.to_string(), "position": outcome.position() }),
    ))
}

// ---- history and "as of" ----

#[derive(Debug, Deserialize)]
pub(crate) struct HistoryQuery {
    since: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    actor: Option<String>,
    subject: Option<String>,
    cursor: Option<i64>,
    limit: Option<usize>,
    after: Option<u64>,
}

/// `GET /api/orgs/{org}/history`: the organization's events with summaries, oldest
/// first, filterable; `next_cursor` pages on.
pub(crate) async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let (org, fresh) = owned_org_after(&state, &caller, &org, q.after).await?;
    let filter = queries::HistoryFilter {
        since: q.since,
        until: q.until,
        event_type: q.event_type,
        actor: q.actor,
        subject: q.subject,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = queries::history(&state.read, org, &filter, q.cursor.unwrap_or(0), limit).await?;
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.position))
        .flatten();
    Ok(Json(
        json!({ "events": rows, "next_cursor": next, "stale": !fresh }),
    ))
}

/// The member list as it was at `at`, folded from the log (exact to the event).
pub(crate) async fn members_as_of(
    state: &AppState,
    org: OrgId,
    me: UserId,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Json<Value>, ApiError> {
    let past = queries::organization_as_of(state.store.as_ref(), org, at).await?;
    let mut members: Vec<Value> = Vec::new();
    if let Some(past) = past {
        let mut list: Vec<&roster_domain::organization::Member> = past.members.values().collect();
        list.sort_by(|a, b| {
            (
                a.user_id != me,
                a.full_name.as_str().to_lowercase(),
                a.user_id,
            )
                .cmp(&(
                    b.user_id != me,
                    b.full_name.as_str().to_lowercase(),
                    b.user_id,
                ))
        });
        members = list
            .into_iter()
            .map(|m| json!({ "user_id": m.user_id, "full_name": m.full_name.to_string(), "email": m.email.to_string(), "role": m.role, "joined_at": m.joined_at }))
            .collect();
    }
    Ok(Json(json!({ "as_of": at, "members": members })))
}
