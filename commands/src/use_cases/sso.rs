//! Single sign-on with an organization's own OpenID Connect provider.
//!
//! * Owners configure the connection ([`configure`], [`remove`], [`settings`]);
//!   the operator can lift enforcement ([`lift_enforcement`]).
//! * A browser is sent to the provider ([`start`]) for a person of a connected
//!   domain, an invitee, or someone joining; the callback ([`finish`]) checks
//!   what came back and opens a normal session.
//! * Who a provider may sign in: a member of its organization (linked on first
//!   use), an invitee of it (who joins), or, when the owners set a default
//!   role, anyone at its domains. A person who also belongs to *other*
//!   organizations confirms the first link with their Roster password
//!   ([`confirm_link`]): one organization's provider never opens, on its own
//!   word, a session that reaches another organization's data.
//! * [`required_for`]: whether a person must use their organization's provider
//!   (password sign-in and reset are then refused).

use std::collections::BTreeSet;

use chrono::Duration;
use roster_domain::organization::{Actor, Context, Envelope, OrgCommand};
use roster_domain::user::UserCommand;
use roster_domain::{
    decide, DomainError, Email, EmailDomain, InvitationId, OrgId, PersonName, Role, SsoConnection,
    Subject, TokenDigest, UserId,
};
use roster_projections::queries;
use roster_storage::sso_logins::{self, Login, PendingLink};
use uuid::Uuid;

use super::{run_as, run_for, Recorded};
use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::{FieldError, UseCaseError};
use crate::identity::credentials;
use crate::identity::sessions::{self, OpenedSession};
use crate::identity::{digest, hex};
use crate::sso::provider::{Client, ProviderError, Verified};
use crate::sso::seal;
use crate::tokens::InvitationToken;

/// How long a browser may take at the provider, and a link may wait for its password.
const IN_FLIGHT: Duration = Duration::minutes(10);

/// Why a single sign-on step was refused. Each has a stable name at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsoRefusal {
    /// No connection answers for this address or organization.
    #[error("single sign-on is not set up for this address")]
    NotConnected,
    /// The provider could not be reached, or answered with an error.
    #[error("the sign-in provider is not answering: {0}")]
    ProviderUnavailable(String),
    /// The provider's configuration is unusable.
    #[error("the sign-in provider is not configured correctly: {0}")]
    ProviderMisconfigured(String),
    /// The provider refused to exchange the code.
    #[error("the sign-in provider refused the sign-in: {0}")]
    CodeRefused(String),
    /// The provider sent the browser back with an error instead of a code.
    #[error("the sign-in provider did not sign you in: {0}")]
    ProviderDeclined(String),
    /// The ID token failed a check (`kind` names which).
    #[error("the sign-in provider's answer was refused ({kind}): {detail}")]
    Token {
        /// `expired`, `issued-in-future`, `audience`, `issuer`, `nonce`,
        /// `unknown-key`, `signature`, `missing` or `malformed`.
        kind: &'static str,
        /// What the check said.
        detail: String,
    },
    /// The `state` is unknown: used already, expired, or never issued.
    #[error("this sign-in has expired or was used already; start again")]
    StateUnknown,
    /// The callback reached a browser other than the one that started.
    #[error("this sign-in was started in another browser; start again here")]
    OtherBrowser,
    /// The provider gave no usable email address.
    #[error("the sign-in provider did not give an email address")]
    EmailMissing,
    /// The provider has not verified the address.
    #[error("the sign-in provider has not verified {email}")]
    EmailUnverified {
        /// The address.
        email: String,
    },
    /// The person is neither a member nor invited, and joining is off.
    #[error("{email} is not a member of {organization}; ask one of its owners to invite you")]
    NotAMember {
        /// The address.
        email: String,
        /// The organization.
        organization: String,
    },
    /// The person must sign in with their organization's provider.
    #[error("{organization} requires signing in with its single sign-on")]
    Required {
        /// The organization that requires it.
        organization: String,
    },
    /// The link waiting for a password expired, or was confirmed already.
    #[error("this confirmation has expired; sign in with single sign-on again")]
    LinkExpired,
}

