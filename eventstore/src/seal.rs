//! Sealed stream heads: the hash chain alone stops someone who edits an event
//! with SQL, but not someone who edits it *and recomputes the chain* — the log
//! then verifies clean. A seal is each stream's head (version and chain hash)
//! written to a file kept apart from the database and authenticated with an
//! HMAC under the server secret. Checking the log against a seal finds any
//! rewrite of history up to the sealed versions, however well the chain was
//! recomputed; the HMAC finds a seal file edited by someone without the secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::envelope::StreamId;
use crate::error::StoreError;
use crate::integrity::ChainHash;
use crate::store::EventStore;

const HEADER: &str = "roster-seal v1";

/// One sealed stream head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedHead {
    /// The stream.
    pub stream_id: StreamId,
    /// Its version when sealed.
    pub version: u64,
    /// The chain hash stored with that version.
    pub hash: ChainHash,
}

/// Why a seal file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Not a seal file, or a line that does not parse.
    #[error("not a seal file: {0}")]
    Malformed(String),
    /// The HMAC does not match: the file was edited, or sealed under another secret.
    #[error("the seal's HMAC does not match: it was changed, or made with another secret")]
    BadSignature,
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    hex::decode(s).ok()
}

fn mac(key: &[u8], body: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body.as_bytes());
    mac
}

/// The seal file's text for `heads`, authenticated under `key`.
pub fn seal(heads: &[SealedHead], key: &[u8]) -> String {
    let mut body = format!("{HEADER}\n");
    for h in heads {
        body.push_str(&format!("{} {} {}\n", h.stream_id, h.version, hex(&h.hash)));
    }
    let tag = hex(&mac(key, &body).finalize().into_bytes());
    format!("{body}hmac-sha256 {tag}\n")
}

/// The heads of a seal file, once its HMAC under `key` checks out.
pub fn open(text: &str, key: &[u8]) -> Result<Vec<SealedHead>, SealError> {
    let malformed = |what: &str| SealError::Malformed(what.to_owned());
    let (body, tag_line) = text
        .trim_end_matches('\n')
        .rsplit_once('\n')
        .ok_or_else(|| malformed("too short"))?;
    let body = format!("{body}\n");
    let tag = tag_line
        .strip_prefix("hmac-sha256 ")
        .and_then(unhex)
        .ok_or_else(|| malformed("no HMAC line"))?;
    mac(key, &body)
        .verify_slice(&tag)
        .map_err(|_| SealError::BadSignature)?;
    let mut lines = body.lines();
    if lines.next() != Some(HEADER) {
        return Err(malformed("no header"));
    }
    lines
        .map(|line| {
            let mut parts = line.split(' ');
            let (Some(stream), Some(version), Some(hash), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(malformed(line));
            };
            Ok(SealedHead {
                stream_id: StreamId::new(stream).map_err(|_| malformed(line))?,
                version: version.parse().map_err(|_| malformed(line))?,
                hash: unhex(hash)
                    .and_then(|h| <ChainHash>::try_from(h).ok())
                    .ok_or_else(|| malformed(line))?,
            })
        })
        .collect()
}

/// How the log differs from a seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealMismatch {
    /// The stream is shorter than when sealed (events removed).
    Shortened {
        /// The stream.
        stream_id: StreamId,
        /// Its version when sealed.
        sealed: u64,
    },
    /// The event at the sealed version carries another hash: history up to it
    /// was rewritten (and the chain recomputed).
    Rewritten {
        /// The stream.
        stream_id: StreamId,
        /// The sealed version.
        version: u64,
    },
}

/// Checks each sealed head against the log: one read per sealed stream.
pub async fn check(
    store: &dyn EventStore,
    heads: &[SealedHead],
) -> Result<Vec<SealMismatch>, StoreError> {
    let mut mismatches = Vec::new();
    for head in heads {
        let found = store.read_stream(&head.stream_id, head.version, 1).await?;
        match found.first() {
            Some(e) if e.stream_version == head.version => {
                if e.hash != Some(head.hash) {
                    mismatches.push(SealMismatch::Rewritten {
                        stream_id: head.stream_id.clone(),
                        version: head.version,
                    });
                }
            }
            _ => mismatches.push(SealMismatch::Shortened {
                stream_id: head.stream_id.clone(),
                sealed: head.version,
            }),
        }
    }
    Ok(mismatches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_opens_under_its_key_only_and_unedited() {
        let heads = vec![SealedHead {
            stream_id: StreamId::new("org-1").expect("id"),
            version: 7,
            hash: [9; 32],
        }];
        let text = seal(&heads, b"the server secret, 32 bytes long!");
        assert_eq!(
            open(&text, b"the server secret, 32 bytes long!").expect("open"),
            heads
        );
        assert!(matches!(
            open(&text, b"another secret entirely, 32 bytes"),
            Err(SealError::BadSignature)
        ));
        let edited = text.replace(" 7 ", " 6 ");
        assert!(matches!(
            open(&edited, b"the server secret, 32 bytes long!"),
            Err(SealError::BadSignature)
        ));
    }
}
