//! `roster org list | show | invite-owner`: what an operator needs to put a stuck
//! organization back in someone's hands without touching SQL.

use std::io::Write;
use std::time::Duration;

use roster_commands::use_cases::recover_organization;
use roster_commands::Application;
use roster_domain::organization::{Actor, InvitationStatus};
use roster_domain::{Email, OrgId, PersonName};
use roster_projections::queries;

use crate::failure::CliError;

/// `roster org list`: every organization with its owners and open invitations.
pub async fn list(app: &Application, out: &mut impl Write) -> Result<(), CliError> {
    // The list comes from a read model: let it reach the log's head first.
    let head = app.store.head().await?;
    let fresh = queries::wait_for(&app.read, head, Duration::from_secs(5)).await?;
    if !fresh {
        writeln!(
            out,
            "(the read models are behind the log; newest organizations may be missing)"
        )?;
    }
    for org in queries::organizations(&app.read).await? {
        let (owners, open) = app
            .orgs
            .inspect(org.org_id, |o| {
                o.map_or((0, 0), |o| {
                    (
                        o.members.values().filter(|m| m.owns()).count(),
                        o.invitations
                            .values()
                            .filter(|i| i.status.is_open())
                            .count(),
                    )
                })
            })
            .await?;
        writeln!(
            out,
            "{}  {}  {:?}  owners: {owners}  open invitations: {open}{}",
            org.org_id,
            org.name,
            org.shape,
            if owners == 0 {
                "  (no owner: use org invite-owner)"
            } else {
                ""
            }
        )?;
    }
    Ok(())
}

/// `roster org show ORG`: shape, accounts, members and open invitations, from
/// the organization's own state.
pub async fn show(app: &Application, org: &str, out: &mut impl Write) -> Result<(), CliError> {
    let org: OrgId = org.parse().map_err(|_| CliError::not_an_org("ORG", org))?;
    let now = app.clock.now();
    let text = app
        .orgs
        .inspect(org, |o| {
            let o = o?;
            let mut text = format!("{} {} ({:?})\n", o.id, o.name, o.shape);
            for a in o.accounts.values() {
                text.push_str(&format!("account  {}  {}\n", a.id, a.name));
            }
            for m in o.members.values() {
                text.push_str(&format!(
                    "member   {}  {} <{}>  {}\n",
                    m.user_id, m.full_name, m.email, m.role
                ));
            }
            for i in o.invitations.values().filter(|i| i.status.is_open()) {
                let status = if i.status == InvitationStatus::Expired || now >= i.expires_at {
                    "expired".to_owned()
                } else {
                    format!(
                        "pending until {}",
                        i.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
                    )
                };
                let by = match i.invited_by {
                    Actor::User(u) => u.to_string(),
                    Actor::System => "the operator".to_owned(),
                    Actor::ApiKey(k) => format!("API key {k}"),
                };
                text.push_str(&format!(
                    "invited  {}  {} <{}>  {}  {status}  (by {by})\n",
                    i.id, i.full_name, i.email, i.role
                ));
            }
            Some(text)
        })
        .await?
        .ok_or(CliError::NoSuchOrganization(org))?;
    Ok(out.write_all(text.as_bytes())?)
}

/// `roster org lift-sso ORG`: single sign-on stays connected but is no longer
/// required, recorded as the system's change (the organization's history says
/// who: the operator's CLI).
pub async fn lift_sso(app: &Application, org: &str, out: &mut impl Write) -> Result<(), CliError> {
    let org: OrgId = org.parse().map_err(|_| CliError::not_an_org("ORG", org))?;
    let lifted = roster_commands::use_cases::sso::lift_enforcement(app, org).await?;
    if lifted.position.is_some() {
        writeln!(
            out,
            "single sign-on is no longer required in {org}; members may sign in with passwords"
        )?;
    } else {
        writeln!(
            out,
            "single sign-on was not required in {org}; nothing changed"
        )?;
    }
    Ok(())
}

/// `roster org invite-owner ORG --email … --name …`: invites a new owner as the
/// operator; prints the accept link (the running server's email worker mails it).
pub async fn invite_owner(
    app: &Application,
    org: &str,
    email: &str,
    name: &str,
    public_url: &str,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let org: OrgId = org.parse().map_err(|_| CliError::not_an_org("ORG", org))?;
    let email = Email::parse(email).map_err(|source| CliError::Invalid {
        flag: "--email",
        source,
    })?;
    let name = PersonName::parse(name).map_err(|source| CliError::Invalid {
        flag: "--name",
        source,
    })?;
    let invited = recover_organization::invite_owner(app, org, email.clone(), name).await?;
    writeln!(
        out,
        "owner invitation {} for {email}\naccept link (valid until {}):\n{}/invitations/{}",
        invited.invitation_id,
        invited.expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
        public_url.trim_end_matches('/'),
        invited.token.expose()
    )?;
    Ok(())
}
