//! Forgotten passwords: a person asks for a reset link by email (the answer never
//! says whether the address has an account), the email worker sends it, and the
//! link sets a new password once, before its deadline, signing out every session.

use std::net::IpAddr;

use chrono::Duration;
use roster_domain::user::UserCommand;
use roster_domain::{Email, UserId};
use uuid::Uuid;

use super::too_many;
use crate::application::Application;
use crate::error::{FieldError, UseCaseError};
use crate::identity::throttle::address_group;
use crate::identity::{credentials, digest, passwords};

/// How long a reset link works.
pub const RESET_LIFETIME: Duration = Duration::minutes(30);

/// Asks for a reset link for `email`, from the client address `requester`.
/// Unknown addresses get the same answer and the same limits, and nothing
/// happens. The limits count per requester as well as per recipient, apart from
/// invitations (see `sending_limits`), so a stranger cannot use them up for others.
pub async fn request_reset(
    app: &Application,
    email: &str,
    requester: Option<IpAddr>,
) -> Result<(), UseCaseError> {
    // Known and unknown addresses answer after the same time, so the time taken
    // does not tell whether an address has an account.
    let answer_at = tokio::time::Instant::now() + RESET_ANSWER_TIME;
    let asked = ask_for_reset(app, email, requester).await;
    tokio::time::sleep_until(answer_at).await;
    asked
}

/// How long a reset request takes to answer, at least (recording one takes about
/// a millisecond; under load it may take longer than this, which then shows).
pub const RESET_ANSWER_TIME: std::time::Duration = std::time::Duration::from_millis(20);

async fn ask_for_reset(
    app: &Application,
    email: &str,
    requester: Option<IpAddr>,
) -> Result<(), UseCaseError> {
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let now = app.clock.now();
    app.sending
        .take_reset(&address_group(requester), email.key(), now)
        .map_err(too_many)?;
    let Some(known) = credentials::by_email(&app.read, email.key()).await? else {
        return Ok(());
    };
    if let Some(organization) = super::sso::required_for(app, &email).await? {
        return Err(super::sso::SsoRefusal::Required { organization }.into());
    }
    app.users
        .execute(
            known.user_id,
            &UserCommand::RequestPasswordReset {
                reset_id: Uuid::now_v7(),
                expires_at: now + RESET_LIFETIME,
            },
            &app.metadata(Some(known.user_id)),
        )
        .await?;
    Ok(())
}

/// A reset link used to set a new password.
#[derive(Debug, Clone)]
pub struct CompleteReset {
    /// Whose link it is (part of the link).
    pub user_id: UserId,
    /// The link's token.
    pub token: String,
    /// The new password.
    pub new_password: String,
}

/// Sets the new password if the link is the current one and not past its
/// deadline; every session of the person ends.
pub async fn complete_reset(app: &Application, input: CompleteReset) -> Result<(), UseCaseError> {
    let invalid =
        || UseCaseError::IdentityRefused(roster_domain::user::UserError::ResetLinkInvalid);
    let (reset_id, email) = app
        .users
        .inspect(input.user_id, |u| {
            u.and_then(|u| u.pending_reset.map(|(id, _)| (id, u.email.to_string())))
        })
        .await?
        .ok_or_else(invalid)?;
    let expected = app.key.reset_token(input.user_id, reset_id);
    // Compared as digests: equal length, and no early exit on the first difference.
    if digest(expected.expose()) != digest(&input.token) {
        return Err(invalid());
    }
    if let Ok(parsed) = Email::parse(&email) {
        if let Some(organization) = super::sso::required_for(app, &parsed).await? {
            return Err(super::sso::SsoRefusal::Required { organization }.into());
        }
    }
    if let Some(weakness) = passwords::weakness(&input.new_password, &email) {
        return Err(UseCaseError::Invalid(vec![FieldError::new(
            "new_password",
            weakness,
        )]));
    }
    let hash = app.hashing.hash(input.new_password).await?;
    // The command makes the link single-use (and checks the deadline) before the
    // password changes.
    app.users
        .execute(
            input.user_id,
            &UserCommand::CompletePasswordReset { reset_id },
            &app.metadata(Some(input.user_id)),
        )
        .await?;
    Ok(credentials::replace_password(&app.read, input.user_id, &hash, "", app.clock.now()).await?)
}
