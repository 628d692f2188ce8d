//! A worker that meets an event it cannot read stops there, and says so: the real
//! `roster` binary's `/readyz` names the worker and its cause, `/metrics` flags it,
//! and the other followers go on.

use std::time::{Duration, Instant};

use roster_eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, PgStore, StreamId};
use roster_tests::binary::Deployment;
use uuid::Uuid;

#[tokio::test]
async fn a_worker_stuck_on_an_unreadable_event_is_named_by_readiness_and_metrics() {
    let d = Deployment::create().await.expect("deployment");
    let server = d.serve().await.expect("serve");
    let store = PgStore::new(d.pool.clone()).await.expect("store");
    let user = roster_domain::UserId::from_uuid(Uuid::now_v7());
    let garbled = store
        .append(
            &StreamId::new(user.stream_name()).expect("stream"),
            ExpectedVersion::Any,
            vec![NewEvent {
                event_id: Uuid::now_v7(),
                event_type: "PasswordResetRequested".to_owned(),
                schema_version: 1,
                payload: serde_json::json!({ "email": 42 }),
                metadata: None,
            }],
            &Metadata::default(),
        )
        .await
        .expect("a garbled reset, as a bad migration or a hand edit leaves");
    let http = reqwest::Client::new();
    let started = Instant::now();
    let detail = loop {
        let ready = http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .expect("readyz");
        if ready.status() == 503 {
            let body: serde_json::Value = ready.json().await.expect("problem");
            break body["detail"].as_str().unwrap_or_default().to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "readiness never noticed the stuck worker"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let position = garbled.last_position().0;
    assert!(
        detail.contains("worker.reset-email is stuck")
            && detail.contains(&format!("event {position}"))
            && !detail.contains("worker.email is stuck")
            && !detail.contains("projection"),
        "readiness names the reset sender, the event and nothing else: {detail}"
    );
    let metrics = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("roster_worker_failing{worker=\"worker.reset-email\"} 1")
            && metrics.contains("roster_worker_failing{worker=\"worker.email\"} 0"),
        "{metrics}"
    );
    d.remove().await;
}
