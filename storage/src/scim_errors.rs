//! The `scim_errors` table: an organization's latest refused or failed SCIM
//! requests, so its owners see why their directory does not sync. Bounded: the
//! oldest beyond [`KEPT`] are dropped as new ones arrive.

use chrono::{DateTime, Utc};
use roster_domain::OrgId;

use crate::db::{time_text, Db};
use crate::error::StorageError;
use crate::{exec, fetch};

/// How many errors one organization keeps.
pub const KEPT: i64 = 20;

/// One refused or failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    /// When (RFC 3339).
    pub at: String,
    /// The HTTP status answered.
    pub status: u16,
    /// Method and path.
    pub request: String,
    /// The answer's detail.
    pub detail: String,
}

/// Records an error of `org`'s directory, keeping the latest [`KEPT`].
pub async fn record(
    db: &Db,
    org: OrgId,
    at: DateTime<Utc>,
    status: u16,
    request: &str,
    detail: &str,
) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "INSERT INTO scim_errors (org_id, at, status, request, detail) VALUES ($1, $2, $3, $4, $5)",
        org.to_string(),
        time_text(at),
        i64::from(status),
        request.chars().take(200).collect::<String>(),
        detail.chars().take(500).collect::<String>()
    )?;
    exec!(
        &mut tx,
        "DELETE FROM scim_errors WHERE org_id = $1 AND id < \
         (SELECT id FROM scim_errors WHERE org_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
        org.to_string(),
        KEPT - 1
    )?;
    tx.commit().await?;
    Ok(())
}

/// `org`'s latest errors, newest first.
pub async fn latest(db: &Db, org: OrgId) -> Result<Vec<ScimError>, StorageError> {
    let rows: Vec<(String, i64, String, String)> = fetch!(
        db db,
        fetch_all,
        (String, i64, String, String),
        "SELECT at, status, request, detail FROM scim_errors WHERE org_id = $1 ORDER BY id DESC LIMIT $2",
        org.to_string(),
        KEPT
    )?;
    Ok(rows
        .into_iter()
        .map(|(at, status, request, detail)| ScimError {
            at,
            status: u16::try_from(status).unwrap_or(0),
            request,
            detail,
        })
        .collect())
}
