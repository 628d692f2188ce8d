//! One error type for every handler: a use case's refusal becomes a problem with
//! a stable type per rule; an infrastructure failure becomes a 500 problem whose id
//! is logged with the whole chain of causes, never shown to the client.

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_commands::use_cases::sso::SsoRefusal;
use roster_commands::UseCaseError;
use roster_domain::user::UserError;
use roster_domain::DomainError;

use crate::problem::Problem;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Already a finished problem (boxed: it is large and errors travel by value).
    #[error("{}", .0.detail)]
    Problem(Box<Problem>),
    /// The use case refused or failed.
    #[error(transparent)]
    UseCase(#[from] UseCaseError),
}

impl ApiError {
    /// Wraps a finished problem.
    pub fn problem(p: Problem) -> Self {
        ApiError::Problem(Box::new(p))
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::UseCase(UseCaseError::Refused(e))
    }
}

/// The problem a domain refusal is answered with.
pub(crate) fn domain_problem(e: &DomainError) -> Problem {
    use DomainError as D;
    let (status, slug, title) = match e {
        D::OrganizationExists => (
            StatusCode::CONFLICT,
            "organization-exists",
            "Organization exists",
        ),
        D::OrganizationNotFound => (
            StatusCode::NOT_FOUND,
            "organization-not-found",
            "Organization not found",
        ),
        D::NotAnOwner => (
            StatusCode::FORBIDDEN,
            "not-an-owner",
            "Only owners may do this",
        ),
        D::NotMultiAccount => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-multi-account",
            "Not a multi-account organization",
        ),
        D::AccountNameTaken { .. } => (
            StatusCode::CONFLICT,
            "account-name-taken",
            "Account name taken",
        ),
        D::AccountExists(_) => (StatusCode::CONFLICT, "account-exists", "Account exists"),
        D::UnknownAccount(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-account",
            "Unknown account",
        ),
        D::RoleShapeMismatch { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "role-does-not-fit",
            "Role does not fit the organization",
        ),
        D::AlreadyMember { .. } => (StatusCode::CONFLICT, "already-member", "Already a member"),
        D::AlreadyInvited { .. } => (StatusCode::CONFLICT, "already-invited", "Already invited"),
        D::InvitationExists(_) => (
            StatusCode::CONFLICT,
            "invitation-exists",
            "Invitation exists",
        ),
        D::InvitationNotFound => (
            StatusCode::NOT_FOUND,
            "invitation-not-found",
            "Invitation not found",
        ),
        D::InvitationClosed { .. } => (
            StatusCode::CONFLICT,
            "invitation-closed",
            "Invitation closed",
        ),
        D::InvitationAlreadyAccepted => (
            StatusCode::GONE,
            "invitation-already-accepted",
            "Invitation already used",
        ),
        D::InvitationWasCancelled => (
            StatusCode::GONE,
            "invitation-cancelled",
            "Invitation cancelled",
        ),
        D::InvitationHasExpired { .. } => {
            (StatusCode::GONE, "invitation-expired", "Invitation expired")
        }
        D::LinkReplaced => (
            StatusCode::GONE,
            "invitation-link-replaced",
            "Invitation link replaced",
        ),
        D::InvalidToken => (
            StatusCode::NOT_FOUND,
            "invalid-invitation-link",
            "Invalid invitation link",
        ),
        D::MemberNotFound => (
            StatusCode::NOT_FOUND,
            "member-not-found",
            "Member not found",
        ),
        D::LastOwner => (StatusCode::CONFLICT, "last-owner", "Last owner"),
        D::MemberIsSuspended => (StatusCode::CONFLICT, "member-suspended", "Member suspended"),
        D::UnknownSend => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-send",
            "Unknown send",
        ),
        D::SsoManagedByPeopleOnly => (
            StatusCode::FORBIDDEN,
            "sso-managed-by-people",
            "Single sign-on is configured by people",
        ),
        D::NoSsoConnection => (
            StatusCode::NOT_FOUND,
            "no-sso-connection",
            "No single sign-on connection",
        ),
        D::SsoDomainCount { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "sso-domain-count",
            "Wrong number of domains",
        ),
        D::SsoSubjectLinkedElsewhere => (
            StatusCode::CONFLICT,
            "sso-identity-linked-elsewhere",
            "Identity linked to someone else",
        ),
        D::SsoPersonLinkedElsewhere => (
            StatusCode::CONFLICT,
            "sso-person-linked-elsewhere",
            "Person linked to another identity",
        ),
        D::SsoDomainNotConnected { .. } => (
            StatusCode::FORBIDDEN,
            "sso-domain-not-connected",
            "Address not at a connected domain",
        ),
        D::SsoJoinAsOwner => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "sso-join-as-owner",
            "Nobody joins as an owner",
        ),
        D::SsoJoinOff => (
            StatusCode::FORBIDDEN,
            "sso-join-off",
            "Joining needs an invitation",
        ),
        D::NotThePerson => (StatusCode::FORBIDDEN, "not-the-person", "Not the person"),
        D::KeysManagedByPeopleOnly => (
            StatusCode::FORBIDDEN,
            "keys-managed-by-people",
            "Keys are managed by people",
        ),
        D::ApiKeyExists(_) => (StatusCode::CONFLICT, "api-key-exists", "API key exists"),
        D::ApiKeyNotFound => (
            StatusCode::NOT_FOUND,
            "api-key-not-found",
            "API key not found",
        ),
        D::ApiKeyAlreadyRevoked => (
            StatusCode::CONFLICT,
            "api-key-revoked",
            "API key revoked already",
        ),
        D::NoScopes => (StatusCode::UNPROCESSABLE_ENTITY, "no-scopes", "No scopes"),
        D::ExpiryNotInFuture => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "expiry-not-in-future",
            "Expiry not in the future",
        ),
        D::ApiKeyNameTaken { .. } => (
            StatusCode::CONFLICT,
            "api-key-name-taken",
            "API key name taken",
        ),
        D::TooManyApiKeys { .. } => (
            StatusCode::CONFLICT,
            "too-many-api-keys",
            "Too many API keys",
        ),
    };
    let p = Problem::new(status, slug, title, e.to_string());
    match e {
        D::AlreadyInvited {
            invitation_id,
            status,
            role,
            ..
        } => p
            .with("invitation_id", invitation_id)
            .with("invitation_status", status)
            .with("invitation_role", role),
        D::AlreadyMember { user_id, .. } => p.with("user_id", user_id),
        _ => p,
    }
}

