//! The user identity aggregate: one stream `user-<uuid>` per person. Credentials
//! themselves never enter the log; `PasswordChanged` only records that it happened.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::text::{Email, PersonName};

/// A person's identity as `decide` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Their id.
    pub id: UserId,
    /// The address they sign in with.
    pub email: Email,
    /// Their name.
    pub full_name: PersonName,
    /// When they registered.
    pub registered_at: DateTime<Utc>,
    /// The password reset asked for and not yet used: its id and deadline.
    pub pending_reset: Option<(uuid::Uuid, DateTime<Utc>)>,
    /// When their password last changed.
    pub password_changed_at: DateTime<Utc>,
}

/// Requests to an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCommand {
    /// Create the identity (on accepting a first invitation).
    RegisterUser {
        /// The new id.
        user_id: UserId,
        /// Their address (uniqueness across identities is checked by the caller's index).
        email: Email,
        /// Their name.
        full_name: PersonName,
    },
    /// Note a password change (the hash lives in the credentials table).
    ChangePassword,
    /// Someone asked for a reset link for this identity's address.
    RequestPasswordReset {
        /// The reset's id (its link is derived from it and the server secret).
        reset_id: uuid::Uuid,
        /// When the link stops working.
        expires_at: DateTime<Utc>,
    },
    /// The reset link was used: the password changes (once).
    CompletePasswordReset {
        /// The reset the link belongs to.
        reset_id: uuid::Uuid,
    },
}

/// What happened to an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum UserEvent {
    /// The identity exists.
    UserRegistered {
        /// Its id.
        user_id: UserId,
        /// Sign-in address.
        email: Email,
        /// Name.
        full_name: PersonName,
        /// When.
        registered_at: DateTime<Utc>,
    },
    /// A reset link was asked for; the email worker sends it to `email`.
    PasswordResetRequested {
        /// The identity.
        user_id: UserId,
        /// Where the link goes.
        email: Email,
        /// The reset's id.
        reset_id: uuid::Uuid,
        /// When it was asked for.
        requested_at: DateTime<Utc>,
        /// When the link stops working.
        expires_at: DateTime<Utc>,
    },
    /// The password was changed.
    PasswordChanged {
        /// The identity.
        user_id: UserId,
        /// When.
        changed_at: DateTime<Utc>,
    },
}

impl UserEvent {
    /// The stable type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            UserEvent::UserRegistered { .. } => "UserRegistered",
            UserEvent::PasswordResetRequested { .. } => "PasswordResetRequested",
            UserEvent::PasswordChanged { .. } => "PasswordChanged",
        }
    }
}

/// Refusals of identity commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// The identity exists already.
    #[error("this identity is already registered")]
    AlreadyRegistered,
    /// No such identity.
    #[error("no such user")]
    UserNotFound,
    /// The reset link is unknown, superseded, used or past its deadline.
    #[error("this password reset link is not valid any more; ask for a new one")]
    ResetLinkInvalid,
}

/// Decides an identity command at `now`.
pub fn decide(
    state: Option<&User>,
    command: &UserCommand,
    now: DateTime<Utc>,
) -> Result<Vec<UserEvent>, UserError> {
    match (state, command) {
        (
            None,
            UserCommand::RegisterUser {
                user_id,
                email,
                full_name,
            },
        ) => Ok(vec![UserEvent::UserRegistered {
            user_id: *user_id,
            email: email.clone(),
            full_name: full_name.clone(),
            registered_at: now,
        }]),
        (Some(_), UserCommand::RegisterUser { .. }) => Err(UserError::AlreadyRegistered),
        (None, UserCommand::ChangePassword) => Err(UserError::UserNotFound),
        (Some(user), UserCommand::ChangePassword) => Ok(vec![UserEvent::PasswordChanged {
            user_id: user.id,
            changed_at: now,
        }]),
        (None, UserCommand::RequestPasswordReset { .. }) => Err(UserError::UserNotFound),
        (
            Some(user),
            UserCommand::RequestPasswordReset {
                reset_id,
                expires_at,
            },
        ) => Ok(vec![UserEvent::PasswordResetRequested {
            user_id: user.id,
            email: user.email.clone(),
            reset_id: *reset_id,
            requested_at: now,
            expires_at: *expires_at,
        }]),
        (None, UserCommand::CompletePasswordReset { .. }) => Err(UserError::ResetLinkInvalid),
        (Some(user), UserCommand::CompletePasswordReset { reset_id }) => match user.pending_reset {
            Some((pending, expires_at)) if pending == *reset_id && now < expires_at => {
                Ok(vec![UserEvent::PasswordChanged {
                    user_id: user.id,
                    changed_at: now,
                }])
            }
            _ => Err(UserError::ResetLinkInvalid),
        },
    }
}

/// The identity after `event`.
pub fn evolve(state: Option<User>, event: &UserEvent) -> Option<User> {
    match (state, event) {
        (
            None,
            UserEvent::UserRegistered {
                user_id,
                email,
                full_name,
                registered_at,
            },
        ) => Some(User {
            id: *user_id,
            email: email.clone(),
            full_name: full_name.clone(),
            registered_at: *registered_at,
            password_changed_at: *registered_at,
            pending_reset: None,
        }),
        (
            Some(mut user),
            UserEvent::PasswordResetRequested {
                reset_id,
                expires_at,
                ..
            },
        ) => {
            user.pending_reset = Some((*reset_id, *expires_at));
            Some(user)
        }
        (Some(mut user), UserEvent::PasswordChanged { changed_at, .. }) => {
            user.password_changed_at = *changed_at;
            user.pending_reset = None;
            Some(user)
        }
        (state, _) => state,
    }
}