impl From<ProviderError> for SsoRefusal {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::BadIssuer(_) => Self::ProviderMisconfigured(e.to_string()),
            ProviderError::Unavailable(m) => Self::ProviderUnavailable(m),
            ProviderError::Misconfigured(m) => Self::ProviderMisconfigured(m),
            ProviderError::ExchangeRefused(m) => Self::CodeRefused(m),
            ProviderError::Token { kind, detail } => Self::Token { kind, detail },
        }
    }
}

impl From<SsoRefusal> for UseCaseError {
    fn from(e: SsoRefusal) -> Self {
        UseCaseError::Sso(e)
    }
}

/// A connection as its owners see it (the secret never leaves).
#[derive(Debug, Clone)]
pub struct SsoSettings {
    /// The provider's issuer.
    pub issuer: String,
    /// Roster's client id there.
    pub client_id: String,
    /// The email domains it answers for.
    pub domains: Vec<String>,
    /// Whether members at these domains must use it.
    pub enforced: bool,
    /// The role people join with without an invitation; `None`: off.
    pub join_role: Option<Role>,
}

/// The organization's connection, if any.
pub async fn settings(
    app: &Application,
    owner: &OwnerOf,
) -> Result<Option<SsoSettings>, UseCaseError> {
    let connection = app
        .orgs
        .inspect(owner.org_id(), |org| org.and_then(|o| o.sso.clone()))
        .await?;
    Ok(connection.map(|c| SsoSettings {
        issuer: c.issuer,
        client_id: c.client_id,
        domains: c.domains.iter().map(ToString::to_string).collect(),
        enforced: c.enforced,
        join_role: c.join_role,
    }))
}

/// A connection as an owner submits it.
#[derive(Debug, Clone)]
pub struct Configure {
    /// The provider's issuer URL.
    pub issuer: String,
    /// Roster's client id there.
    pub client_id: String,
    /// Roster's client secret there; `None` keeps the current one.
    pub client_secret: Option<String>,
    /// Email domains.
    pub domains: Vec<String>,
    /// Require it for members at these domains.
    pub enforced: bool,
    /// Let people at these domains join without an invitation, with this role.
    pub join_role: Option<Role>,
}

/// Connects (or changes) the organization's provider. The discovery document
/// is fetched and checked first: a connection that cannot work is not recorded.
pub async fn configure(
    app: &Application,
    owner: &OwnerOf,
    input: Configure,
) -> Result<Recorded, UseCaseError> {
    if owner.person().is_none() {
        return Err(DomainError::SsoManagedByPeopleOnly.into());
    }
    let current = app
        .orgs
        .inspect(owner.org_id(), |org| org.and_then(|o| o.sso.clone()))
        .await?;
    let mut errors = Vec::new();
    let issuer = input.issuer.trim().trim_end_matches('/').to_owned();
    let client_id = input.client_id.trim().to_owned();
    if client_id.is_empty() || client_id.len() > 255 || client_id.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "client_id",
            "1 to 255 characters, no control characters",
        ));
    }
    let secret = input
        .client_secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match secret {
        Some(s) if s.len() > 1_000 || s.chars().any(char::is_control) => {
            errors.push(FieldError::new(
                "client_secret",
                "at most 1000 characters, no control characters",
            ));
        }
        None if current.is_none() => errors.push(FieldError::required("client_secret")),
        _ => {}
    }
    let mut domains = BTreeSet::new();
    for raw in &input.domains {
        match EmailDomain::parse(raw) {
            Ok(d) => {
                domains.insert(d);
            }
            Err(e) => errors.push(FieldError::new("domains", e)),
        }
    }
    if input.domains.is_empty() {
        errors.push(FieldError::new("domains", "name at least one email domain"));
    }
    if !errors.is_empty() {
        return Err(UseCaseError::Invalid(errors));
    }
    app.providers
        .check(&issuer)
        .await
        .map_err(|e| UseCaseError::field("issuer", e))?;
    let client_secret = match (secret, &current) {
        (Some(s), _) => seal::seal(&app.key, owner.org_id(), s)
            .map_err(|e| UseCaseError::infrastructure("sealing the client secret", e))?,
        (None, Some(c)) => c.client_secret.clone(),
        (None, None) => {
            return Err(UseCaseError::Invalid(vec![FieldError::required(
                "client_secret",
            )]))
        }
    };
    let connection = SsoConnection {
        issuer,
        client_id,
        client_secret,
        domains: domains.into_iter().collect(),
        enforced: input.enforced,
        join_role: input.join_role,
    };
    let outcome = run_for(app, owner, OrgCommand::ConfigureSso { connection }).await?;
    Ok(Recorded::from(&outcome))
}