pub(crate) fn identity_problem(e: &UserError) -> Problem {
    let (status, slug, title) = match e {
        UserError::AlreadyRegistered => (
            StatusCode::CONFLICT,
            "already-registered",
            "Already registered",
        ),
        UserError::UserNotFound => (StatusCode::NOT_FOUND, "user-not-found", "No such user"),
        UserError::ResetLinkInvalid => (
            StatusCode::NOT_FOUND,
            "invalid-reset-link",
            "Invalid reset link",
        ),
    };
    Problem::new(status, slug, title, e.to_string())
}

use roster_domain::error_chain as causes;

/// How long a client should wait when the database is out of reach.
const DATABASE_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// A problem the client may retry after `wait`, said in `Retry-After` (seconds).
fn retry_later(problem: Problem, wait: std::time::Duration) -> Response {
    let mut response = problem.into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
    response
}

/// The problem a single sign-on refusal is answered with. The provider's own
/// failures are 502/503-free on purpose: a browser lands on a page that says
/// what happened, and an API client on a 4xx it can show.
pub(crate) fn sso_problem(e: &SsoRefusal) -> Problem {
    use SsoRefusal as S;
    let (status, slug, title) = match e {
        S::NotConnected => (
            StatusCode::NOT_FOUND,
            "sso-not-connected",
            "Single sign-on not set up",
        ),
        S::ProviderUnavailable(_) => (
            StatusCode::FAILED_DEPENDENCY,
            "sso-provider-unavailable",
            "Sign-in provider not answering",
        ),
        S::ProviderMisconfigured(_) => (
            StatusCode::FAILED_DEPENDENCY,
            "sso-provider-misconfigured",
            "Sign-in provider misconfigured",
        ),
        S::CodeRefused(_) => (
            StatusCode::BAD_REQUEST,
            "sso-code-refused",
            "Sign-in refused by the provider",
        ),
        S::ProviderDeclined(_) => (
            StatusCode::BAD_REQUEST,
            "sso-provider-declined",
            "The provider did not sign you in",
        ),
        S::Token { .. } => (
            StatusCode::UNAUTHORIZED,
            "sso-token-refused",
            "ID token refused",
        ),
        S::StateUnknown => (
            StatusCode::BAD_REQUEST,
            "sso-state-unknown",
            "Sign-in expired or used",
        ),
        S::OtherBrowser => (
            StatusCode::BAD_REQUEST,
            "sso-other-browser",
            "Started in another browser",
        ),
        S::EmailMissing => (
            StatusCode::FORBIDDEN,
            "sso-email-missing",
            "No email address given",
        ),
        S::EmailUnverified { .. } => (
            StatusCode::FORBIDDEN,
            "sso-email-unverified",
            "Email address not verified",
        ),
        S::NotAMember { .. } => (StatusCode::FORBIDDEN, "sso-not-a-member", "Not a member"),
        S::Required { .. } => (
            StatusCode::FORBIDDEN,
            "sso-required",
            "Single sign-on required",
        ),
        S::LinkExpired => (StatusCode::GONE, "sso-link-expired", "Confirmation expired"),
    };
    let problem = Problem::new(status, slug, title, e.to_string());
    match e {
        S::Token { kind, .. } => problem.with("check", kind),
        S::Required { organization } => problem.with("organization", organization),
        _ => problem,
    }
}

