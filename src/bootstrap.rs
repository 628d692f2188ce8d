//! `roster org create`: the operator's way to found an organization and invite
//! its first owner, before anyone can sign in to do it through the API.

use chrono::{DateTime, Utc};
use roster_commands::use_cases::create_organization::{create_organization, CreateOrganization};
use roster_commands::{Application, UseCaseError};
use roster_domain::organization::DomainError;
use roster_domain::{DisplayName, Email, InvitationId, OrgId, OrgShape, PersonName, TextError};

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
    Failed(#[source] UseCaseError),
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

/// Creates the organization (with its accounts) and invites its first owner,
/// through the same use case any other caller would run.
pub async fn create_org(
    app: &Application,
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
        .map(|a| DisplayName::parse(a).map_err(bad("--account")))
        .collect::<Result<Vec<_>, BootstrapError>>()?;
    let created = create_organization(
        app,
        CreateOrganization {
            name,
            shape,
            accounts,
            owner_email,
            owner_name,
        },
    )
    .await
    .map_err(|e| match e {
        UseCaseError::Refused(d) => BootstrapError::Refused(d),
        other => BootstrapError::Failed(other),
    })?;
    Ok(Created {
        org_id: created.org_id,
        invitation_id: created.invitation_id,
        accept_link: format!(
            "{}/invitations/{}",
            args.public_url.trim_end_matches('/'),
            created.token.expose()
        ),
        expires_at: created.expires_at,
    })
}
