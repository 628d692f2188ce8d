//! `roster serve` as an operator sees it: probes answer, data survives a restart,
//! an unknown path is a problem document, and shutdown drains cleanly.

use std::sync::Arc;

use roster::app::AppError;
use roster::{App, Database, ServeArgs};
use roster_eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StreamId};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

struct Running {
    base: String,
    store: Arc<dyn EventStore>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), AppError>>,
}

impl Running {
    async fn start(database: &Database) -> Self {
        let key = roster_commands::tokens::TokenKey::generate().expect("key");
        let app = App::build(database, ServeArgs::ephemeral(), key)
            .await
            .expect("build");
        let base = format!("http://{}", app.local_addr().expect("addr"));
        let store = app.store();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Self {
            base,
            store,
            stop,
            task,
        }
    }

    async fn get(&self, path: &str) -> (u16, String, Value) {
        let response = reqwest::get(format!("{}{path}", self.base))
            .await
            .expect("request");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (
            status,
            content_type,
            response.json().await.expect("json body"),
        )
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("join").expect("clean shutdown");
    }
}

#[tokio::test]
async fn serve_on_sqlite_is_ready_and_keeps_its_data_across_a_restart() {
    let dir = std::env::temp_dir()
        .join("roster-tests")
        .join(Uuid::now_v7().simple().to_string());
    let url = format!("sqlite://{}/nested/roster.db", dir.display());
    let stream = StreamId::new("kept-restart").expect("stream");

    let database = Database::connect(&url)
        .await
        .expect("connect creates the folder");
    let first = Running::start(&database).await;
    assert_eq!(first.get("/healthz").await.0, 200);
    let (status, content_type, body) = first.get("/readyz").await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(body, json!({ "status": "ready" }));
    let event = NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "Kept".into(),
        schema_version: 1,
        payload: json!({ "kept": true }),
        metadata: None,
    };
    first
        .store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![event.clone()],
            &Metadata::default(),
        )
        .await
        .expect("append");
    first.stop().await;
    drop(database);

    let database = Database::connect(&url).await.expect("reconnect");
    let second = Running::start(&database).await;
    assert_eq!(second.get("/readyz").await.0, 200);
    let kept = second
        .store
        .read_stream(&stream, 1, 10)
        .await
        .expect("read");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].event_id, event.event_id);
    second.stop().await;
}

#[tokio::test]
async fn serve_on_postgres_is_ready_and_answers_unknown_paths_with_a_problem() {
    let database = Database::Postgres(roster_tests::fresh_pg_pool().await.expect("pool"));
    let app = Running::start(&database).await;
    assert_eq!(app.get("/readyz").await.0, 200);
    let (status, content_type, body) = app.get("/no/such/thing").await;
    assert_eq!(status, 404);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["type"], "https://roster.dev/problems/not-found");
    app.stop().await;
}

#[tokio::test]
async fn readiness_fails_with_a_problem_when_the_database_is_gone() {
    let pool = roster_tests::fresh_pg_pool().await.expect("pool");
    let database = Database::Postgres(pool.clone());
    let app = Running::start(&database).await;
    pool.close().await;
    let (status, content_type, body) = app.get("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["type"], "https://roster.dev/problems/unavailable");
    assert_eq!(
        app.get("/healthz").await.0,
        200,
        "liveness does not depend on the database"
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_report_projection_progress_and_readiness_names_a_stuck_projection() {
    let pool = roster_tests::fresh_pg_pool().await.expect("pool");
    let database = Database::Postgres(pool.clone());
    let app = Running::start(&database).await;
    let stream = StreamId::new(format!("org-{}", Uuid::now_v7())).expect("stream");
    let event = NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "Unrelated".into(),
        schema_version: 1,
        payload: json!({}),
        metadata: None,
    };
    // Not an organization event the domain knows: the projections must stop on it.
    app.store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![event],
            &Metadata::default(),
        )
        .await
        .expect("append");
    // The projections and the invitation sender all stop on it; readiness names
    // each as it records its failure.
    let ready = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let (status, _, body) = app.get("/readyz").await;
            let detail = body["detail"].as_str().unwrap_or_default();
            if status == 503 && detail.contains("projection") && detail.contains("worker.email") {
                break body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("readiness turns 503, naming the projections and the invitation sender");
    let detail = ready["detail"].as_str().expect("detail").to_owned();
    assert!(detail.contains("unknown event type"), "{detail}");

    // Each projection records its own failure; wait until the members one has.
    let text = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let response = reqwest::get(format!("{}/metrics", app.base))
                .await
                .expect("metrics");
            assert_eq!(response.status().as_u16(), 200);
            let text = response.text().await.expect("text");
            if text.contains("roster_projection_failing{projection=\"members\"} 1") {
                break text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the members projection reports its failure");
    assert!(text.contains("roster_log_head_position "), "{text}");
    assert!(
        text.contains("roster_http_requests_total{class=\"5xx\"} "),
        "{text}"
    );
    assert!(
        text.contains("roster_http_request_duration_seconds_count "),
        "{text}"
    );
    assert!(
        text.contains("roster_invitation_emails_sent_total "),
        "{text}"
    );
    assert!(text.contains("roster_expiry_lag_seconds "), "{text}");
    assert!(
        text.contains("roster_projection_failing{projection=\"members\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("roster_projection_lag_events{projection=\"members\"} 1"),
        "{text}"
    );
    app.stop().await;
}
