//! An invitee accepts: a new person sets name and password and gets an identity; a
//! person who already has one must be signed in as it. Joining is checked against
//! the organization before any identity is created.

use roster_domain::organization::{decide, Actor, Context, Envelope, OrgCommand};
use roster_domain::user::UserCommand;
use roster_domain::{OrgId, PersonName, UserId};
use uuid::Uuid;

use super::invitation_link::{invitee, resolve};
use super::{run_as, Recorded};
use crate::application::Application;
use crate::error::{FieldError, UseCaseError};
use crate::identity::{credentials, passwords};
use crate::tokens::InvitationToken;

/// An acceptance as the invitee sends it.
#[derive(Debug, Clone)]
pub struct AcceptInvite {
    /// The token from the emailed link.
    pub token: String,
    /// A new person's name (ignored for an existing identity).
    pub full_name: Option<String>,
    /// A new person's password (ignored for an existing identity).
    pub password: Option<String>,
    /// Who is signed in, if anyone.
    pub signed_in: Option<UserId>,
}

/// The membership that began.
#[derive(Debug, Clone, Copy)]
pub struct Joined {
    /// The member's identity (new or existing).
    pub user_id: UserId,
    /// The organization joined.
    pub org_id: OrgId,
    /// Where the log got to.
    pub recorded: Recorded,
}

/// Whose identity joins: an existing one, or a new one with its password.
enum Joiner {
    Existing(UserId, PersonName),
    New(UserId, PersonName, String),
}

/// Accepts the invitation behind `input.token`.
pub async fn accept_invite(app: &Application, input: AcceptInvite) -> Result<Joined, UseCaseError> {
    let token = InvitationToken::from_presented(&input.token);
    let target = resolve(app, &token).await?;
    let (invitation_id, email) = invitee(app, &target, &token.digest()).await?;
    let existing = credentials::by_email(&app.read, email.key()).await?;
    let joiner = match (existing, input.signed_in) {
        (Some(known), Some(caller)) if known.user_id == caller => {
            let name = app
                .users
                .inspect(caller, |u| u.map(|u| u.full_name.clone()))
                .await?
                .ok_or_else(|| {
                    UseCaseError::infrastructure("accepting", "an identity without events")
                })?;
            Joiner::Existing(caller, name)
        }
        (Some(_), Some(_)) => {
            return Err(UseCaseError::WrongIdentity {
                email: email.to_string(),
            })
        }
        (Some(_), None) => {
            return Err(UseCaseError::SignInToAccept {
                email: email.to_string(),
            })
        }
        // Signed in as someone, accepting for an address nobody has: that would
        // create a second identity under the caller's nose.
        (None, Some(_)) => {
            return Err(UseCaseError::WrongIdentity {
                email: email.to_string(),
            })
        }
        (None, None) => {
            let (name, password) = new_person(&input, email.as_str())?;
            Joiner::New(UserId::from_uuid(Uuid::now_v7()), name, password)
        }
    };
    let (user_id, full_name) = match &joiner {
        Joiner::Existing(u, n) | Joiner::New(u, n, _) => (*u, n.clone()),
    };
    let accept = OrgCommand::AcceptInvite {
        invitation_id,
        token_digest: token.digest(),
        user_id,
        full_name: full_name.clone(),
    };
    // Check the invitation against the authoritative state before creating anything.
    let ctx = Context::at(app.clock.now());
    app.orgs
        .inspect(target.org_id, |org| {
            decide(
                org,
                &Envelope {
                    actor: Actor::System,
                    command: accept.clone(),
                },
                &ctx,
            )
            .map(drop)
        })
        .await??;
    if let Joiner::New(user_id, full_name, password) = joiner {
        let hash = app.hashing.hash(password).await?;
        if !credentials::insert(&app.read, user_id, email.key(), &hash, app.clock.now()).await? {
            return Err(UseCaseError::JustRegistered);
        }
        app.users
            .execute(
                user_id,
                &UserCommand::RegisterUser {
                    user_id,
                    email: email.clone(),
                    full_name,
                },
                &app.metadata(Some(user_id)),
            )
            .await?;
    }
    let outcome = run_as(app, Some(user_id), target.org_id, accept).await?;
    Ok(Joined {
        user_id,
        org_id: target.org_id,
        recorded: Recorded::from(&outcome),
    })
}

/// A new person's name and password, each checked, every failing field named.
fn new_person(input: &AcceptInvite, email: &str) -> Result<(PersonName, String), UseCaseError> {
    let mut errors = Vec::new();
    let name = FieldError::collect(
        "full_name",
        input.full_name.as_deref().map(PersonName::parse),
        &mut errors,
    );
    let password = FieldError::collect(
        "password",
        input
            .password
            .as_ref()
            .map(|p| match passwords::weakness(p, email) {
                None => Ok(p.clone()),
                Some(weakness) => Err(weakness),
            }),
        &mut errors,
    );
    match (name, password) {
        (Some(n), Some(p)) => Ok((n, p)),
        _ => Err(UseCaseError::Invalid(errors)),
    }
}
