//! What following an invitation link asks of `rm_invitation_links`.

use crate::models::invitations::queries::LinkTarget;
use crate::queries::{parse_column, QueryError};
use roster_storage::db::Db;
use roster_storage::fetch;

/// The invitation a link was sent for, by its token's digest: any send's link,
/// the current one or one a resend replaced, of any invitation, open or closed.
pub async fn link_target(db: &Db, token_digest: &str) -> Result<Option<LinkTarget>, QueryError> {
    let row = fetch!(
        db db,
        fetch_optional,
        (String, String),
        "SELECT org_id, invitation_id FROM rm_invitation_links WHERE token_digest = $1",
        token_digest.to_owned()
    )?;
    row.map(|(org, invitation)| {
        Ok(LinkTarget {
            org_id: parse_column("rm_invitation_links", "org_id", &org)?,
            invitation_id: parse_column("rm_invitation_links", "invitation_id", &invitation)?,
        })
    })
    .transpose()
}