/// Disconnects the organization's provider.
pub async fn remove(app: &Application, owner: &OwnerOf) -> Result<Recorded, UseCaseError> {
    let outcome = run_for(app, owner, OrgCommand::RemoveSso).await?;
    Ok(Recorded::from(&outcome))
}

/// The operator lifts enforcement (a provider that is down, or misconfigured,
/// must not lock an organization's owners out): password sign-in works again.
pub async fn lift_enforcement(app: &Application, org: OrgId) -> Result<Recorded, UseCaseError> {
    let connection = app
        .orgs
        .inspect(org, |o| o.and_then(|o| o.sso.clone()))
        .await?
        .ok_or(DomainError::NoSsoConnection)?;
    let outcome = run_as(
        app,
        None,
        org,
        OrgCommand::ConfigureSso {
            connection: SsoConnection {
                enforced: false,
                ..connection
            },
        },
    )
    .await?;
    Ok(Recorded::from(&outcome))
}

/// The organizations (with their names) among `user`'s whose connection
/// answers for `email`, enforced ones first.
async fn connected_orgs_of(
    app: &Application,
    user: UserId,
    email: &Email,
) -> Result<Vec<(OrgId, String, bool)>, UseCaseError> {
    let orgs: BTreeSet<OrgId> = queries::access_of(&app.read, user)
        .await?
        .into_iter()
        .map(|row| row.org_id)
        .collect();
    let mut found = Vec::new();
    for org in orgs {
        let hit = app
            .orgs
            .inspect(org, |o| {
                o.and_then(|o| {
                    let member = o.members.get(&user).is_some_and(|m| !m.suspended);
                    o.sso
                        .as_ref()
                        .filter(|c| member && c.answers_for(email))
                        .map(|c| (o.name.to_string(), c.enforced))
                })
            })
            .await?;
        if let Some((name, enforced)) = hit {
            found.push((org, name, enforced));
        }
    }
    found.sort_by_key(|(_, _, enforced)| !enforced);
    Ok(found)
}

/// The organization whose single sign-on `email`'s person must use, if any:
/// a member at a domain its connection answers for, with enforcement on.
pub async fn required_for(
    app: &Application,
    email: &Email,
) -> Result<Option<String>, UseCaseError> {
    let Some(known) = credentials::by_email(&app.read, email.key()).await? else {
        return Ok(None);
    };
    Ok(connected_orgs_of(app, known.user_id, email)
        .await?
        .into_iter()
        .find(|(_, _, enforced)| *enforced)
        .map(|(_, name, _)| name))
}

/// How a person signs in, from their address (and the organization a sign-in
/// link names): with a password, or with an organization's provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Email and password.
    Password,
    /// The provider of this organization.
    Sso {
        /// The organization.
        org_id: OrgId,
        /// Its name.
        organization: String,
        /// Whether the organization requires it.
        required: bool,
    },
}

/// How `email` signs in. Unknown addresses sign in with a password, unless
/// `org`'s connection answers for them and lets people join.
pub async fn method(
    app: &Application,
    email: &str,
    org: Option<OrgId>,
) -> Result<Method, UseCaseError> {
    let Ok(email) = Email::parse(email) else {
        return Ok(Method::Password);
    };
    if let Some(known) = credentials::by_email(&app.read, email.key()).await? {
        if let Some((org_id, organization, required)) =
            connected_orgs_of(app, known.user_id, &email)
                .await?
                .into_iter()
                .find(|(id, _, _)| org.is_none_or(|o| o == *id))
        {
            return Ok(Method::Sso {
                org_id,
                organization,
                required,
            });
        }
    }
    if let Some(org_id) = org {
        let open = app
            .orgs
            .inspect(org_id, |o| {
                o.and_then(|o| {
                    o.sso
                        .as_ref()
                        .filter(|c| {
                            c.answers_for(&email)
                                && (c.join_role.is_some()
                                    || o.open_invitation_for(&email).is_some())
                        })
                        .map(|c| (o.name.to_string(), c.enforced))
                })
            })
            .await?;
        if let Some((organization, required)) = open {
            return Ok(Method::Sso {
                org_id,
                organization,
                required,
            });
        }
    }
    Ok(Method::Password)
}

