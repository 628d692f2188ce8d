//! A signed-in person changes their password: the current one is required, and
//! every other session is signed out.

use std::net::IpAddr;

use roster_domain::user::UserCommand;
use roster_domain::UserId;

use crate::application::Application;
use crate::error::{FieldError, UseCaseError};
use crate::identity::{credentials, digest, passwords};

/// A password change as the person sends it.
#[derive(Debug, Clone)]
pub struct ChangePassword {
    /// Who is signed in.
    pub user_id: UserId,
    /// The session they use (kept; all others end).
    pub session_token: String,
    /// Their current password.
    pub current: String,
    /// The new one.
    pub new: String,
    /// Where the request came from: wrong current passwords are throttled per
    /// account and address, as sign-ins are, so one member's guesses never
    /// block another's change.
    pub client: Option<IpAddr>,
}

/// Checks the current password, stores the new one, records `PasswordChanged`
/// and signs out every other session.
pub async fn change_password(app: &Application, input: ChangePassword) -> Result<(), UseCaseError> {
    let (email, key) = app
        .users
        .inspect(input.user_id, |u| {
            u.map(|u| (u.email.to_string(), u.email.key().to_owned()))
        })
        .await?
        .ok_or(UseCaseError::Unauthenticated)?;
    if let Some(weakness) = passwords::weakness(&input.new, &email) {
        return Err(UseCaseError::Invalid(vec![FieldError::new(
            "new_password",
            weakness,
        )]));
    }
    let attempt = app
        .throttle
        .begin(&key, input.client)
        .map_err(|retry_after| UseCaseError::Throttled { retry_after })?;
    let stored = credentials::hash_of(&app.read, input.user_id).await?;
    if !app.hashing.verify(input.current, stored).await? {
        attempt.failed();
        return Err(UseCaseError::Invalid(vec![FieldError::new(
            "current_password",
            "this is not your current password",
        )]));
    }
    attempt.succeeded();
    let hash = app.hashing.hash(input.new).await?;
    credentials::replace_password(
        &app.read,
        input.user_id,
        &hash,
        &digest(&input.session_token),
        app.clock.now(),
    )
    .await?;
    app.users
        .execute(
            input.user_id,
            &UserCommand::ChangePassword,
            &app.metadata(Some(input.user_id)),
        )
        .await?;
    Ok(())
}
