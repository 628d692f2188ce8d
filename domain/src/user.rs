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
        }),
        (Some(mut user), UserEvent::PasswordChanged { changed_at, .. }) => {
            user.password_changed_at = *changed_at;
            Some(user)
        }
        (state, _) => state,
    }
}
