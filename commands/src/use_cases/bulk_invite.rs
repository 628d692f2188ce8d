//! An owner invites many people at once (a pasted list or a CSV file): every row
//! gets its own answer, and all the invitations made are recorded in one append
//! (one commit, one idempotent answer) for the organization.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use roster_domain::organization::{Envelope, OrgCommand};
use roster_domain::{DomainError, InvitationId, OrgEvent, Role, UserId};

use super::invite_user::InviteUser;
use super::{new_send, Recorded};
use crate::application::Application;
use crate::authorize::OwnerOf;
use crate::error::{FieldError, UseCaseError};

/// The most rows one request may hold.
pub const MAX_ROWS: usize = 500;

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    /// Invited; the email is on its way.
    Invited {
        /// The new invitation.
        invitation_id: InvitationId,
        /// When its link stops working.
        expires_at: DateTime<Utc>,
    },
    /// The address already has an open invitation (an earlier row of the same
    /// request included).
    AlreadyInvited {
        /// The open invitation.
        invitation_id: InvitationId,
        /// The role it offers.
        role: Role,
    },
    /// The address belongs to a member already.
    AlreadyMember {
        /// The member.
        user_id: UserId,
    },
    /// The row's fields are not valid (or its role does not fit the organization).
    Invalid {
        /// Every bad field.
        errors: Vec<FieldError>,
    },
    /// Sending would pass a limit on invitation emails; nothing was sent to this address.
    OverSendingLimit {
        /// When a retry can succeed.
        retry_after: Duration,
    },
    /// Another rule refused it.
    Refused(DomainError),
}

/// The answer for every row, in the request's order.
#[derive(Debug, Clone)]
pub struct BulkInvited {
    /// One outcome per row.
    pub rows: Vec<RowOutcome>,
    /// Where the log got to (`None` when no row was invited).
    pub recorded: Recorded,
}

/// Invites every valid row that is neither a member nor invited already, within
/// the sending limits. `rows` holds each row parsed, or its field errors.
pub async fn bulk_invite(
    app: &Application,
    owner: &OwnerOf,
    rows: Vec<Result<InviteUser, Vec<FieldError>>>,
) -> Result<BulkInvited, UseCaseError> {
    if rows.is_empty() || rows.len() > MAX_ROWS {
        return Err(UseCaseError::field(
            "invitations",
            format!("send between 1 and {MAX_ROWS} rows"),
        ));
    }
    let org = owner.org_id();
    let now = app.clock.now();
    // Members and open invitations answer without spending a sending limit; the
    // command decides again below, on the state it appends after.
    let keys: Vec<Option<String>> = rows
        .iter()
        .map(|r| r.as_ref().ok().map(|i| i.email.key().to_owned()))
        .collect();
    let known = app
        .orgs
        .inspect(org, |state| {
            keys.iter()
                .zip(&rows)
                .map(|(key, row)| {
                    let (Some(state), Some(_), Ok(invite)) = (state, key, row) else {
                        return None;
                    };
                    if let Some(m) = state.member_by_email(&invite.email) {
                        return Some(RowOutcome::AlreadyMember { user_id: m.user_id });
                    }
                    state
                        .open_invitation_for(&invite.email)
                        .map(|i| RowOutcome::AlreadyInvited {
                            invitation_id: i.id,
                            role: i.role.clone(),
                        })
                })
                .collect::<Vec<_>>()
        })
        .await?;

    let mut outcomes: Vec<Option<RowOutcome>> = Vec::with_capacity(rows.len());
    let mut commands: Vec<(usize, InvitationId, Envelope)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (k, (row, known)) in rows.into_iter().zip(known).enumerate() {
        let invite = match (row, known) {
            (Err(errors), _) => {
                outcomes.push(Some(RowOutcome::Invalid { errors }));
                continue;
            }
            (Ok(_), Some(outcome)) => {
                outcomes.push(Some(outcome));
                continue;
            }
            (Ok(invite), None) => invite,
        };
        // A repeat of an earlier row is decided with it (the earlier row's
        // invitation answers it), and spends nothing.
        if seen.insert(invite.email.key().to_owned()) {
            if let Err(wait) = app.sending.take(org, invite.email.key(), now) {
                outcomes.push(Some(RowOutcome::OverSendingLimit {
                    retry_after: wait
                        .to_std()
                        .unwrap_or_default()
                        .max(Duration::from_secs(1)),
                }));
                continue;
            }
        }
        let invitation_id = InvitationId::from_uuid(uuid::Uuid::now_v7());
        let (send_id, token_digest) = new_send(app, invitation_id);
        commands.push((
            k,
            invitation_id,
            Envelope {
                actor: owner.actor(),
                command: OrgCommand::InviteUser {
                    invitation_id,
                    send_id,
                    email: invite.email,
                    full_name: invite.full_name,
                    role: invite.role,
                    token_digest,
                },
            },
        ));
        outcomes.push(None);
    }

    let mut recorded = Recorded { position: None };
    if !commands.is_empty() {
        let each: Vec<_> = commands.iter().map(|(_, _, e)| (e, None)).collect();
        let (outcome, refused) = app
            .orgs
            .execute_each(org, &each, &app.metadata_for(owner))
            .await?;
        recorded = Recorded::from(&outcome);
        let deadlines: std::collections::HashMap<InvitationId, DateTime<Utc>> = outcome
            .events
            .iter()
            .filter_map(|e| match e {
                OrgEvent::UserInvited(i) => Some((i.invitation_id, i.expires_at)),
                _ => None,
            })
            .collect();
        let mut refused = refused.into_iter().peekable();
        for (j, (k, invitation_id, _)) in commands.iter().enumerate() {
            let refusal = refused.next_if(|(at, _)| *at == j).map(|(_, r)| r);
            outcomes[*k] = Some(match (refusal, deadlines.get(invitation_id)) {
                (Some(refusal), _) => refused_row(refusal),
                (None, Some(expires_at)) => RowOutcome::Invited {
                    invitation_id: *invitation_id,
                    expires_at: *expires_at,
                },
                (None, None) => {
                    return Err(UseCaseError::infrastructure(
                        "inviting in bulk",
                        "an invitation decided was not recorded",
                    ))
                }
            });
        }
    }
    let rows = outcomes
        .into_iter()
        .map(|o| {
            o.ok_or_else(|| {
                UseCaseError::infrastructure("inviting in bulk", "a row was not answered")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BulkInvited { rows, recorded })
}

/// What a row the rules refused says.
fn refused_row(refusal: DomainError) -> RowOutcome {
    match refusal {
        DomainError::AlreadyInvited {
            invitation_id,
            role,
            ..
        } => RowOutcome::AlreadyInvited {
            invitation_id,
            role,
        },
        DomainError::AlreadyMember { user_id, .. } => RowOutcome::AlreadyMember { user_id },
        e @ (DomainError::UnknownAccount(_) | DomainError::RoleShapeMismatch { .. }) => {
            RowOutcome::Invalid {
                errors: vec![FieldError::new("role", e)],
            }
        }
        other => RowOutcome::Refused(other),
    }
}
