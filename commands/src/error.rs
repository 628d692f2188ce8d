//! What a use case answers when it does not succeed: a typed refusal a person
//! caused (each maps to its own stable problem type at the edge), or an
//! infrastructure failure that keeps its cause for the log.

use std::time::Duration;

use roster_domain::user::UserError;
use roster_domain::DomainError;
use roster_projections::queries::QueryError;

use crate::HandleError;

/// One invalid input field, named as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The field's name in the request.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error from anything printable.
    pub fn new(field: &str, message: impl ToString) -> Self {
        Self {
            field: field.to_owned(),
            message: message.to_string(),
        }
    }

    /// The field is missing.
    pub fn required(field: &str) -> Self {
        Self::new(field, "required")
    }

    /// A required field's parsed value, or — missing or unparseable — `None`
    /// with its error added to `errors`, so every bad field is named at once.
    pub fn collect<T, E: ToString>(
        field: &str,
        parsed: Option<Result<T, E>>,
        errors: &mut Vec<FieldError>,
    ) -> Option<T> {
        match parsed {
            Some(Ok(value)) => Some(value),
            Some(Err(e)) => {
                errors.push(Self::new(field, e));
                None
            }
            None => {
                errors.push(Self::required(field));
                None
            }
        }
    }
}

/// Why a use case did not complete. Every variant but `Infrastructure` is caused by
/// the caller and says which rule was broken.
#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    /// A domain rule refused the command; nothing was recorded.
    #[error(transparent)]
    Refused(#[from] DomainError),
    /// An identity rule refused the command; nothing was recorded.
    #[error(transparent)]
    IdentityRefused(#[from] UserError),
    /// Input fields are invalid.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The organization does not exist or the caller is not a member (one answer, no existence leak).
    #[error("no such organization, or you are not a member of it")]
    OrganizationNotFound,
    /// No valid session.
    #[error("sign in first")]
    Unauthenticated,
    /// A working API key of the organization, without the scope this needs.
    #[error("this API key lacks the {needed} scope")]
    KeyScope {
        /// The scope the request needs.
        needed: roster_domain::Scope,
    },
    /// Email or password wrong (the two are not told apart).
    #[error("the email or the password is wrong")]
    InvalidCredentials,
    /// Too many failed sign-ins for this account or address.
    #[error("too many failed sign-ins; try again in {} seconds", .retry_after.as_secs().max(1))]
    Throttled {
        /// How long to wait.
        retry_after: Duration,
    },
    /// The invitation belongs to someone other than the signed-in caller.
    #[error("this invitation is for {email}; sign out and sign in as that person to accept it")]
    WrongIdentity {
        /// Whom the invitation is for.
        email: String,
    },
    /// The invitee already has an identity and must sign in before accepting.
    #[error("{email} already has an account: sign in first, then accept")]
    SignInToAccept {
        /// Whom the invitation is for.
        email: String,
    },
    /// Another request registered the same email a moment ago.
    #[error("this email has just been registered; sign in first")]
    JustRegistered,
    /// Other writers kept winning the race for the organization; nothing was recorded.
    #[error("the organization kept changing while this request was applied; retry it")]
    ConcurrentChange,
    /// Too many invitation emails for this recipient or organization, or a resend
    /// too soon after the last send.
    #[error("too many invitation emails; try again in {} seconds", .retry_after.as_secs().max(1))]
    TooManyInvitations {
        /// How long to wait.
        retry_after: Duration,
    },
    /// Too much work at once (password hashing, database connections): shed
    /// instead of queued without bound; retrying later may succeed.
    #[error("the service is busy; retry in {} seconds", .retry_after.as_secs().max(1))]
    Busy {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A single sign-on step was refused.
    #[error(transparent)]
    Sso(crate::use_cases::sso::SsoRefusal),
    /// Something beneath the application failed; `source` holds the cause.
    #[error("{context}")]
    Infrastructure {
        /// What was being done.
        context: &'static str,
        /// The underlying failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl UseCaseError {
    /// An infrastructure failure while doing `context`.
    pub fn infrastructure(
        context: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Infrastructure {
            context,
            source: source.into(),
        }
    }

    /// Whether the failure is the database being out of reach (down, restarting,
    /// refusing connections, or no connection free in time): the request did
    /// nothing and may be retried shortly, so clients get 503, not 500.
    pub fn is_unavailable(&self) -> bool {
        let Self::Infrastructure { source, .. } = self else {
            return false;
        };
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
        while let Some(e) = next {
            if let Some(db) = e.downcast_ref::<sqlx::Error>() {
                if database_unreachable(db) {
                    return true;
                }
            }
            next = e.source();
        }
        false
    }

    /// One invalid field.
    pub fn field(field: &str, message: impl ToString) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<HandleError<DomainError>> for UseCaseError {
    fn from(e: HandleError<DomainError>) -> Self {
        match e {
            HandleError::Rejected(d) => Self::Refused(d),
            HandleError::Conflict { .. } => Self::ConcurrentChange,
            other => Self::infrastructure("running an organization command", other),
        }
    }
}

impl From<HandleError<UserError>> for UseCaseError {
    fn from(e: HandleError<UserError>) -> Self {
        match e {
            HandleError::Rejected(u) => Self::IdentityRefused(u),
            HandleError::Conflict { .. } => Self::ConcurrentChange,
            other => Self::infrastructure("running an identity command", other),
        }
    }
}

impl From<QueryError> for UseCaseError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::BadCursor => Self::field("cursor", "not a cursor this API handed out"),
            other => Self::infrastructure("reading a read model", other),
        }
    }
}

impl From<sqlx::Error> for UseCaseError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // Every connection is busy: shed the request, do not report a fault.
            sqlx::Error::PoolTimedOut => Self::Busy {
                retry_after: Duration::from_secs(1),
            },
            e => Self::infrastructure("using the database", e),
        }
    }
}

impl From<roster_storage::StorageError> for UseCaseError {
    fn from(e: roster_storage::StorageError) -> Self {
        match e {
            roster_storage::StorageError::Database(e) => e.into(),
            e => Self::infrastructure("reading a stored row", e),
        }
    }
}

/// sqlx errors that mean "no database to write to right now" rather than a bug:
/// the pool had no connection in time or is closed, the socket failed, or the
/// server said it is shutting down, starting, out of connections or disk (SQLSTATE
/// classes 08 and 53, and 57P01–57P03), or read-only (25006: an operator put it
/// so, e.g. after a disk filled up, or it is a standby).
fn database_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(&*code, "57P01" | "57P02" | "57P03" | "25006")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod unavailable_tests {
    use super::UseCaseError;

    #[test]
    fn a_pool_timeout_behind_a_store_error_is_unavailable_and_a_decode_bug_is_not() {
        #[derive(Debug, thiserror::Error)]
        #[error("store")]
        struct Store(#[source] sqlx::Error);
        let down = UseCaseError::infrastructure("reading", Store(sqlx::Error::PoolTimedOut));
        assert!(down.is_unavailable());
        let bug = UseCaseError::infrastructure("reading", sqlx::Error::RowNotFound);
        assert!(!bug.is_unavailable());
        assert!(!UseCaseError::field("email", "bad").is_unavailable());
    }
}
