//! The benchmark cases, each measured against its baseline in the same run.

pub mod app;
pub mod append;
pub mod connections;
pub mod email;
pub mod expiry;
pub mod http;
pub mod long_history;
pub mod rebuild;
pub mod scim;

use roster_domain::organization::OrgEvent;
use roster_domain::{encode, SingleRole};

/// pgbench's raw single-row INSERT of `payload` into the events-shaped table, on a
/// new stream: the rate appends and commands are compared with.
pub fn raw_insert_script(payload: &serde_json::Value) -> String {
    let payload = payload.to_string().replace('\'', "''");
    format!(
        "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, schema_version, payload, metadata, hash) \
         VALUES (gen_random_uuid(), gen_random_uuid()::text, 1, 'UserInvited', 1, '{payload}', '{{}}', sha256(random()::text::bytea));\n"
    )
}

/// A real `UserInvited` payload, so both sides write rows of the same size.
pub fn sample_payload() -> anyhow::Result<serde_json::Value> {
    let mut seed = crate::seed::OrgSeed::new(crate::seed::now())?;
    seed.invite(SingleRole::Standard)?;
    let invited = seed
        .events
        .iter()
        .rev()
        .find(|e| matches!(e, OrgEvent::UserInvited(_)))
        .ok_or_else(|| anyhow::anyhow!("no invitation decided"))?;
    Ok(encode(invited)?.2)
}
