//! One error type for every handler: domain refusals become problems with a
//! stable type per rule; infrastructure failures become 500/503 problems with a
//! request-independent id in the log, never leaking internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_commands::HandleError;
use roster_domain::user::UserError;
use roster_domain::DomainError;

use crate::problem::{FieldError, Problem};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Already a finished problem (boxed: it is large and errors travel by value).
    #[error("{}", .0.detail)]
    Problem(Box<Problem>),
    /// A domain rule refused the command.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Input fields are invalid.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// No valid session.
    #[error("sign in first")]
    Unauthenticated,
    /// Something broke inside; logged with its cause.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// Wraps a finished problem.
    pub fn problem(p: Problem) -> Self {
        ApiError::Problem(Box::new(p))
    }

    /// A single invalid field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// 404 for an organization the caller cannot see (no existence leak).
    pub fn org_not_found() -> Self {
        ApiError::problem(Problem::new(
            StatusCode::NOT_FOUND,
            "organization-not-found",
            "Organization not found",
            "no such organization, or you are not a member of it",
        ))
    }
}

impl From<HandleError<DomainError>> for ApiError {
    fn from(e: HandleError<DomainError>) -> Self {
        match e {
            HandleError::Rejected(d) => ApiError::Domain(d),
            HandleError::Conflict { .. } => ApiError::problem(Problem::new(
                StatusCode::CONFLICT,
                "concurrent-change",
                "Concurrent change",
                "the organization kept changing while this request was applied; retry it",
            )),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<HandleError<UserError>> for ApiError {
    fn from(e: HandleError<UserError>) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<roster_projections::queries::QueryError> for ApiError {
    fn from(e: roster_projections::queries::QueryError) -> Self {
        match e {
            roster_projections::queries::QueryError::BadCursor => {
                ApiError::field("cursor", "not a cursor this API handed out")
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

fn domain_problem(e: &DomainError) -> Problem {
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
        D::UnknownSend => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-send",
            "Unknown send",
        ),
    };
    let p = Problem::new(status, slug, title, e.to_string());
    match e {
        D::AlreadyInvited {
            invitation_id,
            status,
            ..
        } => p
            .with("invitation_id", invitation_id)
            .with("invitation_status", status),
        D::AlreadyMember { user_id, .. } => p.with("user_id", user_id),
        _ => p,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = match self {
            ApiError::Problem(p) => *p,
            ApiError::Domain(e) => domain_problem(&e),
            ApiError::Validation(errors) => Problem::validation(errors),
            ApiError::Unauthenticated => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Sign in required",
                "sign in first (a session cookie or a Bearer token)",
            ),
            ApiError::Internal(cause) => {
                let id = uuid::Uuid::now_v7();
                tracing::error!(error_id = %id, %cause, "internal error");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    format!(
                        "something went wrong on our side; quote error id {id} when reporting it"
                    ),
                )
                .with("error_id", id)
            }
        };
        problem.into_response()
    }
}