fn use_case_problem(e: UseCaseError) -> Response {
    let detail = e.to_string();
    let problem = match e {
        UseCaseError::Refused(d) => domain_problem(&d),
        UseCaseError::IdentityRefused(u) => identity_problem(&u),
        UseCaseError::Invalid(errors) => Problem::validation(errors),
        UseCaseError::OrganizationNotFound => Problem::new(
            StatusCode::NOT_FOUND,
            "organization-not-found",
            "Organization not found",
            detail,
        ),
        UseCaseError::Unauthenticated => Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Sign in required",
            "sign in first (a session cookie or a Bearer token)",
        ),
        UseCaseError::KeyScope { needed } => Problem::new(
            StatusCode::FORBIDDEN,
            "api-key-scope",
            "API key lacks a scope",
            format!("this API key lacks the {needed} scope; an owner can create one that has it"),
        )
        .with("needed_scope", needed),
        UseCaseError::InvalidCredentials => Problem::new(
            StatusCode::UNAUTHORIZED,
            "invalid-credentials",
            "Invalid credentials",
            detail,
        ),
        UseCaseError::Throttled { retry_after } => {
            return retry_later(
                Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-sign-in-attempts",
                    "Too many attempts",
                    detail,
                ),
                retry_after,
            )
        }
        UseCaseError::TooManyInvitations { retry_after } => {
            return retry_later(
                Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-invitations",
                    "Too many invitations",
                    detail,
                ),
                retry_after,
            )
        }
        UseCaseError::Busy { retry_after } => {
            return retry_later(
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "Busy", detail),
                retry_after,
            )
        }
        UseCaseError::Sso(refusal) => sso_problem(&refusal),
        UseCaseError::WrongIdentity { .. } => Problem::new(
            StatusCode::FORBIDDEN,
            "wrong-identity",
            "Signed in as someone else",
            detail,
        ),
        UseCaseError::SignInToAccept { .. } => Problem::new(
            StatusCode::UNAUTHORIZED,
            "sign-in-to-accept",
            "Sign in to accept",
            detail,
        ),
        UseCaseError::JustRegistered => Problem::new(
            StatusCode::CONFLICT,
            "sign-in-to-accept",
            "Sign in to accept",
            detail,
        ),
        UseCaseError::ConcurrentChange => Problem::new(
            StatusCode::CONFLICT,
            "concurrent-change",
            "Concurrent change",
            detail,
        ),
        unreachable @ UseCaseError::Infrastructure { .. } if unreachable.is_unavailable() => {
            tracing::warn!(cause = %causes(&unreachable), "the database is out of reach");
            return retry_later(
                Problem::unavailable(
                    "the database is out of reach for a moment; a change may or may not have been recorded: check, or retry with the same Idempotency-Key",
                ),
                DATABASE_RETRY,
            );
        }
        infrastructure @ UseCaseError::Infrastructure { .. } => {
            let id = uuid::Uuid::now_v7();
            tracing::error!(error_id = %id, cause = %causes(&infrastructure), "internal error");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                format!("something went wrong on our side; quote error id {id} when reporting it"),
            )
            .with("error_id", id)
        }
    };
    problem.into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Problem(p) => p.into_response(),
            ApiError::UseCase(e) => use_case_problem(e),
        }
    }
}
