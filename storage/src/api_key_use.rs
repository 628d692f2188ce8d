//! The `api_key_use` table: when each organization API key was last used. The
//! later of two times wins, so instances writing in any order agree.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use roster_domain::{ApiKeyId, OrgId};

use crate::db::{time_text, Db};
use crate::error::StorageError;
use crate::{exec, fetch};

/// Records that `key` of `org` was used at `at` (unless a later use is recorded).
pub async fn record(
    db: &Db,
    key: ApiKeyId,
    org: OrgId,
    at: DateTime<Utc>,
) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "INSERT INTO api_key_use (key_id, org_id, last_used_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key_id) DO UPDATE SET last_used_at = CASE \
         WHEN excluded.last_used_at > api_key_use.last_used_at THEN excluded.last_used_at \
         ELSE api_key_use.last_used_at END",
        key.to_string(),
        org.to_string(),
        time_text(at)
    )?;
    tx.commit().await?;
    Ok(())
}

/// When each key of `org` was last used.
pub async fn of_org(db: &Db, org: OrgId) -> Result<HashMap<ApiKeyId, DateTime<Utc>>, StorageError> {
    let rows: Vec<(String, String)> = fetch!(
        db db,
        fetch_all,
        (String, String),
        "SELECT key_id, last_used_at FROM api_key_use WHERE org_id = $1",
        org.to_string()
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, at)| {
            let key = key.parse().ok()?;
            let at = DateTime::parse_from_rfc3339(&at).ok()?.with_timezone(&Utc);
            Some((key, at))
        })
        .collect())
}
