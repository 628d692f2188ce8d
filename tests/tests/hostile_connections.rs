//! Clients that vanish mid-request: a request sent, then the connection reset a few
//! milliseconds later, again and again. Whatever was under way must finish or roll
//! back; the server must keep answering everyone else.

use std::time::Duration;

use roster::ShapeArg;
use roster_tests::http::{TestServer, PASSWORD};
use roster_tests::Backend;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Sends `request` and resets the connection `after` later, without reading.
async fn send_and_vanish(addr: String, request: String, after: Duration) {
    let Ok(mut stream) = TcpStream::connect(&addr).await else {
        return;
    };
    let _ = stream.write_all(request.as_bytes()).await;
    tokio::time::sleep(after).await;
    let _ = stream.set_zero_linger();
    drop(stream);
}

fn post(path: &str, body: &str, headers: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn get(path: &str, headers: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n")
}

async fn dropped_requests_never_wedge_the_server(backend: Backend) {
    let s = TestServer::start_on(backend).await.expect("server");
    let (org, owner, _) = s
        .org_with_owner(ShapeArg::Single, "owner@drop.io", vec![])
        .await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let bearer = format!("Authorization: Bearer {owner}\r\n");
    for round in 0..40u64 {
        let mut tasks = Vec::new();
        for i in 0..8u64 {
            let key = format!("Idempotency-Key: drop-{round}-{i}\r\n");
            let request = match i % 4 {
                0 => post("/api/invitations/accept", r#"{"token":"deadbeef"}"#, &key),
                1 => get("/api/me", &bearer),
                2 => post(
                    &format!("/api/orgs/{org}/invitations"),
                    &format!(
                        r#"{{"email":"p{round}-{i}@drop.io","full_name":"P","role":"standard"}}"#
                    ),
                    &format!("{bearer}{key}"),
                ),
                _ => post(
                    "/api/sessions",
                    &format!(r#"{{"email":"owner@drop.io","password":"{PASSWORD}"}}"#),
                    "",
                ),
            };
            let after = Duration::from_micros((round * 7 + i * 331) % 5000);
            tasks.push(tokio::spawn(send_and_vanish(addr.clone(), request, after)));
        }
        for t in tasks {
            t.await.expect("client task");
        }
    }
    // Everyone else is still served: reads, sign-in and writes.
    let answers = tokio::time::timeout(Duration::from_secs(30), async {
        // The vanished sign-ins still run to completion; hashing sheds the excess
        // with 503 busy, and a client retries after the time it is told.
        let session = loop {
            let res = s
                .http
                .post(format!("{}/api/sessions", s.base))
                .json(&json!({ "email": "owner@drop.io", "password": PASSWORD }))
                .send()
                .await
                .expect("answer");
            let status = res.status().as_u16();
            let retry_after: Option<u64> = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            let body: serde_json::Value = res.json().await.expect("json");
            match (status, retry_after) {
                (201, _) => break body["token"].as_str().expect("token").to_owned(),
                (429 | 503, Some(seconds)) if seconds <= 2 => {
                    tokio::time::sleep(Duration::from_secs(seconds)).await;
                }
                other => panic!("sign-in answered {other:?}: {body}"),
            }
        };
        let (me, _) = s.call("GET", "/api/me", Some(&session), None).await;
        let (invite, body) = s
            .call(
                "POST",
                &format!("/api/orgs/{org}/invitations"),
                Some(&session),
                Some(json!({ "email": "after@drop.io", "full_name": "After", "role": "admin" })),
            )
            .await;
        (me, invite, body)
    })
    .await
    .expect("the server answers within 30 s");
    assert_eq!((answers.0, answers.1), (200, 201), "{}", answers.2);
    let (status, ready) = s.call("GET", "/readyz", None, None).await;
    assert_eq!(status, 200, "{ready}");
}

roster_tests::on_both_backends!(dropped_requests_never_wedge_the_server);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_notices_a_database_that_cannot_be_written() {
    let s = TestServer::start_on(Backend::Sqlite).await.expect("server");
    let (status, _) = s.call("GET", "/readyz", None, None).await;
    assert_eq!(status, 200);
    // Another writer holds SQLite's write lock.
    let held = s.read.begin().await.expect("write transaction");
    let (status, problem) = s.call("GET", "/readyz", None, None).await;
    assert_eq!(status, 503, "{problem}");
    assert!(problem["detail"]
        .as_str()
        .is_some_and(|d| d.contains("cannot be written")));
    held.rollback().await.expect("rollback");
    let ready = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if s.call("GET", "/readyz", None, None).await.0 == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(ready.is_ok(), "ready again once the lock is released");
}

/// Whether the server closed `stream` within `within` (reads end, or fail).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_finish_their_headers_are_disconnected() {
    let s = TestServer::start_with(Backend::Sqlite, |args| args.header_timeout_secs = 1)
        .await
        .expect("server");
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: loc")
        .await
        .expect("partial headers");
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("one whole request");
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)).await,
        "half a header"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(5)).await,
        "nothing at all"
    );
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)).await,
        "answered, then silent on a kept-alive connection"
    );
    let (status, _) = s.call("GET", "/healthz", None, None).await;
    assert_eq!(status, 200, "everyone else is served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let s = TestServer::start_with(Backend::Sqlite, |args| {
        args.max_connections = 2;
        args.header_timeout_secs = 60;
    })
    .await
    .expect("server");
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(&addr).await.expect("connect");
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: loc")
            .await
            .expect("partial headers");
        held.push(c);
    }
    let waiting = tokio::spawn({
        let http = s.http.clone();
        let url = format!("{}/healthz", s.base);
        async move { http.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "a third connection is not served while two are held"
    );
    drop(held);
    let status = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("served once a slot is free")
        .expect("task")
        .expect("answer");
    assert_eq!(status, 200);
}
