//! What the member list, `/me` and owners' account pages ask of `rm_orgs`,
//! `rm_accounts` and `rm_members`.

use roster_domain::{AccountId, OrgId, OrgShape, Role, UserId};
use serde::Serialize;

use crate::queries::{parse_column, parse_role, QueryError};
use roster_storage::db::Db;
use roster_storage::fetch;

/// One row of the member list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberRow {
    /// Their identity.
    pub user_id: UserId,
    /// Their name.
    pub full_name: String,
    /// Their address.
    pub email: String,
    /// owner, admin, standard or contributor.
    pub role_label: String,
    /// The full role (with account roles).
    pub role: Role,
    /// When they joined (RFC 3339).
    pub joined_at: String,
    /// Suspended by a directory: listed, without access.
    pub suspended: bool,
    /// Put here by a directory (SCIM), not by accepting an invitation.
    pub managed: bool,
    /// The directory's id for them.
    pub external_id: Option<String>,
    /// When anything of theirs last changed (RFC 3339).
    pub updated_at: String,
}

pub(crate) type MemberTuple = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
);

pub(crate) fn member(row: MemberTuple) -> Result<MemberRow, QueryError> {
    let (
        user_id,
        full_name,
        email,
        role_label,
        role,
        joined_at,
        status,
        origin,
        external_id,
        updated_at,
    ) = row;
    Ok(MemberRow {
        user_id: parse_column("rm_members", "user_id", &user_id)?,
        full_name,
        email,
        role_label,
        role: parse_role("rm_members", &role)?,
        joined_at,
        suspended: status == "suspended",
        managed: origin == "directory",
        external_id,
        updated_at,
    })
}

/// A page of members and the cursor for the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberPage {
    /// The rows, the current user first on the first page.
    pub members: Vec<MemberRow>,
    /// Pass back to get the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// How to narrow the member list.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Case-insensitive substring of the name or email.
    pub search: Option<String>,
    /// Only this role label.
    pub role: Option<String>,
}

