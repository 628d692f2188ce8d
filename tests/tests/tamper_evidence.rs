//! The hash chain: an untouched log verifies clean; editing, removing or
//! reordering a stored event with SQL is caught and the event is named.

use std::sync::Arc;

use roster_eventstore::integrity::{verify, Tampering};
use roster_eventstore::{
    EventStore, ExpectedVersion, Metadata, NewEvent, Source, StreamId, SystemClock,
};
use roster_storage::Db;
use roster_tests::{store_and_read_db, Backend};
use serde_json::json;
use uuid::Uuid;

async fn seeded(backend: Backend) -> (Arc<dyn EventStore>, Db, Vec<StreamId>) {
    let (store, db) = store_and_read_db(backend, Arc::new(SystemClock))
        .await
        .expect("store");
    let streams: Vec<StreamId> = (0..3)
        .map(|i| StreamId::new(format!("org-{i}-{}", Uuid::now_v7())).expect("id"))
        .collect();
    let metadata = Metadata {
        actor: Some("user-7".into()),
        source: Source::Api,
        ..Metadata::default()
    };
    for round in 0..4u64 {
        for s in &streams {
            let events = (0..2)
                .map(|k| NewEvent {
                    event_id: Uuid::now_v7(),
                    event_type: "Thing".into(),
                    schema_version: 1,
                    payload: json!({ "round": round, "k": k, "text": "Zoë 🙂", "nested": { "b": 1, "a": [1.5, null] } }),
                    metadata: None,
                })
                .collect();
            store
                .append(s, ExpectedVersion::Any, events, &metadata)
                .await
                .expect("append");
        }
    }
    (store, db, streams)
}

async fn execute(db: &Db, sql: &str) {
    let mut tx = db.begin().await.expect("tx");
    roster_storage::exec!(&mut tx, sql).expect("tamper");
    tx.commit().await.expect("commit");
}

