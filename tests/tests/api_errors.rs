//! Garbage in, problem documents out: whatever a client sends, the answer is an
//! RFC 9457 document naming what was wrong.

use roster_tests::http::TestServer;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_problem_documents_not_plain_text() {
    let s = TestServer::start().await.expect("server");
    let url = format!("{}/api/sessions", s.base);
    let send = |body: String, content_type: &'static str| {
        let http = s.http.clone();
        let url = url.clone();
        async move {
            let res = http
                .post(url)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("send");
            let status = res.status().as_u16();
            let ct = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body: Value = res.json().await.expect("json");
            (
                status,
                ct,
                body["type"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            )
        }
    };
    assert_eq!(
        send("{not json".into(), "application/json").await,
        (
            400,
            "application/problem+json".into(),
            "malformed-json".into()
        )
    );
    assert_eq!(
        send("{}".into(), "text/plain").await,
        (
            415,
            "application/problem+json".into(),
            "unsupported-media-type".into()
        )
    );
    assert_eq!(
        send(
            r#"{"email":"a@b.io","password":"x","extra":1}"#.into(),
            "application/json"
        )
        .await,
        (422, "application/problem+json".into(), "validation".into())
    );
    let huge = format!(
        r#"{{"email":"a@b.io","password":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    assert_eq!(
        send(huge, "application/json").await,
        (
            413,
            "application/problem+json".into(),
            "body-too-large".into()
        )
    );
    let (status, body) = s.call("GET", "/api/invitations/deadbeef", None, None).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (
            404,
            Some("https://roster.dev/problems/invalid-invitation-link")
        )
    );
    let (status, _) = s
        .call("GET", "/api/orgs/not-a-uuid/members", None, None)
        .await;
    assert_eq!(status, 401, "authentication comes before anything else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_kept_for_the_operator_alone() {
    let s = TestServer::start_with(roster_tests::Backend::Postgres, |args| {
        args.metrics_token = Some("operator-metrics-token".into());
    })
    .await
    .expect("server");
    let (status, refused) = s.call("GET", "/metrics", None, None).await;
    assert_eq!(
        (status, TestServer::rule(&refused)),
        (401, "metrics-token-required")
    );
    let (status, _) = s.call("GET", "/metrics", Some("not the token"), None).await;
    assert_eq!(status, 401);
    let (status, text) = s
        .call("GET", "/metrics", Some("operator-metrics-token"), None)
        .await;
    assert_eq!(status, 200);
    assert!(text
        .as_str()
        .is_some_and(|t| t.contains("roster_projection_lag_events")));
}