fn like_pattern(s: &str) -> String {
    let escaped = s
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn encode_cursor(sort_key: &str, user_id: &str) -> String {
    let raw = format!("{sort_key}\u{1f}{user_id}");
    hex::encode(raw)
}

fn decode_cursor(cursor: &str) -> Option<(String, String)> {
    if cursor.len() > 1024 {
        return None;
    }
    let text = String::from_utf8(hex::decode(cursor).ok()?).ok()?;
    let (k, u) = text.split_once('\u{1f}')?;
    Some((k.to_owned(), u.to_owned()))
}

/// The member list: the current user pinned first (first page only), then by name
/// and id, at most `limit` rows a page — the pinned user counts within the limit.
pub async fn members(
    db: &Db,
    org: OrgId,
    current_user: Option<UserId>,
    filter: &MemberFilter,
    cursor: Option<&str>,
    limit: usize,
) -> Result<MemberPage, QueryError> {
    let after = match cursor {
        Some(c) => Some(decode_cursor(c).ok_or(QueryError::BadCursor)?),
        None => None,
    };
    let limit = limit.clamp(1, 200);
    let me = current_user.map(|u| u.to_string()).unwrap_or_default();
    let search = filter.search.as_deref().map(like_pattern);
    let mut rows: Vec<MemberRow> = Vec::new();
    if after.is_none() && current_user.is_some() {
        let mine = fetch!(
            db db,
            fetch_optional,
            MemberTuple,
            "SELECT user_id, full_name, email, role_label, role, joined_at, status, origin, external_id, updated_at FROM rm_members \
             WHERE org_id = $1 AND user_id = $2 \
               AND ($3 IS NULL OR email_key LIKE $3 ESCAPE '\\' OR sort_key LIKE $3 ESCAPE '\\') \
               AND ($4 IS NULL OR role_label = $4)",
            org.to_string(),
            me.clone(),
            search.clone(),
            filter.role.clone()
        )?;
        if let Some(mine) = mine {
            rows.push(member(mine)?);
        }
    }
    let (after_key, after_user) = after.clone().unwrap_or_default();
    // The pinned row takes one place of the first page.
    let others = limit - rows.len();
    let fetched = fetch!(
        db db,
        fetch_all,
        (String, String, String, String, String, String, String, String, Option<String>, String, String),
        "SELECT user_id, full_name, email, role_label, role, joined_at, status, origin, external_id, updated_at, sort_key FROM rm_members \
         WHERE org_id = $1 AND user_id <> $2 \
           AND ($3 IS NULL OR email_key LIKE $3 ESCAPE '\\' OR sort_key LIKE $3 ESCAPE '\\') \
           AND ($4 IS NULL OR role_label = $4) \
           AND ($5 = 0 OR sort_key > $6 OR (sort_key = $6 AND user_id > $7)) \
         ORDER BY sort_key, user_id LIMIT $8",
        org.to_string(),
        me,
        search,
        filter.role.clone(),
        i64::from(after.is_some()),
        after_key,
        after_user,
        i64::try_from(others + 1).unwrap_or(201)
    )?;
    let more = fetched.len() > others;
    // With no other row on this page, the next one starts at the beginning.
    let mut last = encode_cursor("", "");
    for (u, n, e, rl, r, j, st, o, x, up, k) in fetched.into_iter().take(others) {
        last = encode_cursor(&k, &u);
        rows.push(member((u, n, e, rl, r, j, st, o, x, up))?);
    }
    Ok(MemberPage {
        members: rows,
        next_cursor: more.then_some(last),
    })
}

/// One member of `org` by id.
pub async fn member_by_id(
    db: &Db,
    org: OrgId,
    user: UserId,
) -> Result<Option<MemberRow>, QueryError> {
    fetch!(
        db db,
        fetch_optional,
        MemberTuple,
        "SELECT user_id, full_name, email, role_label, role, joined_at, status, origin, external_id, updated_at FROM rm_members \
         WHERE org_id = $1 AND user_id = $2",
        org.to_string(),
        user.to_string()
    )?
    .map(member)
    .transpose()
}

/// The member of `org` whose address has this key (lowercased), if any: one
/// indexed lookup, what a directory's `userName eq` asks.
pub async fn member_by_email_key(
    db: &Db,
    org: OrgId,
    email_key: &str,
) -> Result<Option<MemberRow>, QueryError> {
    fetch!(
        db db,
        fetch_optional,
        MemberTuple,
        "SELECT user_id, full_name, email, role_label, role, joined_at, status, origin, external_id, updated_at FROM rm_members \
         WHERE org_id = $1 AND email_key = $2",
        org.to_string(),
        email_key.to_owned()
    )?
    .map(member)
    .transpose()
}

/// Every organization `user` is a member of, suspended memberships included
/// (one indexed lookup): where a person belongs, whatever their access today.
pub async fn memberships_of(db: &Db, user: UserId) -> Result<Vec<OrgId>, QueryError> {
    let rows: Vec<(String,)> = fetch!(
        db db,
        fetch_all,
        (String,),
        "SELECT org_id FROM rm_members WHERE user_id = $1",
        user.to_string()
    )?;
    rows.into_iter()
        .map(|(org,)| parse_column("rm_members", "org_id", &org))
        .collect()
}

/// How many members `org` has.
pub async fn member_count(db: &Db, org: OrgId) -> Result<u64, QueryError> {
    let (n,): (i64,) = fetch!(
        db db,
        fetch_one,
        (i64,),
        "SELECT count(*) FROM rm_members WHERE org_id = $1",
        org.to_string()
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Members of `org` by name then id, skipping `offset`, at most `limit`
/// (offset paging, as SCIM's `startIndex` asks).
pub async fn members_from(
    db: &Db,
    org: OrgId,
    offset: u64,
    limit: u64,
) -> Result<Vec<MemberRow>, QueryError> {
    fetch!(
        db db,
        fetch_all,
        MemberTuple,
        "SELECT user_id, full_name, email, role_label, role, joined_at, status, origin, external_id, updated_at FROM rm_members \
         WHERE org_id = $1 ORDER BY sort_key, user_id LIMIT $2 OFFSET $3",
        org.to_string(),
        i64::try_from(limit).unwrap_or(i64::MAX),
        i64::try_from(offset).unwrap_or(i64::MAX)
    )?
    .into_iter()
    .map(member)
    .collect()
}

/// An organization's name and shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgProfile {
    /// The organization.
    pub org_id: OrgId,
    /// Its display name.
    pub name: String,
    /// Single- or multi-account.
    pub shape: OrgShape,
}

/// The name and shape of `org`; `None` when it is not projected (yet).
pub async fn org_profile(db: &Db, org: OrgId) -> Result<Option<OrgProfile>, QueryError> {
    let row = fetch!(
        db db,
        fetch_optional,
        (String, String),
        "SELECT name, shape FROM rm_orgs WHERE org_id = $1",
        org.to_string()
    )?;
    row.map(|(name, shape)| {
        let shape = serde_json::from_value(serde_json::Value::String(shape))
            .map_err(|e| QueryError::unreadable("rm_orgs", "shape")(e.to_string()))?;
        Ok(OrgProfile {
            org_id: org,
            name,
            shape,
        })
    })
    .transpose()
}

/// Every organization, by name (for the operator).
pub async fn organizations(db: &Db) -> Result<Vec<OrgProfile>, QueryError> {
    let rows = fetch!(
        db db,
        fetch_all,
        (String, String, String),
        "SELECT org_id, name, shape FROM rm_orgs ORDER BY name, org_id"
    )?;
    rows.into_iter()
        .map(|(org, name, shape)| {
            Ok(OrgProfile {
                org_id: parse_column("rm_orgs", "org_id", &org)?,
                name,
                shape: serde_json::from_value(serde_json::Value::String(shape))
                    .map_err(|e| QueryError::unreadable("rm_orgs", "shape")(e.to_string()))?,
            })
        })
        .collect()
}

/// One account of a multi-account organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountRow {
    /// Its id.
    pub account_id: AccountId,
    /// Its name.
    pub name: String,
    /// When it was added (RFC 3339).
    pub added_at: String,
}

/// An organization's accounts, by name.
pub async fn accounts(db: &Db, org: OrgId) -> Result<Vec<AccountRow>, QueryError> {
    let rows = fetch!(
        db db,
        fetch_all,
        (String, String, String),
        "SELECT account_id, name, added_at FROM rm_accounts WHERE org_id = $1 ORDER BY name, account_id",
        org.to_string()
    )?;
    rows.into_iter()
        .map(|(id, name, added_at)| {
            Ok(AccountRow {
                account_id: parse_column("rm_accounts", "account_id", &id)?,
                name,
                added_at,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = encode_cursor("zoë lee", "0190-abc");
        assert_eq!(
            decode_cursor(&c),
            Some(("zoë lee".to_owned(), "0190-abc".to_owned()))
        );
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor("abc"), None);
        assert_eq!(decode_cursor(""), None);
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("A_b%"), "%a\\_b\\%%");
    }
}