/// `org`'s connection and its client secret, opened.
async fn connection_of(
    app: &Application,
    org: OrgId,
) -> Result<(SsoConnection, String), UseCaseError> {
    let connection = app
        .orgs
        .inspect(org, |o| o.and_then(|o| o.sso.clone()))
        .await?
        .ok_or(SsoRefusal::NotConnected)?;
    let secret = seal::open(&app.key, org, &connection.client_secret)
        .map_err(|e| SsoRefusal::ProviderMisconfigured(e.to_string()))?;
    Ok((connection, secret))
}

/// Where a sign-in with a provider begins.
#[derive(Debug, Clone)]
pub struct Start {
    /// The address typed on the sign-in page.
    pub email: Option<String>,
    /// The organization a sign-in link names.
    pub org: Option<OrgId>,
    /// The token of an invitation being accepted.
    pub invitation_token: Option<String>,
    /// The callback address registered at the provider.
    pub redirect_uri: String,
}

/// A browser to send to a provider.
#[derive(Debug, Clone)]
pub struct Started {
    /// Where to send it.
    pub url: String,
    /// The secret that binds the sign-in to this browser (a cookie).
    pub browser_token: String,
}

/// Sends a browser to the provider of the organization that answers for it.
pub async fn start(app: &Application, input: Start) -> Result<Started, UseCaseError> {
    let now = app.clock.now();
    let (org_id, invitation, hint) = match (&input.invitation_token, input.org, &input.email) {
        (Some(token), _, _) => {
            let token = InvitationToken::from_presented(token);
            let target = super::invitation_link::resolve(app, &token).await?;
            let (invitation_id, email) =
                super::invitation_link::invitee(app, &target, &token.digest()).await?;
            (
                target.org_id,
                Some((invitation_id.to_string(), String::from(token.digest()))),
                Some(email.to_string()),
            )
        }
        (None, org, Some(email)) => match method(app, email, org).await? {
            Method::Sso { org_id, .. } => (org_id, None, Some(email.trim().to_owned())),
            Method::Password => return Err(SsoRefusal::NotConnected.into()),
        },
        (None, Some(org), None) => (org, None, None),
        (None, None, None) => return Err(UseCaseError::field("email", "required")),
    };
    let (connection, secret) = connection_of(app, org_id).await?;
    let client = Client {
        issuer: &connection.issuer,
        client_id: &connection.client_id,
        client_secret: secret,
        redirect_uri: &input.redirect_uri,
    };
    let authorization = app
        .providers
        .authorize(&client, hint.as_deref())
        .await
        .map_err(SsoRefusal::from)?;
    let browser_token = random_token()?;
    sso_logins::insert(
        &app.read,
        &digest(&authorization.state),
        &Login {
            browser_hash: digest(&browser_token),
            org_id,
            nonce: authorization.nonce,
            pkce_verifier: authorization.pkce_verifier,
            invitation,
            expires_at: now + IN_FLIGHT,
        },
        now,
    )
    .await?;
    Ok(Started {
        url: authorization.url,
        browser_token,
    })
}

/// The provider's answer, as the callback received it.
#[derive(Debug, Clone)]
pub struct Callback {
    /// `code`.
    pub code: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `error`, when the provider did not sign the person in.
    pub error: Option<String>,
    /// The cookie set by [`start`].
    pub browser_token: Option<String>,
    /// The callback address (as registered).
    pub redirect_uri: String,
}

/// How a sign-in with a provider ended.
#[derive(Debug, Clone)]
pub enum Finished {
    /// Signed in.
    SignedIn {
        /// The session.
        session: OpenedSession,
        /// The organization whose provider signed them in.
        org_id: OrgId,
    },
    /// The person belongs to other organizations too: their Roster password
    /// confirms this identity once ([`confirm_link`]).
    ConfirmWithPassword {
        /// The secret the confirmation presents (a cookie).
        link_token: String,
        /// The person's address.
        email: String,
        /// The organization whose provider vouched.
        organization: String,
    },
}

