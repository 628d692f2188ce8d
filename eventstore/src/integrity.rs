//! Tamper evidence: every stored event carries a SHA-256 hash chained over the
//! previous event of its stream, so editing, removing or reordering a stored
//! event breaks the chain at that event.
//!
//! # Canonical encoding
//! `hash(n) = SHA-256(hash(n-1) ‖ field…)` with `hash(0)` = 32 zero bytes, and
//! each field written as a 4-byte big-endian length followed by its bytes:
//!
//! 1. `event_id` — the 16 UUID bytes;
//! 2. `stream_id` — UTF-8;
//! 3. `stream_version` — 8 bytes big-endian;
//! 4. `event_type` — UTF-8;
//! 5. `schema_version` — 4 bytes big-endian;
//! 6. `payload` — canonical JSON: object keys sorted by code point, no
//!    insignificant white space, strings and numbers as `serde_json` writes them;
//! 7. `metadata` — canonical JSON, likewise;
//! 8. `recorded_at` — microseconds since the Unix epoch, 8 bytes big-endian
//!    (stored times are truncated to microseconds before hashing).
//!
//! What the chain cannot show on its own: the removal of a stream's *last*
//! events (nothing follows them to break). Anchoring the heads elsewhere (e.g.
//! exporting them periodically) closes that gap.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::envelope::{Position, RecordedEvent, StreamId};
use crate::error::StoreError;
use crate::store::EventStore;

/// A chain hash.
pub type ChainHash = [u8; 32];

/// The hash before a stream's first event.
pub const GENESIS: ChainHash = [0; 32];

/// The fields an event's hash covers.
pub(crate) struct HashInput<'a> {
    pub event_id: Uuid,
    pub stream_id: &'a str,
    pub stream_version: u64,
    pub event_type: &'a str,
    pub schema_version: u32,
    pub payload: &'a Value,
    pub metadata: &'a Value,
    pub recorded_at: DateTime<Utc>,
}

/// Truncates a time to what both databases store (microseconds).
pub(crate) fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update(u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    h.update(bytes);
}

/// Writes `v` as canonical JSON (sorted keys, compact).
pub fn canonical_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The chain hash of one event given its predecessor's.
pub(crate) fn chain_hash(prev: &ChainHash, e: &HashInput<'_>) -> ChainHash {
    let mut h = Sha256::new();
    h.update(prev);
    field(&mut h, e.event_id.as_bytes());
    field(&mut h, e.stream_id.as_bytes());
    field(&mut h, &e.stream_version.to_be_bytes());
    field(&mut h, e.event_type.as_bytes());
    field(&mut h, &e.schema_version.to_be_bytes());
    let mut json = String::new();
    canonical_json(e.payload, &mut json);
    field(&mut h, json.as_bytes());
    json.clear();
    canonical_json(e.metadata, &mut json);
    field(&mut h, json.as_bytes());
    field(&mut h, &e.recorded_at.timestamp_micros().to_be_bytes());
    h.finalize().into()
}

/// What is wrong with one stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tampering {
    /// Its content no longer matches its hash (or its predecessor changed).
    Edited,
    /// Versions skip: events before it were removed (or it was moved).
    Gap {
        /// The version expected here.
        expected_version: u64,
    },
    /// It carries no hash at all.
    Unhashed,
}

/// A broken link in the chain, naming the event where it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The event's position.
    pub position: Position,
    /// Its id.
    pub event_id: Uuid,
    /// Its stream.
    pub stream_id: StreamId,
    /// Its version.
    pub stream_version: u64,
    /// What is wrong.
    pub problem: Tampering,
}

/// What a walk of the log found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Events checked.
    pub events: u64,
    /// Streams seen.
    pub streams: u64,
    /// Every broken link.
    pub findings: Vec<Finding>,
    /// Each stream's last version and the hash stored with it (what a seal keeps).
    pub heads: std::collections::BTreeMap<StreamId, (u64, ChainHash)>,
}

/// Recomputes the hash a stored event should carry after `prev`.
pub fn expected_hash(prev: &ChainHash, e: &RecordedEvent) -> Result<ChainHash, StoreError> {
    let metadata = serde_json::to_value(&e.metadata).map_err(StoreError::Encode)?;
    Ok(chain_hash(
        prev,
        &HashInput {
            event_id: e.event_id,
            stream_id: e.stream_id.as_str(),
            stream_version: e.stream_version,
            event_type: &e.event_type,
            schema_version: e.schema_version,
            payload: &e.payload,
            metadata: &metadata,
            recorded_at: e.recorded_at,
        },
    ))
}

/// Walks the whole log in global order and checks every stream's chain.
/// `progress` is called after each batch with the events checked so far.
pub async fn verify(
    store: &dyn EventStore,
    mut progress: impl FnMut(u64),
) -> Result<VerifyReport, StoreError> {
    let mut heads: HashMap<StreamId, (u64, ChainHash)> = HashMap::new();
    let mut report = VerifyReport::default();
    let mut after = Position::START;
    // Everything committed when the walk starts is checked, even events the
    // gap-safe horizon briefly holds back behind another open transaction.
    let head = store.head().await?;
    loop {
        let batch = store.read_all(after, 5_000).await?;
        let Some(last) = batch.last() else {
            if after >= head {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            continue;
        };
        after = last.global_position;
        for e in &batch {
            report.events += 1;
            let (prev_version, prev_hash) =
                heads.get(&e.stream_id).copied().unwrap_or((0, GENESIS));
            let finding = |problem| Finding {
                position: e.global_position,
                event_id: e.event_id,
                stream_id: e.stream_id.clone(),
                stream_version: e.stream_version,
                problem,
            };
            if e.stream_version != prev_version + 1 {
                report.findings.push(finding(Tampering::Gap {
                    expected_version: prev_version + 1,
                }));
            }
            match e.hash {
                None => report.findings.push(finding(Tampering::Unhashed)),
                Some(stored) => {
                    if expected_hash(&prev_hash, e)? != stored {
                        report.findings.push(finding(Tampering::Edited));
                    }
                }
            }
            heads.insert(
                e.stream_id.clone(),
                (e.stream_version, e.hash.unwrap_or(GENESIS)),
            );
        }
        progress(report.events);
    }
    report.streams = heads.len() as u64;
    report.heads = heads.into_iter().collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let mut out = String::new();
        canonical_json(
            &json!({"b": 1, "a": {"d": [true, null, "x\"y"], "c": 2.5}}),
            &mut out,
        );
        assert_eq!(out, r#"{"a":{"c":2.5,"d":[true,null,"x\"y"]},"b":1}"#);
    }

    #[test]
    fn the_hash_covers_every_field_and_the_predecessor() {
        let payload = json!({"n": 1});
        let metadata = json!({"source": "api"});
        let base = HashInput {
            event_id: Uuid::from_u128(1),
            stream_id: "org-1",
            stream_version: 1,
            event_type: "T",
            schema_version: 1,
            payload: &payload,
            metadata: &metadata,
            recorded_at: DateTime::from_timestamp_micros(1_000_000).unwrap_or_default(),
        };
        let h = chain_hash(&GENESIS, &base);
        assert_ne!(h, chain_hash(&[1; 32], &base));
        assert_ne!(
            h,
            chain_hash(
                &GENESIS,
                &HashInput {
                    stream_version: 2,
                    ..base
                }
            )
        );
        let other = json!({"n": 2});
        assert_ne!(
            h,
            chain_hash(
                &GENESIS,
                &HashInput {
                    payload: &other,
                    ..base
                }
            )
        );
        assert_eq!(h, chain_hash(&GENESIS, &base));
    }
}
