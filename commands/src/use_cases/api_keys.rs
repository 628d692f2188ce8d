//! Organization API keys: owners create, list and revoke them; integrations
//! present them as `Authorization: Bearer rst_…`.
//!
//! A key reads `rst_` + 64 hex characters of secret (256 random bits) + the
//! organization's id + the key's id (32 hex each). Only the SHA-256 digest of
//! the whole key is recorded (in the `ApiKeyCreated` event), so neither the log
//! nor the database holds a usable credential, and the ids inside it find the
//! key without any lookup table. The secret is answered once, at creation.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use roster_domain::organization::{Actor, OrgCommand};
use roster_domain::{ApiKeyId, DisplayName, OrgId, Scope, Scopes, TokenDigest};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{run_for, Recorded};
use crate::application::Application;
use crate::authorize::{self, OwnerOf};
use crate::error::UseCaseError;

/// What every key starts with, so a leaked one is recognisable (secret scanners).
pub const KEY_PREFIX: &str = "rst_";

/// Characters of a key: the prefix, the secret, two ids.
const KEY_LEN: usize = 4 + 64 + 32 + 32;

/// How much of a key is shown again after creation.
const SHOWN: usize = 12;

/// A key as created: its whole text is answered once and never kept. `Debug`
/// hides it so it cannot land in a log.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySecret(String);

impl KeySecret {
    /// The key, to show its creator once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySecret(…)")
    }
}

/// A presented key, taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresentedKey {
    /// The organization it belongs to.
    pub org: OrgId,
    /// Its id.
    pub key_id: ApiKeyId,
    /// The digest of the whole key, to compare with the recorded one.
    pub digest: TokenDigest,
}

/// Whether a presented bearer token is meant as an API key (not a session).
pub fn looks_like_key(raw: &str) -> bool {
    raw.starts_with(KEY_PREFIX)
}

/// Takes a presented key apart; `None` when it is not shaped like one.
pub fn parse_key(raw: &str) -> Option<PresentedKey> {
    let raw = raw.trim();
    if raw.len() != KEY_LEN || !looks_like_key(raw) || !raw.is_ascii() {
        return None;
    }
    let org = Uuid::try_parse(&raw[68..100]).ok()?;
    let key = Uuid::try_parse(&raw[100..132]).ok()?;
    if !raw[4..68].bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(PresentedKey {
        org: OrgId::from_uuid(org),
        key_id: ApiKeyId::from_uuid(key),
        digest: digest(raw),
    })
}

fn digest(key: &str) -> TokenDigest {
    TokenDigest::from_bytes(Sha256::digest(key.as_bytes()).into())
}

/// How often one instance records a key's use: a burst of requests costs one
/// write a minute, not one each.
const USE_RECORDED_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// When this instance last recorded each key's use; bounded by the keys that
/// exist (at most 50 working per organization).
#[derive(Debug, Default)]
pub struct KeyUsage(Mutex<HashMap<ApiKeyId, DateTime<Utc>>>);

impl KeyUsage {
    /// Whether a use at `at` should be recorded (and remembers that it is).
    fn due(&self, key: ApiKeyId, at: DateTime<Utc>) -> bool {
        let mut recorded = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match recorded.get(&key) {
            Some(last) if at - *last < USE_RECORDED_EVERY => false,
            _ => {
                recorded.insert(key, at);
                true
            }
        }
    }
}

/// Records a key's use, at most once a minute per instance. Failing to record
/// it never fails the request it came with: it is logged and tried next time.
async fn saw(app: &Application, key: ApiKeyId, org: OrgId) {
    let now = app.clock.now();
    if !app.key_usage.due(key, now) {
        return;
    }
    if let Err(e) = roster_storage::api_key_use::record(&app.read, key, org, now).await {
        app.key_usage
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        tracing::warn!(%key, error = %e, "the API key's last use was not recorded");
    }
}

/// Authorizes a request to organization `org` made with key `raw`, for `scope`.
/// A malformed, unknown, revoked or expired key, or one of another organization,
/// is [`UseCaseError::Unauthenticated`] (a key of another organization names
/// nothing here); a working key without the scope is [`UseCaseError::KeyScope`].
pub async fn authorize(
    app: &Application,
    raw: &str,
    org: OrgId,
    scope: Scope,
) -> Result<OwnerOf, UseCaseError> {
    let presented = parse_key(raw).ok_or(UseCaseError::Unauthenticated)?;
    if presented.org != org {
        return Err(UseCaseError::OrganizationNotFound);
    }
    let owner =
        authorize::key_acts_for(app, org, presented.key_id, &presented.digest, scope).await?;
    saw(app, presented.key_id, org).await;
    Ok(owner)
}

