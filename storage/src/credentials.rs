//! The `credentials` table: one row per identity, unique by email, holding the
//! password hash. It is the index that makes identities unique by email, which the
//! event log alone cannot enforce across streams.

use chrono::{DateTime, Utc};
use roster_domain::UserId;

use crate::db::{time_text, Db};
use crate::error::StorageError;
use crate::{exec, fetch};

/// An identity's stored credentials.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The identity.
    pub user_id: UserId,
    /// Its argon2id hash (PHC string).
    pub password_hash: String,
}

crate::row! {
    /// A row as stored.
    struct CredentialsRow {
        user_id: String,
        password_hash: String,
    }
}

impl TryFrom<CredentialsRow> for Credentials {
    type Error = StorageError;

    fn try_from(row: CredentialsRow) -> Result<Self, StorageError> {
        Ok(Credentials {
            user_id: row
                .user_id
                .parse()
                .map_err(StorageError::unreadable("credentials", "user_id"))?,
            password_hash: row.password_hash,
        })
    }
}

/// The identity holding `email_key` (an [`roster_domain::Email`]'s key), if any.
pub async fn by_email(db: &Db, email_key: &str) -> Result<Option<Credentials>, StorageError> {
    fetch!(
        db db,
        fetch_optional,
        CredentialsRow,
        "SELECT user_id, password_hash FROM credentials WHERE email_key = $1",
        email_key.to_owned()
    )?
    .map(Credentials::try_from)
    .transpose()
}

/// Stores a new identity's credentials; `false` if the email is taken already.
pub async fn insert(
    db: &Db,
    user: UserId,
    email_key: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let mut tx = db.begin().await?;
    let inserted = exec!(
        &mut tx,
        "INSERT INTO credentials (user_id, email_key, password_hash, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email_key) DO NOTHING",
        user.to_string(),
        email_key.to_owned(),
        password_hash.to_owned(),
        time_text(now)
    )?;
    tx.commit().await?;
    Ok(inserted == 1)
}

/// The stored hash of `user`, if they have credentials.
pub async fn hash_of(db: &Db, user: UserId) -> Result<Option<String>, StorageError> {
    Ok(fetch!(
        db db,
        fetch_optional,
        (String,),
        "SELECT password_hash FROM credentials WHERE user_id = $1",
        user.to_string()
    )?
    .map(|(h,)| h))
}

/// Replaces `user`'s password hash and removes every session but the one whose
/// token has the digest `keep_session`, in one transaction: a changed password
/// signs out every other device at the same instant.
pub async fn replace_password(
    db: &Db,
    user: UserId,
    password_hash: &str,
    keep_session: &str,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let mut tx = db.begin().await?;
    exec!(
        &mut tx,
        "UPDATE credentials SET password_hash = $2, updated_at = $3 WHERE user_id = $1",
        user.to_string(),
        password_hash.to_owned(),
        time_text(now)
    )?;
    exec!(
        &mut tx,
        "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2",
        user.to_string(),
        keep_session.to_owned()
    )?;
    tx.commit().await?;
    Ok(())
}
