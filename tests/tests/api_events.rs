//! The event feed for integrators: JSON pages and a live Server-Sent Events
//! stream that resumes from `Last-Event-ID`, each event exactly once, no secrets.

use std::time::Duration;

use roster::ShapeArg;
use roster_tests::http::TestServer;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_walk_the_organizations_events_once_each_without_secrets() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    s.member(org, &olive, "ann@acme.io", json!({ "role": "admin" }))
        .await;
    let mut seen: Vec<Value> = Vec::new();
    let mut after = 0u64;
    loop {
        let (status, page) = s
            .call(
                "GET",
                &format!("/api/orgs/{org}/events?after={after}&limit=2"),
                Some(&olive),
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        let events = page["events"].as_array().expect("events").clone();
        if events.is_empty() {
            break;
        }
        assert!(events.len() <= 2);
        after = page["next_after"].as_u64().expect("next_after");
        seen.extend(events);
    }
    let types: Vec<&str> = seen
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "OrganizationCreated",
            "UserInvited",
            "InvitationAccepted",
            "UserInvited",
            "InvitationAccepted"
        ]
    );
    let positions: Vec<u64> = seen.iter().filter_map(|e| e["position"].as_u64()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert!(!Value::Array(seen).to_string().contains("token_digest"));
    let (_, zed, _) = s
        .org_with_owner(ShapeArg::Single, "zed@other.io", vec![])
        .await;
    let (status, _) = s
        .call("GET", &format!("/api/orgs/{org}/events"), Some(&zed), None)
        .await;
    assert_eq!(status, 404, "strangers see nothing");
}

/// Reads Server-Sent Events until `want` have arrived: (id, event type) each.
async fn read_events(response: &mut reqwest::Response, want: usize) -> Vec<(u64, String)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    while events.len() < want {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("an event within 10 s")
            .expect("chunk")
            .expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            };
            if let (Some(id), Some(kind)) = (field("id:"), field("event:")) {
                events.push((id.parse().expect("numeric id"), kind));
            }
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_feed_resumes_from_the_last_event_id_across_reconnects_and_restarts() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let url = format!("{}/api/orgs/{org}/events", s.base);
    let mut first = s
        .http
        .get(&url)
        .bearer_auth(&olive)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("stream");
    assert_eq!(first.status().as_u16(), 200);
    let start = read_events(&mut first, 3).await;
    drop(first);
    // Meanwhile, the organization changes.
    s.invite(
        org,
        &olive,
        json!({ "email": "ann@acme.io", "full_name": "Ann", "role": "admin" }),
    )
    .await;
    let last_seen = start[2].0;
    let mut second = s
        .http
        .get(&url)
        .bearer_auth(&olive)
        .header("accept", "text/event-stream")
        .header("last-event-id", last_seen.to_string())
        .send()
        .await
        .expect("stream");
    let resumed = read_events(&mut second, 1).await;
    assert_eq!(resumed[0].1, "UserInvited");
    assert!(resumed[0].0 > last_seen);
    // Live: a change after connecting arrives too.
    s.invite(
        org,
        &olive,
        json!({ "email": "bob@acme.io", "full_name": "Bob", "role": "admin" }),
    )
    .await;
    let live = read_events(&mut second, 1).await;
    assert_eq!(live[0].1, "UserInvited");
    assert!(live[0].0 > resumed[0].0);
    drop(second);
    // Across a restart of the server: the position is all a client needs.
    let mut s = s;
    s.restart().await.expect("restarted");
    s.invite(
        org,
        &olive,
        json!({ "email": "cy@acme.io", "full_name": "Cy", "role": "admin" }),
    )
    .await;
    let mut third = s
        .http
        .get(format!("{}/api/orgs/{org}/events", s.base))
        .bearer_auth(&olive)
        .header("accept", "text/event-stream")
        .header("last-event-id", live[0].0.to_string())
        .send()
        .await
        .expect("stream");
    let after_restart = read_events(&mut third, 1).await;
    assert_eq!(after_restart[0].1, "UserInvited");
    assert!(after_restart[0].0 > live[0].0);
    let all: Vec<u64> = start
        .iter()
        .chain(&resumed)
        .chain(&live)
        .chain(&after_restart)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "each event exactly once, in log order: {all:?}"
    );
}