/// The key `raw` names, once checked to work (whatever its scopes): for the
/// idempotency layer, which keys stored answers by who asked.
pub async fn identify(app: &Application, raw: &str) -> Result<ApiKeyId, UseCaseError> {
    let presented = parse_key(raw).ok_or(UseCaseError::Unauthenticated)?;
    let now = app.clock.now();
    let works = app
        .orgs
        .inspect(presented.org, |state| {
            state
                .and_then(|o| o.api_keys.get(&presented.key_id))
                .is_some_and(|k| k.secret_digest.matches(&presented.digest) && k.works_at(now))
        })
        .await?;
    if works {
        Ok(presented.key_id)
    } else {
        Err(UseCaseError::Unauthenticated)
    }
}

/// A key just created.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// Its id.
    pub key_id: ApiKeyId,
    /// The whole key: shown once.
    pub secret: KeySecret,
    /// Its first characters, as listed from now on.
    pub prefix: String,
    /// Where the log got to.
    pub recorded: Recorded,
}

/// Creates a key of `owner`'s organization named `name` that may do `scopes`
/// until `expires_at` (if given).
pub async fn create_api_key(
    app: &Application,
    owner: &OwnerOf,
    name: DisplayName,
    scopes: Scopes,
    expires_at: Option<DateTime<Utc>>,
) -> Result<CreatedKey, UseCaseError> {
    let key_id = ApiKeyId::from_uuid(Uuid::now_v7());
    let mut random = [0u8; 32];
    getrandom::getrandom(&mut random)
        .map_err(|e| UseCaseError::infrastructure("making an API key", e.to_string()))?;
    let text = format!(
        "{KEY_PREFIX}{}{}{}",
        hex::encode(random),
        owner.org_id().as_uuid().simple(),
        key_id.as_uuid().simple()
    );
    let prefix = text[..SHOWN].to_owned();
    let outcome = run_for(
        app,
        owner,
        OrgCommand::CreateApiKey {
            key_id,
            name,
            scopes,
            prefix: prefix.clone(),
            secret_digest: digest(&text),
            expires_at,
        },
    )
    .await?;
    Ok(CreatedKey {
        key_id,
        secret: KeySecret(text),
        prefix,
        recorded: Recorded::from(&outcome),
    })
}

/// Revokes a key: every instance refuses it from its next request on.
pub async fn revoke_api_key(
    app: &Application,
    owner: &OwnerOf,
    key_id: ApiKeyId,
) -> Result<Recorded, UseCaseError> {
    let outcome = run_for(app, owner, OrgCommand::RevokeApiKey { key_id }).await?;
    Ok(Recorded::from(&outcome))
}

/// A key as its organization's owners see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyView {
    /// Its id.
    pub key_id: ApiKeyId,
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub scopes: Scopes,
    /// Its first characters.
    pub prefix: String,
    /// Who created it (a person's name when still a member).
    pub created_by: Actor,
    /// That person's name, if they are still a member.
    pub created_by_name: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it stops working on its own.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Whether it works now.
    pub works: bool,
}

/// Every key of `owner`'s organization, newest first, from the organization's
/// own state (a key just created or revoked shows at once).
pub async fn list_api_keys(
    app: &Application,
    owner: &OwnerOf,
) -> Result<Vec<KeyView>, UseCaseError> {
    let now = app.clock.now();
    let mut keys = app
        .orgs
        .inspect(owner.org_id(), |state| {
            state.map_or_else(Vec::new, |o| {
                o.api_keys
                    .values()
                    .map(|k| KeyView {
                        key_id: k.id,
                        name: k.name.to_string(),
                        scopes: k.scopes.clone(),
                        prefix: k.prefix.clone(),
                        created_by: k.created_by,
                        created_by_name: match k.created_by {
                            Actor::User(u) => o.members.get(&u).map(|m| m.full_name.to_string()),
                            _ => None,
                        },
                        created_at: k.created_at,
                        expires_at: k.expires_at,
                        revoked_at: k.revoked_at,
                        last_used_at: None,
                        works: k.works_at(now),
                    })
                    .collect::<Vec<_>>()
            })
        })
        .await?;
    let uses = roster_storage::api_key_use::of_org(&app.read, owner.org_id())
        .await
        .map_err(|e| UseCaseError::infrastructure("reading when keys were used", e))?;
    for k in &mut keys {
        k.last_used_at = uses.get(&k.key_id).copied();
    }
    keys.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then(b.key_id.cmp(&a.key_id))
    });
    Ok(keys)
}
