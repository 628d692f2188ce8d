//! Directory sync: a company's identity provider (over SCIM, with an API key
//! holding the `scim` scope) makes people members at once, suspends and restores
//! them, and removes them. The rules are the organization's own (the last owner
//! stays); this module adds what crosses streams: a person the directory adds
//! who has no Roster identity yet gets one, without a usable password, and an
//! activation email (a single-use link to set one, like a reset link).

use roster_domain::organization::{decide, Context, Envelope, OrgCommand};
use roster_domain::user::UserCommand;
use roster_domain::{Email, PersonName, Role, UserId};
use uuid::Uuid;

use super::password_reset::RESET_LIFETIME;
use super::{run_for, Recorded};
use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::UseCaseError;
use crate::identity::credentials;

/// A person to add.
#[derive(Debug, Clone)]
pub struct Provision {
    /// Their address (their identity in Roster).
    pub email: Email,
    /// Their name.
    pub full_name: PersonName,
    /// Their role; `None`: the organization's default
    /// ([`default_role`](super::role_groups::default_role)).
    pub role: Option<Role>,
    /// The directory's id for them.
    pub external_id: Option<String>,
    /// False: added suspended.
    pub active: bool,
}

/// A person added.
#[derive(Debug, Clone, Copy)]
pub struct Provisioned {
    /// Their identity.
    pub user_id: UserId,
    /// Whether Roster made their identity now (and emailed an activation link).
    pub new_identity: bool,
    /// Where the log got to.
    pub recorded: Recorded,
}

/// Makes a person a member of `owner`'s organization at once.
pub async fn provision(
    app: &Application,
    owner: &OwnerOf,
    input: Provision,
) -> Result<Provisioned, UseCaseError> {
    let known = credentials::by_email(&app.read, input.email.key()).await?;
    let user_id = known
        .as_ref()
        .map_or_else(|| UserId::from_uuid(Uuid::now_v7()), |k| k.user_id);
    let role = match input.role {
        Some(role) => role,
        None => app
            .orgs
            .inspect(owner.org_id(), |org| {
                org.and_then(|o| {
                    let accounts: Vec<_> = o.accounts.keys().copied().collect();
                    super::role_groups::default_role(o.shape, &accounts)
                })
            })
            .await?
            .ok_or_else(|| {
                UseCaseError::field(
                    "role",
                    "this organization has no accounts yet: an owner adds one before a directory can add contributors",
                )
            })?,
    };
    let command = OrgCommand::ProvisionMember {
        user_id,
        email: input.email.clone(),
        full_name: input.full_name.clone(),
        role,
        external_id: input.external_id,
    };
    // Checked against the organization before any identity is made.
    let ctx = Context::at(app.clock.now());
    app.orgs
        .inspect(owner.org_id(), |org| {
            decide(
                org,
                &Envelope {
                    actor: owner.actor(),
                    command: command.clone(),
                },
                &ctx,
            )
            .map(drop)
        })
        .await??;
    let new_identity = known.is_none();
    if new_identity {
        // A password nobody knows: the person sets their own through the
        // activation link.
        let mut random = [0u8; 32];
        getrandom::getrandom(&mut random)
            .map_err(|e| UseCaseError::infrastructure("provisioning", e.to_string()))?;
        let hash = app.hashing.hash(hex::encode(random)).await?;
        if !credentials::insert(
            &app.read,
            user_id,
            input.email.key(),
            &hash,
            app.clock.now(),
        )
        .await?
        {
            return Err(UseCaseError::JustRegistered);
        }
        app.users
            .execute(
                user_id,
                &UserCommand::RegisterUser {
                    user_id,
                    email: input.email.clone(),
                    full_name: input.full_name,
                },
                &app.metadata_for(owner),
            )
            .await?;
    }
    let mut outcome = run_for(app, owner, command).await?;
    if !input.active {
        outcome = run_for(app, owner, OrgCommand::SuspendMember { user_id }).await?;
    }
    if new_identity {
        app.users
            .execute(
                user_id,
                &UserCommand::RequestPasswordReset {
                    reset_id: Uuid::now_v7(),
                    expires_at: app.clock.now() + RESET_LIFETIME,
                },
                &app.metadata_for(owner),
            )
            .await?;
    }
    Ok(Provisioned {
        user_id,
        new_identity,
        recorded: Recorded::from(&outcome),
    })
}

/// Suspends (`active` false: every session of theirs ends too) or restores
/// (`active` true) a member.
pub async fn set_active(
    app: &Application,
    owner: &OwnerOf,
    user_id: UserId,
    active: bool,
) -> Result<Recorded, UseCaseError> {
    let command = if active {
        OrgCommand::RestoreMember { user_id }
    } else {
        OrgCommand::SuspendMember { user_id }
    };
    let outcome = run_for(app, owner, command).await?;
    // A suspended person is signed out everywhere: their company's directory
    // has said they should not be using it now.
    if !active && !outcome.events.is_empty() {
        crate::identity::sessions::close_all(&app.read, user_id).await?;
    }
    Ok(Recorded::from(&outcome))
}

/// Sets what the directory knows of a member: their name and its id for them
/// (nothing is recorded when both are as they were).
pub async fn change_details(
    app: &Application,
    owner: &OwnerOf,
    user_id: UserId,
    full_name: PersonName,
    external_id: Option<String>,
) -> Result<Recorded, UseCaseError> {
    Ok(Recorded::from(
        &run_for(
            app,
            owner,
            OrgCommand::ChangeMemberDetails {
                user_id,
                full_name,
                external_id,
            },
        )
        .await?,
    ))
}

/// Removes a member.
pub async fn remove(
    app: &Application,
    owner: &OwnerOf,
    user_id: UserId,
) -> Result<Recorded, UseCaseError> {
    Ok(Recorded::from(
        &run_for(app, owner, OrgCommand::RemoveUser { user_id }).await?,
    ))
}

/// Records a refused or failed SCIM request of `org`'s directory (the latest
/// 20 are kept), for its owners to see why the sync does not go through.
pub async fn record_error(
    app: &Application,
    org: roster_domain::OrgId,
    status: u16,
    request: &str,
    detail: &str,
) -> Result<(), UseCaseError> {
    let now = app.clock.now();
    roster_storage::scim_errors::record(&app.read, org, now, status, request, detail)
        .await
        .map_err(|e| UseCaseError::infrastructure("recording a SCIM error", e))
}

pub use roster_storage::scim_errors::ScimError as SyncError;

/// How an organization's directory sync stands.
#[derive(Debug, Clone)]
pub struct SyncStatus {
    /// The keys with the `scim` scope, newest first.
    pub keys: Vec<super::api_keys::KeyView>,
    /// The latest refused or failed requests, newest first.
    pub errors: Vec<SyncError>,
}

/// The directory sync of `owner`'s organization: its keys and latest errors.
pub async fn sync_status(app: &Application, owner: &OwnerOf) -> Result<SyncStatus, UseCaseError> {
    let keys = super::api_keys::list_api_keys(app, owner)
        .await?
        .into_iter()
        .filter(|k| k.scopes.contains(&roster_domain::Scope::Scim))
        .collect();
    let errors = roster_storage::scim_errors::latest(&app.read, owner.org_id())
        .await
        .map_err(|e| UseCaseError::infrastructure("reading SCIM errors", e))?;
    Ok(SyncStatus { keys, errors })
}
