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
    // `from=now` starts at the head: only what happens next.
    let feed = |query: &'static str| {
        let (s, olive) = (&s, &olive);
        async move {
            s.call(
                "GET",
                &format!("/api/orgs/{org}/events?{query}"),
                Some(olive),
                None,
            )
            .await
        }
    };
    let (status, page) = feed("from=now").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["events"], json!([]), "nothing before now");
    let now = page["next_after"].as_u64().expect("next_after");
    assert!(now >= after, "the head: {now} vs {after}");
    s.member(org, &olive, "bo@acme.io", json!({ "role": "standard" }))
        .await;
    let (_, page) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/events?after={now}"),
            Some(&olive),
            None,
        )
        .await;
    let next: Vec<&str> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(next, ["UserInvited", "InvitationAccepted"]);
    let (status, refused) = feed("from=later").await;
    assert_eq!(status, 422, "{refused}");
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

/// Reads Server-Sent Events until the server ends the stream: each event's type.
async fn read_to_the_end(response: &mut reqwest::Response) -> Vec<String> {
    let mut buffer = String::new();
    let mut kinds = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("the stream ends within 20 s; it sent {kinds:?}"))
            .expect("chunk");
        let Some(chunk) = chunk else {
            return kinds;
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if let Some(kind) = block.lines().find_map(|l| l.strip_prefix("event:")) {
                kinds.push(kind.trim().to_owned());
            }
        }
    }
}

async fn open_stream(
    s: &TestServer,
    org: roster_domain::OrgId,
    session: &str,
    after: u64,
) -> reqwest::Response {
    let response = s
        .http
        .get(format!("{}/api/orgs/{org}/events?after={after}", s.base))
        .bearer_auth(session)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("stream");
    assert_eq!(response.status(), 200);
    response
}

async fn streams_end_with_the_access_they_were_opened_with(backend: roster_tests::Backend) {
    let s = TestServer::start_on(backend).await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let (bob, bob_session, _) = s
        .member(org, &olive, "bob@acme.io", json!({ "role": "owner" }))
        .await;
    let (carl, carl_session, _) = s
        .member(org, &olive, "carl@acme.io", json!({ "role": "owner" }))
        .await;
    let (_, dan_session, at) = s
        .member(org, &olive, "dan@acme.io", json!({ "role": "owner" }))
        .await;
    let mut removed = open_stream(&s, org, &bob_session, at).await;
    let mut demoted = open_stream(&s, org, &carl_session, at).await;
    let mut signed_out = open_stream(&s, org, &dan_session, at).await;
    let mut stays = open_stream(&s, org, &olive, at).await;

    let (status, _) = s
        .call(
            "DELETE",
            &format!("/api/orgs/{org}/members/{bob}"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = s
        .call(
            "PATCH",
            &format!("/api/orgs/{org}/members/{carl}"),
            Some(&olive),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = s
        .call("DELETE", "/api/sessions", Some(&dan_session), None)
        .await;
    assert_eq!(status, 204);
    s.invite(
        org,
        &olive,
        json!({ "email": "secret@acme.io", "full_name": "Secret Person", "role": "standard" }),
    )
    .await;

    for (who, stream) in [
        ("removed", &mut removed),
        ("demoted", &mut demoted),
        ("signed out everywhere", &mut signed_out),
    ] {
        let kinds = read_to_the_end(stream).await;
        assert_eq!(
            kinds.last().map(String::as_str),
            Some("access-ended"),
            "{who}: {kinds:?}"
        );
        assert!(
            !kinds.iter().any(|k| k == "UserInvited"),
            "{who} saw a later invitation: {kinds:?}"
        );
    }
    let kinds = read_events(&mut stays, 3).await;
    assert_eq!(
        kinds.iter().map(|(_, k)| k.as_str()).collect::<Vec<_>>(),
        ["MemberRemoved", "RoleChanged", "UserInvited"],
        "an owner who keeps access sees everything"
    );
}

roster_tests::on_both_backends!(streams_end_with_the_access_they_were_opened_with);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_owner_holds_at_most_eight_streams() {
    let s = TestServer::start_on(roster_tests::Backend::Sqlite)
        .await
        .expect("server");
    let (org, olive, at) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let mut open = Vec::new();
    for _ in 0..8 {
        open.push(open_stream(&s, org, &olive, at).await);
    }
    let refused = s
        .http
        .get(format!("{}/api/orgs/{org}/events", s.base))
        .bearer_auth(&olive)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status().as_u16(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let problem: Value = refused.json().await.expect("problem");
    assert_eq!(
        problem["type"]
            .as_str()
            .map(|t| t.ends_with("too-many-streams")),
        Some(true),
        "{problem}"
    );
    let (status, _) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/events"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200, "pages are not streams");
}

/// A stream first says where it starts (`ready`, no id), so a page that read its
/// lists before the stream opened knows up to where to read them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_begins_by_saying_where_it_starts() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let head = s.store.head().await.expect("head").0;
    let mut stream = s
        .http
        .get(format!("{}/api/orgs/{org}/events?from=now", s.base))
        .bearer_auth(&olive)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), 200);
    let mut buffer = String::new();
    while !buffer.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("the first event within 10 s")
            .expect("chunk")
            .expect("open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
    let first = &buffer[..buffer.find("\n\n").expect("a block")];
    assert!(first.lines().any(|l| l == "event: ready"), "{first}");
    assert!(!first.lines().any(|l| l.starts_with("id:")), "{first}");
    let start: u64 = first
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("data")
        .parse()
        .expect("a position");
    assert!(
        start >= head,
        "from=now starts at the head: {start} vs {head}"
    );
}