async fn an_untouched_log_verifies_clean(backend: Backend) {
    let (store, _, _) = seeded(backend).await;
    let report = verify(store.as_ref(), |_| {}).await.expect("verify");
    assert_eq!(report.events, 24);
    assert_eq!(report.streams, 3);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

async fn an_edited_payload_is_caught_and_named(backend: Backend) {
    let (store, db, streams) = seeded(backend).await;
    let victim = store
        .read_stream(&streams[1], 3, 1)
        .await
        .expect("read")
        .remove(0);
    let new_payload = match backend {
        Backend::Postgres => "'{\"round\": 1, \"k\": 0, \"text\": \"forged\"}'::jsonb",
        Backend::Sqlite => "'{\"round\": 1, \"k\": 0, \"text\": \"forged\"}'",
    };
    execute(
        &db,
        &format!(
            "UPDATE events SET payload = {new_payload} WHERE event_id = '{}'",
            victim.event_id
        ),
    )
    .await;
    let report = verify(store.as_ref(), |_| {}).await.expect("verify");
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    let f = &report.findings[0];
    assert_eq!(
        (f.event_id, f.stream_version, f.problem.clone()),
        (victim.event_id, 3, Tampering::Edited)
    );
}

async fn a_removed_event_is_caught_where_the_chain_breaks(backend: Backend) {
    let (store, db, streams) = seeded(backend).await;
    let victim = store
        .read_stream(&streams[0], 5, 1)
        .await
        .expect("read")
        .remove(0);
    let next = store
        .read_stream(&streams[0], 6, 1)
        .await
        .expect("read")
        .remove(0);
    execute(
        &db,
        &format!("DELETE FROM events WHERE event_id = '{}'", victim.event_id),
    )
    .await;
    let report = verify(store.as_ref(), |_| {}).await.expect("verify");
    let problems: Vec<(Uuid, Tampering)> = report
        .findings
        .iter()
        .map(|f| (f.event_id, f.problem.clone()))
        .collect();
    assert_eq!(
        problems,
        [
            (
                next.event_id,
                Tampering::Gap {
                    expected_version: 5
                }
            ),
            (next.event_id, Tampering::Edited)
        ]
    );
}

async fn reordered_events_are_caught(backend: Backend) {
    let (store, db, streams) = seeded(backend).await;
    let a = store
        .read_stream(&streams[2], 2, 1)
        .await
        .expect("read")
        .remove(0);
    let b = store
        .read_stream(&streams[2], 3, 1)
        .await
        .expect("read")
        .remove(0);
    // Swap the two events' contents while leaving versions in place.
    let (pa, pb) = (
        a.payload.to_string().replace('\'', "''"),
        b.payload.to_string().replace('\'', "''"),
    );
    let cast = if backend == Backend::Postgres {
        "::jsonb"
    } else {
        ""
    };
    execute(
        &db,
        &format!(
            "UPDATE events SET payload = '{pb}'{cast} WHERE event_id = '{}'",
            a.event_id
        ),
    )
    .await;
    execute(
        &db,
        &format!(
            "UPDATE events SET payload = '{pa}'{cast} WHERE event_id = '{}'",
            b.event_id
        ),
    )
    .await;
    let report = verify(store.as_ref(), |_| {}).await.expect("verify");
    let named: Vec<Uuid> = report.findings.iter().map(|f| f.event_id).collect();
    assert_eq!(named, [a.event_id, b.event_id], "{:?}", report.findings);
}

/// The attacker with database access: edits an event's payload, then recomputes
/// the stream's whole chain so that the log verifies clean.
async fn forge_with_recomputed_chain(
    store: &Arc<dyn EventStore>,
    db: &Db,
    backend: Backend,
    stream: &StreamId,
    version: u64,
) {
    let victim = store
        .read_stream(stream, version, 1)
        .await
        .expect("read")
        .remove(0);
    let forged = match backend {
        Backend::Postgres => "'{\"round\": 9, \"text\": \"forged\"}'::jsonb",
        Backend::Sqlite => "'{\"round\": 9, \"text\": \"forged\"}'",
    };
    execute(
        db,
        &format!(
            "UPDATE events SET payload = {forged} WHERE event_id = '{}'",
            victim.event_id
        ),
    )
    .await;
    let mut prev = roster_eventstore::integrity::GENESIS;
    for e in store.read_stream(stream, 1, 1000).await.expect("read") {
        let hash = roster_eventstore::integrity::expected_hash(&prev, &e).expect("hash");
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let literal = match backend {
            Backend::Postgres => format!("decode('{hex}', 'hex')"),
            Backend::Sqlite => format!("X'{hex}'"),
        };
        execute(
            db,
            &format!(
                "UPDATE events SET hash = {literal} WHERE event_id = '{}'",
                e.event_id
            ),
        )
        .await;
        prev = hash;
    }
}

async fn a_rewritten_history_passes_the_chain_but_not_the_seal(backend: Backend) {
    use roster_eventstore::seal::{check, open, seal, SealMismatch, SealedHead};
    let (store, db, streams) = seeded(backend).await;
    let key = b"the operator's secret, kept apart";
    let report = verify(store.as_ref(), |_| {}).await.expect("verify");
    let heads: Vec<SealedHead> = report
        .heads
        .into_iter()
        .map(|(stream_id, (version, hash))| SealedHead {
            stream_id,
            version,
            hash,
        })
        .collect();
    let sealed = seal(&heads, key);

    forge_with_recomputed_chain(&store, &db, backend, &streams[1], 3).await;
    let report = verify(store.as_ref(), |_| {}).await.expect("verify");
    assert!(
        report.findings.is_empty(),
        "a recomputed chain fools the unkeyed check: {:?}",
        report.findings
    );
    let heads = open(&sealed, key).expect("the seal opens under its key");
    let mismatches = check(store.as_ref(), &heads).await.expect("check");
    assert_eq!(
        mismatches,
        [SealMismatch::Rewritten {
            stream_id: streams[1].clone(),
            version: 8
        }]
    );
}

roster_tests::on_both_backends!(
    a_rewritten_history_passes_the_chain_but_not_the_seal,
    an_untouched_log_verifies_clean,
    an_edited_payload_is_caught_and_named,
    a_removed_event_is_caught_where_the_chain_breaks,
    reordered_events_are_caught,
);