/// What becomes of a verified person in the organization.
#[derive(Debug, Clone)]
enum Entry {
    /// Already a member: link their identity.
    Member,
    /// Invited: accept the invitation, then link.
    Accept {
        invitation_id: InvitationId,
        token_digest: TokenDigest,
    },
    /// Neither: join with the default role.
    Join,
}

/// Checks the provider's answer and signs the person in.
pub async fn finish(app: &Application, callback: Callback) -> Result<Finished, UseCaseError> {
    let now = app.clock.now();
    let state = callback.state.ok_or(SsoRefusal::StateUnknown)?;
    let login = sso_logins::take(&app.read, &digest(&state), now)
        .await?
        .ok_or(SsoRefusal::StateUnknown)?;
    if callback.browser_token.as_deref().map(digest) != Some(login.browser_hash.clone()) {
        return Err(SsoRefusal::OtherBrowser.into());
    }
    if let Some(error) = callback.error {
        // The provider's words, as a browser brought them: bounded, printable.
        let said = error
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        return Err(SsoRefusal::ProviderDeclined(said).into());
    }
    let code = callback
        .code
        .ok_or_else(|| SsoRefusal::CodeRefused("no code came back".into()))?;
    let org_id = login.org_id;
    let (connection, secret) = connection_of(app, org_id).await?;
    let client = Client {
        issuer: &connection.issuer,
        client_id: &connection.client_id,
        client_secret: secret,
        redirect_uri: &callback.redirect_uri,
    };
    let verified = app
        .providers
        // An ID token's times are the provider's wall clock: they are checked
        // against this machine's, not the application's (which tests move).
        .finish(
            &client,
            &code,
            &login.pkce_verifier,
            &login.nonce,
            chrono::Utc::now(),
        )
        .await
        .map_err(SsoRefusal::from)?;
    let email = verified
        .email
        .as_deref()
        .and_then(|e| Email::parse(e).ok())
        .ok_or(SsoRefusal::EmailMissing)?;
    // A provider that says the address is unverified is believed; one that
    // says nothing vouches for an address at its own organization's domain
    // (checked next), as directory providers do.
    if verified.email_verified == Some(false) {
        return Err(SsoRefusal::EmailUnverified {
            email: email.to_string(),
        }
        .into());
    }
    if !connection.answers_for(&email) {
        return Err(DomainError::SsoDomainNotConnected {
            email: email.to_string(),
        }
        .into());
    }
    let subject = Subject(verified.subject.clone());
    let person = credentials::by_email(&app.read, email.key())
        .await?
        .map(|c| c.user_id);
    let invited = login.invitation.as_ref().and_then(|(id, digest)| {
        Some((
            id.parse().ok()?,
            TokenDigest::try_from(digest.clone()).ok()?,
        ))
    });
    let (entry, organization) = app
        .orgs
        .inspect(org_id, |o| -> Result<(Entry, String), UseCaseError> {
            let o = o.ok_or(DomainError::OrganizationNotFound)?;
            let member = person.and_then(|p| o.members.get(&p));
            match (o.sso_links.get(&subject), person) {
                (Some(linked), Some(p)) if *linked == p => {}
                (Some(_), _) => return Err(DomainError::SsoSubjectLinkedElsewhere.into()),
                (None, Some(p)) if o.sso_subject_of(p).is_some() => {
                    return Err(DomainError::SsoPersonLinkedElsewhere.into())
                }
                (None, _) => {}
            }
            if member.is_some_and(|m| m.suspended) {
                return Err(DomainError::MemberIsSuspended.into());
            }
            // The invitation is for one address: the provider must vouch for
            // that one (the wrong-identity rule of accepting).
            if let Some((invitation_id, _)) = invited {
                let invitee = o.invitations.get(&invitation_id).map(|i| i.email.clone());
                if invitee.as_ref() != Some(&email) {
                    return Err(UseCaseError::WrongIdentity {
                        email: invitee.map(|e| e.to_string()).unwrap_or_default(),
                    });
                }
            }
            let entry = match (member, invited) {
                (Some(_), _) => Entry::Member,
                (None, Some((invitation_id, token_digest))) => Entry::Accept {
                    invitation_id,
                    token_digest,
                },
                (None, None) => match o.open_invitation_for(&email) {
                    Some(i)
                        if i.status == roster_domain::organization::InvitationStatus::Pending =>
                    {
                        Entry::Accept {
                            invitation_id: i.id,
                            token_digest: i.token_digest,
                        }
                    }
                    _ if o.sso.as_ref().is_some_and(|c| c.join_role.is_some()) => Entry::Join,
                    _ => {
                        return Err(SsoRefusal::NotAMember {
                            email: email.to_string(),
                            organization: o.name.to_string(),
                        }
                        .into())
                    }
                },
            };
            Ok((entry, o.name.to_string()))
        })
        .await??;
    let full_name = display_name(&verified, &email);
    // A person with memberships elsewhere proves, once, that this identity is theirs.
    if let Some(p) = person {
        let linked_already = matches!(entry, Entry::Member)
            && app
                .orgs
                .inspect(org_id, |o| {
                    o.is_some_and(|o| o.sso_links.get(&subject) == Some(&p))
                })
                .await?;
        // Suspended memberships count: a restore would bring their access back.
        let elsewhere = queries::memberships_of(&app.read, p)
            .await?
            .iter()
            .any(|org| *org != org_id);
        if !linked_already && elsewhere {
            let link_token = random_token()?;
            sso_logins::insert_pending(
                &app.read,
                &digest(&link_token),
                &PendingLink {
                    org_id,
                    user_id: p,
                    subject: subject.0.clone(),
                    email: email.to_string(),
                    full_name: full_name.to_string(),
                    invitation: match &entry {
                        Entry::Accept {
                            invitation_id,
                            token_digest,
                        } => Some((invitation_id.to_string(), String::from(*token_digest))),
                        _ => None,
                    },
                    expires_at: now + IN_FLIGHT,
                },
                now,
            )
            .await?;
            return Ok(Finished::ConfirmWithPassword {
                link_token,
                email: email.to_string(),
                organization,
            });
        }
    }
    let user = enter(app, org_id, person, &email, &full_name, &subject, entry).await?;
    let session = sessions::open(&app.read, user, now, app.session_ttl).await?;
    Ok(Finished::SignedIn { session, org_id })
}

