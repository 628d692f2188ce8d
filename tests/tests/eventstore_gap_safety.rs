//! The out-of-order-commit problem: with many concurrent writers, a reader that
//! follows the global order must still see every event exactly once, in strictly
//! increasing position. (Run against a naive `position > $1` reader, this fails.)

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use roster_eventstore::{
    EventStore, ExpectedVersion, Metadata, NewEvent, Position, StreamId, Subscription,
    SubscriptionOptions,
};
use serde_json::json;
use uuid::Uuid;

const WRITERS: usize = 16;
const TOTAL_EVENTS: usize = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_writers_and_a_live_subscriber_lose_and_repeat_nothing() {
    let store: Arc<dyn EventStore> = roster_tests::pg_store().await.expect("store");
    let start = store.head().await.expect("head");
    let options = SubscriptionOptions {
        batch_size: 256,
        ..SubscriptionOptions::default()
    };
    let mut sub = Subscription::new(store.clone(), start, options);

    // Once the writers are done, the head they left is where the reader may stop:
    // a reader that skipped events still gets there, and the set comparison names the loss.
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(None::<Position>);
    let reader = tokio::spawn(async move {
        let mut seen = Vec::with_capacity(TOTAL_EVENTS);
        let mut last = Position::START;
        loop {
            if let Some(end) = *done_rx.borrow_and_update() {
                if last >= end {
                    break;
                }
            }
            let batch = tokio::select! {
                batch = sub.next_batch(256) => batch.expect("read"),
                _ = done_rx.changed() => continue,
                _ = tokio::time::sleep(Duration::from_secs(60)) => panic!("subscriber stalled"),
            };
            for e in batch {
                assert!(e.global_position > last, "position went backwards");
                last = e.global_position;
                seen.push(e.event_id);
            }
        }
        seen
    });

    let per_writer = TOTAL_EVENTS / WRITERS;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(per_writer);
            let mut written = 0;
            let mut n = 0;
            while written < per_writer {
                // 1 to 4 events per append, on a handful of streams per writer.
                let size = (1 + (w + n) % 4).min(per_writer - written);
                let stream = StreamId::new(format!("gap-{w}-{}", n % 5)).expect("stream");
                let batch: Vec<NewEvent> = (0..size)
                    .map(|i| NewEvent {
                        event_id: Uuid::now_v7(),
                        event_type: "Tick".into(),
                        schema_version: 1,
                        payload: json!({ "writer": w, "n": n, "i": i }),
                        metadata: None,
                    })
                    .collect();
                ids.extend(batch.iter().map(|e| e.event_id));
                store
                    .append(&stream, ExpectedVersion::Any, batch, &Metadata::default())
                    .await
                    .expect("append");
                written += size;
                n += 1;
            }
            ids
        }));
    }
    let mut appended = HashSet::with_capacity(TOTAL_EVENTS);
    for w in writers {
        appended.extend(w.await.expect("writer"));
    }
    assert_eq!(appended.len(), TOTAL_EVENTS);
    done_tx.send_replace(Some(store.head().await.expect("head")));

    let seen = reader.await.expect("reader");
    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "an event was delivered twice");
    let missed = appended.difference(&unique).count();
    assert_eq!(
        missed, 0,
        "the subscriber missed {missed} of {TOTAL_EVENTS} events"
    );
    assert_eq!(unique, appended);
}
