//! Signing in and out, and recognising a signed-in caller.

use std::net::IpAddr;

use roster_domain::{Email, UserId};

use crate::application::Application;
use crate::error::UseCaseError;
use crate::identity::credentials;
use crate::identity::sessions::{self, OpenedSession};

/// An attempt to sign in.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// As typed (an invalid address simply fails like a wrong password).
    pub email: String,
    /// As typed.
    pub password: String,
    /// Where the attempt came from, for throttling.
    pub client: Option<IpAddr>,
}

/// Checks the password (throttled per account and address) and opens a session.
/// Unknown emails and wrong passwords get the same answer at the same cost.
pub async fn sign_in(app: &Application, attempt: SignIn) -> Result<OpenedSession, UseCaseError> {
    sign_in_admitted(app, attempt, || async { Ok(()) }).await
}

/// [`sign_in`], for a server that bounds the work in flight: `admit` is awaited once the throttle's delay for a much-guessed account has
/// passed and before any work is done; whatever it returns (a place among the
/// writes in flight) is held until the answer. So a sign-in that is made to wait
/// holds nothing that other requests need.
pub async fn sign_in_admitted<Admit, Admitted, Held>(
    app: &Application,
    attempt: SignIn,
    admit: Admit,
) -> Result<OpenedSession, UseCaseError>
where
    Admit: FnOnce() -> Admitted,
    Admitted: std::future::Future<Output = Result<Held, UseCaseError>>,
{
    let key = Email::parse(&attempt.email)
        .map(|e| e.key().to_owned())
        .unwrap_or_default();
    let throttled = app
        .throttle
        .begin(&key, attempt.client)
        .map_err(|retry_after| UseCaseError::Throttled { retry_after })?;
    if !throttled.delay.is_zero() {
        tokio::time::sleep(throttled.delay).await;
    }
    let _admitted = admit().await?;
    let found = if key.is_empty() {
        None
    } else {
        credentials::by_email(&app.read, &key).await?
    };
    let (user, hash) = match found {
        Some(c) => (Some(c.user_id), Some(c.password_hash)),
        None => (None, None),
    };
    if !app.hashing.verify(attempt.password, hash).await? {
        throttled.failed();
        return Err(UseCaseError::InvalidCredentials);
    }
    throttled.succeeded();
    let user = user.ok_or(UseCaseError::InvalidCredentials)?;
    // Checked once the password is right, so the refusal tells nothing to
    // someone who does not know it.
    if let Ok(email) = Email::parse(&attempt.email) {
        if let Some(organization) = super::sso::required_for(app, &email).await? {
            return Err(super::sso::SsoRefusal::Required { organization }.into());
        }
    }
    sessions::open(&app.read, user, app.clock.now(), app.session_ttl).await
}

/// Revokes the session `token`.
pub async fn sign_out(app: &Application, token: &str) -> Result<(), UseCaseError> {
    sessions::close(&app.read, token).await
}

/// Revokes every session of `user`: on every device, they must sign in again.
pub async fn sign_out_everywhere(app: &Application, user: UserId) -> Result<(), UseCaseError> {
    sessions::close_all(&app.read, user).await
}

/// The identity a session token belongs to (and keeps it alive, within its
/// absolute lifetime).
pub async fn authenticate(app: &Application, token: &str) -> Result<UserId, UseCaseError> {
    sessions::resume(&app.read, token, app.clock.now(), lifetimes(app))
        .await?
        .ok_or(UseCaseError::Unauthenticated)
}

/// Whether the session `token` is still live, without keeping it alive: for
/// re-checking a caller whose request outlasts a moment (an event stream).
pub async fn still_signed_in(app: &Application, token: &str) -> Result<UserId, UseCaseError> {
    sessions::check(&app.read, token, app.clock.now(), lifetimes(app))
        .await?
        .ok_or(UseCaseError::Unauthenticated)
}

/// The application's session lifetimes.
fn lifetimes(app: &Application) -> sessions::Lifetimes {
    sessions::Lifetimes {
        idle: app.session_ttl,
        absolute: app.session_max_age,
    }
}