/// Confirms a provider identity with the person's Roster password, then signs
/// them in. A wrong password leaves the confirmation waiting (and counts
/// against the sign-in throttle).
pub async fn confirm_link(
    app: &Application,
    link_token: &str,
    password: String,
    client: Option<std::net::IpAddr>,
) -> Result<Finished, UseCaseError> {
    let now = app.clock.now();
    let hashed = digest(link_token);
    let pending = sso_logins::pending(&app.read, &hashed, now)
        .await?
        .ok_or(SsoRefusal::LinkExpired)?;
    let email = Email::parse(&pending.email).map_err(|_| SsoRefusal::LinkExpired)?;
    let throttled = app
        .throttle
        .begin(email.key(), client)
        .map_err(|retry_after| UseCaseError::Throttled { retry_after })?;
    if !throttled.delay.is_zero() {
        tokio::time::sleep(throttled.delay).await;
    }
    let hash = credentials::hash_of(&app.read, pending.user_id).await?;
    if !app.hashing.verify(password, hash).await? {
        throttled.failed();
        return Err(UseCaseError::InvalidCredentials);
    }
    throttled.succeeded();
    sso_logins::remove_pending(&app.read, &hashed).await?;
    let entry = match pending
        .invitation
        .as_ref()
        .and_then(|(id, d)| Some((id.parse().ok()?, TokenDigest::try_from(d.clone()).ok()?)))
    {
        Some((invitation_id, token_digest)) => Entry::Accept {
            invitation_id,
            token_digest,
        },
        None => {
            let member = app
                .orgs
                .inspect(pending.org_id, |o| {
                    o.is_some_and(|o| o.members.contains_key(&pending.user_id))
                })
                .await?;
            if member {
                Entry::Member
            } else {
                Entry::Join
            }
        }
    };
    let full_name = PersonName::parse(&pending.full_name)
        .or_else(|_| PersonName::parse(email.as_str()))
        .map_err(|e| UseCaseError::infrastructure("confirming a link", e))?;
    let user = enter(
        app,
        pending.org_id,
        Some(pending.user_id),
        &email,
        &full_name,
        &Subject(pending.subject.clone()),
        entry,
    )
    .await?;
    let session = sessions::open(&app.read, user, now, app.session_ttl).await?;
    Ok(Finished::SignedIn {
        session,
        org_id: pending.org_id,
    })
}

