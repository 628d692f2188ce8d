//! The restore path: a logical dump restored into a fresh cluster restarts
//! transaction ids, so new positions would sort before restored ones. After
//! `rebase_positions` new events land after every restored one again.

use std::time::Duration;

use roster_eventstore::{
    EventStore, ExpectedVersion, Metadata, NewEvent, PgStore, Position, StreamId, Subscription,
    SubscriptionOptions,
};
use serde_json::json;
use uuid::Uuid;

fn event() -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "Kept".into(),
        schema_version: 1,
        payload: json!({}),
        metadata: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restore_rebasing_keeps_new_positions_after_restored_ones() {
    let pool = roster_tests::fresh_pg_pool().await.expect("pool");
    let store = std::sync::Arc::new(PgStore::new(pool.clone()).await.expect("store"));
    let stream = StreamId::new("restored-1").expect("stream");
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![event(), event()],
            &Metadata::default(),
        )
        .await
        .expect("append");
    // Pretend the rows came from a cluster whose transaction ids ran far ahead of ours.
    sqlx::query("UPDATE events SET global_position = global_position + (1::bigint << 55)")
        .execute(&pool)
        .await
        .expect("simulate restore");
    let restored_head = store.head().await.expect("head");
    let before = store
        .append(
            &stream,
            ExpectedVersion::Exact(2),
            vec![event()],
            &Metadata::default(),
        )
        .await
        .expect("append");
    assert!(
        before.last_position() < restored_head,
        "without a rebase a new event sorts before restored ones"
    );
    sqlx::query("DELETE FROM events WHERE stream_version = 3")
        .execute(&pool)
        .await
        .expect("undo");

    store.rebase_positions().await.expect("rebase");
    let after = store
        .append(
            &stream,
            ExpectedVersion::Exact(2),
            vec![event()],
            &Metadata::default(),
        )
        .await
        .expect("append");
    assert!(
        after.last_position() > restored_head,
        "after the rebase it sorts after them"
    );

    let dyn_store: std::sync::Arc<dyn EventStore> = store;
    let mut sub = Subscription::new(dyn_store, Position::START, SubscriptionOptions::default());
    let mut versions = Vec::new();
    for _ in 0..3 {
        let e = tokio::time::timeout(Duration::from_secs(20), sub.next())
            .await
            .expect("event")
            .expect("read");
        versions.push(e.stream_version);
    }
    assert_eq!(
        versions,
        [1, 2, 3],
        "readers see restored and new events, in order"
    );
}
