//! What owners' pending-invitations list and invitation links ask of `rm_invitations`.

use roster_domain::{InvitationId, OrgId, Role};
use serde::Serialize;

use crate::queries::{parse_column, parse_role, QueryError};
use roster_storage::db::Db;
use roster_storage::fetch;

/// One pending or expired invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvitationRow {
    /// Its id.
    pub invitation_id: InvitationId,
    /// Who is invited.
    pub email: String,
    /// Their name.
    pub full_name: String,
    /// owner, admin, standard or contributor.
    pub role_label: String,
    /// The full role.
    pub role: Role,
    /// Who invited them (a user id or `system`).
    pub invited_by: String,
    /// pending or expired.
    pub status: String,
    /// When it was last sent (RFC 3339).
    pub last_sent_at: String,
    /// When the current link stops working (RFC 3339).
    pub expires_at: String,
    /// queued, sent, retrying or failed.
    pub delivery: String,
    /// Message-ID or failure reason.
    pub delivery_detail: Option<String>,
}

type InvitationTuple = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

/// Pending and expired invitations of an organization, newest send first.
pub async fn invitations(db: &Db, org: OrgId) -> Result<Vec<InvitationRow>, QueryError> {
    let rows = fetch!(
        db db,
        fetch_all,
        InvitationTuple,
        "SELECT invitation_id, email, full_name, role_label, role, invited_by, status, last_sent_at, expires_at, \
         delivery, delivery_detail FROM rm_invitations WHERE org_id = $1 ORDER BY last_sent_at DESC, invitation_id",
        org.to_string()
    )?;
    rows.into_iter()
        .map(
            |(
                invitation_id,
                email,
                full_name,
                role_label,
                role,
                invited_by,
                status,
                last_sent_at,
                expires_at,
                delivery,
                delivery_detail,
            )| {
                Ok(InvitationRow {
                    invitation_id: parse_column("rm_invitations", "invitation_id", &invitation_id)?,
                    email,
                    full_name,
                    role_label,
                    role: parse_role("rm_invitations", &role)?,
                    invited_by,
                    status,
                    last_sent_at,
                    expires_at,
                    delivery,
                    delivery_detail,
                })
            },
        )
        .collect()
}

/// The invitation an invitation link was sent for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTarget {
    /// Its organization.
    pub org_id: OrgId,
    /// The invitation.
    pub invitation_id: InvitationId,
}
