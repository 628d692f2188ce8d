//! `roster org create`: the operator's way to found an organization and invite
//! its first owner, before anyone can sign in to do it through the API.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use roster_commands::tokens::TokenKey;
use roster_commands::{Clock, HandleError, Handler, HandlerConfig, OrgAggregate};
use roster_domain::organization::{Actor, DomainError, Envelope, OrgCommand};
use roster_domain::{
    AccountId, DisplayName, Email, InvitationId, OrgId, OrgShape, PersonName, Role, SendId,
    TextError,
};
use roster_eventstore::{EventStore, Metadata, Source};
use uuid::Uuid;

use crate::config::{CreateOrgArgs, ShapeArg};

/// Why bootstrap failed, worded for the operator.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// A flag's value is not acceptable.
    #[error("{flag}: {reason}")]
    BadArgument {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A domain rule refused it.
    #[error("refused: {0}")]
    Refused(#[from] DomainError),
    /// Storage failed.
    #[error("{0}")]
    Failed(String),
}

/// What was created.
#[derive(Debug, Clone)]
pub struct Created {
    /// The new organization.
    pub org_id: OrgId,
    /// The owner's invitation.
    pub invitation_id: InvitationId,
    /// The link to accept it.
    pub accept_link: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

fn bad(flag: &'static str) -> impl Fn(TextError) -> BootstrapError {
    move |e| BootstrapError::BadArgument {
        flag,
        reason: e.to_string(),
    }
}

fn failed<E: std::error::Error>(e: HandleError<E>) -> BootstrapError {
    BootstrapError::Failed(e.to_string())
}

/// Creates the organization (with its accounts) and invites its first owner.
pub async fn create_org(
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    key: &TokenKey,
    args: &CreateOrgArgs,
) -> Result<Created, BootstrapError> {
    let name = DisplayName::parse(&args.name).map_err(bad("--name"))?;
    let owner_email = Email::parse(&args.owner_email).map_err(bad("--owner-email"))?;
    let owner_name = PersonName::parse(&args.owner_name).map_err(bad("--owner-name"))?;
    let shape = match args.shape {
        ShapeArg::Single => OrgShape::Single,
        ShapeArg::Multi => OrgShape::Multi,
    };
    if shape == OrgShape::Single && !args.accounts.is_empty() {
        return Err(BootstrapError::BadArgument {
            flag: "--account",
            reason: "accounts exist only in multi-account organizations (--shape multi)".to_owned(),
        });
    }
    let accounts = args
        .accounts
        .iter()
        .map(|a| {
            Ok((
                AccountId::from_uuid(Uuid::now_v7()),
                DisplayName::parse(a).map_err(bad("--account"))?,
            ))
        })
        .collect::<Result<Vec<_>, BootstrapError>>()?;

    let handler: Handler<OrgAggregate> = Handler::new(store, clock, HandlerConfig::default());
    let org_id = OrgId::from_uuid(Uuid::now_v7());
    let invitation_id = InvitationId::from_uuid(Uuid::now_v7());
    let send_id = SendId::from_uuid(Uuid::now_v7());
    let token = key.invitation_token(invitation_id, send_id);
    let metadata = Metadata {
        actor: Some("cli".to_owned()),
        correlation_id: Some(Uuid::now_v7()),
        source: Source::Cli,
        ..Metadata::default()
    };
    let run = |command| Envelope {
        actor: Actor::System,
        command,
    };
    handler
        .execute(
            org_id,
            &run(OrgCommand::CreateOrganization {
                org_id,
                name,
                shape,
                accounts,
            }),
            &metadata,
        )
        .await
        .map_err(|e| match e {
            HandleError::Rejected(d) => BootstrapError::Refused(d),
            other => failed(other),
        })?;
    let invited = handler
        .execute(
            org_id,
            &run(OrgCommand::InviteUser {
                invitation_id,
                send_id,
                email: owner_email,
                full_name: owner_name,
                role: Role::owner_of(shape),
                token_digest: token.digest(),
            }),
            &metadata,
        )
        .await
        .map_err(|e| match e {
            HandleError::Rejected(d) => BootstrapError::Refused(d),
            other => failed(other),
        })?;
    let expires_at = invited
        .events
        .iter()
        .find_map(|e| match e {
            roster_domain::OrgEvent::UserInvited(i) => Some(i.expires_at),
            _ => None,
        })
        .ok_or_else(|| BootstrapError::Failed("the invitation was not recorded".to_owned()))?;
    Ok(Created {
        org_id,
        invitation_id,
        accept_link: format!(
            "{}/invitations/{}",
            args.public_url.trim_end_matches('/'),
            token.expose()
        ),
        expires_at,
    })
}