/// Records the person's entry (link, acceptance or join), making their
/// identity first when they have none. Answers who they are.
async fn enter(
    app: &Application,
    org_id: OrgId,
    person: Option<UserId>,
    email: &Email,
    full_name: &PersonName,
    subject: &Subject,
    entry: Entry,
) -> Result<UserId, UseCaseError> {
    let user = person.unwrap_or_else(|| UserId::from_uuid(Uuid::now_v7()));
    let first = match &entry {
        Entry::Member => None,
        Entry::Accept {
            invitation_id,
            token_digest,
        } => Some(OrgCommand::AcceptInvite {
            invitation_id: *invitation_id,
            token_digest: *token_digest,
            user_id: user,
            full_name: full_name.clone(),
        }),
        Entry::Join => Some(OrgCommand::JoinBySso {
            user_id: user,
            email: email.clone(),
            full_name: full_name.clone(),
            subject: subject.clone(),
        }),
    };
    if let Some(command) = &first {
        // Checked against the organization before any identity is made.
        let ctx = Context::at(app.clock.now());
        app.orgs
            .inspect(org_id, |org| {
                decide(
                    org,
                    &Envelope {
                        actor: Actor::User(user),
                        command: command.clone(),
                    },
                    &ctx,
                )
                .map(drop)
            })
            .await??;
    }
    if person.is_none() {
        // A password nobody knows: this person signs in with the provider (and
        // may set one through a reset link, unless the organization requires
        // its single sign-on).
        let hash = app.hashing.hash(random_token()?).await?;
        if !credentials::insert(&app.read, user, email.key(), &hash, app.clock.now()).await? {
            return Err(UseCaseError::JustRegistered);
        }
        app.users
            .execute(
                user,
                &UserCommand::RegisterUser {
                    user_id: user,
                    email: email.clone(),
                    full_name: full_name.clone(),
                },
                &app.metadata(Some(user)),
            )
            .await?;
    }
    let mut reached = None;
    if let Some(command) = first {
        reached = run_as(app, Some(user), org_id, command).await?.position();
    }
    // Joining links the identity itself; a member or an invitee is linked now.
    if !matches!(entry, Entry::Join) {
        let linked = run_as(
            app,
            Some(user),
            org_id,
            OrgCommand::LinkSsoIdentity {
                user_id: user,
                subject: subject.clone(),
            },
        )
        .await?;
        reached = linked.position().or(reached);
    }
    // The browser lands on a page that lists the person's organizations at
    // once: let the read models show the membership first (a bounded wait).
    if let Some(position) = reached {
        app.wait_for_read_models(position, std::time::Duration::from_secs(2))
            .await?;
    }
    Ok(user)
}

/// The person's name: the provider's, else the address's local part.
fn display_name(verified: &Verified, email: &Email) -> PersonName {
    verified
        .name
        .as_deref()
        .and_then(|n| PersonName::parse(n).ok())
        .or_else(|| {
            email
                .as_str()
                .split('@')
                .next()
                .and_then(|l| PersonName::parse(l).ok())
        })
        .unwrap_or_else(|| {
            PersonName::parse("Member").unwrap_or_else(|_| unreachable!("a valid name"))
        })
}

/// 256 random bits, hex.
fn random_token() -> Result<String, UseCaseError> {
    let mut raw = [0u8; 32];
    getrandom::getrandom(&mut raw).map_err(|e| {
        UseCaseError::infrastructure("drawing a single sign-on secret", e.to_string())
    })?;
    Ok(hex(&raw))
}
