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

/// A connection to `addr` from the loopback address `from` (127.0.0.2 and so on:
/// another client, as far as the server can tell).
async fn connect_from(from: [u8; 4], addr: &str) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::from((from, 0)))?;
    socket
        .connect(addr.parse().map_err(std::io::Error::other)?)
        .await
}

/// What a fresh client and an owner get while a flood is held open: `/healthz`
/// and an invitation, each answered within a few seconds.
async fn others_are_served(s: &TestServer, owner: &str, org: roster_domain::OrgId, n: u32) {
    let answered = tokio::time::timeout(Duration::from_secs(5), async {
        let fresh = reqwest::Client::new();
        let started = std::time::Instant::now();
        let health = fresh
            .get(format!("{}/healthz", s.base))
            .send()
            .await
            .map(|r| r.status().as_u16());
        let health_took = started.elapsed();
        let started = std::time::Instant::now();
        let (invite, body) = s
            .call(
                "POST",
                &format!("/api/orgs/{org}/invitations"),
                Some(owner),
                Some(json!({ "email": format!("fresh{n}@flood.io"), "full_name": "Fresh", "role": "standard" })),
            )
            .await;
        eprintln!(
            "during the flood: /healthz in {health_took:?}, an invitation in {:?}",
            started.elapsed()
        );
        (health.ok(), invite, body)
    })
    .await
    .expect("a fresh client and an owner are answered within 5 s");
    assert_eq!(answered.0, Some(200), "healthz");
    assert_eq!(answered.1, 201, "{}", answered.2);
}

/// The HTTP/2 client preface and an empty SETTINGS frame: a whole handshake,
/// after which the client says nothing.
const H2_HANDSHAKE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// A server with small caps (48 connections, 8 per client, 1 s idle), an owner,
/// and `count` connections from `from` that each sent `bytes` and then nothing.
async fn flooded(
    owner_email: &str,
    from: [u8; 4],
    count: usize,
    bytes: &[u8],
) -> (TestServer, roster_domain::OrgId, String, Vec<TcpStream>) {
    let s = TestServer::start_with(Backend::Sqlite, |args| {
        args.max_connections = 48;
        args.max_connections_per_client = 8;
        args.header_timeout_secs = 1;
    })
    .await
    .expect("server");
    let (org, owner, _) = s
        .org_with_owner(ShapeArg::Single, owner_email, vec![])
        .await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..count {
        if let Ok(mut c) = connect_from(from, &addr).await {
            let _ = c.write_all(bytes).await;
            held.push(c);
        }
    }
    (s, org, owner, held)
}

/// How many of `held` the server closed, each given up to `within`.
async fn closed_of(held: &mut [TcpStream], within: Duration) -> usize {
    let mut closed = 0;
    for c in held {
        if closed_within(c, within).await {
            closed += 1;
        }
    }
    closed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http2_connections_from_one_client_lock_no_one_out() {
    let (s, org, owner, mut held) = flooded("owner@h2.io", [127, 0, 0, 2], 200, H2_HANDSHAKE).await;
    others_are_served(&s, &owner, org, 1).await;
    // The ones that were let in are closed once idle, the others at once.
    let closed = closed_of(&mut held, Duration::from_secs(8)).await;
    assert_eq!(closed, held.len(), "every idle HTTP/2 connection is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_readers_from_one_client_lock_no_one_out() {
    // Answers far larger than the sockets' buffers: the server's writes stall.
    let pipelined = "GET /openapi.json HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(300);
    let (s, org, owner, mut held) =
        flooded("owner@slow.io", [127, 0, 0, 3], 100, pipelined.as_bytes()).await;
    others_are_served(&s, &owner, org, 2).await;
    // Past the stall timeout (three header timeouts) they have been let go.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let closed = closed_of(&mut held, Duration::from_secs(10)).await;
    assert_eq!(closed, held.len(), "every reader that stopped is let go");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_bodies_hold_no_place_among_the_writes() {
    let s = TestServer::start_with(Backend::Sqlite, |args| {
        args.max_concurrent_writes = 4;
    })
    .await
    .expect("server");
    let (org, owner, _) = s
        .org_with_owner(ShapeArg::Single, "owner@body.io", vec![])
        .await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for path in [
        "/api/sessions",
        "/api/password-resets",
        "/api/invitations/accept",
    ]
    .iter()
    .cycle()
    .take(24)
    {
        let mut c = TcpStream::connect(&addr).await.expect("connect");
        c.write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .await
        .expect("half a request");
        held.push(c);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    others_are_served(&s, &owner, org, 3).await;
    let signed_in = tokio::time::timeout(
        Duration::from_secs(5),
        s.http
            .post(format!("{}/api/sessions", s.base))
            .json(&json!({ "email": "owner@body.io", "password": PASSWORD }))
            .send(),
    )
    .await
    .expect("a sign-in is answered within 5 s")
    .expect("answer");
    assert_eq!(signed_in.status().as_u16(), 201);
    // The dawdler is told why, once the body's time is up.
    use tokio::io::AsyncReadExt;
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(15), held[0].read(&mut answer))
        .await
        .expect("answered within the body timeout")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body-timeout"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_clients_share_is_told_so() {
    let s = TestServer::start_with(Backend::Sqlite, |args| {
        args.max_connections_per_client = 8;
        args.header_timeout_secs = 30;
    })
    .await
    .expect("server");
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut c = connect_from([127, 0, 0, 4], &addr).await.expect("connect");
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("half a request");
        held.push(c);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut ninth = connect_from([127, 0, 0, 4], &addr).await.expect("connect");
    use tokio::io::AsyncReadExt;
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), ninth.read_to_string(&mut answer))
        .await
        .expect("answered at once")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("too-many-connections"), "{answer}");
    let (status, _) = s.call("GET", "/healthz", None, None).await;
    assert_eq!(status, 200, "another client is served");
}
